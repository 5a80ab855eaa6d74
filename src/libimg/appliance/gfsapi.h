/* The part of libguestfs's C API the appliance floor uses, loaded with
 * dlopen(3) on first use: img-tools runs without libguestfs installed
 * (ext2/3/4 guests never need it) and says so in one line when a guest
 * does.  The prototypes come from <guestfs.h>, so every call is checked
 * by the compiler against the library's own declarations. */
#ifndef LIBIMG_APPLIANCE_GFSAPI_H
#define LIBIMG_APPLIANCE_GFSAPI_H

#include <guestfs.h>

#include "private.h"

/* X(name) for every function used; the table member is the name
 * without its guestfs_ prefix. */
#define IMG_GFS_FUNCTIONS(X)                                            \
  X (create_flags) X (close) X (last_error) X (last_errno)              \
  X (set_error_handler) X (set_network) X (set_program)                 \
  X (add_drive_opts_argv) X (launch) X (shutdown) X (umask)             \
  X (mkmountpoint) X (mount_options) X (umount_all) X (sync)            \
  X (lstatns) X (free_statns) X (readlink) X (readdir)                  \
  X (free_dirent_list) X (pread) X (pwrite) X (mknod)                   \
  X (truncate_size) X (mkdir_mode) X (ln_s) X (ln) X (rm) X (rmdir)     \
  X (rename) X (chmod) X (lchown) X (utimens) X (lgetxattrs)            \
  X (free_xattr_list) X (statvfs) X (free_statvfs) X (du)               \
  X (btrfs_subvolume_list) X (free_btrfssubvolume_list)                 \
  X (btrfs_subvolume_get_default) X (list_md_devices) X (md_detail)     \
  X (list_partitions)                                                   \
  X (cryptsetup_open_argv) X (lvm_scan) X (lvs) X (md_stop)        \
  X (vg_activate_all)       \
  X (vfs_type) X (vfs_uuid) X (vfs_label) X (blockdev_getsize64)        \
  X (hivex_open) X (hivex_close) X (hivex_root)                         \
  X (hivex_node_get_child) X (hivex_node_get_value)                     \
  X (hivex_value_type) X (hivex_value_string) X (hivex_value_value)

struct img_gfs_api {
#define IMG_GFS_MEMBER(f) __typeof__ (&guestfs_##f) f;
  IMG_GFS_FUNCTIONS (IMG_GFS_MEMBER)
#undef IMG_GFS_MEMBER
};

/* The library's table, loaded once per process (thread-safe); NULL with
 * one error line on CTX ("...: needs libguestfs (package
 * libguestfs0): ...") when it cannot be loaded.  WHAT names what needs
 * it, for that line. */
const struct img_gfs_api *img_internal_gfs_api (struct img_ctx *ctx,
                                                const char *what);

#endif /* LIBIMG_APPLIANCE_GFSAPI_H */
