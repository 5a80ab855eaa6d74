/* ext2/3/4: the entries of one directory: adding one, pointing one
 * elsewhere, "..", emptiness, and the directory's link count and times. */
#include <config.h>

#include <errno.h>
#include <string.h>

#include "fs/ext-private.h"

/* Adds NAME -> INO to directory DIR.  A linear directory that is full gets
 * one more block; an htree directory grows itself inside ext2fs_link
 * (libext2fs >= 1.46), so if that still fails, its index is full. */
int
img_internal_ext_add_entry (struct ext_fs *e, const char *path, ext2_ino_t dir,
                            const char *name, ext2_ino_t ino, uint32_t mode)
{
  struct ext2_inode inode;
  errcode_t err;

  img_internal_ext_dcache_clear (e);
  err = ext2fs_link (e->fs, dir, name, ino, img_internal_ext_ftype (mode));
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_read_inode (e->fs, dir, &inode);
    if (err)
      return img_internal_ext_fail (e, path, "reading the directory inode",
                                    err);
    if (inode.i_flags & EXT2_INDEX_FL)
      return img_err (e->base.ctx, -ENOSPC,
                      "%s: %s: %s: the directory's hash index is full",
                      e->base.name, e->base.type, path);
    err = ext2fs_expand_dir (e->fs, dir);
    if (err)
      return img_internal_ext_fail (e, path, "growing the directory", err);
    err = ext2fs_link (e->fs, dir, name, ino, img_internal_ext_ftype (mode));
  }
  if (err)
    return img_internal_ext_fail (e, path, "adding the directory entry", err);
  return 0;
}

/* A directory's entries changed: new mtime and ctime, and DELTA more or
 * fewer subdirectories, counted from BASE links (or from the current
 * count when BASE is negative).  With dir_nlink a count past
 * EXT2_LINK_MAX is stored as 1 ("many"), as the kernel does, and stays
 * 1. */
int
img_internal_ext_update_dir_from (struct ext_fs *e, const char *path,
                                  ext2_ino_t dir, int delta, int base)
{
  struct ext_inode in;
  int64_t sec;
  uint32_t ns;
  int r;

  r = img_internal_ext_inode_read (e, path, dir, &in);
  if (r < 0)
    return r;
  if (base >= 0)
    in.i->i_links_count = base;
  if (delta > 0 && in.i->i_links_count != 1) {
    if (in.i->i_links_count >= EXT2_LINK_MAX)
      in.i->i_links_count = 1;
    else
      in.i->i_links_count++;
  }
  else if (delta < 0 && in.i->i_links_count > 2)
    in.i->i_links_count--;
  img_internal_ext_now (&sec, &ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  r = img_internal_ext_inode_write (e, path, &in);
  img_internal_ext_inode_free (&in);
  return r;
}

int
img_internal_ext_update_dir (struct ext_fs *e, const char *path,
                             ext2_ino_t dir, int delta)
{
  return img_internal_ext_update_dir_from (e, path, dir, delta, -1);
}

/* May DIR get one more subdirectory? */
int
img_internal_ext_check_subdir_room (struct ext_fs *e, const char *path,
                                    ext2_ino_t dir)
{
  struct ext2_inode inode;
  errcode_t err;

  if (ext2fs_has_feature_dir_nlink (e->fs->super))
    return 0;
  err = ext2fs_read_inode (e->fs, dir, &inode);
  if (err)
    return img_internal_ext_fail (e, path, "reading the directory inode", err);
  if (inode.i_links_count >= EXT2_LINK_MAX)
    return img_internal_ext_errno_msg (e, path, -EMLINK);
  return 0;
}

struct empty_state {
  bool empty;
};

static int
empty_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
          int offset, int blocksize, char *buf, void *priv)
{
  struct empty_state *st = priv;
  int len = ext2fs_dirent_name_len (dirent);

  if (dirent->inode == 0)
    return 0;
  if ((len == 1 && dirent->name[0] == '.')
      || (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
    return 0;
  st->empty = false;
  return DIRENT_ABORT;
}

int
img_internal_ext_check_empty (struct ext_fs *e, const char *path,
                              ext2_ino_t dir)
{
  struct empty_state st = { .empty = true };
  errcode_t err;

  err = ext2fs_dir_iterate2 (e->fs, dir, 0, NULL, empty_cb, &st);
  if (err)
    return img_internal_ext_fail (e, path, "reading the directory", err);
  if (!st.empty)
    return img_internal_ext_errno_msg (e, path, -ENOTEMPTY);
  return 0;
}

/* Points an existing entry NAME -> OLD at NEW instead, in place: a rename
 * over an existing file never leaves a moment without the name. */
struct setent_state {
  const char *name;
  size_t len;
  ext2_ino_t old, new;
  int ftype;
  bool filetype;
  bool done;
};

static int
setent_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
           int offset, int blocksize, char *buf, void *priv)
{
  struct setent_state *st = priv;

  if (dirent->inode != st->old
      || (size_t) ext2fs_dirent_name_len (dirent) != st->len
      || memcmp (dirent->name, st->name, st->len) != 0)
    return 0;
  dirent->inode = st->new;
  if (st->filetype)
    ext2fs_dirent_set_file_type (dirent, st->ftype);
  st->done = true;
  return DIRENT_CHANGED | DIRENT_ABORT;
}

int
img_internal_ext_set_entry (struct ext_fs *e, const char *path, ext2_ino_t dir,
                            const char *name, ext2_ino_t old, ext2_ino_t new,
                            uint32_t mode)
{
  struct setent_state st = {
    .name = name, .len = strlen (name), .old = old, .new = new,
    .ftype = img_internal_ext_ftype (mode),
    .filetype = ext2fs_has_feature_filetype (e->fs->super),
  };
  errcode_t err;

  img_internal_ext_dcache_clear (e);
  err = ext2fs_dir_iterate2 (e->fs, dir, 0, NULL, setent_cb, &st);
  if (err)
    return img_internal_ext_fail (e, path, "updating the directory entry",
                                  err);
  if (!st.done)
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: %s: the directory entry vanished while renaming",
                    e->base.name, e->base.type, path);
  return 0;
}

static int
dotdot_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
           int offset, int blocksize, char *buf, void *priv)
{
  struct setent_state *st = priv;

  /* By name: an inline directory's ".." does not come as
   * DIRENT_DOT_DOT_FILE. */
  if (ext2fs_dirent_name_len (dirent) != 2 || dirent->name[0] != '.'
      || dirent->name[1] != '.')
    return 0;
  dirent->inode = st->new;
  st->done = true;
  return DIRENT_CHANGED | DIRENT_ABORT;
}

int
img_internal_ext_set_dotdot (struct ext_fs *e, const char *path,
                             ext2_ino_t dir, ext2_ino_t parent)
{
  struct setent_state st = { .new = parent };
  errcode_t err;

  img_internal_ext_dcache_clear (e);
  err = ext2fs_dir_iterate2 (e->fs, dir, 0, NULL, dotdot_cb, &st);
  if (err)
    return img_internal_ext_fail (e, path, "updating \"..\"", err);
  if (!st.done)
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: %s: the directory has no \"..\" entry",
                    e->base.name, e->base.type, path);
  return 0;
}
