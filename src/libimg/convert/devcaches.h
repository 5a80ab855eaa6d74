/* Edit "device-caches": caches that pin the HVM disks' names (blkid.tab,
 * the LVM cache and devices file) removed; the guest rebuilds them. */
#ifndef LIBIMG_CONVERT_DEVCACHES_H
#define LIBIMG_CONVERT_DEVCACHES_H

#include "img-edit.h"

/* Takes no data (NULL). */
extern const struct img_edit img_edit_device_caches;

#endif
