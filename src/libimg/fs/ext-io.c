/* ext2/3/4: our own io_manager.  It turns libext2fs's block I/O into
 * volume reads and writes, so a filesystem inside an LV inside a qcow2
 * needs no copy, no loop device and no mount.  A small write-back cache
 * sits in between, because libext2fs reads and writes a block at a time:
 * over qemu-nbd each is a round trip, and under an undo record each write
 * a barrier (the cache is described in ext-private.h). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ext-private.h"
#include "disk/disk-private.h"
#include "volume/volume-private.h"


static errcode_t
io_failed (struct ext_io *io, int r)
{
  io->err = r;
  snprintf (io->msg, sizeof io->msg, "%s", img_ctx_error (io->ctx));
  return -r;                    /* a plain errno is a valid errcode_t */
}

_Static_assert (CACHE_LINE_SIZE / CACHE_SUB_SIZE == 32,
                "one dirty bit per piece of a line");

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

static void
line_drop (struct ext_io *io, struct cache_line *l)
{
  if (l->dirty)
    io->n_dirty--;
  l->dirty = 0;
  l->tag = 0;
}

static void
line_mark_dirty (struct ext_io *io, struct cache_line *l, size_t from,
                 size_t to)
{
  size_t first = from / CACHE_SUB_SIZE, last = (to - 1) / CACHE_SUB_SIZE;
  uint32_t bits = (uint32_t) ((2ull << last) - (1ull << first));

  if (l->dirty == 0)
    io->n_dirty++;
  l->dirty |= bits;
}

static int
cmp_line (const void *a, const void *b)
{
  const struct cache_line *x = *(const struct cache_line *const *) a;
  const struct cache_line *y = *(const struct cache_line *const *) b;

  return x->tag < y->tag ? -1 : x->tag > y->tag;
}

/* The dirty pieces of line L as byte ranges of the volume: calls FN on
 * each run of them. */
static int
line_runs (const struct cache_line *l,
           int (*fn) (void *, const struct cache_line *, size_t, size_t),
           void *arg)
{
  size_t i = 0;
  int r;

  while (i < 32) {
    size_t j, from, to;

    if (!(l->dirty & (1u << i))) {
      i++;
      continue;
    }
    for (j = i; j < 32 && (l->dirty & (1u << j)); j++)
      ;
    from = i * CACHE_SUB_SIZE;
    to = MIN (j * CACHE_SUB_SIZE, l->len);
    if (from < to && (r = fn (arg, l, from, to)) < 0)
      return r;
    i = j;
  }
  return 0;
}

struct wb {
  struct ext_io *io;
  struct img_internal_range *ranges;
  size_t n;
};

static int
add_range (void *arg, const struct cache_line *l, size_t from, size_t to)
{
  struct wb *w = arg;

  w->ranges[w->n++] = (struct img_internal_range) {
    (l->tag - 1) * CACHE_LINE_SIZE + from, to - from
  };
  return 0;
}

static int
write_run (void *arg, const struct cache_line *l, size_t from, size_t to)
{
  struct wb *w = arg;

  return img_volume_pwrite (w->io->ctx, w->io->vol, l->data + from, to - from,
                            (l->tag - 1) * CACHE_LINE_SIZE + from);
}

/* Writes every dirty piece of the cache to the volume, in the volume's
 * order, announced first in one img_internal_volume_will_write.  On failure the
 * dirty lines are dropped: what they held is lost with the run, which
 * fails (and is rolled back). */
int
img_internal_ext_writeback (struct ext_io *io)
{
  struct cache_line **dirty;
  struct wb w = { io, NULL, 0 };
  size_t i, n = 0;
  int r = 0;

  if (io->n_dirty == 0)
    return 0;
  dirty = calloc (io->n_dirty, sizeof *dirty);
  w.ranges = calloc (io->n_dirty * 16, sizeof *w.ranges);  /* runs a line */
  if (dirty == NULL || w.ranges == NULL) {
    r = img_err (io->ctx, -ENOMEM, "%s: out of memory", io->vol->name);
    goto out;
  }
  for (i = 0; i < CACHE_LINES; i++)
    if (io->lines[i].dirty && n < io->n_dirty)
      dirty[n++] = &io->lines[i];
  qsort (dirty, n, sizeof *dirty, cmp_line);
  for (i = 0; i < n; i++)
    line_runs (dirty[i], add_range, &w);
  r = img_internal_volume_will_write (io->ctx, io->vol, w.ranges, w.n);
  for (i = 0; i < n && r == 0; i++) {
    r = line_runs (dirty[i], write_run, &w);
    if (r == 0) {
      dirty[i]->dirty = 0;
      io->n_dirty--;
    }
  }
 out:
  if (r < 0)
    for (i = 0; i < CACHE_LINES; i++)
      if (io->lines[i].dirty)
        line_drop (io, &io->lines[i]);
  free (w.ranges);
  free (dirty);
  return r;
}

/* A line for LNO, not yet filled: the set's least recently used clean
 * line (when every one is dirty, the cache is written back first), its
 * buffer allocated.  NULL when out of memory; *R set on a failed write. */
static struct cache_line *
cache_victim (struct ext_io *io, uint64_t lno, int *r)
{
  struct cache_line *set = cache_set (io, lno), *l = NULL;
  size_t i;

  *r = 0;
  for (i = 0; i < CACHE_WAYS; i++)
    if (!set[i].dirty && (l == NULL || set[i].used < l->used))
      l = &set[i];
  if (l == NULL) {
    *r = img_internal_ext_writeback (io);
    if (*r < 0)
      return NULL;
    for (l = &set[0], i = 1; i < CACHE_WAYS; i++)
      if (set[i].used < l->used)
        l = &set[i];
  }
  l->tag = 0;
  if (l->data == NULL && (l->data = malloc (CACHE_LINE_SIZE)) == NULL)
    return NULL;
  return l;
}

/* After a read of [OFF, OFF+LEN) from the volume itself: the bytes that
 * only the cache has yet. */
static void
cache_overlay_dirty (struct ext_io *io, void *buf, size_t len, uint64_t off)
{
  unsigned char *p = buf;
  uint64_t lno, last;

  if (io->n_dirty == 0 || len == 0)
    return;
  last = (off + len - 1) / CACHE_LINE_SIZE;
  for (lno = off / CACHE_LINE_SIZE; lno <= last; lno++) {
    struct cache_line *l = cache_find (io, lno);
    uint64_t lstart = lno * CACHE_LINE_SIZE, from, to;

    if (l == NULL || l->dirty == 0)
      continue;
    from = off > lstart ? off : lstart;
    to = MIN (off + len, lstart + l->len);
    if (from < to)
      memcpy (p + (from - off), l->data + (from - lstart), to - from);
  }
}

static int
cache_read (struct ext_io *io, void *buf, size_t len, uint64_t off)
{
  unsigned char *p = buf;
  uint64_t end;
  int r;

  if (add_overflow_u64 (off, len, &end) || end > io->vol->size
      || len >= CACHE_BYPASS) {
    r = img_volume_pread (io->ctx, io->vol, buf, len, off);
    if (r == 0)
      cache_overlay_dirty (io, buf, len, off);
    return r;
  }
  while (len > 0) {
    uint64_t lno = off / CACHE_LINE_SIZE;
    size_t in = off % CACHE_LINE_SIZE, n;
    struct cache_line *l = cache_find (io, lno);

    if (l == NULL) {
      uint64_t start = lno * CACHE_LINE_SIZE;
      size_t llen = MIN ((uint64_t) CACHE_LINE_SIZE, io->vol->size - start);

      l = cache_victim (io, lno, &r);
      if (r < 0)
        return r;
      if (l == NULL)
        /* No line, so nothing cached of it: the volume has it all. */
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

/* After a write of [OFF, OFF+LEN) to the volume: cached lines get the new
 * bytes, or are dropped if the write failed (part of it may have landed). */
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
      line_drop (io, l);
      continue;
    }
    from = off > lstart ? off : lstart;
    to = MIN (off + len, lstart + l->len);
    if (from < to)
      memcpy (l->data + (from - lstart), p + (from - off), to - from);
  }
}

/* A small write: into the cache, the line read in first unless the write
 * covers it; the piece of it no line could be found for goes straight to
 * the volume. */
static int
cache_write (struct ext_io *io, const void *buf, size_t len, uint64_t off)
{
  const unsigned char *p = buf;
  int r;

  while (len > 0) {
    uint64_t lno = off / CACHE_LINE_SIZE, start = lno * CACHE_LINE_SIZE;
    size_t in = off % CACHE_LINE_SIZE, n;
    size_t llen = MIN ((uint64_t) CACHE_LINE_SIZE, io->vol->size - start);
    struct cache_line *l = cache_find (io, lno);

    n = MIN (len, llen - in);
    if (l == NULL) {
      l = cache_victim (io, lno, &r);
      if (r < 0)
        return r;
      if (l == NULL) {
        r = img_volume_pwrite (io->ctx, io->vol, p, n, off);
        if (r < 0)
          return r;
        goto next;
      }
      if (!(in == 0 && n == llen)
          && (r = img_volume_pread (io->ctx, io->vol, l->data, llen,
                                    start)) < 0)
        return r;
      l->tag = lno + 1;
      l->len = llen;
    }
    l->used = ++io->clock;
    memcpy (l->data + in, p, n);
    line_mark_dirty (io, l, in, in + n);
  next:
    p += n;
    off += n;
    len -= n;
  }
  return 0;
}

void
img_internal_ext_cache_free (struct ext_io *io)
{
  size_t i;

  for (i = 0; i < CACHE_LINES; i++) {
    free (io->lines[i].data);
    io->lines[i].data = NULL;
    io->lines[i].tag = 0;
    io->lines[i].dirty = 0;
  }
  io->n_dirty = 0;
}

static int
io_pwrite (struct ext_io *io, const void *buf, size_t len, uint64_t off)
{
  uint64_t end;
  int r;

  if (!add_overflow_u64 (off, len, &end) && end <= io->vol->size
      && len < CACHE_BYPASS && io->vol->no_write == NULL)
    r = cache_write (io, buf, len, off);
  else {
    r = img_volume_pwrite (io->ctx, io->vol, buf, len, off);
    cache_update (io, buf, len, off, r == 0);
  }
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

  r = img_internal_ext_writeback (io);
  if (r == 0)
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
