/* The disk floor's insides: the NBD server behind non-raw images
 * (nbd.c), bounded child processes, and the container checks run before
 * any qemu opens an image (container.c). */
#ifndef LIBIMG_DISK_PRIVATE_H
#define LIBIMG_DISK_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "private.h"

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

/* overlay.c: a private qcow2 overlay over DISK, for a process that must
 * not write the image itself (the libguestfs appliance). */
int img_internal_disk_overlay_create (struct img_disk *disk, const char *path);
int img_internal_disk_overlay_apply (struct img_disk *disk, const char *path,
                                     bool dry, uint64_t *changed);

#endif /* LIBIMG_DISK_PRIVATE_H */
