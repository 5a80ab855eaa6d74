/* Internal helpers shared by the files of libimg: logging, error
 * recording, little-endian decoding and overflow-checked arithmetic. */
#ifndef LIBIMG_PRIVATE_H
#define LIBIMG_PRIVATE_H

#include <endian.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

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
                            const char *format, int writable,
                            struct img_nbd **nbd, uint64_t *size);
int img_internal_nbd_pread (struct img_nbd *nbd, void *buf, size_t len,
                            uint64_t offset);
int img_internal_nbd_pwrite (struct img_nbd *nbd, const void *buf,
                             size_t len, uint64_t offset);
int img_internal_nbd_flush (struct img_nbd *nbd);
int img_internal_nbd_stop (struct img_nbd *nbd);

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

#endif /* LIBIMG_PRIVATE_H */
