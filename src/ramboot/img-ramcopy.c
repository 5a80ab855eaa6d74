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
 *   img-ramcopy unpack ARCHIVE DST
 *                                extract a pax tar (raw, gzip or zstd)
 *                                into the directory DST, keeping the same
 *                                (GNU tar's sparse 1.0 files as holes,
 *                                xattrs as SCHILY.xattr records), never
 *                                writing outside DST
 *   img-ramcopy archive-size ARCHIVE   bytes the tree in an img-ramify
 *                                archive takes in a tmpfs (its first header)
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
#include <stddef.h>
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
#include <zlib.h>
#include <zstd.h>

#include "base/fdio.h"

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

/* ---- extended attributes the target cannot hold ------------------------ */

/* tmpfs takes user.* attributes only from Linux 6.6 on (Debian 12 runs
 * 6.1): those are left out, counted and reported, rather than failing
 * the whole RAM boot.  Every other failure to set one is an error. */
static uint64_t xattrs_skipped;

static bool
xattr_skippable (const char *name, int err)
{
  if ((err == EOPNOTSUPP || err == ENOTSUP) && strncmp (name, "user.", 5) == 0) {
    xattrs_skipped++;
    return true;
  }
  return false;
}

static void
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
      t->bytes += (uint64_t) dstst.st_blocks * 512;
  }
}

/* ---- unpack ----------------------------------------------------------- */

/* A POSIX pax tar (as GNU tar --format=posix --xattrs --sparse
 * --sparse-version=1.0 writes it), raw, gzip or zstd, streamed from the
 * guest's disk into a fresh tmpfs.  The archive is hostile input: every
 * field is checked, and every entry is made with *at() calls below an fd
 * of DST whose path components were opened with O_NOFOLLOW, so that no
 * name, link or symlink in it can reach outside DST. */

#define TAR_BLOCK 512
#define STREAM_BUF (256 * 1024)
/* Extended headers carry names and xattrs (64 KiB each at most in
 * Linux); far more is a hostile header, not a real one. */
#define PAX_MAX (16 << 20)
#define SPARSE_MAX_REGIONS (1 << 24)

/* The ustar header: byte arrays only, filled by memcpy. */
struct ustar {
  char name[100];
  char mode[8];
  char uid[8];
  char gid[8];
  char size[12];
  char mtime[12];
  char chksum[8];
  char typeflag;
  char linkname[100];
  char magic[6];
  char version[2];
  char uname[32];
  char gname[32];
  char devmajor[8];
  char devminor[8];
  char prefix[155];
  char pad[12];
};
_Static_assert (sizeof (struct ustar) == TAR_BLOCK, "ustar header is one block");

enum codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };

struct xattr {
  char *name;
  unsigned char *value;
  size_t len;
};

/* What the pax extended header ('x') says of the member after it. */
struct pax {
  char *path, *linkpath;
  bool has_size, has_uid, has_gid, has_mtime, has_atime;
  uint64_t size;
  uint32_t uid, gid;
  struct timespec mtime, atime;
  struct xattr *xattrs;
  size_t n_xattrs;
  bool sparse;                  /* GNU.sparse.major / minor seen */
  uint64_t sparse_major, sparse_minor;
  bool old_sparse;              /* GNU.sparse.map and friends (0.x) */
  char *sparse_name;
  bool has_realsize;
  uint64_t realsize;
};

struct dirtime {
  char *rel;
  struct timespec ts[2];
};

struct unpack {
  const char *archive;
  int fd;                       /* the archive */
  enum codec codec;
  unsigned char *raw;           /* compressed bytes read from fd */
  size_t raw_len, raw_pos;
  unsigned char *out;           /* decompressed bytes not yet taken */
  size_t out_len, out_pos;
  bool out_full;                /* the decompressor may hold more output */
  bool gz_end;                  /* between two gzip members */
  bool cut;                     /* the input ended inside a frame or member */
  size_t zret;                  /* ZSTD_decompressStream's last: 0 between frames */
  ZSTD_DStream *zd;
  z_stream z;
  uint64_t pos;                 /* tar bytes taken so far */

  int dstfd;
  char *cache_rel;              /* the parent directory last opened */
  int cache_fd;
  struct dirtime *dirtimes;
  size_t n_dirtimes, cap_dirtimes;
  uint64_t files, bytes;
};

static void udie (struct unpack *u, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3), noreturn));

static void
udie (struct unpack *u, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, PROG ": unpack %s: ", u->archive);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

/* Names come from the archive: control bytes (a newline above all)
 * would break the one-line error, so show them as '?'.  Returns a
 * static buffer, good until the next call with the same slot. */
static const char *
shown (const char *name, int slot)
{
  static char buf[2][512];
  size_t i;

  for (i = 0; name[i] && i < sizeof buf[0] - 4; i++)
    buf[slot][i] = (unsigned char) name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
  if (name[i]) {
    memcpy (buf[slot] + i, "...", 3);
    i += 3;
  }
  buf[slot][i] = '\0';
  return buf[slot];
}

static void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);

  if (p == NULL)
    die ("out of memory");
  return p;
}

static char *
xstrndup (const char *s, size_t n)
{
  char *p = strndup (s, n);

  if (p == NULL)
    die ("out of memory");
  return p;
}

/* ---- the byte stream: raw, gzip or zstd ---- */

/* Reads more compressed bytes; false at the end of the file. */
static bool
raw_fill (struct unpack *u)
{
  ssize_t n;

  do
    n = read (u->fd, u->raw, STREAM_BUF);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    udie (u, "%s", strerror (errno));
  u->raw_len = (size_t) n;
  u->raw_pos = 0;
  return n > 0;
}

/* Makes u->out hold some more tar bytes; false at the end of the
 * stream (which may be early: the tar layer tells a truncation). */
static bool
stream_refill (struct unpack *u)
{
  u->out_pos = u->out_len = 0;
  if (u->codec == CODEC_NONE) {
    if (u->raw_pos == u->raw_len && !raw_fill (u))
      return false;
    memcpy (u->out, u->raw + u->raw_pos, u->raw_len - u->raw_pos);
    u->out_len = u->raw_len - u->raw_pos;
    u->raw_pos = u->raw_len;
    return true;
  }
  for (;;) {
    /* A decompressor that filled the whole output may hold more:
     * ask it again before reading more input. */
    if (u->raw_pos == u->raw_len && !u->out_full && !raw_fill (u)) {
      u->cut = u->codec == CODEC_ZSTD ? u->zret != 0 : !u->gz_end;
      return false;
    }
    if (u->codec == CODEC_ZSTD) {
      ZSTD_inBuffer in = { u->raw, u->raw_len, u->raw_pos };
      ZSTD_outBuffer o = { u->out, STREAM_BUF, 0 };
      size_t r = ZSTD_decompressStream (u->zd, &o, &in);
      if (ZSTD_isError (r))
        udie (u, "zstd: %s", ZSTD_getErrorName (r));
      u->raw_pos = in.pos;
      u->zret = r;
      u->out_len = o.pos;
      u->out_full = o.pos == o.size;
    } else {
      int r;
      if (u->gz_end) {
        /* Concatenated gzip members make one stream, as gzip -d says. */
        if (inflateReset (&u->z) != Z_OK)
          udie (u, "gzip: %s", u->z.msg ? u->z.msg : "cannot reset");
        u->gz_end = false;
      }
      u->z.next_in = u->raw + u->raw_pos;
      u->z.avail_in = (uInt) (u->raw_len - u->raw_pos);
      u->z.next_out = u->out;
      u->z.avail_out = STREAM_BUF;
      r = inflate (&u->z, Z_NO_FLUSH);
      if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
        udie (u, "gzip: %s", u->z.msg ? u->z.msg : zError (r));
      u->raw_pos = u->raw_len - u->z.avail_in;
      u->out_len = STREAM_BUF - u->z.avail_out;
      u->out_full = u->z.avail_out == 0;
      u->gz_end = r == Z_STREAM_END;
    }
    if (u->out_len > 0)
      return true;
  }
}

/* Takes up to N tar bytes; fewer only at the end of the stream. */
static size_t
stream_read (struct unpack *u, void *buf, size_t n)
{
  size_t got = 0;

  while (got < n) {
    size_t k;
    if (u->out_pos == u->out_len && !stream_refill (u))
      break;
    k = u->out_len - u->out_pos < n - got ? u->out_len - u->out_pos : n - got;
    memcpy ((char *) buf + got, u->out + u->out_pos, k);
    u->out_pos += k;
    got += k;
  }
  u->pos += got;
  return got;
}

static void
stream_need (struct unpack *u, void *buf, size_t n)
{
  if (stream_read (u, buf, n) != n)
    udie (u, "truncated at byte %" PRIu64, u->pos);
}

static void
stream_skip (struct unpack *u, uint64_t n)
{
  static char buf[64 * 1024];

  while (n > 0) {
    size_t k = n < sizeof buf ? (size_t) n : sizeof buf;
    stream_need (u, buf, k);
    n -= k;
  }
}

static uint64_t
padding (uint64_t size)
{
  return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}

static void
stream_open (struct unpack *u, const char *path)
{
  static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
  size_t have = 0;
  ssize_t n;

  u->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (u->fd < 0)
    udie (u, "%s", strerror (errno));
  u->raw = xmalloc (STREAM_BUF);
  u->out = xmalloc (STREAM_BUF);
  /* The magic may come in pieces from a pipe. */
  while (have < 4) {
    n = read (u->fd, u->raw + have, STREAM_BUF - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      udie (u, "%s", strerror (errno));
    if (n == 0)
      break;
    have += (size_t) n;
  }
  u->raw_len = have;
  if (have >= 4 && memcmp (u->raw, zstd_magic, 4) == 0) {
    u->codec = CODEC_ZSTD;
    u->zret = 1;
    u->zd = ZSTD_createDStream ();
    if (u->zd == NULL || ZSTD_isError (ZSTD_initDStream (u->zd)))
      die ("out of memory");
  } else if (have >= 2 && u->raw[0] == 0x1f && u->raw[1] == 0x8b) {
    u->codec = CODEC_GZIP;
    if (inflateInit2 (&u->z, 16 + MAX_WBITS) != Z_OK)
      die ("out of memory");
  } else
    u->codec = CODEC_NONE;
}

/* ---- headers ---- */

/* A numeric header field: octal digits, NUL- or space-terminated, or
 * GNU's base-256 (first byte 0x80, or 0xff for a negative number). */
static bool
parse_num (const char *field, size_t len, int64_t *out)
{
  const unsigned char *f = (const unsigned char *) field;
  uint64_t v = 0;
  size_t i = 0;

  if (f[0] == 0x80 || f[0] == 0xff) {
    bool neg = f[0] == 0xff;
    v = neg ? UINT64_MAX : 0;
    for (i = 1; i < len; i++) {
      if ((v >> 56) != (neg ? 0xff : 0))
        return false;
      v = (v << 8) | f[i];
    }
    if ((v >> 63) != neg)
      return false;
    *out = (int64_t) v;
    return true;
  }
  while (i < len && f[i] == ' ')
    i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 60)
      return false;
    v = v * 8 + (f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return false;
  *out = (int64_t) v;
  return true;
}

/* Fuzzing builds take every checksum as good, so that mutated headers
 * reach the checks behind it. */
static bool
checksum_ok (const unsigned char *blk, const struct ustar *h)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void) blk;
  (void) h;
  return true;
#else
  int64_t want;
  uint64_t usum = 0;
  int64_t ssum = 0;
  size_t i;

  if (!parse_num (h->chksum, sizeof h->chksum, &want))
    return false;
  for (i = 0; i < TAR_BLOCK; i++) {
    unsigned char c = i >= offsetof (struct ustar, chksum)
      && i < offsetof (struct ustar, chksum) + sizeof h->chksum ? ' ' : blk[i];
    usum += c;
    ssum += (signed char) c;
  }
  /* Some old tars summed signed chars; accept either. */
  return (int64_t) usum == want || ssum == want;
#endif
}

/* ---- pax records ---- */

static bool
pax_decimal (const char *v, size_t len, uint64_t max, uint64_t *out)
{
  uint64_t n = 0;
  size_t i;

  if (len == 0)
    return false;
  for (i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9' || n > (max - (uint64_t) (v[i] - '0')) / 10)
      return false;
    n = n * 10 + (uint64_t) (v[i] - '0');
  }
  *out = n;
  return true;
}

/* "SECONDS[.FRACTION]", possibly negative: -1.5 is 1.5 s before the
 * epoch, that is { -2, 500000000 }. */
static bool
pax_time (const char *v, size_t len, struct timespec *ts)
{
  bool neg = len > 0 && v[0] == '-';
  size_t i = neg, int_end;
  uint64_t sec;
  long nsec = 0, scale = 100000000;

  for (int_end = i; int_end < len && v[int_end] != '.'; int_end++)
    ;
  if (!pax_decimal (v + i, int_end - i, INT64_MAX - 1, &sec))
    return false;
  if (int_end < len) {
    if (int_end + 1 == len)
      return false;
    for (i = int_end + 1; i < len; i++) {
      if (v[i] < '0' || v[i] > '9')
        return false;
      nsec += (v[i] - '0') * scale;   /* digits past nanoseconds drop out */
      scale /= 10;
    }
  }
  if (!neg) {
    ts->tv_sec = (time_t) sec;
    ts->tv_nsec = nsec;
  } else if (nsec) {
    ts->tv_sec = -(time_t) sec - 1;
    ts->tv_nsec = 1000000000L - nsec;
  } else {
    ts->tv_sec = -(time_t) sec;
    ts->tv_nsec = 0;
  }
  return true;
}

static void
pax_clear (struct pax *p)
{
  size_t i;

  free (p->path);
  free (p->linkpath);
  free (p->sparse_name);
  for (i = 0; i < p->n_xattrs; i++) {
    free (p->xattrs[i].name);
    free (p->xattrs[i].value);
  }
  free (p->xattrs);
  memset (p, 0, sizeof *p);
}

/* A pax string that becomes a C string: a NUL in it would cut it. */
static char *
pax_string (struct unpack *u, uint64_t at, const char *key, const char *v, size_t len)
{
  if (memchr (v, '\0', len))
    udie (u, "corrupt pax header at byte %" PRIu64 ": %s has a NUL byte", at, key);
  return xstrndup (v, len);
}

/* Parses the LEN KEY=VALUE\n records of an extended header at tar byte
 * AT; a global header (P NULL) is checked and otherwise ignored. */
static void
pax_parse (struct unpack *u, uint64_t at, const char *d, size_t n, struct pax *p)
{
  size_t i = 0;

  while (i < n) {
    size_t j = i, reclen = 0, keylen, vlen;
    const char *key, *eq, *v;
    char *k;
    uint64_t num;

    /* Some writers pad the header's data with NULs. */
    if (img_internal_all_zero ((const unsigned char *) d + i, n - i))
      break;
    while (j < n && d[j] >= '0' && d[j] <= '9' && j - i < 12)
      reclen = reclen * 10 + (size_t) (d[j++] - '0');
    if (j == i || j >= n || d[j] != ' ' || reclen <= j + 1 - i || reclen > n - i
        || d[i + reclen - 1] != '\n')
      udie (u, "corrupt pax header at byte %" PRIu64, at);
    key = d + j + 1;
    eq = memchr (key, '=', (size_t) (d + i + reclen - 1 - key));
    if (eq == NULL || eq == key || memchr (key, '\0', (size_t) (eq - key)))
      udie (u, "corrupt pax header at byte %" PRIu64, at);
    keylen = (size_t) (eq - key);
    v = eq + 1;
    vlen = (size_t) (d + i + reclen - 1 - v);
    i += reclen;
    if (p == NULL)
      continue;
    k = xstrndup (key, keylen);

#define BAD() udie (u, "corrupt pax header at byte %" PRIu64 ": bad %s", at, shown (k, 0))
    if (strcmp (k, "path") == 0) {
      free (p->path);
      p->path = pax_string (u, at, k, v, vlen);
    } else if (strcmp (k, "linkpath") == 0) {
      free (p->linkpath);
      p->linkpath = pax_string (u, at, k, v, vlen);
    } else if (strcmp (k, "size") == 0) {
      if (!pax_decimal (v, vlen, INT64_MAX, &p->size))
        BAD ();
      p->has_size = true;
    } else if (strcmp (k, "uid") == 0 || strcmp (k, "gid") == 0) {
      /* (uid_t) -1 means "unchanged" to chown: not an owner. */
      if (!pax_decimal (v, vlen, UINT32_MAX - 1, &num))
        BAD ();
      if (k[0] == 'u')
        p->uid = (uint32_t) num, p->has_uid = true;
      else
        p->gid = (uint32_t) num, p->has_gid = true;
    } else if (strcmp (k, "mtime") == 0) {
      if (!pax_time (v, vlen, &p->mtime))
        BAD ();
      p->has_mtime = true;
    } else if (strcmp (k, "atime") == 0) {
      if (!pax_time (v, vlen, &p->atime))
        BAD ();
      p->has_atime = true;
    } else if (strncmp (k, "SCHILY.xattr.", 13) == 0) {
      struct xattr *x;
      if (k[13] == '\0')
        BAD ();
      p->xattrs = realloc (p->xattrs, (p->n_xattrs + 1) * sizeof *p->xattrs);
      if (p->xattrs == NULL)
        die ("out of memory");
      x = &p->xattrs[p->n_xattrs++];
      x->name = xstrndup (k + 13, keylen - 13);
      x->value = xmalloc (vlen);
      memcpy (x->value, v, vlen);
      x->len = vlen;
    } else if (strcmp (k, "GNU.sparse.major") == 0) {
      if (!pax_decimal (v, vlen, UINT32_MAX, &p->sparse_major))
        BAD ();
      p->sparse = true;
    } else if (strcmp (k, "GNU.sparse.minor") == 0) {
      if (!pax_decimal (v, vlen, UINT32_MAX, &p->sparse_minor))
        BAD ();
      p->sparse = true;
    } else if (strcmp (k, "GNU.sparse.name") == 0) {
      free (p->sparse_name);
      p->sparse_name = pax_string (u, at, k, v, vlen);
    } else if (strcmp (k, "GNU.sparse.realsize") == 0) {
      if (!pax_decimal (v, vlen, INT64_MAX, &p->realsize))
        BAD ();
      p->has_realsize = true;
    } else if (strcmp (k, "GNU.sparse.size") == 0 || strcmp (k, "GNU.sparse.map") == 0
               || strcmp (k, "GNU.sparse.numblocks") == 0
               || strcmp (k, "GNU.sparse.offset") == 0
               || strcmp (k, "GNU.sparse.numbytes") == 0)
      /* Sparse 0.0 / 0.1: ignoring them would write the wrong bytes. */
      p->old_sparse = true;
#undef BAD
    free (k);
  }
}

/* ---- names and directories below DST ---- */

/* The member's path relative to DST: no leading "/", no "." or empty
 * components; "" is DST itself.  A ".." anywhere is refused: with
 * leading "/" stripped and symlinks never followed, that is the only
 * way a name could leave DST.  Returns a new string. */
static char *
clean_name (struct unpack *u, const char *name, const char *what)
{
  size_t len = strlen (name), o = 0;
  char *r = xmalloc (len + 1);
  const char *s = name;

  while (*s) {
    const char *e = strchr (s, '/');
    size_t cl = e ? (size_t) (e - s) : strlen (s);
    if (cl == 2 && s[0] == '.' && s[1] == '.') {
      if (what)
        udie (u, "member %s: %s refused, it leaves the target", what, shown (name, 1));
      udie (u, "member %s: refused, it leaves the target", shown (name, 0));
    }
    if (cl > 0 && !(cl == 1 && s[0] == '.')) {
      if (o)
        r[o++] = '/';
      memcpy (r + o, s, cl);
      o += cl;
    }
    s += cl;
    if (*s == '/')
      s++;
  }
  r[o] = '\0';
  return r;
}

static void
cache_drop (struct unpack *u)
{
  if (u->cache_rel) {
    close (u->cache_fd);
    free (u->cache_rel);
    u->cache_rel = NULL;
  }
}

/* Opens the directory REL (a clean relative path, "" for DST) one
 * component at a time with O_NOFOLLOW, so a symlink anywhere on the way
 * (one the archive made, say) stops us instead of leading out of DST.
 * Missing directories are made if CREATE (archives need not list
 * parents).  Returns a new fd; FOR_MEMBER names the member, for errors. */
static int
open_dir (struct unpack *u, const char *rel, size_t rel_len, bool create, const char *for_member)
{
  int fd = dup (u->dstfd);
  size_t i = 0;

  if (fd < 0)
    udie (u, "%s", strerror (errno));
  while (i < rel_len) {
    char comp[NAME_MAX + 1];
    size_t cl = 0;
    int nfd;
    struct stat st;
    while (i + cl < rel_len && rel[i + cl] != '/')
      cl++;
    if (cl > NAME_MAX)
      udie (u, "cannot create %s: %s", shown (for_member, 0), strerror (ENAMETOOLONG));
    memcpy (comp, rel + i, cl);
    comp[cl] = '\0';
    nfd = openat (fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0 && errno == ENOENT && create) {
      if (mkdirat (fd, comp, 0755) < 0 && errno != EEXIST)
        udie (u, "cannot create %s: %s", shown (for_member, 0), strerror (errno));
      nfd = openat (fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (nfd < 0) {
      int e = errno;
      if ((e == ELOOP || e == ENOTDIR)
          && fstatat (fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
        udie (u, "cannot create %s: %.*s is a symlink, refused to follow it",
              shown (for_member, 0), (int) (i + cl), shown (rel, 1));
      udie (u, "cannot create %s: %.*s: %s", shown (for_member, 0), (int) (i + cl),
            shown (rel, 1), strerror (e));
    }
    close (fd);
    fd = nfd;
    i += cl + 1;
  }
  return fd;
}

/* The fd of REL's parent directory, kept open for the next member
 * (archives list a directory's entries together); *BASE is REL's last
 * component.  The fd stays ours (callers never close it).  REL must
 * not be "" (DST itself has no parent below DST). */
static int
open_parent (struct unpack *u, const char *rel, const char **base)
{
  const char *slash = strrchr (rel, '/');
  size_t plen = slash ? (size_t) (slash - rel) : 0;

  *base = slash ? slash + 1 : rel;
  if (plen == 0)
    return u->dstfd;
  if (u->cache_rel && strlen (u->cache_rel) == plen && memcmp (u->cache_rel, rel, plen) == 0)
    return u->cache_fd;
  cache_drop (u);
  u->cache_fd = open_dir (u, rel, plen, true, rel);
  u->cache_rel = xstrndup (rel, plen);
  return u->cache_fd;
}

/* Clears the way for a new entry as tar does: an existing non-directory
 * goes, a directory goes if empty (for a non-directory member).  True
 * if an existing directory is to be reused. */
static bool
make_room (struct unpack *u, int pfd, const char *base, const char *rel, bool want_dir)
{
  struct stat st;

  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return false;
    udie (u, "cannot create %s: %s", shown (rel, 0), strerror (errno));
  }
  if (S_ISDIR (st.st_mode) && want_dir)
    return true;
  if (unlinkat (pfd, base, S_ISDIR (st.st_mode) ? AT_REMOVEDIR : 0) < 0)
    udie (u, "cannot create %s: %s", shown (rel, 0), strerror (errno));
  /* A directory that went may have been the cached parent of an
   * earlier member: forget it (PFD may go too; callers open the
   * parent again). */
  if (S_ISDIR (st.st_mode))
    cache_drop (u);
  return false;
}

/* ---- metadata ---- */

static void
set_xattrs (struct unpack *u, const struct pax *p, int fd, int pfd, const char *base,
            const char *rel)
{
  size_t pass, i;

  /* chown clears security.capability, and it was done already; still
   * set it last, so nothing after it can clear it. */
  for (pass = 0; pass < 2; pass++)
    for (i = 0; i < p->n_xattrs; i++) {
      const struct xattr *x = &p->xattrs[i];
      int r;
      if ((strcmp (x->name, "security.capability") == 0) != (pass == 1))
        continue;
      if (fd >= 0)
        r = fsetxattr (fd, x->name, x->value, x->len, 0);
      else {
        /* No fd (symlinks, devices, fifos) and no lsetxattrat: stand in
         * the parent so the path is one component, never followed. */
        if (fchdir (pfd) < 0)
          udie (u, "cannot set %s on %s: %s", shown (x->name, 1), shown (rel, 0), strerror (errno));
        r = lsetxattr (base, x->name, x->value, x->len, 0);
      }
      if (r < 0 && !xattr_skippable (x->name, errno))
        udie (u, "cannot set %s on %s: %s", shown (x->name, 1), shown (rel, 0), strerror (errno));
    }
}

static void
dirtime_add (struct unpack *u, const char *rel, const struct timespec ts[2])
{
  if (u->n_dirtimes == u->cap_dirtimes) {
    u->cap_dirtimes = u->cap_dirtimes ? u->cap_dirtimes * 2 : 256;
    u->dirtimes = realloc (u->dirtimes, u->cap_dirtimes * sizeof *u->dirtimes);
    if (u->dirtimes == NULL)
      die ("out of memory");
  }
  u->dirtimes[u->n_dirtimes].rel = xstrndup (rel, strlen (rel));
  u->dirtimes[u->n_dirtimes].ts[0] = ts[0];
  u->dirtimes[u->n_dirtimes].ts[1] = ts[1];
  u->n_dirtimes++;
}

/* Directories' times last: making their entries changed them.  A
 * directory that a later member replaced is left alone. */
static void
dirtimes_apply (struct unpack *u)
{
  size_t i;

  for (i = 0; i < u->n_dirtimes; i++) {
    const struct dirtime *d = &u->dirtimes[i];
    const char *base;
    int pfd;
    struct stat st;
    if (d->rel[0] == '\0') {
      if (futimens (u->dstfd, d->ts) < 0)
        udie (u, "cannot set times on .: %s", strerror (errno));
      continue;
    }
    pfd = open_parent (u, d->rel, &base);
    if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (st.st_mode))
      continue;
    if (utimensat (pfd, base, d->ts, AT_SYMLINK_NOFOLLOW) < 0)
      udie (u, "cannot set times on %s: %s", shown (d->rel, 0), strerror (errno));
  }
}

/* ---- members ---- */

struct member {
  char type;
  char *rel;                    /* clean path below DST */
  char *link;                   /* symlink target, or clean hard link target */
  uint64_t size;                /* data in the archive */
  uint32_t uid, gid;
  mode_t mode;
  dev_t rdev;
  struct timespec ts[2];        /* atime, mtime */
};

static void
write_all (struct unpack *u, int fd, const char *buf, size_t n, off_t at, const char *rel)
{
  int r = img_internal_pwrite_all (fd, buf, n, (uint64_t) at);

  if (r < 0)
    udie (u, "cannot create %s: %s", shown (rel, 0), strerror (-r));
}
/* Copies N archive bytes to FD at offset AT. */
static void
copy_out (struct unpack *u, int fd, uint64_t n, uint64_t at, const char *rel)
{
  static char buf[1 << 20];

  while (n > 0) {
    size_t k = n < sizeof buf ? (size_t) n : sizeof buf;
    stream_need (u, buf, k);
    write_all (u, fd, buf, k, (off_t) at, rel);
    at += k;
    n -= k;
    u->bytes += k;
  }
}

struct region {
  uint64_t off, len;
};

/* One decimal line of a sparse 1.0 map, taken block by block from the
 * member's data (*LEFT counts what remains of it). */
static uint64_t
map_number (struct unpack *u, unsigned char *blk, size_t *pos, uint64_t *left, const char *rel)
{
  uint64_t v = 0;
  int digits = 0;

  for (;;) {
    unsigned char c;
    if (*pos == TAR_BLOCK) {
      if (*left < TAR_BLOCK)
        udie (u, "member %s: corrupt sparse map", shown (rel, 0));
      stream_need (u, blk, TAR_BLOCK);
      *left -= TAR_BLOCK;
      *pos = 0;
    }
    c = blk[(*pos)++];
    if (c == '\n')
      break;
    if (c < '0' || c > '9' || digits++ > 19 || v > (INT64_MAX - (c - '0')) / 10)
      udie (u, "member %s: corrupt sparse map", shown (rel, 0));
    v = v * 10 + (c - '0');
  }
  if (digits == 0)
    udie (u, "member %s: corrupt sparse map", shown (rel, 0));
  return v;
}

/* Sparse 1.0: the map, padded to a block, then the regions' data back
 * to back; the holes between are never written. */
static void
write_sparse (struct unpack *u, int fd, const struct member *m, uint64_t realsize)
{
  unsigned char blk[TAR_BLOCK];
  size_t pos = TAR_BLOCK;
  uint64_t left = m->size, n, i, total = 0, end = 0;
  struct region *r = NULL;
  size_t cap = 0;

  n = map_number (u, blk, &pos, &left, m->rel);
  if (n > SPARSE_MAX_REGIONS)
    udie (u, "member %s: corrupt sparse map", shown (m->rel, 0));
  for (i = 0; i < n; i++) {
    if (i == cap) {
      cap = cap ? cap * 2 : 16;
      r = realloc (r, cap * sizeof *r);
      if (r == NULL)
        die ("out of memory");
    }
    r[i].off = map_number (u, blk, &pos, &left, m->rel);
    r[i].len = map_number (u, blk, &pos, &left, m->rel);
    /* In order, apart, inside the file, and adding up to the data. */
    if (r[i].off < end || r[i].len > realsize || r[i].off > realsize - r[i].len
        || total > left || r[i].len > left - total)
      udie (u, "member %s: corrupt sparse map", shown (m->rel, 0));
    end = r[i].off + r[i].len;
    total += r[i].len;
  }
  if (total != left)
    udie (u, "member %s: corrupt sparse map", shown (m->rel, 0));
  for (i = 0; i < n; i++)
    copy_out (u, fd, r[i].len, r[i].off, m->rel);
  free (r);
  if (ftruncate (fd, (off_t) realsize) < 0)
    udie (u, "cannot create %s: %s", shown (m->rel, 0), strerror (errno));
}

/* Owner, then mode (chown clears setuid), then xattrs (chown clears
 * security.capability), then times (not for directories: later). */
static void
member_meta (struct unpack *u, const struct member *m, const struct pax *p, int fd, int pfd,
          const char *base)
{
  const char *rel = m->rel[0] ? m->rel : ".";
  int r;

  r = fd >= 0 ? fchown (fd, m->uid, m->gid)
    : fchownat (pfd, base, m->uid, m->gid, AT_SYMLINK_NOFOLLOW);
  if (r < 0)
    udie (u, "cannot set owner of %s: %s", shown (rel, 0), strerror (errno));
  if (m->type != '2') {
    /* Not a symlink, and made just now by us: fchmodat following the
     * last component cannot leave it. */
    r = fd >= 0 ? fchmod (fd, m->mode) : fchmodat (pfd, base, m->mode, 0);
    if (r < 0)
      udie (u, "cannot set mode of %s: %s", shown (rel, 0), strerror (errno));
  }
  set_xattrs (u, p, fd, pfd, base, rel);
  if (m->type == '5')
    dirtime_add (u, m->rel, m->ts);
  else {
    r = fd >= 0 ? futimens (fd, m->ts) : utimensat (pfd, base, m->ts, AT_SYMLINK_NOFOLLOW);
    if (r < 0)
      udie (u, "cannot set times on %s: %s", shown (rel, 0), strerror (errno));
  }
}

/* Makes the entry itself (no metadata); 0 or -errno.  *FD is set for
 * directories and regular files. */
static int
create_entry (struct unpack *u, const struct member *m, int pfd, const char *base, int *fd)
{
  switch (m->type) {
  case '5':
    if (mkdirat (pfd, base, 0700) < 0)
      return -errno;
    *fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    break;
  case '0':
    *fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    break;
  case '1': {
    /* The target's directory gets its own fd: the cache holds ours. */
    const char *slash = strrchr (m->link, '/');
    int tfd = slash ? open_dir (u, m->link, (size_t) (slash - m->link), false, m->rel) : -1, r;
    r = linkat (slash ? tfd : u->dstfd, slash ? slash + 1 : m->link, pfd, base, 0);
    if (r < 0)
      r = -errno;
    if (tfd >= 0)
      close (tfd);
    return r;
  }
  case '2':
    return symlinkat (m->link, pfd, base) < 0 ? -errno : 0;
  default:                      /* '3', '4', '6' */
    return mknodat (pfd, base, (m->type == '3' ? S_IFCHR : m->type == '4' ? S_IFBLK : S_IFIFO) | 0600,
                    m->rdev) < 0 ? -errno : 0;
  }
  return *fd < 0 ? -errno : 0;
}

static void
extract (struct unpack *u, const struct member *m, const struct pax *p)
{
  const char *base;
  int pfd, fd = -1, r;

  if (m->rel[0] == '\0') {
    if (m->type != '5')
      udie (u, "member .: refused, it would replace the target");
    member_meta (u, m, p, u->dstfd, -1, NULL);
    stream_skip (u, m->size + padding (m->size));
    u->files++;
    return;
  }
  if (m->type == '1' && strcmp (m->link, m->rel) == 0) {
    /* A link to itself: it is there already. */
    stream_skip (u, m->size + padding (m->size));
    u->files++;
    return;
  }
  pfd = open_parent (u, m->rel, &base);
  r = create_entry (u, m, pfd, base, &fd);
  if (r == -EEXIST) {
    if (make_room (u, pfd, base, m->rel, m->type == '5')) {
      /* A directory already there (DST's own, or listed twice). */
      fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = fd < 0 ? -errno : 0;
    } else {
      pfd = open_parent (u, m->rel, &base);
      r = create_entry (u, m, pfd, base, &fd);
    }
  }
  if (r < 0 && m->type == '1')
    udie (u, "cannot create %s: link to %s: %s", shown (m->rel, 0), shown (m->link, 1),
          strerror (-r));
  if (r < 0)
    udie (u, "cannot create %s: %s", shown (m->rel, 0), strerror (-r));

  if (m->type == '0') {
    if (p->sparse)
      write_sparse (u, fd, m, p->realsize);
    else
      copy_out (u, fd, m->size, 0, m->rel);
    stream_skip (u, padding (m->size));
  } else
    /* Links and nodes have no data; skip what a writer put there. */
    stream_skip (u, m->size + padding (m->size));
  /* A hard link is an inode made already, metadata and all. */
  if (m->type != '1')
    member_meta (u, m, p, fd, pfd, base);
  if (fd >= 0 && close (fd) < 0)
    udie (u, "cannot create %s: %s", shown (m->rel, 0), strerror (errno));
  u->files++;
}

/* Errors exit at once; this is for a clean leak check after success. */
static void
unpack_free (struct unpack *u)
{
  size_t i;

  cache_drop (u);
  for (i = 0; i < u->n_dirtimes; i++)
    free (u->dirtimes[i].rel);
  free (u->dirtimes);
  if (u->codec == CODEC_ZSTD)
    ZSTD_freeDStream (u->zd);
  else if (u->codec == CODEC_GZIP)
    inflateEnd (&u->z);
  free (u->raw);
  free (u->out);
  close (u->fd);
  close (u->dstfd);
}

/* A header's name field: up to its length, NUL-terminated or not. */
static char *
field_str (const char *f, size_t len)
{
  return xstrndup (f, strnlen (f, len));
}

static void
unpack (const char *archive, const char *dst)
{
  struct unpack u = { .archive = archive, .cache_fd = -1 };
  struct pax pax = { 0 };
  unsigned char blk[TAR_BLOCK];
  uint64_t headers = 0;

  u.dstfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (u.dstfd < 0)
    udie (&u, "%s: %s", dst, strerror (errno));
  stream_open (&u, archive);
  umask (0);

  for (;;) {
    struct ustar h;
    struct member m = { 0 };
    uint64_t at = u.pos;
    size_t got = stream_read (&u, blk, TAR_BLOCK);
    int64_t mode, uid, gid, size, mtime, major, minor;
    bool gnu;
    char *name;

    /* Short input with no ustar magic where it would be is not ours
     * (unless the compressed stream was cut before it). */
    if (headers == 0 && got < TAR_BLOCK && !u.cut
        && (got < 265 || (memcmp (blk + 257, "ustar\0" "00", 8) != 0
                          && memcmp (blk + 257, "ustar  \0", 8) != 0)))
      udie (&u, "not a tar archive");
    if (got < TAR_BLOCK)
      udie (&u, "truncated at byte %" PRIu64, u.pos);
    if (img_internal_all_zero (blk, TAR_BLOCK))
      break;                    /* the end (a second zero block may follow) */
    memcpy (&h, blk, sizeof h);
    gnu = memcmp (h.magic, "ustar  \0", 8) == 0;
    if (!gnu && memcmp (h.magic, "ustar\0" "00", 8) != 0) {
      if (headers == 0)
        udie (&u, "not a tar archive");
      udie (&u, "corrupt header at byte %" PRIu64, at);
    }
    if (!checksum_ok (blk, &h))
      udie (&u, "corrupt header at byte %" PRIu64, at);
    headers++;
    if (!parse_num (h.mode, sizeof h.mode, &mode) || !parse_num (h.uid, sizeof h.uid, &uid)
        || !parse_num (h.gid, sizeof h.gid, &gid) || !parse_num (h.size, sizeof h.size, &size)
        || !parse_num (h.mtime, sizeof h.mtime, &mtime)
        || !parse_num (h.devmajor, sizeof h.devmajor, &major)
        || !parse_num (h.devminor, sizeof h.devminor, &minor)
        || size < 0 || uid < 0 || uid > (int64_t) UINT32_MAX - 1 || gid < 0
        || gid > (int64_t) UINT32_MAX - 1 || major < 0 || major > UINT32_MAX
        || minor < 0 || minor > UINT32_MAX)
      udie (&u, "corrupt header at byte %" PRIu64, at);

    if (h.typeflag == 'x' || h.typeflag == 'g') {
      char *d;
      if (size > PAX_MAX)
        udie (&u, "pax header at byte %" PRIu64 " too large", at);
      d = xmalloc ((size_t) size);
      stream_need (&u, d, (size_t) size);
      stream_skip (&u, padding ((uint64_t) size));
      pax_parse (&u, at, d, (size_t) size, h.typeflag == 'x' ? &pax : NULL);
      free (d);
      continue;
    }

    /* The name: pax's, else ustar's prefix/name (GNU's old header has
     * other things where the prefix would be). */
    if (pax.sparse_name)
      name = xstrndup (pax.sparse_name, strlen (pax.sparse_name));
    else if (pax.path)
      name = xstrndup (pax.path, strlen (pax.path));
    else {
      char *n = field_str (h.name, sizeof h.name), *pre = field_str (h.prefix, sizeof h.prefix);
      if (!gnu && pre[0]) {
        if (asprintf (&name, "%s/%s", pre, n) < 0)
          die ("out of memory");
      } else
        name = xstrndup (n, strlen (n));
      free (n);
      free (pre);
    }

    m.type = h.typeflag == '\0' ? '0' : h.typeflag;
    if (!strchr ("0123456", m.type))
      udie (&u, "member %s: unsupported type '%s'", shown (name, 0),
            (unsigned char) m.type >= 0x21 && (unsigned char) m.type < 0x7f
            ? (char[]) { m.type, '\0' } : "?");
    m.rel = clean_name (&u, name, NULL);
    if (m.type == '1' || m.type == '2') {
      char *ln = pax.linkpath ? xstrndup (pax.linkpath, strlen (pax.linkpath))
        : field_str (h.linkname, sizeof h.linkname);
      if (ln[0] == '\0')
        udie (&u, "member %s: empty link target", shown (name, 0));
      if (m.type == '1') {
        m.link = clean_name (&u, ln, shown (name, 0));
        free (ln);
      } else
        m.link = ln;
    }
    m.size = pax.has_size ? pax.size : (uint64_t) size;
    m.uid = pax.has_uid ? pax.uid : (uint32_t) uid;
    m.gid = pax.has_gid ? pax.gid : (uint32_t) gid;
    m.mode = (mode_t) (mode & 07777);
    m.rdev = makedev ((unsigned int) major, (unsigned int) minor);
    if (pax.has_mtime)
      m.ts[1] = pax.mtime;
    else {
      m.ts[1].tv_sec = (time_t) mtime;
      m.ts[1].tv_nsec = 0;
    }
    m.ts[0] = pax.has_atime ? pax.atime : m.ts[1];
    if (pax.old_sparse)
      udie (&u, "member %s: GNU sparse format 0.x is not supported (only 1.0)", shown (name, 0));
    if (pax.sparse) {
      if (pax.sparse_major != 1 || pax.sparse_minor != 0)
        udie (&u, "member %s: GNU sparse format %" PRIu64 ".%" PRIu64 " is not supported (only 1.0)",
              shown (name, 0), pax.sparse_major, pax.sparse_minor);
      if (m.type != '0' || !pax.has_realsize)
        udie (&u, "member %s: corrupt sparse header", shown (name, 0));
    }

    extract (&u, &m, &pax);
    free (name);
    free (m.rel);
    free (m.link);
    pax_clear (&pax);
  }

  dirtimes_apply (&u);
  printf ("files=%" PRIu64 " bytes=%" PRIu64 " xattrs_skipped=%" PRIu64 "\n", u.files, u.bytes,
          xattrs_skipped);
  report_skipped ();
  pax_clear (&pax);
  unpack_free (&u);
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

/* What img-ramify recorded in the archive's first member, a pax global
 * header: "comment=img-ramify tmpfs-bytes=N".  Reads one or two blocks
 * only, so the boot can size its tmpfs before unpacking. */
static void
archive_size (const char *archive)
{
  static const char key[] = "img-ramify tmpfs-bytes=";
  struct unpack u = { .archive = archive, .cache_fd = -1, .dstfd = -1 };
  unsigned char blk[TAR_BLOCK];
  char *data, *p, *end;
  uint64_t size = 0;
  size_t i;

  stream_open (&u, archive);
  if (stream_read (&u, blk, TAR_BLOCK) < TAR_BLOCK || blk[156] != 'g')
    udie (&u, "no img-ramify global header (not made by img-ramify --archive)");
  for (i = 124; i < 136 && blk[i] >= '0' && blk[i] <= '7'; i++)
    size = size * 8 + (uint64_t) (blk[i] - '0');
  if (size == 0 || size > 65536)
    udie (&u, "corrupt global header");
  data = xmalloc ((size_t) size + 1);
  if (stream_read (&u, data, (size_t) size) < size)
    udie (&u, "truncated at byte %" PRIu64, u.pos);
  data[size] = '\0';
  for (p = data, end = data + size; p < end; p++)
    if (strncmp (p, key, sizeof key - 1) == 0) {
      uint64_t v = 0;
      for (p += sizeof key - 1; p < end && *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t) (*p - '0');
      printf ("bytes=%" PRIu64 "\n", v);
      free (data);
      unpack_free (&u);
      return;
    }
  udie (&u, "no img-ramify size in the global header");
}

static void
usage (void)
{
  fprintf (stderr, "usage: " PROG " size DIR...\n"
           "       " PROG " copy SRC DST\n"
           "       " PROG " unpack ARCHIVE DST\n"
           "       " PROG " archive-size ARCHIVE\n"
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
            " symlinks=%" PRIu64 " others=%" PRIu64 " hardlinks=%" PRIu64 " mounts_skipped=%" PRIu64
            " xattrs_skipped=%" PRIu64 "\n", t.bytes, t.apparent, t.files, t.dirs, t.links, t.others,
            t.hardlinks, t.skipped_mounts, xattrs_skipped);
    report_skipped ();
    return 0;
  }
  if (strcmp (argv[1], "archive-size") == 0 && argc == 3) {
    archive_size (argv[2]);
    return 0;
  }
  if (strcmp (argv[1], "unpack") == 0 && argc == 4) {
    unpack (argv[2], argv[3]);
    return 0;
  }
  usage ();
  return 2;
}
