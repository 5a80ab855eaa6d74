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
  struct img_initrd *ird;       /* the initrd as the guest has it: the
                                 * data of its small files only, until
                                 * img_internal_drivers_full_initrd */
  bool ird_full;                /* ird holds every member's data */
  const char *what;             /* "IMAGE: INITRD", for messages */
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

/* Parses the initrd again, keeping every member's data (the module
 * index is remade from its module files): only a conversion that needs
 * a new index pays for holding the inflated initrd (drivers.c). */
int img_internal_drivers_full_initrd (struct drivers *d);
/* The initrd's member PATH (*e, NULL if absent) with its data, parsing
 * the initrd again in full when the first parse only named it
 * (drivers.c).  *e is valid until the next call. */
int img_internal_drivers_member (struct drivers *d, const char *path,
                                 const struct img_cpio_entry **e);
/* Adds directory PATH and its parents to the layer once each. */
int img_internal_drivers_dirs (struct drivers *d, const char *path);
/* Adds the module index for the modules the initrd will hold (depmod.c). */
int img_internal_drivers_index (struct drivers *d);
/* Makes the initrd load the drivers, whatever hardware probing does
 * (driversload.c). */
int img_internal_drivers_load (struct drivers *d);
/* 1 when the initrd already holds every module needed and its udev
 * loads the drivers by modalias (driversload.c): then it is not touched;
 * 0 when not, or a negative errno. */
int img_internal_drivers_by_modalias (struct drivers *d);

#endif
