/* The undo record: before the first write to each 4 KiB chunk of a disk
 * reaches the image, the chunk's original bytes are appended to the undo
 * file and fdatasync'd (write-ahead), so that whatever happens to the run
 * (an error, SIGKILL, a power cut after the file system's own ordering),
 * a rollback can put every byte back.  The format is in img-undo.h; the
 * file's reading in undo-file.c, the rollback in undo-rollback.c. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/fdio.h"
#include "disk/undo-private.h"

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

/* A new file in the directory of PATH that nobody can see yet: 0 and
 * *FD (and *TMP, a name to unlink once published, or NULL) or -errno. */
static int
open_unpublished (const char *path, int *fd, char **tmp)
{
  CLEANUP_FREE char *copy = strdup (path);

  *tmp = NULL;
  if (copy == NULL)
    return -ENOMEM;
  *fd = open (dirname (copy), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (*fd >= 0)
    return 0;
  /* No O_TMPFILE on this file system: a named one, removed after. */
  if (asprintf (tmp, "%s.XXXXXX", path) == -1) {
    *tmp = NULL;
    return -ENOMEM;
  }
  *fd = mkostemp (*tmp, O_CLOEXEC);
  if (*fd >= 0)
    return 0;
  free (*tmp);
  *tmp = NULL;
  return -errno;
}

/* Gives the file FD (named TMP, or nameless) the name PATH, unless PATH
 * exists: 0 or -errno. */
static int
publish (int fd, const char *tmp, const char *path)
{
  char proc[64];
  int r = 0;

  if (tmp) {
    if (link (tmp, path) == -1)
      r = -errno;
    unlink (tmp);
    return r;
  }
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat (AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
    return 0;
  if (errno == EEXIST)
    return -EEXIST;
  return linkat (fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0 ? 0 : -errno;
}

/* The file appears under its name complete (header written, durable)
 * and already locked: another run never sees it half-made or unlocked
 * while this one lives. */
static int
create_file (struct img_undo *u)
{
  struct buf b = { 0 };
  uint64_t created = (uint64_t) time (NULL);
  char *tmp = NULL;
  size_t i;
  int r;

  r = img_internal_undo_buf_add (&b, UNDO_MAGIC, 8);
  r |= img_internal_undo_buf_u32 (&b, UNDO_VERSION);
  r |= img_internal_undo_buf_u32 (&b,
                                  0);         /* header_len, patched below */
  r |= img_internal_undo_buf_u32 (&b, IMG_UNDO_CHUNK);
  r |= img_internal_undo_buf_u32 (&b, u->n_disks);
  r |= img_internal_undo_buf_u64 (&b, created);
  for (i = 0; i < u->n_disks; i++) {
    char fmt[16] = { 0 };
    memcpy (fmt, u->disks[i].format, strnlen (u->disks[i].format, sizeof fmt));
    r |= img_internal_undo_buf_u64 (&b, u->disks[i].size);
    r |= img_internal_undo_buf_add (&b, fmt, sizeof fmt);
    r |= img_internal_undo_buf_u32 (&b, strlen (u->disks[i].name));
    r |= img_internal_undo_buf_add (&b, u->disks[i].name,
                                    strlen (u->disks[i].name));
  }
  if (r == 0)
    img_internal_undo_put_le32 (b.p + 12, b.len + 4);
  r |= img_internal_undo_buf_u32 (&b, 0);
  if (r) {
    free (b.p);
    return img_err (u->ctx, -ENOMEM, "%s: undo: out of memory", u->path);
  }
  img_internal_undo_put_le32 (b.p + b.len - 4, img_crc32 (b.p, b.len - 4));

  r = open_unpublished (u->path, &u->fd, &tmp);
  if (r < 0) {
    free (b.p);
    return img_err (u->ctx, r, "%s: undo: cannot create the undo file: %s",
                    u->path, strerror (-r));
  }
  if (flock (u->fd, LOCK_EX | LOCK_NB) == -1)
    img_dbg (u->ctx, "%s: undo: cannot lock: %m", u->path);
  r = img_internal_write_all (u->fd, b.p, b.len);
  free (b.p);
  if (r == 0 && fdatasync (u->fd) == -1)
    r = -errno;
  if (r < 0) {
    if (tmp)
      unlink (tmp);
    free (tmp);
    close (u->fd);
    u->fd = -1;
    return img_err (u->ctx, r, "%s: undo: cannot write the undo file: %s",
                    u->path, strerror (-r));
  }
  r = publish (u->fd, tmp, u->path);
  free (tmp);
  if (r < 0) {
    close (u->fd);
    u->fd = -1;
    return img_err (u->ctx, r, "%s: undo: cannot create the undo file: %s",
                    u->path, strerror (-r));
  }
  r = img_internal_undo_fsync_parent (u->path);
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

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

  return x < y ? -1 : x > y;
}

/* Saves the chunks the N RANGES of disk UD touch that were not saved
 * before, all behind one barrier, before any of their writes goes on. */
static int
save_ranges (struct udisk *ud, const struct img_internal_range *ranges, size_t n)
{
  struct img_undo *u = ud->undo;
  size_t di = ud - u->disks;
  uint64_t *todo = NULL;
  size_t n_todo = 0, cap = 0, i, j;
  struct buf b = { 0 };
  int r = 0;

  /* The chunks to save, in order, each once. */
  for (i = 0; i < n; i++) {
    uint64_t c, first, last;

    if (ranges[i].len == 0)
      continue;
    first = ranges[i].offset / IMG_UNDO_CHUNK;
    last = (ranges[i].offset + ranges[i].len - 1) / IMG_UNDO_CHUNK;
    for (c = first; c <= last; c++) {
      if (img_internal_undo_keyset_has (&u->saved, KEY (di, c)))
        continue;
      if (n_todo == cap) {
        uint64_t *nt;

        cap = cap ? 2 * cap : 64;
        nt = reallocarray (todo, cap, sizeof *todo);
        if (nt == NULL)
          goto oom;
        todo = nt;
      }
      todo[n_todo++] = c;
    }
  }
  if (n_todo == 0)
    goto out;
  qsort (todo, n_todo, sizeof *todo, cmp_u64);
  for (i = j = 0; i < n_todo; i++)
    if (j == 0 || todo[i] != todo[j - 1])
      todo[j++] = todo[i];
  n_todo = j;

  if (u->fd >= 0 && !u->started
      && img_internal_undo_rec_add (&b, REC_STATE, 0, 0, IMG_UNDO_RUNNING, 0,
                                    NULL, 0) < 0)
    goto oom;
  for (i = 0; i < n_todo; i++) {
    uint64_t off = todo[i] * IMG_UNDO_CHUNK;
    uint32_t clen = img_internal_undo_chunk_len (ud->disk, off);
    bool zero;

    r = img_disk_pread (ud->disk, u->chunk, clen, off);
    if (r < 0)
      goto out;
    zero = img_internal_all_zero (u->chunk, clen);
    if (img_internal_undo_rec_add (&b, REC_DATA, di, zero ? REC_FLAG_ZERO : 0,
                                   off, clen, u->chunk, zero ? 0 : clen) < 0)
      goto oom;
  }
  if (u->fd < 0) {
    r = create_file (u);
    if (r < 0)
      goto out;
  }
  r = append_sync (u, &b);
  if (r < 0)
    goto out;
  u->started = true;
  for (i = 0; i < n_todo; i++) {
    if (img_internal_undo_keyset_add (&u->saved, KEY (di, todo[i])) < 0
        || img_internal_undo_keyset_add (&u->all, KEY (di, todo[i])) < 0)
      goto oom;
    u->bytes += img_internal_undo_chunk_len (ud->disk,
                                             todo[i] * IMG_UNDO_CHUNK);
  }
  goto out;

 oom:
  r = img_err (u->ctx, -ENOMEM, "%s: undo: out of memory", u->path);
 out:
  free (todo);
  free (b.p);
  return r;
}

/* The write hook: a write of [OFFSET, OFFSET+LEN) is about to go on. */
static int
undo_hook (void *data, struct img_disk *disk, uint64_t offset, size_t len)
{
  struct img_internal_range range = { offset, len };

  return save_ranges (data, &range, 1);
}

/* The batch hook: img_internal_disk_will_write's ranges, saved in one go. */
static int
undo_batch_hook (void *data, struct img_disk *disk,
                 const struct img_internal_range *ranges, size_t n)
{
  return save_ranges (data, ranges, n);
}

static int
load_key (void *data, uint32_t seg, uint32_t disk, uint32_t flags,
          uint64_t offset, uint32_t length, const unsigned char *payload)
{
  struct img_undo *u = data;

  return img_internal_undo_keyset_add (&u->all,
                                       KEY (disk, offset / IMG_UNDO_CHUNK));
}

/* Reopens an existing complete undo file for appending. */
static int
reopen (struct img_undo *u)
{
  struct ufile f;
  struct img_disk *disks[MAX_DISKS];
  size_t i;
  int r;

  r = img_internal_undo_ufile_read (u->ctx, u->path, O_RDWR, &f, load_key, u);
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
    r = img_internal_undo_check_identity (u->ctx, u->path, &f.disks[i],
                                          u->disks[i].disk);
    if (r < 0)
      goto out;
    disks[i] = u->disks[i].disk;
  }
  r = img_internal_undo_verify_post (u->ctx, u->path, disks, f.n_disks, f.post,
                                     f.post_len);
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
  img_internal_undo_ufile_free (&f);
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
  img_internal_undo_keyset_free (&u->saved);
  img_internal_undo_keyset_free (&u->all);
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
    if (r == 0)
      r = img_internal_disk_set_batch_hook (disks[i], undo_batch_hook, &u->disks[i]);
    if (r < 0) {
      img_disk_set_write_hook (disks[i], NULL, NULL);
      while (i-- > 0) {
        img_disk_set_write_hook (disks[i], NULL, NULL);
        img_internal_disk_set_batch_hook (disks[i], NULL, NULL);
      }
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
    uint32_t len = img_internal_undo_chunk_len (disks[d], off);

    r = img_disk_pread (disks[d], u->chunk, len, off);
    if (r < 0)
      goto out;
    if (img_internal_undo_buf_u32 (&post,
                                   d) < 0 || img_internal_undo_buf_u64 (&post, off) < 0
        || img_internal_undo_buf_u32 (&post, img_crc32 (u->chunk, len)) < 0)
      goto oom;
  }
  if (post.len > MAX_PAYLOAD) {
    r = img_err (u->ctx, -EFBIG, "%s: undo: too many chunks written", u->path);
    goto out;
  }
  if (img_internal_undo_rec_add (&b, REC_POST, 0, 0, 0, 0, post.p,
                                 post.len) < 0
      || img_internal_undo_rec_add (&b, REC_STATE, 0, 0, IMG_UNDO_COMPLETE, 0,
                                    NULL, 0) < 0)
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
