/* The xl domain config of a converted PV guest: every string through
 * img_quote_xl, every value inside a disk or vif spec through
 * img_quote_xl_spec, MACs checked.  Marked "# Written by img2pv" so that
 * a later run may replace it and nothing else.  struct img_xl_config
 * describes the domain for the libvirt domain XML (libvirtxml.h) too. */
#ifndef LIBIMG_CONVERT_XLCONFIG_H
#define LIBIMG_CONVERT_XLCONFIG_H

#include <stddef.h>

#include "libimg.h"

struct img_xl_config {
  const char *image;            /* for messages */
  const char *const *images;    /* the disks, in order (xvda, xvdb, ...) */
  const char *const *formats;   /* of each (NULL, or NULL entries: raw) */
  size_t n_images;
  const char *name;             /* NULL: the first image's file name */
  unsigned memory_mib, vcpus;
  const char *bridge;
  const char *mac;              /* NULL: none */
  /* A direct-kernel domU (kernel non-NULL), else pygrub. */
  const char *kernel, *ramdisk, *cmdline, *reason;
};

/* Disk I of C as both domain configs name it: PATH absolute when it
 * resolves (malloc'd, the caller frees it), FORMAT (C's, "raw" if none),
 * VDEV xvda, xvdb, ... */
struct img_xl_disk {
  char *path;
  const char *format;
  char vdev[5];
};
int img_xl_config_disk (struct img_ctx *ctx, const struct img_xl_config *c, size_t i,
                        struct img_xl_disk *d);
/* The domain name both configs use: C's name or the first image's file
 * name without its suffix, every byte but [A-Za-z0-9._-] as '-'.
 * malloc'd (the caller frees it), NULL without memory. */
char *img_xl_config_name (const struct img_xl_config *c);

/* The config's text into *out (the caller's).  0 or -errno (a value that
 * cannot be written: "IMAGE: xl config: WHAT VALUE: reason"). */
int img_xl_config_text (struct img_ctx *ctx, const struct img_xl_config *c, char **out);
/* Checks a host file name for kernel= / ramdisk= (WHAT): printable ASCII,
 * no quote or backslash.  0 or -EINVAL. */
int img_xl_check_file (struct img_ctx *ctx, const char *image, const char *what,
                       const char *value);
/* Whether the host file PATH is a config this library wrote: 1 yes, 0
 * no, -errno if it cannot be read.  *old (may be NULL) gets its text. */
int img_xl_config_ours (struct img_ctx *ctx, const char *path, char **old);
/* The vif MAC of the config this library wrote at PATH into MAC ("" if
 * none, or no such config). */
void img_xl_config_mac (struct img_ctx *ctx, const char *path, char mac[18]);

#endif
