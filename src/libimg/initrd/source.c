/* Where an initrd's bytes come from: a buffer the caller holds, or a
 * reader (a guest file) seen through a window, so that a walk over a
 * 40 MB initrd holds about one window of it, never the file. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "initrd/initrd-private.h"

#define DEFAULT_WINDOW ((size_t) 1 << 20)

void
img_internal_src_mem (struct img_internal_src *s, struct img_ctx *ctx,
                      const char *name, const void *buf, size_t len)
{
  *s = (struct img_internal_src) {
    .ctx = ctx, .name = name, .mem = buf, .size = len,
  };
}

void
img_internal_src_reader (struct img_internal_src *s, struct img_ctx *ctx,
                         const char *name, img_initrd_read_fn read,
                         void *opaque, uint64_t size, size_t window)
{
  *s = (struct img_internal_src) {
    .ctx = ctx, .name = name, .read = read, .opaque = opaque, .size = size,
    .win_cap = window ? window : DEFAULT_WINDOW,
  };
}

void
img_internal_src_free (struct img_internal_src *s)
{
  free (s->win);
  s->win = NULL;
  s->win_len = 0;
}

/* The window holds [OFF, OFF + min (WANT, size - OFF)) after this. */
static int
refill (struct img_internal_src *s, uint64_t off, size_t want)
{
  size_t cap = s->win_cap > want ? s->win_cap : want, len = 0, got;
  int r;

  if (cap > s->size - off)
    cap = (size_t) (s->size - off);
  if (s->win == NULL || s->win_alloc < cap) {
    unsigned char *w = realloc (s->win, cap ? cap : 1);
    if (w == NULL)
      return img_err (s->ctx, -ENOMEM, "%s: initrd: out of memory", s->name);
    s->win = w;
    s->win_alloc = cap;
  }
  s->win_off = off;
  s->win_len = 0;
  while (len < cap) {
    got = 0;
    if ((r = s->read (s->opaque, s->win + len, cap - len, off + len, &got)) < 0)
      return r;
    if (got == 0 || got > cap - len)
      return img_err (s->ctx, -EIO,
                      "%s: initrd: the file ends at %" PRIu64 " bytes, not %" PRIu64 " (changed while read?)",
                      s->name, off + len, s->size);
    len += got;
  }
  s->win_len = len;
  return 0;
}

int
img_internal_src_at (struct img_internal_src *s, uint64_t off, size_t want,
                     const unsigned char **p, size_t *n)
{
  uint64_t left;
  int r;

  *p = NULL;
  *n = 0;
  if (off >= s->size)
    return 0;
  left = s->size - off;
  if (want > left)
    want = (size_t) left;
  if (s->mem) {
    *p = s->mem + off;
    *n = (size_t) left;
    return 0;
  }
  if (off < s->win_off || off + want > s->win_off + s->win_len)
    if ((r = refill (s, off, want)) < 0)
      return r;
  *p = s->win + (off - s->win_off);
  *n = (size_t) (s->win_off + s->win_len - off);
  return 0;
}
