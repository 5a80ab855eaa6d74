/* The library context: logging, debug flags and the last error message.
 * No mutable globals: every object holds its context. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

struct img_ctx {
  img_log_fn log_fn;
  void *log_data;
  int log_priority;
  char error[1024];
};

static void
log_stderr (void *data, int priority, const char *msg)
{
  const char *prog = data;

  if (priority <= IMG_LOG_WARNING)
    fprintf (stderr, "%s%swarning: %s\n", prog ? prog : "",
             prog ? ": " : "", msg);
  else
    fprintf (stderr, "%s%s%s\n", prog ? prog : "", prog ? ": " : "", msg);
}

int
img_ctx_new (struct img_ctx **ctxp)
{
  struct img_ctx *ctx;
  const char *dbg;

  ctx = calloc (1, sizeof *ctx);
  if (ctx == NULL)
    return -ENOMEM;
  ctx->log_fn = log_stderr;
  ctx->log_priority = IMG_LOG_WARNING;
  dbg = getenv ("IMG_DEBUG");
  if (dbg && *dbg && strcmp (dbg, "0") != 0)
    ctx->log_priority = IMG_LOG_DEBUG;
  *ctxp = ctx;
  return 0;
}

void
img_ctx_free (struct img_ctx *ctx)
{
  free (ctx);
}

void
img_ctx_set_log_fn (struct img_ctx *ctx, img_log_fn fn, void *data)
{
  ctx->log_fn = fn ? fn : log_stderr;
  ctx->log_data = data;
}

void
img_ctx_set_log_priority (struct img_ctx *ctx, int priority)
{
  ctx->log_priority = priority;
}

int
img_ctx_get_log_priority (const struct img_ctx *ctx)
{
  return ctx->log_priority;
}

const char *
img_ctx_error (const struct img_ctx *ctx)
{
  return ctx->error;
}

void
img_ctx_clear_error (struct img_ctx *ctx)
{
  ctx->error[0] = '\0';
}

static void
vlog (struct img_ctx *ctx, int priority, const char *fmt, va_list ap)
{
  char msg[2048];

  vsnprintf (msg, sizeof msg, fmt, ap);
  ctx->log_fn (ctx->log_data, priority, msg);
}

void
img_internal_log (struct img_ctx *ctx, int priority, const char *fmt, ...)
{
  va_list ap;

  if (priority > ctx->log_priority)
    return;
  va_start (ap, fmt);
  vlog (ctx, priority, fmt, ap);
  va_end (ap);
}

int
img_internal_error (struct img_ctx *ctx, int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (ctx->error, sizeof ctx->error, fmt, ap);
  va_end (ap);
  img_dbg (ctx, "error: %s", ctx->error);
  return err;
}

int
img_ctx_set_error (struct img_ctx *ctx, int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (ctx->error, sizeof ctx->error, fmt, ap);
  va_end (ap);
  img_dbg (ctx, "error: %s", ctx->error);
  return err;
}

void
img_internal_guid_to_string (const unsigned char *g, char out[37])
{
  snprintf (out, 37,
            "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            get_le32 (g), get_le16 (g + 4), get_le16 (g + 6),
            g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

void
img_internal_uuid_to_string (const unsigned char *u, char out[37])
{
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
            u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int
img_internal_grow (void **arr, size_t *cap, size_t n, size_t size)
{
  size_t ncap, bytes;
  void *a;

  if (n < *cap)
    return 0;
  ncap = *cap ? *cap : 8;
  while (ncap <= n)
    if (__builtin_mul_overflow (ncap, 2, &ncap))
      return -ENOMEM;
  if (__builtin_mul_overflow (ncap, size, &bytes) || (a = realloc (*arr, bytes)) == NULL)
    return -ENOMEM;
  *arr = a;
  *cap = ncap;
  return 0;
}
