/* Test helper: a command line over libimg's fs API, so the tests can edit
 * filesystems in images (in place, through partitions, LVM and qcow2) and
 * check the result with e2fsck and debugfs.
 *
 *   fs-tool [--ro|--rw] IMAGE[:pN|:VG/LV] CMD ARGS...
 *   fs-tool [--ro|--rw] --dir DIR CMD ARGS...
 *   fs-tool ... batch < COMMANDS          (one open, many edits)
 *
 * copy-in and copy-out move whole trees (contents with holes, symlinks,
 * devices, fifos, hard links, modes, owners, nanosecond times) between the
 * host and the filesystem.
 * Reading commands open read-only, the others (and batch) read-write,
 * unless --ro or --rw says otherwise.  Run without arguments for the
 * command list. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "libimg.h"

#define PROG "fs-tool"
#define USAGE_ERR 1000          /* a command's "print the usage" result */

struct tool {
  struct img_ctx *ctx;
  struct img_disk *disk;
  struct img_ptable *pt;
  struct img_volume **vols;
  size_t n_vols;
  struct img_lvm *lvm;
  struct img_fs *fs;
  unsigned char *buf;           /* BUFSIZE bytes of scratch, reused */
};

#define BUFSIZE (1 << 20)
/* Owner of what the commands create: the backend's default (root in an
 * ext filesystem, the caller in a host directory). */
#define NOID ((uint32_t) -1)

/* The scratch buffer, allocated once: a megabyte per file adds up. */
static unsigned char *
scratch (struct tool *t)
{
  if (t->buf == NULL)
    t->buf = malloc (BUFSIZE);
  return t->buf;
}

/* ---- opening IMAGE[:pN|:VG/LV] -------------------------------------- */

static int
add_vol (struct tool *t, struct img_volume *vol)
{
  struct img_volume **v = realloc (t->vols, (t->n_vols + 1) * sizeof *v);

  if (v == NULL) {
    img_volume_free (vol);
    return -ENOMEM;
  }
  t->vols = v;
  t->vols[t->n_vols++] = vol;
  return 0;
}

static int
open_target (struct tool *t, const char *spec, bool rw)
{
  char *path, *colon, *sel = NULL;
  const struct img_volume *vol = NULL;
  char name[PATH_MAX + 32];
  size_t i, j;
  int r;

  path = strdup (spec);
  if (path == NULL)
    return -ENOMEM;
  /* IMAGE:pN or IMAGE:VG/LV; anything else is a path. */
  colon = strrchr (path, ':');
  if (colon) {
    const char *s = colon + 1, *slash = strchr (s, '/');
    bool part = s[0] == 'p' && s[1] && strspn (s + 1, "0123456789") == strlen (s + 1);
    bool lv = slash && slash != s && slash[1] && strchr (slash + 1, '/') == NULL;
    if (part || lv) {
      *colon = '\0';
      sel = colon + 1;
    }
  }
  r = img_disk_open (t->ctx, path, rw ? IMG_DISK_RDWR : IMG_DISK_RDONLY,
                     &t->disk);
  if (r < 0)
    goto out;
  if (sel == NULL) {
    struct img_volume *v;
    r = img_volume_new_linear (t->ctx, path, t->disk, 0,
                               img_disk_size (t->disk), &v);
    if (r < 0 || (r = add_vol (t, v)) < 0)
      goto out;
    vol = v;
  }
  else {
    r = img_ptable_read (t->ctx, t->disk, &t->pt);
    if (r < 0)
      goto out;
    if (t->pt->type == IMG_PTABLE_NONE) {
      struct img_volume *v;
      r = img_volume_new_linear (t->ctx, path, t->disk, 0,
                                 img_disk_size (t->disk), &v);
      if (r < 0 || (r = add_vol (t, v)) < 0)
        goto out;
    }
    for (i = 0; i < t->pt->n_parts; i++) {
      const struct img_part *pa = &t->pt->parts[i];
      struct img_volume *v;
      if (pa->kind == IMG_PART_EXTENDED)
        continue;
      snprintf (name, sizeof name, "%s:p%u", path, pa->number);
      r = img_volume_new_linear (t->ctx, name, t->disk, pa->start, pa->size,
                                 &v);
      if (r < 0 || (r = add_vol (t, v)) < 0)
        goto out;
      if (sel[0] == 'p' && strtoul (sel + 1, NULL, 10) == pa->number)
        vol = v;
    }
    if (sel[0] == 'p' && strchr (sel, '/') == NULL) {
      if (vol == NULL) {
        fprintf (stderr, "%s: %s: no partition %s\n", PROG, path, sel + 1);
        r = -ENOENT;
        goto out_reported;
      }
    }
    else {
      size_t vlen = strchr (sel, '/') - sel;
      r = img_lvm_scan (t->ctx, t->vols, t->n_vols, &t->lvm);
      if (r < 0)
        goto out;
      for (i = 0; i < img_lvm_n_vgs (t->lvm) && vol == NULL; i++) {
        const struct img_lvm_vg *vg = img_lvm_vg (t->lvm, i);
        if (strlen (vg->name) != vlen || strncmp (vg->name, sel, vlen) != 0)
          continue;
        for (j = 0; j < vg->n_lvs; j++) {
          const struct img_lvm_lv *lv = &vg->lvs[j];
          if (strcmp (lv->name, sel + vlen + 1) != 0)
            continue;
          if (lv->vol == NULL) {
            fprintf (stderr, "%s: %s\n", PROG, lv->error ? lv->error : "LV cannot be read");
            r = -EIO;
            goto out_reported;
          }
          vol = lv->vol;
          break;
        }
      }
      if (vol == NULL) {
        fprintf (stderr, "%s: %s: no logical volume %s\n", PROG, path, sel);
        r = -ENOENT;
        goto out_reported;
      }
    }
  }
  r = img_fs_open (t->ctx, vol, rw ? IMG_FS_RDWR : IMG_FS_RDONLY, &t->fs);
 out:
  if (r < 0)
    fprintf (stderr, "%s: %s\n", PROG, r == -ENOMEM && !*img_ctx_error (t->ctx)
             ? "out of memory" : img_ctx_error (t->ctx));
 out_reported:
  free (path);
  return r;
}

/* Closes everything; the first error (already printed) wins. */
static int
close_target (struct tool *t)
{
  int r = 0, r2;
  size_t i;

  if (t->fs) {
    r = img_fs_close (t->fs);
    if (r < 0)
      fprintf (stderr, "%s: %s\n", PROG, img_ctx_error (t->ctx));
    t->fs = NULL;
  }
  img_lvm_free (t->lvm);
  t->lvm = NULL;
  for (i = 0; i < t->n_vols; i++)
    img_volume_free (t->vols[i]);
  free (t->vols);
  t->vols = NULL;
  t->n_vols = 0;
  img_ptable_free (t->pt);
  t->pt = NULL;
  if (t->disk) {
    r2 = img_disk_close (t->disk);
    if (r2 < 0 && r == 0) {
      fprintf (stderr, "%s: %s\n", PROG, img_ctx_error (t->ctx));
      r = r2;
    }
    t->disk = NULL;
  }
  return r;
}

/* ---- helpers -------------------------------------------------------- */

static int
parse_u64 (const char *s, int base, uint64_t *v)
{
  char *end;

  errno = 0;
  *v = strtoull (s, &end, base);
  return (errno || end == s || *end) ? -1 : 0;
}

static int
parse_mode (const char *s, uint32_t *mode)
{
  uint64_t v;

  if (parse_u64 (s, 8, &v) < 0 || v > 07777)
    return -1;
  *mode = v;
  return 0;
}

/* SEC[.NSEC] */
static int
parse_time (const char *s, int64_t *sec, uint32_t *ns)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno || end == s)
    return -1;
  *sec = v;
  *ns = 0;
  if (*end == '.') {
    const char *f = end + 1;
    uint32_t n = 0;
    int digits = 0;
    for (; *f >= '0' && *f <= '9'; f++, digits++)
      if (digits < 9)
        n = n * 10 + (*f - '0');
    if (digits == 0 || *f)
      return -1;
    for (; digits < 9; digits++)
      n *= 10;
    *ns = n;
  }
  else if (*end)
    return -1;
  return 0;
}

static int
join (const char *dir, const char *name, char *out, size_t size)
{
  int n = snprintf (out, size, "%s%s%s", dir,
                    dir[0] && dir[strlen (dir) - 1] == '/' ? "" : "/", name);
  return (n < 0 || (size_t) n >= size) ? -ENAMETOOLONG : 0;
}

static const char *
type_name (uint32_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFREG: return "regular";
  case S_IFDIR: return "directory";
  case S_IFLNK: return "symlink";
  case S_IFCHR: return "chardev";
  case S_IFBLK: return "blockdev";
  case S_IFIFO: return "fifo";
  case S_IFSOCK: return "socket";
  default: return "unknown";
  }
}

static int
cmp_dirent (const void *a, const void *b)
{
  return strcmp (((const struct img_dirent *) a)->name,
                 ((const struct img_dirent *) b)->name);
}

/* Copies host fd's data regions into guest PATH (which exists), leaving
 * the holes as holes, then sets the size. */
static int
copy_data (struct tool *t, int fd, const char *hpath, const char *path,
           uint64_t size)
{
  const size_t bufsize = BUFSIZE;
  unsigned char *buf = scratch (t);
  off_t data = 0, hole;
  int r = 0;

  if (buf == NULL)
    return -ENOMEM;
  while ((uint64_t) data < size) {
    data = lseek (fd, data, SEEK_DATA);
    if (data == -1) {
      if (errno != ENXIO) {
        r = -errno;
        fprintf (stderr, "%s: %s: %m\n", PROG, hpath);
      }
      break;
    }
    hole = lseek (fd, data, SEEK_HOLE);
    if (hole == -1) {
      r = -errno;
      fprintf (stderr, "%s: %s: %m\n", PROG, hpath);
      break;
    }
    while (data < hole) {
      size_t want = (uint64_t) (hole - data) < bufsize ? (size_t) (hole - data) : bufsize;
      ssize_t n = pread (fd, buf, want, data);
      if (n <= 0) {
        r = n == 0 ? -EIO : -errno;
        fprintf (stderr, "%s: %s: read failed\n", PROG, hpath);
        goto out;
      }
      r = img_fs_pwrite (t->fs, path, buf, n, data);
      if (r < 0) {
        fprintf (stderr, "%s: %s\n", PROG, img_ctx_error (t->ctx));
        goto out;
      }
      data += n;
    }
  }
  if (r == 0) {
    struct img_stat st;
    r = img_fs_lstat (t->fs, path, &st);
    if (r == 0 && st.size != size)
      r = img_fs_truncate (t->fs, path, size);
    if (r < 0)
      fprintf (stderr, "%s: %s\n", PROG, img_ctx_error (t->ctx));
  }
 out:
  return r;
}

/* Reports a failed library call (message from the context). */
static int
lib (struct tool *t, int r)
{
  if (r < 0)
    fprintf (stderr, "%s: %s\n", PROG, img_ctx_error (t->ctx));
  return r;
}

/* ---- commands -------------------------------------------------------- */

static int
cmd_info (struct tool *t, int argc, char **argv)
{
  printf ("%s %s %s\n", img_fs_type (t->fs), img_fs_name (t->fs),
          img_fs_is_writable (t->fs) ? "rw" : "ro");
  return 0;
}

static int
cmd_ls (struct tool *t, int argc, char **argv)
{
  struct img_dirent *ents;
  const char *fmt = "", *path;
  char full[PATH_MAX];
  size_t n, i;
  int r;

  if (argc == 3) {
    fmt = argv[1];
    if (strcmp (fmt, "-l") != 0 && strcmp (fmt, "-p") != 0)
      return USAGE_ERR;
  }
  path = argv[argc - 1];
  r = lib (t, img_fs_readdir (t->fs, path, &ents, &n));
  if (r < 0)
    return r;
  if (n > 0)
    qsort (ents, n, sizeof *ents, cmp_dirent);
  for (i = 0; i < n && r == 0; i++) {
    struct img_stat st;
    if (fmt[0] == '\0') {
      printf ("%s\n", ents[i].name);
      continue;
    }
    r = join (path, ents[i].name, full, sizeof full);
    if (r == 0)
      r = lib (t, img_fs_lstat (t->fs, full, &st));
    if (r < 0)
      break;
    if (strcmp (fmt, "-p") == 0) {
      /* debugfs "ls -p": /ino/mode/uid/gid/name/size/ */
      printf ("/%" PRIu64 "/%06o/%u/%u/%s/", st.ino, st.mode, st.uid, st.gid,
              ents[i].name);
      if (S_ISDIR (st.mode))
        printf ("/\n");
      else
        printf ("%" PRIu64 "/\n", st.size);
    }
    else {
      printf ("%07o %u %u:%u %" PRIu64 " %s", st.mode, st.nlink, st.uid,
              st.gid, st.size, ents[i].name);
      if (S_ISLNK (st.mode)) {
        char *target;
        r = lib (t, img_fs_readlink (t->fs, full, &target));
        if (r == 0) {
          printf (" -> %s", target);
          free (target);
        }
      }
      printf ("\n");
    }
  }
  img_dirents_free (ents, n);
  return r;
}

static int
cmd_stat (struct tool *t, int argc, char **argv)
{
  struct img_stat st;
  int r;

  r = lib (t, img_fs_lstat (t->fs, argv[1], &st));
  if (r < 0)
    return r;
  printf ("ino: %" PRIu64 "\ntype: %s\nmode: %04o\nuid: %u\ngid: %u\n"
          "nlink: %u\nsize: %" PRIu64 "\nblocks: %" PRIu64 "\nrdev: %u,%u\n"
          "atime: %" PRId64 ".%09u\nmtime: %" PRId64 ".%09u\n"
          "ctime: %" PRId64 ".%09u\n",
          st.ino, type_name (st.mode), st.mode & 07777, st.uid, st.gid,
          st.nlink, st.size, st.blocks, st.rdev_major, st.rdev_minor,
          st.atime, st.atime_ns, st.mtime, st.mtime_ns, st.ctime,
          st.ctime_ns);
  return 0;
}

/* LEFT bytes of PATH at OFF (fewer at the end of the file) to stdout, in
 * reads of at most BUFSIZE: the reads a caller with its own window makes. */
static int
read_out (struct tool *t, const char *path, uint64_t off, uint64_t left)
{
  unsigned char *buf = scratch (t);
  size_t got;
  int r = 0;

  if (buf == NULL)
    return -ENOMEM;
  while (left > 0) {
    size_t want = left < BUFSIZE ? (size_t) left : BUFSIZE;
    r = lib (t, img_fs_pread (t->fs, path, buf, want, off, &got));
    if (r < 0 || got == 0)
      break;
    if (fwrite (buf, 1, got, stdout) != got) {
      fprintf (stderr, "%s: write to stdout failed\n", PROG);
      r = -EIO;
      break;
    }
    off += got;
    left -= got;
  }
  return r;
}

static int
cmd_cat (struct tool *t, int argc, char **argv)
{
  return read_out (t, argv[1], 0, UINT64_MAX);
}

static int
cmd_read (struct tool *t, int argc, char **argv)
{
  uint64_t off, len;

  if (parse_u64 (argv[2], 0, &off) < 0 || parse_u64 (argv[3], 0, &len) < 0)
    return USAGE_ERR;
  return read_out (t, argv[1], off, len);
}

static int
cmd_readlink (struct tool *t, int argc, char **argv)
{
  char *target;
  int r;

  r = lib (t, img_fs_readlink (t->fs, argv[1], &target));
  if (r < 0)
    return r;
  printf ("%s\n", target);
  free (target);
  return 0;
}

/* put HOSTFILE PATH [MODE]: PATH is created (or emptied) and filled. */
static int
cmd_put (struct tool *t, int argc, char **argv)
{
  struct img_stat gst;
  struct stat st;
  uint32_t mode;
  int fd, r;

  fd = open (argv[1], O_RDONLY | O_CLOEXEC);
  if (fd == -1 || fstat (fd, &st) == -1) {
    r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, argv[1]);
    if (fd >= 0)
      close (fd);
    return r;
  }
  mode = st.st_mode & 07777;
  if (argc == 4 && parse_mode (argv[3], &mode) < 0) {
    close (fd);
    return USAGE_ERR;
  }
  r = img_fs_lstat (t->fs, argv[2], &gst);
  if (r == -ENOENT)
    r = img_fs_create (t->fs, argv[2], mode, NOID, NOID);
  else if (r == 0)
    r = img_fs_truncate (t->fs, argv[2], 0);
  if (lib (t, r) == 0)
    r = copy_data (t, fd, argv[1], argv[2], st.st_size);
  close (fd);
  return r;
}

/* pwrite PATH OFFSET TEXT: TEXT's bytes at OFFSET. */
static int
cmd_pwrite (struct tool *t, int argc, char **argv)
{
  uint64_t off;

  if (parse_u64 (argv[2], 0, &off) < 0)
    return USAGE_ERR;
  return lib (t, img_fs_pwrite (t->fs, argv[1], argv[3], strlen (argv[3]),
                                off));
}

static int
cmd_mkdir (struct tool *t, int argc, char **argv)
{
  uint32_t mode = 0755;

  if (argc == 3 && parse_mode (argv[2], &mode) < 0)
    return USAGE_ERR;
  return lib (t, img_fs_mkdir (t->fs, argv[1], mode, NOID, NOID));
}

static int
mkdir_p (struct tool *t, const char *path, uint32_t mode)
{
  char buf[PATH_MAX], *s;
  struct img_stat st;
  int r;

  if (strlen (path) >= sizeof buf)
    return -ENAMETOOLONG;
  strcpy (buf, path);
  for (s = buf + 1; ; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    if (s[-1] != '/') {
      char c = *s;
      *s = '\0';
      r = img_fs_lstat (t->fs, buf, &st);
      if (r == -ENOENT)
        r = img_fs_mkdir (t->fs, buf, mode, NOID, NOID);
      else if (r == 0 && !S_ISDIR (st.mode)) {
        fprintf (stderr, "%s: %s: not a directory\n", PROG, buf);
        return -ENOTDIR;
      }
      if (r < 0)
        return lib (t, r);
      *s = c;
    }
    if (*s == '\0')
      break;
  }
  return 0;
}

static int
cmd_mkdir_p (struct tool *t, int argc, char **argv)
{
  uint32_t mode = 0755;

  if (argc == 3 && parse_mode (argv[2], &mode) < 0)
    return USAGE_ERR;
  return mkdir_p (t, argv[1], mode);
}

static int
cmd_symlink (struct tool *t, int argc, char **argv)
{
  return lib (t, img_fs_symlink (t->fs, argv[1], argv[2], NOID, NOID));
}

static int
cmd_link (struct tool *t, int argc, char **argv)
{
  return lib (t, img_fs_link (t->fs, argv[1], argv[2]));
}

static int
cmd_rm (struct tool *t, int argc, char **argv)
{
  return lib (t, img_fs_unlink (t->fs, argv[1]));
}

static int
cmd_rmdir (struct tool *t, int argc, char **argv)
{
  return lib (t, img_fs_rmdir (t->fs, argv[1]));
}

static int
cmd_mv (struct tool *t, int argc, char **argv)
{
  return lib (t, img_fs_rename (t->fs, argv[1], argv[2]));
}

static int
cmd_chmod (struct tool *t, int argc, char **argv)
{
  uint32_t mode;

  if (parse_mode (argv[1], &mode) < 0)
    return USAGE_ERR;
  return lib (t, img_fs_chmod (t->fs, argv[2], mode));
}

static int
cmd_chown (struct tool *t, int argc, char **argv)
{
  uint64_t uid, gid;
  char *colon = strchr (argv[1], ':');

  if (colon == NULL)
    return USAGE_ERR;
  *colon = '\0';
  if (parse_u64 (argv[1], 10, &uid) < 0 || parse_u64 (colon + 1, 10, &gid) < 0
      || uid > UINT32_MAX || gid > UINT32_MAX)
    return USAGE_ERR;
  return lib (t, img_fs_chown (t->fs, argv[2], uid, gid));
}

/* touch [-d SEC[.NS]] PATH: creates an empty file if needed, sets atime
 * and mtime (now by default). */
static int
cmd_touch (struct tool *t, int argc, char **argv)
{
  const char *path = argv[argc - 1];
  struct img_stat st;
  struct timespec ts;
  int64_t sec;
  uint32_t ns;
  int r;

  clock_gettime (CLOCK_REALTIME, &ts);
  sec = ts.tv_sec;
  ns = ts.tv_nsec;
  if (argc == 4) {
    if (strcmp (argv[1], "-d") != 0 || parse_time (argv[2], &sec, &ns) < 0)
      return USAGE_ERR;
  }
  else if (argc != 2)
    return USAGE_ERR;
  r = img_fs_lstat (t->fs, path, &st);
  if (r == -ENOENT)
    r = img_fs_create (t->fs, path, 0644, NOID, NOID);
  if (r == 0)
    r = img_fs_utimes (t->fs, path, sec, ns, sec, ns);
  return lib (t, r);
}

static int
cmd_truncate (struct tool *t, int argc, char **argv)
{
  uint64_t size;

  if (parse_u64 (argv[1], 0, &size) < 0)
    return USAGE_ERR;
  return lib (t, img_fs_truncate (t->fs, argv[2], size));
}

/* mknod PATH c|b MAJOR MINOR [MODE] | mknod PATH p|s [MODE] */
static int
cmd_mknod (struct tool *t, int argc, char **argv)
{
  uint32_t mode = 0644, type;
  uint64_t maj = 0, min = 0;
  int next = 3;

  switch (argv[2][0] && !argv[2][1] ? argv[2][0] : '?') {
  case 'c': type = S_IFCHR; break;
  case 'b': type = S_IFBLK; break;
  case 'p': type = S_IFIFO; break;
  case 's': type = S_IFSOCK; break;
  default: return USAGE_ERR;
  }
  if (type == S_IFCHR || type == S_IFBLK) {
    if (argc < 5 || parse_u64 (argv[3], 0, &maj) < 0
        || parse_u64 (argv[4], 0, &min) < 0 || maj > UINT32_MAX
        || min > UINT32_MAX)
      return USAGE_ERR;
    next = 5;
  }
  if (argc > next + 1 || (argc == next + 1 && parse_mode (argv[next], &mode) < 0))
    return USAGE_ERR;
  return lib (t, img_fs_mknod (t->fs, argv[1], type | mode, maj, min, NOID, NOID));
}

static int
cmd_sync (struct tool *t, int argc, char **argv)
{
  return lib (t, img_fs_sync (t->fs));
}

/* copy-in: a host tree into the guest, as mke2fs -d would. */
struct hardlink {
  dev_t dev;
  ino_t ino;
  char *path;
};

struct copy {
  struct tool *t;
  struct hardlink *links;
  size_t n_links, cap_links;
};

static int
set_times (struct tool *t, const char *path, const struct stat *st)
{
  return lib (t, img_fs_utimes (t->fs, path, st->st_atim.tv_sec,
                                st->st_atim.tv_nsec, st->st_mtim.tv_sec,
                                st->st_mtim.tv_nsec));
}

static int
copy_tree (struct copy *c, const char *host, const char *guest, int depth);

static int
copy_one (struct copy *c, const char *hp, const char *gp, int depth)
{
  struct tool *t = c->t;
  struct stat st;
  size_t i;
  int r;

  if (lstat (hp, &st) == -1) {
    r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, hp);
    return r;
  }
  if (!S_ISDIR (st.st_mode) && st.st_nlink > 1) {
    for (i = 0; i < c->n_links; i++)
      if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino)
        return lib (t, img_fs_link (t->fs, c->links[i].path, gp));
    if (c->n_links == c->cap_links) {
      size_t cap = c->cap_links ? c->cap_links * 2 : 64;
      struct hardlink *l = realloc (c->links, cap * sizeof *l);
      if (l == NULL)
        return -ENOMEM;
      c->links = l;
      c->cap_links = cap;
    }
    c->links[c->n_links].dev = st.st_dev;
    c->links[c->n_links].ino = st.st_ino;
    c->links[c->n_links].path = strdup (gp);
    if (c->links[c->n_links].path == NULL)
      return -ENOMEM;
    c->n_links++;
  }
  switch (st.st_mode & S_IFMT) {
  case S_IFDIR:
    r = lib (t, img_fs_mkdir (t->fs, gp, st.st_mode & 07777, st.st_uid,
                              st.st_gid));
    if (r == 0)
      r = copy_tree (c, hp, gp, depth + 1);
    break;
  case S_IFREG: {
    int fd = open (hp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1) {
      r = -errno;
      fprintf (stderr, "%s: %s: %m\n", PROG, hp);
      break;
    }
    r = lib (t, img_fs_create (t->fs, gp, st.st_mode & 07777, st.st_uid,
                               st.st_gid));
    if (r == 0)
      r = copy_data (t, fd, hp, gp, st.st_size);
    close (fd);
    break;
  }
  case S_IFLNK: {
    char target[PATH_MAX];
    ssize_t n = readlink (hp, target, sizeof target - 1);
    if (n == -1) {
      r = -errno;
      fprintf (stderr, "%s: %s: %m\n", PROG, hp);
      break;
    }
    target[n] = '\0';
    r = lib (t, img_fs_symlink (t->fs, target, gp, st.st_uid, st.st_gid));
    break;
  }
  default:
    r = lib (t, img_fs_mknod (t->fs, gp, st.st_mode, major (st.st_rdev),
                              minor (st.st_rdev), st.st_uid, st.st_gid));
    break;
  }
  if (r == 0)
    r = set_times (t, gp, &st);
  return r;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
copy_tree (struct copy *c, const char *host, const char *guest, int depth)
{
  char hp[PATH_MAX], gp[PATH_MAX];
  char **names = NULL;
  size_t n = 0, cap = 0, i;
  struct dirent *de;
  DIR *dir;
  int r = 0;

  if (depth > 1000) {
    fprintf (stderr, "%s: %s: tree too deep\n", PROG, host);
    return -ELOOP;
  }
  dir = opendir (host);
  if (dir == NULL) {
    r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, host);
    return r;
  }
  while ((de = readdir (dir)) != NULL) {
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (n == cap) {
      char **nn = realloc (names, (cap = cap ? cap * 2 : 64) * sizeof *nn);
      if (nn == NULL) {
        r = -ENOMEM;
        break;
      }
      names = nn;
    }
    if ((names[n] = strdup (de->d_name)) == NULL) {
      r = -ENOMEM;
      break;
    }
    n++;
  }
  closedir (dir);
  if (r == 0 && n > 0)
    qsort (names, n, sizeof *names, cmp_str);
  for (i = 0; i < n && r == 0; i++) {
    r = join (host, names[i], hp, sizeof hp);
    if (r == 0)
      r = join (guest, names[i], gp, sizeof gp);
    if (r < 0)
      fprintf (stderr, "%s: %s/%s: name too long\n", PROG, host, names[i]);
    else
      r = copy_one (c, hp, gp, depth);
  }
  for (i = 0; i < n; i++)
    free (names[i]);
  free (names);
  return r;
}

static int
cmd_copy_in (struct tool *t, int argc, char **argv)
{
  struct copy c = { .t = t };
  struct stat st;
  size_t i;
  int r;

  if (stat (argv[1], &st) == -1 || !S_ISDIR (st.st_mode)) {
    fprintf (stderr, "%s: %s: not a directory\n", PROG, argv[1]);
    return -ENOTDIR;
  }
  r = mkdir_p (t, argv[2], 0755);
  if (r == 0)
    r = copy_tree (&c, argv[1], argv[2], 0);
  /* The top directory takes the source's attributes, last (adding
   * entries changed its times). */
  if (r == 0)
    r = lib (t, img_fs_chown (t->fs, argv[2], st.st_uid, st.st_gid));
  if (r == 0)
    r = lib (t, img_fs_chmod (t->fs, argv[2], st.st_mode & 07777));
  if (r == 0)
    r = set_times (t, argv[2], &st);
  for (i = 0; i < c.n_links; i++)
    free (c.links[i].path);
  free (c.links);
  return r;
}

/* copy-out: a guest tree to the host (the reading side of copy-in):
 * contents with holes kept, symlinks, devices, fifos, hard links, modes,
 * owners and times with nanoseconds. */
struct outlink {
  uint64_t ino;
  char *path;
};

struct copyout {
  struct tool *t;
  struct outlink *links;
  size_t n_links, cap_links;
};

static int
host_attrs (const char *hp, const struct img_stat *st)
{
  struct timespec ts[2] = {
    { .tv_sec = st->atime, .tv_nsec = st->atime_ns },
    { .tv_sec = st->mtime, .tv_nsec = st->mtime_ns },
  };

  if (lchown (hp, st->uid, st->gid) == -1
      || (!S_ISLNK (st->mode) && chmod (hp, st->mode & 07777) == -1)
      || utimensat (AT_FDCWD, hp, ts, AT_SYMLINK_NOFOLLOW) == -1) {
    int r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, hp);
    return r;
  }
  return 0;
}

static int
out_file (struct tool *t, const char *gp, const char *hp, uint64_t size)
{
  const size_t bufsize = BUFSIZE;
  unsigned char *buf = scratch (t);
  uint64_t off = 0;
  size_t got, i;
  int fd, r = 0;

  if (buf == NULL)
    return -ENOMEM;
  fd = open (hp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1) {
    r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, hp);
    return r;
  }
  for (;;) {
    r = lib (t, img_fs_pread (t->fs, gp, buf, bufsize, off, &got));
    if (r < 0 || got == 0)
      break;
    /* All-zero chunks stay holes. */
    for (i = 0; i < got && buf[i] == 0; i++)
      ;
    if (i < got && pwrite (fd, buf, got, off) != (ssize_t) got) {
      r = -errno;
      fprintf (stderr, "%s: %s: %m\n", PROG, hp);
      break;
    }
    off += got;
  }
  if (r == 0 && ftruncate (fd, size) == -1) {
    r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, hp);
  }
  close (fd);
  return r;
}

static int
copy_out_tree (struct copyout *c, const char *guest, const char *host,
               int depth)
{
  struct tool *t = c->t;
  struct img_dirent *ents;
  char gp[PATH_MAX], hp[PATH_MAX];
  size_t n, i, k;
  int r;

  if (depth > 1000)
    return -ELOOP;
  r = lib (t, img_fs_readdir (t->fs, guest, &ents, &n));
  if (r < 0)
    return r;
  if (n > 0)
    qsort (ents, n, sizeof *ents, cmp_dirent);
  for (i = 0; i < n && r == 0; i++) {
    struct img_stat st;
    bool linked = false;

    if (join (guest, ents[i].name, gp, sizeof gp) < 0
        || join (host, ents[i].name, hp, sizeof hp) < 0) {
      fprintf (stderr, "%s: %s/%s: name too long\n", PROG, guest, ents[i].name);
      r = -ENAMETOOLONG;
      break;
    }
    r = lib (t, img_fs_lstat (t->fs, gp, &st));
    if (r < 0)
      break;
    if (!S_ISDIR (st.mode) && st.nlink > 1) {
      for (k = 0; k < c->n_links && !linked; k++)
        if (c->links[k].ino == st.ino) {
          if (link (c->links[k].path, hp) == -1) {
            r = -errno;
            fprintf (stderr, "%s: %s: %m\n", PROG, hp);
          }
          linked = true;
        }
      if (linked)
        continue;
      if (c->n_links == c->cap_links) {
        size_t cap = c->cap_links ? c->cap_links * 2 : 64;
        struct outlink *l = realloc (c->links, cap * sizeof *l);
        if (l == NULL) {
          r = -ENOMEM;
          break;
        }
        c->links = l;
        c->cap_links = cap;
      }
      c->links[c->n_links].ino = st.ino;
      if ((c->links[c->n_links].path = strdup (hp)) == NULL) {
        r = -ENOMEM;
        break;
      }
      c->n_links++;
    }
    switch (st.mode & S_IFMT) {
    case S_IFDIR:
      if (mkdir (hp, 0700) == -1) {
        r = -errno;
        fprintf (stderr, "%s: %s: %m\n", PROG, hp);
        break;
      }
      r = copy_out_tree (c, gp, hp, depth + 1);
      break;
    case S_IFREG:
      r = out_file (t, gp, hp, st.size);
      break;
    case S_IFLNK: {
      char *target;
      r = lib (t, img_fs_readlink (t->fs, gp, &target));
      if (r == 0) {
        if (symlink (target, hp) == -1) {
          r = -errno;
          fprintf (stderr, "%s: %s: %m\n", PROG, hp);
        }
        free (target);
      }
      break;
    }
    default:
      if (mknod (hp, st.mode & S_IFMT, makedev (st.rdev_major, st.rdev_minor)) == -1) {
        r = -errno;
        fprintf (stderr, "%s: %s: %m\n", PROG, hp);
      }
      break;
    }
    if (r == 0)
      r = host_attrs (hp, &st);
  }
  img_dirents_free (ents, n);
  return r;
}

static int
cmd_copy_out (struct tool *t, int argc, char **argv)
{
  struct copyout c = { .t = t };
  struct img_stat st;
  size_t i;
  int r;

  r = lib (t, img_fs_lstat (t->fs, argv[1], &st));
  if (r < 0)
    return r;
  if (mkdir (argv[2], 0700) == -1) {
    r = -errno;
    fprintf (stderr, "%s: %s: %m\n", PROG, argv[2]);
    return r;
  }
  r = copy_out_tree (&c, argv[1], argv[2], 0);
  if (r == 0)
    r = host_attrs (argv[2], &st);
  for (i = 0; i < c.n_links; i++)
    free (c.links[i].path);
  free (c.links);
  return r;
}

struct command {
  const char *name;
  int min_args, max_args;       /* not counting the name */
  bool writes;
  int (*fn) (struct tool *t, int argc, char **argv);
  const char *usage;
};

static const struct command commands[] = {
  { "info", 0, 0, false, cmd_info, "info" },
  { "ls", 1, 2, false, cmd_ls, "ls [-l|-p] PATH" },
  { "stat", 1, 1, false, cmd_stat, "stat PATH" },
  { "cat", 1, 1, false, cmd_cat, "cat PATH" },
  { "read", 3, 3, false, cmd_read, "read PATH OFFSET LENGTH" },
  { "readlink", 1, 1, false, cmd_readlink, "readlink PATH" },
  { "put", 2, 3, true, cmd_put, "put HOSTFILE PATH [MODE]" },
  { "pwrite", 3, 3, true, cmd_pwrite, "pwrite PATH OFFSET TEXT" },
  { "mkdir", 1, 2, true, cmd_mkdir, "mkdir PATH [MODE]" },
  { "mkdir-p", 1, 2, true, cmd_mkdir_p, "mkdir-p PATH [MODE]" },
  { "symlink", 2, 2, true, cmd_symlink, "symlink TARGET PATH" },
  { "link", 2, 2, true, cmd_link, "link OLDPATH NEWPATH" },
  { "rm", 1, 1, true, cmd_rm, "rm PATH" },
  { "rmdir", 1, 1, true, cmd_rmdir, "rmdir PATH" },
  { "mv", 2, 2, true, cmd_mv, "mv OLDPATH NEWPATH" },
  { "chmod", 2, 2, true, cmd_chmod, "chmod MODE PATH" },
  { "chown", 2, 2, true, cmd_chown, "chown UID:GID PATH" },
  { "touch", 1, 3, true, cmd_touch, "touch [-d SEC[.NSEC]] PATH" },
  { "truncate", 2, 2, true, cmd_truncate, "truncate SIZE PATH" },
  { "mknod", 2, 5, true, cmd_mknod, "mknod PATH c|b MAJOR MINOR [MODE] | mknod PATH p|s [MODE]" },
  { "copy-in", 2, 2, true, cmd_copy_in, "copy-in HOSTDIR GUESTDIR" },
  { "copy-out", 2, 2, false, cmd_copy_out, "copy-out GUESTDIR HOSTDIR" },
  { "sync", 0, 0, true, cmd_sync, "sync" },
};

static const struct command *
find_command (const char *name)
{
  size_t i;

  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void
usage (FILE *f)
{
  size_t i;

  fprintf (f, "usage: %s [--ro|--rw] IMAGE[:pN|:VG/LV] CMD ARGS...\n"
           "       %s [--ro|--rw] --dir DIR CMD ARGS...\n"
           "       %s ... batch < COMMANDS\ncommands:\n", PROG, PROG, PROG);
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf (f, "  %s\n", commands[i].usage);
}

/* Runs ARGV[0] with its arguments; 0, -errno (reported), or USAGE_ERR. */
static int
run (struct tool *t, int argc, char **argv)
{
  const struct command *c = find_command (argv[0]);
  int r;

  if (c == NULL || argc - 1 < c->min_args || argc - 1 > c->max_args) {
    fprintf (stderr, "%s: %s: bad command or arguments\n", PROG, argv[0]);
    return USAGE_ERR;
  }
  img_ctx_clear_error (t->ctx);
  r = c->fn (t, argc, argv);
  if (r == USAGE_ERR)
    fprintf (stderr, "%s: usage: %s\n", PROG, c->usage);
  return r;
}

/* Splits a batch line into words: blanks separate, '...' is literal,
 * "..." and bare words take backslash escapes, # starts a comment. */
static int
split_line (char *line, char **words, int max)
{
  char *in = line, *out = line;
  int n = 0;

  for (;;) {
    while (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
      in++;
    if (*in == '\0' || *in == '#')
      return n;
    if (n == max)
      return -1;
    words[n++] = out;
    while (*in && *in != ' ' && *in != '\t' && *in != '\n' && *in != '\r') {
      if (*in == '\'') {
        for (in++; *in && *in != '\''; )
          *out++ = *in++;
        if (*in != '\'')
          return -1;
        in++;
      }
      else if (*in == '"') {
        for (in++; *in && *in != '"'; ) {
          if (*in == '\\' && in[1])
            in++;
          *out++ = *in++;
        }
        if (*in != '"')
          return -1;
        in++;
      }
      else {
        if (*in == '\\' && in[1])
          in++;
        *out++ = *in++;
      }
    }
    if (*in)
      in++;
    *out++ = '\0';
  }
}

static int
run_batch (struct tool *t)
{
  char *line = NULL, *words[16];
  size_t cap = 0;
  unsigned long lineno = 0;
  int n, r = 0;

  while (getline (&line, &cap, stdin) != -1) {
    lineno++;
    n = split_line (line, words, 16);
    if (n < 0) {
      fprintf (stderr, "%s: stdin:%lu: cannot parse the line\n", PROG, lineno);
      r = USAGE_ERR;
      break;
    }
    if (n == 0)
      continue;
    r = run (t, n, words);
    if (r != 0) {
      fprintf (stderr, "%s: stdin:%lu: %s failed, stopping\n", PROG, lineno,
               words[0]);
      break;
    }
  }
  free (line);
  return r;
}

int
main (int argc, char *argv[])
{
  struct tool t = { 0 };
  const char *dir = NULL, *image = NULL;
  int mode = -1;                /* -1: from the command */
  bool rw, batch;
  int i = 1, r, r2;

  setvbuf (stdout, NULL, _IOFBF, 1 << 16);
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    if (strcmp (argv[i], "--ro") == 0)
      mode = 0;
    else if (strcmp (argv[i], "--rw") == 0)
      mode = 1;
    else if (strcmp (argv[i], "--dir") == 0 && i + 1 < argc)
      dir = argv[++i];
    else if (strcmp (argv[i], "--help") == 0) {
      usage (stdout);
      return 0;
    }
    else
      break;
  }
  if (dir == NULL && i < argc)
    image = argv[i++];
  if ((dir == NULL && image == NULL) || i >= argc) {
    usage (stderr);
    return 2;
  }
  batch = strcmp (argv[i], "batch") == 0 && i + 1 == argc;
  if (!batch) {
    const struct command *c = find_command (argv[i]);
    if (c == NULL) {
      fprintf (stderr, "%s: unknown command %s\n", PROG, argv[i]);
      usage (stderr);
      return 2;
    }
    rw = c->writes;
  }
  else
    rw = true;
  if (mode >= 0)
    rw = mode;

  if (img_ctx_new (&t.ctx) < 0) {
    fprintf (stderr, "%s: out of memory\n", PROG);
    return 1;
  }
  img_ctx_set_log_fn (t.ctx, NULL, (void *) PROG);
  {
    /* Test fixtures are often qcow2 overlays over the cached guests. */
    static const struct img_disk_opts allow = { NULL, true };
    img_ctx_set_disk_opts (t.ctx, &allow);
  }
  if (dir) {
    r = img_fs_open_dir (t.ctx, dir, rw ? IMG_FS_RDWR : IMG_FS_RDONLY, &t.fs);
    if (r < 0)
      fprintf (stderr, "%s: %s\n", PROG, img_ctx_error (t.ctx));
  }
  else
    r = open_target (&t, image, rw);
  if (r == 0)
    r = batch ? run_batch (&t) : run (&t, argc - i, argv + i);
  if (fflush (stdout) == EOF && r == 0) {
    fprintf (stderr, "%s: write to stdout failed\n", PROG);
    r = -EIO;
  }
  r2 = close_target (&t);
  if (r == 0)
    r = r2;
  img_ctx_free (t.ctx);
  free (t.buf);
  if (r == USAGE_ERR)
    return 2;
  return r < 0 ? 1 : 0;
}
