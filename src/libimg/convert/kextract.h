/* Edit "kernel-extract": for a direct-kernel domU (pygrub cannot read the
 * kernel where it is, or the caller asked), the guest's kernel and initrd
 * are copied beside the image, as IMAGE-BASE.vmlinuz-VER and
 * IMAGE-BASE.INITRD-NAME.  Only into the image's directory, under checked
 * names, never over anything but a regular file. */
#ifndef LIBIMG_CONVERT_KEXTRACT_H
#define LIBIMG_CONVERT_KEXTRACT_H

#include "img-edit.h"

/* The edit's data (img_kernel_extract_init; strings owned by it). */
struct img_kernel_extract {
  const char *image;            /* for messages */
  char *vmlinuz, *initrd;       /* the guest's */
  char *reason;                 /* why the domU boots the kernel directly */
  char *out_dir;                /* the image's directory */
  char *kernel_name, *initrd_name;      /* file names there */
  char *kernel_out, *initrd_out;        /* their paths */
};

/* Fills KE for the kernel VMLINUZ and INITRD (guest paths) of version
 * KVER, to go beside IMAGE (the output image); REASON is taken (freed by
 * img_kernel_extract_clear).  The names are checked now, before any
 * change: the initrd's file name as a host name component, both paths as
 * xl config file names (img_xl_check_file). */
int img_kernel_extract_init (struct img_ctx *ctx, struct img_kernel_extract *ke,
                             const char *image, const char *msg_image, const char *kver,
                             const char *vmlinuz, const char *initrd, char *reason);
void img_kernel_extract_clear (struct img_kernel_extract *ke);

extern const struct img_edit img_edit_kernel_extract;

#endif
