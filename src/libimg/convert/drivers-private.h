/* The parts of the edit "initrd-drivers" (drivers.c, depmod.c,
 * driversload.c): one run's state.  Internal to libimg. */
#ifndef LIBIMG_CONVERT_DRIVERS_PRIVATE_H
#define LIBIMG_CONVERT_DRIVERS_PRIVATE_H

#include "convert/convert-private.h"
#include "convert/kernel.h"

struct drivers {
  struct img_plan *plan;
  struct img_ctx *ctx;
  const struct img_pv_kernel *k;
  struct img_initrd *ird;       /* the initrd as the guest has it */
  struct img_kmod *km;          /* the kernel's modules.dep */
  const char *flavour;          /* "initramfs-tools", "dracut", "nash", "unknown" */
  char *modroot;                /* where the initrd keeps modules */
  const char *need[2];          /* the drivers not built in */
  size_t n_need;
  /* The layer to append. */
  struct img_cpio *cpio;
  char **dirs;                  /* directories already in it */
  size_t n_dirs;
  bool any;                     /* it has something */
  /* Module files added (paths below modroot; nash: initrd paths). */
  char **added;
  void **added_buf;
  size_t *added_len;
  size_t n_added;
};

/* Adds directory PATH and its parents to the layer once each. */
int img_internal_drivers_dirs (struct drivers *d, const char *path);
/* Adds the module index for the modules the initrd will hold (depmod.c). */
int img_internal_drivers_index (struct drivers *d);
/* Makes the initrd load the drivers, whatever hardware probing does
 * (driversload.c). */
int img_internal_drivers_load (struct drivers *d);
/* Whether the initrd already holds every module needed and its udev
 * loads the drivers by modalias (driversload.c): then it is not touched. */
bool img_internal_drivers_by_modalias (struct drivers *d);

#endif
