/* Edit "initrd-drivers": see drivers.h.  This file finds what the initrd
 * lacks and appends the layer; depmod.c makes the index, driversload.c
 * the loading. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/hostdir.h"
#include "guest/guest-private.h"
#include "initrd/initrd-private.h"
#include "convert/drivers.h"

/* Initrd members whose data is kept by the first parse: the small files
 * looked at (init, conf/modules, udev rules) and the module indexes
 * (modules.alias can be a few MB); modules and firmware are only named. */
#define KEEP_DATA (64u << 10)

/* Kept: the module indexes, whatever their size, and the small files
 * (scripts, configs, udev rules); not kept: modules and firmware, only
 * listed (img_internal_drivers_member parses again if one is read). */
static int
keep_member (const char *name)
{
  static const char *const sfx[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz", ".fw", NULL };
  const char *b = strrchr (name, '/');
  size_t i, n = strlen (name), m;

  if (strncmp (b ? b + 1 : name, "modules.", 8) == 0)
    return 1;
  if (strstr (name, "lib/firmware/") != NULL)
    return -1;
  for (i = 0; sfx[i]; i++)
    if (n > (m = strlen (sfx[i])) && strcmp (name + n - m, sfx[i]) == 0)
      return -1;
  return 0;
}
#include "convert/drivers-private.h"

#define MODULE_MAX (256u << 20)

int
img_internal_drivers_dirs (struct drivers *d, const char *path)
{
  char *p = strdup (path), *s;
  size_t i;
  int r = 0;

  if (p == NULL)
    return img_conv_oom (d->plan);
  for (s = strchr (p, '/'); r == 0; s = strchr (s + 1, '/')) {
    bool seen = false;
    if (s)
      *s = '\0';
    for (i = 0; i < d->n_dirs && !seen; i++)
      seen = strcmp (d->dirs[i], p) == 0;
    if (!seen) {
      char **nd = realloc (d->dirs, (d->n_dirs + 1) * sizeof *nd);
      if (nd == NULL || (nd[d->n_dirs] = strdup (p)) == NULL) {
        if (nd)
          d->dirs = nd;
        r = img_conv_oom (d->plan);
        break;
      }
      d->dirs = nd;
      d->n_dirs++;
      r = img_cpio_add (d->cpio, p, S_IFDIR | 0755, 0, 0, (uint64_t) time (NULL), 0, 0, NULL, 0);
    }
    if (s == NULL)
      break;
    *s = '/';
  }
  free (p);
  return r;
}

/* The entry of the initrd for the module file REL under MODROOT, with or
 * without a compression suffix. */
static const struct img_cpio_entry *
initrd_module (const struct img_initrd *ird, const char *modroot, const char *rel)
{
  static const char *const sfx[] = { "", ".xz", ".zst", ".gz", NULL };
  const char *ko = strstr (rel, ".ko");
  const struct img_cpio_entry *e = NULL;
  char *p = NULL;
  size_t i;

  if (asprintf (&p, "%s/%s", modroot, rel) >= 0)
    e = img_initrd_lookup (ird, p);
  free (p);
  if (e && S_ISREG (e->mode))
    return e;
  for (i = 0; ko && sfx[i]; i++) {
    e = NULL;
    if (asprintf (&p, "%s/%.*s.ko%s", modroot, (int) (ko - rel), rel, sfx[i]) >= 0)
      e = img_initrd_lookup (ird, p);
    free (p);
    if (e && S_ISREG (e->mode))
      return e;
  }
  return NULL;
}

static const char *
initrd_flavour (const struct img_initrd *ird)
{
  const struct img_cpio_entry *init = img_initrd_lookup (ird, "init");

  if (img_initrd_lookup (ird, "scripts/functions") && img_initrd_lookup (ird, "conf/initramfs.conf"))
    return "initramfs-tools";
  if (img_initrd_lookup (ird, "usr/lib/dracut") || img_initrd_lookup (ird, "lib/dracut"))
    return "dracut";
  if (init && S_ISREG (init->mode) && init->data && init->size > 11 && memcmp (init->data, "#!/bin/nash", 11) == 0)
    return "nash";
  return "unknown";
}

/* The kernel's modules.dep and modules.builtin, from the guest. */
static int
read_kmod (struct drivers *d)
{
  char *dp = NULL, *bp = NULL, *dep = NULL, *bi = NULL;
  size_t dl = 0, bl = 0;
  int r;

  if (asprintf (&dp, "%s/modules.dep", d->k->moddir) < 0
      || asprintf (&bp, "%s/modules.builtin", d->k->moddir) < 0) {
    free (dp);
    return img_conv_oom (d->plan);
  }
  dep = img_conv_guest_text (d->plan, dp, &dl);
  bi = img_conv_guest_text (d->plan, bp, &bl);
  if (dep == NULL && img_guest_exists (img_plan_guest (d->plan), dp))
    r = img_conv_unreadable (d->plan, d->k->image, dp);
  else if (dep == NULL)
    r = img_err (d->ctx, -ENOENT, "%s: %s missing", d->k->image, dp);
  else
    r = img_kmod_parse (d->ctx, dp, dep, dl, bi, bl, &d->km);
  free (dp);
  free (bp);
  free (dep);
  free (bi);
  return r;
}

/* Where the initrd keeps modules: its own layout wins. */
static int
pick_modroot (struct drivers *d)
{
  char *u = NULL;
  const struct img_cpio_entry *e;

  if (strcmp (d->flavour, "nash") == 0)
    d->modroot = strdup ("lib");
  else if (asprintf (&u, "usr/lib/modules/%s", d->k->kver) >= 0
           && (e = img_initrd_lookup (d->ird, u)) && S_ISDIR (e->mode))
    d->modroot = u, u = NULL;
  else if (asprintf (&d->modroot, "lib/modules/%s", d->k->kver) < 0)
    d->modroot = NULL;
  free (u);
  return d->modroot ? 0 : img_conv_oom (d->plan);
}

/* Remembers a module file added to the layer (BUF is taken). */
static int
remember (struct drivers *d, const char *name, void *buf, size_t len)
{
  size_t n = d->n_added + 1;
  char **a = realloc (d->added, n * sizeof *a);
  void **ab = a ? realloc (d->added_buf, n * sizeof *ab) : NULL;
  size_t *al = ab ? realloc (d->added_len, n * sizeof *al) : NULL;

  if (a)
    d->added = a;
  if (ab)
    d->added_buf = ab;
  if (al)
    d->added_len = al;
  if (al == NULL || (a[d->n_added] = strdup (name)) == NULL) {
    free (buf);
    return img_conv_oom (d->plan);
  }
  ab[d->n_added] = buf;
  al[d->n_added++] = len;
  d->any = true;
  return 0;
}

/* The layer's path for the module REL, or NULL (*ip) if the initrd has
 * it already. */
static int
layer_path (struct drivers *d, const char *rel, char **ip)
{
  const struct img_cpio_entry *e;
  const char *b;

  *ip = NULL;
  if (strcmp (d->flavour, "nash") != 0) {
    if (initrd_module (d->ird, d->modroot, rel))
      return 0;
    return asprintf (ip, "%s/%s", d->modroot, rel) < 0 ? (*ip = NULL, img_conv_oom (d->plan)) : 0;
  }
  b = strrchr (rel, '/');
  if (asprintf (ip, "lib/%s", b ? b + 1 : rel) < 0)
    return *ip = NULL, img_conv_oom (d->plan);
  e = img_initrd_lookup (d->ird, *ip);
  if (e && S_ISREG (e->mode)) {
    free (*ip);
    *ip = NULL;
  }
  return 0;
}

/* Adds the module REL (a modules.dep path) if the initrd lacks it. */
static int
add_module (struct drivers *d, const char *rel)
{
  char *what = NULL, *gp = NULL, *ip, *slash;
  void *buf;
  size_t len;
  int r;

  /* A guest's modules.dep names the files the layer and the depmod
   * staging tree take: relative, no "..", no control bytes. */
  if (asprintf (&what, "%s: %s/modules.dep", d->k->image, d->k->moddir) < 0)
    return img_conv_oom (d->plan);
  r = img_host_path_check (d->ctx, what, rel, strlen (rel));
  free (what);
  if (r < 0 || (r = layer_path (d, rel, &ip)) < 0 || ip == NULL)
    return r;
  if (asprintf (&gp, "%s/%s", d->k->moddir, rel) < 0) {
    free (ip);
    return img_conv_oom (d->plan);
  }
  r = img_guest_read_file (img_plan_guest (d->plan), gp, MODULE_MAX, &buf, &len);
  free (gp);
  if (r < 0) {
    free (ip);
    return r;
  }
  if ((slash = strrchr (ip, '/')) != NULL) {
    *slash = '\0';
    r = img_internal_drivers_dirs (d, ip);
    *slash = '/';
  }
  if (r == 0)
    r = img_cpio_add (d->cpio, ip, S_IFREG | 0644, 0, 0, (uint64_t) time (NULL), 0, 0, buf, len);
  if (r == 0)
    r = remember (d, strcmp (d->flavour, "nash") == 0 ? ip : rel, buf, len);
  else
    free (buf);
  free (ip);
  return r;
}

/* Module files the initrd lacks: the drivers and what they depend on. */
static int
add_modules (struct drivers *d)
{
  const char **paths;
  size_t n_paths, i;
  int r;

  if ((r = img_kmod_closure (d->km, d->need, d->n_need, &paths, &n_paths)) < 0)
    return r;
  for (i = 0; i < n_paths && r == 0; i++)
    r = add_module (d, paths[i]);
  free (paths);
  if (r == 0 && d->n_added && strcmp (d->flavour, "unknown") == 0)
    r = img_err (d->ctx, -ENOTSUP, "%s: initrd %s lacks %s and its format is not one img2pv can extend "
                 "(initramfs-tools, dracut, nash); rebuild it in the guest with the drivers",
                 d->k->image, d->k->initrd, d->k->drivers[0]);
  if (r == 0 && d->n_added && strcmp (d->flavour, "nash") != 0)
    r = img_internal_drivers_index (d);
  return r;
}

/* The layer appended to the initrd in place: the initrd as read stays
 * its first ORIG_LEN bytes and only what follows is written. */
static int
append_layer (struct drivers *d, size_t orig_len)
{
  const struct img_initrd_segment *last = img_initrd_segment (d->ird, img_initrd_n_segments (d->ird) - 1);
  const char *comp = last ? last->compression : "none";
  void *layer, *out;
  size_t layer_len, out_len;
  int r;

  if ((r = img_cpio_finish (d->cpio, &layer, &layer_len)) < 0)
    return r;
  r = img_internal_initrd_append_tail (d->ctx, orig_len, layer, layer_len, comp, &out, &out_len);
  free (layer);
  if (r < 0)
    return r;
  r = img_internal_guest_append_file (img_plan_guest (d->plan), d->k->initrd, orig_len,
                                      out, out_len);
  free (out);
  if (r == 0)
    r = img_plan_note (d->plan, "initrd %s: a %s layer appended (%zu module file%s%s); the original "
                       "is its first %zu bytes", d->k->initrd, comp, d->n_added,
                       d->n_added == 1 ? "" : "s",
                       strcmp (d->flavour, "initramfs-tools") == 0 ? ", conf/modules"
                       : strcmp (d->flavour, "dracut") == 0 ? ", modules-load.d" : ", init",
                       orig_len);
  return r;
}

/* Everything after the initrd was parsed. */
static int
layer (struct drivers *d, size_t orig_len)
{
  const struct img_pv_kernel *k = d->k;
  size_t i;
  int r;

  img_plan_fact (d->plan, "initrd", "%s (%s, %zu segment%s)", k->initrd, d->flavour,
                 img_initrd_n_segments (d->ird), img_initrd_n_segments (d->ird) == 1 ? "" : "s");
  img_plan_fact_count (d->plan, "initrd_segments", img_initrd_n_segments (d->ird));
  if ((r = read_kmod (d)) < 0 || (r = pick_modroot (d)) < 0)
    return r;
  for (i = 0; i < 2; i++)
    if (!img_kmod_builtin (d->km, k->drivers[i]))
      d->need[d->n_need++] = k->drivers[i];
  if (d->n_need == 0)
    return img_plan_note (d->plan, "%s and %s are built into kernel %s: the initrd needs nothing",
                          k->drivers[0], k->drivers[1], k->kver);
  if ((r = img_cpio_new (d->ctx, &d->cpio)) < 0 || (r = add_modules (d)) < 0)
    return r;
  if ((r = img_internal_drivers_by_modalias (d)) < 0)
    return r;
  if (r == 1)
    return img_plan_note (d->plan, "initrd %s left as it is: it holds %s and %s and its udev loads "
                          "them by modalias (xen:vbd, xen:vif in %s/modules.alias)", k->initrd,
                          k->drivers[0], k->drivers[1], d->modroot);
  if ((r = img_internal_drivers_load (d)) < 0)
    return r;
  if (!d->any)
    return img_plan_note (d->plan, "initrd %s already holds and loads %s and %s", k->initrd,
                          k->drivers[0], k->drivers[1]);
  return append_layer (d, orig_len);
}

int
img_internal_drivers_member (struct drivers *d, const char *path,
                             const struct img_cpio_entry **e)
{
  int r;

  *e = img_initrd_lookup (d->ird, path);
  if (*e == NULL || (*e)->size == 0 || (*e)->data)
    return 0;
  if ((r = img_internal_drivers_full_initrd (d)) < 0)
    return r;
  *e = img_initrd_lookup (d->ird, path);
  return 0;
}

int
img_internal_drivers_full_initrd (struct drivers *d)
{
  struct img_initrd *full = NULL;
  int r;

  if (d->ird_full)
    return 0;
  /* The first parse goes first: both at once would cost more than the
   * full one alone.  Its entries are not used past this call. */
  img_initrd_free (d->ird);
  d->ird = NULL;
  r = img_guest_initrd_parse (img_plan_guest (d->plan), d->k->initrd, IMG_CONV_MAX_INITRD,
                              d->what, 4ull << 30, UINT64_MAX, NULL, NULL, &full,
                              NULL);
  if (r < 0)
    return r;
  d->ird = full;
  d->ird_full = true;
  return 0;
}

static int
apply (struct img_plan *plan, void *data)
{
  struct drivers d = { .plan = plan, .ctx = img_conv_ctx (plan), .k = data };
  char *what = NULL;
  uint64_t orig_len = 0;
  size_t i;
  int r;

  if (asprintf (&what, "%s: %s", d.k->image, d.k->initrd) < 0) {
    what = NULL;
    r = img_conv_oom (plan);
  }
  else {
    d.what = what;
    r = img_guest_initrd_parse (img_plan_guest (plan), d.k->initrd, IMG_CONV_MAX_INITRD, what,
                                4ull << 30, KEEP_DATA, keep_member, NULL, &d.ird,
                                &orig_len);
  }
  if (r == 0) {
    d.flavour = initrd_flavour (d.ird);
    r = layer (&d, orig_len);
  }
  for (i = 0; i < d.n_added; i++) {
    free (d.added[i]);
    free (d.added_buf[i]);
  }
  free (d.added);
  free (d.added_buf);
  free (d.added_len);
  for (i = 0; i < d.n_dirs; i++)
    free (d.dirs[i]);
  free (d.dirs);
  img_cpio_free (d.cpio);
  img_kmod_free (d.km);
  img_initrd_free (d.ird);
  free (d.modroot);
  free (what);
  return r;
}

const struct img_edit img_edit_initrd_drivers = {
  "initrd-drivers", "PV block and network drivers in the initrd, loaded at boot", apply
};
