/* The Xen PV boot entry: found (img_pv_entry_prepare: the guest entry to
 * copy, its arguments on the PV console with root names that survive, the
 * kernel's paths as the boot loader sees them, whether pygrub can read
 * them) and written (the edit "boot-entry": first in every live GRUB 2 /
 * GRUB legacy config through convert/bootentry, kept for update-grub in
 * /etc/grub.d/40_custom and /etc/default/grub, root= of the other entries,
 * BLS entries and /etc/kernel/cmdline rewritten). */
#ifndef LIBIMG_CONVERT_PVBOOT_H
#define LIBIMG_CONVERT_PVBOOT_H

#include <stdbool.h>

#include "img-edit.h"
#include "convert/kernel.h"

#define IMG_PV_ENTRY_ID "img2pv-xen-pv"
#define IMG_PV_ENTRY_MARKER "img2pv Xen PV entry"

/* The edit's data; the strings are owned by it (img_pv_entry_clear). */
struct img_pv_entry {
  const char *image;            /* for messages */
  const struct img_inspection *insp;    /* the guest's boot configs */
  bool xvd;                     /* /dev/xvdXN rather than UUID= */
  const char *console;
  char *title, *args;           /* args: checked by img_quote_cmdline_line */
  char *kernel, *initrd;        /* as the boot loader sees them */
  char *boot_uuid;              /* of the filesystem holding them, or NULL */
  char *legacy_root;            /* "(hd0,0)" from the entry copied, or NULL */
  const char *fs_module;        /* GRUB 2 insmod for it: "xfs" or NULL (ext2) */
  char *direct_reason;          /* why pygrub cannot boot it, or NULL */
};

/* Fills E for the kernel K of the guest G (inspected as INSP; FLAVOUR its
 * initramfs tooling) converted as IMAGE; XVD and CONSOLE as the edit
 * needs them.  0, or -errno with one message ("IMAGE: ..."). */
int img_pv_entry_prepare (struct img_guest *g, const struct img_inspection *insp,
                          const struct img_pv_kernel *k, const char *flavour, bool xvd,
                          const char *image, struct img_pv_entry *e);
void img_pv_entry_clear (struct img_pv_entry *e);

extern const struct img_edit img_edit_pv_boot_entry;

#endif
