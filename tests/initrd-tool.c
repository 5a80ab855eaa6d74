/* Test helper: libimg's initrd layer from the command line, so that the
 * test scripts can hold it against cpio, unmkinitramfs and the kernel.
 *   initrd-tool [OPTIONS] list FILE        segment mode uid gid size name
 *   initrd-tool [OPTIONS] segments FILE    index offset length compression
 *                                          uncompressed members
 *   initrd-tool [OPTIONS] cat FILE PATH    the winning member's bytes
 *   initrd-tool [OPTIONS] extract FILE DIR
 *   initrd-tool [OPTIONS] lists FILE...      list each FILE in turn: "== FILE",
 *                                          the listing or the error, "rc=N"
 *   initrd-tool [OPTIONS] spill FILE DIR   (with --window) the data of
 *                                          members not kept, as it
 *                                          streams by, to DIR/1, DIR/2 ...;
 *                                          prints N nlink size name
 *   initrd-tool [OPTIONS] append FILE OUT COMPRESSION HOSTDIR
 * Options: --max-size BYTES[KMG] (decompressed bytes allowed), --keep
 * BYTES[KMG] (keep only member data this small: img_initrd_parse_keep),
 * --uid N, --gid N (owner of the appended members, default 0), --window
 * BYTES[KMG] (read the file through a window of this size,
 * img_initrd_parse_read, instead of whole), --gzip zlib|isal (what
 * inflates gzip segments and compresses appended ones; isal only in a
 * build with ISA-L, where it is the default).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "libimg.h"
#include "private.h"
#include "initrd/initrd-private.h"

#define PROG "initrd-tool"
#define MAX_DEPTH 64

static struct img_ctx *ctx;
static uint64_t max_size, keep_data = UINT64_MAX, window;
static uint32_t opt_uid, opt_gid;

static int
fail_lib (void)
{
  fprintf (stderr, PROG ": %s\n", img_ctx_error (ctx));
  return 1;
}

/* PATH opened for reading, *st its status; -1 with a message. */
static int
open_file (const char *path, struct stat *st)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0 || fstat (fd, st) < 0) {
    fprintf (stderr, PROG ": %s: %s\n", path, strerror (errno));
    if (fd >= 0)
      close (fd);
    return -1;
  }
  return fd;
}

static int
read_file (const char *path, unsigned char **buf, size_t *len)
{
  struct stat st;
  unsigned char *p;
  size_t got = 0;
  ssize_t n;
  int fd;

  if ((fd = open_file (path, &st)) < 0)
    return -1;
  p = malloc (st.st_size ? (size_t) st.st_size : 1);
  if (p == NULL) {
    fprintf (stderr, PROG ": %s: out of memory\n", path);
    close (fd);
    return -1;
  }
  while (got < (size_t) st.st_size) {
    n = read (fd, p + got, (size_t) st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      fprintf (stderr, PROG ": %s: %s\n", path, n < 0 ? strerror (errno) : "file shrank while read");
      free (p);
      close (fd);
      return -1;
    }
    got += n;
  }
  close (fd);
  *buf = p;
  *len = got;
  return 0;
}

static int
read_fd (void *opaque, void *buf, size_t len, uint64_t off, size_t *got)
{
  ssize_t n;

  do
    n = pread (*(int *) opaque, buf, len, (off_t) off);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    fprintf (stderr, PROG ": pread: %s\n", strerror (errno));
    return -EIO;
  }
  *got = (size_t) n;
  return 0;
}

static int
parse (const char *path, struct img_initrd **initrd)
{
  unsigned char *buf;
  size_t len;
  struct stat st;
  int r, fd;

  if (window) {
    if ((fd = open_file (path, &st)) < 0)
      return -1;
    r = img_initrd_parse_read (ctx, path, read_fd, &fd, (uint64_t) st.st_size,
                               (size_t) window, max_size, keep_data, NULL, NULL, initrd);
    close (fd);
    if (r < 0) {
      fail_lib ();
      return -1;
    }
    return 0;
  }
  if (read_file (path, &buf, &len) < 0)
    return -1;
  r = img_initrd_parse_keep (ctx, path, buf, len, max_size, keep_data, initrd);
  free (buf);
  if (r < 0) {
    fail_lib ();
    return -1;
  }
  return 0;
}

static int
cmd_list (const char *path)
{
  struct img_initrd *t;
  size_t i;

  if (parse (path, &t) < 0)
    return 1;
  for (i = 0; i < img_initrd_n_entries (t); i++) {
    const struct img_cpio_entry *e = img_initrd_entry (t, i);
    printf ("%u %o %u %u %" PRIu64 " %s", e->segment, e->mode, e->uid, e->gid,
            e->size, e->name);
    if (S_ISLNK (e->mode))
      printf (" -> %.*s", (int) e->size, (const char *) e->data);
    putchar ('\n');
  }
  img_initrd_free (t);
  return fflush (stdout) == 0 ? 0 : 1;
}

struct spill {
  const char *dir;
  unsigned n;
  FILE *f;
};

static int
spill_begin (void *opaque, const char *name, uint32_t mode, uint32_t nlink, uint64_t size,
             bool *want)
{
  struct spill *sp = opaque;
  char p[PATH_MAX];

  (void) mode;
  snprintf (p, sizeof p, "%s/%u", sp->dir, ++sp->n);
  if ((sp->f = fopen (p, "we")) == NULL)
    return -errno;
  printf ("%u %" PRIu32 " %" PRIu64 " %s\n", sp->n, nlink, size, name);
  *want = true;
  return 0;
}

static int
spill_data (void *opaque, const unsigned char *p, size_t n)
{
  struct spill *sp = opaque;

  return fwrite (p, 1, n, sp->f) == n ? 0 : -EIO;
}

static int
spill_end (void *opaque)
{
  struct spill *sp = opaque;
  int r = fclose (sp->f) == 0 ? 0 : -EIO;

  sp->f = NULL;
  return r;
}

static int
cmd_spill (const char *path, const char *dir)
{
  struct spill sp = { dir, 0, NULL };
  struct img_initrd_sink sink = { spill_begin, spill_data, spill_end, &sp };
  struct img_initrd *t = NULL;
  struct stat st;
  int fd, r;

  if (mkdir (dir, 0700) < 0 && errno != EEXIST) {
    fprintf (stderr, PROG ": %s: %s\n", dir, strerror (errno));
    return 1;
  }
  if ((fd = open_file (path, &st)) < 0)
    return 1;
  r = img_initrd_parse_read (ctx, path, read_fd, &fd, (uint64_t) st.st_size,
                             window ? (size_t) window : 0, max_size, keep_data, NULL, &sink, &t);
  close (fd);
  if (sp.f)
    fclose (sp.f);
  if (r < 0)
    return fail_lib ();
  img_initrd_free (t);
  return fflush (stdout) == 0 ? 0 : 1;
}

static int
cmd_segments (const char *path)
{
  struct img_initrd *t;
  size_t i;

  if (parse (path, &t) < 0)
    return 1;
  for (i = 0; i < img_initrd_n_segments (t); i++) {
    const struct img_initrd_segment *s = img_initrd_segment (t, i);
    printf ("%zu %" PRIu64 " %" PRIu64 " %s %" PRIu64 " %zu\n", i, s->offset,
            s->length, s->compression, s->uncompressed, s->n_entries);
  }
  img_initrd_free (t);
  return fflush (stdout) == 0 ? 0 : 1;
}

static int
cmd_cat (const char *path, const char *member)
{
  struct img_initrd *t;
  const struct img_cpio_entry *e;
  int rc = 0;

  if (parse (path, &t) < 0)
    return 1;
  e = img_initrd_lookup (t, member);
  if (e == NULL) {
    fprintf (stderr, PROG ": %s: initrd: %s: no such member\n", path, member);
    rc = 1;
  }
  else if (S_ISDIR (e->mode)) {
    fprintf (stderr, PROG ": %s: initrd: %s: is a directory\n", path, member);
    rc = 1;
  }
  else if (e->size && e->data == NULL) {
    fprintf (stderr, PROG ": %s: initrd: %s: data not kept (--keep)\n", path, member);
    rc = 1;
  }
  else if (e->size && fwrite (e->data, 1, e->size, stdout) != e->size)
    rc = 1;
  img_initrd_free (t);
  if (fflush (stdout) != 0)
    rc = 1;
  return rc;
}

static int
cmd_extract (const char *path, const char *dir)
{
  struct img_initrd *t;
  int r;

  if (parse (path, &t) < 0)
    return 1;
  r = img_initrd_extract (t, dir);
  img_initrd_free (t);
  return r < 0 ? fail_lib () : 0;
}

static int
name_cmp (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

static int
skip_dots (const struct dirent *d)
{
  return strcmp (d->d_name, ".") != 0 && strcmp (d->d_name, "..") != 0;
}

/* Adds everything below HOST/REL (REL "" for the top) to the layer, a
 * directory before its contents, in name order. */
static int
pack_dir (struct img_cpio *cpio, const char *host, const char *rel, int depth)
{
  struct dirent **names;
  char hpath[PATH_MAX], mpath[PATH_MAX];
  int i, n, rc = 0;

  if (depth > MAX_DEPTH) {
    fprintf (stderr, PROG ": %s: too deep\n", host);
    return -1;
  }
  snprintf (hpath, sizeof hpath, "%s%s%s", host, *rel ? "/" : "", rel);
  n = scandir (hpath, &names, skip_dots, name_cmp);
  if (n < 0) {
    fprintf (stderr, PROG ": %s: %s\n", hpath, strerror (errno));
    return -1;
  }
  for (i = 0; i < n; i++) {
    struct stat st;
    unsigned char *data = NULL;
    size_t len = 0;
    char target[PATH_MAX];
    ssize_t tl;
    int r;

    if (rc < 0)
      goto next;
    if ((size_t) snprintf (mpath, sizeof mpath, "%s%s%s", rel, *rel ? "/" : "",
                           names[i]->d_name) >= sizeof mpath
        || (size_t) snprintf (hpath, sizeof hpath, "%s/%s", host, mpath) >= sizeof hpath) {
      fprintf (stderr, PROG ": %s: path too long\n", mpath);
      rc = -1;
      goto next;
    }
    if (lstat (hpath, &st) < 0) {
      fprintf (stderr, PROG ": %s: %s\n", hpath, strerror (errno));
      rc = -1;
      goto next;
    }
    if (S_ISREG (st.st_mode)) {
      if (read_file (hpath, &data, &len) < 0) {
        rc = -1;
        goto next;
      }
    }
    else if (S_ISLNK (st.st_mode)) {
      tl = readlink (hpath, target, sizeof target - 1);
      if (tl < 0) {
        fprintf (stderr, PROG ": %s: %s\n", hpath, strerror (errno));
        rc = -1;
        goto next;
      }
      target[tl] = '\0';
      data = (unsigned char *) strdup (target);
      len = tl;
    }
    else if (S_ISSOCK (st.st_mode))
      goto next;
    r = img_cpio_add (cpio, mpath, st.st_mode, opt_uid, opt_gid,
                      st.st_mtime < 0 ? 0 : (uint64_t) st.st_mtime,
                      major (st.st_rdev), minor (st.st_rdev), data, len);
    free (data);
    if (r < 0) {
      fail_lib ();
      rc = -1;
      goto next;
    }
    if (S_ISDIR (st.st_mode) && pack_dir (cpio, host, mpath, depth + 1) < 0)
      rc = -1;
  next:
    free (names[i]);
  }
  free (names);
  return rc;
}

static int
write_out (const char *out, const void *buf, size_t len)
{
  char tmp[PATH_MAX];
  const unsigned char *p = buf;
  ssize_t n;
  int fd;

  if ((size_t) snprintf (tmp, sizeof tmp, "%s.XXXXXX", out) >= sizeof tmp) {
    fprintf (stderr, PROG ": %s: path too long\n", out);
    return -1;
  }
  fd = mkstemp (tmp);
  if (fd < 0) {
    fprintf (stderr, PROG ": %s: %s\n", out, strerror (errno));
    return -1;
  }
  while (len > 0) {
    n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf (stderr, PROG ": %s: %s\n", out, strerror (errno));
      close (fd);
      unlink (tmp);
      return -1;
    }
    p += n;
    len -= n;
  }
  if (fchmod (fd, 0644) < 0 || close (fd) < 0 || rename (tmp, out) < 0) {
    fprintf (stderr, PROG ": %s: %s\n", out, strerror (errno));
    unlink (tmp);
    return -1;
  }
  return 0;
}

static int
cmd_append (const char *path, const char *out, const char *comp,
            const char *hostdir)
{
  struct img_initrd *t;
  struct img_cpio *cpio = NULL;
  unsigned char *orig = NULL;
  void *layer = NULL, *res = NULL;
  size_t orig_len, layer_len, res_len;
  int rc = 1;

  /* Only an initrd we can read gets extended. */
  if (read_file (path, &orig, &orig_len) < 0)
    return 1;
  if (img_initrd_parse (ctx, path, orig, orig_len, max_size, &t) < 0) {
    fail_lib ();
    goto out;
  }
  img_initrd_free (t);
  if (img_cpio_new (ctx, &cpio) < 0) {
    fail_lib ();
    goto out;
  }
  if (pack_dir (cpio, hostdir, "", 0) < 0)
    goto out;
  if (img_cpio_finish (cpio, &layer, &layer_len) < 0
      || img_initrd_append (ctx, orig, orig_len, layer, layer_len, comp,
                            &res, &res_len) < 0) {
    fail_lib ();
    goto out;
  }
  /* And what comes out must read back. */
  if (img_initrd_parse (ctx, out, res, res_len, max_size, &t) < 0) {
    fail_lib ();
    goto out;
  }
  img_initrd_free (t);
  if (write_out (out, res, res_len) < 0)
    goto out;
  rc = 0;
 out:
  img_cpio_free (cpio);
  free (orig);
  free (layer);
  free (res);
  return rc;
}

static int
parse_size (const char *s, uint64_t *v)
{
  char *end;
  unsigned long long n;

  errno = 0;
  n = strtoull (s, &end, 10);
  if (errno || end == s)
    return -1;
  switch (*end) {
  case 'K': case 'k': n <<= 10; end++; break;
  case 'M': case 'm': n <<= 20; end++; break;
  case 'G': case 'g': n <<= 30; end++; break;
  }
  if (*end)
    return -1;
  *v = n;
  return 0;
}

static void
usage (void)
{
  fprintf (stderr,
           "usage: " PROG " [--max-size BYTES] [--keep BYTES] [--window BYTES] [--uid N] [--gid N]\n"
           "                   [--gzip zlib|isal] COMMAND ARGS\n"
           "  list FILE | lists FILE... | segments FILE | cat FILE PATH | extract FILE DIR\n"
           "  append FILE OUT none|gzip|zstd|xz|lzma|lz4|bzip2 HOSTDIR\n");
}

int
main (int argc, char *argv[])
{
  static const struct option opts[] = {
    { "max-size", required_argument, NULL, 'm' },
    { "keep", required_argument, NULL, 'k' },
    { "window", required_argument, NULL, 'w' },
    { "uid", required_argument, NULL, 'u' },
    { "gid", required_argument, NULL, 'g' },
    { "gzip", required_argument, NULL, 'z' },
    { NULL, 0, NULL, 0 },
  };
  uint64_t v;
  const char *cmd, *gzip = NULL;
  int c, n, rc;

  while ((c = getopt_long (argc, argv, "+", opts, NULL)) != -1) {
    switch (c) {
    case 'm':
      if (parse_size (optarg, &max_size) < 0) {
        fprintf (stderr, PROG ": bad size '%s'\n", optarg);
        return 2;
      }
      break;
    case 'w':
      if (parse_size (optarg, &window) < 0 || window == 0 || window > SIZE_MAX) {
        fprintf (stderr, PROG ": bad window '%s'\n", optarg);
        return 2;
      }
      break;
    case 'k':
      if (parse_size (optarg, &keep_data) < 0) {
        fprintf (stderr, PROG ": bad size '%s'\n", optarg);
        return 2;
      }
      break;
    case 'u':
    case 'g':
      if (parse_size (optarg, &v) < 0 || v > UINT32_MAX) {
        fprintf (stderr, PROG ": bad id '%s'\n", optarg);
        return 2;
      }
      *(c == 'u' ? &opt_uid : &opt_gid) = (uint32_t) v;
      break;
    case 'z':
#ifdef HAVE_ISAL
      if (strcmp (optarg, "isal") == 0 || strcmp (optarg, "zlib") == 0) {
#else
      if (strcmp (optarg, "zlib") == 0) {
#endif
        gzip = optarg;
        break;
      }
      fprintf (stderr, PROG ": gzip backend '%s' not built in\n", optarg);
      return 2;
    default:
      usage ();
      return 2;
    }
  }
  n = argc - optind;
  if (n < 2) {
    usage ();
    return 2;
  }
  cmd = argv[optind];
  if (img_ctx_new (&ctx) < 0)
    return 1;
  img_ctx_set_log_fn (ctx, NULL, (void *) PROG);
  if (gzip)
    img_internal_ctx_set_gzip_zlib (ctx, strcmp (gzip, "zlib") == 0);
  if (strcmp (cmd, "list") == 0 && n == 2)
    rc = cmd_list (argv[optind + 1]);
  else if (strcmp (cmd, "lists") == 0) {
    /* Each file in turn, in one process: "== FILE", its listing or its
     * error (stderr), "rc=N". */
    for (rc = 0, c = optind + 1; c < argc; c++) {
      printf ("== %s\n", argv[c]);
      fflush (stdout);
      printf ("rc=%d\n", cmd_list (argv[c]));
      fflush (stdout);
    }
  }
  else if (strcmp (cmd, "segments") == 0 && n == 2)
    rc = cmd_segments (argv[optind + 1]);
  else if (strcmp (cmd, "cat") == 0 && n == 3)
    rc = cmd_cat (argv[optind + 1], argv[optind + 2]);
  else if (strcmp (cmd, "spill") == 0 && n == 3)
    rc = cmd_spill (argv[optind + 1], argv[optind + 2]);
  else if (strcmp (cmd, "extract") == 0 && n == 3)
    rc = cmd_extract (argv[optind + 1], argv[optind + 2]);
  else if (strcmp (cmd, "append") == 0 && n == 5)
    rc = cmd_append (argv[optind + 1], argv[optind + 2], argv[optind + 3],
                     argv[optind + 4]);
  else {
    usage ();
    rc = 2;
  }
  img_ctx_free (ctx);
  return rc;
}
