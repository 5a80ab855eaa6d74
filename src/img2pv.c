/* img2pv: turn a Xen HVM Linux guest image into a PV guest, offline.
 *
 * The conversion is a plan of named, idempotent edits (edits.h): each
 * looks at the guest and changes only what is not yet as a PV guest
 * needs it.  A dry run shows every change with diffs and writes nothing;
 * a real run keeps a block-level undo record and rolls itself back if an
 * edit fails.  No guest program is ever run; nothing is mounted.
 *
 * Edits, in order:
 *   kernel-from      (--kernel-from / --modules-from) host kernel files in
 *   initrd-drivers   PV block/net drivers in the chosen kernel's initrd,
 *                    loaded by it: an appended cpio layer when needed
 *   initramfs-config the guest's own initramfs tooling lists the drivers
 *   tls              /lib/tls & co. moved aside
 *   udev-net         persistent-net rules removed, HWADDR= dropped
 *   device-names     /dev/sdXN, /dev/hdXN, /dev/vdXN in fstab, crypttab and
 *                    resume config become UUID= (or /dev/xvdXN, --xvd)
 *   console          a getty on hvc0 (xvc0), securetty
 *   device-caches    blkid.tab, LVM cache and devices file removed
 *   boot-entry       the PV entry, first, in the live bootloader config, and
 *                    persisted for the guest's own update-grub
 *   selinux-relabel  /.autorelabel when SELinux is on and files changed
 *   kernel-extract   kernel and initrd beside the image when pygrub cannot
 *                    read them (direct-kernel domU)
 * After a successful real run the xl domain config is written beside the
 * image.
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "img-edit.h"
#include "img-quote.h"
#include "base/hostdir.h"
#include "tool.h"

#define PROG "img2pv"
#define MARK_BEGIN "### BEGIN img2pv Xen PV entry ###"
#define MARK_END "### END img2pv Xen PV entry ###"
#define ENTRY_ID "img2pv-xen-pv"
#define MAX_TEXT (16u << 20)
#define MAX_INITRD (1024u << 20)
#define MAX_KERNEL (256u << 20)

struct opts {
  bool dry_run, json, no_undo, force, xvd, keep_tls, extract_kernel;
  bool no_xl;
  const char *undo, *output, *kernel, *kernel_from, *modules_from;
  const char *xl_path, *name, *bridge, *mac;
  unsigned memory_mib, vcpus;
};

struct pv {
  struct img_ctx *ctx;
  struct img_plan *plan;
  struct img_guest *g;
  struct img_inspection *insp;
  const struct opts *o;
  const char *const *images;
  size_t n_images;

  /* The chosen kernel. */
  char *kver, *vmlinuz, *initrd, *moddir;
  bool xenified;                /* 2.6.18-era -xen: xvc0, xenblk/xennet */
  const char *console;
  const char *drivers[2];
  const char *flavour;          /* the guest's initramfs tooling */
  char *host_kernel_dir;        /* --kernel-from: boot files there */
  char *host_vmlinuz, *host_initrd, *host_config, *host_sysmap;
  char *host_modules;           /* a /lib/modules/VER tree on the host */

  /* The PV entry. */
  char *title, *args, *entry_kernel, *entry_initrd, *boot_uuid;
  char *legacy_root;            /* "(hd0,0)" from the entry we copied */
  const char *boot_fs_type;
  bool direct_kernel;
  char *direct_reason;
  char *kernel_out, *initrd_out;        /* direct kernel: host files */
  char *out_dir, *kernel_name, *initrd_name;  /* ... their directory and names */

  /* Found on the way, for the xl config. */
  char mac[18];
  char **formats;               /* of each image, for the xl config */
};

static void
log_fn (void *data, int prio, const char *msg)
{
  if (prio <= IMG_LOG_WARNING)
    fprintf (stderr, PROG ": %s%s\n", prio > IMG_LOG_ERR ? "warning: " : "", msg);
}

static char *
xstrdup (const char *s)
{
  char *d = s ? strdup (s) : NULL;
  if (s && d == NULL) {
    fprintf (stderr, PROG ": out of memory\n");
    exit (IMG_EXIT_ERROR);
  }
  return d;
}

static char *
xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (n < 0) {
    fprintf (stderr, PROG ": out of memory\n");
    exit (IMG_EXIT_ERROR);
  }
  return s;
}

static int
oom (struct pv *pv)
{
  return img_err (pv->ctx, -ENOMEM, "out of memory");
}

/* Reads a guest text file through the plan (so a dry run sees earlier
 * edits); absent: 0 with *buf NULL. */
static int
read_text (struct pv *pv, const char *path, char **buf, size_t *len)
{
  int r;

  *buf = NULL;
  *len = 0;
  if (!img_plan_exists (pv->plan, path))
    return 0;
  r = img_plan_read_file (pv->plan, path, MAX_TEXT, (void **) buf, len);
  return r < 0 ? r : 0;
}

static int
write_text (struct pv *pv, const char *path, const struct sb *b, uint32_t mode)
{
  if (b->oom)
    return oom (pv);
  {
    /* A new file in a directory the guest does not have yet. */
    char *dir = xstrdup (path), *slash = strrchr (dir, '/');
    int r = 0;
    if (slash && slash != dir) {
      *slash = '\0';
      if (!img_plan_exists (pv->plan, dir))
        r = img_plan_mkdir_p (pv->plan, dir, 0755);
    }
    free (dir);
    if (r < 0)
      return r;
  }
  return img_plan_write_file (pv->plan, path, b->s ? b->s : "", b->len, mode);
}

/* Calls FN for each line of TEXT (without the newline); FN appends what
 * the line becomes to OUT. */
typedef int (*line_fn) (struct pv *pv, const char *line, size_t len,
                        unsigned lineno, struct sb *out, void *data);

static int
map_lines (struct pv *pv, const char *text, size_t len, line_fn fn, void *data,
           struct sb *out)
{
  const char *p = text, *end = text + len;
  unsigned lineno = 0;
  int r;

  while (p < end) {
    const char *nl = memchr (p, '\n', end - p);
    size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
    if ((r = fn (pv, p, l, ++lineno, out, data)) < 0)
      return r;
    if (nl)
      sb_add (out, "\n", 1);
    p += l + (nl ? 1 : 0);
  }
  return out->oom ? oom (pv) : 0;
}

/* ---- device names ------------------------------------------------------ */

/* "/dev/sda2" -> disk 0, partition 2 (0: the whole disk); false if NAME is
 * not an sd/hd/vd name. */
static bool
parse_hvm_name (const char *name, size_t len, size_t *disk, unsigned *part,
                size_t *letters_at, size_t *letters_len)
{
  size_t i = 7, d = 0, start;
  unsigned long p = 0;

  if (len < 9 || strncmp (name, "/dev/", 5) != 0
      || !(strncmp (name + 5, "sd", 2) == 0 || strncmp (name + 5, "hd", 2) == 0
           || strncmp (name + 5, "vd", 2) == 0))
    return false;
  start = i;
  while (i < len && name[i] >= 'a' && name[i] <= 'z' && i - start < 3) {
    d = d * 26 + (size_t) (name[i] - 'a' + 1);
    i++;
  }
  if (i == start)
    return false;
  while (i < len && isdigit ((unsigned char) name[i]) && p < 1000)
    p = p * 10 + (unsigned long) (name[i++] - '0');
  if (i != len || p >= 1000)
    return false;
  *disk = d - 1;
  *part = (unsigned) p;
  *letters_at = start;
  *letters_len = i - start;
  while (*letters_len && isdigit ((unsigned char) name[start + *letters_len - 1]))
    (*letters_len)--;
  return true;
}

/* What a device name that will not exist under Xen PV becomes: "UUID=..."
 * (or "/dev/xvdXN" with --xvd).  *out NULL: not such a name, or one we
 * cannot resolve (*why says why). */
static int
rewrite_devname (struct pv *pv, const char *name, size_t len, char **out,
                 const char **why)
{
  size_t disk, at, llen, i;
  unsigned part;

  *out = NULL;
  *why = NULL;
  if (!parse_hvm_name (name, len, &disk, &part, &at, &llen))
    return 0;
  if (pv->o->xvd) {
    *out = xasprintf ("/dev/xvd%.*s", (int) (len - at), name + at);
    return 0;
  }
  if (disk >= img_guest_n_disks (pv->g)) {
    *why = "no such disk among the images given";
    return 0;
  }
  for (i = 0; i < img_guest_n_volumes (pv->g); i++) {
    const struct img_fsinfo *info;
    const struct img_part *p;
    size_t image;
    img_guest_volume (pv->g, i, &info, &p, &image);
    if (image != disk || p == NULL || p->number != part)
      continue;
    if (info == NULL || info->uuid[0] == '\0') {
      *why = "that partition has no filesystem UUID";
      return 0;
    }
    *out = xasprintf ("UUID=%s", info->uuid);
    return 0;
  }
  *why = part ? "no such partition" : "a whole-disk name";
  return 0;
}

/* Rewrites the value of root= / resume= style words inside a kernel
 * command line or similar space-separated text.  With FOR_PV, console=
 * words are dropped and console=CONSOLE appended. */
static char *
rewrite_cmdline (struct pv *pv, const char *args, bool for_pv, bool *changed)
{
  struct sb b = { 0 };
  const char *p = args;

  *changed = false;
  while (*p) {
    const char *w = p, *eq;
    size_t wl;
    char *nv = NULL;
    const char *why;

    while (*p && *p != ' ' && *p != '\t')
      p++;
    wl = (size_t) (p - w);
    eq = memchr (w, '=', wl);
    if (for_pv && wl >= 8 && strncmp (w, "console=", 8) == 0) {
      *changed = true;
    } else {
      if (eq && ((eq - w == 4 && strncmp (w, "root", 4) == 0)
                 || (eq - w == 6 && strncmp (w, "resume", 6) == 0)))
        rewrite_devname (pv, eq + 1, wl - (size_t) (eq + 1 - w), &nv, &why);
      if (b.len && b.s[b.len - 1] != ' ')
        sb_add (&b, " ", 1);
      if (nv) {
        sb_add (&b, w, (size_t) (eq + 1 - w));
        sb_adds (&b, nv);
        *changed = true;
        free (nv);
      } else
        sb_add (&b, w, wl);
    }
    while (*p == ' ' || *p == '\t')
      p++;
  }
  if (for_pv) {
    if (b.len && b.s[b.len - 1] != ' ')
      sb_add (&b, " ", 1);
    sb_addf (&b, "console=%s", pv->console);
    *changed = true;
  }
  if (b.oom)
    return NULL;
  return b.s ? b.s : xstrdup ("");
}

/* ---- choosing the kernel ---------------------------------------------- */

static bool
is_xenified (const char *ver)
{
  size_t l = strlen (ver);
  return (l > 3 && strcmp (ver + l - 3, "xen") == 0) || strstr (ver, "-xen") != NULL;
}

static char *
guest_text (struct pv *pv, const char *path, size_t *len)
{
  char *buf = NULL;
  size_t l = 0;

  if (img_plan_exists (pv->plan, path)
      && img_plan_read_file (pv->plan, path, 64u << 20, (void **) &buf, &l) == 0) {
    if (len)
      *len = l;
    return buf;
  }
  if (len)
    *len = 0;
  return NULL;
}

/* A file guest_text could not read though it exists (too big for the
 * budget, or damaged): the read's own message, kept in the context. */
static int
unreadable (struct pv *pv, const char *path)
{
  size_t l;
  char *buf = NULL;
  int r = img_plan_read_file (pv->plan, path, 64u << 20, (void **) &buf, &l);

  free (buf);
  if (r == 0)
    r = img_err (pv->ctx, -EIO, "%s: %s: cannot be read", pv->images[0], path);
  return r;
}

/* Where each driver is for the kernel: checks the module tree (guest or
 * host) so that a kernel without them is refused before anything is
 * written. */
static int
check_module_tree (struct pv *pv, const char *dep, size_t dep_len,
                   const char *builtin, size_t builtin_len, const char *where)
{
  struct img_kmod *km;
  int r, i;

  r = img_kmod_parse (pv->ctx, where, dep, dep_len, builtin, builtin_len, &km);
  if (r < 0)
    return r;
  for (i = 0; i < 2; i++)
    if (!img_kmod_find (km, pv->drivers[i]) && !img_kmod_builtin (km, pv->drivers[i])) {
      img_kmod_free (km);
      return img_err (pv->ctx, -ENOENT,
                      "%s: kernel %s has no %s module and does not build it in; "
                      "give its PV modules with --modules-from DIR (a /lib/modules/%s tree)",
                      pv->images[0], pv->kver, pv->drivers[i], pv->kver);
    }
  img_kmod_free (km);
  return 0;
}

static void
set_kernel_kind (struct pv *pv)
{
  pv->xenified = is_xenified (pv->kver);
  pv->console = pv->xenified ? "xvc0" : "hvc0";
  pv->drivers[0] = pv->xenified ? "xenblk" : "xen-blkfront";
  pv->drivers[1] = pv->xenified ? "xennet" : "xen-netfront";
}

/* --kernel-from DIR: DIR/boot/vmlinuz-VER (+ its initrd, config,
 * System.map) and DIR/lib/modules/VER (or DIR/usr/lib/modules/VER). */
static int
find_host_kernel (struct pv *pv)
{
  const char *dir = pv->o->kernel_from;
  char *boot = xasprintf ("%s/boot", dir), *p;
  const char *initrd_pat[] = { "%s/initrd.img-%s", "%s/initrd-%s.img",
                               "%s/initramfs-%s.img", "%s/initrd-%s", NULL };
  struct stat st;
  int i;

  if (stat (boot, &st) < 0 || !S_ISDIR (st.st_mode)) {
    free (boot);
    return img_err (pv->ctx, -ENOENT, "%s: no boot/ directory (expected DIR/boot/vmlinuz-VERSION)", dir);
  }
  if (pv->o->kernel)
    pv->kver = xstrdup (pv->o->kernel);
  else {
    /* The only vmlinuz-* there. */
    char *cmd_out = NULL;
    const char *argv[] = { "find", boot, "-maxdepth", "1", "-name", "vmlinuz-*", "-printf", "%f\n", NULL };
    int rc = run_command (argv, &cmd_out);
    char *nl;
    if (rc != 0 || cmd_out == NULL || *cmd_out == '\0'
        || ((nl = strchr (cmd_out, '\n')) && nl[1] != '\0')) {
      free (cmd_out);
      free (boot);
      return img_err (pv->ctx, -EINVAL, "%s: expected exactly one boot/vmlinuz-VERSION (or name it with --kernel)", dir);
    }
    if (nl)
      *nl = '\0';
    pv->kver = xstrdup (cmd_out + 8);
    free (cmd_out);
  }
  set_kernel_kind (pv);
  pv->host_vmlinuz = xasprintf ("%s/vmlinuz-%s", boot, pv->kver);
  if (access (pv->host_vmlinuz, R_OK) < 0) {
    int e = -errno;
    img_err (pv->ctx, e, "%s: %s", pv->host_vmlinuz, strerror (-e));
    free (boot);
    return e;
  }
  for (i = 0; initrd_pat[i]; i++) {
    p = xasprintf (initrd_pat[i], boot, pv->kver);
    if (access (p, R_OK) == 0) {
      pv->host_initrd = p;
      break;
    }
    free (p);
  }
  if (pv->host_initrd == NULL) {
    free (boot);
    return img_err (pv->ctx, -ENOENT,
                    "%s: no initrd for kernel %s in boot/ (initrd.img-%s or initrd-%s.img); "
                    "build one with the kernel (img2pv never runs mkinitramfs or dracut)",
                    dir, pv->kver, pv->kver, pv->kver);
  }
  p = xasprintf ("%s/config-%s", boot, pv->kver);
  if (access (p, R_OK) == 0)
    pv->host_config = p;
  else
    free (p);
  p = xasprintf ("%s/System.map-%s", boot, pv->kver);
  if (access (p, R_OK) == 0)
    pv->host_sysmap = p;
  else
    free (p);
  free (boot);
  if (pv->host_modules == NULL) {
    p = xasprintf ("%s/lib/modules/%s", dir, pv->kver);
    if (access (p, R_OK) < 0) {
      free (p);
      p = xasprintf ("%s/usr/lib/modules/%s", dir, pv->kver);
    }
    if (access (p, R_OK) < 0) {
      free (p);
      return img_err (pv->ctx, -ENOENT, "%s: no lib/modules/%s for kernel %s (or give it with --modules-from)",
                      dir, pv->kver, pv->kver);
    }
    pv->host_modules = p;
  }
  /* A kernel that cannot run as a PV guest is no use. */
  if (pv->host_config) {
    char *cfg;
    size_t len;
    if (host_read_file (pv->ctx, pv->host_config, 64u << 20, &cfg, &len) == 0) {
      /* A line of its own, the first one too. */
      struct sb t = { 0 };
      bool ok;
      sb_addf (&t, "\n%s", cfg);
      ok = t.s && (strstr (t.s, "\nCONFIG_XEN_PV=y\n") || strstr (t.s, "\nCONFIG_X86_64_XEN=y\n")
                   || strstr (t.s, "\nCONFIG_X86_XEN=y\n")
                   || (strstr (t.s, "\nCONFIG_XEN=y\n") && !strstr (t.s, "CONFIG_XEN_PV")));
      sb_free (&t);
      free (cfg);
      if (!ok)
        return img_err (pv->ctx, -EINVAL, "%s: kernel %s is not built for Xen PV (its config has no CONFIG_XEN_PV=y)",
                        pv->host_config, pv->kver);
    }
  }
  return 0;
}

static const struct img_kernel_info *
find_kernel (struct pv *pv, const char *ver)
{
  size_t i;

  for (i = 0; i < pv->insp->n_kernels; i++)
    if (strcmp (pv->insp->kernels[i].version, ver) == 0)
      return &pv->insp->kernels[i];
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

static int
choose_kernel (struct pv *pv)
{
  const struct img_kernel_info *k = NULL;
  struct sb tried = { 0 };
  size_t i, j;

  if (pv->o->kernel_from)
    return find_host_kernel (pv);
  if (pv->o->kernel) {
    k = find_kernel (pv, pv->o->kernel);
    if (k == NULL)
      return img_err (pv->ctx, -ENOENT, "%s: the guest has no kernel %s (see img-inspect)",
                      pv->images[0], pv->o->kernel);
    if (strcmp (k->xen, "none") == 0)
      return img_err (pv->ctx, -EINVAL, "%s: kernel %s is not built for Xen PV; "
                      "supply one with --kernel-from DIR", pv->images[0], k->version);
  } else {
    /* The default entry's kernel if it can run PV, else the newest that can
     * ("unknown": no config to tell, taken only when nothing better). */
    for (i = 0; i < pv->insp->n_bootcfgs && k == NULL; i++) {
      const struct img_bootcfg *c = &pv->insp->bootcfgs[i];
      int d = c->default_index >= 0 ? c->default_index : 0;
      const char *v;
      if ((size_t) d < c->n_entries && (v = entry_version (&c->entries[d]))) {
        const struct img_kernel_info *dk = find_kernel (pv, v);
        if (dk && (strcmp (dk->xen, "pvops") == 0 || strcmp (dk->xen, "xenified") == 0))
          k = dk;
      }
    }
    for (i = 0; i < pv->insp->n_kernels && k == NULL; i++)
      if (strcmp (pv->insp->kernels[i].xen, "pvops") == 0
          || strcmp (pv->insp->kernels[i].xen, "xenified") == 0)
        k = &pv->insp->kernels[i];
    for (i = 0; i < pv->insp->n_kernels && k == NULL; i++)
      if (strcmp (pv->insp->kernels[i].xen, "unknown") == 0 && pv->insp->kernels[i].initrd)
        k = &pv->insp->kernels[i];
    if (k == NULL) {
      for (j = 0; j < pv->insp->n_kernels; j++)
        sb_addf (&tried, "%s%s (%s)", j ? ", " : "", pv->insp->kernels[j].version,
                 pv->insp->kernels[j].xen);
      img_err (pv->ctx, -ENOENT,
               "%s: no kernel that can boot as a Xen PV guest (%s%s); supply one with "
               "--kernel-from DIR (DIR/boot/vmlinuz-VER, its initrd, DIR/lib/modules/VER)",
               pv->images[0], pv->insp->n_kernels ? "kernels: " : "no kernels found",
               tried.s ? tried.s : "");
      sb_free (&tried);
      return -ENOENT;
    }
  }
  if (k->initrd == NULL)
    return img_err (pv->ctx, -ENOENT, "%s: kernel %s has no initrd in /boot; img2pv adds drivers "
                    "to an initrd but never builds one", pv->images[0], k->version);
  pv->kver = xstrdup (k->version);
  pv->vmlinuz = xstrdup (k->vmlinuz);
  pv->initrd = xstrdup (k->initrd);
  pv->moddir = xstrdup (k->modules);
  set_kernel_kind (pv);
  if (pv->o->modules_from)
    return 0;                   /* checked on the host tree */
  if (pv->moddir == NULL)
    return img_err (pv->ctx, -ENOENT, "%s: kernel %s has no /lib/modules/%s; give its modules with "
                    "--modules-from DIR", pv->images[0], pv->kver, pv->kver);
  {
    char *dp = xasprintf ("%s/modules.dep", pv->moddir);
    char *bp = xasprintf ("%s/modules.builtin", pv->moddir);
    size_t dl, bl;
    char *dep = guest_text (pv, dp, &dl), *bi = guest_text (pv, bp, &bl);
    int r;
    if (dep == NULL && img_plan_exists (pv->plan, dp))
      r = unreadable (pv, dp);
    else if (dep == NULL)
      r = img_err (pv->ctx, -ENOENT, "%s: %s missing: cannot tell the drivers' dependencies",
                   pv->images[0], dp);
    else
      r = check_module_tree (pv, dep, dl, bi, bl, dp);
    free (dep);
    free (bi);
    free (dp);
    free (bp);
    return r;
  }
}

/* The kernel version becomes a host path component (the depmod staging
 * tree, the extracted kernel's file name) and a depmod argument: one
 * component from a conservative set, or nothing is done. */
static int
check_kernel_version (struct pv *pv)
{
  char *what = xasprintf ("%s: kernel", pv->images[0]);
  int r = img_host_name_check (pv->ctx, what, "kernel version", pv->kver);
  free (what);
  return r;
}

static int
finish_host_kernel (struct pv *pv)
{
  char *dp, *bp, *dep = NULL, *bi = NULL;
  size_t dl = 0, bl = 0;
  const char *base;
  int r;

  if (pv->o->modules_from && pv->host_modules == NULL)
    pv->host_modules = xstrdup (pv->o->modules_from);
  if (pv->host_modules == NULL)
    return 0;
  base = strrchr (pv->host_modules, '/');
  base = base && base[1] ? base + 1 : pv->host_modules;
  if (pv->kver == NULL)
    return 0;
  if (strcmp (base, pv->kver) != 0 && !pv->o->kernel_from)
    return img_err (pv->ctx, -EINVAL, "%s: modules for %s, but the kernel is %s (name it with --kernel %s)",
                    pv->host_modules, base, pv->kver, base);
  dp = xasprintf ("%s/modules.dep", pv->host_modules);
  bp = xasprintf ("%s/modules.builtin", pv->host_modules);
  r = host_read_file (pv->ctx, dp, 64u << 20, &dep, &dl);
  if (r == 0) {
    if (host_read_file (pv->ctx, bp, 64u << 20, &bi, &bl) < 0)
      bi = NULL;
    r = check_module_tree (pv, dep, dl, bi, bl, dp);
  }
  free (dep);
  free (bi);
  free (dp);
  free (bp);
  if (r == 0 && pv->moddir == NULL)
    pv->moddir = xasprintf ("/lib/modules/%s", pv->kver);
  if (r == 0 && pv->o->kernel_from) {
    const char *ib = strrchr (pv->host_initrd, '/') + 1;
    pv->vmlinuz = xasprintf ("/boot/vmlinuz-%s", pv->kver);
    pv->initrd = xasprintf ("/boot/%s", ib);
    set_kernel_kind (pv);
  }
  return r;
}

/* ---- edit: kernel-from ------------------------------------------------ */

/* Copies the host tree HOST into the guest as GUEST through the plan
 * (idempotent: files already identical are left alone). */
static int
copy_tree (struct pv *pv, const char *host, const char *guest, unsigned depth)
{
  struct stat st;
  int r = 0;

  if (depth > 64)
    return img_err (pv->ctx, -ELOOP, "%s: too deep", host);
  if (lstat (host, &st) < 0)
    return img_err (pv->ctx, -errno, "%s: %s", host, strerror (errno));
  if (S_ISDIR (st.st_mode)) {
    char *cmd_out = NULL, *line, *save;
    const char *argv[] = { "find", host, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\n", NULL };
    if ((r = img_plan_mkdir_p (pv->plan, guest, st.st_mode & 07777)) < 0)
      return r;
    if (run_command (argv, &cmd_out) != 0) {
      free (cmd_out);
      return img_err (pv->ctx, -EIO, "%s: cannot list the directory", host);
    }
    for (line = strtok_r (cmd_out, "\n", &save); line && r == 0; line = strtok_r (NULL, "\n", &save)) {
      char *h = xasprintf ("%s/%s", host, line), *gp = xasprintf ("%s/%s", guest, line);
      r = copy_tree (pv, h, gp, depth + 1);
      free (h);
      free (gp);
    }
    free (cmd_out);
  } else if (S_ISREG (st.st_mode)) {
    char *buf;
    size_t len;
    if ((r = host_read_file (pv->ctx, host, MAX_INITRD, &buf, &len)) < 0)
      return r;
    r = img_plan_write_file (pv->plan, guest, buf, len, st.st_mode & 07777);
    free (buf);
  } else if (S_ISLNK (st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink (host, target, sizeof target - 1);
    if (n < 0)
      return img_err (pv->ctx, -errno, "%s: %s", host, strerror (errno));
    target[n] = '\0';
    r = img_plan_symlink (pv->plan, target, guest);
  } else
    r = img_err (pv->ctx, -EINVAL, "%s: not a file, directory or symlink; not copied", host);
  return r;
}

static int
edit_kernel_from (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  char *gp;
  int r = 0;

  if (pv->o->kernel_from) {
    const char *files[] = { pv->host_vmlinuz, pv->host_initrd, pv->host_config, pv->host_sysmap };
    size_t i;
    for (i = 0; i < 4 && r == 0; i++) {
      if (files[i] == NULL)
        continue;
      gp = xasprintf ("/boot/%s", strrchr (files[i], '/') + 1);
      r = copy_tree (pv, files[i], gp, 0);
      free (gp);
    }
  }
  if (r == 0 && pv->host_modules) {
    /* /lib/modules/VER (on merged-/usr guests /lib is a link: the same). */
    r = copy_tree (pv, pv->host_modules, pv->moddir, 0);
  }
  return r;
}

/* ---- edit: initrd-drivers --------------------------------------------- */

static const char *const kmod_index[] = {
  "modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
  "modules.softdep", "modules.symbols", "modules.symbols.bin",
  "modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname", NULL
};

/* The entry of the initrd for the module file REL under MODROOT, with or
 * without a compression suffix. */
static const struct img_cpio_entry *
initrd_module (const struct img_initrd *ird, const char *modroot, const char *rel)
{
  const char *sfx[] = { "", ".xz", ".zst", ".gz", NULL };
  const char *ko = strstr (rel, ".ko");
  const struct img_cpio_entry *e;
  char *p = xasprintf ("%s/%s", modroot, rel);
  size_t i;

  e = img_initrd_lookup (ird, p);
  free (p);
  if (e && S_ISREG (e->mode))
    return e;
  for (i = 0; ko && sfx[i]; i++) {
    p = xasprintf ("%s/%.*s.ko%s", modroot, (int) (ko - rel), rel, sfx[i]);
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
  if (init && S_ISREG (init->mode) && init->size > 11 && memcmp (init->data, "#!/bin/nash", 11) == 0)
    return "nash";
  return "unknown";
}

/* Adds DIR and its parents (as directories) to the layer once each. */
static int
layer_dirs (struct pv *pv, struct img_cpio *cpio, char ***done, size_t *n_done,
            const char *path)
{
  char *p = xstrdup (path), *s;
  size_t i;
  int r = 0;

  for (s = strchr (p, '/'); r == 0; s = strchr (s + 1, '/')) {
    bool seen = false;
    if (s)
      *s = '\0';
    for (i = 0; i < *n_done && !seen; i++)
      seen = strcmp ((*done)[i], p) == 0;
    if (!seen) {
      char **nd = realloc (*done, (*n_done + 1) * sizeof *nd);
      if (nd == NULL) {
        r = oom (pv);
        break;
      }
      *done = nd;
      nd[(*n_done)++] = xstrdup (p);
      r = img_cpio_add (cpio, p, S_IFDIR | 0755, 0, 0, (uint64_t) time (NULL), 0, 0, NULL, 0);
    }
    if (s == NULL)
      break;
    *s = '/';
  }
  free (p);
  return r;
}

/* What depmod reads of a module tree: the module files and the lists it
 * takes as input.  Nothing else of the guest's initrd is staged. */
static bool
depmod_input (const char *rel)
{
  static const char *const lists[] = { "modules.order", "modules.builtin",
                                       "modules.builtin.modinfo", NULL };
  static const char *const sfx[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz", NULL };
  size_t i, n = strlen (rel), m;

  for (i = 0; lists[i]; i++)
    if (strcmp (rel, lists[i]) == 0)
      return true;
  for (i = 0; sfx[i]; i++)
    if (n > (m = strlen (sfx[i])) && strcmp (rel + n - m, sfx[i]) == 0)
      return true;
  return false;
}

#define DEPMOD_FILE_MAX (64u << 20)
#define DEPMOD_TOTAL_MAX (512u << 20)

/* The module index for the modules the initrd will hold: its own module
 * files plus ADDED, run through the host's depmod in a private directory
 * (host code on copies of files; nothing of the guest runs).  Every name
 * staged there comes from the guest, so each goes through the hostdir
 * checks and openat2 below the private directory; only depmod's inputs
 * are staged, each and all bounded in size. */
static int
regen_index (struct pv *pv, const struct img_initrd *ird, const char *modroot,
             char **added, void **added_buf, size_t *added_len, size_t n_added,
             struct img_cpio *cpio)
{
  struct img_hostdir *hd = NULL;
  char *what = xasprintf ("%s: initrd %s", pv->images[0], pv->initrd), *out = NULL;
  size_t i, plen = strlen (modroot);
  uint64_t total = 0;
  int r, rc;

  if ((r = img_host_name_check (pv->ctx, what, "kernel version", pv->kver)) < 0)
    goto out;
  if ((r = img_hostdir_new (pv->ctx, "img2pv-depmod", &hd)) < 0)
    goto out;
  for (i = 0; i < img_initrd_n_entries (ird) + n_added && r == 0; i++) {
    const char *rel;
    const void *data;
    size_t size;
    char *name;
    if (i < img_initrd_n_entries (ird)) {
      const struct img_cpio_entry *e = img_initrd_entry (ird, i);
      /* Only the kernel's view: the last entry for a name wins. */
      if (!S_ISREG (e->mode) || strncmp (e->name, modroot, plen) != 0 || e->name[plen] != '/'
          || img_initrd_lookup (ird, e->name) != e)
        continue;
      rel = e->name + plen + 1;
      data = e->data;
      size = e->size;
    } else {
      rel = added[i - img_initrd_n_entries (ird)];
      data = added_buf[i - img_initrd_n_entries (ird)];
      size = added_len[i - img_initrd_n_entries (ird)];
    }
    if (!depmod_input (rel))
      continue;
    total += size;
    if (size > DEPMOD_FILE_MAX || total > DEPMOD_TOTAL_MAX) {
      char esc[256];
      img_host_name_escape (rel, strlen (rel), esc, sizeof esc);
      r = img_err (pv->ctx, -EFBIG, "%s: module files past %u MiB (at \"%s\"): not indexed",
                   what, (size > DEPMOD_FILE_MAX ? DEPMOD_FILE_MAX : DEPMOD_TOTAL_MAX) >> 20, esc);
      break;
    }
    name = xasprintf ("lib/modules/%s/%s", pv->kver, rel);
    r = img_hostdir_write (hd, what, name, data, size, 0644);
    free (name);
  }
  if (r == 0) {
    /* The version was checked: one component, no leading "-". */
    const char *argv[] = { "depmod", "-b", img_hostdir_path (hd), pv->kver, NULL };
    rc = run_command (argv, &out);
    if (rc != 0) {
      char *nl = out ? strchr (out, '\n') : NULL;
      if (nl)
        *nl = '\0';
      r = img_err (pv->ctx, -EIO, "%s: host depmod failed: %s", what,
                   out && *out ? out : rc < 0 ? strerror (-rc) : "non-zero exit");
    }
  }
  for (i = 0; kmod_index[i] && r == 0; i++) {
    char *p = xasprintf ("lib/modules/%s/%s", pv->kver, kmod_index[i]), *name;
    void *buf;
    size_t len;
    rc = img_hostdir_read (hd, what, p, 256u << 20, &buf, &len);
    free (p);
    if (rc == -ENOENT)
      continue;
    if (rc < 0) {
      r = rc;
      break;
    }
    name = xasprintf ("%s/%s", modroot, kmod_index[i]);
    r = img_cpio_add (cpio, name, S_IFREG | 0644, 0, 0, (uint64_t) time (NULL), 0, 0, buf, len);
    free (name);
    free (buf);
  }
 out:
  img_hostdir_free (hd);
  free (out);
  free (what);
  return r;
}

/* Adds the insmod lines for MODS (initrd paths) to a nash init, before it
 * makes the root device. */
static char *
nash_init (const struct img_cpio_entry *init, char **mods, size_t n)
{
  const char *t = (const char *) init->data, *anchor = NULL, *p;
  struct sb b = { 0 };
  size_t i;

  for (p = t; p && p < t + init->size; p = memchr (p, '\n', t + init->size - p), p = p ? p + 1 : NULL)
    if (strncmp (p, "mkrootdev", 9) == 0 || strncmp (p, "echo Creating root device", 25) == 0
        || strncmp (p, "echo \"Creating root device", 26) == 0) {
      anchor = p;
      break;
    }
  if (anchor == NULL)
    return NULL;
  sb_add (&b, t, (size_t) (anchor - t));
  for (i = 0; i < n; i++) {
    const char *base = strrchr (mods[i], '/');
    base = base ? base + 1 : mods[i];
    sb_addf (&b, "echo \"Loading %s module\"\ninsmod /%s\n", base, mods[i]);
  }
  sb_add (&b, anchor, init->size - (size_t) (anchor - t));
  return b.oom ? NULL : b.s;
}

struct layer_state {
  struct img_cpio *cpio;
  char **dirs;
  size_t n_dirs;
  bool any;
};

static int
edit_initrd_drivers (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  void *orig = NULL, *out = NULL;
  size_t orig_len, out_len, i, j, n_need = 0, n_added = 0;
  struct img_initrd *ird = NULL;
  struct img_kmod *km = NULL;
  struct layer_state L = { 0 };
  const char **need = NULL;
  char **added = NULL, *modroot = NULL, *dep = NULL, *bi = NULL, *dp, *bp;
  void **added_buf = NULL;
  size_t *added_len = NULL, dl = 0, bl = 0;
  const char *flavour, *comp;
  int r;

  r = img_plan_read_file (plan, pv->initrd, MAX_INITRD, &orig, &orig_len);
  if (r < 0)
    return r;
  {
    char *what = xasprintf ("%s: %s", pv->images[0], pv->initrd);
    r = img_initrd_parse (pv->ctx, what, orig, orig_len, 4ull << 30, &ird);
    free (what);
  }
  if (r < 0)
    goto out;
  flavour = initrd_flavour (ird);
  img_plan_fact (plan, "initrd", "%s (%s, %zu segment%s)", pv->initrd, flavour,
                 img_initrd_n_segments (ird), img_initrd_n_segments (ird) == 1 ? "" : "s");

  dp = xasprintf ("%s/modules.dep", pv->moddir);
  bp = xasprintf ("%s/modules.builtin", pv->moddir);
  dep = guest_text (pv, dp, &dl);
  bi = guest_text (pv, bp, &bl);
  if (dep == NULL && img_plan_exists (plan, dp))
    r = unreadable (pv, dp);
  else if (dep == NULL)
    r = img_err (pv->ctx, -ENOENT, "%s: %s missing", pv->images[0], dp);
  else
    r = img_kmod_parse (pv->ctx, dp, dep, dl, bi, bl, &km);
  free (dp);
  free (bp);
  if (r < 0)
    goto out;

  /* Where the initrd keeps modules: its own layout wins. */
  {
    char *u = xasprintf ("usr/lib/modules/%s", pv->kver);
    const struct img_cpio_entry *e = img_initrd_lookup (ird, u);
    if (strcmp (flavour, "nash") == 0)
      modroot = xstrdup ("lib");
    else if (e && S_ISDIR (e->mode))
      modroot = u, u = NULL;
    else
      modroot = xasprintf ("lib/modules/%s", pv->kver);
    free (u);
  }

  for (i = 0; i < 2; i++)
    if (!img_kmod_builtin (km, pv->drivers[i]))
      need = realloc (need, (n_need + 1) * sizeof *need), need[n_need++] = pv->drivers[i];
  if (n_need == 0) {
    r = img_plan_note (plan, "%s and %s are built into kernel %s: the initrd needs nothing",
                       pv->drivers[0], pv->drivers[1], pv->kver);
    goto out;
  }
  if ((r = img_cpio_new (pv->ctx, &L.cpio)) < 0)
    goto out;

  /* Module files the initrd lacks. */
  {
    const char **paths;
    size_t n_paths;
    if ((r = img_kmod_closure (km, need, n_need, &paths, &n_paths)) < 0)
      goto out;
    for (i = 0; i < n_paths && r == 0; i++) {
      const char *rel = paths[i];
      char *gp, *ip;
      void *buf;
      size_t len;
      /* A guest's modules.dep names the files the layer and the depmod
       * staging tree take: relative, no "..", no control bytes. */
      {
        char *what = xasprintf ("%s: %s/modules.dep", pv->images[0], pv->moddir);
        r = img_host_path_check (pv->ctx, what, rel, strlen (rel));
        free (what);
        if (r < 0)
          break;
      }
      if (strcmp (flavour, "nash") == 0) {
        const char *b = strrchr (rel, '/');
        char *flat = xasprintf ("%s", b ? b + 1 : rel);
        const struct img_cpio_entry *e = img_initrd_lookup (ird, (ip = xasprintf ("lib/%s", flat)));
        free (flat);
        if (e && S_ISREG (e->mode)) {
          free (ip);
          continue;
        }
      } else {
        if (initrd_module (ird, modroot, rel)) 
          continue;
        ip = xasprintf ("%s/%s", modroot, rel);
      }
      gp = xasprintf ("%s/%s", pv->moddir, rel);
      r = img_plan_read_file (plan, gp, 256u << 20, &buf, &len);
      free (gp);
      if (r < 0) {
        free (ip);
        break;
      }
      {
        char *d = xstrdup (ip), *s = strrchr (d, '/');
        if (s) {
          *s = '\0';
          r = layer_dirs (pv, L.cpio, &L.dirs, &L.n_dirs, d);
        }
        free (d);
      }
      if (r == 0)
        r = img_cpio_add (L.cpio, ip, S_IFREG | 0644, 0, 0, (uint64_t) time (NULL), 0, 0, buf, len);
      added = realloc (added, (n_added + 1) * sizeof *added);
      added_buf = realloc (added_buf, (n_added + 1) * sizeof *added_buf);
      added_len = realloc (added_len, (n_added + 1) * sizeof *added_len);
      added[n_added] = xstrdup (strcmp (flavour, "nash") == 0 ? ip : rel);
      added_buf[n_added] = buf;
      added_len[n_added++] = len;
      free (ip);
      L.any = true;
    }
    free (paths);
    if (r < 0)
      goto out;
  }
  if (n_added && strcmp (flavour, "unknown") == 0) {
    r = img_err (pv->ctx, -ENOTSUP, "%s: initrd %s lacks %s and its format is not one img2pv can extend "
                 "(initramfs-tools, dracut, nash); rebuild it in the guest with the drivers",
                 pv->images[0], pv->initrd, pv->drivers[0]);
    goto out;
  }
  if (n_added && strcmp (flavour, "nash") != 0)
    r = regen_index (pv, ird, modroot, added, added_buf, added_len, n_added, L.cpio);
  if (r < 0)
    goto out;

  /* Make the initrd load them, whatever the hardware probing does. */
  if (strcmp (flavour, "initramfs-tools") == 0) {
    const struct img_cpio_entry *e = img_initrd_lookup (ird, "conf/modules");
    struct sb b = { 0 };
    bool missing = false;
    if (e && S_ISREG (e->mode))
      sb_add (&b, (const char *) e->data, e->size);
    if (b.len && b.s[b.len - 1] != '\n')
      sb_add (&b, "\n", 1);
    for (i = 0; i < n_need; i++) {
      bool have = b.s && img_textconf_has_line (b.s, b.len, need[i]);
      if (!have) {
        sb_addf (&b, "%s\n", need[i]);
        missing = true;
      }
    }
    if (missing) {
      r = img_cpio_add (L.cpio, "conf/modules", S_IFREG | 0644, 0, 0, (uint64_t) time (NULL), 0, 0,
                        b.s, b.len);
      L.any = true;
    }
    sb_free (&b);
  } else if (strcmp (flavour, "dracut") == 0) {
    const char *path = "etc/modules-load.d/img2pv-xen.conf";
    char *text = xasprintf ("# Xen PV drivers, added by img2pv\n%s\n%s\n", need[0],
                            n_need > 1 ? need[1] : "");
    const struct img_cpio_entry *e = img_initrd_lookup (ird, path);
    if (e == NULL || e->size != strlen (text) || memcmp (e->data, text, e->size) != 0) {
      r = layer_dirs (pv, L.cpio, &L.dirs, &L.n_dirs, "etc/modules-load.d");
      if (r == 0)
        r = img_cpio_add (L.cpio, path, S_IFREG | 0644, 0, 0, (uint64_t) time (NULL), 0, 0, text,
                          strlen (text));
      L.any = true;
    }
    free (text);
  } else if (strcmp (flavour, "nash") == 0) {
    const struct img_cpio_entry *init = img_initrd_lookup (ird, "init");
    char **load = NULL;
    size_t n_load = 0;
    for (i = 0; i < n_need; i++) {
      const char *rel = img_kmod_find (km, need[i]), *b;
      char *line;
      if (rel == NULL)
        continue;
      b = strrchr (rel, '/');
      {
        char *q;
        const char *why;
        if (img_quote_nash (b ? b + 1 : rel, &q, &why) < 0) {
          char *t = img_quote_term (rel, 0);
          r = img_err (pv->ctx, -EINVAL, "%s: initrd %s: module file %s: %s", pv->images[0],
                       pv->initrd, t ? t : "", why);
          free (t);
          break;
        }
        free (q);
      }
      line = xasprintf ("insmod /lib/%s", b ? b + 1 : rel);
      if (memmem (init->data, init->size, line, strlen (line)) == NULL) {
        load = realloc (load, (n_load + 1) * sizeof *load);
        load[n_load++] = xasprintf ("lib/%s", b ? b + 1 : rel);
      }
      free (line);
    }
    if (n_load && r == 0) {
      char *ni = nash_init (init, load, n_load);
      if (ni == NULL)
        r = img_err (pv->ctx, -ENOTSUP, "%s: initrd %s: its nash init has no mkrootdev line "
                     "to load %s before", pv->images[0], pv->initrd, pv->drivers[0]);
      else {
        r = img_cpio_add (L.cpio, "init", S_IFREG | 0755, 0, 0, (uint64_t) time (NULL), 0, 0, ni,
                          strlen (ni));
        L.any = true;
      }
      free (ni);
    }
    for (j = 0; j < n_load; j++)
      free (load[j]);
    free (load);
  } else if (!n_added)
    img_plan_note (plan, "initrd %s has %s and %s; its format leaves loading them to its own logic",
                   pv->initrd, pv->drivers[0], pv->drivers[1]);
  if (r < 0)
    goto out;

  if (!L.any) {
    r = img_plan_note (plan, "initrd %s already holds and loads %s and %s", pv->initrd,
                       pv->drivers[0], pv->drivers[1]);
    goto out;
  }
  {
    void *layer;
    size_t layer_len;
    const struct img_initrd_segment *last = img_initrd_segment (ird, img_initrd_n_segments (ird) - 1);
    comp = last ? last->compression : "none";
    if ((r = img_cpio_finish (L.cpio, &layer, &layer_len)) < 0)
      goto out;
    r = img_initrd_append (pv->ctx, orig, orig_len, layer, layer_len, comp, &out, &out_len);
    free (layer);
    if (r < 0)
      goto out;
  }
  r = img_plan_write_file (plan, pv->initrd, out, out_len, 0644);
  if (r == 0)
    r = img_plan_note (plan, "initrd %s: a %s layer appended (%zu module file%s%s); the original "
                       "is its first %zu bytes", pv->initrd, comp, n_added, n_added == 1 ? "" : "s",
                       strcmp (flavour, "initramfs-tools") == 0 ? ", conf/modules"
                       : strcmp (flavour, "dracut") == 0 ? ", modules-load.d" : ", init",
                       orig_len);
 out:
  for (i = 0; i < n_added; i++) {
    free (added[i]);
    free (added_buf[i]);
  }
  free (added);
  free (added_buf);
  free (added_len);
  for (i = 0; i < L.n_dirs; i++)
    free (L.dirs[i]);
  free (L.dirs);
  img_cpio_free (L.cpio);
  img_kmod_free (km);
  img_initrd_free (ird);
  free (need);
  free (modroot);
  free (dep);
  free (bi);
  free (orig);
  free (out);
  return r;
}

/* ---- edit: initramfs-config ------------------------------------------- */

/* Appends the lines of ADD that TEXT lacks (whole-line compare) to PATH. */
static int
ensure_lines (struct pv *pv, const char *path, const char *const *add, size_t n,
              const char *header, uint32_t mode)
{
  char *text;
  size_t len, i;
  struct sb b = { 0 };
  bool changed = false;
  int r;

  if ((r = read_text (pv, path, &text, &len)) < 0)
    return r;
  if (text)
    sb_add (&b, text, len);
  if (b.len && b.s[b.len - 1] != '\n')
    sb_add (&b, "\n", 1);
  for (i = 0; i < n; i++) {
    bool have = text && img_textconf_has_line (text, strlen (text), add[i]);
    if (!have) {
      if (!changed && header)
        sb_adds (&b, header);
      sb_addf (&b, "%s\n", add[i]);
      changed = true;
    }
  }
  r = changed ? write_text (pv, path, &b, mode) : 0;
  sb_free (&b);
  free (text);
  return r;
}

/* The value of KEY="..." in shell-style config TEXT (first match), or NULL. */
static char *
shell_value (const char *text, const char *key, const char **line_start,
             const char **line_end)
{
  size_t ls, le;
  char *v = NULL;

  if (text == NULL || img_textconf_get (text, strlen (text), key, &v, &ls, &le) < 0)
    return NULL;
  if (line_start)
    *line_start = text + ls;
  if (line_end)
    *line_end = text + le;
  return v;
}

/* Sets KEY="VALUE" in a shell-style config (replacing its first line). */
static int
set_shell_value (struct pv *pv, const char *path, const char *key, const char *value)
{
  char *text, *old, *q = NULL;
  size_t len;
  const char *ls, *le;
  struct sb b = { 0 };
  int r;

  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL)
    return r;
  old = shell_value (text, key, &ls, &le);
  if (old && strcmp (old, value) == 0) {
    free (old);
    free (text);
    return 0;
  }
  if (img_quote_sh (value, &q, NULL) < 0) {
    free (old);
    free (text);
    return oom (pv);
  }
  if (old) {
    sb_add (&b, text, (size_t) (ls - text));
    sb_addf (&b, "%s=%s", key, q);
    sb_adds (&b, le);
  } else {
    sb_add (&b, text, len);
    if (b.len && b.s[b.len - 1] != '\n')
      sb_add (&b, "\n", 1);
    sb_addf (&b, "%s=%s\n", key, q);
  }
  free (q);
  r = write_text (pv, path, &b, 0644);
  sb_free (&b);
  free (old);
  free (text);
  return r;
}

static int
edit_initramfs_config (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  int r = 0;

  if (strcmp (pv->flavour, "initramfs-tools") == 0) {
    r = ensure_lines (pv, "/etc/initramfs-tools/modules", pv->drivers, 2,
                      "# Xen PV drivers (img2pv)\n", 0644);
  } else if (strcmp (pv->flavour, "dracut") == 0) {
    struct sb b = { 0 };
    sb_addf (&b, "# Xen PV drivers in every initramfs dracut builts (img2pv)\nadd_drivers+=\" %s %s \"\n",
             pv->drivers[0], pv->drivers[1]);
    r = img_plan_mkdir_p (plan, "/etc/dracut.conf.d", 0755);
    if (r == 0)
      r = write_text (pv, "/etc/dracut.conf.d/img2pv-xen.conf", &b, 0644);
    sb_free (&b);
  } else if (!img_plan_exists (plan, "/etc/sysconfig/kernel")) {
    /* mkinitrd era (RHEL 5 and alike): modprobe.conf aliases drive it. */
    const char *path = img_plan_exists (plan, "/etc/modprobe.conf") ? "/etc/modprobe.conf"
                       : "/etc/modprobe.d/img2pv-xen.conf";
    char *text;
    size_t len;
    if ((r = read_text (pv, path, &text, &len)) < 0)
      return r;
    {
      char *blk = NULL, *net = NULL;
      const char *add[2];
      size_t n = 0;
      char pat[64];
      int idx = 0;
      snprintf (pat, sizeof pat, " %s", pv->drivers[0]);
      if (!(text && strstr (text, "scsi_hostadapter") && strstr (text, pat))) {
        /* The next free scsi_hostadapterN. */
        for (;;) {
          char k[40];
          snprintf (k, sizeof k, idx ? "alias scsi_hostadapter%d " : "alias scsi_hostadapter ", idx);
          if (!(text && strstr (text, k)))
            break;
          idx++;
        }
        blk = idx ? xasprintf ("alias scsi_hostadapter%d %s", idx, pv->drivers[0])
                  : xasprintf ("alias scsi_hostadapter %s", pv->drivers[0]);
        add[n++] = blk;
      }
      snprintf (pat, sizeof pat, " %s", pv->drivers[1]);
      if (!(text && strstr (text, "alias eth0") && strstr (text, pat)))
        add[n++] = net = xasprintf ("alias eth0 %s", pv->drivers[1]);
      if (n && text && strstr (text, "alias eth0 ") && net) {
        /* Replace the HVM NIC's alias rather than add a second one. */
        struct sb b = { 0 };
        const char *p = text;
        while (*p) {
          const char *e = strchr (p, '\n');
          size_t l = e ? (size_t) (e - p + 1) : strlen (p);
          if (strncmp (p, "alias eth0 ", 11) == 0)
            sb_addf (&b, "%s\n", net);
          else
            sb_add (&b, p, l);
          p += l;
        }
        free (text);
        text = NULL;
        r = write_text (pv, path, &b, 0644);
        sb_free (&b);
        n = blk ? 1 : 0;
      }
      if (r == 0 && n)
        r = ensure_lines (pv, path, add, n, NULL, 0644);
      free (blk);
      free (net);
    }
    free (text);
  }
  if (r == 0 && img_plan_exists (plan, "/etc/sysconfig/kernel")) {
    /* SUSE: INITRD_MODULES. */
    char *text, *v;
    size_t len;
    if ((r = read_text (pv, "/etc/sysconfig/kernel", &text, &len)) < 0)
      return r;
    v = shell_value (text, "INITRD_MODULES", NULL, NULL);
    {
      struct sb b = { 0 };
      int i;
      sb_adds (&b, v ? v : "");
      for (i = 0; i < 2; i++) {
        char pat[64];
        snprintf (pat, sizeof pat, " %s ", pv->drivers[i]);
        struct sb t = { 0 };
        sb_addf (&t, " %s ", b.s ? b.s : "");
        if (!strstr (t.s, pat))
          sb_addf (&b, "%s%s", b.len ? " " : "", pv->drivers[i]);
        sb_free (&t);
      }
      if (!v || strcmp (v, b.s ? b.s : "") != 0)
        r = set_shell_value (pv, "/etc/sysconfig/kernel", "INITRD_MODULES", b.s ? b.s : "");
      sb_free (&b);
    }
    free (v);
    free (text);
  }
  return r;
}

/* ---- edit: tls --------------------------------------------------------- */

static int
edit_tls (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  const char *dirs[] = { "/lib/tls", "/usr/lib/tls", "/lib64/tls", "/usr/lib64/tls",
                         "/lib/i686/nosegneg", NULL };
  char *seen[8] = { 0 };
  size_t n_seen = 0, i, k;
  bool any = false;
  int r = 0;

  if (pv->o->keep_tls)
    return img_plan_note (plan, "/lib/tls kept (--keep-tls)");
  for (i = 0; dirs[i] && r == 0; i++) {
    char *canon = NULL, *aside;
    struct img_stat st;
    bool dup = false;

    if (!img_plan_exists (plan, dirs[i]) || img_guest_lstat (pv->g, dirs[i], &st) < 0
        || !S_ISDIR (st.mode))
      continue;
    if (img_guest_realpath (pv->g, dirs[i], true, &canon) < 0)
      continue;
    for (k = 0; k < n_seen; k++)
      dup |= strcmp (seen[k], canon) == 0;
    if (dup) {
      free (canon);
      continue;
    }
    seen[n_seen++] = canon;
    aside = xasprintf ("%s.disabled", canon);
    r = img_plan_rename (plan, canon, aside);
    any = true;
    free (aside);
  }
  for (k = 0; k < n_seen; k++)
    free (seen[k]);
  if (r == 0 && !any) {
    bool done = img_plan_exists (plan, "/lib/tls.disabled") || img_plan_exists (plan, "/usr/lib/tls.disabled");
    if (!done)
      r = img_plan_note (plan, "no /lib/tls (nor /usr/lib/tls, /lib64/tls): nothing to disable");
  }
  return r;
}

/* ---- edit: udev-net ----------------------------------------------------- */

static void
take_mac (struct pv *pv, const char *text)
{
  if (pv->mac[0] || text == NULL)
    return;
  /* Strictly hex:colon (netrules.c), checked again as the xl config
   * takes it (quote.c). */
  if (img_netrules_mac (text, strlen (text), pv->mac) < 0
      || img_check_mac (pv->mac, NULL) < 0)
    pv->mac[0] = '\0';
}

static int
edit_udev_net (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  const char *rules[] = { "/etc/udev/rules.d/70-persistent-net.rules",
                          "/etc/udev/rules.d/z25_persistent-net.rules",
                          "/etc/udev/rules.d/30-net_persistent_names.rules", NULL };
  const char *ifdirs[] = { "/etc/sysconfig/network-scripts", "/etc/sysconfig/network", NULL };
  bool any = false;
  size_t i, j;
  int r = 0;

  for (i = 0; rules[i] && r == 0; i++) {
    char *text;
    size_t len;
    if (!img_plan_exists (plan, rules[i]))
      continue;
    if (read_text (pv, rules[i], &text, &len) == 0)
      take_mac (pv, text);
    free (text);
    r = img_plan_remove (plan, rules[i]);
    any = true;
  }
  for (i = 0; ifdirs[i] && r == 0; i++) {
    struct img_dirent *ents;
    size_t n;
    if (!img_plan_exists (plan, ifdirs[i]) || img_guest_readdir (pv->g, ifdirs[i], &ents, &n) < 0)
      continue;
    for (j = 0; j < n && r == 0; j++) {
      char *path, *text;
      size_t len;
      struct sb b = { 0 };
      const char *p;
      bool changed = false;
      if (strncmp (ents[j].name, "ifcfg-", 6) != 0 || strcmp (ents[j].name, "ifcfg-lo") == 0
          || strchr (ents[j].name, '~') || strstr (ents[j].name, ".bak"))
        continue;
      path = xasprintf ("%s/%s", ifdirs[i], ents[j].name);
      if (read_text (pv, path, &text, &len) < 0 || text == NULL) {
        free (path);
        continue;
      }
      for (p = text; *p;) {
        const char *e = strchr (p, '\n'), *q = p;
        size_t l = e ? (size_t) (e - p + 1) : strlen (p);
        while (*q == ' ' || *q == '\t')
          q++;
        char m[18];
        int hw = img_ifcfg_hwaddr (q, (size_t) ((e ? e : p + l) - q), m);
        if (hw != -ENOENT) {
          if (hw == 0 && !pv->mac[0] && img_check_mac (m, NULL) == 0)
            memcpy (pv->mac, m, sizeof m);
          changed = true;
        } else
          sb_add (&b, p, l);
        p += l;
      }
      if (changed) {
        r = write_text (pv, path, &b, 0644);
        any = true;
      }
      sb_free (&b);
      free (text);
      free (path);
    }
    img_dirents_free (ents, n);
  }
  if (r == 0 && !any)
    r = img_plan_note (plan, "no udev persistent-net rules, no HWADDR= in ifcfg files");
  return r;
}

/* ---- edit: device-names --------------------------------------------------- */

struct field_ctx {
  unsigned field;               /* which whitespace-separated field (0-based) */
  const char *file;
  bool changed;
};

static int
rewrite_field_line (struct pv *pv, const char *line, size_t len, unsigned lineno,
                    struct sb *out, void *data)
{
  struct field_ctx *fc = data;
  const char *p = line, *end = line + len, *w = NULL;
  unsigned f = 0;
  char *nv;
  const char *why;

  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p == '#') {
    sb_add (out, line, len);
    return 0;
  }
  for (;;) {
    w = p;
    while (p < end && *p != ' ' && *p != '\t')
      p++;
    if (f == fc->field || p == end)
      break;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    f++;
  }
  if (f != fc->field || p == w) {
    sb_add (out, line, len);
    return 0;
  }
  rewrite_devname (pv, w, (size_t) (p - w), &nv, &why);
  if (nv) {
    sb_add (out, line, (size_t) (w - line));
    sb_adds (out, nv);
    sb_add (out, p, (size_t) (end - p));
    fc->changed = true;
    free (nv);
  } else {
    if (why)
      img_plan_note (pv->plan, "%s line %u: %.*s left as is (%s)%s", fc->file, lineno,
                     (int) (p - w), w, why, pv->o->xvd ? "" : "; --xvd renames it to /dev/xvd*");
    sb_add (out, line, len);
  }
  return 0;
}

static int
rewrite_fields (struct pv *pv, const char *path, unsigned field)
{
  struct field_ctx fc = { field, path, false };
  struct sb b = { 0 };
  char *text;
  size_t len;
  int r;

  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL)
    return r;
  r = map_lines (pv, text, len, rewrite_field_line, &fc, &b);
  if (r == 0 && fc.changed)
    r = write_text (pv, path, &b, 0644);
  sb_free (&b);
  free (text);
  return r;
}

/* RESUME=/dev/sda3 in initramfs-tools' conf.d files and the like. */
static int
rewrite_assignments (struct pv *pv, const char *path, const char *key)
{
  char *text, *v;
  size_t len;
  const char *ls, *le, *why;
  char *nv = NULL;
  int r;

  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL)
    return r;
  v = shell_value (text, key, &ls, &le);
  if (v)
    rewrite_devname (pv, v, strlen (v), &nv, &why);
  if (nv) {
    struct sb b = { 0 };
    sb_add (&b, text, (size_t) (ls - text));
    sb_addf (&b, "%s=%s", key, nv);
    sb_adds (&b, le);
    r = write_text (pv, path, &b, 0644);
    sb_free (&b);
  }
  free (nv);
  free (v);
  free (text);
  return r;
}

static int
edit_device_names (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  struct img_dirent *ents;
  size_t n, i;
  int r;

  r = rewrite_fields (pv, "/etc/fstab", 0);
  if (r == 0)
    r = rewrite_fields (pv, "/etc/crypttab", 1);
  if (r == 0)
    r = rewrite_assignments (pv, "/etc/initramfs-tools/conf.d/resume", "RESUME");
  if (r == 0 && img_plan_exists (plan, "/etc/initramfs-tools/conf.d")
      && img_guest_readdir (pv->g, "/etc/initramfs-tools/conf.d", &ents, &n) == 0) {
    for (i = 0; i < n && r == 0; i++) {
      char *p = xasprintf ("/etc/initramfs-tools/conf.d/%s", ents[i].name);
      if (strcmp (ents[i].name, "resume") != 0)
        r = rewrite_assignments (pv, p, "RESUME");
      free (p);
    }
    img_dirents_free (ents, n);
  }
  return r;
}

/* ---- edit: console ------------------------------------------------------ */

static int
edit_console (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  const char *c = pv->console;
  bool done = false;
  int r = 0;

  if (img_plan_exists (plan, "/lib/systemd/systemd") || img_plan_exists (plan, "/usr/lib/systemd/systemd")) {
    const char *unit = img_plan_exists (plan, "/lib/systemd/system/serial-getty@.service")
                       ? "/lib/systemd/system/serial-getty@.service"
                       : img_plan_exists (plan, "/usr/lib/systemd/system/serial-getty@.service")
                       ? "/usr/lib/systemd/system/serial-getty@.service" : NULL;
    if (unit) {
      char *link = xasprintf ("/etc/systemd/system/getty.target.wants/serial-getty@%s.service", c);
      r = img_plan_mkdir_p (plan, "/etc/systemd/system/getty.target.wants", 0755);
      if (r == 0)
        r = img_plan_symlink (plan, unit, link);
      free (link);
      done = true;
    }
  }
  if (r == 0 && !done && img_plan_exists (plan, "/etc/init") && img_plan_exists (plan, "/sbin/initctl")) {
    /* Upstart. */
    char *path = xasprintf ("/etc/init/%s.conf", c);
    struct sb b = { 0 };
    if (!img_plan_exists (plan, path)) {
      sb_addf (&b, "# %s - getty on the Xen PV console (img2pv)\n\n"
               "start on stopped rc RUNLEVEL=[2345]\nstop on runlevel [!2345]\n\n"
               "respawn\nexec /sbin/getty -L 38400 %s vt102\n", c, c);
      r = write_text (pv, path, &b, 0644);
    }
    sb_free (&b);
    free (path);
    done = true;
  }
  if (r == 0 && !done && img_plan_exists (plan, "/etc/inittab")) {
    char *text;
    size_t len;
    if ((r = read_text (pv, "/etc/inittab", &text, &len)) < 0)
      return r;
    if (text && !strstr (text, c)) {
      const char *getty = img_plan_exists (plan, "/sbin/agetty") ? "/sbin/agetty" : "/sbin/getty";
      const char *id = strstr (text, "\nco:") || strncmp (text, "co:", 3) == 0 ? "hv" : "co";
      struct sb b = { 0 };
      sb_add (&b, text, len);
      if (b.len && b.s[b.len - 1] != '\n')
        sb_add (&b, "\n", 1);
      if (strcmp (getty, "/sbin/agetty") == 0)
        sb_addf (&b, "# Xen PV console (img2pv)\n%s:2345:respawn:%s %s 9600 vt100-nav\n", id, getty, c);
      else
        sb_addf (&b, "# Xen PV console (img2pv)\n%s:2345:respawn:%s 38400 %s\n", id, getty, c);
      r = write_text (pv, "/etc/inittab", &b, 0644);
      sb_free (&b);
    }
    free (text);
    done = true;
  }
  if (r == 0 && !done)
    r = img_plan_note (plan, "no systemd, upstart or inittab found: no getty set up on %s", c);
  if (r == 0 && img_plan_exists (plan, "/etc/securetty")) {
    const char *add[] = { c };
    r = ensure_lines (pv, "/etc/securetty", add, 1, NULL, 0600);
  }
  return r;
}

/* ---- edit: device-caches ------------------------------------------------ */

static int
edit_device_caches (struct img_plan *plan, void *data)
{
  const char *caches[] = { "/etc/blkid.tab", "/etc/blkid.tab.old", "/etc/blkid/blkid.tab",
                           "/etc/blkid/blkid.tab.old", "/etc/lvm/cache/.cache",
                           "/etc/lvm/devices/system.devices", NULL };
  bool any = false;
  size_t i;
  int r = 0;

  for (i = 0; caches[i] && r == 0; i++)
    if (img_plan_exists (plan, caches[i])) {
      r = img_plan_remove (plan, caches[i]);
      any = true;
    }
  if (r == 0 && !any)
    r = img_plan_note (plan, "no device caches (blkid.tab, LVM cache, LVM devices file)");
  return r;
}

/* ---- edit: boot-entry --------------------------------------------------- */

/* Quotes VALUE (WHAT, for the message) with QUOTE into q[*n]; refusals
 * and errors become one line "IMAGE: boot-entry: WHAT VALUE: reason". */
static int
quote_into (struct pv *pv, int (*quote) (const char *, char **, const char **),
            const char *what, const char *value, char **q, size_t *n)
{
  const char *why = NULL;
  int r = quote (value, &q[*n], &why);

  if (r == -EINVAL) {
    char *t = img_quote_term (value, 0);
    r = img_err (pv->ctx, r, "%s: boot-entry: %s %s: %s", pv->images[0], what, t ? t : "", why);
    free (t);
  } else if (r < 0)
    r = oom (pv);
  else
    (*n)++;
  return r;
}

static void
free_quoted (char **q, size_t n)
{
  while (n)
    free (q[--n]);
}

/* The PV entry for GRUB 2 (grub.cfg and 40_custom): every value quoted as
 * a GRUB 2 word; the arguments are a checked kernel command line
 * (img_quote_cmdline_line), which GRUB 2 and pygrub both read unchanged. */
static int
grub2_block (struct pv *pv, char **out)
{
  struct sb b = { 0 };
  char *q[5];
  size_t n = 0;
  int r;

  *out = NULL;
  if ((r = quote_into (pv, img_quote_grub2_title, "title", pv->title, q, &n)) < 0
      || (r = quote_into (pv, img_quote_grub2_path, "kernel", pv->entry_kernel, q, &n)) < 0
      || (r = quote_into (pv, img_quote_grub2_path, "initrd", pv->entry_initrd, q, &n)) < 0
      || (pv->boot_uuid
          && (r = quote_into (pv, img_quote_grub2, "filesystem UUID", pv->boot_uuid, q, &n)) < 0)) {
    free_quoted (q, n);
    return r;
  }
  sb_addf (&b, "%s\n", MARK_BEGIN);
  sb_addf (&b, "menuentry %s --class gnu-linux --class os $menuentry_id_option '%s' {\n",
           q[0], ENTRY_ID);
  if (pv->boot_fs_type && strcmp (pv->boot_fs_type, "xfs") == 0)
    sb_adds (&b, "\tinsmod xfs\n");
  else
    sb_adds (&b, "\tinsmod ext2\n");
  if (pv->boot_uuid)
    sb_addf (&b, "\tsearch --no-floppy --fs-uuid --set=root %s\n", q[3]);
  sb_addf (&b, "\tlinux\t%s %s\n", q[1], pv->args);
  sb_addf (&b, "\tinitrd\t%s\n", q[2]);
  sb_adds (&b, "}\n");
  sb_addf (&b, "%s\n", MARK_END);
  free_quoted (q, n);
  if (b.oom)
    return oom (pv);
  *out = b.s;
  return 0;
}

/* The PV entry for GRUB legacy: values are the rest of their line. */
static int
legacy_block (struct pv *pv, char **out)
{
  struct sb b = { 0 };
  char *q[4];
  size_t n = 0;
  int r;

  *out = NULL;
  if ((r = quote_into (pv, img_quote_grub_legacy, "title", pv->title, q, &n)) < 0
      || (r = quote_into (pv, img_quote_grub_legacy, "kernel", pv->entry_kernel, q, &n)) < 0
      || (r = quote_into (pv, img_quote_grub_legacy, "initrd", pv->entry_initrd, q, &n)) < 0
      || (pv->legacy_root
          && (r = quote_into (pv, img_quote_grub_legacy, "root", pv->legacy_root, q, &n)) < 0)) {
    free_quoted (q, n);
    return r;
  }
  if (strpbrk (q[1], " \t") || strpbrk (q[2], " \t") || (pv->legacy_root && strpbrk (q[3], " \t"))) {
    free_quoted (q, n);
    return img_err (pv->ctx, -EINVAL, "%s: boot-entry: a kernel, initrd or root with a blank, "
                    "which a GRUB legacy kernel line cannot carry", pv->images[0]);
  }
  sb_addf (&b, "# %s\n", MARK_BEGIN);
  sb_addf (&b, "title %s\n", q[0]);
  if (pv->legacy_root)
    sb_addf (&b, "\troot %s\n", q[3]);
  sb_addf (&b, "\tkernel %s %s\n", q[1], pv->args);
  sb_addf (&b, "\tinitrd %s\n", q[2]);
  sb_addf (&b, "# %s\n", MARK_END);
  free_quoted (q, n);
  if (b.oom)
    return oom (pv);
  *out = b.s;
  return 0;
}

static const char *
skip_ws (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* Rewrites root=/resume= in a "KEYWORD args" line (linux, kernel, options). */
static void
rewrite_kernel_line (struct pv *pv, const char *line, size_t len, const char *const *keywords,
                     struct sb *out, bool *changed)
{
  const char *p = skip_ws (line);
  size_t i;

  for (i = 0; keywords[i]; i++) {
    size_t kl = strlen (keywords[i]);
    if ((size_t) (line + len - p) > kl && strncmp (p, keywords[i], kl) == 0
        && (p[kl] == ' ' || p[kl] == '\t')) {
      char *rest = strndup (p + kl, (size_t) (line + len - p - kl)), *nr;
      const char *ws = skip_ws (rest);
      bool ch = false;
      nr = rest ? rewrite_cmdline (pv, ws, false, &ch) : NULL;
      if (nr && ch && strcmp (nr, ws) != 0) {
        sb_add (out, line, (size_t) (p - line) + kl);
        sb_add (out, rest, (size_t) (ws - rest));
        sb_adds (out, nr);
        *changed = true;
      } else
        sb_add (out, line, len);
      free (nr);
      free (rest);
      return;
    }
  }
  sb_add (out, line, len);
}

/* The live GRUB 2 config: our block first, root= of the others fixed,
 * a numeric default pointed at our entry. */
static int
edit_grub2_cfg (struct pv *pv, const char *path)
{
  static const char *const kw[] = { "linux", "linux16", "linuxefi", NULL };
  char *text, *block;
  size_t len;
  struct sb b = { 0 };
  const char *p, *blk_at = NULL, *first_entry = NULL, *tenlinux = NULL;
  bool changed = false, in_block = false, have_good_block = false;
  int r;

  if ((r = grub2_block (pv, &block)) < 0)
    return r;
  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL) {
    free (block);
    return r;
  }
  /* Where things are. */
  for (p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL) {
    const char *q = skip_ws (p);
    if (strncmp (q, MARK_BEGIN, strlen (MARK_BEGIN)) == 0 && blk_at == NULL)
      blk_at = p;
    if (first_entry == NULL && blk_at != p
        && (strncmp (q, "menuentry ", 10) == 0 || strncmp (q, "submenu ", 8) == 0
            || strncmp (q, "blscfg", 6) == 0)
        && !(blk_at && p > blk_at && (!strstr (blk_at, MARK_END) || p < strstr (blk_at, MARK_END))))
      first_entry = p;
    if (tenlinux == NULL && strncmp (q, "### BEGIN /etc/grub.d/10_linux ###", 34) == 0)
      tenlinux = p;
  }
  if (blk_at && (first_entry == NULL || blk_at < first_entry)
      && strncmp (blk_at, block, strlen (block)) == 0)
    have_good_block = true;

  for (p = text; *p;) {
    const char *e = strchr (p, '\n'), *q = skip_ws (p);
    size_t l = e ? (size_t) (e - p) : strlen (p);
    bool eol = e != NULL;

    if (!have_good_block && ((tenlinux && p == tenlinux && (!first_entry || tenlinux < first_entry))
                             || (p == first_entry && !(tenlinux && tenlinux < first_entry)))) {
      sb_adds (&b, block);
      changed = true;
    }
    if (strncmp (q, MARK_BEGIN, strlen (MARK_BEGIN)) == 0)
      in_block = true;
    if (in_block) {
      if (have_good_block)
        sb_add (&b, p, l + eol);
      else
        changed = true;         /* a stale or misplaced block goes */
      if (strncmp (q, MARK_END, strlen (MARK_END)) == 0)
        in_block = false;
      p += l + eol;
      continue;
    }
    if (strncmp (q, "set default=", 12) == 0 && p == q) {
      const char *v = q + 12;
      char *val = strndup (v, l - 12), *u = val;
      if (u && (*u == '"' || *u == '\''))
        u++;
      if (u && isdigit ((unsigned char) *u) && strtol (u, NULL, 10) != 0) {
        sb_adds (&b, "set default=\"0\"");
        changed = true;
        img_plan_note (pv->plan, "%s: default entry was %s; now 0, the PV entry", path, val);
      } else
        sb_add (&b, p, l);
      free (val);
    } else
      rewrite_kernel_line (pv, p, l, kw, &b, &changed);
    if (eol)
      sb_add (&b, "\n", 1);
    p += l + eol;
  }
  if (!have_good_block && first_entry == NULL && !(tenlinux)) {
    if (b.len && b.s[b.len - 1] != '\n')
      sb_add (&b, "\n", 1);
    sb_adds (&b, block);
    changed = true;
  }
  r = changed ? write_text (pv, path, &b, 0644) : 0;
  sb_free (&b);
  free (text);
  free (block);
  return r;
}

static int
edit_legacy_cfg (struct pv *pv, const char *path)
{
  static const char *const kw[] = { "kernel", NULL };
  char *text, *block, *real = NULL;
  size_t len, bl;
  struct sb b = { 0 };
  const char *p, *first = NULL, *automagic = NULL, *ours;
  bool changed = false, in_block = false, good;
  int r;

  if ((r = legacy_block (pv, &block)) < 0)
    return r;
  bl = strlen (block);
  /* menu.lst is often a link to grub.conf: edit the file itself. */
  if (img_guest_realpath (pv->g, path, true, &real) < 0)
    real = xstrdup (path);
  if ((r = read_text (pv, real, &text, &len)) < 0 || text == NULL) {
    free (block);
    free (real);
    return r;
  }
  for (p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL) {
    const char *q = skip_ws (p);
    if (first == NULL && strncmp (q, "title", 5) == 0 && (q[5] == ' ' || q[5] == '\t' || q[5] == '='))
      first = p;
    if (automagic == NULL && strncmp (q, "### BEGIN AUTOMAGIC KERNELS LIST", 32) == 0)
      automagic = p;
  }
  ours = strstr (text, "# " MARK_BEGIN);
  good = ours && strncmp (ours, block, bl) == 0 && (first == NULL || ours < first);
  if (automagic && first && automagic > first)
    automagic = NULL;
  for (p = text; *p;) {
    const char *e = strchr (p, '\n'), *q = skip_ws (p);
    size_t l = e ? (size_t) (e - p) : strlen (p);
    bool eol = e != NULL;

    if (!good && (p == (automagic ? automagic : first))) {
      sb_adds (&b, block);
      changed = true;
    }
    if (strncmp (q, "# " MARK_BEGIN, strlen (MARK_BEGIN) + 2) == 0)
      in_block = true;
    if (in_block) {
      if (good)
        sb_add (&b, p, l + eol);
      else
        changed = true;
      if (strncmp (q, "# " MARK_END, strlen (MARK_END) + 2) == 0)
        in_block = false;
      p += l + eol;
      continue;
    }
    if (strncmp (q, "default", 7) == 0 && (q[7] == '=' || q[7] == ' ' || q[7] == '\t')) {
      const char *v = skip_ws (q + 8 - (q[7] == '=' ? 0 : 0));
      if (isdigit ((unsigned char) *v) && strtol (v, NULL, 10) != 0) {
        sb_adds (&b, "default=0");
        changed = true;
        img_plan_note (pv->plan, "%s: default entry was %.*s; now 0, the PV entry", real,
                       (int) (l - (size_t) (v - p)), v);
      } else
        sb_add (&b, p, l);
    } else if (strncmp (q, "# kopt=", 7) == 0) {
      /* Debian's legacy update-grub builds entries from kopt. */
      bool ch = false;
      char *rest = strndup (q + 7, l - (size_t) (q + 7 - p));
      char *nr = rest ? rewrite_cmdline (pv, rest, false, &ch) : NULL;
      if (nr && strcmp (nr, rest) != 0) {
        sb_add (&b, p, (size_t) (q + 7 - p));
        sb_adds (&b, nr);
        changed = true;
      } else
        sb_add (&b, p, l);
      free (nr);
      free (rest);
    } else
      rewrite_kernel_line (pv, p, l, kw, &b, &changed);
    if (eol)
      sb_add (&b, "\n", 1);
    p += l + eol;
  }
  if (!good && first == NULL && automagic == NULL) {
    if (b.len && b.s[b.len - 1] != '\n')
      sb_add (&b, "\n", 1);
    sb_adds (&b, block);
    changed = true;
  }
  r = changed ? write_text (pv, real, &b, 0600) : 0;
  sb_free (&b);
  free (text);
  free (block);
  free (real);
  return r;
}

static int
edit_bls_entry (struct pv *pv, const char *path)
{
  static const char *const kw[] = { "options", NULL };
  char *text;
  size_t len;
  struct sb b = { 0 };
  const char *p;
  bool changed = false;
  int r;

  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL)
    return r;
  for (p = text; *p;) {
    const char *e = strchr (p, '\n');
    size_t l = e ? (size_t) (e - p) : strlen (p);
    rewrite_kernel_line (pv, p, l, kw, &b, &changed);
    if (e)
      sb_add (&b, "\n", 1);
    p += l + (e != NULL);
  }
  r = changed ? write_text (pv, path, &b, 0644) : 0;
  sb_free (&b);
  free (text);
  return r;
}

/* /etc/default/grub: console on the PV console, root names that survive. */
static int
edit_default_grub (struct pv *pv)
{
  const char *path = "/etc/default/grub";
  char *text, *v;
  size_t len;
  bool ch;
  int r;

  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL)
    return r;
  v = shell_value (text, "GRUB_CMDLINE_LINUX", NULL, NULL);
  {
    char *nv = rewrite_cmdline (pv, v ? v : "", true, &ch);
    if (nv == NULL)
      r = oom (pv);
    else if (!v || strcmp (nv, v) != 0)
      r = set_shell_value (pv, path, "GRUB_CMDLINE_LINUX", nv);
    free (nv);
  }
  free (v);
  free (text);
  if (r < 0)
    return r;
  if ((r = read_text (pv, path, &text, &len)) < 0 || text == NULL)
    return r;
  v = shell_value (text, "GRUB_CMDLINE_LINUX_DEFAULT", NULL, NULL);
  if (v) {
    /* console= words would follow ours and take /dev/console away. */
    char *nv = rewrite_cmdline (pv, v, true, &ch), *c;
    if (nv && (c = strstr (nv, "console="))) {
      char *start = c;
      while (start > nv && start[-1] == ' ')
        start--;
      *start = '\0';
    }
    if (nv == NULL)
      r = oom (pv);
    else if (strcmp (nv, v) != 0)
      r = set_shell_value (pv, path, "GRUB_CMDLINE_LINUX_DEFAULT", nv);
    free (nv);
  }
  free (v);
  free (text);
  return r;
}

static int
edit_40_custom (struct pv *pv)
{
  const char *path = "/etc/grub.d/40_custom";
  char *text, *block;
  size_t len;
  struct sb b = { 0 };
  const char *s, *e;
  int r;

  if ((r = grub2_block (pv, &block)) < 0)
    return r;
  if ((r = read_text (pv, path, &text, &len)) < 0) {
    free (block);
    return r;
  }
  if (text && (s = strstr (text, MARK_BEGIN)) && (e = strstr (s, MARK_END))) {
    e += strlen (MARK_END);
    if (*e == '\n')
      e++;
    sb_add (&b, text, (size_t) (s - text));
    sb_adds (&b, block);
    sb_adds (&b, e);
  } else {
    if (text)
      sb_add (&b, text, len);
    else
      sb_adds (&b, "#!/bin/sh\nexec tail -n +3 $0\n");
    if (b.len && b.s[b.len - 1] != '\n')
      sb_add (&b, "\n", 1);
    sb_adds (&b, block);
  }
  r = write_text (pv, path, &b, 0755);
  sb_free (&b);
  free (text);
  free (block);
  return r;
}

static int
edit_boot_entry (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  size_t i, j, n_grub = 0;
  int r = 0;

  for (i = 0; i < pv->insp->n_bootcfgs && r == 0; i++) {
    const struct img_bootcfg *c = &pv->insp->bootcfgs[i];
    switch (c->kind) {
    case IMG_BOOT_GRUB2:
      r = edit_grub2_cfg (pv, c->path);
      n_grub++;
      break;
    case IMG_BOOT_GRUB_LEGACY:
      r = edit_legacy_cfg (pv, c->path);
      n_grub++;
      break;
    case IMG_BOOT_BLS:
      {
        size_t pl = strlen (c->path);
        if (pl > 5 && strcmp (c->path + pl - 5, ".conf") == 0)
          r = edit_bls_entry (pv, c->path);
        else
          for (j = 0; j < c->n_entries && r == 0; j++) {
            char *p = xasprintf ("%s/%s.conf", c->path, c->entries[j].id ? c->entries[j].id : "");
            if (c->entries[j].id && img_plan_exists (plan, p))
              r = edit_bls_entry (pv, p);
            free (p);
          }
      }
      break;
    case IMG_BOOT_EXTLINUX:
      img_plan_note (plan, "%s: extlinux configuration left as is", c->path);
      break;
    }
  }
  if (r == 0 && n_grub == 0)
    r = img_plan_note (plan, "no GRUB configuration: the xl config boots the kernel directly");
  if (r == 0 && img_plan_exists (plan, "/etc/default/grub"))
    r = edit_default_grub (pv);
  if (r == 0 && img_plan_exists (plan, "/etc/grub.d"))
    r = edit_40_custom (pv);
  if (r == 0 && img_plan_exists (plan, "/etc/kernel/cmdline")) {
    char *text;
    size_t len;
    bool ch;
    if ((r = read_text (pv, "/etc/kernel/cmdline", &text, &len)) == 0 && text) {
      char *nl = strchr (text, '\n'), *nv;
      if (nl)
        *nl = '\0';
      nv = rewrite_cmdline (pv, text, false, &ch);
      if (nv && strcmp (nv, text) != 0) {
        struct sb b = { 0 };
        sb_addf (&b, "%s\n", nv);
        r = write_text (pv, "/etc/kernel/cmdline", &b, 0644);
        sb_free (&b);
      }
      free (nv);
    }
    free (text);
  }
  return r;
}

/* ---- edit: selinux-relabel ---------------------------------------------- */

static int
edit_selinux (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  char *text, *v;
  size_t len;
  int r;

  if ((r = read_text (pv, "/etc/selinux/config", &text, &len)) < 0 || text == NULL)
    return r;
  v = shell_value (text, "SELINUX", NULL, NULL);
  free (text);
  if (v == NULL || strcmp (v, "disabled") == 0) {
    free (v);
    return 0;
  }
  free (v);
  if (img_plan_n_changed (plan) == 0 || img_plan_exists (plan, "/.autorelabel"))
    return 0;
  r = img_plan_write_file (plan, "/.autorelabel", "", 0, 0644);
  if (r == 0)
    r = img_plan_note (plan, "SELinux is on: files written here carry no labels, so the guest relabels at its next boot");
  return r;
}

/* ---- edit: kernel-extract ------------------------------------------------ */

static int
edit_kernel_extract (struct img_plan *plan, void *data)
{
  struct pv *pv = data;
  void *buf;
  size_t len;
  char *what;
  int r;

  if (!pv->direct_kernel)
    return 0;
  if (img_plan_is_dry_run (plan))
    return img_plan_note (plan, "would extract %s and %s to %s and %s (%s)", pv->vmlinuz,
                          pv->initrd, pv->kernel_out, pv->initrd_out, pv->direct_reason);
  /* Only into the image's directory, under names checked in prepare_entry,
   * never over anything but a regular file. */
  what = xasprintf ("%s: kernel-extract", pv->images[0]);
  r = img_plan_read_file (plan, pv->vmlinuz, MAX_KERNEL, &buf, &len);
  if (r == 0) {
    r = img_host_file_replace (pv->ctx, what, pv->out_dir, pv->kernel_name, buf, len, 0644);
    free (buf);
  }
  if (r == 0 && (r = img_plan_read_file (plan, pv->initrd, MAX_INITRD, &buf, &len)) == 0) {
    r = img_host_file_replace (pv->ctx, what, pv->out_dir, pv->initrd_name, buf, len, 0644);
    free (buf);
  }
  free (what);
  if (r == 0)
    r = img_plan_note (plan, "extracted %s and %s to %s and %s (%s)", pv->vmlinuz, pv->initrd,
                       pv->kernel_out, pv->initrd_out, pv->direct_reason);
  return r;
}

/* ---- preparing the PV entry ----------------------------------------------- */

static const struct img_guest_mount *
mount_of (struct pv *pv, const char *path, const char **rel)
{
  const struct img_guest_mount *best = NULL;
  size_t i, bl = 0;

  for (i = 0; i < img_guest_n_mounts (pv->g); i++) {
    const struct img_guest_mount *m = img_guest_mount (pv->g, i);
    size_t l = strlen (m->mountpoint);
    if (m->mountpoint[0] != '/' || !m->mounted)
      continue;
    if (strcmp (m->mountpoint, "/") == 0)
      l = 0;
    else if (strncmp (path, m->mountpoint, l) != 0 || path[l] != '/')
      continue;
    if (best == NULL || l > bl) {
      best = m;
      bl = l;
    }
  }
  *rel = path + bl;
  return best;
}

static bool
is_ours (const struct img_boot_entry *e)
{
  return (e->id && strcmp (e->id, ENTRY_ID) == 0)
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

static char *
base_name (const char *image, bool strip_ext)
{
  const char *b = strrchr (image, '/');
  char *n = xstrdup (b ? b + 1 : image), *dot;

  if (strip_ext && (dot = strrchr (n, '.')) && dot != n)
    *dot = '\0';
  return n;
}

static char *
dir_name (const char *image)
{
  char *abs = realpath (image, NULL), *s;

  if (abs == NULL) {
    /* Not there yet (--output): its directory is. */
    char *d = xstrdup (image), *slash = strrchr (d, '/'), *ad;
    if (slash == NULL) {
      free (d);
      return getcwd (NULL, 0);
    }
    *slash = '\0';
    ad = realpath (*d ? d : "/", NULL);
    free (d);
    return ad ? ad : xstrdup (".");
  }
  s = strrchr (abs, '/');
  if (s == abs)
    s[1] = '\0';
  else
    *s = '\0';
  return abs;
}

static int xl_file (struct pv *pv, const char *what, const char *value);

static int
prepare_entry (struct pv *pv, const char *image)
{
  const struct img_boot_entry *base = NULL;
  const struct img_guest_mount *m;
  const char *rel, *why = NULL;
  const char *vb = strrchr (pv->vmlinuz, '/') + 1;
  size_t i, j;
  bool ch;

  /* The entry to copy: the default one if it boots this kernel, else the
   * first non-recovery entry that does, else the default one. */
  for (i = 0; i < pv->insp->n_bootcfgs && base == NULL; i++) {
    const struct img_bootcfg *c = &pv->insp->bootcfgs[i];
    int d = c->default_index >= 0 ? c->default_index : 0;
    if ((size_t) d < c->n_entries && c->entries[d].kernel && !is_recovery (&c->entries[d])) {
      const char *kb = strrchr (c->entries[d].kernel, '/');
      if (strcmp (kb ? kb + 1 : c->entries[d].kernel, vb) == 0)
        base = &c->entries[d];
    }
    for (j = 0; j < c->n_entries && base == NULL; j++) {
      const char *kb = c->entries[j].kernel ? strrchr (c->entries[j].kernel, '/') : NULL;
      if (c->entries[j].kernel && !is_recovery (&c->entries[j])
          && strcmp (kb ? kb + 1 : c->entries[j].kernel, vb) == 0)
        base = &c->entries[j];
    }
  }
  for (i = 0; i < pv->insp->n_bootcfgs && base == NULL; i++) {
    const struct img_bootcfg *c = &pv->insp->bootcfgs[i];
    int d = c->default_index >= 0 ? c->default_index : 0;
    if ((size_t) d < c->n_entries && c->entries[d].kernel && !is_ours (&c->entries[d]))
      base = &c->entries[d];
    for (j = 0; j < c->n_entries && base == NULL; j++)
      if (c->entries[j].kernel && !is_recovery (&c->entries[j]))
        base = &c->entries[j];
  }
  if (base && base->args) {
    pv->args = rewrite_cmdline (pv, base->args, true, &ch);
  } else {
    /* No entry to copy: root from the mount map. */
    const struct img_guest_mount *root = NULL;
    for (i = 0; i < img_guest_n_mounts (pv->g); i++)
      if (strcmp (img_guest_mount (pv->g, i)->mountpoint, "/") == 0)
        root = img_guest_mount (pv->g, i);
    if (root && root->spec && strncmp (root->spec, "/dev/mapper/", 12) == 0)
      pv->args = xasprintf ("root=%s ro console=%s", root->spec, pv->console);
    else if (root && root->fs_uuid)
      pv->args = xasprintf ("root=UUID=%s ro console=%s", root->fs_uuid, pv->console);
    else
      return img_err (pv->ctx, -ENOENT, "%s: no boot entry to copy and no root filesystem UUID "
                      "to boot from", image);
  }
  if (pv->args == NULL)
    return oom (pv);
  if (strcmp (pv->flavour, "dracut") == 0 && !strstr (pv->args, "rd.driver.pre=")) {
    char *a = xasprintf ("%s rd.driver.pre=%s,%s", pv->args, pv->drivers[0], pv->drivers[1]);
    free (pv->args);
    pv->args = a;
  }
  {
    /* The arguments go into GRUB 2, GRUB legacy, pygrub, BLS and xl: only
     * what each passes on to the kernel unchanged. */
    char *norm, *bad;
    const char *qwhy;
    int qr = img_quote_cmdline_line (pv->args, &norm, &bad, &qwhy);
    if (qr == -EINVAL) {
      char *q = img_quote_term (bad, 0);
      qr = img_err (pv->ctx, -EINVAL, "%s: boot-entry: kernel argument %s: %s", image,
                    q ? q : "", qwhy);
      free (q);
      free (bad);
      return qr;
    }
    if (qr < 0)
      return oom (pv);
    free (pv->args);
    pv->args = norm;
  }
  if (base && base->root && base->root[0] == '(')
    pv->legacy_root = xstrdup (base->root);
  {
    /* The title is ours: the guest's OS name in printable ASCII only. */
    const char *os = pv->insp->os_pretty_name ? pv->insp->os_pretty_name
                     : pv->insp->os_name ? pv->insp->os_name : "Linux";
    struct sb t = { 0 };
    for (i = 0; os[i] && i < 80; i++)
      sb_add (&t, (unsigned char) os[i] >= 0x20 && (unsigned char) os[i] < 0x7f ? os + i : "?", 1);
    sb_addf (&t, ", Xen PV, Linux %s", pv->kver);
    pv->title = t.s;
  }

  /* Paths as seen from the filesystem that holds the kernel; and whether
   * pygrub can read it there (a partition with a filesystem it knows). */
  m = mount_of (pv, pv->vmlinuz, &rel);
  if (m == NULL)
    return img_err (pv->ctx, -ENOENT, "%s: %s is on no filesystem of the guest", image, pv->vmlinuz);
  pv->entry_kernel = xstrdup (rel);
  {
    const char *irel;
    const struct img_guest_mount *mi = mount_of (pv, pv->initrd, &irel);
    if (mi != m)
      return img_err (pv->ctx, -EXDEV, "%s: %s and %s are on different filesystems", image,
                      pv->vmlinuz, pv->initrd);
    pv->entry_initrd = xstrdup (irel);
  }
  pv->boot_uuid = m->fs_uuid ? xstrdup (m->fs_uuid) : NULL;
  pv->boot_fs_type = m->vfstype;
  {
    const struct img_part *part = NULL;
    const struct img_fsinfo *info = NULL;
    for (i = 0; i < img_guest_n_volumes (pv->g); i++) {
      const struct img_volume *v = img_guest_volume (pv->g, i, &info, &part, NULL);
      if (m->device && strcmp (v->name, m->device) == 0)
        break;
      part = NULL;
      info = NULL;
    }
    if (part == NULL)
      why = xasprintf ("%s is on %s, which pygrub cannot read: it only looks at partitions",
                       pv->vmlinuz, m->device ? m->device : "an unknown volume");
    else if (info && info->type[0] && strncmp (info->type, "ext", 3) != 0
             && strcmp (info->type, "xfs") != 0 && strcmp (info->type, "vfat") != 0
             && strcmp (info->type, "reiserfs") != 0)
      why = xasprintf ("%s is on %s, a filesystem pygrub cannot read", pv->vmlinuz, info->type);
  }
  {
    size_t n_grub = 0;
    for (i = 0; i < pv->insp->n_bootcfgs; i++)
      n_grub += pv->insp->bootcfgs[i].kind == IMG_BOOT_GRUB2
                || pv->insp->bootcfgs[i].kind == IMG_BOOT_GRUB_LEGACY;
    if (why == NULL && n_grub == 0)
      why = xstrdup ("the guest has no GRUB configuration for pygrub to read");
  }
  if (why || pv->o->extract_kernel) {
    char *dir = dir_name (image), *b = base_name (image, true);
    const char *ib = strrchr (pv->initrd, '/') + 1;
    pv->direct_kernel = true;
    pv->direct_reason = why ? (char *) why : xstrdup ("--extract-kernel");
    char *what = xasprintf ("%s: kernel-extract", image);
    int r;
    /* Host file names: the image's (the admin's) and checked guest parts. */
    r = img_host_name_check (pv->ctx, what, "initrd file name", ib);
    free (what);
    if (r < 0) {
      free (dir);
      free (b);
      return r;
    }
    pv->kernel_name = xasprintf ("%s.vmlinuz-%s", b, pv->kver);
    pv->initrd_name = xasprintf ("%s.%s", b, ib);
    pv->kernel_out = xasprintf ("%s/%s", strcmp (dir, "/") ? dir : "", pv->kernel_name);
    pv->initrd_out = xasprintf ("%s/%s", strcmp (dir, "/") ? dir : "", pv->initrd_name);
    pv->out_dir = dir;
    free (b);
  }
  /* What goes into the xl config is refused now, before any change. */
  if (pv->direct_kernel)
    return xl_file (pv, "kernel", pv->kernel_out) < 0 ? -EINVAL : xl_file (pv, "ramdisk", pv->initrd_out);
  return 0;
}

/* ---- the xl config ---------------------------------------------------------- */

/* One "key = value" of the xl config: VALUE through img_quote_xl. */
static void
xl_kv (struct sb *b, const char *key, const char *value)
{
  char *q = NULL;

  if (img_quote_xl (value, &q, NULL) < 0)
    b->oom = true;
  else
    sb_addf (b, "%s = %s\n", key, q);
  free (q);
}

/* A value for inside a disk or vif spec, or a refusal line. */
static int
xl_spec (struct pv *pv, const char *what, const char *value, char **out)
{
  const char *why = NULL;
  int r = img_quote_xl_spec (value, out, &why);

  if (r == -EINVAL) {
    char *t = img_quote_term (value, 0);
    r = img_err (pv->ctx, r, "%s: xl config: %s %s: %s", pv->images[0], what, t ? t : "", why);
    free (t);
  }
  return r == -ENOMEM ? oom (pv) : r;
}

/* A host file name for kernel=/ramdisk=: printable ASCII only (it names a
 * file next to the image, and part of it, the kernel version, is the
 * guest's). */
static int
xl_file (struct pv *pv, const char *what, const char *value)
{
  const unsigned char *p;

  for (p = (const unsigned char *) value; *p; p++)
    if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '\'') {
      char *t = img_quote_term (value, 0);
      int r = img_err (pv->ctx, -EINVAL, "%s: xl config: %s file name %s: a control, quote, "
                       "backslash or non-ASCII byte", pv->images[0], what, t ? t : "");
      free (t);
      return r;
    }
  return 0;
}

/* The xl config: every string through img_quote_xl, every value inside a
 * device spec through img_quote_xl_spec, guest MACs checked. */
static int
xl_config (struct pv *pv, const char *const *images, size_t n, char **out)
{
  struct sb b = { 0 }, spec = { 0 };
  char *name = pv->o->name ? xstrdup (pv->o->name) : base_name (images[0], true);
  char *fmt = NULL, *bridge = NULL, *mac = NULL, *t;
  const char *m = pv->o->mac ? pv->o->mac : pv->mac[0] ? pv->mac : NULL;
  size_t i;
  int r = 0;

  *out = NULL;
  for (i = 0; name[i]; i++)
    if (!isalnum ((unsigned char) name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
      name[i] = '-';
  if (m && img_check_mac (m, NULL) < 0) {
    t = img_quote_term (m, 0);
    r = img_err (pv->ctx, -EINVAL, "%s: xl config: MAC %s: not a MAC address", images[0], t ? t : "");
    free (t);
    goto out;
  }
  if ((r = xl_spec (pv, "bridge", pv->o->bridge, &bridge)) < 0
      || (m && (r = xl_spec (pv, "MAC", m, &mac)) < 0))
    goto out;
  if (pv->direct_kernel && ((r = xl_file (pv, "kernel", pv->kernel_out)) < 0
                            || (r = xl_file (pv, "ramdisk", pv->initrd_out)) < 0))
    goto out;
  t = img_quote_term (images[0], 0);
  sb_addf (&b, "# Xen PV domain for %s\n# Written by img2pv " PACKAGE_VERSION
           "; start it with: xl create <this file>\n\n", t ? t : "");
  free (t);
  xl_kv (&b, "name", name);
  sb_addf (&b, "type = \"pv\"\nmemory = %u\nvcpus = %u\n", pv->o->memory_mib, pv->o->vcpus);
  if (pv->direct_kernel) {
    t = img_quote_term (pv->direct_reason, 0);
    sb_addf (&b, "# %s\n", t ? t : "");
    free (t);
    xl_kv (&b, "kernel", pv->kernel_out);
    xl_kv (&b, "ramdisk", pv->initrd_out);
    xl_kv (&b, "cmdline", pv->args);
  } else
    sb_adds (&b, "bootloader = \"pygrub\"\n");
  sb_adds (&b, "disk = [");
  for (i = 0; i < n && r == 0; i++) {
    char *abs = realpath (images[i], NULL), *q = NULL;
    free (fmt);
    fmt = NULL;
    if ((r = xl_spec (pv, "image format", pv->formats && pv->formats[i] ? pv->formats[i] : "raw",
                      &fmt)) == 0) {
      /* target= comes last: xl takes the rest of the spec as the path. */
      sb_free (&spec);
      sb_addf (&spec, "format=%s, vdev=xvd%c, access=rw, target=%s", fmt, (char) ('a' + i),
               abs ? abs : images[i]);
      if (spec.oom || img_quote_xl (spec.s, &q, NULL) < 0)
        b.oom = true;
      else
        sb_addf (&b, "%s%s", i ? ",\n        " : " ", q);
    }
    free (q);
    free (abs);
  }
  if (r < 0)
    goto out;
  sb_adds (&b, " ]\n");
  sb_free (&spec);
  sb_addf (&spec, "bridge=%s", bridge);
  if (mac)
    sb_addf (&spec, ", mac=%s", mac);
  if (spec.oom || img_quote_xl (spec.s, &t, NULL) < 0)
    b.oom = true;
  else {
    sb_addf (&b, "vif = [ %s ]\n", t);
    free (t);
  }
  sb_adds (&b, "on_poweroff = \"destroy\"\non_reboot = \"restart\"\non_crash = \"restart\"\n");
  if (b.oom)
    r = oom (pv);
 out:
  free (name);
  free (fmt);
  free (bridge);
  free (mac);
  sb_free (&spec);
  if (r < 0) {
    sb_free (&b);
    return r;
  }
  *out = b.s;
  return 0;
}

/* ---- main ------------------------------------------------------------------- */

static const struct img_edit edits[] = {
  { "kernel-from", "install the kernel or modules given on the host", edit_kernel_from },
  { "initrd-drivers", "PV block and network drivers in the initrd, loaded at boot", edit_initrd_drivers },
  { "initramfs-config", "the guest's initramfs tooling keeps the PV drivers", edit_initramfs_config },
  { "tls", "move /lib/tls aside", edit_tls },
  { "udev-net", "remove persistent network names tied to the HVM NIC", edit_udev_net },
  { "device-names", "device names that exist under Xen PV in fstab, crypttab, resume", edit_device_names },
  { "console", "a login on the Xen PV console", edit_console },
  { "device-caches", "remove caches that pin the HVM disks", edit_device_caches },
  { "boot-entry", "a PV boot entry pygrub finds first, kept by update-grub", edit_boot_entry },
  { "selinux-relabel", "relabel SELinux guests at their next boot", edit_selinux },
  { "kernel-extract", "kernel and initrd beside the image for a direct-kernel domU", edit_kernel_extract },
};

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: img2pv [OPTION]... IMAGE...\n"
           "       img2pv --rollback UNDO-FILE [--force] [IMAGE...]\n"
           "Convert a Xen HVM Linux guest image into a PV guest, offline.\n\n"
           "  -n, --dry-run          show what would change (with diffs); write nothing\n"
           "      --json             report as JSON\n"
           "      --format FMT       the image's container format (raw, qcow2, vmdk, ...);\n"
           "                         without it, it is guessed from the image's bytes\n"
           "      --allow-backing    follow backing/data files that are local regular files\n"
           "                         (refused otherwise; --output then carries their bytes)\n"
           "  -o, --output NEW       convert a copy (same format, sparse); IMAGE is untouched\n"
           "      --undo FILE        undo record (default: IMAGE" IMG_UNDO_SUFFIX ")\n"
           "      --no-undo          keep no undo record (no automatic rollback either)\n"
           "      --rollback FILE    restore the image(s) from an undo record\n"
           "      --force            roll back even if the image changed since\n"
           "      --kernel VER       the guest kernel to boot PV (default: chosen)\n"
           "      --kernel-from DIR  install DIR/boot/vmlinuz-VER, its initrd and DIR/lib/modules/VER\n"
           "      --modules-from DIR install the module tree DIR (a /lib/modules/VER) for kernel VER\n"
           "      --xvd              rename /dev/sdXN to /dev/xvdXN instead of UUID=\n"
           "      --keep-tls         leave /lib/tls alone\n"
           "      --extract-kernel   boot the kernel directly (no pygrub): kernel and initrd beside the image\n"
           "      --xl-config FILE   where to write the xl config (default: IMAGE-without-suffix.cfg)\n"
           "      --no-xl-config     write no xl config\n"
           "      --name NAME        domain name (default: image file name)\n"
           "      --memory MIB       domain memory (default 1024)\n"
           "      --vcpus N          (default 1)\n"
           "      --bridge BR        vif bridge (default xenbr0)\n"
           "      --mac MAC          vif MAC (default: the HVM NIC's, when found)\n"
           "      --budget=NAME=SIZE raise or lower a resource budget (IMG_BUDGET_*)\n"
           "  -h, --help\n\n"
           "Exit status: 0 converted, 3 nothing to do, 1 error (image unchanged),\n"
           "4 error and the image could not be restored, 2 usage.\n");
}

static void
free_pv (struct pv *pv)
{
  free (pv->kver);
  free (pv->vmlinuz);
  free (pv->initrd);
  free (pv->moddir);
  free (pv->host_vmlinuz);
  free (pv->host_initrd);
  free (pv->host_config);
  free (pv->host_sysmap);
  free (pv->host_modules);
  free (pv->title);
  free (pv->args);
  free (pv->entry_kernel);
  free (pv->entry_initrd);
  free (pv->boot_uuid);
  free (pv->legacy_root);
  free (pv->direct_reason);
  free (pv->kernel_out);
  free (pv->initrd_out);
  free (pv->out_dir);
  free (pv->kernel_name);
  free (pv->initrd_name);
  for (size_t i = 0; pv->formats && i < pv->n_images; i++)
    free (pv->formats[i]);
  free (pv->formats);
  img_inspection_free (pv->insp);
}

static int
fail (struct img_ctx *ctx)
{
  fprintf (stderr, PROG ": %s\n", img_ctx_error (ctx));
  return IMG_EXIT_ERROR;
}

int
main (int argc, char **argv)
{
  /* Reports carry names and text from images: every byte printed goes
   * through img_quote_term on its way to the terminal. */
  img_quote_term_stdio ();
  enum { O_FORMAT = 200, O_ALLOW_BACKING, O_JSON = 256, O_UNDO, O_NO_UNDO, O_ROLLBACK, O_FORCE, O_KERNEL, O_KERNEL_FROM,
         O_MODULES_FROM, O_XVD, O_KEEP_TLS, O_EXTRACT, O_XL, O_NO_XL, O_NAME, O_MEMORY,
         O_VCPUS, O_BRIDGE, O_MAC, O_BUDGET };
  static const struct option lopts[] = {
    { "dry-run", no_argument, NULL, 'n' }, { "json", no_argument, NULL, O_JSON },
    { "format", required_argument, NULL, O_FORMAT }, { "allow-backing", no_argument, NULL, O_ALLOW_BACKING },
    { "output", required_argument, NULL, 'o' }, { "undo", required_argument, NULL, O_UNDO },
    { "no-undo", no_argument, NULL, O_NO_UNDO }, { "rollback", required_argument, NULL, O_ROLLBACK },
    { "force", no_argument, NULL, O_FORCE }, { "kernel", required_argument, NULL, O_KERNEL },
    { "kernel-from", required_argument, NULL, O_KERNEL_FROM },
    { "modules-from", required_argument, NULL, O_MODULES_FROM },
    { "xvd", no_argument, NULL, O_XVD }, { "keep-tls", no_argument, NULL, O_KEEP_TLS },
    { "extract-kernel", no_argument, NULL, O_EXTRACT },
    { "xl-config", required_argument, NULL, O_XL }, { "no-xl-config", no_argument, NULL, O_NO_XL },
    { "name", required_argument, NULL, O_NAME }, { "memory", required_argument, NULL, O_MEMORY },
    { "vcpus", required_argument, NULL, O_VCPUS }, { "bridge", required_argument, NULL, O_BRIDGE },
    { "mac", required_argument, NULL, O_MAC }, { "help", no_argument, NULL, 'h' },
    { "budget", required_argument, NULL, O_BUDGET },
    { NULL, 0, NULL, 0 },
  };
  struct opts o = { .memory_mib = 1024, .vcpus = 1, .bridge = "xenbr0" };
  uint64_t budget[IMG_BUDGET_N] = { 0 };
  enum img_budget bw;
  uint64_t bv;
  const char *rollback = NULL;
  struct img_disk_opts dopts = { NULL, false };
  struct img_ctx *ctx;
  struct img_plan *plan = NULL;
  struct pv pv = { 0 };
  const char *const *images;
  const char *work_image[1];
  char *xl_path = NULL, *xl_text = NULL, *tmp_out = NULL;
  size_t n_images, i;
  bool xl_same = false;
  unsigned flags = 0;
  int c, r, code;

  while ((c = getopt_long (argc, argv, "no:h", lopts, NULL)) != -1)
    switch (c) {
    case 'n': o.dry_run = true; break;
    case O_FORMAT: dopts.format = optarg; break;
    case O_ALLOW_BACKING: dopts.allow_backing = true; break;
    case O_JSON: o.json = true; break;
    case 'o': o.output = optarg; break;
    case O_UNDO: o.undo = optarg; break;
    case O_NO_UNDO: o.no_undo = true; break;
    case O_ROLLBACK: rollback = optarg; break;
    case O_FORCE: o.force = true; break;
    case O_KERNEL: o.kernel = optarg; break;
    case O_KERNEL_FROM: o.kernel_from = optarg; break;
    case O_MODULES_FROM: o.modules_from = optarg; break;
    case O_XVD: o.xvd = true; break;
    case O_KEEP_TLS: o.keep_tls = true; break;
    case O_EXTRACT: o.extract_kernel = true; break;
    case O_XL: o.xl_path = optarg; break;
    case O_NO_XL: o.no_xl = true; break;
    case O_NAME: o.name = optarg; break;
    case O_MEMORY: {
      uint64_t bytes;
      if (parse_size (optarg, true, &bytes) < 0 || bytes < (32u << 20) || bytes > (1ull << 50)) {
        fprintf (stderr, PROG ": --memory %s: not a memory size of at least 32 MiB\n", optarg);
        return IMG_EXIT_USAGE;
      }
      o.memory_mib = (unsigned) (bytes >> 20);
      break;
    }
    case O_VCPUS: {
      char *end;
      unsigned long v = strtoul (optarg, &end, 10);
      if (*end || v == 0 || v > 512) {
        fprintf (stderr, PROG ": --vcpus %s: not a number from 1 to 512\n", optarg);
        return IMG_EXIT_USAGE;
      }
      o.vcpus = (unsigned) v;
      break;
    }
    case O_BRIDGE: {
      const char *why;
      if (img_check_ifname (optarg, &why) < 0) {
        char *q = img_quote_term (optarg, 0);
        fprintf (stderr, PROG ": --bridge %s: %s\n", q ? q : "", why);
        free (q);
        return IMG_EXIT_USAGE;
      }
      o.bridge = optarg;
      break;
    }
    case O_MAC: {
      const char *why;
      if (img_check_mac (optarg, &why) < 0) {
        char *q = img_quote_term (optarg, 0);
        fprintf (stderr, PROG ": --mac %s: %s\n", q ? q : "", why);
        free (q);
        return IMG_EXIT_USAGE;
      }
      o.mac = optarg;
      break;
    }
    case O_BUDGET:
      if (img_budget_parse (optarg, &bw, &bv) < 0) {
        fprintf (stderr, PROG ": --budget=%s: NAME=SIZE, NAME one of inflate, inflate-total, file, file-total, entries, entries-total, members\n", optarg);
        return IMG_EXIT_USAGE;
      }
      budget[bw] = bv;
      break;
    case 'h': usage (stdout); return 0;
    default: usage (stderr); return IMG_EXIT_USAGE;
    }
  if ((r = img_ctx_new (&ctx)) < 0) {
    if (r == -ENOMEM)           /* -EINVAL: a bad IMG_BUDGET_*, said */
      fprintf (stderr, PROG ": out of memory\n");
    return IMG_EXIT_ERROR;
  }
  img_ctx_set_log_fn (ctx, log_fn, NULL);
  for (i = 0; i < IMG_BUDGET_N; i++)
    if (budget[i])
      img_ctx_set_budget (ctx, (enum img_budget) i, budget[i]);
  if (img_ctx_set_disk_opts (ctx, &dopts) < 0) {
    img_ctx_free (ctx);
    return IMG_EXIT_ERROR;
  }

  if (rollback) {
    r = img_undo_rollback (ctx, rollback, optind < argc ? (const char *const *) argv + optind : NULL,
                           (size_t) (argc - optind), o.force ? IMG_UNDO_FORCE : 0);
    if (r < 0)
      code = fail (ctx);
    else {
      printf (r == 1 ? "Nothing to roll back.\n" : "Rolled back: the image is as it was before img2pv.\n");
      code = r == 1 ? IMG_EXIT_NOTHING : 0;
    }
    img_ctx_free (ctx);
    return code;
  }
  if (optind >= argc) {
    usage (stderr);
    img_ctx_free (ctx);
    return IMG_EXIT_USAGE;
  }
  if (o.output && argc - optind != 1) {
    fprintf (stderr, PROG ": --output converts one image\n");
    img_ctx_free (ctx);
    return IMG_EXIT_USAGE;
  }
  images = (const char *const *) argv + optind;
  n_images = (size_t) (argc - optind);

  /* The xl config path, checked before anything is written. */
  if (!o.no_xl) {
    const char *target = o.output ? o.output : images[0];
    if (o.xl_path)
      xl_path = xstrdup (o.xl_path);
    else {
      char *dir = dir_name (target), *b = base_name (target, true);
      xl_path = xasprintf ("%s/%s.cfg", dir, b);
      free (dir);
      free (b);
    }
    if (access (xl_path, F_OK) == 0 && !o.force) {
      char *old;
      size_t len;
      if (host_read_file (ctx, xl_path, 1 << 20, &old, &len) < 0) {
        code = fail (ctx);
        goto out;
      }
      if (!strstr (old, "# Written by img2pv")) {
        fprintf (stderr, PROG ": %s: xl config %s exists and was not written by img2pv; not replacing it "
                 "(--xl-config elsewhere, --no-xl-config, or --force)\n", images[0], xl_path);
        free (old);
        code = IMG_EXIT_ERROR;
        goto out;
      }
      free (old);
    }
  }

  if (o.output && !o.dry_run) {
    /* Convert a copy: made under a temporary name, renamed when done. */
    tmp_out = xasprintf ("%s.img2pv-tmp", o.output);
    if (access (o.output, F_OK) == 0) {
      fprintf (stderr, PROG ": %s: already exists; not overwriting it\n", o.output);
      code = IMG_EXIT_ERROR;
      goto out;
    }
    unlink (tmp_out);
    if (copy_image (ctx, images[0], tmp_out) < 0) {
      code = fail (ctx);
      goto out;
    }
    work_image[0] = tmp_out;
    images = work_image;
    flags |= IMG_PLAN_NO_UNDO;
  }
  if (o.dry_run)
    flags |= IMG_PLAN_DRY_RUN;
  if (o.no_undo)
    flags |= IMG_PLAN_NO_UNDO;

  pv.ctx = ctx;
  pv.o = &o;
  pv.images = images;
  pv.n_images = n_images;
  r = tool_plan_open (ctx, PROG, images, n_images, flags, o.undo, &plan);
  if (r < 0) {
    code = fail (ctx);
    goto out;
  }
  pv.plan = plan;
  pv.g = img_plan_guest (plan);
  plan_disk_facts (plan);
  if (img_guest_n_roots (pv.g) == 0) {
    fprintf (stderr, PROG ": %s: guest: no Linux root filesystem found\n", images[0]);
    code = IMG_EXIT_ERROR;
    goto out;
  }
  if ((r = img_guest_inspect (pv.g, &pv.insp)) < 0) {
    code = fail (ctx);
    goto out;
  }
  pv.flavour = pv.insp->initramfs ? pv.insp->initramfs : "unknown";
  if ((r = choose_kernel (&pv)) < 0 || (r = check_kernel_version (&pv)) < 0
      || (r = finish_host_kernel (&pv)) < 0
      || (r = prepare_entry (&pv, o.output ? o.output : images[0])) < 0) {
    code = fail (ctx);
    goto out;
  }
  img_plan_fact (plan, "kernel", "%s (%s, console %s, drivers %s %s)", pv.kver,
                 pv.xenified ? "xenified" : "pvops", pv.console, pv.drivers[0], pv.drivers[1]);
  img_plan_fact (plan, "pv_entry", "%s", pv.title);
  img_plan_fact (plan, "pv_args", "%s", pv.args);
  img_plan_fact (plan, "boot", "%s", pv.direct_kernel ? "direct-kernel" : "pygrub");
  if (pv.direct_kernel) {
    img_plan_fact (plan, "direct_kernel_reason", "%s", pv.direct_reason);
    img_plan_fact (plan, "kernel_file", "%s", pv.kernel_out);
    img_plan_fact (plan, "initrd_file", "%s", pv.initrd_out);
  }
  if (xl_path)
    img_plan_fact (plan, "xl_config", "%s", xl_path);
  if (o.output)
    img_plan_fact (plan, "output", "%s", o.output);

  for (i = 0; i < sizeof edits / sizeof edits[0]; i++) {
    if (strcmp (edits[i].name, "kernel-from") == 0 && !o.kernel_from && !o.modules_from)
      continue;
    if (strcmp (edits[i].name, "kernel-extract") == 0 && !pv.direct_kernel)
      continue;
    img_plan_add (plan, &edits[i], &pv);
  }

  pv.formats = calloc (n_images, sizeof *pv.formats);
  for (i = 0; pv.formats && i < n_images && i < img_guest_n_disks (pv.g); i++)
    pv.formats[i] = xstrdup (img_disk_format (img_guest_disk (pv.g, i)));

  /* The guest is closed after this; the xl config uses what was found. */
  r = img_plan_run (plan);
  if (r == 0 && xl_path && !o.mac && !pv.mac[0]) {
    /* A re-run finds no NIC traces left in the guest: keep the MAC that
     * the first run put into its xl config. */
    char *old = NULL, *m;
    size_t len;
    if (access (xl_path, F_OK) == 0 && host_read_file (ctx, xl_path, 1 << 20, &old, &len) == 0
        && strstr (old, "# Written by img2pv") && (m = strstr (old, ", mac=")) && strlen (m + 6) >= 17) {
      memcpy (pv.mac, m + 6, 17);
      pv.mac[17] = '\0';
      if (img_check_mac (pv.mac, NULL) < 0)
        pv.mac[0] = '\0';
    }
    free (old);
  }
  if (r == 0 && xl_path) {
    r = xl_config (&pv, o.output ? (const char *const *) &o.output : images, n_images, &xl_text);
    if (r < 0) {
    } else if (!o.dry_run) {
      char *old = NULL;
      size_t len = 0;
      bool same = access (xl_path, F_OK) == 0
                  && host_read_file (ctx, xl_path, 1 << 20, &old, &len) == 0
                  && len == strlen (xl_text) && memcmp (old, xl_text, len) == 0;
      free (old);
      xl_same = same;
      if (!same && (r = host_write_file (ctx, xl_path, xl_text, strlen (xl_text), 0644)) < 0)
        fprintf (stderr, PROG ": the image was converted, but the xl config was not written: %s\n",
                 img_ctx_error (ctx));
    }
  }
  if (tmp_out) {
    if (r == 0 && img_plan_status (plan) != IMG_PLAN_FAILED
        && img_plan_status (plan) != IMG_PLAN_FAILED_DIRTY) {
      if (link (tmp_out, o.output) < 0) {
        fprintf (stderr, PROG ": %s: %s\n", o.output, strerror (errno));
        r = -errno;
      }
    }
    unlink (tmp_out);
  }
  if (o.json)
    img_plan_report_json (plan, stdout);
  else {
    img_plan_report_text (plan, stdout);
    if (xl_text && r == 0 && xl_same)
      printf ("xl config %s is up to date.\n", xl_path);
    else if (xl_text && r == 0)
      printf ("%s xl config %s:\n%s", o.dry_run ? "Would write" : "Wrote", xl_path, xl_text);
  }
  if (r < 0 && img_plan_status (plan) != IMG_PLAN_CHANGED && img_plan_status (plan) != IMG_PLAN_NOTHING) {
    const char *msg = img_ctx_error (ctx);
    if (strncmp (msg, images[0], strlen (images[0])) == 0)
      fprintf (stderr, PROG ": %s\n", msg);
    else
      fprintf (stderr, PROG ": %s: %s\n", o.output ? o.output : images[0], msg);
  }
  code = tool_exit_code (plan);
  if (r < 0 && code == 0)
    code = IMG_EXIT_ERROR;
  if (tmp_out && code == IMG_EXIT_DIRTY)
    code = IMG_EXIT_ERROR;      /* the copy was thrown away */
 out:
  img_plan_free (plan);
  if (tmp_out)
    unlink (tmp_out);           /* a copy that failed is never left behind */
  free_pv (&pv);
  free (xl_path);
  free (xl_text);
  free (tmp_out);
  img_ctx_free (ctx);
  return code;
}
