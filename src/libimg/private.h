/* The base floor's internal helpers, shared by every file of libimg:
 * logging, error recording, budgets, little/big-endian decoding and
 * overflow-checked arithmetic.  Each floor above keeps its own internal
 * header (disk/disk-private.h, volume/volume-private.h, ...), included
 * only by that floor and the floors above it. */
#ifndef LIBIMG_PRIVATE_H
#define LIBIMG_PRIVATE_H

#include <endian.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "libimg.h"

#include "base/progress.h"

/* The progress callbacks the context holds (base/progress.c). */
struct img_internal_progress {
  struct img_progress_ops ops;
  void *data;
};
struct img_internal_progress *img_internal_ctx_progress (struct img_ctx *ctx);

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

void img_internal_log (struct img_ctx *ctx, int priority,
                       const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

#define img_dbg(ctx, ...) \
  do { if (img_ctx_get_log_priority (ctx) >= IMG_LOG_DEBUG) \
         img_internal_log ((ctx), IMG_LOG_DEBUG, __VA_ARGS__); } while (0)
#define img_info(ctx, ...) img_internal_log ((ctx), IMG_LOG_INFO, __VA_ARGS__)
#define img_warn(ctx, ...) img_internal_log ((ctx), IMG_LOG_WARNING, __VA_ARGS__)
/* Records the context's error message (img_ctx_set_error, which also
 * logs it at debug level); returns ERR so that callers can write
 * `return img_err (...)`. */
#define img_err(ctx, err, ...) img_ctx_set_error ((ctx), (err), __VA_ARGS__)

/* Decoding from disk bytes: never cast a buffer to a struct. */
static inline uint16_t
get_le16 (const void *p)
{
  uint16_t v;
  memcpy (&v, p, sizeof v);
  return le16toh (v);
}

static inline uint32_t
get_le32 (const void *p)
{
  uint32_t v;
  memcpy (&v, p, sizeof v);
  return le32toh (v);
}

static inline uint64_t
get_le64 (const void *p)
{
  uint64_t v;
  memcpy (&v, p, sizeof v);
  return le64toh (v);
}

static inline uint16_t
get_be16 (const void *p)
{
  uint16_t v;
  memcpy (&v, p, sizeof v);
  return be16toh (v);
}

static inline uint32_t
get_be32 (const void *p)
{
  uint32_t v;
  memcpy (&v, p, sizeof v);
  return be32toh (v);
}

static inline uint64_t
get_be64 (const void *p)
{
  uint64_t v;
  memcpy (&v, p, sizeof v);
  return be64toh (v);
}

/* Overflow-checked arithmetic: return true on overflow. */
static inline int
add_overflow_u64 (uint64_t a, uint64_t b, uint64_t *r)
{
  return __builtin_add_overflow (a, b, r);
}

static inline int
mul_overflow_u64 (uint64_t a, uint64_t b, uint64_t *r)
{
  return __builtin_mul_overflow (a, b, r);
}

/* Budgets (ctx.c).  Charges N to the run's counter TOTAL (one of the
 * IMG_BUDGET_*_TOTAL); past its limit the counter is left exhausted and
 * the result is -EFBIG (bytes) or -E2BIG (entries), with the message
 * "WHERE: inflates past the run's budget of 2 GiB (IMG_BUDGET_...)". */
int img_internal_budget_charge (struct img_ctx *ctx, enum img_budget total,
                                uint64_t n, const char *where);
/* The same without a message: the counter saturates at its limit. */
void img_internal_budget_spend (struct img_ctx *ctx, enum img_budget total,
                                uint64_t n);
/* What is left of the run's counter TOTAL. */
uint64_t img_internal_budget_left (const struct img_ctx *ctx,
                                   enum img_budget total);
/* "256 MiB" (BYTES) or "1 Mi" / "1000" (counts). */
void img_internal_budget_format (uint64_t v, bool bytes, char out[32]);
/* The environment variable that sets WHICH ("IMG_BUDGET_INFLATE"). */
const char *img_internal_budget_env (enum img_budget which);

/* Makes room in *ARR (of *CAP elements of SIZE bytes) for element N,
 * doubling: appending one at a time stays linear.  0 or -ENOMEM (*ARR
 * kept). */
int img_internal_grow (void **arr, size_t *cap, size_t n, size_t size);

/* Formats a 16-byte GUID stored mixed-endian (GPT) as text. */
void img_internal_guid_to_string (const unsigned char *g, char out[37]);
/* Formats 16 bytes in plain order (ext4, xfs, btrfs UUIDs). */
void img_internal_uuid_to_string (const unsigned char *u, char out[37]);

/* ctx.c: the tool-wide defaults img_disk_open uses. */
const struct img_disk_opts *img_internal_ctx_disk_opts (struct img_ctx *ctx);
/* ctx.c: gzip streams are inflated and made with zlib even in a build
 * with ISA-L (HAVE_ISAL), which otherwise does both: the tests compare
 * the two. */
bool img_internal_ctx_gzip_zlib (const struct img_ctx *ctx);
void img_internal_ctx_set_gzip_zlib (struct img_ctx *ctx, bool zlib);
/* keys.c: the context's LUKS keys (img_ctx_add_key).  The key for the
 * first of NAMES (a LUKS UUID, a device name) that a key's selector
 * names, or one given for "all"; NULL if none.  Owned by the context. */
struct img_keyring;
struct img_keyring **img_internal_ctx_keyring (struct img_ctx *ctx);
void img_internal_keyring_free (struct img_keyring *keys);
const char *img_internal_ctx_key (struct img_ctx *ctx, const char *const *names,
                                  size_t n);

#endif /* LIBIMG_PRIVATE_H */
