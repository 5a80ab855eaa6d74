/* The progress callbacks on the context (progress.h): steps and byte
 * counts, passed on to the tool's renderer, or dropped. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>

#include "private.h"
#include "base/progress.h"

void
img_progress_set_ops (struct img_ctx *ctx, const struct img_progress_ops *ops, void *data)
{
  struct img_internal_progress *p = img_internal_ctx_progress (ctx);

  if (ops)
    p->ops = *ops;
  else
    p->ops = (struct img_progress_ops) { 0 };
  p->data = data;
}

void
img_progress_step (struct img_ctx *ctx, enum img_progress_kind kind, const char *fmt, ...)
{
  struct img_internal_progress *p;
  char text[512];
  va_list ap;

  if (ctx == NULL)
    return;
  p = img_internal_ctx_progress (ctx);
  if (p->ops.step == NULL)
    return;
  va_start (ap, fmt);
  vsnprintf (text, sizeof text, fmt, ap);
  va_end (ap);
  p->ops.step (p->data, kind, text);
}

void
img_progress_bytes (struct img_ctx *ctx, uint64_t done, uint64_t total)
{
  struct img_internal_progress *p;

  if (ctx == NULL)
    return;
  p = img_internal_ctx_progress (ctx);
  if (p->ops.bytes)
    p->ops.bytes (p->data, done, total);
}
