/* ext2/3/4 through libext2fs, read and written in place on a volume:
 * opening (with the checks that must hold before we write), sync, close,
 * the operations table, and libext2fs errors as -errno with one message.
 * The other ext-*.c files hold the operations, split by concern as
 * e2fsprogs splits lib/ext2fs. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ext-private.h"

/* libext2fs error codes as -errno.  Plain errnos pass through (our channel
 * returns them, and so does libext2fs for some failures). */
static int
ext_errno (errcode_t err)
{
  if (err > 0 && err < 4096)
    return -(int) err;
  switch (err) {
  case EXT2_ET_NO_MEMORY:
    return -ENOMEM;
  case EXT2_ET_FILE_NOT_FOUND:
    return -ENOENT;
  case EXT2_ET_DIR_EXISTS:
  case EXT2_ET_FILE_EXISTS:
    return -EEXIST;
  case EXT2_ET_NO_DIRECTORY:
    return -ENOTDIR;
  case EXT2_ET_RO_FILSYS:
  case EXT2_ET_FILE_RO:
  case EXT2_ET_RO_UNSUPP_FEATURE:
    return -EROFS;
  case EXT2_ET_BLOCK_ALLOC_FAIL:
  case EXT2_ET_INODE_ALLOC_FAIL:
  case EXT2_ET_DIR_NO_SPACE:
  case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
  case EXT2_ET_EA_NO_SPACE:
  case EXT2_ET_INLINE_DATA_NO_SPACE:
  case EXT2_ET_EXTENT_NO_SPACE:
  case EXT2_ET_RES_GDT_BLOCKS:
    return -ENOSPC;
  case EXT2_ET_FILE_TOO_BIG:
    return -EFBIG;
  case EXT2_ET_TOO_MANY_REFS:
    return -EMLINK;
  case EXT2_ET_UNSUPP_FEATURE:
  case EXT2_ET_UNIMPLEMENTED:
  case EXT2_ET_OP_NOT_SUPPORTED:
  case EXT2_ET_EXTENT_NOT_SUPPORTED:
  case EXT2_ET_INLINE_DATA_CANT_ITERATE:
  case EXT2_ET_DIRHASH_UNSUPP:
  case EXT2_ET_EXTERNAL_JOURNAL_NOSUPP:
    return -EOPNOTSUPP;
  case EXT2_ET_INVALID_ARGUMENT:
    return -EINVAL;
  case EXT2_ET_SHORT_READ:
  case EXT2_ET_SHORT_WRITE:
  case EXT2_ET_LLSEEK_FAILED:
    return -EIO;
  case EXT2_ET_BAD_MAGIC:
  case EXT2_ET_REV_TOO_HIGH:
  case EXT2_ET_GDESC_BAD_BLOCK_MAP:
  case EXT2_ET_GDESC_BAD_INODE_MAP:
  case EXT2_ET_GDESC_BAD_INODE_TABLE:
  case EXT2_ET_UNEXPECTED_BLOCK_SIZE:
  case EXT2_ET_DIR_CORRUPTED:
  case EXT2_ET_BAD_INODE_NUM:
  case EXT2_ET_BAD_BLOCK_NUM:
  case EXT2_ET_BAD_IND_BLOCK:
  case EXT2_ET_BAD_DIND_BLOCK:
  case EXT2_ET_BAD_TIND_BLOCK:
  case EXT2_ET_MISSING_INODE_TABLE:
  case EXT2_ET_CORRUPT_SUPERBLOCK:
  case EXT2_ET_BAD_BLOCK_IN_INODE_TABLE:
  case EXT2_ET_BAD_EA_BLOCK_NUM:
  case EXT2_ET_RESIZE_INODE_CORRUPT:
  case EXT2_ET_EXTENT_HEADER_BAD:
  case EXT2_ET_EXTENT_INDEX_BAD:
  case EXT2_ET_EXTENT_LEAF_BAD:
  case EXT2_ET_EXTENT_CYCLE:
  case EXT2_ET_BAD_DESC_SIZE:
  case EXT2_ET_INODE_CSUM_INVALID:
  case EXT2_ET_INODE_BITMAP_CSUM_INVALID:
  case EXT2_ET_BLOCK_BITMAP_CSUM_INVALID:
  case EXT2_ET_EXTENT_CSUM_INVALID:
  case EXT2_ET_DIR_CSUM_INVALID:
  case EXT2_ET_EXT_ATTR_CSUM_INVALID:
  case EXT2_ET_SB_CSUM_INVALID:
  case EXT2_ET_UNKNOWN_CSUM:
  case EXT2_ET_BAD_EA_HASH:
  case EXT2_ET_BAD_EA_HEADER:
  case EXT2_ET_EA_BAD_NAME_LEN:
  case EXT2_ET_EA_BAD_VALUE_SIZE:
  case EXT2_ET_EA_BAD_VALUE_OFFSET:
  case EXT2_ET_INODE_IS_GARBAGE:
  case EXT2_ET_FILESYSTEM_CORRUPTED:
  case EXT2_ET_BAD_CRC:
  case EXT2_ET_CORRUPT_JOURNAL_SB:
  case EXT2_ET_INODE_CORRUPTED:
  case EXT2_ET_EA_INODE_CORRUPTED:
  case EXT2_ET_NO_GDESC:
  case EXT2_ET_SYMLINK_LOOP:
    return -EUCLEAN;
  default:
    return -EIO;
  }
}

void
img_internal_ext_io_reset (struct ext_fs *e)
{
  e->io.err = 0;
  e->io.msg[0] = '\0';
}

/* Records one message for a libext2fs failure: "NAME: TYPE: PATH: WHAT:
 * reason".  When the volume below failed, its message is the reason. */
int
img_internal_ext_fail (struct ext_fs *e, const char *path, const char *what,
                       errcode_t err)
{
  const char *reason = e->io.err ? e->io.msg : error_message (err);
  int r = e->io.err ? e->io.err : ext_errno (err);

  if (path)
    return img_err (e->base.ctx, r, "%s: %s: %s: %s: %s", e->base.name,
                    e->base.type, path, what, reason);
  return img_err (e->base.ctx, r, "%s: %s: %s: %s", e->base.name,
                  e->base.type, what, reason);
}

int
img_internal_ext_errno_msg (struct ext_fs *e, const char *path, int err)
{
  return img_internal_fs_errno (&e->base, path, err);
}

static int
ext_sync (struct img_fs *fs)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  errcode_t err;
  int r;

  img_internal_ext_io_reset (e);
  if (e->fs->flags & EXT2_FLAG_DIRTY) {
    /* Superblock, group descriptors (and their backups), bitmaps. */
    err = ext2fs_flush (e->fs);
    if (err)
      return img_internal_ext_fail (e, NULL,
                                    "writing the superblock and bitmaps", err);
  }
  r = img_internal_ext_writeback (&e->io);
  if (r == 0)
    r = img_internal_ext_vol_flush (e->io.vol);
  return r;
}

static void
ext_free (struct ext_fs *e)
{
  img_internal_ext_cache_free (&e->io);
  img_internal_ext_dcache_clear (e);
  free (e->base.name);
  free (e);
}

static int
ext_close (struct img_fs *fs)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  errcode_t err;
  int r = 0;

  img_internal_ext_io_reset (e);
  if (e->fs) {
    err = ext2fs_close_free (&e->fs);
    if (err)
      r = img_internal_ext_fail (e, NULL, "writing the filesystem back", err);
  }
  if (e->base.writable) {
    /* What libext2fs wrote last and did not flush (file data, when the
     * superblock had nothing to say). */
    int r2 = img_internal_ext_writeback (&e->io);

    if (r2 == 0)
      r2 = img_internal_ext_vol_flush (e->io.vol);
    if (r == 0)
      r = r2;
  }
  ext_free (e);
  return r;
}

static int
ext_space (struct img_fs *fs, uint64_t *total, uint64_t *avail)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  uint64_t bs = EXT2_BLOCK_SIZE (e->fs->super);

  *total = ext2fs_blocks_count (e->fs->super) * bs;
  *avail = ext2fs_free_blocks_count (e->fs->super) * bs;
  return 0;
}

static const struct img_fs_ops ext_ops = {
  .space = ext_space,
  .xattrs = img_internal_ext_xattrs,
  .close = ext_close,
  .sync = ext_sync,
  .lstat = img_internal_ext_lstat,
  .readlink = img_internal_ext_readlink,
  .readdir = img_internal_ext_readdir,
  .stat_ino = img_internal_ext_stat_ino,
  .usage = img_internal_ext_usage,
  .pread = img_internal_ext_pread,
  .create = img_internal_ext_create,
  .pwrite = img_internal_ext_pwrite,
  .truncate = img_internal_ext_truncate,
  .mkdir = img_internal_ext_mkdir,
  .symlink = img_internal_ext_symlink,
  .mknod = img_internal_ext_mknod,
  .link = img_internal_ext_link,
  .unlink = img_internal_ext_unlink,
  .rmdir = img_internal_ext_rmdir,
  .rename = img_internal_ext_rename,
  .chmod = img_internal_ext_chmod,
  .chown = img_internal_ext_chown,
  .utimes = img_internal_ext_utimes,
};

/* ---- opening -------------------------------------------------------- */

/* As blkid names them: ext4 for anything ext3 cannot mount. */
static const char *
fs_type_name (const struct ext2_super_block *sb)
{
  const uint32_t ext3_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE
    | EXT3_FEATURE_INCOMPAT_RECOVER | EXT2_FEATURE_INCOMPAT_META_BG;
  const uint32_t ext3_ro_compat = EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER
    | EXT2_FEATURE_RO_COMPAT_LARGE_FILE | 0x0004 /* btree_dir */;

  if ((sb->s_feature_incompat & ~ext3_incompat)
      || (sb->s_feature_ro_compat & ~ext3_ro_compat))
    return "ext4";
  if (sb->s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL)
    return "ext3";
  return "ext2";
}

static int
open_error (struct ext_fs *e, errcode_t err)
{
  unsigned char sb[1024];
  const char *ver = NULL;

  ext2fs_get_library_version (&ver, NULL);
  switch (err) {
  case EXT2_ET_BAD_MAGIC:
    return img_err (e->base.ctx, -EINVAL,
                    "%s: %s: not an ext2/ext3/ext4 filesystem (no superblock magic)",
                    e->base.name, e->base.type);
  case EXT2_ET_UNSUPP_FEATURE:
    /* Name the features: read the raw superblock again. */
    if (img_volume_pread (e->base.ctx, e->io.vol, sb, sizeof sb, 1024) == 0) {
      uint32_t incompat = get_le32 (sb + 0x60);
      if (incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV)
        return img_err (e->base.ctx, -EINVAL,
                        "%s: %s: this is an external journal device, not a filesystem",
                        e->base.name, e->base.type);
      return img_err (e->base.ctx, -EOPNOTSUPP,
                      "%s: %s: uses incompatible features libext2fs %s cannot read (incompat 0x%x)",
                      e->base.name, e->base.type, ver ? ver : "",
                      incompat & ~EXT2_LIB_FEATURE_INCOMPAT_SUPP);
    }
    break;
  case EXT2_ET_SB_CSUM_INVALID:
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: the superblock checksum does not match; the filesystem is corrupt (run e2fsck)",
                    e->base.name, e->base.type);
  default:
    break;
  }
  return img_internal_ext_fail (e, NULL, "cannot open", err);
}

/* What must hold before we write: a filesystem the guest left in a clean
 * state, with nothing we would silently leave inconsistent. */
static int
check_state (struct ext_fs *e, bool rw)
{
  struct ext2_super_block *sb = e->fs->super;
  bool recover = ext2fs_has_feature_journal_needs_recovery (sb);
  bool errors = (sb->s_state & EXT2_ERROR_FS) != 0;
  bool unclean = (sb->s_state & EXT2_VALID_FS) == 0;
  uint32_t ro_bad;

  if (!rw) {
    if (recover)
      img_warn (e->base.ctx,
                "%s: %s: the journal needs recovery (the guest was not shut down cleanly); reading the filesystem as it is on disk, so recent changes may be missing",
                e->base.name, e->base.type);
    else if (errors)
      img_warn (e->base.ctx,
                "%s: %s: the filesystem is marked as having errors; reading it anyway",
                e->base.name, e->base.type);
    else if (unclean)
      img_warn (e->base.ctx,
                "%s: %s: the filesystem was not unmounted cleanly; reading it anyway",
                e->base.name, e->base.type);
    return 0;
  }
  if (recover)
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: the journal needs recovery because the guest was not shut down cleanly; boot the guest and shut it down cleanly (or run e2fsck on this filesystem) before changing it; read-only access works",
                    e->base.name, e->base.type);
  if (errors)
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: the filesystem is marked as having errors; run e2fsck -f on it before changing it; read-only access works",
                    e->base.name, e->base.type);
  if (unclean)
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: the filesystem was not unmounted cleanly (the guest was not shut down cleanly); run e2fsck -f on it before changing it; read-only access works",
                    e->base.name, e->base.type);
  ro_bad = sb->s_feature_ro_compat & ~EXT2_LIB_FEATURE_RO_COMPAT_SUPP;
  if (ro_bad)
    return img_err (e->base.ctx, -EROFS,
                    "%s: %s: has read-only-compatible features libext2fs cannot write (ro_compat 0x%x); only read-only access works",
                    e->base.name, e->base.type, ro_bad);
  if (ext2fs_has_feature_readonly (sb))
    return img_err (e->base.ctx, -EROFS,
                    "%s: %s: the filesystem is marked read-only (the readonly feature); only read-only access works",
                    e->base.name, e->base.type);
  if (ext2fs_has_feature_orphan_present (sb))
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: the orphan file has entries (the guest was not shut down cleanly); run e2fsck -f on it before changing it; read-only access works",
                    e->base.name, e->base.type);
  /* Features libext2fs reads but where our writes would leave something
   * stale that e2fsck then has to repair. */
  if (ext2fs_has_feature_mmp (sb))
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: uses multi-mount protection (mmp), which is not supported for writing; only read-only access works",
                    e->base.name, e->base.type);
  if (ext2fs_has_feature_quota (sb))
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: has the quota feature; writing would leave quota usage stale, so only read-only access works",
                    e->base.name, e->base.type);
  if (ext2fs_has_feature_bigalloc (sb) || ext2fs_has_feature_shared_blocks (sb)
      || ext2fs_has_feature_ea_inode (sb))
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: uses %s, which is not supported for writing; only read-only access works",
                    e->base.name, e->base.type,
                    ext2fs_has_feature_bigalloc (sb) ? "bigalloc"
                    : ext2fs_has_feature_shared_blocks (sb) ? "shared_blocks"
                    : "ea_inode");
  return 0;
}

static int
check_vol_writable (struct ext_fs *e)
{
  const struct img_volume *vol = e->io.vol;
  size_t i, j;

  for (i = 0; i < vol->n_segments; i++)
    for (j = 0; j < vol->segments[i].n_stripes; j++)
      if (!img_disk_is_writable (vol->segments[i].stripes[j].disk))
        return img_err (e->base.ctx, -EROFS,
                        "%s: %s: cannot open read-write: %s is opened read-only",
                        e->base.name, e->base.type,
                        img_disk_name (vol->segments[i].stripes[j].disk));
  return 0;
}

int
img_internal_ext_open (struct img_ctx *ctx, const struct img_volume *vol,
                       int flags, struct img_fs **fsp)
{
  const int base_flags = EXT2_FLAG_64BITS;
  bool rw = (flags & IMG_FS_RDWR) != 0;
  struct ext_fs *e;
  errcode_t err;
  int r;

  initialize_ext2_error_table ();
  e = calloc (1, sizeof *e);
  if (e == NULL || (e->base.name = strdup (vol->name)) == NULL) {
    free (e);
    return img_err (ctx, -ENOMEM, "%s: ext4: out of memory", vol->name);
  }
  e->base.ctx = ctx;
  e->base.ops = &ext_ops;
  e->base.type = "ext4";        /* until we know */
  e->base.writable = rw;
  e->io.magic = EXT_IO_MAGIC;
  e->io.ctx = ctx;
  e->io.vol = vol;
  e->io.stats.num_fields = 2;
  snprintf (e->devname, sizeof e->devname, "img-vol:%p", (void *) &e->io);

  if (rw) {
    r = check_vol_writable (e);
    if (r < 0)
      goto err_free;
  }
  /* Always look first without EXT2_FLAG_RW: nothing is written until the
   * checks below have passed (a refused open leaves every byte as it
   * was), and MMP is not started on a filesystem we will not write. */
  err = ext2fs_open2 (e->devname, NULL, base_flags | EXT2_FLAG_SKIP_MMP, 0, 0,
                      &img_internal_ext_io_manager, &e->fs);
  if (err) {
    e->fs = NULL;
    r = open_error (e, err);
    goto err_free;
  }
  e->base.type = fs_type_name (e->fs->super);
  r = check_state (e, rw);
  if (r < 0)
    goto err_close;
  if (rw) {
    ext2fs_close_free (&e->fs);
    img_internal_ext_io_reset (e);
    err = ext2fs_open2 (e->devname, NULL, base_flags | EXT2_FLAG_RW, 0, 0,
                        &img_internal_ext_io_manager, &e->fs);
    if (err) {
      e->fs = NULL;
      r = open_error (e, err);
      goto err_free;
    }
  }
  img_dbg (ctx, "%s: %s: opened %s, block size %u, %u inodes",
           e->base.name, e->base.type, rw ? "read-write" : "read-only",
           e->fs->blocksize, e->fs->super->s_inodes_count);
  *fsp = &e->base;
  return 0;

 err_close:
  ext2fs_close_free (&e->fs);
 err_free:
  ext_free (e);
  return r;
}
