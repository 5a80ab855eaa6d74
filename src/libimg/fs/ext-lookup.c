/* ext2/3/4: walking a path to its inode, and the checks made before a
 * directory's entries or a file's data are changed. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/ext-private.h"

/* ---- lookups -------------------------------------------------------- */

static size_t
dcache_slot (ext2_ino_t dir, const char *name, size_t len)
{
  uint64_t h = 1469598103934665603ull ^ dir;   /* FNV-1a */
  size_t i;

  for (i = 0; i < len; i++)
    h = (h ^ (unsigned char) name[i]) * 1099511628211ull;
  return (size_t) (h % EXT_DCACHE_SLOTS);
}

void
img_internal_ext_dcache_clear (struct ext_fs *e)
{
  free (e->dcache);
  e->dcache = NULL;
}

/* NAME in directory DIR, by ext2fs_lookup or from the cache. */
static errcode_t
lookup_name (struct ext_fs *e, ext2_ino_t dir, const char *name,
             ext2_ino_t *ino)
{
  size_t len = strlen (name), slot = 0;
  struct ext_dentry *d;
  errcode_t err;

  if (len <= EXT2_NAME_LEN) {
    if (e->dcache == NULL)
      e->dcache = calloc (EXT_DCACHE_SLOTS, sizeof *e->dcache);
    slot = dcache_slot (dir, name, len);
    if (e->dcache && (d = &e->dcache[slot])->dir == dir && d->len == len
        && memcmp (d->name, name, len) == 0) {
      *ino = d->ino;
      return 0;
    }
  }
  err = ext2fs_lookup (e->fs, dir, name, (int) len, NULL, ino);
  if (err == 0 && len <= EXT2_NAME_LEN && e->dcache) {
    d = &e->dcache[slot];
    d->dir = dir;
    d->ino = *ino;
    d->len = (unsigned char) len;
    memcpy (d->name, name, len);
  }
  return err;
}

/* Walks P from the root one component at a time and never follows a
 * symlink: every component but the last must be a directory.  *dirp gets
 * the directory holding the last component (the root for "/"), *inop the
 * last component's inode, or 0 when it does not exist and MISSING_OK. */
int
img_internal_ext_resolve (struct ext_fs *e, const struct img_fs_path *p,
                          bool missing_ok, ext2_ino_t *dirp, ext2_ino_t *inop)
{
  ext2_ino_t dir = EXT2_ROOT_INO, ino = EXT2_ROOT_INO;
  struct ext2_inode inode;
  errcode_t err;
  size_t i;

  for (i = 0; i < p->n; i++) {
    err = ext2fs_read_inode (e->fs, dir, &inode);
    if (err)
      return img_internal_ext_fail (e, p->path, "reading a directory inode",
                                    err);
    if (!LINUX_S_ISDIR (inode.i_mode))
      return img_internal_ext_errno_msg (e, p->path, -ENOTDIR);
    if (inode.i_flags & EXT4_ENCRYPT_FL)
      return img_err (e->base.ctx, -EOPNOTSUPP,
                      "%s: %s: %s: the path crosses an encrypted directory",
                      e->base.name, e->base.type, p->path);
    err = lookup_name (e, dir, p->comp[i], &ino);
    if (err == EXT2_ET_FILE_NOT_FOUND) {
      if (i == p->n - 1 && missing_ok) {
        ino = 0;
        break;
      }
      return img_internal_ext_errno_msg (e, p->path, -ENOENT);
    }
    if (err)
      return img_internal_ext_fail (e, p->path, "looking up a name", err);
    if (ino < EXT2_ROOT_INO || ino > e->fs->super->s_inodes_count)
      return img_err (e->base.ctx, -EUCLEAN,
                      "%s: %s: %s: a directory entry points to invalid inode %u",
                      e->base.name, e->base.type, p->path, ino);
    if (i < p->n - 1)
      dir = ino;
  }
  *dirp = dir;
  *inop = ino;
  return 0;
}

const char *
img_internal_ext_last_name (const struct img_fs_path *p)
{
  return p->comp[p->n - 1];
}

int
img_internal_ext_want_bitmaps (struct ext_fs *e, const char *path)
{
  errcode_t err;

  if (e->fs->inode_map && e->fs->block_map)
    return 0;
  err = ext2fs_read_bitmaps (e->fs);
  if (err)
    return img_internal_ext_fail (e, path, "reading the allocation bitmaps",
                                  err);
  return 0;
}

/* Directories whose entries we must not add or remove: names in encrypted
 * ones are ciphertext, and case-insensitive ones need lookups libext2fs
 * does not do, so a "new" name could duplicate an existing one. */
int
img_internal_ext_check_dir_writable (struct ext_fs *e, const char *path,
                                     ext2_ino_t dir)
{
  struct ext2_inode inode;
  errcode_t err;

  err = ext2fs_read_inode (e->fs, dir, &inode);
  if (err)
    return img_internal_ext_fail (e, path, "reading the directory inode", err);
  if (inode.i_flags & EXT4_ENCRYPT_FL)
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the directory entries there are encrypted and cannot be changed offline",
                    e->base.name, e->base.type, path);
  if (inode.i_flags & EXT4_CASEFOLD_FL)
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the directory there is case-insensitive (casefold), which is not supported for writing",
                    e->base.name, e->base.type, path);
  if (inode.i_flags & EXT4_INLINE_DATA_FL)
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the directory entries there are stored inline (inline_data), which is not supported for writing",
                    e->base.name, e->base.type, path);
  return 0;
}

/* libext2fs makes new directories and long symlinks inline when the
 * filesystem has inline_data; we could not add entries to such a directory
 * afterwards (libext2fs 1.47.0's inline writes overrun a buffer), so ours
 * get a block, which is always valid.  The superblock is only written at
 * flush time, so hiding the feature around one call changes nothing on
 * disk. */
bool
img_internal_ext_inline_off (ext2_filsys fs)
{
  bool had = ext2fs_has_feature_inline_data (fs->super);

  if (had)
    ext2fs_clear_feature_inline_data (fs->super);
  return had;
}

void
img_internal_ext_inline_restore (ext2_filsys fs, bool had)
{
  if (had)
    ext2fs_set_feature_inline_data (fs->super);
}

int
img_internal_ext_check_file_writable (struct ext_fs *e, const char *path,
                                      const struct ext2_inode_large *i)
{
  if (i->i_flags & (EXT4_ENCRYPT_FL | EXT4_VERITY_FL))
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the file is %s; it cannot be changed offline",
                    e->base.name, e->base.type, path,
                    (i->i_flags & EXT4_ENCRYPT_FL) ? "encrypted"
                    : "protected by fs-verity");
  if (i->i_flags & EXT4_INLINE_DATA_FL)
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the file's data is stored in its inode (inline_data), which is not supported for writing; write a new file and rename it over this one",
                    e->base.name, e->base.type, path);
  return 0;
}

/* The start of every operation that makes a name: the bitmaps loaded,
 * P's parent a directory whose entries we may change, P itself absent
 * (-EEXIST otherwise).  *dirp gets the parent. */
int
img_internal_ext_lookup_new (struct ext_fs *e, const struct img_fs_path *p,
                             ext2_ino_t *dirp)
{
  ext2_ino_t ino;
  int r;

  r = img_internal_ext_want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = img_internal_ext_resolve (e, p, true, dirp, &ino);
  if (r < 0)
    return r;
  if (ino != 0)
    return img_internal_ext_errno_msg (e, p->path, -EEXIST);
  return img_internal_ext_check_dir_writable (e, p->path, *dirp);
}

/* Resolves P to an existing inode and reads it into IN. */
int
img_internal_ext_lookup (struct ext_fs *e, const struct img_fs_path *p,
                         struct ext_inode *in)
{
  ext2_ino_t dir, ino;
  int r;

  r = img_internal_ext_resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  return img_internal_ext_inode_read (e, p->path, ino, in);
}

/* Resolves P to an existing regular file; reads its inode into IN. */
int
img_internal_ext_open_regular (struct ext_fs *e, const struct img_fs_path *p,
                               struct ext_inode *in)
{
  int r;

  r = img_internal_ext_lookup (e, p, in);
  if (r < 0)
    return r;
  if (LINUX_S_ISREG (in->i->i_mode))
    return 0;
  if (LINUX_S_ISDIR (in->i->i_mode))
    r = img_internal_ext_errno_msg (e, p->path, -EISDIR);
  else
    r = img_err (e->base.ctx, -EINVAL, "%s: %s: %s: not a regular file",
                 e->base.name, e->base.type, p->path);
  img_internal_ext_inode_free (in);
  return r;
}
