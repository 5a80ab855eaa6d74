/* The undo record: before the first write to each 4 KiB chunk of a disk
 * reaches the image, the chunk's original bytes are appended to the undo
 * file and fdatasync'd (write-ahead), so that whatever happens to the run
 * (an error, SIGKILL, a power cut after the file system's own ordering),
 * a rollback can put every byte back.  The format is in edits.h. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/fdio.h"
#include "img-undo.h"
#include "private.h"
#include "disk/disk-private.h"

extern char **environ;

#define UNDO_MAGIC "IMGUNDO1"
#define UNDO_VERSION 1
#define HDR_FIXED 32
#define HDR_DISK_FIXED (8 + 16 + 4)
#define HDR_MAX (1u << 20)
#define REC_MAGIC 0x43455255u   /* "UREC" */
#define REC_HEAD 40
#define REC_DATA 1
#define REC_STATE 2
#define REC_POST 3
#define REC_FLAG_ZERO 1u
#define POST_ENTRY 16
#define MAX_DISKS 64
/* A record's payload is at most one chunk (DATA) or one POST list. */
#define MAX_PAYLOAD (1u << 30)

/* ---- small helpers ---------------------------------------------------- */

struct buf {
  unsigned char *p;
  size_t len, cap;
};

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

static int
buf_add (struct buf *b, const void *data, size_t len)
{
  if (buf_reserve (b, len) < 0)
    return -ENOMEM;
  memcpy (b->p + b->len, data, len);
  b->len += len;
  return 0;
}

static int
buf_u32 (struct buf *b, uint32_t v)
{
  v = htole32 (v);
  return buf_add (b, &v, 4);
}

static int
buf_u64 (struct buf *b, uint64_t v)
{
  v = htole64 (v);
  return buf_add (b, &v, 8);
}

static void
put_le32 (unsigned char *p, uint32_t v)
{
  v = htole32 (v);
  memcpy (p, &v, 4);
}

/* A set of chunk keys (disk index << 52 | chunk number), open addressing;
 * the keys are also kept in insertion order for the POST record. */
struct keyset {
  uint64_t *slots;              /* key + 1; 0 is empty */
  size_t cap, n;
  uint64_t *order;
};

static size_t
key_hash (uint64_t k)
{
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return (size_t) k;
}

static bool
keyset_has (const struct keyset *s, uint64_t k)
{
  size_t i;

  if (s->cap == 0)
    return false;
  for (i = key_hash (k) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
    if (s->slots[i] == k + 1)
      return true;
  return false;
}

static int
keyset_add (struct keyset *s, uint64_t k)
{
  size_t i;

  if (keyset_has (s, k))
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

static void
keyset_free (struct keyset *s)
{
  free (s->slots);
  free (s->order);
  memset (s, 0, sizeof *s);
}

#define KEY(disk, chunk) (((uint64_t) (disk) << 52) | (chunk))
#define KEY_DISK(k) ((size_t) ((k) >> 52))
#define KEY_CHUNK(k) ((k) & ((1ULL << 52) - 1))

static int
fsync_parent (const char *path)
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
static int
rec_add (struct buf *b, uint32_t type, uint32_t disk, uint32_t flags,
         uint64_t offset, uint32_t length, const void *payload,
         uint32_t plen)
{
  unsigned char head[REC_HEAD];
  uint32_t pcrc = plen ? img_crc32 (payload, plen) : 0;
  uint64_t v;

  put_le32 (head, REC_MAGIC);
  put_le32 (head + 4, type);
  put_le32 (head + 8, disk);
  put_le32 (head + 12, flags);
  v = htole64 (offset);
  memcpy (head + 16, &v, 8);
  put_le32 (head + 24, length);
  put_le32 (head + 28, plen);
  put_le32 (head + 32, pcrc);
  put_le32 (head + 36, img_crc32 (head, 36));
  if (buf_add (b, head, sizeof head) < 0
      || (plen && buf_add (b, payload, plen) < 0))
    return -ENOMEM;
  return 0;
}

/* ---- reading an undo file --------------------------------------------- */

struct hdisk {
  char *path;
  uint64_t size;
  char format[17];
};

struct ufile {
  int fd;
  uint64_t file_size;
  uint32_t header_len;
  uint32_t chunk;
  uint64_t created;
  size_t n_disks;
  struct hdisk *disks;
  int state;                    /* 0: header incomplete */
  uint64_t end;                 /* end of the last valid record */
  unsigned char *post;          /* last POST payload (malloc'd) */
  uint32_t post_len;
  uint64_t n_data;
  uint32_t n_segments;          /* runs: a STATE running starts one */
};

static void
ufile_free (struct ufile *u)
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

typedef int (*rec_fn) (void *data, uint32_t seg, uint32_t disk,
                       uint32_t flags,
                       uint64_t offset, uint32_t length,
                       const unsigned char *payload);

/* Reads the header and walks the records (calling FN for each DATA
 * record, if FN) up to the first torn or corrupt one. */
static int
ufile_read (struct img_ctx *ctx, const char *path, int oflags,
            struct ufile *u, rec_fn fn, void *fn_data)
{
  unsigned char fixed[HDR_FIXED], head[REC_HEAD];
  CLEANUP_FREE unsigned char *hdr = NULL;
  unsigned char *payload = NULL;
  struct stat st;
  size_t got, i, p;
  uint64_t off;
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
  r = img_internal_pread_all (u->fd, fixed, sizeof fixed, 0, &got);
  if (r < 0) {
    img_err (ctx, r, "%s: undo: cannot read: %s", path, strerror (-r));
    goto err;
  }
  if (got >= 8 && memcmp (fixed, UNDO_MAGIC, 8) != 0) {
    r = img_err (ctx, -EINVAL, "%s: undo: not an img-tools undo file", path);
    goto err;
  }
  if (got < sizeof fixed)
    return 0;                   /* cut short while being created */
  if (get_le32 (fixed + 8) != UNDO_VERSION) {
    r = img_err (ctx, -EINVAL, "%s: undo: unsupported version %u", path,
                 get_le32 (fixed + 8));
    goto err;
  }
  u->header_len = get_le32 (fixed + 12);
  u->chunk = get_le32 (fixed + 16);
  u->n_disks = get_le32 (fixed + 20);
  u->created = get_le64 (fixed + 24);
  if (u->header_len < HDR_FIXED + 4 || u->header_len > HDR_MAX
      || u->n_disks == 0 || u->n_disks > MAX_DISKS
      || u->chunk != IMG_UNDO_CHUNK) {
    r = img_err (ctx, -EINVAL, "%s: undo: corrupt header", path);
    goto err;
  }
  if (u->file_size < u->header_len) {
    u->n_disks = 0;
    return 0;                   /* cut short while being created */
  }
  hdr = malloc (u->header_len);
  if (hdr == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto err;
  }
  r = img_internal_pread_all (u->fd, hdr, u->header_len, 0, &got);
  if (r < 0 || got != u->header_len) {
    r = img_err (ctx, r < 0 ? r : -EIO, "%s: undo: cannot read the header", path);
    goto err;
  }
  if (img_crc32 (hdr, u->header_len - 4) != get_le32 (hdr + u->header_len - 4)) {
    r = img_err (ctx, -EINVAL, "%s: undo: header checksum mismatch", path);
    goto err;
  }
  u->disks = calloc (u->n_disks, sizeof *u->disks);
  if (u->disks == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto err;
  }
  for (i = 0, p = HDR_FIXED; i < u->n_disks; i++) {
    uint32_t plen;
    if (p + HDR_DISK_FIXED > u->header_len - 4)
      goto bad_header;
    u->disks[i].size = get_le64 (hdr + p);
    memcpy (u->disks[i].format, hdr + p + 8, 16);
    plen = get_le32 (hdr + p + 24);
    p += HDR_DISK_FIXED;
    if (plen == 0 || plen > u->header_len - 4 - p)
      goto bad_header;
    u->disks[i].path = strndup ((const char *) hdr + p, plen);
    if (u->disks[i].path == NULL) {
      r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
      goto err;
    }
    p += plen;
  }

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

 bad_header:
  r = img_err (ctx, -EINVAL, "%s: undo: corrupt header", path);
  goto err;
 bad_record:
  r = img_err (ctx, -EINVAL, "%s: undo: corrupt record at offset %" PRIu64,
               path, off);
 err:
  free (payload);
  ufile_free (u);
  return r;
}

int
img_undo_state (struct img_ctx *ctx, const char *path, int *state)
{
  struct ufile u;
  int r;

  r = ufile_read (ctx, path, O_RDONLY, &u, NULL, NULL);
  if (r < 0)
    return r;
  *state = u.state;
  ufile_free (&u);
  return 0;
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
static int
check_identity (struct img_ctx *ctx, const char *path, const struct hdisk *h,
                struct img_disk *disk)
{
  if (img_disk_size (disk) != h->size
      || strcmp (img_disk_format (disk), h->format) != 0)
    return img_err (ctx, -EINVAL,
                    "%s: undo: %s is not the image this undo file was made for (%s, %" PRIu64 " bytes; it was %s, %" PRIu64 " bytes)",
                    path, img_disk_name (disk), img_disk_format (disk),
                    img_disk_size (disk), h->format, h->size);
  return 0;
}

static uint64_t
chunk_len (struct img_disk *disk, uint64_t off)
{
  uint64_t size = img_disk_size (disk);
  return size - off < IMG_UNDO_CHUNK ? size - off : IMG_UNDO_CHUNK;
}

/* Whether every chunk listed in POST still holds what the run left. */
static int
verify_post (struct img_ctx *ctx, const char *path, struct img_disk **disks,
             size_t n_disks, const unsigned char *post, uint32_t post_len)
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
    len = chunk_len (disks[d], off);
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

/* ---- recording -------------------------------------------------------- */

struct udisk {
  struct img_undo *undo;
  struct img_disk *disk;
  char *name;
  uint64_t size;
  char format[17];
};

struct img_undo {
  struct img_ctx *ctx;
  char *path;
  int fd;                       /* -1 until the first write */
  bool appending;               /* the file exists (from an earlier run) */
  bool started;                 /* STATE running appended in this run */
  size_t n_disks;
  struct udisk *disks;
  struct keyset saved;          /* chunks saved by this run */
  struct keyset all;            /* ... and by the earlier runs appended to */
  uint64_t bytes;
  unsigned char *chunk;         /* scratch, one chunk */
};

static int
create_file (struct img_undo *u)
{
  struct buf b = { 0 };
  uint64_t created = (uint64_t) time (NULL);
  size_t i;
  int r;

  u->fd = open (u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (u->fd == -1) {
    r = -errno;
    return img_err (u->ctx, r, "%s: undo: cannot create the undo file: %s",
                    u->path, strerror (-r));
  }
  if (flock (u->fd, LOCK_EX | LOCK_NB) == -1)
    img_dbg (u->ctx, "%s: undo: cannot lock: %m", u->path);
  r = buf_add (&b, UNDO_MAGIC, 8);
  r |= buf_u32 (&b, UNDO_VERSION);
  r |= buf_u32 (&b, 0);         /* header_len, patched below */
  r |= buf_u32 (&b, IMG_UNDO_CHUNK);
  r |= buf_u32 (&b, u->n_disks);
  r |= buf_u64 (&b, created);
  for (i = 0; i < u->n_disks; i++) {
    char fmt[16] = { 0 };
    memcpy (fmt, u->disks[i].format, strnlen (u->disks[i].format, sizeof fmt));
    r |= buf_u64 (&b, u->disks[i].size);
    r |= buf_add (&b, fmt, sizeof fmt);
    r |= buf_u32 (&b, strlen (u->disks[i].name));
    r |= buf_add (&b, u->disks[i].name, strlen (u->disks[i].name));
  }
  if (r == 0)
    put_le32 (b.p + 12, b.len + 4);
  r |= buf_u32 (&b, 0);
  if (r) {
    free (b.p);
    return img_err (u->ctx, -ENOMEM, "%s: undo: out of memory", u->path);
  }
  put_le32 (b.p + b.len - 4, img_crc32 (b.p, b.len - 4));
  r = img_internal_write_all (u->fd, b.p, b.len);
  free (b.p);
  if (r == 0 && fdatasync (u->fd) == -1)
    r = -errno;
  if (r == 0)
    r = fsync_parent (u->path);
  if (r < 0)
    return img_err (u->ctx, r, "%s: undo: cannot write the undo file: %s",
                    u->path, strerror (-r));
  return 0;
}

/* Appends B to the file and makes it durable. */
static int
append_sync (struct img_undo *u, const struct buf *b)
{
  int r;

  r = img_internal_write_all (u->fd, b->p, b->len);
  if (r == 0 && fdatasync (u->fd) == -1)
    r = -errno;
  if (r < 0)
    return img_err (u->ctx, r, "%s: undo: cannot write the undo file: %s",
                    u->path, strerror (-r));
  return 0;
}

/* The hook: save the chunks [OFFSET, OFFSET+LEN) touches that were not
 * saved before, durably, before the write goes on. */
static int
undo_hook (void *data, struct img_disk *disk, uint64_t offset, size_t len)
{
  struct udisk *ud = data;
  struct img_undo *u = ud->undo;
  size_t di = ud - u->disks;
  uint64_t c, first, last;
  struct buf b = { 0 };
  int r = 0;

  if (len == 0)
    return 0;
  first = offset / IMG_UNDO_CHUNK;
  last = (offset + len - 1) / IMG_UNDO_CHUNK;
  for (c = first; c <= last; c++) {
    uint64_t off = c * IMG_UNDO_CHUNK;
    uint32_t clen;
    bool zero;

    if (keyset_has (&u->saved, KEY (di, c)))
      continue;
    clen = chunk_len (disk, off);
    r = img_disk_pread (disk, u->chunk, clen, off);
    if (r < 0)
      goto out;
    zero = img_internal_all_zero (u->chunk, clen);
    if (b.len == 0 && u->fd >= 0 && !u->started
        && rec_add (&b, REC_STATE, 0, 0, IMG_UNDO_RUNNING, 0, NULL, 0) < 0)
      goto oom;
    if (rec_add (&b, REC_DATA, di, zero ? REC_FLAG_ZERO : 0, off, clen,
                 u->chunk, zero ? 0 : clen) < 0)
      goto oom;
  }
  if (b.len == 0)
    goto out;
  if (u->fd < 0) {
    r = create_file (u);
    if (r < 0)
      goto out;
  }
  r = append_sync (u, &b);
  if (r < 0)
    goto out;
  u->started = true;
  for (c = first; c <= last; c++)
    if (!keyset_has (&u->saved, KEY (di, c))) {
      if (keyset_add (&u->saved, KEY (di, c)) < 0
          || keyset_add (&u->all, KEY (di, c)) < 0)
        goto oom;
      u->bytes += chunk_len (disk, c * IMG_UNDO_CHUNK);
    }
  goto out;

 oom:
  r = img_err (u->ctx, -ENOMEM, "%s: undo: out of memory", u->path);
 out:
  free (b.p);
  return r;
}

static int
load_key (void *data, uint32_t seg, uint32_t disk, uint32_t flags,
          uint64_t offset, uint32_t length, const unsigned char *payload)
{
  struct img_undo *u = data;

  return keyset_add (&u->all, KEY (disk, offset / IMG_UNDO_CHUNK));
}

/* Reopens an existing complete undo file for appending. */
static int
reopen (struct img_undo *u)
{
  struct ufile f;
  struct img_disk *disks[MAX_DISKS];
  size_t i;
  int r;

  r = ufile_read (u->ctx, u->path, O_RDWR, &f, load_key, u);
  if (r < 0)
    return r;
  if (f.state != IMG_UNDO_COMPLETE) {
    r = img_err (u->ctx, -EEXIST,
                 "%s: undo: an undo file in state %s is in the way; roll it back or remove it first",
                 u->path, img_undo_state_name (f.state));
    goto out;
  }
  if (f.n_disks != u->n_disks) {
    r = img_err (u->ctx, -EINVAL,
                 "%s: undo: the undo file records %zu images, this run has %zu",
                 u->path, f.n_disks, u->n_disks);
    goto out;
  }
  for (i = 0; i < f.n_disks; i++) {
    r = check_identity (u->ctx, u->path, &f.disks[i], u->disks[i].disk);
    if (r < 0)
      goto out;
    disks[i] = u->disks[i].disk;
  }
  r = verify_post (u->ctx, u->path, disks, f.n_disks, f.post, f.post_len);
  if (r < 0)
    goto out;
  /* Drop a torn tail so that what we append is found. */
  if (f.end < f.file_size && ftruncate (f.fd, f.end) == -1) {
    r = img_err (u->ctx, -errno, "%s: undo: cannot truncate: %m", u->path);
    goto out;
  }
  if (lseek (f.fd, f.end, SEEK_SET) == -1) {
    r = img_err (u->ctx, -errno, "%s: undo: cannot seek: %m", u->path);
    goto out;
  }
  u->fd = f.fd;
  f.fd = -1;
  u->appending = true;
 out:
  ufile_free (&f);
  return r;
}

void
img_undo_free (struct img_undo *u)
{
  size_t i;

  if (u == NULL)
    return;
  if (u->fd >= 0)
    close (u->fd);
  for (i = 0; i < u->n_disks; i++)
    free (u->disks[i].name);
  free (u->disks);
  keyset_free (&u->saved);
  keyset_free (&u->all);
  free (u->chunk);
  free (u->path);
  free (u);
}

int
img_undo_begin (struct img_ctx *ctx, const char *path,
                struct img_disk *const *disks, size_t n_disks, bool append,
                struct img_undo **undop)
{
  struct img_undo *u;
  size_t i;
  int r;

  if (n_disks == 0 || n_disks > MAX_DISKS)
    return img_err (ctx, -EINVAL, "%s: undo: %zu images (1 to %d supported)",
                    path, n_disks, MAX_DISKS);
  u = calloc (1, sizeof *u);
  if (u == NULL)
    return img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
  u->ctx = ctx;
  u->fd = -1;
  u->path = strdup (path);
  u->disks = calloc (n_disks, sizeof *u->disks);
  u->chunk = malloc (IMG_UNDO_CHUNK);
  if (u->path == NULL || u->disks == NULL || u->chunk == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto err;
  }
  u->n_disks = n_disks;
  for (i = 0; i < n_disks; i++) {
    struct udisk *ud = &u->disks[i];
    char *real = realpath (img_disk_name (disks[i]), NULL);

    ud->undo = u;
    ud->disk = disks[i];
    ud->name = real ? real : strdup (img_disk_name (disks[i]));
    if (ud->name == NULL) {
      r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
      goto err;
    }
    ud->size = img_disk_size (disks[i]);
    snprintf (ud->format, sizeof ud->format, "%s", img_disk_format (disks[i]));
  }

  if (access (path, F_OK) == 0) {
    if (!append) {
      r = img_err (ctx, -EEXIST, "%s: undo: the undo file exists already",
                   path);
      goto err;
    }
    r = reopen (u);
    if (r < 0)
      goto err;
  }
  else if (errno != ENOENT) {
    r = img_err (ctx, -errno, "%s: undo: %m", path);
    goto err;
  }

  for (i = 0; i < n_disks; i++) {
    r = img_disk_set_write_hook (disks[i], undo_hook, &u->disks[i]);
    if (r < 0) {
      while (i-- > 0)
        img_disk_set_write_hook (disks[i], NULL, NULL);
      goto err;
    }
  }
  *undop = u;
  return 0;

 err:
  img_undo_free (u);
  return r;
}

bool
img_undo_written (const struct img_undo *u)
{
  return u->started;
}

uint64_t
img_undo_bytes (const struct img_undo *u)
{
  return u->bytes;
}

const char *
img_undo_path (const struct img_undo *u)
{
  return u->path;
}

static int commit_on (struct img_undo *u, struct img_disk **disks);

int
img_undo_commit (struct img_undo *u)
{
  struct img_disk *disks[MAX_DISKS] = { NULL };
  size_t i;
  int r = 0;

  if (!u->started)
    return 0;                   /* nothing was written in this run */
  for (i = 0; i < u->n_disks && r == 0; i++)
    r = img_disk_open (u->ctx, u->disks[i].name, IMG_DISK_RDONLY, &disks[i]);
  if (r == 0)
    r = commit_on (u, disks);
  for (i = 0; i < u->n_disks; i++)
    img_disk_close (disks[i]);
  return r;
}

int
img_undo_commit_disks (struct img_undo *u, struct img_disk *const *disks,
                       size_t n_disks)
{
  struct img_disk *d[MAX_DISKS] = { NULL };
  size_t i;
  int r;

  if (!u->started)
    return 0;
  if (n_disks != u->n_disks)
    return img_err (u->ctx, -EINVAL, "%s: undo: %zu disks to commit, %zu recorded",
                    u->path, n_disks, u->n_disks);
  for (i = 0; i < n_disks; i++) {
    d[i] = disks[i];
    if ((r = img_disk_flush (d[i])) < 0)
      return r;
  }
  return commit_on (u, d);
}

static int
commit_on (struct img_undo *u, struct img_disk **disks)
{
  struct buf post = { 0 }, b = { 0 };
  size_t i;
  int r = 0;
  for (i = 0; i < u->all.n; i++) {
    uint64_t k = u->all.order[i];
    size_t d = KEY_DISK (k);
    uint64_t off = KEY_CHUNK (k) * IMG_UNDO_CHUNK;
    uint32_t len = chunk_len (disks[d], off);

    r = img_disk_pread (disks[d], u->chunk, len, off);
    if (r < 0)
      goto out;
    if (buf_u32 (&post, d) < 0 || buf_u64 (&post, off) < 0
        || buf_u32 (&post, img_crc32 (u->chunk, len)) < 0)
      goto oom;
  }
  if (post.len > MAX_PAYLOAD) {
    r = img_err (u->ctx, -EFBIG, "%s: undo: too many chunks written", u->path);
    goto out;
  }
  if (rec_add (&b, REC_POST, 0, 0, 0, 0, post.p, post.len) < 0
      || rec_add (&b, REC_STATE, 0, 0, IMG_UNDO_COMPLETE, 0, NULL, 0) < 0)
    goto oom;
  r = append_sync (u, &b);
  goto out;

 oom:
  r = img_err (u->ctx, -ENOMEM, "%s: undo: out of memory", u->path);
 out:
  free (post.p);
  free (b.p);
  return r;
}

/* ---- rolling back ----------------------------------------------------- */

struct rb {
  struct img_ctx *ctx;
  const char *path;
  struct img_disk **disks;
  struct keyset done;
  uint32_t from_seg;
  unsigned char zero[IMG_UNDO_CHUNK];
  uint64_t bytes;
};

static int
apply_record (void *data, uint32_t seg, uint32_t disk, uint32_t flags,
              uint64_t offset, uint32_t length, const unsigned char *payload)
{
  struct rb *rb = data;
  uint64_t k = KEY (disk, offset / IMG_UNDO_CHUNK);
  int r;

  if (seg < rb->from_seg)
    return 0;
  /* Only the first record of a chunk holds its original bytes. */
  if (keyset_has (&rb->done, k))
    return 0;
  r = img_disk_pwrite (rb->disks[disk],
                       (flags & REC_FLAG_ZERO) ? rb->zero : payload,
                       length, offset);
  if (r < 0)
    return r;
  rb->bytes += length;
  if (keyset_add (&rb->done, k) < 0)
    return img_err (rb->ctx, -ENOMEM, "%s: undo: out of memory", rb->path);
  return 0;
}

/* `qemu-img check` on a non-raw image after we wrote it, under the
 * disk's pinned name (SPEC): it opens no file the open did not allow. */
static int
qemu_img_check (struct img_ctx *ctx, const char *image, const char *spec)
{
  const char *argv[] = { QEMU_IMG, "check", "-q", "--", spec, NULL };
  char out[1024], err[1024];
  int status;

  status = img_internal_run_capture (argv, out, sizeof out, err, sizeof err);
  if (status < 0 || (WIFEXITED (status) && WEXITSTATUS (status) == 127)) {
    img_warn (ctx, "%s: undo: cannot run qemu-img check", image);
    return 0;
  }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 3) {
    img_warn (ctx, "%s: undo: qemu-img check found leaked clusters (harmless; `qemu-img check -r leaks` reclaims them)", image);
    return 0;
  }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return img_err (ctx, -EIO, "%s: undo: qemu-img check reports errors after the rollback", image);
  return 0;
}

/* An undo file says what to write where: only one the caller (or root)
 * owns, that nobody else may write, is trusted with that. */
static int
check_undo_file (struct img_ctx *ctx, const char *path, int fd)
{
  struct stat st, lst;

  if (fstat (fd, &st) == -1)
    return img_err (ctx, -errno, "%s: undo: cannot stat: %m", path);
  if (lstat (path, &lst) == -1 || S_ISLNK (lst.st_mode))
    return img_err (ctx, -EPERM, "%s: undo: is a symlink; refusing it", path);
  if (!S_ISREG (st.st_mode))
    return img_err (ctx, -EPERM, "%s: undo: not a regular file; refusing it", path);
  if (st.st_uid != geteuid () && st.st_uid != 0)
    return img_err (ctx, -EPERM, "%s: undo: owned by uid %u, not by you; refusing it",
                    path, (unsigned) st.st_uid);
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return img_err (ctx, -EPERM, "%s: undo: group or world writable; refusing it", path);
  return 0;
}

int
img_undo_rollback (struct img_ctx *ctx, const char *path,
                   const char *const *images, size_t n_images,
                   unsigned flags)
{
  struct img_disk *disks[MAX_DISKS] = { NULL };
  char *specs[MAX_DISKS] = { NULL };
  struct ufile f;
  struct rb *rb = NULL;
  struct buf b = { 0 };
  uint32_t from_seg;
  size_t i;
  int r, r2;

  r = ufile_read (ctx, path, O_RDWR, &f, NULL, NULL);
  if (r == -ENOENT)
    return img_err (ctx, r, "%s: undo: no such undo file", path);
  if (r < 0)
    return r;
  if (f.state == 0) {
    img_info (ctx, "%s: undo: the run stopped before its first write; the image was never changed", path);
    r = 1;
    goto out;
  }
  if (f.state == IMG_UNDO_ROLLED_BACK) {
    img_info (ctx, "%s: undo: already rolled back", path);
    r = 1;
    goto out;
  }
  if ((flags & IMG_UNDO_LAST_RUN) && f.state != IMG_UNDO_RUNNING) {
    r = img_err (ctx, -EINVAL, "%s: undo: the last run completed; only a full rollback is possible", path);
    goto out;
  }
  from_seg = (flags & IMG_UNDO_LAST_RUN) ? f.n_segments - 1 : 0;
  if (images && n_images != f.n_disks) {
    r = img_err (ctx, -EINVAL, "%s: undo: the undo file records %zu images, %zu given",
                 path, f.n_disks, n_images);
    goto out;
  }
  r = check_undo_file (ctx, path, f.fd);
  if (r < 0)
    goto out;
  for (i = 0; i < f.n_disks; i++) {
    /* The image as the record names it: its recorded format, never a
     * guess, and a regular file or block device, never a symlink. */
    struct img_disk_opts o = *img_internal_ctx_disk_opts (ctx);
    const char *img = images ? images[i] : f.disks[i].path;
    struct stat lst;

    if (lstat (img, &lst) == -1) {
      r = img_err (ctx, -errno, "%s: undo: %s: %m", path, img);
      goto out;
    }
    if (!S_ISREG (lst.st_mode) && !S_ISBLK (lst.st_mode)) {
      r = img_err (ctx, -EPERM, "%s: undo: %s is not a regular file or block device (a symlink?); refusing to write to it",
                   path, img);
      goto out;
    }
    o.format = f.disks[i].format;
    if (!img_internal_format_known (o.format)) {
      r = img_err (ctx, -EINVAL, "%s: undo: corrupt header (format)", path);
      goto out;
    }
    r = img_disk_open_opts (ctx, img, IMG_DISK_RDWR, &o, &disks[i]);
    if (r < 0)
      goto out;
    if (img_disk_qemu_name (disks[i])
        && (specs[i] = strdup (img_disk_qemu_name (disks[i]))) == NULL) {
      r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
      goto out;
    }
    r = check_identity (ctx, path, &f.disks[i], disks[i]);
    if (r < 0)
      goto out;
  }
  if (f.state == IMG_UNDO_COMPLETE && f.post && !(flags & IMG_UNDO_FORCE)) {
    r = verify_post (ctx, path, disks, f.n_disks, f.post, f.post_len);
    if (r < 0)
      goto out;
  }
  ufile_free (&f);

  rb = calloc (1, sizeof *rb);
  if (rb == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto out;
  }
  rb->ctx = ctx;
  rb->path = path;
  rb->disks = disks;
  rb->from_seg = from_seg;
  r = ufile_read (ctx, path, O_RDWR, &f, apply_record, rb);
  if (r < 0)
    goto out;
  for (i = 0; i < f.n_disks; i++) {
    r2 = img_disk_close (disks[i]);
    disks[i] = NULL;
    if (r2 < 0 && r == 0)
      r = r2;
  }
  if (r < 0)
    goto out;
  img_dbg (ctx, "%s: undo: restored %" PRIu64 " bytes", path, rb->bytes);
  for (i = 0; i < f.n_disks; i++) {
    const char *img = images ? images[i] : f.disks[i].path;
    if (specs[i] && (r = qemu_img_check (ctx, img, specs[i])) < 0)
      goto out;
  }
  /* Only now is the image as it was: say so, durably, after the torn
   * tail if any (cut off so the record is found). */
  if ((f.end < f.file_size && ftruncate (f.fd, f.end) == -1)
      || lseek (f.fd, f.end, SEEK_SET) == -1) {
    r = img_err (ctx, -errno, "%s: undo: cannot update the undo file: %m", path);
    goto out;
  }
  /* Undoing the last of several runs leaves the image as the one before
   * left it, which the last POST record describes. */
  if (rec_add (&b, REC_STATE, 0, 0,
               from_seg > 0 ? IMG_UNDO_COMPLETE : IMG_UNDO_ROLLED_BACK, 0,
               NULL, 0) < 0) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto out;
  }
  r = img_internal_write_all (f.fd, b.p, b.len);
  if (r == 0 && fdatasync (f.fd) == -1)
    r = -errno;
  if (r < 0)
    img_err (ctx, r, "%s: undo: cannot update the undo file: %s", path,
             strerror (-r));

 out:
  for (i = 0; i < MAX_DISKS; i++) {
    img_disk_close (disks[i]);
    free (specs[i]);
  }
  if (rb)
    keyset_free (&rb->done);
  free (rb);
  free (b.p);
  ufile_free (&f);
  return r;
}
