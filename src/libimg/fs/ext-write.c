/* ext2/3/4 operations that change a file in place: create, mknod,
 * pwrite, truncate, chmod, chown, utimes. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fs/ext-private.h"

/* Regular files, device nodes, fifos and sockets. */
static int
new_node (struct ext_fs *e, const struct img_fs_path *p, uint32_t mode,
          uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid)
{
  struct ext_inode in = { 0 };
  ext2_ino_t dir, ino;
  errcode_t err;
  int r;

  r = img_internal_ext_lookup_new (e, p, &dir);
  if (r < 0)
    return r;
  err = ext2fs_new_inode (e->fs, dir, mode, NULL, &ino);
  if (err)
    return img_internal_ext_fail (e, p->path, "allocating an inode", err);
  in.ino = ino;
  in.i = malloc (img_internal_ext_inode_buf_size (e));
  if (in.i == NULL)
    return img_err (e->base.ctx, -ENOMEM, "%s: %s: out of memory",
                    e->base.name, e->base.type);
  img_internal_ext_init_inode (e, &in, mode, uid, gid);
  if (LINUX_S_ISREG (mode) && ext2fs_has_feature_extents (e->fs->super)) {
    ext2_extent_handle_t h;

    /* Opening an extent handle on an empty i_block writes the empty
     * extent header into it (and sets EXT4_EXTENTS_FL). */
    err = ext2fs_extent_open2 (e->fs, ino, (struct ext2_inode *) in.i, &h);
    if (err) {
      r = img_internal_ext_fail (e, p->path, "setting up the extent tree",
                                 err);
      goto out;
    }
    ext2fs_extent_free (h);
  }
  else if (LINUX_S_ISCHR (mode) || LINUX_S_ISBLK (mode)) {
    if (major < 256 && minor < 256)
      in.i->i_block[0] = major << 8 | minor;
    else
      in.i->i_block[1] = (minor & 0xff) | (major & 0xfff) << 8
                         | (minor & ~0xffu) << 12;
  }
  r = img_internal_ext_inode_write (e, p->path, &in);
  if (r < 0)
    goto out;
  r = img_internal_ext_add_entry (e, p->path, dir,
                                  img_internal_ext_last_name (p), ino, mode);
  if (r < 0) {
    img_internal_ext_zero_inode (e, ino);
    goto out;
  }
  ext2fs_inode_alloc_stats2 (e->fs, ino, +1, 0);
  r = img_internal_ext_update_dir (e, p->path, dir, 0);
 out:
  img_internal_ext_inode_free (&in);
  return r;
}

int
img_internal_ext_create (struct img_fs *fs, const struct img_fs_path *p,
                         uint32_t mode, uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;

  img_internal_ext_io_reset (e);
  return new_node (e, p, mode, 0, 0, uid, gid);
}

int
img_internal_ext_mknod (struct img_fs *fs, const struct img_fs_path *p,
                        uint32_t mode, uint32_t major, uint32_t minor,
                        uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;

  img_internal_ext_io_reset (e);
  if (major > 0xfff || minor > 0xfffff)
    return img_err (e->base.ctx, -EINVAL,
                    "%s: %s: %s: device number %u:%u does not fit in 12:20 bits",
                    e->base.name, e->base.type, p->path, major, minor);
  return new_node (e, p, mode, major, minor, uid, gid);
}

/* New mtime and ctime on a file whose data changed. */
static int
touch_data (struct ext_fs *e, const char *path, ext2_ino_t ino)
{
  struct ext_inode in;
  int64_t sec;
  uint32_t ns;
  int r;

  r = img_internal_ext_inode_read (e, path, ino, &in);
  if (r < 0)
    return r;
  img_internal_ext_now (&sec, &ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  r = img_internal_ext_inode_write (e, path, &in);
  img_internal_ext_inode_free (&in);
  return r;
}

/* Writes LEN bytes at OFF through libext2fs's file API, which handles
 * every case (holes, unwritten extents, inline data, block-mapped files)
 * one block at a time. */
static errcode_t
file_write_range (ext2_filsys fs, ext2_ino_t ino, const void *buf, size_t len,
                  uint64_t off)
{
  ext2_file_t f;
  errcode_t err, err2;
  size_t done = 0;

  err = ext2fs_file_open2 (fs, ino, NULL, EXT2_FILE_WRITE, &f);
  if (err)
    return err;
  err = ext2fs_file_llseek (f, off, EXT2_SEEK_SET, NULL);
  while (err == 0 && done < len) {
    unsigned int n, chunk = MIN (len - done, (size_t) 1 << 30);

    err = ext2fs_file_write (f, (const char *) buf + done, chunk, &n);
    if (err == 0 && n == 0)
      err = EXT2_ET_SHORT_WRITE;
    done += n;
  }
  /* Closing writes the last buffered block. */
  err2 = ext2fs_file_close (f);
  return err ? err : err2;
}

/* Writes the whole blocks [LBLK, LBLK+N) of an extent-mapped file: holes
 * are allocated in one go (ext2fs_fallocate, as initialized extents since
 * every byte is written right after), then the data goes to the disk in
 * physically contiguous runs.  ext2fs_file_write would allocate, update
 * the inode and write one block at a time: over qemu-nbd, a round trip
 * each.  Unwritten (preallocated) extents in the range still go through
 * the file API, which converts them. */
static errcode_t
write_whole_blocks (ext2_filsys fs, ext2_ino_t ino, const unsigned char *buf,
                    blk64_t lblk, blk64_t n)
{
  const blk64_t max_run = 4096;         /* blocks per write */
  ext2_extent_handle_t h = NULL;
  struct ext2fs_extent ex;
  blk64_t cur = lblk, end = lblk + n;
  errcode_t err;

  err = ext2fs_fallocate (fs, EXT2_FALLOCATE_FORCE_INIT
                          | EXT2_FALLOCATE_INIT_BEYOND_EOF,
                          ino, NULL, ~0ULL, lblk, n);
  while (err == 0 && cur < end) {
    const unsigned char *p = buf + (cur - lblk) * fs->blocksize;
    blk64_t run, pblk, i;

    if (h == NULL && (err = ext2fs_extent_open2 (fs, ino, NULL, &h)) != 0)
      break;
    err = ext2fs_extent_goto (h, cur);
    if (err == 0)
      err = ext2fs_extent_get (h, EXT2_EXTENT_CURRENT, &ex);
    if (err == 0 && (cur < ex.e_lblk || cur >= ex.e_lblk + ex.e_len))
      err = EXT2_ET_EXTENT_NOT_FOUND;
    if (err)
      break;
    run = MIN (end, ex.e_lblk + ex.e_len) - cur;
    if (ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT) {
      ext2fs_extent_free (h);
      h = NULL;
      err = file_write_range (fs, ino, p, run * fs->blocksize,
                              cur * fs->blocksize);
    }
    else {
      pblk = ex.e_pblk + (cur - ex.e_lblk);
      for (i = 0; err == 0 && i < run; i += max_run)
        err = io_channel_write_blk64 (fs->io, pblk + i, MIN (max_run, run - i),
                                      p + i * fs->blocksize);
    }
    cur += run;
  }
  if (h)
    ext2fs_extent_free (h);
  return err;
}

int
img_internal_ext_pwrite (struct img_fs *fs, const struct img_fs_path *p,
                         const void *buf, size_t len, uint64_t off)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  const unsigned char *data = buf;
  struct ext_inode in;
  uint64_t bs, first, last, size;
  bool fast;
  errcode_t err = 0;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = img_internal_ext_open_regular (e, p, &in);
  if (r < 0)
    return r;
  r = img_internal_ext_check_file_writable (e, p->path, in.i);
  size = EXT2_I_SIZE (in.i);
  bs = e->fs->blocksize;
  /* Whole blocks [first, last) take the fast path in extent files. */
  first = (off + bs - 1) / bs;
  last = (off + len) / bs;
  fast = (in.i->i_flags & EXT4_EXTENTS_FL)
    && !(in.i->i_flags & EXT4_INLINE_DATA_FL) && last > first;
  img_internal_ext_inode_free (&in);
  if (r < 0)
    return r;
  if (len == 0)
    return 0;
  if (!fast)
    err = file_write_range (e->fs, in.ino, data, len, off);
  else {
    size_t head = first * bs - off, tail = off + len - last * bs;

    if (head)
      err = file_write_range (e->fs, in.ino, data, head, off);
    if (err == 0) {
      err = write_whole_blocks (e->fs, in.ino, data + head, first,
                                last - first);
      /* Initialized blocks holding whatever was on the disk must not
       * stay behind a failed write. */
      if (err)
        ext2fs_punch (e->fs, in.ino, NULL, NULL, first, last - 1);
    }
    if (err == 0 && tail)
      err = file_write_range (e->fs, in.ino, data + (last * bs - off), tail,
                              last * bs);
    else if (err == 0 && off + len > size) {
      ext2_file_t f;

      err = ext2fs_file_open2 (e->fs, in.ino, NULL, EXT2_FILE_WRITE, &f);
      if (err == 0) {
        errcode_t err2;
        /* The size may have grown meanwhile (the head write). */
        if (EXT2_I_SIZE (ext2fs_file_get_inode (f)) < off + len)
          err = ext2fs_file_set_size2 (f, off + len);
        err2 = ext2fs_file_close (f);
        if (err == 0)
          err = err2;
      }
    }
  }
  if (err)
    return img_internal_ext_fail (e, p->path, "writing the file", err);
  return touch_data (e, p->path, in.ino);
}

int
img_internal_ext_truncate (struct img_fs *fs, const struct img_fs_path *p,
                           uint64_t size)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_file_t f;
  errcode_t err, err2;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = img_internal_ext_open_regular (e, p, &in);
  if (r < 0)
    return r;
  r = img_internal_ext_check_file_writable (e, p->path, in.i);
  img_internal_ext_inode_free (&in);
  if (r < 0)
    return r;
  err = ext2fs_file_open2 (e->fs, in.ino, NULL, EXT2_FILE_WRITE, &f);
  if (err)
    return img_internal_ext_fail (e, p->path, "opening the file", err);
  /* Frees the blocks past the end and zeroes the tail of the last one. */
  err = ext2fs_file_set_size2 (f, size);
  err2 = ext2fs_file_close (f);
  if (err == 0)
    err = err2;
  if (err)
    return img_internal_ext_fail (e, p->path, "setting the file size", err);
  return touch_data (e, p->path, in.ino);
}

int
img_internal_ext_chmod (struct img_fs *fs, const struct img_fs_path *p,
                        uint32_t mode)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_lookup (e, p, &in);
  if (r < 0)
    return r;
  /* Linux has no mode on a symlink (lchmod is EOPNOTSUPP); the dir
   * backend cannot do it either. */
  if (LINUX_S_ISLNK (in.i->i_mode))
    r = img_err (e->base.ctx, -EOPNOTSUPP,
                 "%s: %s: %s: a symlink has no mode to change", e->base.name,
                 e->base.type, p->path);
  else {
    in.i->i_mode = (in.i->i_mode & S_IFMT) | (mode & 07777);
    img_internal_ext_touch_ctime (e, in.i);
    r = img_internal_ext_inode_write (e, p->path, &in);
  }
  img_internal_ext_inode_free (&in);
  return r;
}

int
img_internal_ext_chown (struct img_fs *fs, const struct img_fs_path *p,
                        uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_lookup (e, p, &in);
  if (r < 0)
    return r;
  img_internal_ext_set_owner (in.i, uid, gid);
  img_internal_ext_touch_ctime (e, in.i);
  r = img_internal_ext_inode_write (e, p->path, &in);
  img_internal_ext_inode_free (&in);
  return r;
}

int
img_internal_ext_utimes (struct img_fs *fs, const struct img_fs_path *p,
                         int64_t atime, uint32_t atime_ns, int64_t mtime,
                         uint32_t mtime_ns)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  img_internal_ext_io_reset (e);
  r = img_internal_ext_lookup (e, p, &in);
  if (r < 0)
    return r;
  SET_TIME (e, in.i, atime, atime, atime_ns);
  SET_TIME (e, in.i, mtime, mtime, mtime_ns);
  img_internal_ext_touch_ctime (e, in.i);
  r = img_internal_ext_inode_write (e, p->path, &in);
  img_internal_ext_inode_free (&in);
  return r;
}
