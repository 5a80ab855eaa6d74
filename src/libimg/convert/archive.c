/* A guest's tree as a compressed POSIX (pax) tar, read straight from its
 * filesystems through libimg: nothing is mounted.
 *
 * The archive keeps what the RAM boot needs to recreate the tree
 * exactly: numeric owners, modes (setuid and all), mtimes to the
 * nanosecond, hard links, symlinks, device nodes, fifos, extended
 * attributes (SCHILY.xattr.*: file capabilities, SELinux labels, ACLs)
 * and holes (GNU sparse format 1.0).  GNU tar reads it; img-ramcopy
 * unpack writes it out at boot.  Sockets are left out, as tar does.
 *
 * The first member is a global header whose comment records what the
 * tree takes in a tmpfs ("img-ramify tmpfs-bytes=N"), so that the boot
 * can size its tmpfs before unpacking.  The output is a function of the
 * tree only (no clock, no host names): the same tree gives the same
 * bytes, so that a second img-ramify run has nothing to do.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/fdio.h"
#include "private.h"
#include "base/strbuf.h"
#include "convert/archive.h"

#define BLOCK 512
#define CHUNK (1u << 20)
#define PAGE 4096
#define MiB ((uint64_t) 1 << 20)
/* zstd's worker threads: compression runs beside the walk. */
#define ARCHIVE_ZSTD_WORKERS 2
#define ARCHIVE_ZSTD_JOB (1u << 20)

struct hl {
  uint64_t key;
  char *name;
};

struct tw {
  struct img_ctx *ctx;
  struct img_guest *g;
  const char *where;            /* for messages: "IMAGE: archive" */
  img_archive_filter_fn filter;
  void *fdata;
  bool count_only;
  int fd;
  bool gzip;
  ZSTD_CCtx *z;
  z_stream gz;
  unsigned char *zout;
  size_t zout_len;
  uint64_t tar_bytes, tmpfs_bytes, members, written;
  uint64_t max_bytes, sample_at, sample_step;   /* the room, and where to estimate */
  uint64_t needed, sampled;             /* set when out of room */
  uint64_t progress_total, progress_at; /* the byte bar: tar estimated from the count */
  struct hl *hl;
  size_t n_hl, cap_hl;
  unsigned char *buf;           /* CHUNK bytes */
  const char *const *extra;     /* mount points walked on their own */
  bool *seen;
  size_t n_extra;
  int rc;
};

/* ---- output: tar bytes through the compressor into the fd -------------- */

static int
out_write (struct tw *t, const void *p, size_t n)
{
  const char *c = p;

  while (n) {
    ssize_t w = write (t->fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return img_ctx_set_error (t->ctx, -errno, "%s: writing the archive: %s", t->where, strerror (errno));
    c += w;
    n -= (size_t) w;
    t->written += (uint64_t) w;
  }
  if (t->max_bytes && t->written > t->max_bytes) {
    t->needed = t->written;
    return -ENOSPC;
  }
  return 0;
}

/* At each sample point (every SAMPLE_STEP bytes of tar, everything so
 * far flushed out to be measured): the whole archive estimated from what
 * the tree gave so far; -ENOSPC when it would take more than the room by
 * a margin that shrinks as more of the tree is seen (twice the room at
 * the start: a tree's first files need not be like the rest). */
static int
estimate (struct tw *t)
{
  long double est, seen;

  if (t->sample_at == 0 || t->tar_bytes < t->sample_at || t->written == 0)
    return 0;
  t->sample_at += t->sample_step;
  seen = t->tmpfs_bytes ? (long double) t->tar_bytes / (long double) t->tmpfs_bytes : 1.0L;
  if (seen > 1.0L)
    seen = 1.0L;
  est = (long double) t->written / seen;
  if (est <= (long double) t->max_bytes * (2.0L - seen))
    return 0;
  t->needed = (uint64_t) est;
  t->sampled = t->tar_bytes;
  return -ENOSPC;
}

/* The byte bar: tar bytes of the estimated whole, a report a MiB; the
 * estimate is never passed before the end, so the bar ends at 100%. */
static void
progress (struct tw *t, bool end)
{
  uint64_t total = t->progress_total;

  if (end) {
    img_progress_bytes (t->ctx, total, total);
    return;
  }
  if (t->tar_bytes < t->progress_at)
    return;
  t->progress_at = t->tar_bytes + MiB;
  img_progress_bytes (t->ctx, t->tar_bytes < total ? t->tar_bytes : total - 1, total);
}

static int
feed (struct tw *t, const void *p, size_t n, bool end)
{
  int rc = 0;

  if (t->count_only)
    return 0;
  t->tar_bytes += n;
  progress (t, end);
  if (t->gzip) {
    t->gz.next_in = (unsigned char *) p;
    t->gz.avail_in = (unsigned) n;
    for (;;) {
      int zr;
      t->gz.next_out = t->zout;
      t->gz.avail_out = (unsigned) t->zout_len;
      zr = deflate (&t->gz, end ? Z_FINISH : Z_NO_FLUSH);
      if (zr == Z_STREAM_ERROR)
        return img_ctx_set_error (t->ctx, -EIO, "%s: gzip: compression failed", t->where);
      if ((rc = out_write (t, t->zout, t->zout_len - t->gz.avail_out)) < 0)
        return rc;
      if (end ? zr == Z_STREAM_END : t->gz.avail_out != 0)
        break;
    }
    return estimate (t);
  }
  {
    ZSTD_inBuffer in = { p, n, 0 };
    /* At the sample point everything so far comes out, to be measured. */
    ZSTD_EndDirective mode = end ? ZSTD_e_end
      : t->sample_at && t->tar_bytes >= t->sample_at ? ZSTD_e_flush : ZSTD_e_continue;
    for (;;) {
      ZSTD_outBuffer out = { t->zout, t->zout_len, 0 };
      size_t left = ZSTD_compressStream2 (t->z, &out, &in, mode);
      if (ZSTD_isError (left))
        return img_ctx_set_error (t->ctx, -EIO, "%s: zstd: %s", t->where, ZSTD_getErrorName (left));
      if ((rc = out_write (t, t->zout, out.pos)) < 0)
        return rc;
      if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
        break;
    }
  }
  return estimate (t);
}

static int
feed_pad (struct tw *t, uint64_t n)
{
  static const unsigned char zero[BLOCK];
  size_t pad = (size_t) ((BLOCK - n % BLOCK) % BLOCK);

  return pad ? feed (t, zero, pad, false) : 0;
}

/* ---- headers -------------------------------------------------------------- */

/* One "LEN KEY=VALUE\n" record; LEN counts itself. */
static void
pax_add (struct img_sb *pax, const char *key, const void *val, size_t vlen)
{
  size_t base = strlen (key) + vlen + 3, len = base, digits;

  for (;;) {
    char tmp[32];
    digits = (size_t) snprintf (tmp, sizeof tmp, "%zu", len);
    if (base + digits == len)
      break;
    len = base + digits;
  }
  img_sb_addf (pax, "%zu %s=", len, key);
  img_sb_add (pax, val, vlen);
  img_sb_adds (pax, "\n");
}

static void
pax_addf (struct img_sb *pax, const char *key, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

static void
pax_addf (struct img_sb *pax, const char *key, const char *fmt, ...)
{
  char v[128];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (v, sizeof v, fmt, ap);
  va_end (ap);
  pax_add (pax, key, v, strlen (v));
}

static bool
fits_octal (uint64_t v, size_t width)
{
  return width >= 22 || v < ((uint64_t) 1 << (3 * (width - 1)));
}

static void
octal (char *f, size_t width, uint64_t v)
{
  snprintf (f, width, "%0*" PRIo64, (int) width - 1, fits_octal (v, width) ? v : 0);
}

static bool
plain_ascii (const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
      return false;
  return true;
}

/* Writes a ustar header (and before it, a pax 'x' header with PAX and
 * whatever ustar cannot hold). */
static int
header (struct tw *t, char type, const char *name, const char *link, const struct img_stat *st,
        uint64_t size, struct img_sb *pax)
{
  unsigned char h[BLOCK];
  unsigned sum = 0;
  size_t i;
  int rc;

  if (strlen (name) > 99 || !plain_ascii (name))
    pax_add (pax, "path", name, strlen (name));
  if (link && (strlen (link) > 99 || !plain_ascii (link)))
    pax_add (pax, "linkpath", link, strlen (link));
  if (!fits_octal (size, 12))
    pax_addf (pax, "size", "%" PRIu64, size);
  if (!fits_octal (st->uid, 8))
    pax_addf (pax, "uid", "%" PRIu32, st->uid);
  if (!fits_octal (st->gid, 8))
    pax_addf (pax, "gid", "%" PRIu32, st->gid);
  if (st->mtime_ns || st->mtime < 0 || !fits_octal ((uint64_t) st->mtime, 12))
    pax_addf (pax, "mtime", "%" PRId64 ".%09" PRIu32, st->mtime, st->mtime_ns);
  if (pax->oom)
    return -ENOMEM;
  if (pax->len) {
    /* The extended header, named after the member as tar does. */
    struct img_stat xs = { 0 };
    char xname[100];
    const char *base = strrchr (name, '/');
    snprintf (xname, sizeof xname, "PaxHeaders/%.80s", base && base[1] ? base + 1 : name);
    xs.mode = 0644;
    {
      struct img_sb none = { 0 };
      if ((rc = header (t, 'x', plain_ascii (xname) ? xname : "PaxHeaders/x", NULL, &xs,
                        pax->len, &none)) < 0)
        return rc;
    }
    if ((rc = feed (t, pax->s, pax->len, false)) < 0 || (rc = feed_pad (t, pax->len)) < 0)
      return rc;
  }
  memset (h, 0, sizeof h);
  memcpy (h, name, strnlen (name, 100));
  octal ((char *) h + 100, 8, st->mode & 07777);
  octal ((char *) h + 108, 8, st->uid);
  octal ((char *) h + 116, 8, st->gid);
  octal ((char *) h + 124, 12, size);
  octal ((char *) h + 136, 12, st->mtime < 0 ? 0 : (uint64_t) st->mtime);
  h[156] = (unsigned char) type;
  if (link)
    memcpy (h + 157, link, strnlen (link, 100));
  memcpy (h + 257, "ustar", 6);
  memcpy (h + 263, "00", 2);
  if (type == '3' || type == '4') {
    octal ((char *) h + 329, 8, st->rdev_major);
    octal ((char *) h + 337, 8, st->rdev_minor);
  }
  memset (h + 148, ' ', 8);
  for (i = 0; i < BLOCK; i++)
    sum += h[i];
  snprintf ((char *) h + 148, 8, "%06o", sum);
  h[155] = ' ';
  return feed (t, h, BLOCK, false);
}

/* ---- members ---------------------------------------------------------------- */

static int
xattr_fn (const char *name, const void *value, size_t len, void *data)
{
  struct img_sb *pax = data;
  char *key = malloc (strlen (name) + 14);

  if (key == NULL)
    return -ENOMEM;
  sprintf (key, "SCHILY.xattr.%s", name);
  pax_add (pax, key, value, len);
  free (key);
  return 0;
}

struct region {
  uint64_t off, len;
};

/* The data regions of a file with holes: runs of non-zero pages. */
static int
scan_regions (struct tw *t, const char *path, uint64_t size, struct region **out, size_t *n)
{
  struct region *v = NULL;
  size_t nv = 0, cap = 0;
  uint64_t off = 0;
  int rc = 0;

  while (off < size) {
    size_t got, i;
    if ((rc = img_guest_pread (t->g, path, t->buf, CHUNK, off, &got)) < 0)
      break;
    if (got == 0)
      break;
    for (i = 0; i < got; i += PAGE) {
      size_t l = got - i < PAGE ? got - i : PAGE;
      if (img_internal_all_zero (t->buf + i, l))
        continue;
      if (nv && v[nv - 1].off + v[nv - 1].len == off + i)
        v[nv - 1].len += l;
      else {
        if (nv == cap) {
          struct region *nvp = realloc (v, (cap = cap ? cap * 2 : 16) * sizeof *v);
          if (nvp == NULL) {
            free (v);
            return -ENOMEM;
          }
          v = nvp;
        }
        v[nv].off = off + i;
        v[nv++].len = l;
      }
    }
    off += got;
  }
  if (rc < 0) {
    free (v);
    return rc;
  }
  /* A file ending in a hole still needs its size: an empty last region
   * marks it, as tar does. */
  if (nv == 0 || v[nv - 1].off + v[nv - 1].len < size) {
    if (nv == cap) {
      struct region *nvp = realloc (v, (cap + 1) * sizeof *v);
      if (nvp == NULL) {
        free (v);
        return -ENOMEM;
      }
      v = nvp;
    }
    v[nv].off = size;
    v[nv++].len = 0;
  }
  *out = v;
  *n = nv;
  return 0;
}

static int
copy_range (struct tw *t, const char *path, uint64_t off, uint64_t len)
{
  int rc;

  while (len) {
    size_t want = len < CHUNK ? (size_t) len : CHUNK, got;
    if ((rc = img_guest_pread (t->g, path, t->buf, want, off, &got)) < 0)
      return rc;
    if (got < want) {
      /* The file shrank under us: keep the header's promise with zeros. */
      memset (t->buf + got, 0, want - got);
    }
    if ((rc = feed (t, t->buf, want, false)) < 0)
      return rc;
    off += want;
    len -= want;
  }
  return 0;
}

static int
regular (struct tw *t, const char *name, const char *path, const struct img_stat *st, struct img_sb *pax)
{
  int rc;

  if (st->blocks * 512 < st->size && st->size > PAGE) {
    struct region *v = NULL;
    size_t n = 0, i;
    struct img_sb map = { 0 };
    uint64_t data = 0, sz;
    if (t->count_only) {
      t->tmpfs_bytes += st->blocks * 512;
      return 0;
    }
    if ((rc = scan_regions (t, path, st->size, &v, &n)) < 0)
      return rc;
    img_sb_addf (&map, "%zu\n", n);
    for (i = 0; i < n; i++) {
      img_sb_addf (&map, "%" PRIu64 "\n%" PRIu64 "\n", v[i].off, v[i].len);
      data += v[i].len;
    }
    pax_addf (pax, "GNU.sparse.major", "1");
    pax_addf (pax, "GNU.sparse.minor", "0");
    pax_add (pax, "GNU.sparse.name", name, strlen (name));
    pax_addf (pax, "GNU.sparse.realsize", "%" PRIu64, st->size);
    sz = map.len + (BLOCK - map.len % BLOCK) % BLOCK + data;
    rc = map.oom ? -ENOMEM : 0;
    if (rc == 0) {
      /* The ustar name of a sparse member is a placeholder, as GNU tar's. */
      char fake[100];
      const char *base = strrchr (name, '/');
      snprintf (fake, sizeof fake, "GNUSparseFile.0/%.80s", base ? base + 1 : name);
      rc = header (t, '0', plain_ascii (fake) ? fake : "GNUSparseFile.0/x", NULL, st, sz, pax);
    }
    if (rc == 0 && (rc = feed (t, map.s, map.len, false)) == 0)
      rc = feed_pad (t, map.len);
    for (i = 0; rc == 0 && i < n; i++)
      rc = copy_range (t, path, v[i].off, v[i].len);
    if (rc == 0)
      rc = feed_pad (t, data);
    img_sb_free (&map);
    free (v);
    return rc;
  }
  if (t->count_only) {
    t->tmpfs_bytes += (st->size + PAGE - 1) / PAGE * PAGE;
    return 0;
  }
  if ((rc = header (t, '0', name, NULL, st, st->size, pax)) < 0
      || (rc = copy_range (t, path, 0, st->size)) < 0)
    return rc;
  return feed_pad (t, st->size);
}

static int
walk_fn (struct img_guest *g, const char *path, const struct img_stat *st0, void *data)
{
  struct tw *t = data;
  struct img_stat stc = *st0, *st = &stc;
  struct img_sb pax = { 0 };
  char *name, *link = NULL;
  uint64_t key;
  int rc = 0, keep;
  size_t i;

  (void) g;
  for (i = 0; i < t->n_extra; i++)
    if (strcmp (path, t->extra[i]) == 0)
      t->seen[i] = true;
  keep = t->filter (path, st, &key, t->fdata);
  if (keep <= 0)
    return keep < 0 ? keep : 0;
  if (S_ISSOCK (st->mode))
    return 0;
  t->members++;
  /* "./" for the top, names without a leading slash below it. */
  name = malloc (strlen (path) + 2);
  if (name == NULL)
    return -ENOMEM;
  if (strcmp (path, "/") == 0)
    strcpy (name, "./");
  else
    sprintf (name, S_ISDIR (st->mode) ? "%s/" : "%s", path + 1);
  if (!t->count_only && (rc = img_guest_xattrs (t->g, path, xattr_fn, &pax)) < 0)
    goto out;
  if (!S_ISDIR (st->mode) && st->nlink > 1) {
    for (i = 0; i < t->n_hl; i++)
      if (t->hl[i].key == key) {
        if (!t->count_only)
          rc = header (t, '1', name, t->hl[i].name, st, 0, &pax);
        goto out;
      }
    if (t->n_hl == t->cap_hl) {
      struct hl *n = realloc (t->hl, (t->cap_hl = t->cap_hl ? t->cap_hl * 2 : 64) * sizeof *n);
      if (n == NULL) {
        rc = -ENOMEM;
        goto out;
      }
      t->hl = n;
    }
    t->hl[t->n_hl].key = key;
    t->hl[t->n_hl++].name = strdup (name);
  }
  if (S_ISREG (st->mode))
    rc = regular (t, name, path, st, &pax);
  else {
    t->tmpfs_bytes += PAGE;
    if (t->count_only)
      goto out;
    if (S_ISDIR (st->mode))
      rc = header (t, '5', name, NULL, st, 0, &pax);
    else if (S_ISLNK (st->mode)) {
      if ((rc = img_guest_readlink (t->g, path, &link)) == 0)
        rc = header (t, '2', name, link, st, 0, &pax);
    } else if (S_ISCHR (st->mode))
      rc = header (t, '3', name, NULL, st, 0, &pax);
    else if (S_ISBLK (st->mode))
      rc = header (t, '4', name, NULL, st, 0, &pax);
    else if (S_ISFIFO (st->mode))
      rc = header (t, '6', name, NULL, st, 0, &pax);
  }
 out:
  img_sb_free (&pax);
  free (name);
  free (link);
  return rc;
}

/* The tree from "/", then any of EXTRA the walk did not reach (a
 * filesystem mounted where the root has no directory for it). */
static int
walk_all (struct tw *t)
{
  size_t i;
  int rc;

  memset (t->seen, 0, t->n_extra * sizeof *t->seen);
  rc = img_guest_walk (t->g, "/", walk_fn, t);
  for (i = 0; rc == 0 && i < t->n_extra; i++)
    if (!t->seen[i])
      rc = img_guest_walk (t->g, t->extra[i], walk_fn, t);
  return rc;
}

int
img_archive_write (struct img_ctx *ctx, struct img_guest *g, const char *where,
                    const char *compression, img_archive_filter_fn filter, void *fdata,
                    const char *const *extra, size_t n_extra, int fd,
                    struct img_archive_info *info)
{
  struct tw t = { 0 };
  struct img_stat gst = { 0 };
  struct img_sb pax = { 0 };
  unsigned char zero[2 * BLOCK] = { 0 };
  size_t i;
  int rc;

  t.ctx = ctx;
  t.g = g;
  t.where = where;
  t.filter = filter;
  t.fdata = fdata;
  t.fd = fd;
  t.gzip = strcmp (compression, "gzip") == 0;
  t.extra = extra;
  t.n_extra = n_extra;
  t.seen = calloc (n_extra + 1, sizeof *t.seen);
  if (t.seen == NULL)
    return -ENOMEM;
  /* First what it takes in a tmpfs, for the global header. */
  t.count_only = true;
  if ((rc = walk_all (&t)) < 0)
    goto out;
  for (i = 0; i < t.n_hl; i++)
    free (t.hl[i].name);
  t.n_hl = 0;
  info->tmpfs_bytes = t.tmpfs_bytes;
  info->members = t.members;
  t.count_only = false;
  /* What the tar will take, about: the tree, and a header and a half
   * block of padding a member. */
  t.progress_total = t.tmpfs_bytes + t.members * 2 * BLOCK + 3 * BLOCK;
  t.members = 0;
  t.max_bytes = info->max_bytes;
  if (t.max_bytes) {
    t.sample_step = t.tmpfs_bytes / 16;
    t.sample_step = t.sample_step < 4 * MiB ? 4 * MiB : t.sample_step > 64 * MiB ? 64 * MiB : t.sample_step;
    t.sample_at = t.sample_step;
  }
  t.buf = malloc (CHUNK);
  t.zout_len = t.gzip ? CHUNK : ZSTD_CStreamOutSize ();
  t.zout = malloc (t.zout_len);
  if (t.buf == NULL || t.zout == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  if (t.gzip) {
    if (deflateInit2 (&t.gz, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      rc = img_ctx_set_error (ctx, -ENOMEM, "%s: gzip: cannot start", where);
      goto out;
    }
  } else {
    t.z = ZSTD_createCCtx ();
    if (t.z == NULL || ZSTD_isError (ZSTD_CCtx_setParameter (t.z, ZSTD_c_compressionLevel, 3))
        || ZSTD_isError (ZSTD_CCtx_setParameter (t.z, ZSTD_c_checksumFlag, 1))) {
      rc = img_ctx_set_error (ctx, -ENOMEM, "%s: zstd: cannot start", where);
      goto out;
    }
    /* Compression in worker threads while the tree is read here (the
     * bytes do not depend on the number of workers; a libzstd built
     * without threads refuses it and compresses here). */
    ZSTD_CCtx_setParameter (t.z, ZSTD_c_nbWorkers, ARCHIVE_ZSTD_WORKERS);
    /* Jobs of 1 MiB: libzstd's default (4 windows, 8 MiB at level 3)
     * holds several jobs' buffers a worker, 55 MiB of peak RSS more. */
    ZSTD_CCtx_setParameter (t.z, ZSTD_c_jobSize, ARCHIVE_ZSTD_JOB);
  }
  pax_addf (&pax, "comment", "img-ramify tmpfs-bytes=%" PRIu64, info->tmpfs_bytes);
  gst.mode = 0644;
  if ((rc = header (&t, 'g', "pax_global_header", NULL, &gst, pax.len, &(struct img_sb) { 0 })) < 0
      || (rc = feed (&t, pax.s, pax.len, false)) < 0 || (rc = feed_pad (&t, pax.len)) < 0)
    goto out;
  if ((rc = walk_all (&t)) < 0)
    goto out;
  if ((rc = feed (&t, zero, sizeof zero, true)) < 0)
    goto out;
 out:
  info->tar_bytes = t.tar_bytes;
  info->archive_bytes = t.written;
  if (!t.count_only)
    info->members = t.members;
  info->needed_bytes = t.needed;
  info->sampled_bytes = t.sampled;
  if (t.gzip)
    deflateEnd (&t.gz);
  ZSTD_freeCCtx (t.z);
  for (i = 0; i < t.n_hl; i++)
    free (t.hl[i].name);
  free (t.hl);
  free (t.seen);
  free (t.buf);
  free (t.zout);
  img_sb_free (&pax);
  return rc;
}
