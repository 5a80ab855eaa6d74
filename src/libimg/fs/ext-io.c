/* ext2/3/4: our own io_manager.  It turns libext2fs's block I/O into
 * volume reads and writes, so a filesystem inside an LV inside a qcow2
 * needs no copy, no loop device and no mount.  A small write-through read
 * cache sits in between, because libext2fs reads a block at a time and
 * over qemu-nbd each read is a round trip. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ext-private.h"


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

void
img_internal_ext_cache_free (struct ext_io *io)
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
  ch->manager = &img_internal_ext_io_manager;
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
int
img_internal_ext_vol_flush (const struct img_volume *vol)
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

  r = img_internal_ext_vol_flush (io->vol);
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

struct struct_io_manager img_internal_ext_io_manager = {
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
