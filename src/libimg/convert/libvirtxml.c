/* The libvirt domain XML: see libvirtxml.h.  The values and their checks
 * are the xl config's (xlconfig.c: the domain name, the disks); here only
 * the markup, every value through img_quote_xml. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "img-quote.h"
#include "private.h"
#include "base/strbuf.h"
#include "convert/beside.h"
#include "convert/libvirtxml.h"

/* Never any guest or user text in the comment: "--" would end it. */
#define MARK "<!-- Written by img2pv"

/* VALUE as XML text into *out, or the refusal line. */
static int
xml (struct img_ctx *ctx, const struct img_xl_config *c, const char *what, const char *value,
     char **out)
{
  const char *why = NULL;
  int r = img_quote_xml (value, out, &why);

  if (r == -EINVAL) {
    char *t = img_quote_term (value, 0);
    r = img_err (ctx, r, "%s: libvirt XML: %s %s: %s", c->image, what, t ? t : "", why);
    free (t);
  }
  return r == -ENOMEM ? img_err (ctx, -ENOMEM, "out of memory") : r;
}

/* PRE, VALUE quoted, POST (WHAT names VALUE in a refusal). */
static int
addq (struct img_ctx *ctx, const struct img_xl_config *c, struct img_sb *b, const char *pre,
      const char *what, const char *value, const char *post)
{
  char *q;
  int r = xml (ctx, c, what, value, &q);

  if (r < 0)
    return r;
  img_sb_adds (b, pre);
  img_sb_adds (b, q);
  img_sb_adds (b, post);
  free (q);
  return 0;
}

/* <os>: pygrub when C has no kernel, else the kernel beside the image. */
static int
os (struct img_ctx *ctx, const struct img_xl_config *c, struct img_sb *b)
{
  int r;

  if (c->kernel == NULL) {
    img_sb_adds (b, "  <bootloader>pygrub</bootloader>\n"
                 "  <os>\n    <type machine='xenpv'>linux</type>\n  </os>\n");
    return 0;
  }
  img_sb_adds (b, "  <os>\n    <type machine='xenpv'>linux</type>\n");
  if ((r = addq (ctx, c, b, "    <kernel>", "kernel", c->kernel, "</kernel>\n")) < 0
      || (r = addq (ctx, c, b, "    <initrd>", "ramdisk", c->ramdisk, "</initrd>\n")) < 0
      || (r = addq (ctx, c, b, "    <cmdline>", "cmdline", c->cmdline, "</cmdline>\n")) < 0)
    return r;
  img_sb_adds (b, "  </os>\n");
  return 0;
}

/* One <disk> per image, in the xl config's order and names. */
static int
disks (struct img_ctx *ctx, const struct img_xl_config *c, struct img_sb *b)
{
  size_t i;
  int r = 0;

  for (i = 0; i < c->n_images && r == 0; i++) {
    struct img_xl_disk d;
    struct stat st;
    bool blk;
    if ((r = img_xl_config_disk (ctx, c, i, &d)) < 0)
      break;
    blk = stat (d.path, &st) == 0 && S_ISBLK (st.st_mode);
    img_sb_addf (b, "    <disk type='%s' device='disk'>\n", blk ? "block" : "file");
    if ((r = addq (ctx, c, b, "      <driver name='qemu' type='", "image format", d.format,
                   "'/>\n")) == 0
        && (r = addq (ctx, c, b, blk ? "      <source dev='" : "      <source file='", "image",
                      d.path, "'/>\n")) == 0)
      img_sb_addf (b, "      <target dev='%s' bus='xen'/>\n    </disk>\n", d.vdev);
    free (d.path);
  }
  return r;
}

/* The NIC on C's bridge, with C's MAC when there is one. */
static int
interface (struct img_ctx *ctx, const struct img_xl_config *c, struct img_sb *b)
{
  int r;

  img_sb_adds (b, "    <interface type='bridge'>\n");
  if ((r = addq (ctx, c, b, "      <source bridge='", "bridge", c->bridge, "'/>\n")) < 0
      || (c->mac && (r = addq (ctx, c, b, "      <mac address='", "MAC", c->mac, "'/>\n")) < 0))
    return r;
  img_sb_adds (b, "    </interface>\n");
  return 0;
}

/* What the libvirt schema or libxl would refuse later, refused now. */
static int
check (struct img_ctx *ctx, const struct img_xl_config *c)
{
  const char *what = NULL, *value = NULL, *why = NULL;
  char *t;
  int r;

  if (c->mac && img_check_mac (c->mac, &why) < 0) {
    what = "MAC";
    value = c->mac;
  } else if (img_check_ifname (c->bridge, &why) < 0) {
    what = "bridge";
    value = c->bridge;
  } else if (c->kernel && (c->kernel[0] != '/' || c->ramdisk[0] != '/')) {
    what = c->kernel[0] != '/' ? "kernel" : "ramdisk";
    value = c->kernel[0] != '/' ? c->kernel : c->ramdisk;
    why = "not an absolute path";
  }
  if (what == NULL)
    return 0;
  t = img_quote_term (value, 0);
  r = img_err (ctx, -EINVAL, "%s: libvirt XML: %s %s: %s", c->image, what, t ? t : "", why);
  free (t);
  return r;
}

int
img_libvirt_xml_text (struct img_ctx *ctx, const struct img_xl_config *c, char **out)
{
  struct img_sb b = { 0 };
  char *name = NULL;
  int r;

  *out = NULL;
  if ((r = check (ctx, c)) < 0)
    return r;
  if ((name = img_xl_config_name (c)) == NULL)
    return img_err (ctx, -ENOMEM, "out of memory");
  img_sb_adds (&b, MARK " " PACKAGE_VERSION "; define it with: virsh -c xen:/// define <this file> -->\n"
               "<domain type='xen'>\n");
  if ((r = addq (ctx, c, &b, "  <name>", "name", name, "</name>\n")) == 0
      && (r = addq (ctx, c, &b, "  <description>Xen PV domain for ", "image", c->images[0],
                    ", converted by img2pv")) == 0
      && (c->kernel == NULL
          || (r = addq (ctx, c, &b, "; direct kernel boot: ", "reason", c->reason, "")) == 0)) {
    img_sb_addf (&b, "</description>\n  <memory unit='MiB'>%u</memory>\n"
                 "  <currentMemory unit='MiB'>%u</currentMemory>\n  <vcpu>%u</vcpu>\n",
                 c->memory_mib, c->memory_mib, c->vcpus);
    r = os (ctx, c, &b);
  }
  free (name);
  if (r == 0) {
    img_sb_adds (&b, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
                 "  <on_crash>restart</on_crash>\n  <devices>\n");
    if ((r = disks (ctx, c, &b)) == 0 && (r = interface (ctx, c, &b)) == 0)
      img_sb_adds (&b, "    <console type='pty'>\n      <target type='xen' port='0'/>\n"
                   "    </console>\n  </devices>\n</domain>\n");
  }
  if (r == 0 && b.oom)
    r = img_err (ctx, -ENOMEM, "out of memory");
  if (r < 0) {
    img_sb_free (&b);
    return r;
  }
  *out = b.s;
  return 0;
}

int
img_libvirt_xml_ours (struct img_ctx *ctx, const char *path, char **old)
{
  return img_beside_ours (ctx, path, MARK, old);
}

void
img_libvirt_xml_mac (struct img_ctx *ctx, const char *path, char mac[18])
{
  img_beside_mac (ctx, path, MARK, "<mac address='", mac);
}
