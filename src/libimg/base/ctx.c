/* The library context: logging, debug flags and the last error message.
 * No mutable globals: every object holds its context. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "img-quote.h"

struct img_ctx {
  img_log_fn log_fn;
  void *log_data;
  int log_priority;
  char error[1024];
  uint64_t budget[IMG_BUDGET_N];
  uint64_t spent[IMG_BUDGET_N];
  struct img_disk_opts disk_opts;     /* defaults for img_disk_open */
  char *disk_format;                  /* owns disk_opts.format */
  enum img_fs_backend fs_backend;     /* what img_guest_open reads with */
  struct img_keyring *keys;           /* LUKS keys (keys.c) */
  struct img_internal_progress progress;  /* base/progress.c */
  bool gzip_zlib;                     /* zlib even where ISA-L is built in */
};

static const struct {
  const char *name;             /* for NAME=SIZE settings */
  const char *env;
  uint64_t dflt;
} budgets[IMG_BUDGET_N] = {
  [IMG_BUDGET_INFLATE] = { "inflate", "IMG_BUDGET_INFLATE", IMG_BUDGET_INFLATE_DEFAULT },
  [IMG_BUDGET_INFLATE_TOTAL] = { "inflate-total", "IMG_BUDGET_INFLATE_TOTAL", IMG_BUDGET_INFLATE_TOTAL_DEFAULT },
  [IMG_BUDGET_FILE] = { "file", "IMG_BUDGET_FILE", IMG_BUDGET_FILE_DEFAULT },
  [IMG_BUDGET_FILE_TOTAL] = { "file-total", "IMG_BUDGET_FILE_TOTAL", IMG_BUDGET_FILE_TOTAL_DEFAULT },
  [IMG_BUDGET_ENTRIES] = { "entries", "IMG_BUDGET_ENTRIES", IMG_BUDGET_ENTRIES_DEFAULT },
  [IMG_BUDGET_ENTRIES_TOTAL] = { "entries-total", "IMG_BUDGET_ENTRIES_TOTAL", IMG_BUDGET_ENTRIES_TOTAL_DEFAULT },
  [IMG_BUDGET_MEMBERS] = { "members", "IMG_BUDGET_MEMBERS", IMG_BUDGET_MEMBERS_DEFAULT },
};

/* A count or size: digits, then an optional binary K/M/G/T suffix
 * ("256M", "256MiB", "1g"); at least 1. */
static int
parse_amount (const char *s, uint64_t *out)
{
  uint64_t v = 0, mult = 1;

  if (*s < '0' || *s > '9')
    return -EINVAL;
  for (; *s >= '0' && *s <= '9'; s++)
    if (mul_overflow_u64 (v, 10, &v) || add_overflow_u64 (v, *s - '0', &v))
      return -EINVAL;
  switch (*s) {
  case 'k': case 'K': mult = 1ull << 10; s++; break;
  case 'm': case 'M': mult = 1ull << 20; s++; break;
  case 'g': case 'G': mult = 1ull << 30; s++; break;
  case 't': case 'T': mult = 1ull << 40; s++; break;
  default: break;
  }
  if (mult > 1 && *s == 'i')
    s++;
  if (mult > 1 && (*s == 'B' || *s == 'b'))
    s++;
  if (*s != '\0' || mul_overflow_u64 (v, mult, &v) || v == 0)
    return -EINVAL;
  *out = v;
  return 0;
}

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
  size_t i;

  ctx = calloc (1, sizeof *ctx);
  if (ctx == NULL)
    return -ENOMEM;
  ctx->log_fn = log_stderr;
  ctx->log_priority = IMG_LOG_WARNING;
  dbg = getenv ("IMG_DEBUG");
  if (dbg && *dbg && strcmp (dbg, "0") != 0)
    ctx->log_priority = IMG_LOG_DEBUG;
  for (i = 0; i < IMG_BUDGET_N; i++) {
    const char *v = getenv (budgets[i].env);
    ctx->budget[i] = budgets[i].dflt;
    if (v && *v && parse_amount (v, &ctx->budget[i]) < 0) {
      /* Through the default log function: there is no other yet. */
      char msg[256];
      snprintf (msg, sizeof msg, "%s=%.64s: not a size (a number with an optional K, M, G or T suffix)",
                budgets[i].env, v);
      ctx->log_fn (ctx->log_data, IMG_LOG_ERR, msg);
      free (ctx);
      return -EINVAL;
    }
  }
  *ctxp = ctx;
  return 0;
}

struct img_internal_progress *
img_internal_ctx_progress (struct img_ctx *ctx)
{
  return &ctx->progress;
}

void
img_ctx_free (struct img_ctx *ctx)
{
  if (ctx) {
    free (ctx->disk_format);
    img_internal_keyring_free (ctx->keys);
  }
  free (ctx);
}

int
img_ctx_set_disk_opts (struct img_ctx *ctx, const struct img_disk_opts *opts)
{
  char *f = NULL;

  if (opts->format && (f = strdup (opts->format)) == NULL)
    return -ENOMEM;
  free (ctx->disk_format);
  ctx->disk_format = f;
  ctx->disk_opts = *opts;
  ctx->disk_opts.format = f;
  return 0;
}

int
img_ctx_set_fs_backend (struct img_ctx *ctx, enum img_fs_backend backend)
{
  if (backend != IMG_FS_BACKEND_AUTO && backend != IMG_FS_BACKEND_NATIVE
      && backend != IMG_FS_BACKEND_GUESTFS)
    return -EINVAL;
  ctx->fs_backend = backend;
  return 0;
}

enum img_fs_backend
img_ctx_fs_backend (const struct img_ctx *ctx)
{
  return ctx->fs_backend;
}

int
img_fs_backend_parse (const char *name, enum img_fs_backend *backend)
{
  if (strcmp (name, "auto") == 0)
    *backend = IMG_FS_BACKEND_AUTO;
  else if (strcmp (name, "native") == 0)
    *backend = IMG_FS_BACKEND_NATIVE;
  else if (strcmp (name, "guestfs") == 0)
    *backend = IMG_FS_BACKEND_GUESTFS;
  else
    return -EINVAL;
  return 0;
}

struct img_keyring **
img_internal_ctx_keyring (struct img_ctx *ctx)
{
  return &ctx->keys;
}

const struct img_disk_opts *
img_internal_ctx_disk_opts (struct img_ctx *ctx)
{
  return &ctx->disk_opts;
}

bool
img_internal_ctx_gzip_zlib (const struct img_ctx *ctx)
{
  return ctx->gzip_zlib;
}

void
img_internal_ctx_set_gzip_zlib (struct img_ctx *ctx, bool zlib)
{
  ctx->gzip_zlib = zlib;
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

/* Messages carry names and text from images: each is made one line of
 * printable text here (img_quote_term), whoever formats it. */
static void
term_safe (char *buf, size_t size)
{
  char *q = img_quote_term (buf, 0);

  if (q) {
    snprintf (buf, size, "%s", q);
    free (q);
  } else {
    for (char *p = buf; *p; p++)
      if ((unsigned char) *p < 0x20 || (unsigned char) *p >= 0x7f)
        *p = '?';
  }
}

static void
vlog (struct img_ctx *ctx, int priority, const char *fmt, va_list ap)
{
  char msg[2048];

  vsnprintf (msg, sizeof msg, fmt, ap);
  term_safe (msg, sizeof msg);
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

/* The one error setter: the library's img_err and the tools alike. */
int
img_ctx_set_error (struct img_ctx *ctx, int err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (ctx->error, sizeof ctx->error, fmt, ap);
  va_end (ap);
  term_safe (ctx->error, sizeof ctx->error);
  img_dbg (ctx, "error: %s", ctx->error);
  return err;
}

/* ---- budgets ----------------------------------------------------------- */

int
img_ctx_set_budget (struct img_ctx *ctx, enum img_budget which, uint64_t limit)
{
  if ((unsigned) which >= IMG_BUDGET_N || limit == 0)
    return -EINVAL;
  ctx->budget[which] = limit;
  return 0;
}

uint64_t
img_ctx_budget (const struct img_ctx *ctx, enum img_budget which)
{
  return (unsigned) which < IMG_BUDGET_N ? ctx->budget[which] : 0;
}

uint64_t
img_ctx_budget_used (const struct img_ctx *ctx, enum img_budget which)
{
  return (unsigned) which < IMG_BUDGET_N ? ctx->spent[which] : 0;
}

const char *
img_budget_name (enum img_budget which)
{
  return (unsigned) which < IMG_BUDGET_N ? budgets[which].name : NULL;
}

int
img_budget_parse (const char *setting, enum img_budget *which, uint64_t *limit)
{
  const char *eq = strchr (setting, '=');
  uint64_t v;
  size_t i;

  if (eq == NULL || parse_amount (eq + 1, &v) < 0)
    return -EINVAL;
  for (i = 0; i < IMG_BUDGET_N; i++)
    if (strlen (budgets[i].name) == (size_t) (eq - setting)
        && memcmp (budgets[i].name, setting, eq - setting) == 0) {
      *which = (enum img_budget) i;
      *limit = v;
      return 0;
    }
  return -EINVAL;
}

int
img_ctx_set_budget_string (struct img_ctx *ctx, const char *setting)
{
  enum img_budget which;
  uint64_t v;
  int r = img_budget_parse (setting, &which, &v);

  if (r == 0)
    ctx->budget[which] = v;
  return r;
}

void
img_internal_budget_format (uint64_t v, bool bytes, char out[32])
{
  static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
  int u = -1;

  if (!bytes) {
    if (v >= (1u << 20) && v % (1u << 20) == 0)
      snprintf (out, 32, "%" PRIu64 " Mi", v >> 20);
    else
      snprintf (out, 32, "%" PRIu64, v);
    return;
  }
  while (u < 3 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    u++;
  }
  if (u < 0)
    snprintf (out, 32, "%" PRIu64 " bytes", v);
  else
    snprintf (out, 32, "%" PRIu64 " %s", v, units[u]);
}

int
img_internal_budget_charge (struct img_ctx *ctx, enum img_budget total,
                            uint64_t n, const char *where)
{
  bool bytes = total != IMG_BUDGET_ENTRIES_TOTAL;
  char lim[32];
  uint64_t sum;

  if (add_overflow_u64 (ctx->spent[total], n, &sum) || sum > ctx->budget[total]) {
    ctx->spent[total] = ctx->budget[total];
    img_internal_budget_format (ctx->budget[total], bytes, lim);
    return img_err (ctx, bytes ? -EFBIG : -E2BIG,
                    "%s: %s past the run's budget of %s (%s)", where,
                    total == IMG_BUDGET_INFLATE_TOTAL ? "inflates"
                    : total == IMG_BUDGET_FILE_TOTAL ? "reads" : "walks",
                    lim, budgets[total].env);
  }
  ctx->spent[total] = sum;
  return 0;
}

void
img_internal_budget_spend (struct img_ctx *ctx, enum img_budget total,
                           uint64_t n)
{
  if (add_overflow_u64 (ctx->spent[total], n, &ctx->spent[total])
      || ctx->spent[total] > ctx->budget[total])
    ctx->spent[total] = ctx->budget[total];
}

uint64_t
img_internal_budget_left (const struct img_ctx *ctx, enum img_budget total)
{
  return ctx->budget[total] - ctx->spent[total];
}

const char *
img_internal_budget_env (enum img_budget which)
{
  return budgets[which].env;
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
