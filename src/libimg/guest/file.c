/* The guest's file operations, one path API across its mount points:
 * stat, read, write (atomic: a new file renamed over the old), unlink,
 * rename, mkdir -p, symlink, attributes, readdir, walk.  A call that
 * changes a path tells an overlay below (a plan's) the name the caller
 * used, so the change is logged under it.  The writing calls do nothing
 * when their work is done already, so that a re-run changes nothing. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fdio.h"
#include "cleanup.h"
#include "fs/fs-private.h"
#include "fs/overlay.h"
#include "guest/guest-private.h"

/* Wraps an fs error that has no message of its own. */
static int
path_error (struct img_guest *g, int r, const char *what, const char *path)
{
  if (r < 0 && img_ctx_error (g->ctx)[0] == '\0')
    img_err (g->ctx, r, "guest: %s %s: %s", what, path, strerror (-r));
  return r;
}

/* Resolves PATH, then CALL on its fs and path in it.  An overlay below
 * (a plan's) logs a change CALL makes under the name the caller used. */
#define RESOLVED_CALL(follow, what, call)                               \
  do {                                                                  \
    CLEANUP_FREE char *canon = NULL;                                    \
    struct img_fs *fs;                                                  \
    const char *rel;                                                    \
    int r_;                                                             \
    img_ctx_clear_error (g->ctx);                                       \
    r_ = img_internal_guest_resolve (g, path, (follow), &canon, &fs, &rel); \
    if (r_ < 0)                                                         \
      return r_;                                                        \
    img_internal_overlay_begin (fs, rel, path, NULL, NULL);             \
    r_ = (call);                                                        \
    img_internal_overlay_end (fs);                                      \
    return path_error (g, r_, what, path);                              \
  } while (0)

int
img_guest_stat (struct img_guest *g, const char *path, struct img_stat *st)
{
  RESOLVED_CALL (true, "stat", img_fs_lstat (fs, rel, st));
}

int
img_guest_lstat (struct img_guest *g, const char *path, struct img_stat *st)
{
  RESOLVED_CALL (false, "lstat", img_fs_lstat (fs, rel, st));
}

bool
img_guest_exists (struct img_guest *g, const char *path)
{
  struct img_stat st;

  if (img_guest_lstat (g, path, &st) == 0)
    return true;
  img_ctx_clear_error (g->ctx);
  return false;
}

int
img_guest_readlink (struct img_guest *g, const char *path, char **target)
{
  RESOLVED_CALL (false, "readlink", img_fs_readlink (fs, rel, target));
}

int
img_guest_readdir (struct img_guest *g, const char *path,
                   struct img_dirent **ents, size_t *n)
{
  RESOLVED_CALL (true, "readdir", img_fs_readdir (fs, rel, ents, n));
}

int
img_guest_read_file (struct img_guest *g, const char *path, size_t max,
                     void **buf, size_t *len)
{
  RESOLVED_CALL (true, "read", img_fs_read_file (fs, rel, max, buf, len));
}

int
img_guest_pread (struct img_guest *g, const char *path, void *buf, size_t len,
                 uint64_t off, size_t *got)
{
  RESOLVED_CALL (true, "read", img_fs_pread (fs, rel, buf, len, off, got));
}

int
img_internal_guest_read_admit (struct img_guest *g, const char *path,
                               uint64_t max, uint64_t *size)
{
  RESOLVED_CALL (true, "read", img_internal_fs_read_admit (fs, rel, max, size));
}

int
img_guest_space (struct img_guest *g, const char *path, uint64_t *total,
                 uint64_t *avail)
{
  RESOLVED_CALL (true, "statfs", img_fs_space (fs, total, avail));
}

int
img_guest_xattrs (struct img_guest *g, const char *path, img_xattr_fn fn,
                  void *data)
{
  RESOLVED_CALL (false, "xattrs", img_fs_xattrs (fs, rel, fn, data));
}

int
img_guest_unlink (struct img_guest *g, const char *path)
{
  RESOLVED_CALL (false, "unlink", img_fs_unlink (fs, rel));
}

int
img_guest_rmdir (struct img_guest *g, const char *path)
{
  RESOLVED_CALL (false, "rmdir", img_fs_rmdir (fs, rel));
}

int
img_guest_mkdir (struct img_guest *g, const char *path, uint32_t mode)
{
  RESOLVED_CALL (false, "mkdir", img_fs_mkdir (fs, rel, mode, 0, 0));
}

static int
symlink_new (struct img_guest *g, const char *target, const char *path)
{
  RESOLVED_CALL (false, "symlink", img_fs_symlink (fs, target, rel, 0, 0));
}

int
img_guest_symlink (struct img_guest *g, const char *target, const char *path)
{
  CLEANUP_FREE char *cur = NULL;
  struct img_stat st;
  int r;

  r = img_guest_lstat (g, path, &st);
  if (r == -ENOENT)
    return symlink_new (g, target, path);
  if (r < 0)
    return r;
  if (S_ISLNK (st.mode) && img_guest_readlink (g, path, &cur) == 0
      && strcmp (cur, target) == 0)
    return 0;                   /* made already */
  return img_err (g->ctx, -EEXIST, "guest: symlink %s: exists and is not a link to %s",
                  path, target);
}

int
img_guest_remove (struct img_guest *g, const char *path)
{
  struct img_stat st;
  int r;

  r = img_guest_lstat (g, path, &st);
  if (r == -ENOENT) {
    img_ctx_clear_error (g->ctx);
    return 0;                   /* gone already */
  }
  if (r < 0)
    return r;
  return S_ISDIR (st.mode) ? img_guest_rmdir (g, path) : img_guest_unlink (g, path);
}

int
img_guest_chmod (struct img_guest *g, const char *path, uint32_t mode)
{
  struct img_stat st;

  /* The mode it has already: nothing written (not even the ctime). */
  if (img_guest_stat (g, path, &st) == 0 && (st.mode & 07777) == (mode & 07777))
    return 0;
  RESOLVED_CALL (true, "chmod", img_fs_chmod (fs, rel, mode));
}

int
img_guest_chown (struct img_guest *g, const char *path, uint32_t uid,
                 uint32_t gid)
{
  RESOLVED_CALL (true, "chown", img_fs_chown (fs, rel, uid, gid));
}

int
img_guest_utimes (struct img_guest *g, const char *path, int64_t atime,
                  int64_t mtime)
{
  RESOLVED_CALL (true, "utimes", img_fs_utimes (fs, rel, atime, 0, mtime, 0));
}

int
img_guest_rename (struct img_guest *g, const char *oldpath,
                  const char *newpath)
{
  CLEANUP_FREE char *c1 = NULL;
  CLEANUP_FREE char *c2 = NULL;
  struct img_fs *fs1, *fs2;
  const char *rel1, *rel2;
  int r;

  struct img_stat st;

  r = img_guest_lstat (g, oldpath, &st);
  if (r == -ENOENT) {
    if (img_guest_exists (g, newpath))
      return 0;                 /* moved already */
    return img_err (g->ctx, -ENOENT, "guest: rename %s to %s: neither exists",
                    oldpath, newpath);
  }
  if (r < 0)
    return r;
  r = img_internal_guest_resolve (g, oldpath, false, &c1, &fs1, &rel1);
  if (r < 0)
    return r;
  r = img_internal_guest_resolve (g, newpath, false, &c2, &fs2, &rel2);
  if (r < 0)
    return r;
  if (fs1 != fs2)
    return img_err (g->ctx, -EXDEV, "guest: rename %s to %s: not on the same filesystem",
                    oldpath, newpath);
  img_internal_overlay_begin (fs1, rel1, oldpath, rel2, newpath);
  r = img_fs_rename (fs1, rel1, rel2);
  img_internal_overlay_end (fs1);
  return path_error (g, r, "rename", oldpath);
}

static int
mkdir_p (struct img_guest *g, const char *path, uint32_t mode)
{
  CLEANUP_FREE char *canon = NULL;
  char *p;
  int r;

  img_ctx_clear_error (g->ctx);
  r = img_guest_realpath (g, path, true, &canon);
  if (r == -ENOENT) {
    /* A missing intermediate directory: create the parents first. */
    char *parent = strdup (path), *slash;
    if (parent == NULL)
      return img_err (g->ctx, -ENOMEM, "guest: out of memory");
    slash = strrchr (parent, '/');
    while (slash && slash > parent && slash[-1] == '/')
      slash--;
    if (slash == NULL || slash == parent) {
      free (parent);
      return r;
    }
    *slash = '\0';
    r = mkdir_p (g, parent, mode);
    free (parent);
    if (r < 0)
      return r;
    img_ctx_clear_error (g->ctx);
    r = img_guest_realpath (g, path, true, &canon);
  }
  if (r < 0)
    return r;
  /* canon exists up to its last component. */
  for (p = canon + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      struct img_stat st;
      *p = '\0';
      r = img_internal_guest_lstat_canon (g, canon, &st);
      if (r == -ENOENT) {
        struct img_fs *fs;
        const char *rel;
        r = img_internal_guest_map (g, canon, &fs, &rel);
        if (r == 0)
          r = img_fs_mkdir (fs, rel, mode, 0, 0);
      }
      else if (r == 0 && !S_ISDIR (st.mode))
        r = img_err (g->ctx, -ENOTDIR, "guest: mkdir -p %s: %s is not a directory", path, canon);
      *p = saved;
      if (r < 0)
        return path_error (g, r, "mkdir", path);
      if (saved == '\0')
        break;
    }
  }
  return 0;
}

/* The directories one mkdir -p makes are one change, named for PATH as
 * the caller wrote it. */
int
img_guest_mkdir_p (struct img_guest *g, const char *path, uint32_t mode)
{
  CLEANUP_FREE char *canon = NULL;
  struct img_fs *fs;
  const char *rel;
  size_t i;
  int r;

  for (i = 0; i < g->n_mounts; i++)
    img_internal_overlay_begin (g->mounts[i].fs, NULL, NULL, NULL, NULL);
  r = mkdir_p (g, path, mode);
  if (r == 0)
    r = img_internal_guest_resolve (g, path, true, &canon, &fs, &rel);
  if (r == 0)
    r = img_internal_overlay_name (fs, rel, path);
  for (i = 0; i < g->n_mounts; i++)
    img_internal_overlay_end (g->mounts[i].fs);
  return r;
}

/* What a file is written from: a buffer, or a host file read a chunk at
 * a time (never mapped or held whole: a 200 MB archive costs a chunk). */
struct source {
  const unsigned char *buf;     /* or NULL: FD */
  int fd;
  unsigned char *chunk;         /* for FD */
};

#define CHUNK ((size_t) 1 << 20)

/* The LEN (<= CHUNK) bytes of SRC at OFF: *p. */
static int
source_at (struct source *src, uint64_t off, size_t len, const unsigned char **p)
{
  size_t got;
  int r;

  if (src->buf) {
    *p = src->buf + off;
    return 0;
  }
  if (src->chunk == NULL && (src->chunk = malloc (CHUNK)) == NULL)
    return -ENOMEM;
  if ((r = img_internal_pread_all (src->fd, src->chunk, len, off, &got)) < 0)
    return r;
  if (got != len)
    return -EIO;                /* the host file shrank */
  *p = src->chunk;
  return 0;
}

/* 1 when the file REL holds exactly SRC's LEN bytes (its size checked
 * by the caller), 0 when not, -errno: read a chunk at a time, so that a
 * big file is never held whole. */
static int
same_bytes (struct img_fs *fs, const char *rel, struct source *src, uint64_t len)
{
  CLEANUP_FREE unsigned char *tmp = malloc (len < CHUNK ? (len ? len : 1) : CHUNK);
  const unsigned char *want_p;
  uint64_t off = 0;
  size_t got;
  int r;

  if (tmp == NULL)
    return -ENOMEM;
  while (off < len) {
    size_t want = len - off < CHUNK ? (size_t) (len - off) : CHUNK;
    r = img_fs_pread (fs, rel, tmp, want, off, &got);
    if (r < 0)
      return r;
    if (got != want)
      return 0;
    if ((r = source_at (src, off, want, &want_p)) < 0)
      return r;
    if (memcmp (tmp, want_p, want) != 0)
      return 0;
    off += want;
  }
  return 1;
}

/* SRC's LEN bytes into the new file REL: one write from a buffer, a
 * chunk a write from a host file. */
static int
put_bytes (struct img_fs *fs, const char *rel, struct source *src, uint64_t len)
{
  const unsigned char *p;
  uint64_t off = 0;
  int r;

  if (src->buf)
    return len ? img_fs_pwrite (fs, rel, src->buf, (size_t) len, 0) : 0;
  while (off < len) {
    size_t n = len - off < CHUNK ? (size_t) (len - off) : CHUNK;
    if ((r = source_at (src, off, n, &p)) < 0 || (r = img_fs_pwrite (fs, rel, p, n, off)) < 0)
      return r;
    off += n;
  }
  return 0;
}

static int write_new (struct img_guest *g, const char *path, struct source *src,
                      uint64_t len, uint32_t mode);

int
img_guest_write_file (struct img_guest *g, const char *path, const void *buf,
                      size_t len, uint32_t mode)
{
  struct source src = { .buf = len ? buf : (const unsigned char *) "", .fd = -1 };

  return write_new (g, path, &src, len, mode);
}

int
img_internal_guest_write_fd (struct img_guest *g, const char *path, int fd,
                             uint64_t len, uint32_t mode)
{
  struct source src = { .fd = fd };
  int r = write_new (g, path, &src, len, mode);

  free (src.chunk);
  return r;
}

int
img_internal_guest_same_fd (struct img_guest *g, const char *path, int fd,
                            uint64_t len)
{
  CLEANUP_FREE char *canon = NULL;
  struct source src = { .fd = fd };
  struct img_fs *fs;
  const char *rel;
  struct img_stat st;
  int r;

  if (img_internal_guest_resolve (g, path, true, &canon, &fs, &rel) < 0
      || img_fs_lstat (fs, rel, &st) < 0 || !S_ISREG (st.mode) || st.size != len) {
    img_ctx_clear_error (g->ctx);
    return 0;
  }
  r = same_bytes (fs, rel, &src, len);
  free (src.chunk);
  if (r < 0)
    img_ctx_clear_error (g->ctx);
  return r == 1;
}

static int
write_new (struct img_guest *g, const char *path, struct source *src,
           uint64_t len, uint32_t mode)
{
  CLEANUP_FREE char *canon = NULL;
  CLEANUP_FREE char *tmp = NULL;
  struct img_fs *fs;
  const char *rel, *base;
  struct img_stat st;
  uint32_t uid = 0, gid = 0;
  int r, attempt;

  img_ctx_clear_error (g->ctx);
  r = img_internal_guest_resolve (g, path, true, &canon, &fs, &rel);
  if (r < 0)
    return r;
  r = img_fs_lstat (fs, rel, &st);
  if (r == 0) {
    if (!S_ISREG (st.mode))
      return img_err (g->ctx, -EINVAL, "guest: write %s: not a regular file", path);
    if (st.size == len && (r = same_bytes (fs, rel, src, len)) != 0)
      return r < 0 ? path_error (g, r, "read", path) : 0;       /* done already */
    mode = st.mode & 07777;
    uid = st.uid;
    gid = st.gid;
  }
  else if (r != -ENOENT)
    return path_error (g, r, "write", path);
  mode &= 07777;

  base = strrchr (rel, '/');
  /* A new file, renamed over PATH: an overlay logs one write of PATH. */
  img_internal_overlay_begin (fs, rel, path, NULL, NULL);
  for (attempt = 0; attempt < 100; attempt++) {
    free (tmp);
    if (asprintf (&tmp, "%.*s/.%s.img-tools.%d", (int) (base - rel), rel, base + 1,
                  attempt) < 0) {
      tmp = NULL;
      r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
      goto out;
    }
    r = img_fs_create (fs, tmp, S_IFREG | mode, uid, gid);
    if (r != -EEXIST)
      break;
  }
  if (r < 0) {
    r = path_error (g, r, "create", tmp);
    goto out;
  }
  r = put_bytes (fs, tmp, src, len);
  if (r == 0)
    r = img_fs_chmod (fs, tmp, mode);   /* no umask anywhere here */
  if (r == 0)
    r = img_fs_rename (fs, tmp, rel);
  if (r < 0) {
    int saved = r;
    img_fs_unlink (fs, tmp);
    r = path_error (g, saved, "write", path);
  }
 out:
  img_internal_overlay_end (fs);
  return r;
}

/* In place: the file grows by BUF at AT, its first AT bytes (and its
 * blocks, inode, mode and owner) stay; only the new blocks, the last
 * partial one and the inode are written, which the disk's undo record
 * covers like every other write. */
int
img_internal_guest_append_file (struct img_guest *g, const char *path, uint64_t at,
                                const void *buf, size_t len)
{
  CLEANUP_FREE char *canon = NULL;
  struct img_fs *fs;
  const char *rel;
  struct img_stat st;
  int r;

  img_ctx_clear_error (g->ctx);
  r = img_internal_guest_resolve (g, path, true, &canon, &fs, &rel);
  if (r < 0)
    return r;
  r = img_fs_lstat (fs, rel, &st);
  if (r < 0)
    return path_error (g, r, "append to", path);
  if (!S_ISREG (st.mode))
    return img_err (g->ctx, -EINVAL, "guest: append to %s: not a regular file", path);
  if (len > UINT64_MAX - at)
    return img_err (g->ctx, -EFBIG, "guest: append to %s: too large", path);
  if (st.size == at + len) {
    /* Appended already?  Compared through the same chunked reader as a
     * whole-file write, from AT on. */
    CLEANUP_FREE unsigned char *tmp = malloc (len ? len : 1);
    size_t got = 0;

    if (tmp == NULL)
      return img_err (g->ctx, -ENOMEM, "guest: out of memory");
    if (len && (r = img_fs_pread (fs, rel, tmp, len, at, &got)) < 0)
      return path_error (g, r, "read", path);
    if (got == len && memcmp (tmp, buf, len) == 0)
      return 0;                 /* done already */
  }
  if (st.size != at)
    return img_err (g->ctx, -ESTALE, "guest: append to %s: it is %" PRIu64 " bytes, not the %"
                    PRIu64 " it was read as", path, st.size, at);
  img_internal_overlay_begin (fs, rel, path, NULL, NULL);
  r = len ? img_fs_pwrite (fs, rel, buf, len, at) : 0;
  img_internal_overlay_end (fs);
  return r < 0 ? path_error (g, r, "append to", path) : 0;
}

/* ---- walk ------------------------------------------------------------- */

#define WALK_MAX_DEPTH 256

/* PATH's lstat; KNOWN is its inode as its directory on DIR_FS listed it
 * (0: none): then, where PATH is on that filesystem too (not a mount
 * point), the inode is read without a lookup of PATH's name. */
static int
walk_stat (struct img_guest *g, const char *path, struct img_fs *dir_fs,
           uint64_t known, struct img_stat *st)
{
  struct img_fs *fs;
  const char *rel;
  int r;

  if (known && dir_fs) {
    if ((r = img_internal_guest_map (g, path, &fs, &rel)) < 0)
      return r;
    if (fs == dir_fs && (r = img_internal_fs_stat_ino (fs, rel, known, st)) != -ENOTSUP)
      return r;
  }
  return img_internal_guest_lstat_canon (g, path, st);
}

static int
walk_rec (struct img_guest *g, char *path, size_t plen, int depth,
          struct img_fs *dir_fs, uint64_t known, img_guest_walk_fn fn, void *data)
{
  struct img_stat st;
  struct img_dirent *ents = NULL;
  struct img_fs *fs = NULL;
  size_t n = 0, i;
  int r;

  r = walk_stat (g, path, dir_fs, known, &st);
  if (r < 0)
    return path_error (g, r, "walk", path);
  r = fn (g, path, &st, data);
  if (r != 0 || !S_ISDIR (st.mode))
    return r;
  if (depth >= WALK_MAX_DEPTH)
    return img_err (g->ctx, -ELOOP, "guest: walk %s: directories nested too deep", path);
  {
    const char *rel;
    r = img_internal_guest_map (g, path, &fs, &rel);
    if (r == 0)
      r = img_fs_readdir (fs, rel, &ents, &n);
    if (r < 0)
      return path_error (g, r, "readdir", path);
  }
  for (i = 0; i < n && r == 0; i++) {
    size_t l = strlen (ents[i].name);
    if (plen + 1 + l > PATH_MAX) {
      r = img_err (g->ctx, -ENAMETOOLONG, "guest: walk %s: path too long", path);
      break;
    }
    if (plen == 1)
      memcpy (path + 1, ents[i].name, l + 1);
    else {
      path[plen] = '/';
      memcpy (path + plen + 1, ents[i].name, l + 1);
    }
    r = walk_rec (g, path, plen == 1 ? 1 + l : plen + 1 + l, depth + 1, fs,
                  ents[i].ino, fn, data);
    path[plen] = '\0';
  }
  img_dirents_free (ents, n);
  return r;
}

int
img_internal_guest_fs_usage (struct img_guest *g, const char *mountpoint, uint64_t *bytes)
{
  struct img_fs *fs;
  const char *rel;
  int r;

  *bytes = 0;
  if ((r = img_internal_guest_map (g, mountpoint, &fs, &rel)) < 0)
    return r;
  if (strcmp (rel, "/") != 0)
    return -ENOTSUP;
  return img_internal_fs_usage (fs, bytes);
}

int
img_guest_walk (struct img_guest *g, const char *path, img_guest_walk_fn fn,
                void *data)
{
  CLEANUP_FREE char *canon = NULL;
  char *buf;
  int r;

  img_ctx_clear_error (g->ctx);
  r = img_guest_realpath (g, path, true, &canon);
  if (r < 0)
    return r;
  buf = malloc (PATH_MAX + 2);
  if (buf == NULL)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  strcpy (buf, canon);
  r = walk_rec (g, buf, strlen (buf), 0, NULL, 0, fn, data);
  free (buf);
  return r;
}
