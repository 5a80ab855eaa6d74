/* A guest's tree as a compressed pax tar (archive.c). */
#ifndef LIBIMG_CONVERT_ARCHIVE_H
#define LIBIMG_CONVERT_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "libimg.h"

/* Whether PATH goes into the archive: 1 yes, 0 no, negative an error.
 * *HARDLINK_KEY identifies the inode across filesystems (for files with
 * several links).  The filter may change what *ST says of PATH. */
typedef int (*img_archive_filter_fn) (const char *path, struct img_stat *st,
                                       uint64_t *hardlink_key, void *data);

struct img_archive_info {
  uint64_t max_bytes;           /* in: the most the archive may take (0: no limit) */
  uint64_t tmpfs_bytes;         /* what the tree takes in a tmpfs */
  uint64_t members;
  uint64_t tar_bytes;           /* uncompressed (so far, when stopped) */
  uint64_t archive_bytes;       /* written to FD */
  /* Stopped for MAX_BYTES (-ENOSPC): what the archive would take, as
   * written or as estimated from the first SAMPLED bytes of tar. */
  uint64_t needed_bytes, sampled_bytes;
};

/* Writes the archive of the guest's tree (what FILTER keeps) to FD,
 * compressed with COMPRESSION ("zstd" or "gzip"): the tree from "/", and
 * the mount points in EXTRA the walk from "/" does not reach.  WHERE
 * prefixes error messages.  With INFO->max_bytes it stops with -ENOSPC
 * (no message) as soon as the archive grows past it, or earlier: at every
 * sixteenth of the tree (4 to 64 MiB of tar) the whole is estimated from
 * what was compressed so far, and one over twice the room at the start,
 * over the room at the end (the margin shrinking in between), stops it. */
int img_archive_write (struct img_ctx *ctx, struct img_guest *g, const char *where,
                        const char *compression, img_archive_filter_fn filter,
                        void *fdata, const char *const *extra, size_t n_extra, int fd,
                        struct img_archive_info *info);

#endif
