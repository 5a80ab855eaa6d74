/* The root-archive edit: / and the copied filesystems as one archive in
 * /boot, unpacked at boot instead of copied file by file (see ramboot.h;
 * the archive itself: archive.c). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hostdir.h"
#include "guest/guest-private.h"
#include "convert/archive.h"
#include "convert/ramboot.h"

#define ARCHIVE_BASE "ramboot-root.tar"
#define MiB ((uint64_t) 1024 * 1024)

struct arch {
  struct img_guest *g;
  const char *path;             /* the archive in the guest */
  char *dir;                    /* its directory */
  int64_t dir_mtime;            /* ... as it would be without the archive */
  uint32_t dir_mtime_ns;
  const char *const *copy;
  size_t n_copy;
};

char *
img_ramboot_archive_path (struct img_guest *g, const char *compression)
{
  struct img_stat st;
  bool boot = img_guest_stat (g, "/boot", &st) == 0 && S_ISDIR (st.mode);
  char *p;

  if (asprintf (&p, "%s/" ARCHIVE_BASE ".%s", boot ? "/boot" : "",
                strcmp (compression, "gzip") == 0 ? "gz" : "zst") < 0)
    return NULL;
  return p;
}

/* The mtime the archive's directory would have without the archive: the
 * newest of its other entries (writing the archive moves the real one,
 * and the next run must produce the same bytes). */
static int
dir_mtime (struct arch *a)
{
  struct img_dirent *ents = NULL;
  const char *slash = strrchr (a->path, '/');
  size_t n = 0, i;

  a->dir = slash == a->path ? strdup ("/") : strndup (a->path, (size_t) (slash - a->path));
  if (a->dir == NULL)
    return -ENOMEM;
  a->dir_mtime = 0;
  a->dir_mtime_ns = 0;
  if (img_guest_readdir (a->g, a->dir, &ents, &n) == 0)
    for (i = 0; i < n; i++) {
      struct img_stat st;
      char *p;
      if (asprintf (&p, "%s/%s", strcmp (a->dir, "/") == 0 ? "" : a->dir, ents[i].name) < 0) {
        img_dirents_free (ents, n);
        return -ENOMEM;
      }
      if (strcmp (p, a->path) != 0 && img_guest_lstat (a->g, p, &st) == 0
          && (st.mtime > a->dir_mtime
              || (st.mtime == a->dir_mtime && st.mtime_ns > a->dir_mtime_ns))) {
        a->dir_mtime = st.mtime;
        a->dir_mtime_ns = st.mtime_ns;
      }
      free (p);
    }
  img_dirents_free (ents, n);
  return 0;
}

static int
filter (const char *path, struct img_stat *st, uint64_t *key, void *data)
{
  struct arch *a = data;
  size_t idx;
  const struct img_guest_mount *m = img_guest_mount_of (a->g, path, &idx, NULL);

  if (m == NULL || strcmp (path, a->path) == 0)
    return 0;
  if (strcmp (path, a->dir) == 0) {
    st->mtime = a->dir_mtime;
    st->mtime_ns = a->dir_mtime_ns;
  }
  if (!img_ramboot_copied (a->copy, a->n_copy, m->mountpoint))
    /* Another filesystem, not copied: its mount point only. */
    return strcmp (path, m->mountpoint) == 0;
  *key = ((uint64_t) idx << 56) ^ st->ino;
  return 1;
}

/* Copy mode: an archive of an earlier --archive run is stale. */
static int
remove_stale (struct img_plan *plan)
{
  static const char *const old[] = { "/boot/" ARCHIVE_BASE ".zst", "/boot/" ARCHIVE_BASE ".gz",
                                     "/" ARCHIVE_BASE ".zst", "/" ARCHIVE_BASE ".gz" };
  size_t i;
  int r = 0;

  for (i = 0; i < sizeof old / sizeof old[0] && r == 0; i++)
    if (img_guest_exists (img_plan_guest (plan), old[i]))
      r = img_guest_remove (img_plan_guest (plan), old[i]);
  return r;
}

/* The space the archive may take where it goes: what is free there and
 * what an old archive frees, less a margin (1/65 of it and 1 MiB). */
static uint64_t
room (struct arch *a, uint64_t *avail_out)
{
  uint64_t total, avail, old = 0;
  struct img_stat ost;

  if (img_guest_stat (a->g, a->path, &ost) == 0)
    old = ost.blocks * 512;
  if (img_guest_space (a->g, a->dir, &total, &avail) < 0)
    return *avail_out = UINT64_MAX;
  *avail_out = avail + old;
  return avail + old > MiB ? (avail + old - MiB) / 65 * 64 : 1;
}

static int
no_room (struct img_ctx *ctx, const char *where, const struct arch *a, uint64_t needed,
         uint64_t avail, const struct img_archive_info *info)
{
  char how[160] = "";

  if (info && info->sampled_bytes)
    snprintf (how, sizeof how, " (estimated from the first %" PRIu64 " of %" PRIu64
              " MiB of the tree, compressed)", info->sampled_bytes / MiB,
              info->tmpfs_bytes / MiB + 1);
  else if (info)
    snprintf (how, sizeof how, " (stopped after %" PRIu64 " of %" PRIu64 " MiB of the tree)",
              info->tar_bytes / MiB, info->tmpfs_bytes / MiB + 1);
  return img_err (ctx, -ENOSPC, "%s: %s: no room for the archive: it takes %" PRIu64
                  " MiB, the filesystem has %" PRIu64 " MiB free%s; make room there, or "
                  "run without --archive (the RAM boot then copies file by file)",
                  where, a->dir, needed / MiB + 1, avail / MiB, how);
}

/* Room for SIZE bytes where the archive goes. */
static int
check_room (struct arch *a, struct img_ctx *ctx, const char *where, uint64_t size)
{
  uint64_t avail, max = room (a, &avail);

  return size > max ? no_room (ctx, where, a, size, avail, NULL) : 0;
}

/* Puts the archive (the host file FD) in place and reports it. */
static int
put_archive (struct img_plan *plan, struct arch *a, struct img_ctx *ctx, const char *where,
             int fd, const struct img_archive_info *info)
{
  int r = 0;

  if (!img_plan_is_dry_run (plan))
    r = check_room (a, ctx, where, info->archive_bytes);
  /* A changed archive replaces the old one, which goes first: /boot
   * seldom has room for both.  (Should this stop half-way, the RAM boot
   * finds no archive, says so and boots from the disk; the undo record
   * has the old one.) */
  if (r == 0 && img_guest_exists (img_plan_guest (plan), a->path)
      && !img_internal_guest_same_fd (a->g, a->path, fd, info->archive_bytes))
    r = img_guest_remove (img_plan_guest (plan), a->path);
  /* Mode 0600: it holds /etc/shadow and every other secret of the root. */
  if (r == 0)
    r = img_internal_guest_write_fd (img_plan_guest (plan), a->path, fd, info->archive_bytes, 0600);
  if (r == 0) {
    img_plan_fact (plan, "archive", "%s", a->path);
    img_plan_fact_bytes (plan, "archive_bytes", info->archive_bytes);
    img_plan_fact_count (plan, "archive_members", info->members);
    img_plan_fact_bytes (plan, "archive_tmpfs_bytes", info->tmpfs_bytes);
  }
  return r;
}

int
img_ramboot_archive (struct img_plan *plan, const char *where, const char *archive_path,
                     const char *compression, const char *const *copy, size_t n_copy)
{
  struct img_guest *g = img_plan_guest (plan);
  struct img_ctx *ctx = img_guest_ctx (g);
  struct arch a = { g, archive_path, NULL, 0, 0, copy, n_copy };
  struct img_archive_info info = { 0 };
  struct img_hostdir *hd = NULL;
  char *what = NULL;
  uint64_t avail = 0;
  int fd = -1, r;

  if (archive_path == NULL)
    return remove_stale (plan);
  /* The archive is built in an unnamed file of a private directory: a dry
   * run too writes nothing else on the host. */
  if (asprintf (&what, "%s: archive", where) < 0) {
    what = NULL;
    r = img_err (ctx, -ENOMEM, "%s: out of memory", where);
    goto out;
  }
  if ((r = img_hostdir_new (ctx, "img-ramify", &hd)) < 0 || (fd = r = img_hostdir_tmpfile (hd, what)) < 0)
    goto out;
  free (what);
  if (asprintf (&what, "%s: %s", where, archive_path) < 0)
    what = NULL;
  if (what == NULL || dir_mtime (&a) < 0) {
    r = img_err (ctx, -ENOMEM, "%s: out of memory", where);
    goto out;
  }
  /* Refused early when it cannot fit: the writer stops past the room,
   * or sooner, on an estimate from a sample (not in a dry run, which
   * shows what it would write). */
  if (!img_plan_is_dry_run (plan))
    info.max_bytes = room (&a, &avail);
  r = img_archive_write (ctx, g, what, compression, filter, &a, copy, n_copy, fd, &info);
  if (r == -ENOSPC && info.needed_bytes)
    r = no_room (ctx, where, &a, info.needed_bytes, avail, &info);
  if (r == 0)
    r = put_archive (plan, &a, ctx, where, fd, &info);
 out:
  if (fd >= 0)
    close (fd);
  img_hostdir_free (hd);
  free (a.dir);
  free (what);
  return r;
}
