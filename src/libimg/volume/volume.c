/* The volume layer: a volume is a list of segments, each mapping a range
 * of the volume onto one disk (linear) or interleaving it across several
 * (striped).  Partitions, LVs and whole disks are all volumes. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "disk/disk-private.h"
#include "volume/volume-private.h"

int
img_volume_new (struct img_ctx *ctx, const char *name, struct img_volume **volp)
{
  struct img_volume *vol;

  vol = calloc (1, sizeof *vol);
  if (vol == NULL || (vol->name = strdup (name)) == NULL) {
    free (vol);
    return img_err (ctx, -ENOMEM, "%s: volume: out of memory", name);
  }
  *volp = vol;
  return 0;
}

void
img_volume_free (struct img_volume *vol)
{
  size_t i;

  if (vol == NULL)
    return;
  for (i = 0; i < vol->n_segments; i++)
    free (vol->segments[i].stripes);
  free (vol->segments);
  free (vol->name);
  free (vol);
}

int
img_volume_add_segment (struct img_ctx *ctx, struct img_volume *vol,
                        uint64_t length, uint64_t stripe_size,
                        size_t n_stripes, const struct img_stripe *stripes)
{
  struct img_segment *segs, *seg;
  uint64_t end, per_stripe, stripe_end;
  size_t i;

  if (length == 0 || n_stripes == 0)
    return img_err (ctx, -EINVAL, "%s: volume: empty segment", vol->name);
  if (n_stripes > 1 && (stripe_size == 0 || length % n_stripes != 0
                        || (length / n_stripes) % stripe_size != 0))
    return img_err (ctx, -EINVAL,
                    "%s: volume: striped segment of %" PRIu64 " bytes does not divide into %zu stripes of %" PRIu64 "-byte chunks",
                    vol->name, length, n_stripes, stripe_size);
  if (add_overflow_u64 (vol->size, length, &end))
    return img_err (ctx, -EOVERFLOW, "%s: volume: size overflows", vol->name);
  per_stripe = length / n_stripes;
  for (i = 0; i < n_stripes; i++) {
    if (stripes[i].disk == NULL)
      return img_err (ctx, -EINVAL, "%s: volume: segment without a disk",
                      vol->name);
    if (add_overflow_u64 (stripes[i].offset, per_stripe, &stripe_end)
        || stripe_end > img_disk_size (stripes[i].disk))
      return img_err (ctx, -EIO,
                      "%s: volume: extends past the end of %s (%" PRIu64 " > %" PRIu64 " bytes); the image is truncated or the table is corrupt",
                      vol->name, img_disk_name (stripes[i].disk), stripe_end,
                      img_disk_size (stripes[i].disk));
  }

  segs = realloc (vol->segments, (vol->n_segments + 1) * sizeof *segs);
  if (segs == NULL)
    return img_err (ctx, -ENOMEM, "%s: volume: out of memory", vol->name);
  vol->segments = segs;
  seg = &segs[vol->n_segments];
  seg->stripes = malloc (n_stripes * sizeof *stripes);
  if (seg->stripes == NULL)
    return img_err (ctx, -ENOMEM, "%s: volume: out of memory", vol->name);
  memcpy (seg->stripes, stripes, n_stripes * sizeof *stripes);
  seg->start = vol->size;
  seg->length = length;
  seg->stripe_size = n_stripes > 1 ? stripe_size : 0;
  seg->n_stripes = n_stripes;
  vol->n_segments++;
  vol->size = end;
  return 0;
}

int
img_volume_new_linear (struct img_ctx *ctx, const char *name,
                       struct img_disk *disk, uint64_t offset,
                       uint64_t length, struct img_volume **volp)
{
  struct img_stripe st = { .disk = disk, .offset = offset };
  struct img_volume *vol;
  int r;

  r = img_volume_new (ctx, name, &vol);
  if (r < 0)
    return r;
  if (length > 0) {
    r = img_volume_add_segment (ctx, vol, length, 0, 1, &st);
    if (r < 0) {
      img_volume_free (vol);
      return r;
    }
  }
  *volp = vol;
  return 0;
}

int
img_internal_volume_slice (struct img_ctx *ctx, const char *name,
                           const struct img_volume *src, uint64_t off,
                           uint64_t len, struct img_volume **volp)
{
  struct img_volume *vol;
  uint64_t end;
  size_t i;
  int r;

  if (add_overflow_u64 (off, len, &end) || end > src->size)
    return img_err (ctx, -EIO,
                    "%s: volume: %" PRIu64 " bytes at %" PRIu64 " are past the end of %s (%" PRIu64 " bytes)",
                    name, len, off, src->name, src->size);
  r = img_volume_new (ctx, name, &vol);
  if (r < 0)
    return r;
  vol->no_write = src->no_write;
  for (i = 0; i < src->n_segments && vol->size < len; i++) {
    const struct img_segment *s = &src->segments[i];
    struct img_stripe st;
    uint64_t from, to;

    if (s->start + s->length <= off || s->start >= end)
      continue;
    if (s->n_stripes != 1) {
      img_volume_free (vol);
      return img_err (ctx, -ENOTSUP, "%s: volume: %s is striped; a part of it cannot be taken",
                      name, src->name);
    }
    from = off > s->start ? off - s->start : 0;
    to = end < s->start + s->length ? end - s->start : s->length;
    st.disk = s->stripes[0].disk;
    st.offset = s->stripes[0].offset + from;
    r = img_volume_add_segment (ctx, vol, to - from, 0, 1, &st);
    if (r < 0) {
      img_volume_free (vol);
      return r;
    }
  }
  *volp = vol;
  return 0;
}

/* Finds the segment holding OFFSET (segments are sorted and contiguous). */
static const struct img_segment *
find_segment (const struct img_volume *vol, uint64_t offset)
{
  size_t lo = 0, hi = vol->n_segments;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct img_segment *s = &vol->segments[mid];
    if (offset < s->start)
      hi = mid;
    else if (offset >= s->start + s->length)
      lo = mid + 1;
    else
      return s;
  }
  return NULL;
}

/* Maps OFFSET in the volume to a disk and offset, and says how many bytes
 * from there are contiguous on that disk. */
static void
map (const struct img_segment *s, uint64_t offset, struct img_disk **disk,
     uint64_t *doff, uint64_t *run)
{
  uint64_t rel = offset - s->start;

  if (s->n_stripes == 1) {
    *disk = s->stripes[0].disk;
    *doff = s->stripes[0].offset + rel;
    *run = s->length - rel;
  }
  else {
    uint64_t chunk = rel / s->stripe_size;
    uint64_t in_chunk = rel % s->stripe_size;
    size_t stripe = chunk % s->n_stripes;
    uint64_t row = chunk / s->n_stripes;

    *disk = s->stripes[stripe].disk;
    *doff = s->stripes[stripe].offset + row * s->stripe_size + in_chunk;
    *run = s->stripe_size - in_chunk;
  }
}

static int
volume_io (struct img_ctx *ctx, const struct img_volume *vol, void *buf,
           size_t len, uint64_t offset, bool write)
{
  unsigned char *p = buf;
  uint64_t end;
  int r;

  if (write && vol->no_write != NULL)
    return img_err (ctx, -EROFS, "%s: %s", vol->name, vol->no_write);
  if (add_overflow_u64 (offset, len, &end) || end > vol->size)
    return img_err (ctx, -EIO,
                    "%s: volume: access of %zu bytes at offset %" PRIu64 " is past its end (%" PRIu64 " bytes)",
                    vol->name, len, offset, vol->size);
  while (len > 0) {
    const struct img_segment *s = find_segment (vol, offset);
    struct img_disk *disk;
    uint64_t doff, run;
    size_t n;

    if (s == NULL)
      return img_err (ctx, -EIO, "%s: volume: no segment at offset %" PRIu64,
                      vol->name, offset);
    map (s, offset, &disk, &doff, &run);
    n = run < len ? run : len;
    r = write ? img_disk_pwrite (disk, p, n, doff)
              : img_disk_pread (disk, p, n, doff);
    if (r < 0)
      return r;
    p += n;
    len -= n;
    offset += n;
  }
  return 0;
}

int
img_volume_pread (struct img_ctx *ctx, const struct img_volume *vol,
                  void *buf, size_t len, uint64_t offset)
{
  return volume_io (ctx, vol, buf, len, offset, false);
}

int
img_volume_pwrite (struct img_ctx *ctx, const struct img_volume *vol,
                   const void *buf, size_t len, uint64_t offset)
{
  return volume_io (ctx, vol, (void *) buf, len, offset, true);
}

/* Maps the N ranges onto the disks and announces each disk's pieces in
 * one img_internal_disk_will_write. */
int
img_internal_volume_will_write (struct img_ctx *ctx, const struct img_volume *vol,
                       const struct img_internal_range *ranges, size_t n)
{
  struct piece {
    struct img_disk *disk;
    struct img_internal_range r;
  } *pieces = NULL;
  struct img_internal_range *mine = NULL;
  size_t n_pieces = 0, cap = 0, i, j, k;
  int r = 0;

  if (n == 0)
    return 0;
  if (vol->no_write != NULL)
    return img_err (ctx, -EROFS, "%s: %s", vol->name, vol->no_write);
  for (i = 0; i < n; i++) {
    uint64_t offset = ranges[i].offset, len = ranges[i].len, end;

    if (add_overflow_u64 (offset, len, &end) || end > vol->size) {
      r = img_err (ctx, -EIO,
                   "%s: volume: access of %" PRIu64 " bytes at offset %" PRIu64 " is past its end (%" PRIu64 " bytes)",
                   vol->name, len, offset, vol->size);
      goto out;
    }
    while (len > 0) {
      const struct img_segment *s = find_segment (vol, offset);
      struct img_disk *disk;
      uint64_t doff, run;

      if (s == NULL) {
        r = img_err (ctx, -EIO, "%s: volume: no segment at offset %" PRIu64,
                     vol->name, offset);
        goto out;
      }
      map (s, offset, &disk, &doff, &run);
      if (run > len)
        run = len;
      if (n_pieces == cap) {
        struct piece *np;

        cap = cap ? 2 * cap : 16;
        np = reallocarray (pieces, cap, sizeof *pieces);
        if (np == NULL) {
          r = img_err (ctx, -ENOMEM, "%s: volume: out of memory", vol->name);
          goto out;
        }
        pieces = np;
      }
      pieces[n_pieces++] = (struct piece) { disk, { doff, run } };
      offset += run;
      len -= run;
    }
  }
  mine = calloc (n_pieces, sizeof *mine);
  if (mine == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: volume: out of memory", vol->name);
    goto out;
  }
  /* Each disk once, with all of its pieces (a volume has few disks). */
  for (i = 0; i < n_pieces && r == 0; i++) {
    struct img_disk *d = pieces[i].disk;
    bool seen = false;

    for (j = 0; j < i && !seen; j++)
      seen = pieces[j].disk == d;
    if (seen)
      continue;
    for (j = i, k = 0; j < n_pieces; j++)
      if (pieces[j].disk == d)
        mine[k++] = pieces[j].r;
    r = img_internal_disk_will_write (d, mine, k);
  }
 out:
  free (mine);
  free (pieces);
  return r;
}
