/* img-ramcopy size and copy: a tree's allocated bytes, and a copy of it
 * that keeps owners, modes, times, hard links, special files, holes and
 * extended attributes, staying on the source's filesystem. */
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
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/fdio.h"
#include "ramcopy.h"

/* ---- hard links: (dev, ino) -> path in the copy ----------------------- */

struct link {
  dev_t dev;
  ino_t ino;
  char *path;
};

static struct link *links;
static size_t n_links, cap_links;

static const char *
link_find (dev_t dev, ino_t ino)
{
  size_t i;

  for (i = 0; i < n_links; i++)
    if (links[i].dev == dev && links[i].ino == ino)
      return links[i].path;
  return NULL;
}

static void
link_add (dev_t dev, ino_t ino, const char *path)
{
  if (n_links == cap_links) {
    cap_links = cap_links ? cap_links * 2 : 256;
    links = realloc (links, cap_links * sizeof *links);
    if (links == NULL)
      die ("out of memory");
  }
  links[n_links].dev = dev;
  links[n_links].ino = ino;
  links[n_links].path = strdup (path);
  if (links[n_links].path == NULL)
    die ("out of memory");
  n_links++;
}

/* ---- size ------------------------------------------------------------- */

void
size_tree (const char *path, dev_t dev, int depth, struct totals *t)
{
  struct stat st;
  DIR *d;
  struct dirent *e;

  if (depth > MAX_DEPTH)
    die ("%s: directories nested too deep", path);
  if (lstat (path, &st) < 0)
    die ("%s: %s", path, strerror (errno));
  if (st.st_dev != dev) {
    t->skipped_mounts++;
    return;
  }
  if (!S_ISDIR (st.st_mode) && st.st_nlink > 1) {
    if (link_find (st.st_dev, st.st_ino)) {
      t->hardlinks++;
      return;
    }
    link_add (st.st_dev, st.st_ino, "");
  }
  t->bytes += (uint64_t) st.st_blocks * ST_BLOCK_UNIT;
  if (S_ISREG (st.st_mode)) {
    t->files++;
    t->apparent += (uint64_t) st.st_size;
  } else if (S_ISLNK (st.st_mode))
    t->links++;
  else if (!S_ISDIR (st.st_mode))
    t->others++;
  if (!S_ISDIR (st.st_mode))
    return;
  t->dirs++;
  d = opendir (path);
  if (d == NULL)
    die ("%s: %s", path, strerror (errno));
  while ((e = readdir (d)) != NULL) {
    char *child;
    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    if (asprintf (&child, "%s/%s", strcmp (path, "/") == 0 ? "" : path, e->d_name) < 0)
      die ("out of memory");
    size_tree (child, dev, depth + 1, t);
    free (child);
  }
  closedir (d);
}

/* ---- extended attributes the target cannot hold ------------------------ */

/* tmpfs takes user.* attributes only from Linux 6.6 on (Debian 12 runs
 * 6.1): those are left out, counted and reported, rather than failing
 * the whole RAM boot.  Every other failure to set one is an error. */
uint64_t xattrs_skipped;

bool
xattr_skippable (const char *name, int err)
{
  if ((err == EOPNOTSUPP || err == ENOTSUP) && strncmp (name, "user.", 5) == 0) {
    xattrs_skipped++;
    return true;
  }
  return false;
}

void
report_skipped (void)
{
  if (xattrs_skipped)
    fprintf (stderr, PROG ": warning: %" PRIu64 " user.* extended attribute%s left out: the "
             "target filesystem cannot hold them (tmpfs before Linux 6.6)\n", xattrs_skipped,
             xattrs_skipped == 1 ? "" : "s");
}

/* ---- copy ------------------------------------------------------------- */

static void
copy_xattrs (const char *src, const char *dst)
{
  char names[65536], value[65536];
  ssize_t n = llistxattr (src, names, sizeof names), i;

  if (n < 0) {
    if (errno == ENOTSUP || errno == ENODATA)
      return;
    die ("%s: listing extended attributes: %s", src, strerror (errno));
  }
  for (i = 0; i < n; i += (ssize_t) strlen (names + i) + 1) {
    ssize_t vl = lgetxattr (src, names + i, value, sizeof value);
    if (vl < 0)
      die ("%s: reading %s: %s", src, names + i, strerror (errno));
    if (lsetxattr (dst, names + i, value, (size_t) vl, 0) < 0 && !xattr_skippable (names + i, errno))
      die ("%s: setting %s: %s", dst, names + i, strerror (errno));
  }
}

static void
copy_data (const char *src, const char *dst, const struct stat *st, struct totals *t)
{
  static char buf[1 << 20];
  int in = open (src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out;
  off_t pos = 0;

  if (in < 0)
    die ("%s: %s", src, strerror (errno));
  out = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0)
    die ("%s: %s", dst, strerror (errno));
  while (pos < st->st_size) {
    off_t data = lseek (in, pos, SEEK_DATA), hole;
    if (data < 0) {
      if (errno == ENXIO)
        break;                  /* a hole to the end */
      data = pos;
      hole = st->st_size;
    } else if ((hole = lseek (in, data, SEEK_HOLE)) < 0)
      hole = st->st_size;
    for (pos = data; pos < hole;) {
      size_t want = (size_t) (hole - pos) < sizeof buf ? (size_t) (hole - pos) : sizeof buf;
      ssize_t r = pread (in, buf, want, pos);
      int w;
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        die ("%s: %s", src, strerror (errno));
      if (r == 0)
        break;                  /* shrank while we read */
      w = img_internal_pwrite_all (out, buf, (size_t) r, (uint64_t) pos);
      if (w < 0)
        die ("%s: %s", dst, strerror (-w));
      pos += r;
      t->apparent += (uint64_t) r;
    }
  }
  if (ftruncate (out, st->st_size) < 0)
    die ("%s: %s", dst, strerror (errno));
  close (in);
  if (close (out) < 0)
    die ("%s: %s", dst, strerror (errno));
}

/* Owner, mode, xattrs, times: in that order (chown clears setuid bits,
 * and setting xattrs after chown keeps security.capability). */
static void
set_meta (const char *src, const char *dst, const struct stat *st)
{
  struct timespec ts[2] = { st->st_atim, st->st_mtim };

  if (lchown (dst, st->st_uid, st->st_gid) < 0)
    die ("%s: %s", dst, strerror (errno));
  if (!S_ISLNK (st->st_mode) && chmod (dst, st->st_mode & 07777) < 0)
    die ("%s: %s", dst, strerror (errno));
  copy_xattrs (src, dst);
  if (utimensat (AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
    die ("%s: %s", dst, strerror (errno));
}

void
copy_tree (const char *src, const char *dst, dev_t dev, int depth, bool top,
           struct totals *t)
{
  struct stat st;
  const char *first;

  if (depth > MAX_DEPTH)
    die ("%s: directories nested too deep", src);
  if (lstat (src, &st) < 0)
    die ("%s: %s", src, strerror (errno));
  if (st.st_dev != dev) {
    /* Another filesystem mounted here: its mount point stays, empty. */
    t->skipped_mounts++;
    if (mkdir (dst, 0700) < 0 && errno != EEXIST)
      die ("%s: %s", dst, strerror (errno));
    if (lchown (dst, st.st_uid, st.st_gid) < 0 || chmod (dst, st.st_mode & 07777) < 0)
      die ("%s: %s", dst, strerror (errno));
    /* Its times as stat shows them, like every other entry's (they were
     * the copy's own, one second off when the copy ran slowly). */
    {
      struct timespec ts[2] = { st.st_atim, st.st_mtim };
      if (utimensat (AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
        die ("%s: %s", dst, strerror (errno));
    }
    return;
  }
  if (!S_ISDIR (st.st_mode) && st.st_nlink > 1 && (first = link_find (st.st_dev, st.st_ino))) {
    if (link (first, dst) < 0)
      die ("%s: %s", dst, strerror (errno));
    t->hardlinks++;
    return;
  }
  if (S_ISDIR (st.st_mode)) {
    DIR *d;
    struct dirent *e;
    if (!top && mkdir (dst, 0700) < 0)
      die ("%s: %s", dst, strerror (errno));
    t->dirs++;
    d = opendir (src);
    if (d == NULL)
      die ("%s: %s", src, strerror (errno));
    while ((e = readdir (d)) != NULL) {
      char *cs, *cd;
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if (asprintf (&cs, "%s/%s", strcmp (src, "/") == 0 ? "" : src, e->d_name) < 0
          || asprintf (&cd, "%s/%s", strcmp (dst, "/") == 0 ? "" : dst, e->d_name) < 0)
        die ("out of memory");
      copy_tree (cs, cd, dev, depth + 1, false, t);
      free (cs);
      free (cd);
    }
    closedir (d);
  } else if (S_ISREG (st.st_mode)) {
    copy_data (src, dst, &st, t);
    t->files++;
  } else if (S_ISLNK (st.st_mode)) {
    char target[PATH_MAX + 1];
    ssize_t n = readlink (src, target, PATH_MAX);
    if (n < 0)
      die ("%s: %s", src, strerror (errno));
    target[n] = '\0';
    if (symlink (target, dst) < 0)
      die ("%s: %s", dst, strerror (errno));
    t->links++;
  } else {
    if (mknod (dst, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0)
      die ("%s: %s", dst, strerror (errno));
    t->others++;
  }
  set_meta (src, dst, &st);
  if (!S_ISDIR (st.st_mode) && st.st_nlink > 1)
    link_add (st.st_dev, st.st_ino, dst);
  {
    struct stat dstst;
    if (lstat (dst, &dstst) == 0)
      t->bytes += (uint64_t) dstst.st_blocks * ST_BLOCK_UNIT;
  }
}
