/* Internal helpers shared by the files of libimg: logging, error
 * recording, little-endian decoding and overflow-checked arithmetic. */
#ifndef LIBIMG_PRIVATE_H
#define LIBIMG_PRIVATE_H

#include <endian.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "libimg.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

void img_internal_log (struct img_ctx *ctx, int priority,
                       const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));
/* Records the context's error message (and logs it at debug level);
 * returns ERR so that callers can write `return img_internal_error (...)`. */
int img_internal_error (struct img_ctx *ctx, int err, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

#define img_dbg(ctx, ...) \
  do { if (img_ctx_get_log_priority (ctx) >= IMG_LOG_DEBUG) \
         img_internal_log ((ctx), IMG_LOG_DEBUG, __VA_ARGS__); } while (0)
#define img_info(ctx, ...) img_internal_log ((ctx), IMG_LOG_INFO, __VA_ARGS__)
#define img_warn(ctx, ...) img_internal_log ((ctx), IMG_LOG_WARNING, __VA_ARGS__)
#define img_err(ctx, err, ...) img_internal_error ((ctx), (err), __VA_ARGS__)

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

/* Formats a 16-byte GUID stored mixed-endian (GPT) as text. */
/* Makes room in *ARR (of *CAP elements of SIZE bytes) for element N,
 * doubling: appending one at a time stays linear.  0 or -ENOMEM (*ARR
 * kept). */
int img_internal_grow (void **arr, size_t *cap, size_t n, size_t size);

void img_internal_guid_to_string (const unsigned char *g, char out[37]);
/* Formats 16 bytes in plain order (ext4, xfs, btrfs UUIDs). */
void img_internal_uuid_to_string (const unsigned char *u, char out[37]);

/* Registers a disk with its context so that the signal handler can stop
 * its NBD server (nbd.c).  */
struct img_nbd;
int img_internal_nbd_start (struct img_ctx *ctx, const char *path,
                            const char *format, const char *spec, int writable,
                            struct img_nbd **nbd, uint64_t *size);
int img_internal_nbd_pread (struct img_nbd *nbd, void *buf, size_t len,
                            uint64_t offset);
int img_internal_nbd_pwrite (struct img_nbd *nbd, const void *buf,
                             size_t len, uint64_t offset);
int img_internal_nbd_flush (struct img_nbd *nbd);
int img_internal_nbd_stop (struct img_nbd *nbd);
/* In a child after fork: SIGKILL when PARENT dies (however it dies),
 * or exit now if it is already gone (nbd.c). */
void img_internal_die_with_parent (pid_t parent);
/* Runs ARGV (no shell) with stdout/stderr captured, bounded; returns the
 * wait status or -errno (nbd.c). */
int img_internal_run_capture (const char *const *argv, char *out, size_t outlen,
                              char *err, size_t errlen);

/* container.c: formats qemu may open (never protocols or filters), and
 * the check of what an image names besides itself, run before any qemu
 * opens it.  On success *spec is the "json:" file name pinning every
 * file qemu may open, *chain the resolved backing/data files for the
 * report (both malloc'd). */
bool img_internal_format_known (const char *format);
int img_internal_container_check (struct img_ctx *ctx, const char *path,
                                  const char *format, bool blockdev,
                                  const unsigned char *head, size_t headlen,
                                  bool allow_backing, char **spec,
                                  char ***chain, size_t *n_chain);
/* ctx.c: the tool-wide defaults img_disk_open uses. */
const struct img_disk_opts *img_internal_ctx_disk_opts (struct img_ctx *ctx);

/* Partition table readers (mbr.c, gpt.c), called by ptable.c with the
 * first sector already read.  They fill PT (allocated by the caller). */
int img_internal_mbr_read (struct img_ctx *ctx, struct img_disk *disk,
                           const unsigned char *sector0,
                           struct img_ptable *pt);
int img_internal_gpt_read (struct img_ctx *ctx, struct img_disk *disk,
                           struct img_ptable *pt);
/* Appends a copy of PART to PT. */
int img_internal_ptable_add (struct img_ctx *ctx, struct img_disk *disk,
                             struct img_ptable *pt,
                             const struct img_part *part);

/* guest.c: resolve a guest path (symlinks followed inside the guest) to
 * its canonical form (*canon, malloc'd) and the filesystem and path in it
 * that hold it (*rel points into *canon). */
int img_internal_guest_resolve (struct img_guest *g, const char *path,
                                bool follow_last, char **canon,
                                struct img_fs **fs, const char **rel);
/* guest.c: stacks a recording overlay (fs/overlay.h) on every mounted
 * filesystem of G, logging into LOG; DRY_RUN keeps the writes in memory.
 * What a plan opens the guest with. */
struct img_fs_log;
int img_internal_guest_overlay (struct img_guest *g, bool dry_run,
                                struct img_fs_log *log);

/* release.c: small text helpers that inspection shares with the release
 * file parsers.  The caller owns what they return (NULL: absent/empty). */
char *img_internal_text_value (const char *text, const char *key);
char *img_internal_first_line (const char *text);

#endif /* LIBIMG_PRIVATE_H */
