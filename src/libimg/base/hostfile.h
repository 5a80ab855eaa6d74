/* Reading a whole file the caller named on the host (a --kernel-from
 * tree, a module list), bounded.  Internal to libimg. */
#ifndef LIBIMG_HOSTFILE_H
#define LIBIMG_HOSTFILE_H

#include <stddef.h>

#include "libimg.h"

/* Reads the regular file PATH, at most MAX bytes (-EFBIG past it; -EINVAL
 * for anything but a regular file).  *buf is NUL-terminated, owned by the
 * caller.  The message "PATH: reason" is recorded in CTX. */
int img_host_read_file (struct img_ctx *ctx, const char *path, size_t max,
                        char **buf, size_t *len);

#endif /* LIBIMG_HOSTFILE_H */
