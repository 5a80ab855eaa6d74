/* Whole reads and writes on host file descriptors (fdio.c), for the
 * library, the tools and the static guest-side helper alike: one loop
 * each, retried on EINTR and short counts. */
#ifndef LIBIMG_BASE_FDIO_H
#define LIBIMG_BASE_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 or -errno; a write that makes no progress is -EIO.
 * img_internal_pread_all stops early only at the end of the file (*got
 * tells how far it came, also on error). */
int img_internal_write_all (int fd, const void *buf, size_t len);
int img_internal_pwrite_all (int fd, const void *buf, size_t len,
                             uint64_t off);
int img_internal_pread_all (int fd, void *buf, size_t len, uint64_t off,
                            size_t *got);
/* True if the LEN bytes at BUF are all zero. */
bool img_internal_all_zero (const void *buf, size_t len);

#endif /* LIBIMG_BASE_FDIO_H */
