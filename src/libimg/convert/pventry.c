/* The Xen PV boot entry, found before any edit runs: see pvboot.h. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-quote.h"
#include "private.h"
#include "text/text-private.h"
#include "convert/bootentry.h"
#include "convert/devnames.h"
#include "convert/pvboot.h"

static bool
is_ours (const struct img_boot_entry *e)
{
  return (e->id && strcmp (e->id, IMG_PV_ENTRY_ID) == 0)
         || (e->title && strstr (e->title, ", Xen PV, Linux "));
}

static bool
is_recovery (const struct img_boot_entry *e)
{
  if (is_ours (e))
    return true;                /* never copy our own entry */
  return (e->title && (strstr (e->title, "recovery") || strstr (e->title, "single")))
         || (e->args && (strstr (e->args, " single") || strncmp (e->args, "single", 6) == 0
                         || strstr (e->args, "systemd.unit=rescue")));
}

static bool
boots (const struct img_boot_entry *e, const char *vb)
{
  const char *kb = e->kernel ? strrchr (e->kernel, '/') : NULL;
  return e->kernel && !is_recovery (e) && strcmp (kb ? kb + 1 : e->kernel, vb) == 0;
}

/* The entry to copy: the default one if it boots kernel file VB, else the
 * first non-recovery entry that does, else the default one. */
static const struct img_boot_entry *
base_entry (const struct img_inspection *insp, const char *vb)
{
  size_t i, j;

  for (i = 0; i < insp->n_bootcfgs; i++) {
    const struct img_bootcfg *c = &insp->bootcfgs[i];
    int d = c->default_index >= 0 ? c->default_index : 0;
    if ((size_t) d < c->n_entries && boots (&c->entries[d], vb))
      return &c->entries[d];
    for (j = 0; j < c->n_entries; j++)
      if (boots (&c->entries[j], vb))
        return &c->entries[j];
  }
  for (i = 0; i < insp->n_bootcfgs; i++) {
    const struct img_bootcfg *c = &insp->bootcfgs[i];
    int d = c->default_index >= 0 ? c->default_index : 0;
    if ((size_t) d < c->n_entries && c->entries[d].kernel && !is_ours (&c->entries[d]))
      return &c->entries[d];
    for (j = 0; j < c->n_entries; j++)
      if (c->entries[j].kernel && !is_recovery (&c->entries[j]))
        return &c->entries[j];
  }
  return NULL;
}

/* The PV arguments: the copied entry's, or root from the mount map; on
 * the PV console, dracut told to load the drivers first, and checked: they
 * go into GRUB 2, GRUB legacy, pygrub, BLS and xl, so only what each
 * passes on to the kernel unchanged. */
static int
pv_args (struct img_guest *g, const struct img_pv_kernel *k, const struct img_boot_entry *base,
         const char *flavour, const char *image, struct img_pv_entry *e)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  char *args = NULL, *bad, *q;
  const char *why;
  bool ch;
  size_t i;
  int r;

  if (base && base->args) {
    if (img_cmdline_rewrite (g, e->xvd, e->console, base->args, &args, &ch) < 0)
      args = NULL;
  } else {
    const struct img_guest_mount *root = NULL;
    for (i = 0; i < img_guest_n_mounts (g); i++)
      if (strcmp (img_guest_mount (g, i)->mountpoint, "/") == 0)
        root = img_guest_mount (g, i);
    if (root && root->spec && strncmp (root->spec, "/dev/mapper/", 12) == 0)
      r = asprintf (&args, "root=%s ro console=%s", root->spec, e->console);
    else if (root && root->fs_uuid)
      r = asprintf (&args, "root=UUID=%s ro console=%s", root->fs_uuid, e->console);
    else
      return img_err (ctx, -ENOENT, "%s: no boot entry to copy and no root filesystem UUID "
                      "to boot from", image);
    if (r < 0)
      args = NULL;
  }
  if (args && strcmp (flavour, "dracut") == 0 && !strstr (args, "rd.driver.pre=")) {
    char *a = NULL;
    if (asprintf (&a, "%s rd.driver.pre=%s,%s", args, k->drivers[0], k->drivers[1]) < 0)
      a = NULL;
    free (args);
    args = a;
  }
  if (args == NULL)
    return img_err (ctx, -ENOMEM, "out of memory");
  r = img_quote_cmdline_line (args, &e->args, &bad, &why);
  free (args);
  if (r == -EINVAL) {
    q = img_quote_term (bad, 0);
    r = img_err (ctx, -EINVAL, "%s: boot-entry: kernel argument %s: %s", image, q ? q : "", why);
    free (q);
    free (bad);
  } else if (r < 0)
    r = img_err (ctx, -ENOMEM, "out of memory");
  return r;
}

/* Why pygrub cannot read the kernel from M (it reads partitions with a
 * filesystem it knows, through a GRUB config), or NULL. */
/* The version of the xfs on V (4 bits of sb_versionnum), 0 if unread. */
static unsigned
xfs_version (struct img_guest *g, const struct img_volume *v)
{
  unsigned char sb[512];

  if (img_volume_pread (img_guest_ctx (g), v, sb, sizeof sb, 0) < 0) {
    img_ctx_clear_error (img_guest_ctx (g));
    return 0;
  }
  if (memcmp (sb, "XFSB", 4) != 0)
    return 0;
  return ((unsigned) sb[100] << 8 | sb[101]) & 0xf;
}

static char *
pygrub_trouble (struct img_guest *g, const struct img_inspection *insp,
                const struct img_guest_mount *m, const char *vmlinuz)
{
  const struct img_part *part = NULL;
  const struct img_fsinfo *info = NULL;
  char *why = NULL;
  size_t i, n_grub = 0;

  const struct img_volume *v = NULL;
  size_t image = 0;

  for (i = 0; i < img_guest_n_volumes (g); i++) {
    v = img_guest_volume (g, i, &info, &part, &image);
    if (m->device && strcmp (v->name, m->device) == 0)
      break;
    part = NULL;
    info = NULL;
    v = NULL;
  }
  if (part != NULL && image == SIZE_MAX) {
    if (asprintf (&why, "%s is on %s, a partition inside an md array, which pygrub cannot read",
                  vmlinuz, m->device) < 0)
      why = NULL;
  } else if (part == NULL) {
    if (asprintf (&why, "%s is on %s, which pygrub cannot read: it only looks at partitions",
                  vmlinuz, m->device ? m->device : "an unknown volume") < 0)
      why = NULL;
  } else if (info && info->type[0] && strncmp (info->type, "ext", 3) != 0
             && strcmp (info->type, "xfs") != 0 && strcmp (info->type, "vfat") != 0
             && strcmp (info->type, "reiserfs") != 0) {
    if (asprintf (&why, "%s is on %s, a filesystem pygrub cannot read", vmlinuz, info->type) < 0)
      why = NULL;
  } else if (info && strcmp (info->type, "xfs") == 0 && v && xfs_version (g, v) >= 5) {
    if (asprintf (&why, "%s is on a version 5 (CRC) xfs, which pygrub's xfs reader does not "
                  "support", vmlinuz) < 0)
      why = NULL;
  }
  for (i = 0; i < insp->n_bootcfgs; i++)
    n_grub += insp->bootcfgs[i].kind == IMG_BOOT_GRUB2
              || insp->bootcfgs[i].kind == IMG_BOOT_GRUB_LEGACY;
  if (why == NULL && n_grub == 0)
    why = strdup ("the guest has no GRUB configuration for pygrub to read");
  return why;
}

/* PATH inside mount M as GRUB names it (*out malloc'd): below the
 * subvolume's name for a btrfs mounted with subvol=. */
static int
subvol_prefix (const struct img_guest_mount *m, const char *path, char **out)
{
  char sv[256];
  const char *name;

  *out = NULL;
  if (m->vfstype && strcmp (m->vfstype, "btrfs") == 0 && m->options
      && img_internal_fstab_subvol (m->options, sv, sizeof sv)
      && strncmp (sv, "subvol=", 7) == 0) {
    for (name = sv + 7; *name == '/'; name++)
      ;
    if (*name && asprintf (out, "/%s%s", name, path) < 0)
      *out = NULL;
    else if (*name)
      return 0;
  }
  *out = strdup (path);
  return *out ? 0 : -ENOMEM;
}

int
img_pv_entry_prepare (struct img_guest *g, const struct img_inspection *insp,
                      const struct img_pv_kernel *k, const char *flavour, bool xvd,
                      const char *image, struct img_pv_entry *e)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  const struct img_boot_entry *base = base_entry (insp, strrchr (k->vmlinuz, '/') + 1);
  const struct img_guest_mount *m, *mi;
  const char *os = insp->os_pretty_name ? insp->os_pretty_name
                   : insp->os_name ? insp->os_name : "Linux";
  const char *rel, *irel;
  int r;

  *e = (struct img_pv_entry) { .image = image, .insp = insp, .xvd = xvd, .console = k->console };
  if ((r = pv_args (g, k, base, flavour, image, e)) < 0)
    return r;
  if (base && base->root && base->root[0] == '(' && (e->legacy_root = strdup (base->root)) == NULL)
    return img_err (ctx, -ENOMEM, "out of memory");
  /* The title is ours: the guest's OS name in printable ASCII only. */
  if ((e->title = img_bootentry_title (os, ", Xen PV, Linux %s", k->kver)) == NULL)
    return img_err (ctx, -ENOMEM, "out of memory");
  /* Paths as seen from the filesystem that holds the kernel. */
  m = img_guest_mount_of (g, k->vmlinuz, NULL, &rel);
  if (m == NULL)
    return img_err (ctx, -ENOENT, "%s: %s is on no filesystem of the guest", image, k->vmlinuz);
  mi = img_guest_mount_of (g, k->initrd, NULL, &irel);
  if (mi != m)
    return img_err (ctx, -EXDEV, "%s: %s and %s are on different filesystems", image,
                    k->vmlinuz, k->initrd);
  /* GRUB reads btrfs from its top level: a kernel in subvolume @ is at
   * /@/boot/..., as the guest's own 10_linux writes it. */
  if ((r = subvol_prefix (m, rel, &e->kernel)) < 0 || (r = subvol_prefix (m, irel, &e->initrd)) < 0)
    return img_err (ctx, r, "out of memory");
  e->boot_uuid = m->fs_uuid ? strdup (m->fs_uuid) : NULL;
  e->fs_module = m->vfstype && strcmp (m->vfstype, "xfs") == 0 ? "xfs" : NULL;
  e->direct_reason = pygrub_trouble (g, insp, m, k->vmlinuz);
  if (e->kernel == NULL || e->initrd == NULL || (m->fs_uuid && e->boot_uuid == NULL))
    return img_err (ctx, -ENOMEM, "out of memory");
  return 0;
}

void
img_pv_entry_clear (struct img_pv_entry *e)
{
  free (e->title);
  free (e->args);
  free (e->kernel);
  free (e->initrd);
  free (e->boot_uuid);
  free (e->legacy_root);
  free (e->direct_reason);
  *e = (struct img_pv_entry) { 0 };
}
