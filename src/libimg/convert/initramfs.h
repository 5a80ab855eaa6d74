/* Edit "initramfs-config": the guest's own initramfs tooling lists the PV
 * drivers, so the initrds it builds after the conversion keep them:
 * initramfs-tools' modules file, a dracut.conf.d file, modprobe.conf
 * aliases (mkinitrd era) or SUSE's INITRD_MODULES. */
#ifndef LIBIMG_CONVERT_INITRAMFS_H
#define LIBIMG_CONVERT_INITRAMFS_H

#include "img-edit.h"

/* The edit's data. */
struct img_initramfs_opts {
  const char *flavour;          /* the guest's tooling, as inspection
                                 * names it ("initramfs-tools", "dracut",
                                 * anything else: mkinitrd) */
  const char *drivers[2];       /* block, network */
};

extern const struct img_edit img_edit_initramfs_config;

#endif
