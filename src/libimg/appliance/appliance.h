/* The appliance floor: one libguestfs appliance per run, for the guests
 * whose filesystems or volumes the native backends cannot read (xfs,
 * btrfs, LUKS...).  It sits above the volumes and below the fs layer,
 * whose gfs backend (fs/gfs.c) reads and writes through it.
 *
 * The safety contract stays ours.  The appliance never opens the image
 * for writing: each disk is given to it as a private qcow2 overlay
 * (disk/overlay.c) backed by the image read-only, and only when the run
 * commits are the overlay's changed blocks applied to the image through
 * our own disk layer, under the run's undo record.  No guest code runs
 * on the host and nothing of the guest is mounted or activated on the
 * host: libguestfs runs the guest's filesystems in its own VM, with no
 * network.  It is launched at most once a run, and only on first use. */
#ifndef LIBIMG_APPLIANCE_H
#define LIBIMG_APPLIANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "appliance/gfsapi.h"

struct img_appliance;

/* A session over DISKS (in the order the guest numbers them, the first
 * is /dev/sda in the appliance), not yet launched.  WRITABLE: the guest
 * is opened read-write, so the session's changes may be committed. */
int img_internal_appliance_new (struct img_ctx *ctx,
                                struct img_disk *const *disks, size_t n,
                                bool writable, struct img_appliance **ap);
/* Launches the appliance (first call only; later calls return what the
 * first returned).  WHY says, for the log, what needs it. */
int img_internal_appliance_start (struct img_appliance *ap, const char *why);
bool img_internal_appliance_started (const struct img_appliance *ap);
/* The library table and the handle, once started. */
const struct img_gfs_api *img_internal_appliance_api (const struct img_appliance *ap);
guestfs_h *img_internal_appliance_handle (const struct img_appliance *ap);
/* Records "IMAGE: appliance: WHAT: <libguestfs's error>" and returns
 * the error as -errno (-EIO when libguestfs gave none). */
int img_internal_appliance_fail (struct img_appliance *ap, const char *what);
/* The appliance's name of disk INDEX ("/dev/sda"), partition PART (0:
 * the whole disk) into OUT. */
void img_internal_appliance_device (size_t index, unsigned part, char *out,
                                    size_t outlen);
/* Mounts DEVICE read-only with OPTIONS (may be NULL: "subvol=@" and the
 * like, checked to hold no "ro"/"rw" override) at a fresh mount point
 * of the appliance; *MP (malloc'd) is where. */
int img_internal_appliance_mount (struct img_appliance *ap, const char *device,
                                  const char *options, char **mp);
/* Makes the mount at MP writable (remount rw): the first write of a run
 * through it.  Until then nothing the run does changes the image. */
int img_internal_appliance_make_writable (struct img_appliance *ap,
                                          const char *device,
                                          const char *options, const char *mp);
/* Shuts the appliance down (everything unmounted and synced first) and,
 * with COMMIT on a writable session where something was made writable,
 * applies the overlays' changed blocks to the disks (img_disk_pwrite:
 * the disks' write hooks, the undo record, see every byte).  Frees AP. */
int img_internal_appliance_close (struct img_appliance *ap, bool commit);

/* hive.c: a Windows registry hive, parsed by the appliance's hivex
 * (never on the host: the hive is the guest's).  One hive is open at a
 * time.  Opens the hive at APATH, a path in the appliance. */
int img_internal_appliance_hive_open (struct img_appliance *ap, const char *apath);
void img_internal_appliance_hive_close (struct img_appliance *ap);
/* The string value VALUE of the key KEYS (a NULL-terminated path from
 * the hive's root, "Microsoft", "Windows NT", ...): 0 and *out (UTF-8,
 * at most MAX bytes, cut at a character boundary; the caller frees);
 * -ENOENT when the key or value is not there or is not a string. */
int img_internal_appliance_hive_string (struct img_appliance *ap,
                                        const char *const *keys,
                                        const char *value, size_t max,
                                        char **out);
/* The same for a REG_DWORD value. */
int img_internal_appliance_hive_dword (struct img_appliance *ap,
                                       const char *const *keys,
                                       const char *value, uint32_t *out);

#endif /* LIBIMG_APPLIANCE_H */
