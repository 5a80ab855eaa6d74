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
  uint64_t tmpfs_bytes;         /* what the tree takes in a tmpfs */
  uint64_t members;
  uint64_t tar_bytes;           /* uncompressed */
  uint64_t archive_bytes;       /* written to FD */
};

/* Writes the archive of the guest's tree (what FILTER keeps) to FD,
 * compressed with COMPRESSION ("zstd" or "gzip"): the tree from "/", and
 * the mount points in EXTRA the walk from "/" does not reach.  WHERE
 * prefixes error messages. */
int img_archive_write (struct img_ctx *ctx, struct img_guest *g, const char *where,
                        const char *compression, img_archive_filter_fn filter,
                        void *fdata, const char *const *extra, size_t n_extra, int fd,
                        struct img_archive_info *info);

#endif
