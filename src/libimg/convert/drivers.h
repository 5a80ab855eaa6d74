/* Edit "initrd-drivers": the PV block and network drivers in the chosen
 * kernel's initrd, and loaded by it.  When the initrd lacks them, or
 * would not load them by itself, a cpio layer is appended (the original
 * stays its first bytes): the module files, an index made by the host's
 * depmod in a private directory, and what makes the initrd's own logic
 * load them (initramfs-tools conf/modules, a dracut modules-load.d file,
 * insmod lines in a nash init).  Never runs mkinitramfs or dracut. */
#ifndef LIBIMG_CONVERT_DRIVERS_H
#define LIBIMG_CONVERT_DRIVERS_H

#include "img-edit.h"

/* Its data is the chosen struct img_pv_kernel (kernel.h). */
extern const struct img_edit img_edit_initrd_drivers;

#endif
