/* img-ramcopy: the small static helper img-ramify puts into a guest's
 * initramfs.  Debian's initramfs has no busybox (klibc tools only: no cp,
 * tar, du, find), so the RAM boot brings its own:
 *
 *   img-ramcopy size DIR...      bytes DIR's trees take on one filesystem
 *                                (allocated blocks, as tmpfs will need)
 *   img-ramcopy copy SRC DST     copy the tree SRC into the directory DST,
 *                                staying on SRC's filesystem, keeping
 *                                owners, modes, times, hard links,
 *                                symlinks, device nodes, fifos, sockets,
 *                                holes and extended attributes (file
 *                                capabilities, SELinux labels, ACLs)
 *   img-ramcopy meminfo          MemTotal and MemAvailable, in bytes
 *
 * Output is one line of KEY=VALUE words for a shell to read; errors are
 * one line on stderr and exit status 1 (2 for usage).  Statically linked
 * and dependent on nothing in the initramfs.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define PROG "img-ramcopy"
#define MAX_DEPTH 256

static void
die (const char *fmt, ...)
{
  va_list ap;

  fputs (PROG ": ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

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

struct totals {
  uint64_t bytes;               /* allocated */
  uint64_t apparent;
  uint64_t files, dirs, links, others, hardlinks, skipped_mounts;
};

static void
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
  t->bytes += (uint64_t) st.st_blocks * 512;
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
    if (lsetxattr (dst, names + i, value, (size_t) vl, 0) < 0)
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
      ssize_t r = pread (in, buf, want, pos), w, done = 0;
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        die ("%s: %s", src, strerror (errno));
      if (r == 0)
        break;                  /* shrank while we read */
      while (done < r) {
        w = pwrite (out, buf + done, (size_t) (r - done), pos + done);
        if (w < 0 && errno == EINTR)
          continue;
        if (w <= 0)
          die ("%s: %s", dst, w < 0 ? strerror (errno) : "short write");
        done += w;
      }
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

static void
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
      t->bytes += (uint64_t) dstst.st_blocks * 512;
  }
}

/* ---- meminfo ---------------------------------------------------------- */

static int
meminfo (void)
{
  FILE *f = fopen ("/proc/meminfo", "re");
  char line[256];
  unsigned long long total = 0, avail = 0, v;

  if (f == NULL)
    die ("/proc/meminfo: %s", strerror (errno));
  while (fgets (line, sizeof line, f)) {
    if (sscanf (line, "MemTotal: %llu kB", &v) == 1)
      total = v * 1024;
    else if (sscanf (line, "MemAvailable: %llu kB", &v) == 1)
      avail = v * 1024;
  }
  fclose (f);
  if (total == 0)
    die ("/proc/meminfo: no MemTotal");
  printf ("total=%llu available=%llu\n", total, avail);
  return 0;
}

static void
usage (void)
{
  fprintf (stderr, "usage: " PROG " size DIR...\n"
           "       " PROG " copy SRC DST\n"
           "       " PROG " meminfo\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  struct totals t = { 0 };
  struct stat st;
  int i;

  if (argc < 2)
    usage ();
  if (strcmp (argv[1], "meminfo") == 0 && argc == 2)
    return meminfo ();
  if (strcmp (argv[1], "size") == 0 && argc >= 3) {
    for (i = 2; i < argc; i++) {
      if (lstat (argv[i], &st) < 0)
        die ("%s: %s", argv[i], strerror (errno));
      size_tree (argv[i], st.st_dev, 0, &t);
    }
    printf ("bytes=%" PRIu64 " apparent=%" PRIu64 " files=%" PRIu64 " dirs=%" PRIu64
            " symlinks=%" PRIu64 " others=%" PRIu64 " hardlinks=%" PRIu64 " mounts_skipped=%" PRIu64 "\n",
            t.bytes, t.apparent, t.files, t.dirs, t.links, t.others, t.hardlinks, t.skipped_mounts);
    return 0;
  }
  if (strcmp (argv[1], "copy") == 0 && argc == 4) {
    struct stat dst;
    if (lstat (argv[2], &st) < 0 || !S_ISDIR (st.st_mode))
      die ("%s: not a directory", argv[2]);
    if (lstat (argv[3], &dst) < 0 || !S_ISDIR (dst.st_mode))
      die ("%s: not a directory", argv[3]);
    umask (0);
    copy_tree (argv[2], argv[3], st.st_dev, 0, true, &t);
    printf ("bytes=%" PRIu64 " apparent=%" PRIu64 " files=%" PRIu64 " dirs=%" PRIu64
            " symlinks=%" PRIu64 " others=%" PRIu64 " hardlinks=%" PRIu64 " mounts_skipped=%" PRIu64 "\n",
            t.bytes, t.apparent, t.files, t.dirs, t.links, t.others, t.hardlinks, t.skipped_mounts);
    return 0;
  }
  usage ();
  return 2;
}
