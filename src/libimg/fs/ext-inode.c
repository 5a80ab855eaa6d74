/* ext2/3/4: inodes as stored (read, write, fresh, freed), their times,
 * owners and file types. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/ext-private.h"

void
img_internal_ext_now (int64_t *sec, uint32_t *ns)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  *sec = ts.tv_sec;
  *ns = ts.tv_nsec;
}

size_t
img_internal_ext_inode_buf_size (const struct ext_fs *e)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);

  return size > sizeof (struct ext2_inode_large)
    ? size : sizeof (struct ext2_inode_large);
}

int
img_internal_ext_inode_read (struct ext_fs *e, const char *path,
                             ext2_ino_t ino, struct ext_inode *in)
{
  errcode_t err;

  in->ino = ino;
  in->i = calloc (1, img_internal_ext_inode_buf_size (e));
  if (in->i == NULL)
    return img_err (e->base.ctx, -ENOMEM, "%s: %s: out of memory",
                    e->base.name, e->base.type);
  err = ext2fs_read_inode_full (e->fs, ino, (struct ext2_inode *) in->i,
                                EXT2_INODE_SIZE (e->fs->super));
  if (err) {
    free (in->i);
    in->i = NULL;
    return img_internal_ext_fail (e, path, "reading an inode", err);
  }
  return 0;
}

int
img_internal_ext_inode_write (struct ext_fs *e, const char *path,
                              struct ext_inode *in)
{
  errcode_t err;

  err = ext2fs_write_inode_full (e->fs, in->ino, (struct ext2_inode *) in->i,
                                 EXT2_INODE_SIZE (e->fs->super));
  if (err)
    return img_internal_ext_fail (e, path, "writing an inode", err);
  return 0;
}

void
img_internal_ext_inode_free (struct ext_inode *in)
{
  free (in->i);
  in->i = NULL;
}

/* Where the fields this inode really has end (128 + i_extra_isize, bounded
 * by the on-disk inode size). */
size_t
img_internal_ext_extra_end (const struct ext_fs *e,
                            const struct ext2_inode_large *i)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);

  if (size <= EXT2_GOOD_OLD_INODE_SIZE
      || EXT2_GOOD_OLD_INODE_SIZE + (size_t) i->i_extra_isize > size)
    return EXT2_GOOD_OLD_INODE_SIZE;
  return EXT2_GOOD_OLD_INODE_SIZE + i->i_extra_isize;
}

/* The *_extra time fields: nanoseconds << 2 | bits 32-33 of the seconds. */
uint32_t
img_internal_ext_time_extra (int64_t sec, uint32_t ns)
{
  uint64_t epoch = ((uint64_t) (sec - (int32_t) sec)) >> 32;

  return (uint32_t) (epoch & EXT4_EPOCH_MASK) | (ns << EXT4_EPOCH_BITS);
}

void
img_internal_ext_time_decode (uint32_t lo, bool has_extra, uint32_t extra,
                              int64_t *sec, uint32_t *ns)
{
  *sec = (int32_t) lo;
  *ns = 0;
  if (has_extra) {
    *sec += (int64_t) (extra & EXT4_EPOCH_MASK) << 32;
    *ns = extra >> EXT4_EPOCH_BITS;
    if (*ns >= 1000000000)
      *ns = 0;
  }
}

uint32_t
img_internal_ext_large_uid (const struct ext2_inode_large *i)
{
  return i->i_uid | (uint32_t) i->osd2.linux2.l_i_uid_high << 16;
}

uint32_t
img_internal_ext_large_gid (const struct ext2_inode_large *i)
{
  return i->i_gid | (uint32_t) i->osd2.linux2.l_i_gid_high << 16;
}

void
img_internal_ext_set_owner (struct ext2_inode_large *i, uint32_t uid,
                            uint32_t gid)
{
  if (uid != (uint32_t) -1) {
    i->i_uid = uid & 0xffff;
    i->osd2.linux2.l_i_uid_high = uid >> 16;
  }
  if (gid != (uint32_t) -1) {
    i->i_gid = gid & 0xffff;
    i->osd2.linux2.l_i_gid_high = gid >> 16;
  }
}

void
img_internal_ext_touch_ctime (struct ext_fs *e, struct ext2_inode_large *i)
{
  int64_t sec;
  uint32_t ns;

  img_internal_ext_now (&sec, &ns);
  SET_TIME (e, i, ctime, sec, ns);
}

int
img_internal_ext_ftype (uint32_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFREG: return EXT2_FT_REG_FILE;
  case S_IFDIR: return EXT2_FT_DIR;
  case S_IFLNK: return EXT2_FT_SYMLINK;
  case S_IFCHR: return EXT2_FT_CHRDEV;
  case S_IFBLK: return EXT2_FT_BLKDEV;
  case S_IFIFO: return EXT2_FT_FIFO;
  case S_IFSOCK: return EXT2_FT_SOCK;
  default: return EXT2_FT_UNKNOWN;
  }
}

unsigned char
img_internal_ext_ftype_to_dtype (int ft)
{
  switch (ft) {
  case EXT2_FT_REG_FILE: return DT_REG;
  case EXT2_FT_DIR: return DT_DIR;
  case EXT2_FT_SYMLINK: return DT_LNK;
  case EXT2_FT_CHRDEV: return DT_CHR;
  case EXT2_FT_BLKDEV: return DT_BLK;
  case EXT2_FT_FIFO: return DT_FIFO;
  case EXT2_FT_SOCK: return DT_SOCK;
  default: return DT_UNKNOWN;
  }
}

/* Clears an inode we allocated but could not link, so that e2fsck finds
 * no unattached inode. */
void
img_internal_ext_zero_inode (struct ext_fs *e, ext2_ino_t ino)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);
  void *buf = calloc (1, size);

  if (buf) {
    ext2fs_write_inode_full (e->fs, ino, buf, size);
    free (buf);
  }
}

/* Frees an inode whose last link is gone: its xattr block, its blocks,
 * then the inode itself.  IN is written back with the deletion time. */
int
img_internal_ext_free_inode (struct ext_fs *e, const char *path,
                             struct ext_inode *in)
{
  int isdir = LINUX_S_ISDIR (in->i->i_mode);
  errcode_t err;
  int64_t sec;
  uint32_t ns;
  int r;

  in->i->i_links_count = 0;
  err = ext2fs_free_ext_attr (e->fs, in->ino, in->i);
  if (err)
    return img_internal_ext_fail (e, path,
                                  "freeing the extended attribute block", err);
  if (ext2fs_inode_has_valid_blocks2 (e->fs, (struct ext2_inode *) in->i)) {
    err = ext2fs_punch (e->fs, in->ino, (struct ext2_inode *) in->i, NULL, 0,
                        ~0ULL);
    if (err)
      return img_internal_ext_fail (e, path, "freeing the blocks", err);
  }
  img_internal_ext_now (&sec, &ns);
  in->i->i_dtime = (uint32_t) sec;
  SET_TIME (e, in->i, ctime, sec, ns);
  r = img_internal_ext_inode_write (e, path, in);
  if (r < 0)
    return r;
  ext2fs_inode_alloc_stats2 (e->fs, in->ino, -1, isdir);
  return 0;
}

/* Drops one link of a non-directory; frees it with the last. */
int
img_internal_ext_drop_link (struct ext_fs *e, const char *path,
                            struct ext_inode *in)
{
  if (in->i->i_links_count > 1) {
    in->i->i_links_count--;
    img_internal_ext_touch_ctime (e, in->i);
    return img_internal_ext_inode_write (e, path, in);
  }
  return img_internal_ext_free_inode (e, path, in);
}

/* Sets up a fresh inode in IN (zeroed beyond what we set, so no stale
 * extended attributes survive from a previous owner of the slot). */
void
img_internal_ext_init_inode (struct ext_fs *e, struct ext_inode *in,
                             uint32_t mode, uint32_t uid, uint32_t gid)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);
  struct ext2_inode_large *i = in->i;
  uint32_t gen;
  int64_t sec;
  uint32_t ns;

  memset (i, 0, img_internal_ext_inode_buf_size (e));
  i->i_mode = mode;
  img_internal_ext_set_owner (i, uid, gid);
  i->i_links_count = 1;
  if (size > EXT2_GOOD_OLD_INODE_SIZE) {
    size_t extra = sizeof (struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
    if (extra > size - EXT2_GOOD_OLD_INODE_SIZE)
      extra = (size - EXT2_GOOD_OLD_INODE_SIZE) & ~(size_t) 3;
    i->i_extra_isize = extra;
  }
  img_internal_ext_now (&sec, &ns);
  SET_TIME (e, i, atime, sec, ns);
  SET_TIME (e, i, mtime, sec, ns);
  SET_TIME (e, i, ctime, sec, ns);
  SET_TIME (e, i, crtime, sec, ns);
  /* NFS file handles carry the generation; the kernel picks it at random. */
  if (getrandom (&gen, sizeof gen, GRND_NONBLOCK) != sizeof gen)
    gen = (uint32_t) (sec ^ ns ^ in->ino);
  i->i_generation = gen;
}
