/* Choosing the kernel a PV guest boots: see kernel.h.  The host side
 * (--kernel-from) is kernelhost.c. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hostdir.h"
#include "base/hostfile.h"
#include "convert/convert-private.h"
#include "convert/kernel.h"

static bool
is_xenified (const char *ver)
{
  size_t l = strlen (ver);
  return (l > 3 && strcmp (ver + l - 3, "xen") == 0) || strstr (ver, "-xen") != NULL;
}

void
img_internal_pv_kernel_kind (struct img_pv_kernel *k)
{
  k->xenified = is_xenified (k->kver);
  k->console = k->xenified ? "xvc0" : "hvc0";
  k->drivers[0] = k->xenified ? "xenblk" : "xen-blkfront";
  k->drivers[1] = k->xenified ? "xennet" : "xen-netfront";
}

/* Whether the module tree (guest or host) has both drivers or builds them
 * in: a kernel without them is refused before anything is written. */
static int
check_module_tree (struct img_ctx *ctx, const struct img_pv_kernel *k, const char *dep,
                   size_t dep_len, const char *builtin, size_t builtin_len, const char *where)
{
  struct img_kmod *km;
  int r, i;

  r = img_kmod_parse (ctx, where, dep, dep_len, builtin, builtin_len, &km);
  if (r < 0)
    return r;
  for (i = 0; i < 2; i++)
    if (!img_kmod_find (km, k->drivers[i]) && !img_kmod_builtin (km, k->drivers[i])) {
      img_kmod_free (km);
      return img_err (ctx, -ENOENT,
                      "%s: kernel %s has no %s module and does not build it in; "
                      "give its PV modules with --modules-from DIR (a /lib/modules/%s tree)",
                      k->image, k->kver, k->drivers[i], k->kver);
    }
  img_kmod_free (km);
  return 0;
}

static const struct img_kernel_info *
find_kernel (const struct img_inspection *insp, const char *ver)
{
  size_t i;

  for (i = 0; i < insp->n_kernels; i++)
    if (strcmp (insp->kernels[i].version, ver) == 0)
      return &insp->kernels[i];
  return NULL;
}

/* The version a boot entry's kernel path names ("/vmlinuz-6.1.0-28-amd64"). */
static const char *
entry_version (const struct img_boot_entry *e)
{
  const char *b;
  if (e->kernel == NULL)
    return NULL;
  b = strrchr (e->kernel, '/');
  b = b ? b + 1 : e->kernel;
  return strncmp (b, "vmlinuz-", 8) == 0 ? b + 8 : NULL;
}

static bool
can_pv (const struct img_kernel_info *k)
{
  return strcmp (k->xen, "pvops") == 0 || strcmp (k->xen, "xenified") == 0;
}

/* The default entry's kernel if it can run PV, else the newest that can
 * ("unknown": no config to tell, taken only when nothing better). */
static const struct img_kernel_info *
default_kernel (const struct img_inspection *insp)
{
  const struct img_kernel_info *k = NULL;
  size_t i;

  for (i = 0; i < insp->n_bootcfgs && k == NULL; i++) {
    const struct img_bootcfg *c = &insp->bootcfgs[i];
    int d = c->default_index >= 0 ? c->default_index : 0;
    const char *v;
    if ((size_t) d < c->n_entries && (v = entry_version (&c->entries[d]))) {
      const struct img_kernel_info *dk = find_kernel (insp, v);
      if (dk && can_pv (dk))
        k = dk;
    }
  }
  for (i = 0; i < insp->n_kernels && k == NULL; i++)
    if (can_pv (&insp->kernels[i]))
      k = &insp->kernels[i];
  for (i = 0; i < insp->n_kernels && k == NULL; i++)
    if (strcmp (insp->kernels[i].xen, "unknown") == 0 && insp->kernels[i].initrd)
      k = &insp->kernels[i];
  return k;
}

static int
no_pv_kernel (struct img_ctx *ctx, const struct img_inspection *insp, const char *image)
{
  struct img_sb tried = { 0 };
  size_t j;

  for (j = 0; j < insp->n_kernels; j++)
    img_sb_addf (&tried, "%s%s (%s)", j ? ", " : "", insp->kernels[j].version,
                 insp->kernels[j].xen);
  img_err (ctx, -ENOENT,
           "%s: no kernel that can boot as a Xen PV guest (%s%s); supply one with "
           "--kernel-from DIR (DIR/boot/vmlinuz-VER, its initrd, DIR/lib/modules/VER)",
           image, insp->n_kernels ? "kernels: " : "no kernels found", tried.s ? tried.s : "");
  img_sb_free (&tried);
  return -ENOENT;
}

/* The guest's module tree has the drivers (or no --modules-from needs
 * checking instead). */
static int
check_guest_modules (struct img_plan *plan, const struct img_pv_kernel *k)
{
  struct img_ctx *ctx = img_conv_ctx (plan);
  char *dp = NULL, *bp = NULL, *dep = NULL, *bi = NULL;
  size_t dl, bl;
  int r;

  if (k->moddir == NULL)
    return img_err (ctx, -ENOENT, "%s: kernel %s has no /lib/modules/%s; give its modules with "
                    "--modules-from DIR", k->image, k->kver, k->kver);
  if (asprintf (&dp, "%s/modules.dep", k->moddir) < 0 || asprintf (&bp, "%s/modules.builtin", k->moddir) < 0) {
    free (dp);
    return img_conv_oom (plan);
  }
  dep = img_conv_guest_text (plan, dp, &dl);
  bi = img_conv_guest_text (plan, bp, &bl);
  if (dep == NULL && img_guest_exists (img_plan_guest (plan), dp))
    r = img_conv_unreadable (plan, k->image, dp);
  else if (dep == NULL)
    r = img_err (ctx, -ENOENT, "%s: %s missing: cannot tell the drivers' dependencies",
                 k->image, dp);
  else
    r = check_module_tree (ctx, k, dep, dl, bi, bl, dp);
  free (dep);
  free (bi);
  free (dp);
  free (bp);
  return r;
}

static int
choose_guest_kernel (struct img_plan *plan, const struct img_inspection *insp,
                     const struct img_pv_kernel_opts *o, struct img_pv_kernel *k)
{
  struct img_ctx *ctx = img_conv_ctx (plan);
  const struct img_kernel_info *ki;

  if (o->kernel) {
    ki = find_kernel (insp, o->kernel);
    if (ki == NULL)
      return img_err (ctx, -ENOENT, "%s: the guest has no kernel %s (see img-inspect)",
                      o->image, o->kernel);
    if (strcmp (ki->xen, "none") == 0)
      return img_err (ctx, -EINVAL, "%s: kernel %s is not built for Xen PV; "
                      "supply one with --kernel-from DIR", o->image, ki->version);
  } else if ((ki = default_kernel (insp)) == NULL)
    return no_pv_kernel (ctx, insp, o->image);
  if (ki->initrd == NULL)
    return img_err (ctx, -ENOENT, "%s: kernel %s has no initrd in /boot; img2pv adds drivers "
                    "to an initrd but never builds one", o->image, ki->version);
  k->kver = strdup (ki->version);
  k->vmlinuz = strdup (ki->vmlinuz);
  k->initrd = strdup (ki->initrd);
  k->moddir = ki->modules ? strdup (ki->modules) : NULL;
  if (!k->kver || !k->vmlinuz || !k->initrd || (ki->modules && !k->moddir))
    return img_conv_oom (plan);
  img_internal_pv_kernel_kind (k);
  if (o->modules_from)
    return 0;                   /* checked on the host tree */
  return check_guest_modules (plan, k);
}

/* --modules-from (or --kernel-from's tree): it must be for this kernel and
 * have the drivers. */
static int
check_host_modules (struct img_plan *plan, const struct img_pv_kernel_opts *o,
                    struct img_pv_kernel *k)
{
  struct img_ctx *ctx = img_conv_ctx (plan);
  char *dp = NULL, *bp = NULL, *dep = NULL, *bi = NULL;
  size_t dl = 0, bl = 0;
  const char *base;
  int r;

  if (o->modules_from && k->host_modules == NULL && (k->host_modules = strdup (o->modules_from)) == NULL)
    return img_conv_oom (plan);
  if (k->host_modules == NULL || k->kver == NULL)
    return 0;
  base = strrchr (k->host_modules, '/');
  base = base && base[1] ? base + 1 : k->host_modules;
  if (strcmp (base, k->kver) != 0 && !o->kernel_from)
    return img_err (ctx, -EINVAL, "%s: modules for %s, but the kernel is %s (name it with --kernel %s)",
                    k->host_modules, base, k->kver, base);
  if (asprintf (&dp, "%s/modules.dep", k->host_modules) < 0
      || asprintf (&bp, "%s/modules.builtin", k->host_modules) < 0) {
    free (dp);
    return img_conv_oom (plan);
  }
  r = img_host_read_file (ctx, dp, IMG_CONV_MAX_LIST, &dep, &dl);
  if (r == 0) {
    if (img_host_read_file (ctx, bp, IMG_CONV_MAX_LIST, &bi, &bl) < 0)
      bi = NULL;
    r = check_module_tree (ctx, k, dep, dl, bi, bl, dp);
  }
  free (dep);
  free (bi);
  free (dp);
  free (bp);
  if (r == 0 && k->moddir == NULL && asprintf (&k->moddir, "/lib/modules/%s", k->kver) < 0)
    k->moddir = NULL, r = img_conv_oom (plan);
  if (r == 0 && o->kernel_from) {
    const char *ib = strrchr (k->host_initrd, '/') + 1;
    if (asprintf (&k->vmlinuz, "/boot/vmlinuz-%s", k->kver) < 0)
      k->vmlinuz = NULL;
    if (asprintf (&k->initrd, "/boot/%s", ib) < 0)
      k->initrd = NULL;
    if (k->vmlinuz == NULL || k->initrd == NULL)
      return img_conv_oom (plan);
    img_internal_pv_kernel_kind (k);
  }
  return r;
}

int
img_pv_kernel_choose (struct img_plan *plan, const struct img_inspection *insp,
                      const struct img_pv_kernel_opts *o, struct img_pv_kernel *k)
{
  struct img_ctx *ctx = img_conv_ctx (plan);
  char *what = NULL;
  int r;

  *k = (struct img_pv_kernel) { .image = o->image };
  if (o->kernel_from)
    r = img_internal_pv_kernel_host (ctx, o, k);
  else
    r = choose_guest_kernel (plan, insp, o, k);
  if (r < 0)
    return r;
  /* The version becomes a host path component (the depmod staging tree,
   * the extracted kernel's file name) and a depmod argument: one
   * component from a conservative set, or nothing is done. */
  if (asprintf (&what, "%s: kernel", o->image) < 0)
    return img_conv_oom (plan);
  r = img_host_name_check (ctx, what, "kernel version", k->kver);
  free (what);
  if (r < 0)
    return r;
  return check_host_modules (plan, o, k);
}

void
img_pv_kernel_clear (struct img_pv_kernel *k)
{
  free (k->kver);
  free (k->vmlinuz);
  free (k->initrd);
  free (k->moddir);
  free (k->host_vmlinuz);
  free (k->host_initrd);
  free (k->host_config);
  free (k->host_sysmap);
  free (k->host_modules);
  *k = (struct img_pv_kernel) { 0 };
}
