/* The fs layer's front: one API over the backends (ext2/3/4 through
 * libext2fs, a host directory).  Paths are parsed and checked here once,
 * so that every backend refuses the same hostile input the same way. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs-private.h"

int
img_internal_fs_errno (struct img_fs *fs, const char *path, int err)
{
  return img_err (fs->ctx, err, "%s: %s: %s: %s", fs->name, fs->type, path,
                  strerror (-err));
}

unsigned char
img_internal_fs_dtype (uint32_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFREG: return DT_REG;
  case S_IFDIR: return DT_DIR;
  case S_IFLNK: return DT_LNK;
  case S_IFCHR: return DT_CHR;
  case S_IFBLK: return DT_BLK;
  case S_IFIFO: return DT_FIFO;
  case S_IFSOCK: return DT_SOCK;
  default: return DT_UNKNOWN;
  }
}

void
img_internal_fs_path_free (struct img_fs_path *p)
{
  free (p->comp);
  free (p->buf);
}

/* Splits PATH into components.  Repeated and trailing slashes are
 * harmless; "." and ".." are refused rather than interpreted, because
 * ".." through a symlinked parent is exactly how paths escape. */
int
img_internal_fs_path_parse (struct img_fs *fs, const char *path,
                            struct img_fs_path *p)
{
  size_t len, max;
  char *s;

  memset (p, 0, sizeof *p);
  p->path = path ? path : "(null)";
  if (path == NULL || path[0] != '/')
    return img_err (fs->ctx, -EINVAL, "%s: %s: %s: path is not absolute",
                    fs->name, fs->type, p->path);
  len = strnlen (path, IMG_FS_PATH_MAX);
  if (len >= IMG_FS_PATH_MAX)
    return img_err (fs->ctx, -ENAMETOOLONG,
                    "%s: %s: %.64s...: path is longer than %d bytes",
                    fs->name, fs->type, path, IMG_FS_PATH_MAX - 1);
  max = len / 2 + 1;
  p->buf = strdup (path);
  p->comp = malloc (max * sizeof *p->comp);
  if (p->buf == NULL || p->comp == NULL) {
    img_internal_fs_path_free (p);
    return img_err (fs->ctx, -ENOMEM, "%s: %s: out of memory", fs->name,
                    fs->type);
  }
  for (s = p->buf; *s != '\0'; ) {
    char *name;
    size_t n;

    while (*s == '/')
      s++;
    if (*s == '\0')
      break;
    name = s;
    while (*s != '\0' && *s != '/')
      s++;
    if (*s == '/')
      *s++ = '\0';
    n = strlen (name);
    if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0) {
      img_internal_fs_path_free (p);
      return img_err (fs->ctx, -EINVAL,
                      "%s: %s: %s: \".\" and \"..\" are not allowed in paths",
                      fs->name, fs->type, path);
    }
    if (n > IMG_FS_NAME_MAX) {
      img_internal_fs_path_free (p);
      return img_err (fs->ctx, -ENAMETOOLONG,
                      "%s: %s: %s: a name is longer than %d bytes",
                      fs->name, fs->type, path, IMG_FS_NAME_MAX);
    }
    if (p->n >= max || p->n >= IMG_FS_MAX_COMPONENTS) {
      img_internal_fs_path_free (p);
      return img_err (fs->ctx, -ENAMETOOLONG,
                      "%s: %s: %s: too many path components", fs->name,
                      fs->type, path);
    }
    p->comp[p->n++] = name;
  }
  return 0;
}

static int
check_writable (struct img_fs *fs, const char *path)
{
  if (!fs->writable)
    return img_err (fs->ctx, -EROFS,
                    "%s: %s: %s: the filesystem is opened read-only",
                    fs->name, fs->type, path ? path : "(null)");
  return 0;
}

/* Parses PATH for a modifying operation; ROOT_ERR is what the operation
 * gives on "/" itself (0 if the root is a fine target). */
static int
parse_for_write (struct img_fs *fs, const char *path, int root_err,
                 struct img_fs_path *p)
{
  int r;

  r = check_writable (fs, path);
  if (r < 0)
    return r;
  r = img_internal_fs_path_parse (fs, path, p);
  if (r < 0)
    return r;
  if (p->n == 0 && root_err != 0) {
    r = img_internal_fs_errno (fs, path, root_err);
    img_internal_fs_path_free (p);
    return r;
  }
  return 0;
}

int
img_fs_open (struct img_ctx *ctx, const struct img_volume *vol, int flags,
             struct img_fs **fs)
{
  if (vol == NULL || fs == NULL)
    return img_err (ctx, -EINVAL, "fs: no volume given");
  return img_internal_ext_open (ctx, vol, flags, fs);
}

int
img_fs_open_dir (struct img_ctx *ctx, const char *dir, int flags,
                 struct img_fs **fs)
{
  if (dir == NULL || fs == NULL)
    return img_err (ctx, -EINVAL, "fs: no directory given");
  return img_internal_dir_open (ctx, dir, flags, fs);
}

int
img_fs_close (struct img_fs *fs)
{
  if (fs == NULL)
    return 0;
  return fs->ops->close (fs);
}

int
img_fs_sync (struct img_fs *fs)
{
  if (!fs->writable)
    return 0;
  return fs->ops->sync (fs);
}

const char *
img_fs_type (const struct img_fs *fs)
{
  return fs->type;
}

const char *
img_fs_name (const struct img_fs *fs)
{
  return fs->name;
}

bool
img_fs_is_writable (const struct img_fs *fs)
{
  return fs->writable;
}

int
img_fs_lstat (struct img_fs *fs, const char *path, struct img_stat *st)
{
  struct img_fs_path p;
  int r;

  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  memset (st, 0, sizeof *st);
  r = fs->ops->lstat (fs, &p, st);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_internal_fs_stat_ino (struct img_fs *fs, const char *path, uint64_t ino,
                          struct img_stat *st)
{
  struct img_fs_path p;
  int r;

  if (fs->ops->stat_ino == NULL)
    return -ENOTSUP;
  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  memset (st, 0, sizeof *st);
  r = p.n == 0 ? -ENOTSUP : fs->ops->stat_ino (fs, &p, ino, st);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_internal_fs_usage (struct img_fs *fs, uint64_t *bytes)
{
  *bytes = 0;
  if (fs->ops->usage == NULL)
    return -ENOTSUP;
  return fs->ops->usage (fs, bytes);
}

int
img_fs_readlink (struct img_fs *fs, const char *path, char **target)
{
  struct img_fs_path p;
  int r;

  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  if (p.n == 0)
    r = img_internal_fs_errno (fs, path, -EINVAL);
  else
    r = fs->ops->readlink (fs, &p, target);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_readdir (struct img_fs *fs, const char *path, struct img_dirent **ents,
                size_t *n)
{
  struct img_fs_path p;
  int r;

  *ents = NULL;
  *n = 0;
  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  r = fs->ops->readdir (fs, &p, ents, n);
  if (r == -E2BIG) {
    char lim[32];
    img_internal_budget_format (img_ctx_budget (fs->ctx, IMG_BUDGET_ENTRIES), false, lim);
    r = img_err (fs->ctx, r,
                 "%s: %s: %s: directory of more than %s entries (IMG_BUDGET_ENTRIES)",
                 fs->name, fs->type, path, lim);
  }
  else if (r == 0) {
    char where[1200];
    snprintf (where, sizeof where, "%s: %s: %s", fs->name, fs->type, path);
    r = img_internal_budget_charge (fs->ctx, IMG_BUDGET_ENTRIES_TOTAL, *n, where);
    if (r < 0) {
      img_dirents_free (*ents, *n);
      *ents = NULL;
      *n = 0;
    }
  }
  img_internal_fs_path_free (&p);
  return r;
}

void
img_dirents_free (struct img_dirent *ents, size_t n)
{
  size_t i;

  if (ents == NULL)
    return;
  for (i = 0; i < n; i++)
    free (ents[i].name);
  free (ents);
}

int
img_fs_pread (struct img_fs *fs, const char *path, void *buf, size_t len,
              uint64_t off, size_t *got)
{
  struct img_fs_path p;
  int r;

  *got = 0;
  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  if (p.n == 0)
    r = img_internal_fs_errno (fs, path, -EISDIR);
  else
    r = fs->ops->pread (fs, &p, buf, len, off, got);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_space (struct img_fs *fs, uint64_t *total, uint64_t *avail)
{
  *total = *avail = 0;
  if (fs->ops->space == NULL)
    return img_internal_fs_errno (fs, "/", -EOPNOTSUPP);
  return fs->ops->space (fs, total, avail);
}

int
img_fs_xattrs (struct img_fs *fs, const char *path, img_xattr_fn fn, void *data)
{
  struct img_fs_path p;
  int r;

  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  r = fs->ops->xattrs ? fs->ops->xattrs (fs, &p, fn, data) : 0;
  img_internal_fs_path_free (&p);
  return r;
}

int
img_internal_fs_read_admit (struct img_fs *fs, const char *path, uint64_t max,
                            uint64_t *size)
{
  struct img_stat st;
  int r;

  *size = 0;
  r = img_fs_lstat (fs, path, &st);
  if (r < 0)
    return r;
  if (S_ISDIR (st.mode))
    return img_internal_fs_errno (fs, path, -EISDIR);
  if (!S_ISREG (st.mode))
    return img_err (fs->ctx, -EINVAL, "%s: %s: %s: not a regular file",
                    fs->name, fs->type, path);
  if (st.size > max || st.size >= SIZE_MAX)
    return img_err (fs->ctx, -EFBIG,
                    "%s: %s: %s: file is larger than %" PRIu64 " bytes (%" PRIu64 ")",
                    fs->name, fs->type, path, max, st.size);
  /* The budgets: one file, and every file read whole in the run.  The
   * size is checked before anything is read (a sparse 100 GiB file costs
   * nothing), and charged before the bytes are. */
  if (st.size > img_ctx_budget (fs->ctx, IMG_BUDGET_FILE)) {
    char lim[32];
    img_internal_budget_format (img_ctx_budget (fs->ctx, IMG_BUDGET_FILE), true, lim);
    return img_err (fs->ctx, -EFBIG,
                    "%s: %s: %s: file of %" PRIu64 " bytes is past the budget of %s for one file (IMG_BUDGET_FILE)",
                    fs->name, fs->type, path, st.size, lim);
  }
  {
    char where[1200];
    snprintf (where, sizeof where, "%s: %s: %s", fs->name, fs->type, path);
    r = img_internal_budget_charge (fs->ctx, IMG_BUDGET_FILE_TOTAL, st.size, where);
    if (r < 0)
      return r;
  }
  *size = st.size;
  return 0;
}

int
img_fs_read_file (struct img_fs *fs, const char *path, size_t max, void **bufp,
                  size_t *lenp)
{
  unsigned char *buf;
  uint64_t size;
  size_t len = 0, got;
  int r;

  *bufp = NULL;
  *lenp = 0;
  if ((r = img_internal_fs_read_admit (fs, path, max, &size)) < 0)
    return r;
  buf = malloc (size + 1);
  if (buf == NULL)
    return img_err (fs->ctx, -ENOMEM, "%s: %s: %s: out of memory", fs->name,
                    fs->type, path);
  /* Read to EOF rather than trusting the size, but never past MAX. */
  while (len < size) {
    r = img_fs_pread (fs, path, buf + len, size - len, len, &got);
    if (r < 0) {
      free (buf);
      return r;
    }
    if (got == 0)
      break;
    len += got;
  }
  buf[len] = '\0';
  *bufp = buf;
  *lenp = len;
  return 0;
}

int
img_fs_create (struct img_fs *fs, const char *path, uint32_t mode,
               uint32_t uid, uint32_t gid)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, -EEXIST, &p);
  if (r < 0)
    return r;
  r = fs->ops->create (fs, &p, (mode & 07777) | S_IFREG, uid, gid);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_pwrite (struct img_fs *fs, const char *path, const void *buf,
               size_t len, uint64_t off)
{
  struct img_fs_path p;
  uint64_t end;
  int r;

  if (add_overflow_u64 (off, len, &end) || end > INT64_MAX)
    return img_err (fs->ctx, -EFBIG, "%s: %s: %s: write past the largest file size",
                    fs->name, fs->type, path ? path : "(null)");
  r = parse_for_write (fs, path, -EISDIR, &p);
  if (r < 0)
    return r;
  r = fs->ops->pwrite (fs, &p, buf, len, off);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_truncate (struct img_fs *fs, const char *path, uint64_t size)
{
  struct img_fs_path p;
  int r;

  if (size > INT64_MAX)
    return img_err (fs->ctx, -EFBIG, "%s: %s: %s: size too large",
                    fs->name, fs->type, path ? path : "(null)");
  r = parse_for_write (fs, path, -EISDIR, &p);
  if (r < 0)
    return r;
  r = fs->ops->truncate (fs, &p, size);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_mkdir (struct img_fs *fs, const char *path, uint32_t mode,
              uint32_t uid, uint32_t gid)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, -EEXIST, &p);
  if (r < 0)
    return r;
  r = fs->ops->mkdir (fs, &p, (mode & 07777) | S_IFDIR, uid, gid);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_symlink (struct img_fs *fs, const char *target, const char *path,
                uint32_t uid, uint32_t gid)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, -EEXIST, &p);
  if (r < 0)
    return r;
  if (target == NULL || target[0] == '\0')
    r = img_err (fs->ctx, -ENOENT, "%s: %s: %s: empty symlink target",
                 fs->name, fs->type, path);
  else if (strnlen (target, IMG_FS_PATH_MAX) >= IMG_FS_PATH_MAX)
    r = img_err (fs->ctx, -ENAMETOOLONG,
                 "%s: %s: %s: symlink target is longer than %d bytes",
                 fs->name, fs->type, path, IMG_FS_PATH_MAX - 1);
  else
    r = fs->ops->symlink (fs, target, &p, uid, gid);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_mknod (struct img_fs *fs, const char *path, uint32_t mode,
              uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid)
{
  struct img_fs_path p;
  int r;

  switch (mode & S_IFMT) {
  case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
    break;
  default:
    return img_err (fs->ctx, -EINVAL,
                    "%s: %s: %s: mknod makes device nodes, fifos and sockets only",
                    fs->name, fs->type, path ? path : "(null)");
  }
  r = parse_for_write (fs, path, -EEXIST, &p);
  if (r < 0)
    return r;
  r = fs->ops->mknod (fs, &p, mode & (S_IFMT | 07777), major, minor, uid,
                      gid);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_link (struct img_fs *fs, const char *oldpath, const char *newpath)
{
  struct img_fs_path op, np;
  int r;

  r = parse_for_write (fs, oldpath, -EPERM, &op);
  if (r < 0)
    return r;
  r = parse_for_write (fs, newpath, -EEXIST, &np);
  if (r < 0) {
    img_internal_fs_path_free (&op);
    return r;
  }
  r = fs->ops->link (fs, &op, &np);
  img_internal_fs_path_free (&np);
  img_internal_fs_path_free (&op);
  return r;
}

int
img_fs_unlink (struct img_fs *fs, const char *path)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, -EISDIR, &p);
  if (r < 0)
    return r;
  r = fs->ops->unlink (fs, &p);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_rmdir (struct img_fs *fs, const char *path)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, -EBUSY, &p);
  if (r < 0)
    return r;
  r = fs->ops->rmdir (fs, &p);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_rename (struct img_fs *fs, const char *oldpath, const char *newpath)
{
  struct img_fs_path op, np;
  size_t i;
  int r;

  r = parse_for_write (fs, oldpath, -EBUSY, &op);
  if (r < 0)
    return r;
  r = parse_for_write (fs, newpath, -EBUSY, &np);
  if (r < 0) {
    img_internal_fs_path_free (&op);
    return r;
  }
  /* Without symlinks and "..", a directory's descendants are exactly the
   * paths it prefixes; moving it under itself would detach a loop. */
  if (np.n > op.n) {
    for (i = 0; i < op.n; i++)
      if (strcmp (op.comp[i], np.comp[i]) != 0)
        break;
    if (i == op.n) {
      r = img_err (fs->ctx, -EINVAL,
                   "%s: %s: %s: cannot move a directory into itself (%s)",
                   fs->name, fs->type, oldpath, newpath);
      goto out;
    }
  }
  r = fs->ops->rename (fs, &op, &np);
 out:
  img_internal_fs_path_free (&np);
  img_internal_fs_path_free (&op);
  return r;
}

int
img_fs_chmod (struct img_fs *fs, const char *path, uint32_t mode)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, 0, &p);
  if (r < 0)
    return r;
  r = fs->ops->chmod (fs, &p, mode & 07777);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_chown (struct img_fs *fs, const char *path, uint32_t uid, uint32_t gid)
{
  struct img_fs_path p;
  int r;

  r = parse_for_write (fs, path, 0, &p);
  if (r < 0)
    return r;
  r = fs->ops->chown (fs, &p, uid, gid);
  img_internal_fs_path_free (&p);
  return r;
}

int
img_fs_utimes (struct img_fs *fs, const char *path, int64_t atime,
               uint32_t atime_ns, int64_t mtime, uint32_t mtime_ns)
{
  struct img_fs_path p;
  int r;

  if (atime_ns >= 1000000000 || mtime_ns >= 1000000000)
    return img_err (fs->ctx, -EINVAL, "%s: %s: %s: nanoseconds out of range",
                    fs->name, fs->type, path ? path : "(null)");
  r = parse_for_write (fs, path, 0, &p);
  if (r < 0)
    return r;
  r = fs->ops->utimes (fs, &p, atime, atime_ns, mtime, mtime_ns);
  img_internal_fs_path_free (&p);
  return r;
}
