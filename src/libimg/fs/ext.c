/* ext2/3/4 through libext2fs, read and written in place on a volume.  Our
 * own io_manager turns libext2fs's block I/O into volume reads and writes,
 * so a filesystem inside an LV inside a qcow2 needs no copy, no loop device
 * and no mount.  A small write-through read cache sits in between, because
 * libext2fs reads a block at a time and over qemu-nbd each read is a round
 * trip. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "fs/fs-private.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- the io_manager ------------------------------------------------- */

/* The read cache: lines of the volume in a set-associative cache with LRU
 * replacement (direct mapping thrashes: libext2fs keeps going back to the
 * group descriptors and to the inode table, which are often a power of
 * two apart).  Every write goes to the volume first and then into any
 * cached copy, so the cache never holds anything the volume does not. */
#define CACHE_LINE_SIZE (32 * 1024)
#define CACHE_WAYS 8
#define CACHE_SETS 32                           /* 8 MiB at most */
#define CACHE_LINES (CACHE_WAYS * CACHE_SETS)
#define CACHE_BYPASS (4 * CACHE_LINE_SIZE)      /* larger reads go direct */
#define EXT_IO_MAGIC 0x696d6745u

struct cache_line {
  uint64_t tag;                 /* line number + 1; 0 when empty */
  uint64_t used;                /* for LRU: the cache's clock when last hit */
  size_t len;                   /* valid bytes (short at the volume's end) */
  unsigned char *data;
};

/* What our channels read and write.  It belongs to the ext_fs and outlives
 * the channels libext2fs opens on it (one per ext2fs_open2), so the cache
 * carries over from the read-only probe open to the read-write one. */
struct ext_io {
  unsigned magic;
  struct img_ctx *ctx;
  const struct img_volume *vol;
  struct cache_line lines[CACHE_LINES];
  uint64_t clock;
  struct struct_io_stats stats;
  /* The volume layer records its own message on failure; libext2fs then
   * hands us back only an error code.  Keep the message so that the error
   * we finally report names the real cause. */
  int err;
  char msg[1024];
};

static struct struct_io_manager img_io_manager;

static errcode_t
io_failed (struct ext_io *io, int r)
{
  io->err = r;
  snprintf (io->msg, sizeof io->msg, "%s", img_ctx_error (io->ctx));
  return -r;                    /* a plain errno is a valid errcode_t */
}

/* The set a line belongs to: mixed, so that strided metadata spreads. */
static struct cache_line *
cache_set (struct ext_io *io, uint64_t lno)
{
  uint64_t h = lno * 0x9e3779b97f4a7c15ull;

  return &io->lines[(h >> 32) % CACHE_SETS * CACHE_WAYS];
}

static struct cache_line *
cache_find (struct ext_io *io, uint64_t lno)
{
  struct cache_line *set = cache_set (io, lno);
  size_t i;

  for (i = 0; i < CACHE_WAYS; i++)
    if (set[i].tag == lno + 1)
      return &set[i];
  return NULL;
}

static int
cache_read (struct ext_io *io, void *buf, size_t len, uint64_t off)
{
  unsigned char *p = buf;
  uint64_t end;

  if (add_overflow_u64 (off, len, &end) || end > io->vol->size
      || len >= CACHE_BYPASS)
    return img_volume_pread (io->ctx, io->vol, buf, len, off);
  while (len > 0) {
    uint64_t lno = off / CACHE_LINE_SIZE;
    size_t in = off % CACHE_LINE_SIZE, n, i;
    struct cache_line *l = cache_find (io, lno);
    int r;

    if (l == NULL) {
      struct cache_line *set = cache_set (io, lno);
      uint64_t start = lno * CACHE_LINE_SIZE;
      size_t llen = MIN ((uint64_t) CACHE_LINE_SIZE, io->vol->size - start);

      for (l = &set[0], i = 1; i < CACHE_WAYS; i++)
        if (set[i].used < l->used)
          l = &set[i];
      l->tag = 0;
      if (l->data == NULL && (l->data = malloc (CACHE_LINE_SIZE)) == NULL)
        return img_volume_pread (io->ctx, io->vol, p, len, off);
      r = img_volume_pread (io->ctx, io->vol, l->data, llen, start);
      if (r < 0)
        return r;
      l->tag = lno + 1;
      l->len = llen;
    }
    l->used = ++io->clock;
    n = MIN (len, l->len - in);
    memcpy (p, l->data + in, n);
    p += n;
    off += n;
    len -= n;
  }
  return 0;
}

/* After a write of [OFF, OFF+LEN): cached lines get the new bytes, or are
 * dropped if the write failed (part of it may have landed). */
static void
cache_update (struct ext_io *io, const void *buf, size_t len, uint64_t off,
              bool ok)
{
  const unsigned char *p = buf;
  uint64_t lno, last;

  if (len == 0)
    return;
  last = (off + len - 1) / CACHE_LINE_SIZE;
  for (lno = off / CACHE_LINE_SIZE; lno <= last; lno++) {
    struct cache_line *l = cache_find (io, lno);
    uint64_t lstart = lno * CACHE_LINE_SIZE;
    uint64_t from, to;

    if (l == NULL)
      continue;
    if (!ok) {
      l->tag = 0;
      continue;
    }
    from = off > lstart ? off : lstart;
    to = MIN (off + len, lstart + l->len);
    if (from < to)
      memcpy (l->data + (from - lstart), p + (from - off), to - from);
  }
}

static void
cache_free (struct ext_io *io)
{
  size_t i;

  for (i = 0; i < CACHE_LINES; i++) {
    free (io->lines[i].data);
    io->lines[i].data = NULL;
    io->lines[i].tag = 0;
  }
}

static int
io_pwrite (struct ext_io *io, const void *buf, size_t len, uint64_t off)
{
  int r;

  r = img_volume_pwrite (io->ctx, io->vol, buf, len, off);
  cache_update (io, buf, len, off, r == 0);
  if (r == 0)
    io->stats.bytes_written += len;
  return r;
}

/* The volume is named through the device name string, as nbdkit's ext2
 * filter does it: no globals, and libext2fs may open the "device" more
 * than once. */
static errcode_t
io_open (const char *name, int flags, io_channel *channelp)
{
  struct ext_io *io = NULL;
  io_channel ch;
  errcode_t err;

  if (name == NULL || sscanf (name, "img-vol:%p", (void **) &io) != 1
      || io == NULL || io->magic != EXT_IO_MAGIC)
    return EXT2_ET_BAD_DEVICE_NAME;
  err = ext2fs_get_mem (sizeof *ch, &ch);
  if (err)
    return err;
  memset (ch, 0, sizeof *ch);
  err = ext2fs_get_mem (strlen (name) + 1, &ch->name);
  if (err) {
    ext2fs_free_mem (&ch);
    return err;
  }
  strcpy (ch->name, name);
  ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  ch->manager = &img_io_manager;
  ch->block_size = 1024;
  ch->refcount = 1;
  ch->private_data = io;
  *channelp = ch;
  return 0;
}

static errcode_t
io_close (io_channel ch)
{
  if (--ch->refcount > 0)
    return 0;
  ext2fs_free_mem (&ch->name);
  ext2fs_free_mem (&ch);
  return 0;
}

static errcode_t
io_set_blksize (io_channel ch, int blksize)
{
  if (blksize <= 0)
    return EXT2_ET_INVALID_ARGUMENT;
  ch->block_size = blksize;
  return 0;
}

/* COUNT blocks, or -COUNT bytes when negative (libext2fs's convention). */
static errcode_t
io_range (io_channel ch, unsigned long long block, int count, uint64_t *off,
          size_t *len)
{
  uint64_t n;

  if (count < 0)
    n = (uint64_t) -(int64_t) count;
  else if (mul_overflow_u64 ((uint64_t) count, ch->block_size, &n))
    return EXT2_ET_INVALID_ARGUMENT;
  if (mul_overflow_u64 (block, ch->block_size, off) || n > SIZE_MAX)
    return EXT2_ET_INVALID_ARGUMENT;
  *len = n;
  return 0;
}

static errcode_t
io_read_blk64 (io_channel ch, unsigned long long block, int count, void *data)
{
  struct ext_io *io = ch->private_data;
  uint64_t off;
  size_t len;
  errcode_t err;
  int r;

  err = io_range (ch, block, count, &off, &len);
  if (err)
    return err;
  r = cache_read (io, data, len, off);
  if (r < 0)
    return io_failed (io, r);
  io->stats.bytes_read += len;
  return 0;
}

static errcode_t
io_write_blk64 (io_channel ch, unsigned long long block, int count,
                const void *data)
{
  struct ext_io *io = ch->private_data;
  uint64_t off;
  size_t len;
  errcode_t err;
  int r;

  err = io_range (ch, block, count, &off, &len);
  if (err)
    return err;
  r = io_pwrite (io, data, len, off);
  if (r < 0)
    return io_failed (io, r);
  return 0;
}

static errcode_t
io_read_blk (io_channel ch, unsigned long block, int count, void *data)
{
  return io_read_blk64 (ch, block, count, data);
}

static errcode_t
io_write_blk (io_channel ch, unsigned long block, int count, const void *data)
{
  return io_write_blk64 (ch, block, count, data);
}

static errcode_t
io_write_byte (io_channel ch, unsigned long offset, int count,
               const void *data)
{
  struct ext_io *io = ch->private_data;
  int r;

  if (count < 0)
    return EXT2_ET_INVALID_ARGUMENT;
  r = io_pwrite (io, data, count, offset);
  if (r < 0)
    return io_failed (io, r);
  return 0;
}

/* Flushes every disk the volume lies on, each once. */
static int
vol_flush (const struct img_volume *vol)
{
  size_t i, j, k, l;
  int r = 0, r2;

  for (i = 0; i < vol->n_segments; i++)
    for (j = 0; j < vol->segments[i].n_stripes; j++) {
      struct img_disk *d = vol->segments[i].stripes[j].disk;
      bool seen = false;

      for (k = 0; k <= i && !seen; k++)
        for (l = 0; l < (k == i ? j : vol->segments[k].n_stripes); l++)
          if (vol->segments[k].stripes[l].disk == d) {
            seen = true;
            break;
          }
      if (seen)
        continue;
      r2 = img_disk_flush (d);
      if (r == 0)
        r = r2;
    }
  return r;
}

static errcode_t
io_flush (io_channel ch)
{
  struct ext_io *io = ch->private_data;
  int r;

  r = vol_flush (io->vol);
  if (r < 0)
    return io_failed (io, r);
  return 0;
}

static errcode_t
io_set_option (io_channel ch, const char *option, const char *arg)
{
  return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t
io_get_stats (io_channel ch, io_stats *stats)
{
  struct ext_io *io = ch->private_data;

  if (stats)
    *stats = &io->stats;
  return 0;
}

/* Discard and readahead are hints; nothing relies on discarded blocks
 * reading back as zeros unless the channel says so, and ours does not. */
static errcode_t
io_discard (io_channel ch, unsigned long long block, unsigned long long count)
{
  return 0;
}

static errcode_t
io_cache_readahead (io_channel ch, unsigned long long block,
                    unsigned long long count)
{
  return 0;
}

static struct struct_io_manager img_io_manager = {
  .magic = EXT2_ET_MAGIC_IO_MANAGER,
  .name = "img-tools volume I/O manager",
  .open = io_open,
  .close = io_close,
  .set_blksize = io_set_blksize,
  .read_blk = io_read_blk,
  .write_blk = io_write_blk,
  .flush = io_flush,
  .write_byte = io_write_byte,
  .set_option = io_set_option,
  .get_stats = io_get_stats,
  .read_blk64 = io_read_blk64,
  .write_blk64 = io_write_blk64,
  .discard = io_discard,
  .cache_readahead = io_cache_readahead,
};

/* ---- the filesystem ------------------------------------------------- */

struct ext_fs {
  struct img_fs base;
  ext2_filsys fs;
  struct ext_io io;
  char devname[64];
};

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

static void
io_reset (struct ext_fs *e)
{
  e->io.err = 0;
  e->io.msg[0] = '\0';
}

/* Records one message for a libext2fs failure: "NAME: TYPE: PATH: WHAT:
 * reason".  When the volume below failed, its message is the reason. */
static int
ext_fail (struct ext_fs *e, const char *path, const char *what, errcode_t err)
{
  const char *reason = e->io.err ? e->io.msg : error_message (err);
  int r = e->io.err ? e->io.err : ext_errno (err);

  if (path)
    return img_err (e->base.ctx, r, "%s: %s: %s: %s: %s", e->base.name,
                    e->base.type, path, what, reason);
  return img_err (e->base.ctx, r, "%s: %s: %s: %s", e->base.name,
                  e->base.type, what, reason);
}

static int
ext_errno_msg (struct ext_fs *e, const char *path, int err)
{
  return img_internal_fs_errno (&e->base, path, err);
}

static void
now (int64_t *sec, uint32_t *ns)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  *sec = ts.tv_sec;
  *ns = ts.tv_nsec;
}

/* ---- inodes --------------------------------------------------------- */

/* An inode as stored: all EXT2_INODE_SIZE bytes of it, so that writing it
 * back never clobbers the in-inode extended attributes that follow the
 * fields we know. */
struct ext_inode {
  ext2_ino_t ino;
  struct ext2_inode_large *i;
};

static size_t
inode_buf_size (const struct ext_fs *e)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);

  return size > sizeof (struct ext2_inode_large)
    ? size : sizeof (struct ext2_inode_large);
}

static int
inode_read (struct ext_fs *e, const char *path, ext2_ino_t ino,
            struct ext_inode *in)
{
  errcode_t err;

  in->ino = ino;
  in->i = calloc (1, inode_buf_size (e));
  if (in->i == NULL)
    return img_err (e->base.ctx, -ENOMEM, "%s: %s: out of memory",
                    e->base.name, e->base.type);
  err = ext2fs_read_inode_full (e->fs, ino, (struct ext2_inode *) in->i,
                                EXT2_INODE_SIZE (e->fs->super));
  if (err) {
    free (in->i);
    in->i = NULL;
    return ext_fail (e, path, "reading an inode", err);
  }
  return 0;
}

static int
inode_write (struct ext_fs *e, const char *path, struct ext_inode *in)
{
  errcode_t err;

  err = ext2fs_write_inode_full (e->fs, in->ino, (struct ext2_inode *) in->i,
                                 EXT2_INODE_SIZE (e->fs->super));
  if (err)
    return ext_fail (e, path, "writing an inode", err);
  return 0;
}

static void
inode_free (struct ext_inode *in)
{
  free (in->i);
  in->i = NULL;
}

/* Where the fields this inode really has end (128 + i_extra_isize, bounded
 * by the on-disk inode size). */
static size_t
extra_end (const struct ext_fs *e, const struct ext2_inode_large *i)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);

  if (size <= EXT2_GOOD_OLD_INODE_SIZE
      || EXT2_GOOD_OLD_INODE_SIZE + (size_t) i->i_extra_isize > size)
    return EXT2_GOOD_OLD_INODE_SIZE;
  return EXT2_GOOD_OLD_INODE_SIZE + i->i_extra_isize;
}

/* The *_extra time fields: nanoseconds << 2 | bits 32-33 of the seconds. */
static uint32_t
time_extra (int64_t sec, uint32_t ns)
{
  uint64_t epoch = ((uint64_t) (sec - (int32_t) sec)) >> 32;

  return (uint32_t) (epoch & EXT4_EPOCH_MASK) | (ns << EXT4_EPOCH_BITS);
}

static void
time_decode (uint32_t lo, bool has_extra, uint32_t extra, int64_t *sec,
             uint32_t *ns)
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

#define SET_TIME(e, in, f, sec, ns) do {                                \
    (in)->i_##f = (uint32_t) (sec);                                     \
    if (inode_includes (extra_end ((e), (in)), i_##f##_extra))          \
      (in)->i_##f##_extra = time_extra ((sec), (ns));                   \
  } while (0)

#define GET_TIME(e, in, f, secp, nsp)                                   \
  time_decode ((in)->i_##f,                                             \
               inode_includes (extra_end ((e), (in)), i_##f##_extra),   \
               (in)->i_##f##_extra, (secp), (nsp))

static uint32_t
large_uid (const struct ext2_inode_large *i)
{
  return i->i_uid | (uint32_t) i->osd2.linux2.l_i_uid_high << 16;
}

static uint32_t
large_gid (const struct ext2_inode_large *i)
{
  return i->i_gid | (uint32_t) i->osd2.linux2.l_i_gid_high << 16;
}

static void
set_owner (struct ext2_inode_large *i, uint32_t uid, uint32_t gid)
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

static void
touch_ctime (struct ext_fs *e, struct ext2_inode_large *i)
{
  int64_t sec;
  uint32_t ns;

  now (&sec, &ns);
  SET_TIME (e, i, ctime, sec, ns);
}

static int
ext_ftype (uint32_t mode)
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

static unsigned char
ftype_to_dtype (int ft)
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

/* ---- lookups -------------------------------------------------------- */

/* Walks P from the root one component at a time and never follows a
 * symlink: every component but the last must be a directory.  *dirp gets
 * the directory holding the last component (the root for "/"), *inop the
 * last component's inode, or 0 when it does not exist and MISSING_OK. */
static int
resolve (struct ext_fs *e, const struct img_fs_path *p, bool missing_ok,
         ext2_ino_t *dirp, ext2_ino_t *inop)
{
  ext2_ino_t dir = EXT2_ROOT_INO, ino = EXT2_ROOT_INO;
  struct ext2_inode inode;
  errcode_t err;
  size_t i;

  for (i = 0; i < p->n; i++) {
    err = ext2fs_read_inode (e->fs, dir, &inode);
    if (err)
      return ext_fail (e, p->path, "reading a directory inode", err);
    if (!LINUX_S_ISDIR (inode.i_mode))
      return ext_errno_msg (e, p->path, -ENOTDIR);
    if (inode.i_flags & EXT4_ENCRYPT_FL)
      return img_err (e->base.ctx, -EOPNOTSUPP,
                      "%s: %s: %s: the path crosses an encrypted directory",
                      e->base.name, e->base.type, p->path);
    err = ext2fs_lookup (e->fs, dir, p->comp[i], strlen (p->comp[i]), NULL,
                         &ino);
    if (err == EXT2_ET_FILE_NOT_FOUND) {
      if (i == p->n - 1 && missing_ok) {
        ino = 0;
        break;
      }
      return ext_errno_msg (e, p->path, -ENOENT);
    }
    if (err)
      return ext_fail (e, p->path, "looking up a name", err);
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

static const char *
last_name (const struct img_fs_path *p)
{
  return p->comp[p->n - 1];
}

static int
want_bitmaps (struct ext_fs *e, const char *path)
{
  errcode_t err;

  if (e->fs->inode_map && e->fs->block_map)
    return 0;
  err = ext2fs_read_bitmaps (e->fs);
  if (err)
    return ext_fail (e, path, "reading the allocation bitmaps", err);
  return 0;
}

/* Directories whose entries we must not add or remove: names in encrypted
 * ones are ciphertext, and case-insensitive ones need lookups libext2fs
 * does not do, so a "new" name could duplicate an existing one. */
static int
check_dir_writable (struct ext_fs *e, const char *path, ext2_ino_t dir)
{
  struct ext2_inode inode;
  errcode_t err;

  err = ext2fs_read_inode (e->fs, dir, &inode);
  if (err)
    return ext_fail (e, path, "reading the directory inode", err);
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
static bool
inline_off (ext2_filsys fs)
{
  bool had = ext2fs_has_feature_inline_data (fs->super);

  if (had)
    ext2fs_clear_feature_inline_data (fs->super);
  return had;
}

static void
inline_restore (ext2_filsys fs, bool had)
{
  if (had)
    ext2fs_set_feature_inline_data (fs->super);
}

static int
check_file_writable (struct ext_fs *e, const char *path,
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

/* Adds NAME -> INO to directory DIR.  A linear directory that is full gets
 * one more block; an htree directory grows itself inside ext2fs_link
 * (libext2fs >= 1.46), so if that still fails, its index is full. */
static int
add_entry (struct ext_fs *e, const char *path, ext2_ino_t dir,
           const char *name, ext2_ino_t ino, uint32_t mode)
{
  struct ext2_inode inode;
  errcode_t err;

  err = ext2fs_link (e->fs, dir, name, ino, ext_ftype (mode));
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_read_inode (e->fs, dir, &inode);
    if (err)
      return ext_fail (e, path, "reading the directory inode", err);
    if (inode.i_flags & EXT2_INDEX_FL)
      return img_err (e->base.ctx, -ENOSPC,
                      "%s: %s: %s: the directory's hash index is full",
                      e->base.name, e->base.type, path);
    err = ext2fs_expand_dir (e->fs, dir);
    if (err)
      return ext_fail (e, path, "growing the directory", err);
    err = ext2fs_link (e->fs, dir, name, ino, ext_ftype (mode));
  }
  if (err)
    return ext_fail (e, path, "adding the directory entry", err);
  return 0;
}

/* Clears an inode we allocated but could not link, so that e2fsck finds
 * no unattached inode. */
static void
zero_inode (struct ext_fs *e, ext2_ino_t ino)
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
static int
free_inode (struct ext_fs *e, const char *path, struct ext_inode *in)
{
  int isdir = LINUX_S_ISDIR (in->i->i_mode);
  errcode_t err;
  int64_t sec;
  uint32_t ns;
  int r;

  in->i->i_links_count = 0;
  err = ext2fs_free_ext_attr (e->fs, in->ino, in->i);
  if (err)
    return ext_fail (e, path, "freeing the extended attribute block", err);
  if (ext2fs_inode_has_valid_blocks2 (e->fs, (struct ext2_inode *) in->i)) {
    err = ext2fs_punch (e->fs, in->ino, (struct ext2_inode *) in->i, NULL, 0,
                        ~0ULL);
    if (err)
      return ext_fail (e, path, "freeing the blocks", err);
  }
  now (&sec, &ns);
  in->i->i_dtime = (uint32_t) sec;
  SET_TIME (e, in->i, ctime, sec, ns);
  r = inode_write (e, path, in);
  if (r < 0)
    return r;
  ext2fs_inode_alloc_stats2 (e->fs, in->ino, -1, isdir);
  return 0;
}

/* Drops one link of a non-directory; frees it with the last. */
static int
drop_link (struct ext_fs *e, const char *path, struct ext_inode *in)
{
  if (in->i->i_links_count > 1) {
    in->i->i_links_count--;
    touch_ctime (e, in->i);
    return inode_write (e, path, in);
  }
  return free_inode (e, path, in);
}

/* A directory's entries changed: new mtime and ctime, and DELTA more or
 * fewer subdirectories, counted from BASE links (or from the current
 * count when BASE is negative).  With dir_nlink a count past
 * EXT2_LINK_MAX is stored as 1 ("many"), as the kernel does, and stays
 * 1. */
static int
update_dir_from (struct ext_fs *e, const char *path, ext2_ino_t dir,
                 int delta, int base)
{
  struct ext_inode in;
  int64_t sec;
  uint32_t ns;
  int r;

  r = inode_read (e, path, dir, &in);
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
  now (&sec, &ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  r = inode_write (e, path, &in);
  inode_free (&in);
  return r;
}

static int
update_dir (struct ext_fs *e, const char *path, ext2_ino_t dir, int delta)
{
  return update_dir_from (e, path, dir, delta, -1);
}

/* May DIR get one more subdirectory? */
static int
check_subdir_room (struct ext_fs *e, const char *path, ext2_ino_t dir)
{
  struct ext2_inode inode;
  errcode_t err;

  if (ext2fs_has_feature_dir_nlink (e->fs->super))
    return 0;
  err = ext2fs_read_inode (e->fs, dir, &inode);
  if (err)
    return ext_fail (e, path, "reading the directory inode", err);
  if (inode.i_links_count >= EXT2_LINK_MAX)
    return ext_errno_msg (e, path, -EMLINK);
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

static int
check_empty (struct ext_fs *e, const char *path, ext2_ino_t dir)
{
  struct empty_state st = { .empty = true };
  errcode_t err;

  err = ext2fs_dir_iterate2 (e->fs, dir, 0, NULL, empty_cb, &st);
  if (err)
    return ext_fail (e, path, "reading the directory", err);
  if (!st.empty)
    return ext_errno_msg (e, path, -ENOTEMPTY);
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

static int
set_entry (struct ext_fs *e, const char *path, ext2_ino_t dir,
           const char *name, ext2_ino_t old, ext2_ino_t new, uint32_t mode)
{
  struct setent_state st = {
    .name = name, .len = strlen (name), .old = old, .new = new,
    .ftype = ext_ftype (mode),
    .filetype = ext2fs_has_feature_filetype (e->fs->super),
  };
  errcode_t err;

  err = ext2fs_dir_iterate2 (e->fs, dir, 0, NULL, setent_cb, &st);
  if (err)
    return ext_fail (e, path, "updating the directory entry", err);
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

static int
set_dotdot (struct ext_fs *e, const char *path, ext2_ino_t dir,
            ext2_ino_t parent)
{
  struct setent_state st = { .new = parent };
  errcode_t err;

  err = ext2fs_dir_iterate2 (e->fs, dir, 0, NULL, dotdot_cb, &st);
  if (err)
    return ext_fail (e, path, "updating \"..\"", err);
  if (!st.done)
    return img_err (e->base.ctx, -EUCLEAN,
                    "%s: %s: %s: the directory has no \"..\" entry",
                    e->base.name, e->base.type, path);
  return 0;
}

/* ---- operations ----------------------------------------------------- */

static int
ext_lstat (struct img_fs *fs, const struct img_fs_path *p,
           struct img_stat *st)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  st->ino = ino;
  st->mode = in.i->i_mode;
  st->uid = large_uid (in.i);
  st->gid = large_gid (in.i);
  st->nlink = in.i->i_links_count;
  st->size = EXT2_I_SIZE (in.i);
  st->blocks = ext2fs_get_stat_i_blocks (e->fs, (struct ext2_inode *) in.i);
  if (LINUX_S_ISCHR (in.i->i_mode) || LINUX_S_ISBLK (in.i->i_mode)) {
    /* Old encoding in i_block[0] when it fits 8+8 bits, else the new
     * one in i_block[1] (as the kernel writes them). */
    uint32_t old = in.i->i_block[0], new = in.i->i_block[1];
    if (old) {
      st->rdev_major = (old >> 8) & 0xff;
      st->rdev_minor = old & 0xff;
    }
    else {
      st->rdev_major = (new & 0xfff00) >> 8;
      st->rdev_minor = (new & 0xff) | ((new >> 12) & 0xfff00);
    }
  }
  GET_TIME (e, in.i, atime, &st->atime, &st->atime_ns);
  GET_TIME (e, in.i, mtime, &st->mtime, &st->mtime_ns);
  GET_TIME (e, in.i, ctime, &st->ctime, &st->ctime_ns);
  inode_free (&in);
  return 0;
}

/* Reads up to LEN bytes at OFF of inode IN's data (regular files and
 * slow or inline symlinks alike). */
static int
read_data (struct ext_fs *e, const char *path, struct ext_inode *in,
           void *buf, size_t len, uint64_t off, size_t *got)
{
  ext2_file_t f;
  errcode_t err, err2;
  size_t done = 0;

  *got = 0;
  if (off >= EXT2_I_SIZE (in->i) || len == 0)
    return 0;
  err = ext2fs_file_open2 (e->fs, in->ino, (struct ext2_inode *) in->i, 0, &f);
  if (err)
    return ext_fail (e, path, "opening the file", err);
  err = ext2fs_file_llseek (f, off, EXT2_SEEK_SET, NULL);
  while (err == 0 && done < len) {
    unsigned int n, chunk = MIN (len - done, (size_t) 1 << 30);

    err = ext2fs_file_read (f, (char *) buf + done, chunk, &n);
    if (err || n == 0)
      break;
    done += n;
  }
  err2 = ext2fs_file_close (f);
  if (err == 0)
    err = err2;
  if (err)
    return ext_fail (e, path, "reading the file", err);
  *got = done;
  return 0;
}

static int
ext_readlink (struct img_fs *fs, const struct img_fs_path *p, char **target)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  uint64_t size;
  size_t got;
  char *t;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  size = EXT2_I_SIZE (in.i);
  if (!LINUX_S_ISLNK (in.i->i_mode)) {
    r = img_err (e->base.ctx, -EINVAL, "%s: %s: %s: not a symbolic link",
                 e->base.name, e->base.type, p->path);
    goto out;
  }
  if (in.i->i_flags & EXT4_ENCRYPT_FL) {
    r = img_err (e->base.ctx, -EOPNOTSUPP,
                 "%s: %s: %s: the symlink is encrypted", e->base.name,
                 e->base.type, p->path);
    goto out;
  }
  if (size == 0 || size >= e->fs->blocksize || size >= IMG_FS_PATH_MAX) {
    r = img_err (e->base.ctx, -EUCLEAN,
                 "%s: %s: %s: symlink has an invalid length (%" PRIu64 ")",
                 e->base.name, e->base.type, p->path, size);
    goto out;
  }
  t = malloc (size + 1);
  if (t == NULL) {
    r = img_err (e->base.ctx, -ENOMEM, "%s: %s: out of memory",
                 e->base.name, e->base.type);
    goto out;
  }
  if (ext2fs_is_fast_symlink ((struct ext2_inode *) in.i)
      && size < sizeof in.i->i_block) {
    memcpy (t, in.i->i_block, size);
    got = size;
  }
  else {
    r = read_data (e, p->path, &in, t, size, 0, &got);
    if (r < 0) {
      free (t);
      goto out;
    }
  }
  if (got != size) {
    free (t);
    r = img_err (e->base.ctx, -EUCLEAN,
                 "%s: %s: %s: symlink target is shorter than its size",
                 e->base.name, e->base.type, p->path);
    goto out;
  }
  t[size] = '\0';
  *target = t;
  r = 0;
 out:
  inode_free (&in);
  return r;
}

struct readdir_state {
  struct img_dirent *ents;
  size_t n, cap;
  bool filetype;
  uint64_t max;                 /* entries allowed (the context's budget) */
  int err;                      /* -ENOMEM, -EUCLEAN or -E2BIG */
};

static int
readdir_cb (ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
            int offset, int blocksize, char *buf, void *priv)
{
  struct readdir_state *st = priv;
  int len = ext2fs_dirent_name_len (dirent);
  struct img_dirent *d;

  if ((len == 1 && dirent->name[0] == '.')
      || (len == 2 && dirent->name[0] == '.' && dirent->name[1] == '.'))
    return 0;
  /* A name with '/' or NUL in it would be read back as another path. */
  if (len == 0 || memchr (dirent->name, '/', len)
      || memchr (dirent->name, '\0', len)) {
    st->err = -EUCLEAN;
    return DIRENT_ABORT;
  }
  if (st->n >= st->max) {
    st->err = -E2BIG;
    return DIRENT_ABORT;
  }
  if (st->n == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 64;
    struct img_dirent *ents = realloc (st->ents, cap * sizeof *ents);
    if (ents == NULL) {
      st->err = -ENOMEM;
      return DIRENT_ABORT;
    }
    st->ents = ents;
    st->cap = cap;
  }
  d = &st->ents[st->n];
  d->name = strndup (dirent->name, len);
  if (d->name == NULL) {
    st->err = -ENOMEM;
    return DIRENT_ABORT;
  }
  d->ino = dirent->inode;
  d->type = st->filetype
    ? ftype_to_dtype (ext2fs_dirent_file_type (dirent)) : DT_UNKNOWN;
  st->n++;
  return 0;
}

static int
ext_readdir (struct img_fs *fs, const struct img_fs_path *p,
             struct img_dirent **ents, size_t *n)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct readdir_state st = {
    .filetype = ext2fs_has_feature_filetype (e->fs->super),
    .max = img_ctx_budget (fs->ctx, IMG_BUDGET_ENTRIES),
  };
  struct ext2_inode inode;
  ext2_ino_t dir, ino;
  errcode_t err;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  err = ext2fs_read_inode (e->fs, ino, &inode);
  if (err)
    return ext_fail (e, p->path, "reading an inode", err);
  if (!LINUX_S_ISDIR (inode.i_mode))
    return ext_errno_msg (e, p->path, -ENOTDIR);
  if (inode.i_flags & EXT4_ENCRYPT_FL)
    return img_err (e->base.ctx, -EOPNOTSUPP,
                    "%s: %s: %s: the directory is encrypted", e->base.name,
                    e->base.type, p->path);
  err = ext2fs_dir_iterate2 (e->fs, ino, 0, NULL, readdir_cb, &st);
  if (err == 0 && st.err == -EUCLEAN)
    r = img_err (e->base.ctx, -EUCLEAN,
                 "%s: %s: %s: the directory has an entry with an invalid name (empty, or with '/' or NUL in it)",
                 e->base.name, e->base.type, p->path);
  else if (err == 0 && st.err == -E2BIG)
    r = -E2BIG;                 /* img_fs_readdir says which budget */
  else if (err == 0 && st.err)
    r = img_err (e->base.ctx, st.err, "%s: %s: out of memory", e->base.name,
                 e->base.type);
  else if (err)
    r = ext_fail (e, p->path, "reading the directory", err);
  if (r < 0) {
    img_dirents_free (st.ents, st.n);
    return r;
  }
  *ents = st.ents;
  *n = st.n;
  return 0;
}

/* Resolves P to an existing regular file; reads its inode into IN. */
static int
open_regular (struct ext_fs *e, const struct img_fs_path *p,
              struct ext_inode *in)
{
  ext2_ino_t dir, ino;
  int r;

  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, in);
  if (r < 0)
    return r;
  if (LINUX_S_ISREG (in->i->i_mode))
    return 0;
  if (LINUX_S_ISDIR (in->i->i_mode))
    r = ext_errno_msg (e, p->path, -EISDIR);
  else
    r = img_err (e->base.ctx, -EINVAL, "%s: %s: %s: not a regular file",
                 e->base.name, e->base.type, p->path);
  inode_free (in);
  return r;
}

static int
ext_pread (struct img_fs *fs, const struct img_fs_path *p, void *buf,
           size_t len, uint64_t off, size_t *got)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  int r;

  io_reset (e);
  r = open_regular (e, p, &in);
  if (r < 0)
    return r;
  if (in.i->i_flags & EXT4_ENCRYPT_FL)
    r = img_err (e->base.ctx, -EOPNOTSUPP,
                 "%s: %s: %s: the file is encrypted", e->base.name,
                 e->base.type, p->path);
  else
    r = read_data (e, p->path, &in, buf, len, off, got);
  inode_free (&in);
  return r;
}

/* Sets up a fresh inode in IN (zeroed beyond what we set, so no stale
 * extended attributes survive from a previous owner of the slot). */
static void
init_inode (struct ext_fs *e, struct ext_inode *in, uint32_t mode,
            uint32_t uid, uint32_t gid)
{
  size_t size = EXT2_INODE_SIZE (e->fs->super);
  struct ext2_inode_large *i = in->i;
  uint32_t gen;
  int64_t sec;
  uint32_t ns;

  memset (i, 0, inode_buf_size (e));
  i->i_mode = mode;
  set_owner (i, uid, gid);
  i->i_links_count = 1;
  if (size > EXT2_GOOD_OLD_INODE_SIZE) {
    size_t extra = sizeof (struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
    if (extra > size - EXT2_GOOD_OLD_INODE_SIZE)
      extra = (size - EXT2_GOOD_OLD_INODE_SIZE) & ~(size_t) 3;
    i->i_extra_isize = extra;
  }
  now (&sec, &ns);
  SET_TIME (e, i, atime, sec, ns);
  SET_TIME (e, i, mtime, sec, ns);
  SET_TIME (e, i, ctime, sec, ns);
  SET_TIME (e, i, crtime, sec, ns);
  /* NFS file handles carry the generation; the kernel picks it at random. */
  if (getrandom (&gen, sizeof gen, GRND_NONBLOCK) != sizeof gen)
    gen = (uint32_t) (sec ^ ns ^ in->ino);
  i->i_generation = gen;
}

/* Regular files, device nodes, fifos and sockets. */
static int
new_node (struct ext_fs *e, const struct img_fs_path *p, uint32_t mode,
          uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid)
{
  struct ext_inode in = { 0 };
  ext2_ino_t dir, ino;
  errcode_t err;
  int r;

  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = resolve (e, p, true, &dir, &ino);
  if (r < 0)
    return r;
  if (ino != 0)
    return ext_errno_msg (e, p->path, -EEXIST);
  r = check_dir_writable (e, p->path, dir);
  if (r < 0)
    return r;
  err = ext2fs_new_inode (e->fs, dir, mode, NULL, &ino);
  if (err)
    return ext_fail (e, p->path, "allocating an inode", err);
  in.ino = ino;
  in.i = malloc (inode_buf_size (e));
  if (in.i == NULL)
    return img_err (e->base.ctx, -ENOMEM, "%s: %s: out of memory",
                    e->base.name, e->base.type);
  init_inode (e, &in, mode, uid, gid);
  if (LINUX_S_ISREG (mode) && ext2fs_has_feature_extents (e->fs->super)) {
    ext2_extent_handle_t h;

    /* Opening an extent handle on an empty i_block writes the empty
     * extent header into it (and sets EXT4_EXTENTS_FL). */
    err = ext2fs_extent_open2 (e->fs, ino, (struct ext2_inode *) in.i, &h);
    if (err) {
      r = ext_fail (e, p->path, "setting up the extent tree", err);
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
  r = inode_write (e, p->path, &in);
  if (r < 0)
    goto out;
  r = add_entry (e, p->path, dir, last_name (p), ino, mode);
  if (r < 0) {
    zero_inode (e, ino);
    goto out;
  }
  ext2fs_inode_alloc_stats2 (e->fs, ino, +1, 0);
  r = update_dir (e, p->path, dir, 0);
 out:
  inode_free (&in);
  return r;
}

static int
ext_create (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
            uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;

  io_reset (e);
  return new_node (e, p, mode, 0, 0, uid, gid);
}

static int
ext_mknod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;

  io_reset (e);
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

  r = inode_read (e, path, ino, &in);
  if (r < 0)
    return r;
  now (&sec, &ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  r = inode_write (e, path, &in);
  inode_free (&in);
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

static int
ext_pwrite (struct img_fs *fs, const struct img_fs_path *p, const void *buf,
            size_t len, uint64_t off)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  const unsigned char *data = buf;
  struct ext_inode in;
  uint64_t bs, first, last, size;
  bool fast;
  errcode_t err = 0;
  int r;

  io_reset (e);
  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = open_regular (e, p, &in);
  if (r < 0)
    return r;
  r = check_file_writable (e, p->path, in.i);
  size = EXT2_I_SIZE (in.i);
  bs = e->fs->blocksize;
  /* Whole blocks [first, last) take the fast path in extent files. */
  first = (off + bs - 1) / bs;
  last = (off + len) / bs;
  fast = (in.i->i_flags & EXT4_EXTENTS_FL)
    && !(in.i->i_flags & EXT4_INLINE_DATA_FL) && last > first;
  inode_free (&in);
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
    return ext_fail (e, p->path, "writing the file", err);
  return touch_data (e, p->path, in.ino);
}

static int
ext_truncate (struct img_fs *fs, const struct img_fs_path *p, uint64_t size)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_file_t f;
  errcode_t err, err2;
  int r;

  io_reset (e);
  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = open_regular (e, p, &in);
  if (r < 0)
    return r;
  r = check_file_writable (e, p->path, in.i);
  inode_free (&in);
  if (r < 0)
    return r;
  err = ext2fs_file_open2 (e->fs, in.ino, NULL, EXT2_FILE_WRITE, &f);
  if (err)
    return ext_fail (e, p->path, "opening the file", err);
  /* Frees the blocks past the end and zeroes the tail of the last one. */
  err = ext2fs_file_set_size2 (f, size);
  err2 = ext2fs_file_close (f);
  if (err == 0)
    err = err2;
  if (err)
    return ext_fail (e, p->path, "setting the file size", err);
  return touch_data (e, p->path, in.ino);
}

static int
ext_mkdir (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t uid, uint32_t gid)
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

  io_reset (e);
  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = resolve (e, p, true, &dir, &ino);
  if (r < 0)
    return r;
  if (ino != 0)
    return ext_errno_msg (e, p->path, -EEXIST);
  r = check_dir_writable (e, p->path, dir);
  if (r < 0)
    return r;
  r = check_subdir_room (e, p->path, dir);
  if (r < 0)
    return r;
  /* Our own inode number, so that a retry after growing the parent
   * rewrites the same inode instead of leaving one behind. */
  err = ext2fs_new_inode (e->fs, dir, LINUX_S_IFDIR | 0755, NULL, &ino);
  if (err)
    return ext_fail (e, p->path, "allocating an inode", err);
  /* ext2fs_mkdir bumps the parent's link count itself, blindly; note it
   * first so that update_dir_from can count the new subdirectory the
   * dir_nlink way. */
  err = ext2fs_read_inode (e->fs, dir, &parent);
  if (err)
    return ext_fail (e, p->path, "reading the directory inode", err);
  links = parent.i_links_count;
  had_inline = inline_off (e->fs);
  err = ext2fs_mkdir (e->fs, dir, ino, last_name (p));
  if (err == EXT2_ET_DIR_NO_SPACE) {
    err = ext2fs_read_inode (e->fs, dir, &parent);
    if (err == 0 && (parent.i_flags & EXT2_INDEX_FL))
      err = EXT2_ET_DIR_NO_SPACE;
    else if (err == 0 && (err = ext2fs_expand_dir (e->fs, dir)) == 0)
      err = ext2fs_mkdir (e->fs, dir, ino, last_name (p));
  }
  inline_restore (e->fs, had_inline);
  if (err) {
    zero_inode (e, ino);
    return ext_fail (e, p->path, "creating the directory", err);
  }
  r = update_dir_from (e, p->path, dir, +1, links);
  if (r < 0)
    return r;

  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  in.i->i_mode = mode;
  set_owner (in.i, uid, gid);
  now (&sec, &ns);
  SET_TIME (e, in.i, atime, sec, ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  SET_TIME (e, in.i, crtime, sec, ns);
  r = inode_write (e, p->path, &in);
  inode_free (&in);
  return r;
}

static int
ext_symlink (struct img_fs *fs, const char *target,
             const struct img_fs_path *p, uint32_t uid, uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  errcode_t err;
  bool had_inline;
  int64_t sec;
  uint32_t ns;
  int r;

  io_reset (e);
  /* The kernel's limit: the target and its NUL fit in one block. */
  if (strlen (target) >= e->fs->blocksize)
    return img_err (e->base.ctx, -ENAMETOOLONG,
                    "%s: %s: %s: symlink target is longer than %u bytes",
                    e->base.name, e->base.type, p->path,
                    e->fs->blocksize - 1);
  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = resolve (e, p, true, &dir, &ino);
  if (r < 0)
    return r;
  if (ino != 0)
    return ext_errno_msg (e, p->path, -EEXIST);
  r = check_dir_writable (e, p->path, dir);
  if (r < 0)
    return r;
  err = ext2fs_new_inode (e->fs, dir, LINUX_S_IFLNK | 0777, NULL, &ino);
  if (err)
    return ext_fail (e, p->path, "allocating an inode", err);
  /* ext2fs_symlink stores short targets in the inode (fast symlink),
   * longer ones inline or in a block. */
  had_inline = inline_off (e->fs);
  err = ext2fs_symlink (e->fs, dir, ino, last_name (p), target);
  if (err == EXT2_ET_DIR_NO_SPACE) {
    struct ext2_inode parent;

    err = ext2fs_read_inode (e->fs, dir, &parent);
    if (err == 0 && (parent.i_flags & EXT2_INDEX_FL))
      err = EXT2_ET_DIR_NO_SPACE;
    else if (err == 0 && (err = ext2fs_expand_dir (e->fs, dir)) == 0)
      err = ext2fs_symlink (e->fs, dir, ino, last_name (p), target);
  }
  inline_restore (e->fs, had_inline);
  if (err) {
    zero_inode (e, ino);
    return ext_fail (e, p->path, "creating the symlink", err);
  }
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  set_owner (in.i, uid, gid);
  now (&sec, &ns);
  SET_TIME (e, in.i, atime, sec, ns);
  SET_TIME (e, in.i, mtime, sec, ns);
  SET_TIME (e, in.i, ctime, sec, ns);
  SET_TIME (e, in.i, crtime, sec, ns);
  r = inode_write (e, p->path, &in);
  inode_free (&in);
  if (r < 0)
    return r;
  return update_dir (e, p->path, dir, 0);
}

static int
ext_link (struct img_fs *fs, const struct img_fs_path *op,
          const struct img_fs_path *np)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t odir, oino, ndir, nino;
  int r;

  io_reset (e);
  r = want_bitmaps (e, np->path);
  if (r < 0)
    return r;
  r = resolve (e, op, false, &odir, &oino);
  if (r < 0)
    return r;
  r = resolve (e, np, true, &ndir, &nino);
  if (r < 0)
    return r;
  if (nino != 0)
    return ext_errno_msg (e, np->path, -EEXIST);
  r = check_dir_writable (e, np->path, ndir);
  if (r < 0)
    return r;
  r = inode_read (e, op->path, oino, &in);
  if (r < 0)
    return r;
  if (LINUX_S_ISDIR (in.i->i_mode)) {
    r = img_err (e->base.ctx, -EPERM,
                 "%s: %s: %s: cannot hard-link a directory", e->base.name,
                 e->base.type, op->path);
    goto out;
  }
  if (in.i->i_links_count >= EXT2_LINK_MAX) {
    r = ext_errno_msg (e, op->path, -EMLINK);
    goto out;
  }
  r = add_entry (e, np->path, ndir, last_name (np), oino, in.i->i_mode);
  if (r < 0)
    goto out;
  in.i->i_links_count++;
  touch_ctime (e, in.i);
  r = inode_write (e, op->path, &in);
  if (r < 0)
    goto out;
  r = update_dir (e, np->path, ndir, 0);
 out:
  inode_free (&in);
  return r;
}

static int
ext_unlink (struct img_fs *fs, const struct img_fs_path *p)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  errcode_t err;
  int r;

  io_reset (e);
  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = check_dir_writable (e, p->path, dir);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  if (LINUX_S_ISDIR (in.i->i_mode)) {
    r = ext_errno_msg (e, p->path, -EISDIR);
    goto out;
  }
  err = ext2fs_unlink (e->fs, dir, last_name (p), ino, 0);
  if (err) {
    r = ext_fail (e, p->path, "removing the directory entry", err);
    goto out;
  }
  r = drop_link (e, p->path, &in);
  if (r < 0)
    goto out;
  r = update_dir (e, p->path, dir, 0);
 out:
  inode_free (&in);
  return r;
}

static int
ext_rmdir (struct img_fs *fs, const struct img_fs_path *p)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  errcode_t err;
  int r;

  io_reset (e);
  r = want_bitmaps (e, p->path);
  if (r < 0)
    return r;
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = check_dir_writable (e, p->path, dir);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  if (!LINUX_S_ISDIR (in.i->i_mode)) {
    r = ext_errno_msg (e, p->path, -ENOTDIR);
    goto out;
  }
  r = check_empty (e, p->path, ino);
  if (r < 0)
    goto out;
  err = ext2fs_unlink (e->fs, dir, last_name (p), ino, 0);
  if (err) {
    r = ext_fail (e, p->path, "removing the directory entry", err);
    goto out;
  }
  r = free_inode (e, p->path, &in);
  if (r < 0)
    goto out;
  r = update_dir (e, p->path, dir, -1);
 out:
  inode_free (&in);
  return r;
}

/* Within the filesystem: the new name first (in place over an existing
 * target), then the old name goes, then link counts and "..". */
static int
ext_rename (struct img_fs *fs, const struct img_fs_path *op,
            const struct img_fs_path *np)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode src = { 0 }, tgt = { 0 };
  ext2_ino_t odir, oino, ndir, nino;
  bool sdir;
  errcode_t err;
  int r;

  io_reset (e);
  r = want_bitmaps (e, np->path);
  if (r < 0)
    return r;
  r = resolve (e, op, false, &odir, &oino);
  if (r < 0)
    return r;
  r = resolve (e, np, true, &ndir, &nino);
  if (r < 0)
    return r;
  /* Two names of one file (or one name twice): nothing to do (POSIX). */
  if (nino == oino)
    return 0;
  r = check_dir_writable (e, op->path, odir);
  if (r < 0)
    return r;
  r = check_dir_writable (e, np->path, ndir);
  if (r < 0)
    return r;
  r = inode_read (e, op->path, oino, &src);
  if (r < 0)
    return r;
  sdir = LINUX_S_ISDIR (src.i->i_mode);
  if (nino != 0) {
    r = inode_read (e, np->path, nino, &tgt);
    if (r < 0)
      goto out;
    if (LINUX_S_ISDIR (tgt.i->i_mode)) {
      if (!sdir) {
        r = ext_errno_msg (e, np->path, -EISDIR);
        goto out;
      }
      r = check_empty (e, np->path, nino);
      if (r < 0)
        goto out;
    }
    else if (sdir) {
      r = ext_errno_msg (e, np->path, -ENOTDIR);
      goto out;
    }
  }
  else if (sdir && odir != ndir) {
    r = check_subdir_room (e, np->path, ndir);
    if (r < 0)
      goto out;
  }
  /* A directory changing parents gets a new "..": an entry change. */
  if (sdir && odir != ndir) {
    r = check_dir_writable (e, op->path, oino);
    if (r < 0)
      goto out;
  }

  if (nino != 0)
    r = set_entry (e, np->path, ndir, last_name (np), nino, oino,
                   src.i->i_mode);
  else
    r = add_entry (e, np->path, ndir, last_name (np), oino, src.i->i_mode);
  if (r < 0)
    goto out;
  err = ext2fs_unlink (e->fs, odir, last_name (op), oino, 0);
  if (err) {
    r = ext_fail (e, op->path, "removing the old directory entry", err);
    goto out;
  }
  if (nino != 0) {
    if (LINUX_S_ISDIR (tgt.i->i_mode)) {
      r = free_inode (e, np->path, &tgt);
      /* The replaced directory's ".." no longer counts for ndir. */
      if (r == 0)
        r = update_dir (e, np->path, ndir, -1);
    }
    else
      r = drop_link (e, np->path, &tgt);
    if (r < 0)
      goto out;
  }
  if (sdir && odir != ndir) {
    r = set_dotdot (e, op->path, oino, ndir);
    if (r < 0)
      goto out;
    r = update_dir (e, op->path, odir, -1);
    if (r == 0)
      r = update_dir (e, np->path, ndir, +1);
  }
  else {
    r = update_dir (e, op->path, odir, 0);
    if (r == 0 && ndir != odir)
      r = update_dir (e, np->path, ndir, 0);
  }
  if (r < 0)
    goto out;
  /* The kernel gives a renamed inode a new ctime; set_dotdot may have
   * rewritten an inline directory's inode, so read it again. */
  inode_free (&src);
  r = inode_read (e, np->path, oino, &src);
  if (r < 0)
    goto out;
  touch_ctime (e, src.i);
  r = inode_write (e, np->path, &src);
 out:
  inode_free (&tgt);
  inode_free (&src);
  return r;
}

static int
ext_chmod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
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
    touch_ctime (e, in.i);
    r = inode_write (e, p->path, &in);
  }
  inode_free (&in);
  return r;
}

static int
ext_chown (struct img_fs *fs, const struct img_fs_path *p, uint32_t uid,
           uint32_t gid)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  set_owner (in.i, uid, gid);
  touch_ctime (e, in.i);
  r = inode_write (e, p->path, &in);
  inode_free (&in);
  return r;
}

static int
ext_utimes (struct img_fs *fs, const struct img_fs_path *p, int64_t atime,
            uint32_t atime_ns, int64_t mtime, uint32_t mtime_ns)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_inode in;
  ext2_ino_t dir, ino;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  r = inode_read (e, p->path, ino, &in);
  if (r < 0)
    return r;
  SET_TIME (e, in.i, atime, atime, atime_ns);
  SET_TIME (e, in.i, mtime, mtime, mtime_ns);
  touch_ctime (e, in.i);
  r = inode_write (e, p->path, &in);
  inode_free (&in);
  return r;
}

static int
ext_sync (struct img_fs *fs)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  errcode_t err;
  int r;

  io_reset (e);
  if (e->fs->flags & EXT2_FLAG_DIRTY) {
    /* Superblock, group descriptors (and their backups), bitmaps. */
    err = ext2fs_flush (e->fs);
    if (err)
      return ext_fail (e, NULL, "writing the superblock and bitmaps", err);
  }
  r = vol_flush (e->io.vol);
  return r;
}

static void
ext_free (struct ext_fs *e)
{
  cache_free (&e->io);
  free (e->base.name);
  free (e);
}

static int
ext_close (struct img_fs *fs)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  errcode_t err;
  int r = 0;

  io_reset (e);
  if (e->fs) {
    err = ext2fs_close_free (&e->fs);
    if (err)
      r = ext_fail (e, NULL, "writing the filesystem back", err);
  }
  if (e->base.writable) {
    int r2 = vol_flush (e->io.vol);
    if (r == 0)
      r = r2;
  }
  ext_free (e);
  return r;
}

/* Extended attributes through libext2fs.  Its iterator hands out values
 * as stored, POSIX ACLs in ext4's own format; ext2fs_xattr_get turns
 * those into the kernel's xattr format (version 2), which is what a
 * setxattr elsewhere accepts.  So: names first, then each value. */
struct ext_xattr_names {
  char **v;
  size_t n;
  int rc;
};

static int
ext_xattr_name (char *name, char *value, size_t len, void *data)
{
  struct ext_xattr_names *w = data;
  char **nv;

  (void) value;
  (void) len;
  nv = realloc (w->v, (w->n + 1) * sizeof *nv);
  if (nv == NULL || (nv[w->n] = strdup (name)) == NULL) {
    if (nv)
      w->v = nv;
    w->rc = -ENOMEM;
    return XATTR_ABORT;
  }
  w->v = nv;
  w->n++;
  return 0;
}

static int
ext_xattrs (struct img_fs *fs, const struct img_fs_path *p, img_xattr_fn fn,
            void *data)
{
  struct ext_fs *e = (struct ext_fs *) fs;
  struct ext_xattr_names w = { NULL, 0, 0 };
  struct ext2_xattr_handle *h = NULL;
  ext2_ino_t dir, ino;
  errcode_t err;
  size_t i;
  int r;

  io_reset (e);
  r = resolve (e, p, false, &dir, &ino);
  if (r < 0)
    return r;
  err = ext2fs_xattrs_open (e->fs, ino, &h);
  if (err == 0)
    err = ext2fs_xattrs_read (h);
  if (err == 0)
    err = ext2fs_xattrs_iterate (h, ext_xattr_name, &w);
  r = w.rc;
  for (i = 0; err == 0 && r == 0 && i < w.n; i++) {
    void *val = NULL;
    size_t len = 0;
    err = ext2fs_xattr_get (h, w.v[i], &val, &len);
    if (err == 0)
      r = fn (w.v[i], val, len, data);
    if (val)
      ext2fs_free_mem (&val);
  }
  for (i = 0; i < w.n; i++)
    free (w.v[i]);
  free (w.v);
  if (h)
    ext2fs_xattrs_close (&h);
  if (err)
    return img_err (e->base.ctx, -EIO, "%s: %s: %s: extended attributes: %s",
                    e->base.name, e->base.type, p->path, error_message (err));
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
  .xattrs = ext_xattrs,
  .close = ext_close,
  .sync = ext_sync,
  .lstat = ext_lstat,
  .readlink = ext_readlink,
  .readdir = ext_readdir,
  .pread = ext_pread,
  .create = ext_create,
  .pwrite = ext_pwrite,
  .truncate = ext_truncate,
  .mkdir = ext_mkdir,
  .symlink = ext_symlink,
  .mknod = ext_mknod,
  .link = ext_link,
  .unlink = ext_unlink,
  .rmdir = ext_rmdir,
  .rename = ext_rename,
  .chmod = ext_chmod,
  .chown = ext_chown,
  .utimes = ext_utimes,
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
  return ext_fail (e, NULL, "cannot open", err);
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
                      &img_io_manager, &e->fs);
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
    io_reset (e);
    err = ext2fs_open2 (e->devname, NULL, base_flags | EXT2_FLAG_RW, 0, 0,
                        &img_io_manager, &e->fs);
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
