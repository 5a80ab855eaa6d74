/* The kernel a Xen PV guest boots: chosen among the guest's kernels (the
 * default entry's if it can run PV, else the newest that can), named by
 * the caller, or brought in from the host (--kernel-from DIR, a module
 * tree with --modules-from DIR).  The choice decides the console and the
 * PV driver names, and is refused before anything is written when the
 * kernel cannot boot PV or lacks the drivers.
 *
 * The edit "kernel-from" installs what was brought in from the host: the
 * boot files through the plan, the module tree with img_guest_copy_in
 * (holes and hard links kept). */
#ifndef LIBIMG_CONVERT_KERNEL_H
#define LIBIMG_CONVERT_KERNEL_H

#include <stdbool.h>

#include "img-edit.h"

struct img_pv_kernel_opts {
  const char *image;            /* for messages */
  const char *kernel;           /* a version to take, or NULL */
  const char *kernel_from;      /* a host tree: DIR/boot/vmlinuz-VER, its
                                 * initrd, DIR/lib/modules/VER; or NULL */
  const char *modules_from;     /* a host /lib/modules/VER tree, or NULL */
};

/* The choice; every string is owned by the struct (img_pv_kernel_clear). */
struct img_pv_kernel {
  const char *image;            /* from the options */
  char *kver;                   /* "6.1.0-28-amd64": one checked name
                                 * component (img_host_name_check) */
  char *vmlinuz, *initrd;       /* guest paths ("/boot/vmlinuz-VER") */
  char *moddir;                 /* "/lib/modules/VER" */
  bool xenified;                /* a 2.6.18-era -xen kernel */
  const char *console;          /* "hvc0" or "xvc0" */
  const char *drivers[2];       /* block, network: "xen-blkfront" ... */
  /* What the edit "kernel-from" installs (host paths), or NULL. */
  char *host_vmlinuz, *host_initrd, *host_config, *host_sysmap;
  char *host_modules;           /* a /lib/modules/VER tree */
};

/* Chooses the kernel of the guest of PLAN (inspected as INSP) as O says,
 * into *K (zeroed first).  0, or -errno with one message in the context
 * ("IMAGE: no kernel that can boot as a Xen PV guest (...)"). */
int img_pv_kernel_choose (struct img_plan *plan, const struct img_inspection *insp,
                          const struct img_pv_kernel_opts *o, struct img_pv_kernel *k);
/* Frees what K holds and zeroes it. */
void img_pv_kernel_clear (struct img_pv_kernel *k);

/* The edit "kernel-from"; its data is the chosen struct img_pv_kernel.
 * Nothing to do unless it holds host files. */
extern const struct img_edit img_edit_kernel_from;

#endif
