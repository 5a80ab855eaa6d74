/* The part of "initrd-drivers" that makes the initrd load the drivers,
 * whatever its hardware probing does, in its own way: initramfs-tools
 * conf/modules, a dracut modules-load.d file, insmod lines in a nash
 * init (RHEL 5 era). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "img-quote.h"
#include "convert/drivers-private.h"

static int
add_file (struct drivers *d, const char *path, uint32_t mode, const char *text, size_t len)
{
  d->any = true;
  return img_cpio_add (d->cpio, path, S_IFREG | mode, 0, 0, (uint64_t) time (NULL), 0, 0, text, len);
}

static int
initramfs_tools (struct drivers *d)
{
  const struct img_cpio_entry *e;
  struct img_sb b = { 0 };
  bool missing = false;
  size_t i;
  int r;

  if ((r = img_internal_drivers_member (d, "conf/modules", &e)) < 0)
    return r;
  if (e && S_ISREG (e->mode))
    img_sb_add (&b, (const char *) e->data, e->size);
  if (img_sb_open_line (&b))
    img_sb_add (&b, "\n", 1);
  for (i = 0; i < d->n_need; i++)
    if (!(b.s && img_textconf_has_line (b.s, b.len, d->need[i]))) {
      img_sb_addf (&b, "%s\n", d->need[i]);
      missing = true;
    }
  if (b.oom)
    r = img_conv_oom (d->plan);
  else if (missing)
    r = add_file (d, "conf/modules", 0644, b.s, b.len);
  img_sb_free (&b);
  return r;
}

static int
dracut (struct drivers *d)
{
  const char *path = "etc/modules-load.d/img2pv-xen.conf";
  const struct img_cpio_entry *e;
  char *text = NULL;
  int r;

  if ((r = img_internal_drivers_member (d, path, &e)) < 0)
    return r;
  if (asprintf (&text, "# Xen PV drivers, added by img2pv\n%s\n%s\n", d->need[0],
                d->n_need > 1 ? d->need[1] : "") < 0)
    return img_conv_oom (d->plan);
  if (e == NULL || e->size != strlen (text) || memcmp (e->data, text, e->size) != 0) {
    r = img_internal_drivers_dirs (d, "etc/modules-load.d");
    if (r == 0)
      r = add_file (d, path, 0644, text, strlen (text));
  }
  free (text);
  return r;
}

/* INIT with insmod lines for MODS (initrd paths) before it makes the root
 * device; NULL if it has no such line. */
static char *
nash_init (const struct img_cpio_entry *init, char **mods, size_t n)
{
  const char *t = (const char *) init->data, *anchor = NULL, *p;
  struct img_sb b = { 0 };
  size_t i;

  for (p = t; p && p < t + init->size; p = memchr (p, '\n', t + init->size - p), p = p ? p + 1 : NULL)
    if (strncmp (p, "mkrootdev", 9) == 0 || strncmp (p, "echo Creating root device", 25) == 0
        || strncmp (p, "echo \"Creating root device", 26) == 0) {
      anchor = p;
      break;
    }
  if (anchor == NULL)
    return NULL;
  img_sb_add (&b, t, (size_t) (anchor - t));
  for (i = 0; i < n; i++) {
    const char *base = strrchr (mods[i], '/');
    base = base ? base + 1 : mods[i];
    img_sb_addf (&b, "echo \"Loading %s module\"\ninsmod /%s\n", base, mods[i]);
  }
  img_sb_add (&b, anchor, init->size - (size_t) (anchor - t));
  if (b.oom)
    img_sb_free (&b);
  return b.s;
}

/* The initrd path of the driver module REL, after checking that its name
 * can stand in a nash script; *load NULL if init loads it already. */
static int
nash_module (struct drivers *d, const struct img_cpio_entry *init, const char *rel, char **load)
{
  const char *b = strrchr (rel, '/'), *why;
  char *q, *line = NULL;

  *load = NULL;
  b = b ? b + 1 : rel;
  if (img_quote_nash (b, &q, &why) < 0) {
    char *t = img_quote_term (rel, 0);
    int r = img_err (d->ctx, -EINVAL, "%s: initrd %s: module file %s: %s", d->k->image,
                     d->k->initrd, t ? t : "", why);
    free (t);
    return r;
  }
  free (q);
  if (asprintf (&line, "insmod /lib/%s", b) < 0)
    return img_conv_oom (d->plan);
  if (memmem (init->data, init->size, line, strlen (line)) == NULL
      && asprintf (load, "lib/%s", b) < 0) {
    *load = NULL;
    free (line);
    return img_conv_oom (d->plan);
  }
  free (line);
  return 0;
}

static int
nash (struct drivers *d)
{
  const struct img_cpio_entry *init;
  char *load[2], *ni;
  size_t n_load = 0, i;
  int r;

  if ((r = img_internal_drivers_member (d, "init", &init)) < 0)
    return r;
  if (init == NULL || !S_ISREG (init->mode))
    return img_err (d->ctx, -ENOTSUP, "%s: initrd %s: a nash initrd without an init script",
                    d->k->image, d->k->initrd);

  for (i = 0; i < d->n_need && r == 0; i++) {
    const char *rel = img_kmod_find (d->km, d->need[i]);
    if (rel && (r = nash_module (d, init, rel, &load[n_load])) == 0 && load[n_load])
      n_load++;
  }
  if (n_load && r == 0) {
    ni = nash_init (init, load, n_load);
    if (ni == NULL)
      r = img_err (d->ctx, -ENOTSUP, "%s: initrd %s: its nash init has no mkrootdev line "
                   "to load %s before", d->k->image, d->k->initrd, d->k->drivers[0]);
    else
      r = add_file (d, "init", 0755, ni, strlen (ni));
    free (ni);
  }
  for (i = 0; i < n_load; i++)
    free (load[i]);
  return r;
}

/* E is a text file with the line LINE (leading blanks aside). */
static bool
has_line (const struct img_cpio_entry *e, const char *line)
{
  return e && S_ISREG (e->mode) && e->data
         && img_textconf_has_line ((const char *) e->data, e->size, line);
}

/* Whether TEXT (LEN bytes) has a line holding both A and B. */
static bool
line_with (const char *text, size_t len, const char *a, const char *b)
{
  const char *p = text, *end = text + len;

  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
    if (memmem (p, n, a, strlen (a)) && memmem (p, n, b, strlen (b)))
      return true;
    p += n + 1;
  }
  return false;
}

/* Whether udev in the initrd loads the drivers when the devices appear:
 * a udevd, the rule that loads each device's MODALIAS, and the drivers'
 * aliases (xen:vbd, xen:vif) in the initrd's modules.alias.  Then the
 * initrd needs nothing: it loads them under Xen as it loads the
 * emulated disk's driver now (initramfs-tools with udev, dracut). */
int
img_internal_drivers_by_modalias (struct drivers *d)
{
  static const char *const udevd[] = {
    "usr/lib/systemd/systemd-udevd", "lib/systemd/systemd-udevd", "sbin/udevd",
    "usr/sbin/udevd",
  };
  static const char *const rules[] = {
    "usr/lib/udev/rules.d/80-drivers.rules", "lib/udev/rules.d/80-drivers.rules",
  };
  const struct img_cpio_entry *e;
  bool found = false;
  char *path;
  size_t i;
  int r;

  if (d->n_added || (strcmp (d->flavour, "initramfs-tools") != 0 && strcmp (d->flavour, "dracut") != 0))
    return 0;
  for (i = 0; i < ARRAY_SIZE (udevd) && !found; i++)
    /* systemd-udevd is a link to udevadm in recent udev. */
    found = (e = img_initrd_lookup (d->ird, udevd[i])) && (S_ISREG (e->mode) || S_ISLNK (e->mode));
  if (!found)
    return 0;
  found = false;
  for (i = 0; i < ARRAY_SIZE (rules) && !found; i++) {
    if ((r = img_internal_drivers_member (d, rules[i], &e)) < 0)
      return r;
    found = e && S_ISREG (e->mode) && e->data
            && line_with ((const char *) e->data, e->size, "MODALIAS", "kmod load");
  }
  if (!found)
    return 0;
  if (asprintf (&path, "%s/modules.alias", d->modroot) < 0)
    return img_conv_oom (d->plan);
  r = img_internal_drivers_member (d, path, &e);
  free (path);
  if (r < 0)
    return r;
  for (i = 0; i < d->n_need && found; i++) {
    char line[128], mod[64];
    size_t k;

    snprintf (mod, sizeof mod, "%s", d->need[i]);
    for (k = 0; mod[k]; k++)
      if (mod[k] == '-')
        mod[k] = '_';
    snprintf (line, sizeof line, "alias xen:%s %s",
              strcmp (d->need[i], "xen-blkfront") == 0 ? "vbd"
              : strcmp (d->need[i], "xen-netfront") == 0 ? "vif" : "-", mod);
    found = has_line (e, line);
  }
  return found;
}

int
img_internal_drivers_load (struct drivers *d)
{
  if (strcmp (d->flavour, "initramfs-tools") == 0)
    return initramfs_tools (d);
  if (strcmp (d->flavour, "dracut") == 0)
    return dracut (d);
  if (strcmp (d->flavour, "nash") == 0)
    return nash (d);
  if (!d->n_added)
    img_plan_note (d->plan, "initrd %s has %s and %s; its format leaves loading them to its own logic",
                   d->k->initrd, d->k->drivers[0], d->k->drivers[1]);
  return 0;
}
