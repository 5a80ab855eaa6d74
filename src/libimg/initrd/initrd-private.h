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

/* Decompresses the one stream at the start of IN; IN_LEN is what is left
 * of the file, the stream may be shorter.  More than MAX_OUT bytes of
 * output is -EFBIG, found as soon as the output passes MAX_OUT (never by
 * inflating to the end), with the message "WHERE: OVER".  WHERE starts
 * every message ("initrd.img: initrd: zstd segment at offset 4").  *out
 * is owned by the caller, who frees it with img_internal_inflated_free;
 * *used is how many bytes of IN the stream occupies; *partial (if not
 * NULL) how many bytes were inflated, on failure too. */
int img_internal_decompress (struct img_ctx *ctx, const char *where, int comp,
                             const unsigned char *in, size_t in_len,
                             uint64_t max_out, const char *over,
                             unsigned char **out, size_t *out_len,
                             size_t *used, size_t *partial);
void img_internal_inflated_free (void *out);

/* Compresses IN as one stream the kernel can read (xz with CRC32, lz4 in
 * the legacy format).  IMG_COMP_NONE copies.  *out is malloc'd, owned by
 * the caller. */
int img_internal_compress (struct img_ctx *ctx, const char *where, int comp,
                           const unsigned char *in, size_t in_len,
                           unsigned char **out, size_t *out_len);

/* ---- cpio.c ------------------------------------------------------------- */

/* A growing list of members; data and names point into buffers that the
 * owner of the list keeps alive. */
struct img_cpio_entries {
  struct img_cpio_entry *v;
  size_t n, cap;
  size_t max;                   /* more members than this is an error */
};

/* Parses newc ("070701") / crc ("070702") archives in BUF.
 *
 * ONE_ARCHIVE (an uncompressed segment of the file): exactly one archive
 * starting at BUF, up to and including its TRAILER!!! and the padding
 * after it; *used is its length.  Otherwise (a decompressed stream): all
 * of BUF, archive after archive with zero padding between them, as the
 * kernel reads a compressed segment; at least one archive is required.
 *
 * BUF must stay alive as long as the entries: names and data point into
 * it.  WHERE starts
 * messages; header offsets in them are BASE + the offset in BUF, called
 * "uncompressed offset" when INNER.  Hard links (same ino and device,
 * nlink >= 2) within one archive share the data of the last member
 * that carries some. */
int img_internal_cpio_parse (struct img_ctx *ctx, const char *where,
                             unsigned char *buf, size_t len, uint64_t base,
                             bool one_archive, bool inner, unsigned segment,
                             struct img_cpio_entries *ents, size_t *used);

/* ---- proposed for libimg.h (initrd section) ------------------------------ */

/* Writes the tree the kernel would unpack from INITRD into DIR (created
 * if missing): for each path the member that wins, hard links resolved,
 * symlinks created but never followed (every directory on the way is
 * opened with O_NOFOLLOW), modes and times kept, owners when run as root,
 * device nodes skipped with a warning when not.  A member whose name
 * climbs out of the archive root ("../../etc/passwd") makes it refuse to
 * write anything (-EPERM). */
int img_initrd_extract (struct img_initrd *initrd, const char *dir);

#endif /* LIBIMG_INITRD_PRIVATE_H */
