/* Internal interfaces of the initrd layer, shared by cpio.c (newc reader
 * and writer), compress.c (one stream in, one stream out) and initrd.c
 * (the segment walk, the kernel's view of the tree, append, extract). */
#ifndef LIBIMG_INITRD_PRIVATE_H
#define LIBIMG_INITRD_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"

/* Limits on hostile archives.  The kernel's own PATH_MAX bounds names
 * and symlink targets; the member count (the context's "members" budget)
 * keeps a tiny, highly compressed archive from costing gigabytes of
 * bookkeeping; the inflated bytes are the "inflate" budgets. */
#define IMG_CPIO_PATH_MAX 4096
#define IMG_INITRD_MAX_SEGMENTS 4096

/* ---- compress.c --------------------------------------------------------- */

/* The formats the kernel's decompress_method() knows, plus lz4's frame
 * format, which it does not (recognised only to say so). */
enum img_comp {
  IMG_COMP_NONE = 0,
  IMG_COMP_GZIP,
  IMG_COMP_ZSTD,
  IMG_COMP_XZ,
  IMG_COMP_LZMA,
  IMG_COMP_LZ4,                 /* legacy format, magic 0x184C2102 */
  IMG_COMP_BZIP2,
  IMG_COMP_LZO,                 /* the kernel reads it; we do not */
  IMG_COMP_LZ4_FRAME,           /* neither the kernel nor we read it */
};

/* The format whose magic starts BUF, or -1 when none does. */
int img_internal_comp_detect (const unsigned char *buf, size_t len);
/* "gzip", "zstd", ... (static). */
const char *img_internal_comp_name (int comp);
/* The format called NAME, or -1. */
int img_internal_comp_from_name (const char *name);

/* ---- source.c ----------------------------------------------------------- */

/* Reads up to LEN bytes at OFF into BUF; *got 0 only at the end. */
typedef int (*img_initrd_read_fn) (void *opaque, void *buf, size_t len,
                                   uint64_t off, size_t *got);

/* An initrd's bytes: a buffer (MEM), or READ seen through a window of
 * WIN_CAP bytes that moves forward as the walk does. */
struct img_internal_src {
  struct img_ctx *ctx;
  const char *name;             /* for messages */
  const unsigned char *mem;
  img_initrd_read_fn read;
  void *opaque;
  uint64_t size;
  unsigned char *win;
  size_t win_cap, win_alloc, win_len;
  uint64_t win_off;
};

void img_internal_src_mem (struct img_internal_src *s, struct img_ctx *ctx,
                           const char *name, const void *buf, size_t len);
/* WINDOW 0: 1 MiB. */
void img_internal_src_reader (struct img_internal_src *s, struct img_ctx *ctx,
                              const char *name, img_initrd_read_fn read,
                              void *opaque, uint64_t size, size_t window);
void img_internal_src_free (struct img_internal_src *s);
/* *P points at the bytes from OFF on, *N of them: at least
 * min (WANT, size - OFF), more when they are at hand; *N is 0 only at
 * the end.  Valid until the next call.  A reader that ends before SIZE
 * is -EIO. */
int img_internal_src_at (struct img_internal_src *s, uint64_t off,
                         size_t want, const unsigned char **p, size_t *n);

/* Takes N bytes of inflated output (N > 0); a negative errno stops
 * feeding it (the stream is still inflated to its end, so that a corrupt
 * stream is reported as such rather than as the garbage it made). */
typedef int (*img_internal_inflate_sink) (void *opaque,
                                          const unsigned char *p, size_t n);

/* Decompresses the one stream at offset OFF of SRC; what is left of the
 * file after OFF may be longer than the stream.  The output goes to SINK in
 * pieces of a small window, never held whole.  More than MAX_OUT bytes of
 * output is -EFBIG, found as soon as the output passes MAX_OUT (never by
 * inflating to the end), with the message "WHERE: OVER".  WHERE starts
 * every message ("initrd.img: initrd: zstd segment at offset 4").  A
 * stream that is sound but whose output the sink refused returns the
 * sink's error, *used set (it is left alone on the decompressor's own
 * errors).  *used is how many bytes of SRC the stream occupies;
 * *partial (if not NULL) how many bytes were inflated, on failure too. */
int img_internal_decompress_stream (struct img_ctx *ctx, const char *where,
                                    int comp, struct img_internal_src *src,
                                    uint64_t off, uint64_t max_out,
                                    const char *over,
                                    img_internal_inflate_sink sink,
                                    void *opaque, uint64_t *used,
                                    uint64_t *partial);

/* Compresses IN as one stream the kernel can read (xz with CRC32, lz4 in
 * the legacy format).  IMG_COMP_NONE copies.  *out is malloc'd, owned by
 * the caller. */
int img_internal_compress (struct img_ctx *ctx, const char *where, int comp,
                           const unsigned char *in, size_t in_len,
                           unsigned char **out, size_t *out_len);

/* ---- cpio.c ------------------------------------------------------------- */

/* A growing list of members; data and names point into the arena of the
 * walk that found them. */
struct img_cpio_entries {
  struct img_cpio_entry *v;
  size_t n, cap;
  size_t max;                   /* more members than this is an error */
};

/* Names and kept data of a walk, in blocks freed all at once. */
struct img_internal_arena {
  struct arena_block *head;
  uint64_t bytes;               /* allocated so far */
};
void *img_internal_arena_alloc (struct img_internal_arena *a, size_t n);
void img_internal_arena_free (struct img_internal_arena *a);

/* Reads newc ("070701") / crc ("070702") archives fed in pieces of any
 * size (a decompressor's window).
 *
 * ONE_ARCHIVE (an uncompressed segment of the file): exactly one archive,
 * up to and including its TRAILER!!! and the padding after it; the
 * reader stops there (feed's *consumed says where).  Otherwise (a
 * decompressed stream): everything fed, archive after archive with zero
 * padding between them, as the kernel reads a compressed segment; at
 * least one archive is required.
 *
 * Headers and names are gathered; member data is kept only when it is at
 * most KEEP_DATA bytes (symlink targets always) and otherwise skipped, so
 * memory does not grow with the archive.  Names and kept data go to
 * ARENA; an entry whose data was skipped has data NULL.  WHERE starts
 * messages; header offsets in them are BASE + the offset in the bytes
 * fed, called "uncompressed offset" when INNER.  LIMIT bounds the bytes
 * that may still come (no data is reserved past it).  Hard links (same
 * ino and device, nlink >= 2) within one archive share the data of the
 * last member that carries some. */
/* Whether the data of member NAME is kept: > 0 whatever its size
 * (within the input: see LIMIT), < 0 never (it streams by, to the sink if
 * there is one: modules and firmware, that a caller only lists), 0 by the
 * size rule (KEEP_DATA). */
typedef int (*img_initrd_keep_fn) (const char *name);

/* Where the data of members not kept can go as it streams by: BEGIN is
 * called for each regular member whose data is not kept, with its name
 * ("/" and "./" in front dropped, as in the entries), mode, link count
 * and size; setting *WANT has DATA called with its bytes, in order, and
 * END once they are all in.  A negative return stops the walk with it. */
struct img_initrd_sink {
  int (*begin) (void *opaque, const char *name, uint32_t mode,
                uint32_t nlink, uint64_t size, bool *want);
  int (*data) (void *opaque, const unsigned char *p, size_t n);
  int (*end) (void *opaque);
  void *opaque;
};

/* NAME without the "/" and "./" in front of it (the kernel unpacks
 * relative to the root anyway); "." for the root itself. */
char *img_internal_cpio_name_strip (char *name);

struct img_cpio_stream {
  struct img_ctx *ctx;
  const char *where;
  uint64_t base, keep_data, limit;
  img_initrd_keep_fn keep_also; /* data kept whatever its size, or NULL */
  const struct img_initrd_sink *sink; /* data not kept, or NULL */
  bool sinking;                 /* the current member's data goes to SINK */
  bool one_archive, inner, crc, trailer;
  unsigned segment, archives;
  struct img_cpio_entries *ents;
  struct img_internal_arena *arena;
  size_t first;                 /* first member of the current archive */
  int state;
  uint64_t pos;                 /* bytes fed and used */
  uint64_t hdr_pos;             /* where the current header starts */
  unsigned char hdr[110 + IMG_CPIO_PATH_MAX + 4];
  size_t have, need;
  uint32_t f[13];
  uint32_t sum;
  unsigned char *data;
  uint64_t data_have, data_left;
  char pname[128];
};

void img_internal_cpio_stream_init (struct img_cpio_stream *s,
                                    struct img_ctx *ctx, const char *where,
                                    uint64_t base, bool one_archive,
                                    bool inner, unsigned segment,
                                    struct img_cpio_entries *ents,
                                    struct img_internal_arena *arena,
                                    uint64_t keep_data, uint64_t limit);
int img_internal_cpio_stream_feed (struct img_cpio_stream *s,
                                   const unsigned char *p, size_t n,
                                   size_t *consumed);
/* The input is over: a member cut short is an error. */
int img_internal_cpio_stream_end (struct img_cpio_stream *s);

/* What img_initrd_append puts after an initrd of ORIG_LEN bytes: the
 * padding and the packed LAYER, checked as it checks them, without a
 * copy of the initrd (*tail malloc'd, owned by the caller).  For callers
 * that append in place. */
int img_internal_initrd_append_tail (struct img_ctx *ctx, size_t orig_len,
                                     const void *layer, size_t layer_len,
                                     const char *compression, void **tail,
                                     size_t *tail_len);

/* ---- proposed for libimg.h (initrd section) ------------------------------ */

/* img_initrd_parse, keeping the data of a member only when it is at most
 * KEEP_DATA bytes (symlink targets always): the others' data is skipped
 * as it streams by and their entries have data NULL, so memory goes with
 * the number of members, not with what they hold.  For callers that list
 * members and read small files (configs, scripts). */
int img_initrd_parse_keep (struct img_ctx *ctx, const char *name,
                           const void *buf, size_t len,
                           uint64_t max_uncompressed, uint64_t keep_data,
                           struct img_initrd **initrd);
/* img_initrd_parse_keep, also keeping the data of the members for which
 * KEEP_ALSO is true (an index bigger than the small files). */
int img_initrd_parse_select (struct img_ctx *ctx, const char *name,
                             const void *buf, size_t len,
                             uint64_t max_uncompressed, uint64_t keep_data,
                             img_initrd_keep_fn keep_also,
                             struct img_initrd **initrd);
/* img_initrd_parse_select over the SIZE bytes READ returns, read through
 * a window of WINDOW bytes (0: 1 MiB) that moves forward with the walk:
 * the file is never held whole, memory goes with the window and what is
 * kept.  A READ that ends before SIZE is -EIO. */
int img_initrd_parse_read (struct img_ctx *ctx, const char *name,
                           img_initrd_read_fn read, void *opaque,
                           uint64_t size, size_t window,
                           uint64_t max_uncompressed, uint64_t keep_data,
                           img_initrd_keep_fn keep_also,
                           const struct img_initrd_sink *sink,
                           struct img_initrd **initrd);

/* Writes the tree the kernel would unpack from INITRD into DIR (created
 * if missing): for each path the member that wins, hard links resolved,
 * symlinks created but never followed (every directory on the way is
 * opened with O_NOFOLLOW), modes and times kept, owners when run as root,
 * device nodes skipped with a warning when not.  A member whose name
 * climbs out of the archive root ("../../etc/passwd") makes it refuse to
 * write anything (-EPERM). */
int img_initrd_extract (struct img_initrd *initrd, const char *dir);

#endif /* LIBIMG_INITRD_PRIVATE_H */
