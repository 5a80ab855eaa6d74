/* The libvirt domain XML of a converted PV guest (<domain type='xen'>, for
 * the libxl driver): the same domain as the xl config, built from the same
 * struct img_xl_config, so disks, NIC, name, memory, vCPUs and the boot
 * (pygrub or a direct kernel) are equal.  Every value through
 * img_quote_xml.  Marked "<!-- Written by img2pv" so that a later run may
 * replace it and nothing else. */
#ifndef LIBIMG_CONVERT_LIBVIRTXML_H
#define LIBIMG_CONVERT_LIBVIRTXML_H

#include "libimg.h"
#include "convert/xlconfig.h"

/* The XML's text into *out (the caller's).  0 or -errno (a value that
 * cannot be written: "IMAGE: libvirt XML: WHAT VALUE: reason"). */
int img_libvirt_xml_text (struct img_ctx *ctx, const struct img_xl_config *c, char **out);
/* Whether the host file PATH is domain XML this library wrote: 1 yes, 0
 * no, -errno if it cannot be read.  *old (may be NULL) gets its text. */
int img_libvirt_xml_ours (struct img_ctx *ctx, const char *path, char **old);
/* The interface MAC of the XML this library wrote at PATH into MAC (""
 * if none, or no such file). */
void img_libvirt_xml_mac (struct img_ctx *ctx, const char *path, char mac[18]);

#endif
