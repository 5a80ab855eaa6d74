/* --kernel-from DIR: a kernel the guest lacks, from a host tree:
 * DIR/boot/vmlinuz-VER (+ its initrd, config, System.map) and
 * DIR/lib/modules/VER (or DIR/usr/lib/modules/VER).  See kernel.h. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hostfile.h"
#include "convert/convert-private.h"
#include "convert/kernel.h"

/* The version of the only boot/vmlinuz-* in BOOT, or NULL. */
static char *
only_vmlinuz (const char *boot)
{
  DIR *d = opendir (boot);
  struct dirent *e;
  char *ver = NULL;
  size_t n = 0;

  if (d == NULL)
    return NULL;
  while ((e = readdir (d)) != NULL)
    if (strncmp (e->d_name, "vmlinuz-", 8) == 0 && n++ == 0)
      ver = strdup (e->d_name + 8);
  closedir (d);
  if (n != 1) {
    free (ver);
    return NULL;
  }
  return ver;
}

/* DIR/PREFIX VER SUFFIX if readable there. */
static char *
readable (const char *dir, const char *prefix, const char *ver, const char *suffix)
{
  char *p = NULL;

  if (asprintf (&p, "%s/%s%s%s", dir, prefix, ver, suffix) < 0)
    return NULL;
  if (access (p, R_OK) == 0)
    return p;
  free (p);
  return NULL;
}

/* A kernel that cannot run as a PV guest is no use: its config (a line of
 * its own, the first one too) says so. */
static int
check_config (struct img_ctx *ctx, const struct img_pv_kernel *k)
{
  struct img_sb t = { 0 };
  char *cfg;
  size_t len;
  bool ok;

  if (k->host_config == NULL || img_host_read_file (ctx, k->host_config, IMG_CONV_MAX_LIST, &cfg, &len) < 0)
    return 0;
  img_sb_addf (&t, "\n%s", cfg);
  ok = t.s && (strstr (t.s, "\nCONFIG_XEN_PV=y\n") || strstr (t.s, "\nCONFIG_X86_64_XEN=y\n")
               || strstr (t.s, "\nCONFIG_X86_XEN=y\n")
               || (strstr (t.s, "\nCONFIG_XEN=y\n") && !strstr (t.s, "CONFIG_XEN_PV")));
  img_sb_free (&t);
  free (cfg);
  if (!ok)
    return img_err (ctx, -EINVAL, "%s: kernel %s is not built for Xen PV (its config has no CONFIG_XEN_PV=y)",
                    k->host_config, k->kver);
  return 0;
}

static int
host_modules (struct img_ctx *ctx, const char *dir, struct img_pv_kernel *k)
{
  char *p = readable (dir, "lib/modules/", k->kver, "");

  if (p == NULL)
    p = readable (dir, "usr/lib/modules/", k->kver, "");
  if (p == NULL)
    return img_err (ctx, -ENOENT, "%s: no lib/modules/%s for kernel %s (or give it with --modules-from)",
                    dir, k->kver, k->kver);
  k->host_modules = p;
  return 0;
}

int
img_internal_pv_kernel_host (struct img_ctx *ctx, const struct img_pv_kernel_opts *o,
                             struct img_pv_kernel *k)
{
  /* initrd.img-VER, initrd-VER.img, initramfs-VER.img, initrd-VER */
  static const char *const initrd_pre[] = { "initrd.img-", "initrd-", "initramfs-", "initrd-", NULL };
  static const char *const initrd_suf[] = { "", ".img", ".img", "" };
  const char *dir = o->kernel_from;
  char *boot = NULL;
  struct stat st;
  int i, r = 0;

  if (asprintf (&boot, "%s/boot", dir) < 0)
    return img_err (ctx, -ENOMEM, "out of memory");
  if (stat (boot, &st) < 0 || !S_ISDIR (st.st_mode)) {
    free (boot);
    return img_err (ctx, -ENOENT, "%s: no boot/ directory (expected DIR/boot/vmlinuz-VERSION)", dir);
  }
  k->kver = o->kernel ? strdup (o->kernel) : only_vmlinuz (boot);
  if (k->kver == NULL) {
    free (boot);
    return img_err (ctx, -EINVAL, "%s: expected exactly one boot/vmlinuz-VERSION (or name it with --kernel)", dir);
  }
  img_internal_pv_kernel_kind (k);
  if (asprintf (&k->host_vmlinuz, "%s/vmlinuz-%s", boot, k->kver) < 0) {
    k->host_vmlinuz = NULL;
    r = img_err (ctx, -ENOMEM, "out of memory");
  } else if (access (k->host_vmlinuz, R_OK) < 0)
    r = img_err (ctx, -errno, "%s: %s", k->host_vmlinuz, strerror (errno));
  for (i = 0; r == 0 && initrd_pre[i] && k->host_initrd == NULL; i++)
    k->host_initrd = readable (boot, initrd_pre[i], k->kver, initrd_suf[i]);
  if (r == 0 && k->host_initrd == NULL)
    r = img_err (ctx, -ENOENT,
                 "%s: no initrd for kernel %s in boot/ (initrd.img-%s or initrd-%s.img); "
                 "build one with the kernel (img2pv never runs mkinitramfs or dracut)",
                 dir, k->kver, k->kver, k->kver);
  if (r == 0) {
    k->host_config = readable (boot, "config-", k->kver, "");
    k->host_sysmap = readable (boot, "System.map-", k->kver, "");
  }
  free (boot);
  if (r == 0)
    r = host_modules (ctx, dir, k);     /* --modules-from is not looked at then */
  return r < 0 ? r : check_config (ctx, k);
}
