/* The undo file's format (img-undo.h): building its records, and reading
 * a file back (header, records up to the first torn one, state, the
 * check that an image is still as the last run left it). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/fdio.h"
#include "disk/undo-private.h"

/* ---- small helpers ---------------------------------------------------- */

static int
buf_reserve (struct buf *b, size_t more)
{
  size_t cap;
  unsigned char *p;

  if (b->len + more <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more)
    cap *= 2;
  p = realloc (b->p, cap);
  if (p == NULL)
    return -ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

int
img_internal_undo_buf_add (struct buf *b, const void *data, size_t len)
{
  if (buf_reserve (b, len) < 0)
    return -ENOMEM;
  memcpy (b->p + b->len, data, len);
  b->len += len;
  return 0;
}

int
img_internal_undo_buf_u32 (struct buf *b, uint32_t v)
{
  v = htole32 (v);
  return img_internal_undo_buf_add (b, &v, 4);
}

int
img_internal_undo_buf_u64 (struct buf *b, uint64_t v)
{
  v = htole64 (v);
  return img_internal_undo_buf_add (b, &v, 8);
}

void
img_internal_undo_put_le32 (unsigned char *p, uint32_t v)
{
  v = htole32 (v);
  memcpy (p, &v, 4);
}

static size_t
key_hash (uint64_t k)
{
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return (size_t) k;
}

bool
img_internal_undo_keyset_has (const struct keyset *s, uint64_t k)
{
  size_t i;

  if (s->cap == 0)
    return false;
  for (i = key_hash (k) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
    if (s->slots[i] == k + 1)
      return true;
  return false;
}

int
img_internal_undo_keyset_add (struct keyset *s, uint64_t k)
{
  size_t i;

  if (img_internal_undo_keyset_has (s, k))
    return 0;
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024, j;
    uint64_t *slots = calloc (cap, sizeof *slots);
    uint64_t *order = realloc (s->order, cap / 2 * sizeof *order);
    if (slots == NULL || order == NULL) {
      free (slots);
      if (order)
        s->order = order;
      return -ENOMEM;
    }
    s->order = order;
    for (j = 0; j < s->n; j++) {
      for (i = key_hash (order[j]) & (cap - 1); slots[i]; i = (i + 1) & (cap - 1))
        ;
      slots[i] = order[j] + 1;
    }
    free (s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  for (i = key_hash (k) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
    ;
  s->slots[i] = k + 1;
  s->order[s->n++] = k;
  return 0;
}

void
img_internal_undo_keyset_free (struct keyset *s)
{
  free (s->slots);
  free (s->order);
  memset (s, 0, sizeof *s);
}

int
img_internal_undo_fsync_parent (const char *path)
{
  CLEANUP_FREE char *copy = strdup (path);
  int fd, r = 0;

  if (copy == NULL)
    return -ENOMEM;
  fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1)
    return -errno;
  if (fsync (fd) == -1 && errno != EINVAL)
    r = -errno;
  close (fd);
  return r;
}

/* Appends one record to B. */
int
img_internal_undo_rec_add (struct buf *b, uint32_t type, uint32_t disk,
                           uint32_t flags, uint64_t offset, uint32_t length,
                           const void *payload, uint32_t plen)
{
  unsigned char head[REC_HEAD];
  uint32_t pcrc = plen ? img_crc32 (payload, plen) : 0;
  uint64_t v;

  img_internal_undo_put_le32 (head, REC_MAGIC);
  img_internal_undo_put_le32 (head + 4, type);
  img_internal_undo_put_le32 (head + 8, disk);
  img_internal_undo_put_le32 (head + 12, flags);
  v = htole64 (offset);
  memcpy (head + 16, &v, 8);
  img_internal_undo_put_le32 (head + 24, length);
  img_internal_undo_put_le32 (head + 28, plen);
  img_internal_undo_put_le32 (head + 32, pcrc);
  img_internal_undo_put_le32 (head + 36, img_crc32 (head, 36));
  if (img_internal_undo_buf_add (b, head, sizeof head) < 0
      || (plen && img_internal_undo_buf_add (b, payload, plen) < 0))
    return -ENOMEM;
  return 0;
}

/* ---- reading an undo file --------------------------------------------- */

void
img_internal_undo_ufile_free (struct ufile *u)
{
  size_t i;

  for (i = 0; i < u->n_disks; i++)
    free (u->disks[i].path);
  free (u->disks);
  free (u->post);
  if (u->fd >= 0)
    close (u->fd);
  memset (u, 0, sizeof *u);
  u->fd = -1;
}

/* Reads the fixed header and the disks it names into U.  1 when the file
 * was cut short while being created (U then names no disk), 0, or
 * -errno with the message recorded. */
static int
read_header (struct img_ctx *ctx, const char *path, struct ufile *u)
{
  unsigned char fixed[HDR_FIXED];
  CLEANUP_FREE unsigned char *hdr = NULL;
  size_t got, i, p;
  int r;

  r = img_internal_pread_all (u->fd, fixed, sizeof fixed, 0, &got);
  if (r < 0)
    return img_err (ctx, r, "%s: undo: cannot read: %s", path, strerror (-r));
  if (got >= 8 && memcmp (fixed, UNDO_MAGIC, 8) != 0)
    return img_err (ctx, -EINVAL, "%s: undo: not an img-tools undo file", path);
  if (got < sizeof fixed)
    return 1;                   /* cut short while being created */
  if (get_le32 (fixed + 8) != UNDO_VERSION)
    return img_err (ctx, -EINVAL, "%s: undo: unsupported version %u", path,
                    get_le32 (fixed + 8));
  u->header_len = get_le32 (fixed + 12);
  u->chunk = get_le32 (fixed + 16);
  u->n_disks = get_le32 (fixed + 20);
  u->created = get_le64 (fixed + 24);
  if (u->header_len < HDR_FIXED + 4 || u->header_len > HDR_MAX
      || u->n_disks == 0 || u->n_disks > MAX_DISKS
      || u->chunk != IMG_UNDO_CHUNK)
    return img_err (ctx, -EINVAL, "%s: undo: corrupt header", path);
  if (u->file_size < u->header_len) {
    u->n_disks = 0;
    return 1;                   /* cut short while being created */
  }
  hdr = malloc (u->header_len);
  if (hdr == NULL)
    return img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
  r = img_internal_pread_all (u->fd, hdr, u->header_len, 0, &got);
  if (r < 0 || got != u->header_len)
    return img_err (ctx, r < 0 ? r : -EIO, "%s: undo: cannot read the header", path);
  if (img_crc32 (hdr, u->header_len - 4) != get_le32 (hdr + u->header_len - 4))
    return img_err (ctx, -EINVAL, "%s: undo: header checksum mismatch", path);
  u->disks = calloc (u->n_disks, sizeof *u->disks);
  if (u->disks == NULL)
    return img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
  for (i = 0, p = HDR_FIXED; i < u->n_disks; i++) {
    uint32_t plen;
    if (p + HDR_DISK_FIXED > u->header_len - 4)
      return img_err (ctx, -EINVAL, "%s: undo: corrupt header", path);
    u->disks[i].size = get_le64 (hdr + p);
    memcpy (u->disks[i].format, hdr + p + 8, 16);
    plen = get_le32 (hdr + p + 24);
    p += HDR_DISK_FIXED;
    if (plen == 0 || plen > u->header_len - 4 - p)
      return img_err (ctx, -EINVAL, "%s: undo: corrupt header", path);
    u->disks[i].path = strndup ((const char *) hdr + p, plen);
    if (u->disks[i].path == NULL)
      return img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    p += plen;
  }
  return 0;
}

/* Walks the records after the header (calling FN for each DATA record,
 * if FN) up to the first torn or corrupt one.  0 or -errno with the
 * message recorded. */
static int
walk_records (struct img_ctx *ctx, const char *path, struct ufile *u,
              rec_fn fn, void *fn_data)
{
  unsigned char head[REC_HEAD];
  unsigned char *payload = NULL;
  size_t got;
  uint64_t off;
  int r;

  u->state = IMG_UNDO_RUNNING;
  off = u->header_len;
  for (;;) {
    uint32_t type, disk, flags, length, plen;
    uint64_t offset;

    r = img_internal_pread_all (u->fd, head, sizeof head, off, &got);
    if (r < 0) {
      img_err (ctx, r, "%s: undo: cannot read: %s", path, strerror (-r));
      goto err;
    }
    if (got < sizeof head || get_le32 (head) != REC_MAGIC
        || img_crc32 (head, 36) != get_le32 (head + 36))
      break;
    type = get_le32 (head + 4);
    disk = get_le32 (head + 8);
    flags = get_le32 (head + 12);
    offset = get_le64 (head + 16);
    length = get_le32 (head + 24);
    plen = get_le32 (head + 28);
    if (plen > MAX_PAYLOAD || off + REC_HEAD + plen > u->file_size)
      break;
    free (payload);
    payload = malloc (plen ? plen : 1);
    if (payload == NULL) {
      r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
      goto err;
    }
    r = img_internal_pread_all (u->fd, payload, plen, off + REC_HEAD, &got);
    if (r < 0 || got != plen) {
      r = img_err (ctx, r < 0 ? r : -EIO, "%s: undo: cannot read a record", path);
      goto err;
    }
    if ((plen ? img_crc32 (payload, plen) : 0) != get_le32 (head + 32))
      break;
    /* A record that checks out but makes no sense is corruption, not a
     * torn tail. */
    if (type == REC_DATA
        && (disk >= u->n_disks || length == 0 || length > u->chunk
            || offset % u->chunk || offset >= u->disks[disk].size
            || length > u->disks[disk].size - offset
            || ((flags & REC_FLAG_ZERO) ? plen != 0 : plen != length)))
      goto bad_record;
    if (type == REC_STATE && (offset < IMG_UNDO_RUNNING || offset > IMG_UNDO_ROLLED_BACK))
      goto bad_record;
    if (type == REC_POST && plen % POST_ENTRY)
      goto bad_record;
    if (type == REC_DATA) {
      u->n_data++;
      if (fn && (r = fn (fn_data, u->n_segments, disk, flags, offset, length,
                         payload)) < 0)
        goto err;
    }
    else if (type == REC_STATE) {
      u->state = (int) offset;
      if (u->state == IMG_UNDO_RUNNING)
        u->n_segments++;
    }
    else if (type == REC_POST) {
      free (u->post);
      u->post = payload;
      u->post_len = plen;
      payload = NULL;
    }
    else
      goto bad_record;
    off += REC_HEAD + plen;
  }
  free (payload);
  u->n_segments++;
  u->end = off;
  if (off < u->file_size)
    img_dbg (ctx, "%s: undo: ignoring %" PRIu64 " bytes of torn tail",
             path, u->file_size - off);
  return 0;

 bad_record:
  r = img_err (ctx, -EINVAL, "%s: undo: corrupt record at offset %" PRIu64,
               path, off);
 err:
  free (payload);
  return r;
}

/* Reads the header and walks the records (calling FN for each DATA
 * record, if FN) up to the first torn or corrupt one. */
int
img_internal_undo_ufile_read (struct img_ctx *ctx, const char *path,
                              int oflags, struct ufile *u, rec_fn fn,
                              void *fn_data)
{
  struct stat st;
  int r;

  memset (u, 0, sizeof *u);
  u->fd = open (path, oflags | O_CLOEXEC);
  if (u->fd == -1) {
    r = -errno;
    if (r == -ENOENT)
      return r;
    return img_err (ctx, r, "%s: undo: cannot open: %s", path, strerror (-r));
  }
  /* A run holds its undo file locked until it has committed: nobody
   * rolls back (or appends to) a run that is still going. */
  if ((oflags & O_ACCMODE) != O_RDONLY && flock (u->fd, LOCK_EX | LOCK_NB) == -1) {
    r = errno == EWOULDBLOCK ? -EBUSY : -errno;
    img_err (ctx, r, "%s: undo: %s", path,
             r == -EBUSY ? "in use by a run that is still going" : strerror (-r));
    goto err;
  }
  if (fstat (u->fd, &st) == -1) {
    r = -errno;
    img_err (ctx, r, "%s: undo: cannot stat: %s", path, strerror (-r));
    goto err;
  }
  u->file_size = st.st_size;
  r = read_header (ctx, path, u);
  if (r > 0)
    return 0;
  if (r == 0)
    r = walk_records (ctx, path, u, fn, fn_data);
  if (r == 0)
    return 0;
 err:
  img_internal_undo_ufile_free (u);
  return r;
}

int
img_undo_state (struct img_ctx *ctx, const char *path, int *state)
{
  struct ufile u;
  int r;

  r = img_internal_undo_ufile_read (ctx, path, O_RDONLY, &u, NULL, NULL);
  if (r < 0)
    return r;
  *state = u.state;
  img_internal_undo_ufile_free (&u);
  return 0;
}

int
img_undo_discard (struct img_ctx *ctx, const char *path)
{
  struct ufile u;
  int r;

  r = img_internal_undo_ufile_read (ctx, path, O_RDWR, &u, NULL, NULL);
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return r;
  if (u.state == IMG_UNDO_RUNNING || u.state == IMG_UNDO_COMPLETE)
    r = img_err (ctx, -EEXIST, "%s: undo: the record is %s, not removed",
                 path, img_undo_state_name (u.state));
  else if (unlink (path) == -1)
    r = img_err (ctx, -errno, "%s: cannot remove the old undo file: %m", path);
  img_internal_undo_ufile_free (&u);
  return r;
}

const char *
img_undo_state_name (int state)
{
  switch (state) {
  case IMG_UNDO_RUNNING: return "running";
  case IMG_UNDO_COMPLETE: return "complete";
  case IMG_UNDO_ROLLED_BACK: return "rolled-back";
  default: return "incomplete";
  }
}

/* Whether DISK is the one the header recorded. */
int
img_internal_undo_check_identity (struct img_ctx *ctx, const char *path,
                                  const struct hdisk *h, struct img_disk *disk)
{
  if (img_disk_size (disk) != h->size
      || strcmp (img_disk_format (disk), h->format) != 0)
    return img_err (ctx, -EINVAL,
                    "%s: undo: %s is not the image this undo file was made for (%s, %" PRIu64 " bytes; it was %s, %" PRIu64 " bytes)",
                    path, img_disk_name (disk), img_disk_format (disk),
                    img_disk_size (disk), h->format, h->size);
  return 0;
}

uint64_t
img_internal_undo_chunk_len (struct img_disk *disk, uint64_t off)
{
  uint64_t size = img_disk_size (disk);
  return size - off < IMG_UNDO_CHUNK ? size - off : IMG_UNDO_CHUNK;
}

/* Whether every chunk listed in POST still holds what the run left. */
int
img_internal_undo_verify_post (struct img_ctx *ctx, const char *path,
                               struct img_disk **disks, size_t n_disks,
                               const unsigned char *post, uint32_t post_len)
{
  unsigned char chunk[IMG_UNDO_CHUNK];
  uint32_t i;
  int r;

  for (i = 0; i < post_len; i += POST_ENTRY) {
    uint32_t d = get_le32 (post + i);
    uint64_t off = get_le64 (post + i + 4);
    uint32_t crc = get_le32 (post + i + 12), len;

    if (d >= n_disks || off >= img_disk_size (disks[d]) || off % IMG_UNDO_CHUNK)
      return img_err (ctx, -EINVAL, "%s: undo: corrupt POST record", path);
    len = img_internal_undo_chunk_len (disks[d], off);
    r = img_disk_pread (disks[d], chunk, len, off);
    if (r < 0)
      return r;
    if (img_crc32 (chunk, len) != crc)
      return img_err (ctx, -ESTALE,
                      "%s: undo: %s has changed since the run this undo file records (at offset %" PRIu64 "); rolling back now would corrupt it (force it only if you know why)",
                      path, img_disk_name (disks[d]), off);
  }
  return 0;
}
