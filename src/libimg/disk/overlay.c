/* A private qcow2 overlay over a disk, for a qemu that must never write
 * the image (the libguestfs appliance): qemu-img creates it over the
 * image's pinned, unlocked name; what that qemu wrote into it is then
 * read back natively and applied through img_disk_pwrite, so the write
 * hook (undo records), dry runs and idempotence hold for it too.  The
 * overlay was written by a qemu serving a hostile guest: every field is
 * checked, and the whole map built, before anything reaches the disk. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"
#include "base/fdio.h"
#include "disk/disk-private.h"

#define OVL_CLUSTER_SIZE "4096"
#define BLOCK 4096u                     /* compared and written as a unit */
#define CHUNK ((size_t) 1 << 20)        /* read at a time */
#define MAX_L1_BYTES ((uint64_t) 32 << 20)  /* qemu's own limit */

#define L1E_OFFSET 0x00fffffffffffe00ULL
#define L1E_RESERVED 0x7f000000000001ffULL
#define L2E_OFFSET 0x00fffffffffffe00ULL
#define L2E_COMPRESSED (1ULL << 62)
#define L2E_ZERO 1ULL
#define L2E_RESERVED 0x3f000000000001feULL

/* A run of guest bytes the overlay holds: at HOST in the file, or zeros
 * (HOST 0: offset 0 is the header, never data). */
struct extent {
  uint64_t guest, host, len;
};

struct ovl {
  struct img_ctx *ctx;
  const char *path;
  int fd;
  uint64_t file_size;
  uint32_t version;
  uint64_t cs;                  /* cluster size */
  uint64_t size;                /* virtual size */
  uint64_t l1_off;
  uint64_t l1_n;                /* L1 entries that map the virtual size */
  struct extent *ext;
  size_t n_ext, cap_ext;
};

static int
ovl_open (struct ovl *o, struct img_ctx *ctx, const char *path)
{
  struct stat st;
  int r;

  memset (o, 0, sizeof *o);
  o->ctx = ctx;
  o->path = path;
  o->fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (o->fd == -1) {
    r = -errno;
    return img_err (ctx, r, "%s: qcow2 overlay: cannot open: %s", path, strerror (-r));
  }
  if (fstat (o->fd, &st) == -1 || !S_ISREG (st.st_mode)) {
    close (o->fd);
    o->fd = -1;
    return img_err (ctx, -EINVAL, "%s: qcow2 overlay: not a regular file", path);
  }
  o->file_size = st.st_size;
  return 0;
}

static void
ovl_close (struct ovl *o)
{
  if (o->fd >= 0)
    close (o->fd);
  free (o->ext);
}

/* Reads LEN bytes at OFF, which the caller checked against the file's
 * size: a short read means the file shrank. */
static int
ovl_read (struct ovl *o, void *buf, size_t len, uint64_t off, const char *what)
{
  size_t got = 0;
  int r = img_internal_pread_all (o->fd, buf, len, off, &got);

  if (r < 0)
    return img_err (o->ctx, r, "%s: qcow2 overlay: cannot read the %s: %s", o->path, what, strerror (-r));
  if (got < len)
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: file is truncated (the %s at offset %" PRIu64 " is past its end)",
                    o->path, what, off);
  return 0;
}

static int
check_incompat (struct ovl *o, uint64_t bits)
{
  static const char *const names[] = {
    "dirty (its refcounts need repair)", "marked corrupt", "an external data file",
    "a compression type other than zlib", "extended L2 entries",
  };
  unsigned i;

  for (i = 0; i < 64; i++)
    if (bits & (1ULL << i)) {
      if (i < ARRAY_SIZE (names))
        return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: has %s; refusing", o->path, names[i]);
      return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: unknown incompatible feature bit %u; refusing", o->path, i);
    }
  return 0;
}

/* The header, against the file and against WANT_SIZE (the disk's). */
static int
read_header (struct ovl *o, uint64_t want_size)
{
  unsigned char h[IMG_QCOW2_V3_LEN];
  struct img_internal_qcow2 q;
  char why[160];
  uint32_t l1_size;
  uint64_t per_l1, end;
  size_t len = o->file_size < sizeof h ? (size_t) o->file_size : sizeof h;
  int r;

  if (len > 0 && (r = ovl_read (o, h, len, 0, "header")) < 0)
    return r;
  if (img_internal_qcow2_decode (h, len, o->file_size, &q, why, sizeof why) < 0)
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: %s", o->path, why);
  o->version = q.version;
  o->cs = q.cluster_size;
  if (q.crypt_method != 0)
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: is encrypted; refusing", o->path);
  if ((r = check_incompat (o, q.incompat)) < 0)
    return r;
  o->size = q.size;
  if (o->size != want_size)
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: virtual size %" PRIu64 " bytes differs from the image's %" PRIu64 "; refusing",
                    o->path, o->size, want_size);

  /* Each L2 table maps cs/8 clusters; only the L1 entries that cover the
   * virtual size are read (qemu ignores the others too). */
  per_l1 = o->cs * (o->cs / 8);
  o->l1_n = o->size / per_l1 + (o->size % per_l1 != 0);
  l1_size = q.l1_size;
  o->l1_off = q.l1_offset;
  if (l1_size < o->l1_n)
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L1 table of %" PRIu32 " entries is too small for the virtual size (%" PRIu64 " needed)",
                    o->path, l1_size, o->l1_n);
  if ((uint64_t) l1_size * 8 > MAX_L1_BYTES)
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L1 table of %" PRIu32 " entries is too large", o->path, l1_size);
  if (o->l1_n > 0
      && (o->l1_off == 0 || o->l1_off % o->cs != 0
          || add_overflow_u64 (o->l1_off, o->l1_n * 8, &end) || end > o->file_size))
    return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L1 table offset %" PRIu64 " is unaligned or past the end of the file (%" PRIu64 " bytes)",
                    o->path, o->l1_off, o->file_size);
  return 0;
}

/* Appends guest run [GUEST, +LEN) at HOST (0: zeros), joined to the last
 * run when both are contiguous; *ADDED counts new runs. */
static int
add_extent (struct ovl *o, uint64_t guest, uint64_t host, uint64_t len,
            size_t *added)
{
  struct extent *last = o->n_ext ? &o->ext[o->n_ext - 1] : NULL;

  if (last && last->guest + last->len == guest
      && ((host == 0 && last->host == 0)
          || (host != 0 && last->host != 0 && last->host + last->len == host))) {
    last->len += len;
    return 0;
  }
  if (img_internal_grow ((void **) &o->ext, &o->cap_ext, o->n_ext, sizeof *o->ext) < 0)
    return img_err (o->ctx, -ENOMEM, "%s: qcow2 overlay: out of memory", o->path);
  o->ext[o->n_ext++] = (struct extent) { guest, host, len };
  (*added)++;
  return 0;
}

/* One L2 table (index I of the L1) into runs. */
static int
walk_l2 (struct ovl *o, uint64_t i, const unsigned char *l2)
{
  uint64_t n = o->cs / 8, j;
  size_t added = 0;
  int r;

  for (j = 0; j < n; j++) {
    uint64_t e = get_be64 (l2 + j * 8), guest, len, host, end;
    bool zero;

    guest = (i * n + j) * o->cs;
    if (guest >= o->size)
      break;
    len = o->size - guest < o->cs ? o->size - guest : o->cs;
    if (e & L2E_COMPRESSED)
      return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: compressed cluster at guest offset %" PRIu64 "; refusing",
                      o->path, guest);
    if ((e & L2E_RESERVED) || (o->version == 2 && (e & L2E_ZERO)))
      return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L2 entry for guest offset %" PRIu64 " has reserved bits set (0x%016" PRIx64 ")",
                      o->path, guest, e);
    zero = (e & L2E_ZERO) != 0;
    host = e & L2E_OFFSET;
    if (!zero && host == 0)
      continue;                 /* the backing file's: the image itself */
    if (host != 0 && (host % o->cs != 0 || add_overflow_u64 (host, len, &end) || end > o->file_size))
      return img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L2 entry for guest offset %" PRIu64 " points at offset %" PRIu64 ", unaligned or past the end of the file (%" PRIu64 " bytes)",
                      o->path, guest, host, o->file_size);
    if ((r = add_extent (o, guest, zero ? 0 : host, len, &added)) < 0)
      return r;
  }
  /* Runs kept in memory: a hostile layout defeats the joining. */
  if (added)
    return img_internal_budget_charge (o->ctx, IMG_BUDGET_ENTRIES_TOTAL, added, o->path);
  return 0;
}

/* The whole map, checked, into o->ext. */
static int
walk (struct ovl *o)
{
  unsigned char *l1 = NULL, *l2 = NULL;
  uint64_t i;
  int r = 0;

  if (o->l1_n == 0)
    return 0;
  l1 = malloc (o->l1_n * 8);
  l2 = malloc (o->cs);
  if (l1 == NULL || l2 == NULL) {
    r = img_err (o->ctx, -ENOMEM, "%s: qcow2 overlay: out of memory", o->path);
    goto out;
  }
  if ((r = ovl_read (o, l1, o->l1_n * 8, o->l1_off, "L1 table")) < 0)
    goto out;
  for (i = 0; i < o->l1_n && r == 0; i++) {
    uint64_t e = get_be64 (l1 + i * 8), off = e & L1E_OFFSET, end;

    if (e & L1E_RESERVED) {
      r = img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L1 entry %" PRIu64 " has reserved bits set (0x%016" PRIx64 ")",
                   o->path, i, e);
      break;
    }
    if (off == 0)
      continue;
    if (off % o->cs != 0 || add_overflow_u64 (off, o->cs, &end) || end > o->file_size) {
      r = img_err (o->ctx, -EINVAL, "%s: qcow2 overlay: L1 entry %" PRIu64 " points at offset %" PRIu64 ", unaligned or past the end of the file (%" PRIu64 " bytes)",
                   o->path, i, off, o->file_size);
      break;
    }
    if ((r = ovl_read (o, l2, o->cs, off, "L2 table")) == 0)
      r = walk_l2 (o, i, l2);
  }
 out:
  free (l1);
  free (l2);
  return r;
}

/* Bytes that differ between A and B (LEN of them). */
static uint64_t
count_diff (const unsigned char *a, const unsigned char *b, size_t len)
{
  uint64_t n = 0;
  size_t i;

  for (i = 0; i < len; i++)
    n += a[i] != b[i];
  return n;
}

/* One piece of a run: NEW (LEN bytes for guest offset OFF) against the
 * disk's bytes in CUR; the 4 KiB blocks that differ written in runs. */
static int
apply_piece (struct img_disk *disk, const unsigned char *new, unsigned char *cur,
             size_t len, uint64_t off, bool dry, uint64_t *changed)
{
  size_t b, bl, run = 0;
  bool in_run = false;
  int r;

  if ((r = img_disk_pread (disk, cur, len, off)) < 0)
    return r;
  for (b = 0; b < len; b += bl) {
    bl = len - b < BLOCK ? len - b : BLOCK;
    if (memcmp (new + b, cur + b, bl) != 0) {
      *changed += count_diff (new + b, cur + b, bl);
      if (!in_run)
        run = b;
      in_run = true;
      continue;
    }
    if (in_run && !dry && (r = img_disk_pwrite (disk, new + run, b - run, off + run)) < 0)
      return r;
    in_run = false;
  }
  if (in_run && !dry)
    return img_disk_pwrite (disk, new + run, len - run, off + run);
  return 0;
}

static int
apply_map (struct ovl *o, struct img_disk *disk, bool dry, uint64_t *changed)
{
  unsigned char *buf = malloc (CHUNK), *cur = malloc (CHUNK), *zeros = calloc (1, CHUNK);
  size_t i;
  int r = 0;

  if (buf == NULL || cur == NULL || zeros == NULL) {
    r = img_err (o->ctx, -ENOMEM, "%s: qcow2 overlay: out of memory", o->path);
    goto out;
  }
  for (i = 0; i < o->n_ext && r == 0; i++) {
    const struct extent *x = &o->ext[i];
    uint64_t done;

    for (done = 0; done < x->len && r == 0; done += CHUNK) {
      size_t n = x->len - done < CHUNK ? x->len - done : CHUNK;
      const unsigned char *src = zeros;

      if (x->host != 0) {
        if ((r = ovl_read (o, buf, n, x->host + done, "data cluster")) < 0)
          break;
        src = buf;
      }
      r = apply_piece (disk, src, cur, n, x->guest + done, dry, changed);
    }
  }
 out:
  free (buf);
  free (cur);
  free (zeros);
  return r;
}

int
img_internal_disk_overlay_apply (struct img_disk *disk, const char *path,
                                 bool dry, uint64_t *changed)
{
  struct img_ctx *ctx = img_disk_ctx (disk);
  struct ovl o;
  uint64_t n = 0;
  int r;

  if (changed)
    *changed = 0;
  if ((r = ovl_open (&o, ctx, path)) < 0)
    return r;
  r = read_header (&o, img_disk_size (disk));
  if (r == 0)
    r = walk (&o);
  img_dbg (ctx, "%s: qcow2 overlay: %zu runs over %s", path, o.n_ext, img_disk_name (disk));
  if (r == 0)
    r = apply_map (&o, disk, dry, &n);
  if (r == 0 && !dry && n > 0)
    r = img_disk_flush (disk);
  ovl_close (&o);
  if (changed)
    *changed = n;
  return r;
}

/* qemu-img's complaint, one line, without its prefix. */
static const char *
qemu_line (char *err)
{
  char *line = err, *nl;

  if ((nl = strchr (err, '\n')) != NULL)
    *nl = '\0';
  if (strncmp (line, "qemu-img: ", 10) == 0)
    line += 10;
  for (nl = line; *nl; nl++)
    if ((unsigned char) *nl < 0x20 || *nl == 0x7f)
      *nl = '?';
  return *line ? line : "unknown error";
}

int
img_internal_disk_overlay_create (struct img_disk *disk, const char *path)
{
  struct img_ctx *ctx = img_disk_ctx (disk);
  const char *backing;
  char *target = NULL, out[1024], err[2048];
  struct ovl o;
  int fd, status, r;

  if ((r = img_internal_disk_qemu_shared_name (disk, &backing)) < 0)
    return r;
  /* The backing file on the host must hold every write we made. */
  if ((r = img_disk_flush (disk)) < 0)
    return r;
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd == -1) {
    r = -errno;
    return img_err (ctx, r, "%s: qcow2 overlay: cannot create: %s", path, strerror (-r));
  }
  close (fd);
  /* A relative name with a colon would read as a protocol to qemu. */
  if (asprintf (&target, "%s%s", path[0] == '/' ? "" : "./", path) == -1) {
    target = NULL;
    r = img_err (ctx, -ENOMEM, "%s: qcow2 overlay: out of memory", path);
    goto err;
  }
  {
    const char *argv[] = {
      QEMU_IMG, "create", "-q", "-f", "qcow2", "-o", "cluster_size=" OVL_CLUSTER_SIZE,
      "-F", img_disk_format (disk), "-b", backing, target, NULL,
    };
    status = img_internal_run_capture (argv, out, sizeof out, err, sizeof err);
  }
  if (status < 0) {
    r = img_err (ctx, status, "%s: qcow2 overlay: cannot run qemu-img: %s", path, strerror (-status));
    goto err;
  }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127) {
    r = img_err (ctx, -ENOENT, "%s: qcow2 overlay: needs qemu-img (package qemu-utils)", path);
    goto err;
  }
  if (!(WIFEXITED (status) && WEXITSTATUS (status) == 0)) {
    r = img_err (ctx, -EIO, "%s: qcow2 overlay: qemu-img cannot create it: %.300s", path, qemu_line (err));
    goto err;
  }
  /* What qemu made is what we will read back: check it now. */
  if ((r = ovl_open (&o, ctx, path)) < 0)
    goto err;
  r = read_header (&o, img_disk_size (disk));
  ovl_close (&o);
  if (r < 0)
    goto err;
  free (target);
  return 0;

 err:
  unlink (path);
  free (target);
  return r;
}
