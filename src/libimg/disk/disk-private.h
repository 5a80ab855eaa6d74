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

/* A byte range of a disk or volume. */
struct img_internal_range {
  uint64_t offset;
  uint64_t len;
};

/* The batch hook (undo.c): called by img_internal_disk_will_write with the
 * N ranges a caller is about to write (any order, overlapping or not), so
 * that what the write hook (libimg.h) would do for each write is done once
 * for them all: the undo record saves them behind one barrier where each
 * write would take one.  A negative return (the hook records the message)
 * means nothing may be written.  It may read the disk, never write it. */
typedef int (*img_internal_batch_hook) (void *data, struct img_disk *disk,
                                        const struct img_internal_range *ranges,
                                        size_t n);
/* Sets (or clears) it; -EBUSY on a disk already written, as for the
 * write hook. */
int img_internal_disk_set_batch_hook (struct img_disk *disk,
                                      img_internal_batch_hook fn, void *data);
/* Announces the N ranges to the batch hook: 0 (also with no hook or N 0)
 * or its error.  The writes still go through img_disk_pwrite. */
int img_internal_disk_will_write (struct img_disk *disk,
                                  const struct img_internal_range *ranges,
                                  size_t n);

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
 * file qemu may open, *shared the same with the image's absolute name and
 * qemu's image locking off (for a second qemu that only reads the image
 * while our run holds it), *chain the resolved backing/data files for the
 * report (all malloc'd). */
bool img_internal_format_known (const char *format);
int img_internal_container_check (struct img_ctx *ctx, const char *path,
                                  const char *format, bool blockdev,
                                  const unsigned char *head, size_t headlen,
                                  bool allow_backing, char **spec,
                                  char **shared, char ***chain,
                                  size_t *n_chain);
/* *shared for a raw image (malloc'd); one error line if PATH does not
 * resolve. */
int img_internal_container_shared_raw (struct img_ctx *ctx, const char *path,
                                       bool blockdev, char **shared);

/* disk.c: DISK's *shared name (above) in *NAME, owned by DISK; made on
 * first use for a raw image.  0 or -errno (one error line). */
int img_internal_disk_qemu_shared_name (struct img_disk *disk,
                                        const char **name);

/* overlay.c: a private qcow2 overlay over DISK, for a process that must
 * not write the image itself (the libguestfs appliance). */
/* Creates PATH (which must not exist): qcow2, 4 KiB clusters, backed by
 * DISK's image opened read-only under the name and format pinned for it
 * (img_disk_qemu_name; raw images get a json: name of their own), with
 * qemu's image locking off for the backing file (our run lock already
 * excludes every other writer, and qemu's lock would conflict with the
 * lock bytes disk.c holds).  One clear error line on failure. */
int img_internal_disk_overlay_create (struct img_disk *disk, const char *path);
/* Applies to DISK what was written into the overlay PATH since its
 * creation: every cluster allocated (or zeroed) in the overlay's own
 * layer, compared with DISK's bytes 4 KiB at a time, and only the blocks
 * that differ written with img_disk_pwrite (coalesced into runs).  DRY:
 * nothing written, only counted.  *CHANGED (may be NULL): bytes that
 * differ(ed).  The overlay is parsed natively and defensively (it was
 * written by a qemu serving a hostile guest): header, L1 and L2 tables
 * bounds-checked against the file and the virtual size; compressed
 * clusters, encryption, external data files, extended L2 entries and
 * incompatible features refused with -EINVAL and one line naming the
 * overlay and the reason; nothing written to DISK before the whole map
 * has been checked. */
int img_internal_disk_overlay_apply (struct img_disk *disk, const char *path,
                                     bool dry, uint64_t *changed);

/* qcow2.c: a qcow2 header, decoded natively.  The fixed fields (version
 * 2 or 3; incompat 0 and header_length 72 on version 2). */
#define IMG_QCOW2_V2_LEN 72
#define IMG_QCOW2_V3_LEN 104
struct img_internal_qcow2 {
  uint32_t version;
  uint64_t cluster_size;
  uint32_t header_length;
  uint64_t incompat;
  uint64_t backing_offset;
  uint32_t backing_size;
  uint64_t size;                /* virtual size */
  uint32_t crypt_method;
  uint32_t l1_size;
  uint64_t l1_offset;
};
/* Decodes the header from H, the first LEN bytes of a file of FILE_SIZE
 * bytes, and checks what every reader needs: length, magic, version,
 * cluster size, version 3's header length.  0, or -EINVAL with the
 * reason in WHY ("unsupported qcow2 version 4"). */
int img_internal_qcow2_decode (const unsigned char *h, size_t len,
                               uint64_t file_size,
                               struct img_internal_qcow2 *q, char *why,
                               size_t whylen);
/* The backing file's name and format (each malloc'd, or NULL when the
 * header names none) as qemu reads them from a plain header: no
 * encryption, no incompatible feature, only the extensions qemu writes
 * into the images it creates (backing format, feature names, bitmaps),
 * every byte inside H's LEN.  1: answered; 0: not plain (a data file,
 * anything unusual: ask qemu-img); -ENOMEM. */
int img_internal_qcow2_names (const unsigned char *h, size_t len,
                              const struct img_internal_qcow2 *q,
                              char **backing, char **backing_fmt);

#endif /* LIBIMG_DISK_PRIVATE_H */
