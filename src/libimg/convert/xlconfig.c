/* The xl domain config: see xlconfig.h. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "img-quote.h"
#include "private.h"
#include "base/strbuf.h"
#include "convert/beside.h"
#include "convert/xlconfig.h"

#define MARK "# Written by img2pv"

/* One "key = value" line: VALUE through img_quote_xl. */
static void
xl_kv (struct img_sb *b, const char *key, const char *value)
{
  char *q = NULL;

  if (img_quote_xl (value, &q, NULL) < 0)
    b->oom = true;
  else
    img_sb_addf (b, "%s = %s\n", key, q);
  free (q);
}

/* A value for inside a disk or vif spec, or a refusal line. */
static int
xl_spec (struct img_ctx *ctx, const char *image, const char *what, const char *value, char **out)
{
  const char *why = NULL;
  int r = img_quote_xl_spec (value, out, &why);

  if (r == -EINVAL) {
    char *t = img_quote_term (value, 0);
    r = img_err (ctx, r, "%s: xl config: %s %s: %s", image, what, t ? t : "", why);
    free (t);
  }
  return r == -ENOMEM ? img_err (ctx, -ENOMEM, "out of memory") : r;
}

int
img_xl_check_file (struct img_ctx *ctx, const char *image, const char *what, const char *value)
{
  const unsigned char *p;

  /* It names a file next to the image, and part of it, the kernel
   * version, is the guest's. */
  for (p = (const unsigned char *) value; *p; p++)
    if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '\'') {
      char *t = img_quote_term (value, 0);
      int r = img_err (ctx, -EINVAL, "%s: xl config: %s file name %s: a control, quote, "
                       "backslash or non-ASCII byte", image, what, t ? t : "");
      free (t);
      return r;
    }
  return 0;
}

/* disk = [ ... ]: target= comes last, xl takes the rest of the spec as
 * the path. */
static int
disks (struct img_ctx *ctx, const struct img_xl_config *c, struct img_sb *b)
{
  struct img_sb spec = { 0 };
  char *fmt = NULL;
  size_t i;
  int r = 0;

  img_sb_adds (b, "disk = [");
  for (i = 0; i < c->n_images && r == 0; i++) {
    struct img_xl_disk d;
    char *q = NULL;
    free (fmt);
    fmt = NULL;
    if ((r = img_xl_config_disk (ctx, c, i, &d)) == 0
        && (r = xl_spec (ctx, c->image, "image format", d.format, &fmt)) == 0) {
      img_sb_free (&spec);
      img_sb_addf (&spec, "format=%s, vdev=%s, access=rw, target=%s", fmt, d.vdev, d.path);
      if (spec.oom || img_quote_xl (spec.s, &q, NULL) < 0)
        b->oom = true;
      else
        img_sb_addf (b, "%s%s", i ? ",\n        " : " ", q);
    }
    if (r == 0)
      free (d.path);
    free (q);
  }
  img_sb_adds (b, " ]\n");
  img_sb_free (&spec);
  free (fmt);
  return r;
}

/* vif = [ ... ] from the quoted BRIDGE and MAC (may be NULL). */
static void
vif (const char *bridge, const char *mac, struct img_sb *b)
{
  struct img_sb spec = { 0 };
  char *t;

  img_sb_addf (&spec, "bridge=%s", bridge);
  if (mac)
    img_sb_addf (&spec, ", mac=%s", mac);
  if (spec.oom || img_quote_xl (spec.s, &t, NULL) < 0)
    b->oom = true;
  else {
    img_sb_addf (b, "vif = [ %s ]\n", t);
    free (t);
  }
  img_sb_free (&spec);
}

int
img_xl_config_disk (struct img_ctx *ctx, const struct img_xl_config *c, size_t i,
                    struct img_xl_disk *d)
{
  char *abs = realpath (c->images[i], NULL);

  if (abs == NULL && (abs = strdup (c->images[i])) == NULL)
    return img_err (ctx, -ENOMEM, "out of memory");
  d->path = abs;
  d->format = c->formats && c->formats[i] ? c->formats[i] : "raw";
  d->vdev[0] = 'x';
  d->vdev[1] = 'v';
  d->vdev[2] = 'd';
  d->vdev[3] = (char) ('a' + i);
  d->vdev[4] = '\0';
  return 0;
}

char *
img_xl_config_name (const struct img_xl_config *c)
{
  char *name = c->name ? strdup (c->name) : img_beside_base (c->images[0], true);
  size_t i;

  for (i = 0; name && name[i]; i++)
    if (!isalnum ((unsigned char) name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
      name[i] = '-';
  return name;
}

/* Everything that can be refused, before any text is made; the bridge
 * and MAC quoted for the vif spec. */
static int
check (struct img_ctx *ctx, const struct img_xl_config *c, char **bridge, char **mac)
{
  int r;

  if (c->mac && img_check_mac (c->mac, NULL) < 0) {
    char *t = img_quote_term (c->mac, 0);
    r = img_err (ctx, -EINVAL, "%s: xl config: MAC %s: not a MAC address", c->images[0], t ? t : "");
    free (t);
    return r;
  }
  if ((r = xl_spec (ctx, c->image, "bridge", c->bridge, bridge)) < 0
      || (c->mac && (r = xl_spec (ctx, c->image, "MAC", c->mac, mac)) < 0))
    return r;
  if (c->kernel && ((r = img_xl_check_file (ctx, c->image, "kernel", c->kernel)) < 0
                    || (r = img_xl_check_file (ctx, c->image, "ramdisk", c->ramdisk)) < 0))
    return r;
  return 0;
}

int
img_xl_config_text (struct img_ctx *ctx, const struct img_xl_config *c, char **out)
{
  struct img_sb b = { 0 };
  char *name = NULL, *bridge = NULL, *mac = NULL, *t;
  int r;

  *out = NULL;
  if ((r = check (ctx, c, &bridge, &mac)) < 0 || (name = img_xl_config_name (c)) == NULL) {
    free (bridge);
    free (mac);
    return r < 0 ? r : img_err (ctx, -ENOMEM, "out of memory");
  }
  t = img_quote_term (c->images[0], 0);
  img_sb_addf (&b, "# Xen PV domain for %s\n" MARK " " PACKAGE_VERSION
               "; start it with: xl create <this file>\n\n", t ? t : "");
  free (t);
  xl_kv (&b, "name", name);
  free (name);
  img_sb_addf (&b, "type = \"pv\"\nmemory = %u\nvcpus = %u\n", c->memory_mib, c->vcpus);
  if (c->kernel) {
    t = img_quote_term (c->reason, 0);
    img_sb_addf (&b, "# %s\n", t ? t : "");
    free (t);
    xl_kv (&b, "kernel", c->kernel);
    xl_kv (&b, "ramdisk", c->ramdisk);
    xl_kv (&b, "cmdline", c->cmdline);
  } else
    img_sb_adds (&b, "bootloader = \"pygrub\"\n");
  if ((r = disks (ctx, c, &b)) == 0) {
    vif (bridge, mac, &b);
    img_sb_adds (&b, "on_poweroff = \"destroy\"\non_reboot = \"restart\"\non_crash = \"restart\"\n");
    if (b.oom)
      r = img_err (ctx, -ENOMEM, "out of memory");
  }
  free (bridge);
  free (mac);
  if (r < 0) {
    img_sb_free (&b);
    return r;
  }
  *out = b.s;
  return 0;
}

int
img_xl_config_ours (struct img_ctx *ctx, const char *path, char **old)
{
  return img_beside_ours (ctx, path, MARK, old);
}

void
img_xl_config_mac (struct img_ctx *ctx, const char *path, char mac[18])
{
  img_beside_mac (ctx, path, MARK, ", mac=", mac);
}
