/* The recording overlay's operations.  Each one goes to the lower fs (a
 * real run) or to the in-memory tree of overlay-mem.c (a dry run), and
 * the modifying ones log what they changed: the old contents of a file
 * are captured before its first change, a temporary file renamed over a
 * path becomes one write of that path, the directories of one mkdir -p
 * one mkdir.  Both modes log the same changes for the same calls. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/overlay-private.h"

static const struct img_fs_ops overlay_ops;

static struct img_overlay *
OV (struct img_fs *fs)
{
  return (struct img_overlay *) fs;
}

bool
img_internal_fs_is_overlay (const struct img_fs *fs)
{
  return fs && fs->ops == &overlay_ops;
}

/* Records the message of a dry-run failure (the in-memory tree returns
 * bare codes, except for a budget exceeded, which says so itself). */
static int
fail (struct img_overlay *o, const struct img_fs_path *p, int r)
{
  if (r < 0 && r != -EFBIG)
    return img_internal_fs_errno (&o->fs, p->path, r);
  return r;
}

/* ---- the view: what the overlay's callers see --------------------- */

int
img_internal_overlay_view_lstat (struct img_fs *fs, const char *path,
                                 struct img_stat *st)
{
  struct img_overlay *o = OV (fs);
  struct img_fs_path p;
  int r;

  memset (st, 0, sizeof *st);
  if (o->dry)
    return img_internal_ov_lstat (o, path, st);
  r = img_internal_fs_path_parse (o->lower, path, &p);
  if (r == 0) {
    r = o->lower->ops->lstat (o->lower, &p, st);
    img_internal_fs_path_free (&p);
  }
  return r;
}

int
img_internal_overlay_view_read (struct img_fs *fs, const char *path,
                                uint64_t size, void **bufp, size_t *lenp)
{
  struct img_overlay *o = OV (fs);
  struct img_fs_path p;
  unsigned char *buf;
  size_t len = 0, got;
  int r;

  if (size >= SIZE_MAX)
    return -EFBIG;
  r = img_internal_fs_path_parse (o->lower, path, &p);
  if (r < 0)
    return r;
  buf = malloc (size + 1);
  if (buf == NULL)
    r = -ENOMEM;
  while (r == 0 && len < size) {
    r = o->dry ? img_internal_ov_pread (o, path, buf + len, size - len, len, &got)
      : o->lower->ops->pread (o->lower, &p, buf + len, size - len, len, &got);
    if (r == 0 && got == 0)
      break;
    len += got;
  }
  img_internal_fs_path_free (&p);
  if (r < 0) {
    free (buf);
    return r;
  }
  buf[len] = '\0';
  *bufp = buf;
  *lenp = len;
  return 0;
}

/* ---- recording ------------------------------------------------------ */

/* A file as it was before a change. */
struct old {
  bool existed, captured;
  uint64_t size;
  void *buf;
};

static unsigned long
op_start (struct img_overlay *o)
{
  return o->in_op ? o->op_id : ++o->op_id;
}

/* The guest path of FS_PATH: the name the caller used, or the mount
 * point and the path inside. */
static char *
name_of (struct img_overlay *o, const char *fs_path)
{
  char *s;

  if (o->in_op && o->op_path && strcmp (fs_path, o->op_path) == 0)
    return strdup (o->op_name);
  if (o->in_op && o->op_path2 && strcmp (fs_path, o->op_path2) == 0)
    return strdup (o->op_name2);
  if (o->prefix[0] == '\0')
    return strdup (fs_path);
  if (asprintf (&s, "%s%s", o->prefix, strcmp (fs_path, "/") ? fs_path : "") < 0)
    return NULL;
  return s;
}

static void
capture (struct img_overlay *o, const char *path, struct old *old)
{
  struct img_stat st;
  size_t len;

  memset (old, 0, sizeof *old);
  if (img_internal_overlay_view_lstat (&o->fs, path, &st) < 0) {
    img_ctx_clear_error (o->fs.ctx);    /* a new file */
    return;
  }
  old->existed = true;
  old->size = st.size;
  if (!S_ISREG (st.mode) || st.size > IMG_FS_CAPTURE_MAX)
    return;
  if (img_internal_overlay_view_read (&o->fs, path, st.size, &old->buf, &len) < 0) {
    img_ctx_clear_error (o->fs.ctx);    /* no diff then, only sizes */
    return;
  }
  old->captured = true;
  old->size = len;
}

static int
record (struct img_overlay *o, enum img_fs_change_kind kind,
        const char *fs_path, const char *target, unsigned long op,
        struct old *old, struct img_fs_change **cp)
{
  char *name = name_of (o, fs_path);
  struct img_fs_change *c = NULL;

  if (name)
    c = img_internal_fs_log_add (o->log, &o->fs, kind, fs_path, name, target, op);
  free (name);
  if (c == NULL)
    return img_err (o->fs.ctx, -ENOMEM, "%s: %s: %s: out of memory",
                    o->fs.name, o->fs.type, fs_path);
  if (old) {
    c->existed = old->existed;
    c->captured = old->captured;
    c->old_size = old->size;
    c->old = old->buf;
    old->buf = NULL;
  }
  if (cp)
    *cp = c;
  return 0;
}

/* The change still open for FS_PATH that a write extends: its ADD or
 * WRITE since the last clear. */
static struct img_fs_change *
open_write (struct img_overlay *o, const char *path)
{
  struct img_fs_change *c = img_internal_fs_log_find (o->log, &o->fs, path);

  if (c && (c->kind == IMG_FS_CHANGE_ADD || c->kind == IMG_FS_CHANGE_WRITE))
    return c;
  return NULL;
}

void
img_internal_overlay_begin (struct img_fs *fs, const char *fs_path,
                            const char *name, const char *fs_path2,
                            const char *name2)
{
  struct img_overlay *o;

  if (!img_internal_fs_is_overlay (fs))
    return;
  o = OV (fs);
  img_internal_overlay_end (fs);
  o->in_op = true;
  o->op_id++;
  o->op_path = fs_path ? strdup (fs_path) : NULL;
  o->op_name = name ? strdup (name) : NULL;
  o->op_path2 = fs_path2 ? strdup (fs_path2) : NULL;
  o->op_name2 = name2 ? strdup (name2) : NULL;
  /* Without a name, the path inside is logged: no worse. */
  if (o->op_name == NULL) {
    free (o->op_path);
    o->op_path = NULL;
  }
  if (o->op_name2 == NULL) {
    free (o->op_path2);
    o->op_path2 = NULL;
  }
}

void
img_internal_overlay_end (struct img_fs *fs)
{
  struct img_overlay *o;

  if (!img_internal_fs_is_overlay (fs))
    return;
  o = OV (fs);
  o->in_op = false;
  free (o->op_path);
  free (o->op_name);
  free (o->op_path2);
  free (o->op_name2);
  o->op_path = o->op_name = o->op_path2 = o->op_name2 = NULL;
}

int
img_internal_overlay_name (struct img_fs *fs, const char *fs_path,
                           const char *name)
{
  struct img_fs_change *c;
  char *copy;

  if (!img_internal_fs_is_overlay (fs))
    return 0;
  c = img_internal_fs_log_find (OV (fs)->log, fs, fs_path);
  if (c == NULL || c->kind != IMG_FS_CHANGE_MKDIR || c->op != OV (fs)->op_id)
    return 0;
  copy = strdup (name);
  if (copy == NULL)
    return img_err (fs->ctx, -ENOMEM, "%s: %s: out of memory", fs->name, fs->type);
  free (c->path);
  c->path = copy;
  return 0;
}

/* ---- operations that read ------------------------------------------ */

/* Runs CALL on the in-memory tree (dry run, PATH_ set) or the lower fs. */
#define DRY_OR_LOWER(o, p, dry_call, lower_call)                        \
  do {                                                                  \
    char *path_;                                                        \
    int r_;                                                             \
    if (!(o)->dry)                                                      \
      return (o)->lower->ops->lower_call;                               \
    path_ = img_internal_ov_join (p);                                   \
    if (path_ == NULL)                                                  \
      return fail ((o), (p), -ENOMEM);                                  \
    r_ = dry_call;                                                      \
    free (path_);                                                       \
    return fail ((o), (p), r_);                                         \
  } while (0)

static int
ov_lstat (struct img_fs *fs, const struct img_fs_path *p, struct img_stat *st)
{
  struct img_overlay *o = OV (fs);

  DRY_OR_LOWER (o, p, img_internal_ov_lstat (o, path_, st),
                lstat (o->lower, p, st));
}

/* A real run reads the lower fs; a dry run's tree has no inode numbers
 * of its own: lstat by name. */
/* The lower fs's, while a dry run has changed nothing over it. */
static int
ov_usage (struct img_fs *fs, uint64_t *bytes)
{
  struct img_overlay *o = OV (fs);

  if ((o->dry && o->n_nodes > 0) || o->lower->ops->usage == NULL)
    return -ENOTSUP;
  return o->lower->ops->usage (o->lower, bytes);
}

static int
ov_stat_ino (struct img_fs *fs, const struct img_fs_path *p, uint64_t ino,
             struct img_stat *st)
{
  struct img_overlay *o = OV (fs);

  if (o->dry || o->lower->ops->stat_ino == NULL)
    return -ENOTSUP;
  return o->lower->ops->stat_ino (o->lower, p, ino, st);
}

static int
ov_readlink (struct img_fs *fs, const struct img_fs_path *p, char **target)
{
  struct img_overlay *o = OV (fs);

  DRY_OR_LOWER (o, p, img_internal_ov_readlink (o, path_, target),
                readlink (o->lower, p, target));
}

static int
ov_readdir (struct img_fs *fs, const struct img_fs_path *p,
            struct img_dirent **ents, size_t *n)
{
  struct img_overlay *o = OV (fs);

  DRY_OR_LOWER (o, p, img_internal_ov_readdir (o, path_, ents, n),
                readdir (o->lower, p, ents, n));
}

static int
ov_pread (struct img_fs *fs, const struct img_fs_path *p, void *buf,
          size_t len, uint64_t off, size_t *got)
{
  struct img_overlay *o = OV (fs);

  DRY_OR_LOWER (o, p, img_internal_ov_pread (o, path_, buf, len, off, got),
                pread (o->lower, p, buf, len, off, got));
}

static int
ov_xattrs (struct img_fs *fs, const struct img_fs_path *p, img_xattr_fn fn,
           void *data)
{
  struct img_overlay *o = OV (fs);

  if (!o->dry && o->lower->ops->xattrs == NULL)
    return 0;
  DRY_OR_LOWER (o, p, img_internal_ov_xattrs (o, path_, fn, data),
                xattrs (o->lower, p, fn, data));
}

static int
ov_space (struct img_fs *fs, uint64_t *total, uint64_t *avail)
{
  struct img_overlay *o = OV (fs);
  int r;

  if (o->lower->ops->space == NULL)
    return img_internal_fs_errno (fs, "/", -EOPNOTSUPP);
  if (!o->dry)
    return o->lower->ops->space (o->lower, total, avail);
  r = img_internal_ov_space (o, total, avail);
  return r < 0 ? img_internal_fs_errno (fs, "/", r) : 0;
}

/* ---- operations that write ----------------------------------------- */

/* A modifying operation: DRY_CALL on the in-memory tree (a dry run) or
 * LOWER_CALL on the lower fs. */
#define MODIFY(o, p, dry_call, lower_call)                              \
  ((o)->dry ? fail ((o), (p), (dry_call))                               \
   : (o)->lower->ops->lower_call)

/* A write or truncate of an existing file: the first since the last
 * clear captures the old contents and logs a WRITE. */
static int
write_begin (struct img_overlay *o, const struct img_fs_path *p, char **path,
             struct old *old, bool *first)
{
  *path = img_internal_ov_join (p);
  if (*path == NULL)
    return fail (o, p, -ENOMEM);
  *first = open_write (o, *path) == NULL;
  memset (old, 0, sizeof *old);
  if (*first)
    capture (o, *path, old);
  return 0;
}

static int
write_end (struct img_overlay *o, int r, char *path, struct old *old,
           bool first, unsigned long op)
{
  if (r == 0 && first)
    r = record (o, IMG_FS_CHANGE_WRITE, path, NULL, op, old, NULL);
  free (old->buf);
  free (path);
  return r;
}

/* A write of LEN bytes at OFF, or (BUF NULL) a truncate to OFF. */
static int
write_op (struct img_fs *fs, const struct img_fs_path *p, const void *buf,
          size_t len, uint64_t off)
{
  struct img_overlay *o = OV (fs);
  unsigned long op = op_start (o);
  struct old old;
  char *path;
  bool first = false;   /* set by write_begin; gcc -O2 cannot see it */
  int r = write_begin (o, p, &path, &old, &first);

  if (r < 0)
    return r;
  if (buf)
    r = MODIFY (o, p, img_internal_ov_pwrite (o, path, buf, len, off),
                pwrite (o->lower, p, buf, len, off));
  else
    r = MODIFY (o, p, img_internal_ov_truncate (o, path, off),
                truncate (o->lower, p, off));
  return write_end (o, r, path, &old, first, op);
}

static int
ov_pwrite (struct img_fs *fs, const struct img_fs_path *p, const void *buf,
           size_t len, uint64_t off)
{
  return write_op (fs, p, buf ? buf : "", len, off);
}

static int
ov_truncate (struct img_fs *fs, const struct img_fs_path *p, uint64_t size)
{
  return write_op (fs, p, NULL, 0, size);
}

static const char *
node_kind (uint32_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFCHR: return "character device";
  case S_IFBLK: return "block device";
  case S_IFIFO: return "fifo";
  default: return "socket";
  }
}

/* A directory made in the same operation as its parent (mkdir -p): the
 * parent's change is renamed for the deepest one.  Whether it was. */
static int
mkdir_extends (struct img_overlay *o, const char *path, unsigned long op,
               bool *done)
{
  struct img_fs_change *c;
  char *slash = strrchr (path, '/'), *name, *fp;

  *done = false;
  *slash = '\0';
  c = img_internal_fs_log_find (o->log, &o->fs, path[0] ? path : "/");
  *slash = '/';
  if (c == NULL || c->kind != IMG_FS_CHANGE_MKDIR || c->op != op)
    return 0;
  name = name_of (o, path);
  fp = strdup (path);
  if (name == NULL || fp == NULL) {
    free (name);
    free (fp);
    return img_err (o->fs.ctx, -ENOMEM, "%s: %s: out of memory", o->fs.name, o->fs.type);
  }
  free (c->path);
  free (c->fs_path);
  c->path = name;
  c->fs_path = fp;
  *done = true;
  return 0;
}

/* Makes a file, directory, symlink (to LINK) or node at P and logs it. */
static int
make_op (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
         uint32_t uid, uint32_t gid, const char *link, uint32_t major,
         uint32_t minor)
{
  struct img_overlay *o = OV (fs);
  struct img_fs *l = o->lower;
  unsigned long op = op_start (o);
  struct img_fs_change *c = NULL;
  char *path = img_internal_ov_join (p);
  bool done = false;
  int r;

  if (path == NULL)
    return fail (o, p, -ENOMEM);
  if (o->dry)
    r = fail (o, p, img_internal_ov_make (o, path, mode, uid, gid, link, major, minor));
  else if (S_ISREG (mode))
    r = l->ops->create (l, p, mode, uid, gid);
  else if (S_ISDIR (mode))
    r = l->ops->mkdir (l, p, mode, uid, gid);
  else if (S_ISLNK (mode))
    r = l->ops->symlink (l, link, p, uid, gid);
  else
    r = l->ops->mknod (l, p, mode, major, minor, uid, gid);
  if (r == 0 && S_ISDIR (mode))
    r = mkdir_extends (o, path, op, &done);
  if (r == 0 && !done)
    r = record (o, S_ISDIR (mode) ? IMG_FS_CHANGE_MKDIR
                : S_ISLNK (mode) ? IMG_FS_CHANGE_SYMLINK : IMG_FS_CHANGE_ADD,
                path, link, op, NULL, &c);
  if (r == 0 && c && !S_ISREG (mode) && !S_ISDIR (mode) && !S_ISLNK (mode)) {
    if (S_ISCHR (mode) || S_ISBLK (mode))
      r = asprintf (&c->detail, "%s %u:%u", node_kind (mode), major, minor);
    else
      r = asprintf (&c->detail, "%s", node_kind (mode));
    if (r < 0) {
      c->detail = NULL;
      r = img_err (fs->ctx, -ENOMEM, "%s: %s: out of memory", fs->name, fs->type);
    }
    else
      r = 0;
  }
  free (path);
  return r;
}

static int
ov_create (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t uid, uint32_t gid)
{
  return make_op (fs, p, mode, uid, gid, NULL, 0, 0);
}

static int
ov_mkdir (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
          uint32_t uid, uint32_t gid)
{
  return make_op (fs, p, mode, uid, gid, NULL, 0, 0);
}

static int
ov_symlink (struct img_fs *fs, const char *target, const struct img_fs_path *p,
            uint32_t uid, uint32_t gid)
{
  return make_op (fs, p, S_IFLNK | 0777, uid, gid, target, 0, 0);
}

static int
ov_mknod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
          uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid)
{
  return make_op (fs, p, mode, uid, gid, NULL, major, minor);
}

static int
ov_link (struct img_fs *fs, const struct img_fs_path *oldp,
         const struct img_fs_path *newp)
{
  struct img_overlay *o = OV (fs);
  unsigned long op = op_start (o);
  char *oldpath = img_internal_ov_join (oldp);
  char *newpath = img_internal_ov_join (newp);
  int r = oldpath && newpath ? 0 : fail (o, newp, -ENOMEM);

  if (r == 0)
    r = MODIFY (o, newp, img_internal_ov_link (o, oldpath, newpath),
                link (o->lower, oldp, newp));
  if (r == 0)
    r = record (o, IMG_FS_CHANGE_ADD, newpath, NULL, op, NULL, NULL);
  free (oldpath);
  free (newpath);
  return r;
}

/* Removing what the same changes made unmakes it: nothing to report. */
static int
removed (struct img_overlay *o, const char *path, unsigned long op)
{
  struct img_fs_change *c = img_internal_fs_log_find (o->log, &o->fs, path);

  if (c && !c->existed
      && (c->kind == IMG_FS_CHANGE_ADD || c->kind == IMG_FS_CHANGE_SYMLINK
          || (c->kind == IMG_FS_CHANGE_MKDIR && strcmp (c->fs_path, path) == 0))) {
    img_internal_fs_log_drop (o->log, c);
    return 0;
  }
  return record (o, IMG_FS_CHANGE_REMOVE, path, NULL, op, NULL, NULL);
}

static int
remove_op (struct img_fs *fs, const struct img_fs_path *p, bool dir)
{
  struct img_overlay *o = OV (fs);
  unsigned long op = op_start (o);
  char *path = img_internal_ov_join (p);
  int r;

  if (path == NULL)
    return fail (o, p, -ENOMEM);
  if (o->dry)
    r = fail (o, p, img_internal_ov_remove (o, path, dir));
  else if (dir)
    r = o->lower->ops->rmdir (o->lower, p);
  else
    r = o->lower->ops->unlink (o->lower, p);
  if (r == 0)
    r = removed (o, path, op);
  free (path);
  return r;
}

static int
ov_unlink (struct img_fs *fs, const struct img_fs_path *p)
{
  return remove_op (fs, p, false);
}

static int
ov_rmdir (struct img_fs *fs, const struct img_fs_path *p)
{
  return remove_op (fs, p, true);
}

/* After a rename from OLDPATH to NEWPATH: a file made since the last
 * clear (the guest's temporary file) renamed over a path is a write of
 * that path (TARGET: one already logged since); anything else is a move,
 * logged under the old name with the new one as its target. */
static int
renamed (struct img_overlay *o, const char *oldpath, const char *newpath,
         struct img_fs_change *made, struct img_fs_change *target,
         struct old *old, unsigned long op)
{
  struct img_fs_change *c;
  char *name = name_of (o, made ? newpath : oldpath);
  int r;

  if (name == NULL
      || img_internal_fs_log_moved (o->log, &o->fs, oldpath, newpath) < 0) {
    free (name);
    return img_err (o->fs.ctx, -ENOMEM, "%s: %s: out of memory", o->fs.name, o->fs.type);
  }
  if (made == NULL) {
    r = record (o, IMG_FS_CHANGE_MOVE, newpath, NULL, op, NULL, &c);
    if (r < 0) {
      free (name);
      return r;
    }
    c->target = c->path;
    c->path = name;
    return 0;
  }
  if (target) {
    free (name);
    img_internal_fs_log_drop (o->log, made);
    return 0;
  }
  free (made->path);
  made->path = name;
  if (old->existed) {
    made->kind = IMG_FS_CHANGE_WRITE;
    made->existed = true;
    made->captured = old->captured;
    made->old_size = old->size;
    made->old = old->buf;
    old->buf = NULL;
  }
  return 0;
}

static int
ov_rename (struct img_fs *fs, const struct img_fs_path *oldp,
           const struct img_fs_path *newp)
{
  struct img_overlay *o = OV (fs);
  unsigned long op = op_start (o);
  struct img_fs_change *made = NULL, *target = NULL, *c;
  char *oldpath = img_internal_ov_join (oldp);
  char *newpath = img_internal_ov_join (newp);
  struct old old = { 0 };
  int r = oldpath && newpath ? 0 : fail (o, newp, -ENOMEM);

  if (r < 0)
    goto out;
  c = img_internal_fs_log_find (o->log, fs, oldpath);
  if (c && c->kind == IMG_FS_CHANGE_ADD && !c->existed && c->detail == NULL) {
    struct img_stat st;
    if (img_internal_overlay_view_lstat (fs, oldpath, &st) == 0 && S_ISREG (st.mode))
      made = c;
    img_ctx_clear_error (fs->ctx);
  }
  if (made) {
    target = open_write (o, newpath);
    if (target == NULL)
      capture (o, newpath, &old);
  }
  r = MODIFY (o, newp, img_internal_ov_rename (o, oldpath, newpath),
              rename (o->lower, oldp, newp));
  if (r == 0)
    r = renamed (o, oldpath, newpath, made, target, &old, op);
 out:
  free (old.buf);
  free (oldpath);
  free (newpath);
  return r;
}

static int
ov_chmod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode)
{
  struct img_overlay *o = OV (fs);
  struct img_stat v = { .mode = mode };

  DRY_OR_LOWER (o, p, img_internal_ov_setattr (o, path_, OV_ATTR_MODE, &v),
                chmod (o->lower, p, mode));
}

static int
ov_chown (struct img_fs *fs, const struct img_fs_path *p, uint32_t uid,
          uint32_t gid)
{
  struct img_overlay *o = OV (fs);
  struct img_stat v = { .uid = uid, .gid = gid };

  DRY_OR_LOWER (o, p, img_internal_ov_setattr (o, path_, OV_ATTR_OWNER, &v),
                chown (o->lower, p, uid, gid));
}

static int
ov_utimes (struct img_fs *fs, const struct img_fs_path *p, int64_t atime,
           uint32_t atime_ns, int64_t mtime, uint32_t mtime_ns)
{
  struct img_overlay *o = OV (fs);
  struct img_stat v = { .atime = atime, .atime_ns = atime_ns,
                        .mtime = mtime, .mtime_ns = mtime_ns };

  DRY_OR_LOWER (o, p, img_internal_ov_setattr (o, path_, OV_ATTR_TIMES, &v),
                utimes (o->lower, p, atime, atime_ns, mtime, mtime_ns));
}

/* ---- life ------------------------------------------------------------ */

static int
ov_sync (struct img_fs *fs)
{
  struct img_overlay *o = OV (fs);

  return o->dry ? 0 : o->lower->ops->sync (o->lower);
}

static int
ov_close (struct img_fs *fs)
{
  struct img_overlay *o = OV (fs);
  int r = img_fs_close (o->lower);

  img_internal_overlay_end (fs);
  img_internal_ov_free_nodes (o);
  free (o->prefix);
  free (o->fs.name);
  free (o);
  return r;
}

static const struct img_fs_ops overlay_ops = {
  .close = ov_close,
  .sync = ov_sync,
  .lstat = ov_lstat,
  .readlink = ov_readlink,
  .readdir = ov_readdir,
  .stat_ino = ov_stat_ino,
  .usage = ov_usage,
  .pread = ov_pread,
  .create = ov_create,
  .pwrite = ov_pwrite,
  .truncate = ov_truncate,
  .mkdir = ov_mkdir,
  .symlink = ov_symlink,
  .mknod = ov_mknod,
  .link = ov_link,
  .unlink = ov_unlink,
  .rmdir = ov_rmdir,
  .rename = ov_rename,
  .chmod = ov_chmod,
  .chown = ov_chown,
  .utimes = ov_utimes,
  .xattrs = ov_xattrs,
  .space = ov_space,
};

int
img_internal_overlay_open (struct img_ctx *ctx, struct img_fs *lower,
                           bool dry_run, const char *mountpoint,
                           struct img_fs_log *log, struct img_fs **fsp)
{
  struct img_overlay *o;

  if (lower == NULL || log == NULL)
    return img_err (ctx, -EINVAL, "fs: overlay: no lower filesystem");
  o = calloc (1, sizeof *o);
  if (o == NULL)
    return img_err (ctx, -ENOMEM, "%s: out of memory", lower->name);
  o->fs.ctx = ctx;
  o->fs.ops = &overlay_ops;
  o->fs.type = lower->type;
  o->fs.name = strdup (lower->name);
  o->fs.writable = dry_run || lower->writable;
  o->prefix = strdup (mountpoint && strcmp (mountpoint, "/") ? mountpoint : "");
  if (o->fs.name == NULL || o->prefix == NULL) {
    free (o->fs.name);
    free (o->prefix);
    free (o);
    return img_err (ctx, -ENOMEM, "%s: out of memory", lower->name);
  }
  o->lower = lower;
  o->dry = dry_run;
  o->log = log;
  o->next_ino = (uint64_t) 1 << 62;   /* far from the lower fs's numbers */
  *fsp = &o->fs;
  return 0;
}
