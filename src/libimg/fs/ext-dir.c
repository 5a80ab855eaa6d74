/* ext2/3/4 operations on names: mkdir, symlink, link, unlink, rmdir,
 * rename. */
#include <config.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/ext-private.h"

int
img_internal_ext_mkdir (struct img_fs *fs, const struct img_fs_path *p,
                        uint32_t mode, uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext2_inode parent;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  errcode_t err;
  bool had_inline;
  int64_t sec;
  uint32_t ns;
  int links, r;

  img_internal_ext_dcache_clear (e);
  img_internal_ext_io_reset (e);
  r = img_internal_ext_lookup_new (e, p, &dir);
  if (r < 0)
    return r;
  r = img_internal_ext_check_subdir_room (e, p->path, dir);
  if (r < 0)
    return r;
  /* Our own inode number, so that a retry after growing the parent
   * rewrites the same inode instead of leaving one behind. */
  err = ext2fs_new_inode (e->fs, dir, LINUX_S_IFDIR | 0755, NULL, &ino);
  if (err)
    return img_internal_ext_fail (e, p->path, "allocating an inode", err);
  /* ext2fs_mkdir bumps the parent's link count itself, blindly; note it
   * first so that img_internal_ext_update_dir_from can count the new
   * subdirectory the dir_nlink way. */
  err = ext2fs_read_inode (e->fs, dir, &parent);
  if (err)
    return img_internal_ext_fail (e, p->path, "reading the directory inode",
                                  err);
  links = parent.i_links_count;
  had_inline = img_internal_ext_inline_off (e->fs);
  err = ext2fs_mkdir (e->fs, dir, ino, img_internal_ext_last_name (p));
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_read_inode (e->fs, dir, &parent);
    if (err == 0 && (parent.i_flags & EXT2_INDEX_FL))
      err = EXT2_ET_DIR_NO_SPACE;
    else if (err == 0 && (err = ext2fs_expand_dir (e->fs, dir)) == 0)
      err = ext2fs_mkdir (e->fs, dir, ino, img_internal_ext_last_name (p));
  }
  img_internal_ext_inline_restore (e->fs, had_inline);
  if (err) {
    img_internal_ext_zero_inode (e, ino);
    return img_internal_ext_fail (e, p->path, "creating the directory", err);
  }
  r = img_internal_ext_update_dir_from (e, p->path, dir, +1, links);
  if (r < 0)
    return r;

  r = img_internal_ext_inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  in.i->i_mode = mode;
  img_internal_ext_set_owner (in.i, uid, gid);
  img_internal_ext_now (&sec, &ns);
  SET_TIME (e, in.i, atime, sec, ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  SET_TIME (e, in.i, crtime, sec, ns);
  r = img_internal_ext_inode_write (e, p->path, &in);
  img_internal_ext_inode_free (&in);
  return r;
}

int
img_internal_ext_symlink (struct img_fs *fs, const char *target,
                          const struct img_fs_path *p, uint32_t uid,
                          uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  errcode_t err;
  bool had_inline;
  int64_t sec;
  uint32_t ns;
  int r;

  img_internal_ext_dcache_clear (e);
  img_internal_ext_io_reset (e);
  /* The kernel's limit: the target and its NUL fit in one block. */
  if (strlen (target) >= e->fs->blocksize)
    return img_err (e->base.ctx, -ENAMETOOLONG,
                    "%s: %s: %s: symlink target is longer than %u bytes",
                    e->base.name, e->base.type, p->path,
                    e->fs->blocksize - 1);
  r = img_internal_ext_lookup_new (e, p, &dir);
  if (r < 0)
    return r;
  err = ext2fs_new_inode (e->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino);
  if (err)
    return img_internal_ext_fail (e, p->path, "allocating an inode", err);
  /* ext2fs_symlink stores short targets in the inode (fast symlink),
   * longer ones inline or in a block. */
  had_inline = img_internal_ext_inline_off (e->fs);
  err = ext2fs_symlink (e->fs, dir, ino, img_internal_ext_last_name (p),
                        target);
  if (err == EXT2_ET_DIR_NO_SPACE) {
    struct ext2_inode parent;

    err = ext2fs_read_inode (e->fs, dir, &parent);
    if (err == 0 && (parent.i_flags & EXT2_INDEX_FL))
      err = EXT2_ET_DIR_NO_SPACE;
    else if (err == 0 && (err = ext2fs_expand_dir (e->fs, dir)) == 0)
      err = ext2fs_symlink (e->fs, dir, ino, img_internal_ext_last_name (p),
                            target);
  }
  img_internal_ext_inline_restore (e->fs, had_inline);
  if (err) {
    img_internal_ext_zero_inode (e, ino);
    return img_internal_ext_fail (e, p->path, "creating the symlink", err);
  }
  r = img_internal_ext_inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  img_internal_ext_set_owner (in.i, uid, gid);
  img_internal_ext_now (&sec, &ns);
  SET_TIME (e, in.i, atime, sec, ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  SET_TIME (e, in.i, crtime, sec, ns);
  r = img_internal_ext_inode_write (e, p->path, &in);
  img_internal_ext_inode_free (&in);
  if (r < 0)
    return r;
  return img_internal_ext_update_dir (e, p->path, dir, 0);
}

int
img_internal_ext_link (struct img_fs *fs, const struct img_fs_path *op,
                       const struct img_fs_path *np)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t odir, oino, ndir, nino;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_want_bitmaps (e, np->path);
  if (r < 0)
    return r;
  r = img_internal_ext_resolve (e, op, false, &odir, &oino);
  if (r < 0)
    return r;
  r = img_internal_ext_resolve (e, np, true, &ndir, &nino);
  if (r < 0)
    return r;
  if (nino != 0)
    return img_internal_ext_errno_msg (e, np->path, -EEXIST);
  r = img_internal_ext_check_dir_writable (e, np->path, ndir);
  if (r < 0)
    return r;
  r = img_internal_ext_inode_read (e, op->path, oino, &in);
  if (r < 0)
    return r;
  if (LINUX_S_ISDIR (in.i->i_mode)) {
    r = img_err (e->base.ctx, -EPERM,
                 "%s: %s: %s: cannot hard-link a directory", e->base.name,
                 e->base.type, op->path);
    goto out;
  }
  if (in.i->i_links_count >= EXT2_LINK_MAX) {
    r = img_internal_ext_errno_msg (e, op->path, -EMLINK);
    goto out;
  }
  r = img_internal_ext_add_entry (e, np->path, ndir,
                                  img_internal_ext_last_name (np), oino,
                                  in.i->i_mode);
  if (r < 0)
    goto out;
  in.i->i_links_count++;
  img_internal_ext_touch_ctime (e, in.i);
  r = img_internal_ext_inode_write (e, op->path, &in);
  if (r < 0)
    goto out;
  r = img_internal_ext_update_dir (e, np->path, ndir, 0);
 out:
  img_internal_ext_inode_free (&in);
  return r;
}

/* The start of unlink and rmdir: P must exist in a directory whose
 * entries we may change; IN gets its inode, *dirp that directory. */
static int
lookup_for_removal (struct ext_fs *e, const struct img_fs_path *p,
                    ext2_ino_t *dirp, struct ext_inode *in)
{
  ext2_ino_t ino;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = img_internal_ext_resolve (e, p, false, dirp, &ino);
  if (r < 0)
    return r;
  r = img_internal_ext_check_dir_writable (e, p->path, *dirp);
  if (r < 0)
    return r;
  return img_internal_ext_inode_read (e, p->path, ino, in);
}

/* Removes P's entry, which names INO, from DIR. */
static int
remove_entry (struct ext_fs *e, const struct img_fs_path *p, ext2_ino_t dir,
              ext2_ino_t ino)
{
  errcode_t err;

  img_internal_ext_dcache_clear (e);
  err = ext2fs_unlink (e->fs, dir, img_internal_ext_last_name (p), ino, 0);
  if (err)
    return img_internal_ext_fail (e, p->path, "removing the directory entry",
                                  err);
  return 0;
}

int
img_internal_ext_unlink (struct img_fs *fs, const struct img_fs_path *p)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir;
  int r;

  r = lookup_for_removal (e, p, &dir, &in);
  if (r < 0)
    return r;
  if (LINUX_S_ISDIR (in.i->i_mode)) {
    r = img_internal_ext_errno_msg (e, p->path, -EISDIR);
    goto out;
  }
  r = remove_entry (e, p, dir, in.ino);
  if (r < 0)
    goto out;
  r = img_internal_ext_drop_link (e, p->path, &in);
  if (r < 0)
    goto out;
  r = img_internal_ext_update_dir (e, p->path, dir, 0);
 out:
  img_internal_ext_inode_free (&in);
  return r;
}

int
img_internal_ext_rmdir (struct img_fs *fs, const struct img_fs_path *p)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir;
  int r;

  r = lookup_for_removal (e, p, &dir, &in);
  if (r < 0)
    return r;
  if (!LINUX_S_ISDIR (in.i->i_mode)) {
    r = img_internal_ext_errno_msg (e, p->path, -ENOTDIR);
    goto out;
  }
  r = img_internal_ext_check_empty (e, p->path, in.ino);
  if (r < 0)
    goto out;
  r = remove_entry (e, p, dir, in.ino);
  if (r < 0)
    goto out;
  r = img_internal_ext_free_inode (e, p->path, &in);
  if (r < 0)
    goto out;
  r = img_internal_ext_update_dir (e, p->path, dir, -1);
 out:
  img_internal_ext_inode_free (&in);
  return r;
}

/* Within the filesystem: the new name first (in place over an existing
 * target), then the old name goes, then link counts and "..". */
int
img_internal_ext_rename (struct img_fs *fs, const struct img_fs_path *op,
                         const struct img_fs_path *np)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode src = { 0 }, tgt = { 0 };
  ext2_ino_t odir, oino, ndir, nino;
  bool sdir;
  errcode_t err;
  int r;

  img_internal_ext_dcache_clear (e);
  img_internal_ext_io_reset (e);
  r = img_internal_ext_want_bitmaps (e, np->path);
  if (r < 0)
    return r;
  r = img_internal_ext_resolve (e, op, false, &odir, &oino);
  if (r < 0)
    return r;
  r = img_internal_ext_resolve (e, np, true, &ndir, &nino);
  if (r < 0)
    return r;
  /* Two names of one file (or one name twice): nothing to do (POSIX). */
  if (nino == oino)
    return 0;
  r = img_internal_ext_check_dir_writable (e, op->path, odir);
  if (r < 0)
    return r;
  r = img_internal_ext_check_dir_writable (e, np->path, ndir);
  if (r < 0)
    return r;
  r = img_internal_ext_inode_read (e, op->path, oino, &src);
  if (r < 0)
    return r;
  sdir = LINUX_S_ISDIR (src.i->i_mode);
  if (nino != 0) {
    r = img_internal_ext_inode_read (e, np->path, nino, &tgt);
    if (r < 0)
      goto out;
    if (LINUX_S_ISDIR (tgt.i->i_mode)) {
      if (!sdir) {
        r = img_internal_ext_errno_msg (e, np->path, -EISDIR);
        goto out;
      }
      r = img_internal_ext_check_empty (e, np->path, nino);
      if (r < 0)
        goto out;
    }
    else if (sdir) {
      r = img_internal_ext_errno_msg (e, np->path, -ENOTDIR);
      goto out;
    }
  }
  else if (sdir && odir != ndir) {
    r = img_internal_ext_check_subdir_room (e, np->path, ndir);
    if (r < 0)
      goto out;
  }
  /* A directory changing parents gets a new "..": an entry change. */
  if (sdir && odir != ndir) {
    r = img_internal_ext_check_dir_writable (e, op->path, oino);
    if (r < 0)
      goto out;
  }

  if (nino != 0)
    r = img_internal_ext_set_entry (e, np->path, ndir,
                                    img_internal_ext_last_name (np), nino,
                                    oino, src.i->i_mode);
  else
    r = img_internal_ext_add_entry (e, np->path, ndir,
                                    img_internal_ext_last_name (np), oino,
                                    src.i->i_mode);
  if (r < 0)
    goto out;
  err = ext2fs_unlink (e->fs, odir, img_internal_ext_last_name (op), oino, 0);
  if (err) {
    r = img_internal_ext_fail (e, op->path, "removing the old directory entry",
                               err);
    goto out;
  }
  if (nino != 0) {
    if (LINUX_S_ISDIR (tgt.i->i_mode)) {
      r = img_internal_ext_free_inode (e, np->path, &tgt);
      /* The replaced directory's ".." no longer counts for ndir. */
      if (r == 0)
        r = img_internal_ext_update_dir (e, np->path, ndir, -1);
    }
    else
      r = img_internal_ext_drop_link (e, np->path, &tgt);
    if (r < 0)
      goto out;
  }
  if (sdir && odir != ndir) {
    r = img_internal_ext_set_dotdot (e, op->path, oino, ndir);
    if (r < 0)
      goto out;
    r = img_internal_ext_update_dir (e, op->path, odir, -1);
    if (r == 0)
      r = img_internal_ext_update_dir (e, np->path, ndir, +1);
  }
  else {
    r = img_internal_ext_update_dir (e, op->path, odir, 0);
    if (r == 0 && ndir != odir)
      r = img_internal_ext_update_dir (e, np->path, ndir, 0);
  }
  if (r < 0)
    goto out;
  /* The kernel gives a renamed inode a new ctime;
   * img_internal_ext_set_dotdot may have rewritten an inline directory's
   * inode, so read it again. */
  img_internal_ext_inode_free (&src);
  r = img_internal_ext_inode_read (e, np->path, oino, &src);
  if (r < 0)
    goto out;
  img_internal_ext_touch_ctime (e, src.i);
  r = img_internal_ext_inode_write (e, np->path, &src);
 out:
  img_internal_ext_inode_free (&tgt);
  img_internal_ext_inode_free (&src);
  return r;
}
