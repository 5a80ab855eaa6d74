/* Inspection of a guest: which OS (os-release, else the legacy release
 * files), hostname, architecture, kernels and their modules/initrds/
 * configs, the initramfs tooling and the bootloader configurations.
 * Everything read here is guest data: sizes are bounded and a file that
 * cannot be read is skipped, never fatal. */
#include <config.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "private.h"
#include "text/text-private.h"
#include "guest/guest-private.h"

#define SMALL_FILE (256 * 1024)
#define CONFIG_FILE (4 * 1024 * 1024)
#define MAX_KERNELS 64

int
img_version_cmp (const char *a, const char *b)
{
  while (*a && *b) {
    if (isdigit ((unsigned char) *a) && isdigit ((unsigned char) *b)) {
      unsigned long long x = strtoull (a, (char **) &a, 10);
      unsigned long long y = strtoull (b, (char **) &b, 10);
      if (x != y)
        return x < y ? -1 : 1;
      continue;
    }
    if (*a != *b)
      return (unsigned char) *a < (unsigned char) *b ? -1 : 1;
    a++;
    b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

/* Reads a small text file; NULL if absent or unreadable. */
static char *
read_text (struct img_guest *g, const char *path, size_t max, size_t *lenp)
{
  void *buf = NULL;
  size_t len = 0;

  if (img_guest_read_file (g, path, max, &buf, &len) < 0) {
    img_dbg (img_guest_ctx (g), "inspect: %s: %s", path, img_ctx_error (img_guest_ctx (g)));
    img_ctx_clear_error (img_guest_ctx (g));
    return NULL;
  }
  if (lenp)
    *lenp = len;
  return buf;
}

/* Release files in the order virt-inspector tries them: os-release
 * first, the clones' own files before the redhat-release they also carry
 * (Oracle Linux's says "Red Hat"), lsb-release before debian_version
 * (Ubuntu has both). */
static const char *const release_files[] = {
  "/etc/os-release", "/usr/lib/os-release", "/etc/lsb-release",
  "/etc/oracle-release", "/etc/enterprise-release", "/etc/centos-release",
  "/etc/rocky-release", "/etc/almalinux-release", "/etc/redhat-release",
  "/etc/fedora-release", "/etc/system-release", "/etc/SuSE-release",
  "/etc/debian_version", "/etc/arch-release", "/etc/gentoo-release",
  "/etc/alpine-release",
};

/* Parses one release file of the guest into IN: 0, or -ENOENT if it is
 * absent or says nothing.  An empty file is text too (arch-release). */
static int
parse_release (struct img_guest *g, const char *file, struct img_inspection *in)
{
  CLEANUP_FREE char *text = NULL;
  struct img_stat st;
  size_t len = 0;
  int r;

  if (img_guest_stat (g, file, &st) < 0 || !S_ISREG (st.mode)) {
    img_ctx_clear_error (img_guest_ctx (g));
    return -ENOENT;
  }
  if (st.size > 0 && (text = read_text (g, file, SMALL_FILE, &len)) == NULL)
    return -ENOENT;
  r = img_release_parse (file, text ? text : "", len, in);
  if (r < 0 && r != -ENOENT)
    img_dbg (img_guest_ctx (g), "inspect: %s: %s", file, strerror (-r));
  return r;
}

/* os-release of Debian, CentOS and Rocky gives the major version only;
 * their own file has the minor one, and virt-inspector reports it. */
static void
refine_version (struct img_guest *g, struct img_inspection *in)
{
  static const struct { const char *distro, *file; } minors[] = {
    { "debian", "/etc/debian_version" }, { "centos", "/etc/centos-release" },
    { "rocky", "/etc/rocky-release" },
  };
  size_t i;

  if (in->distro == NULL || in->os_version_id == NULL || strchr (in->os_version_id, '.'))
    return;
  for (i = 0; i < ARRAY_SIZE (minors); i++) {
    struct img_inspection *leg;
    if (strcmp (in->distro, minors[i].distro) != 0)
      continue;
    if ((leg = calloc (1, sizeof *leg)) == NULL)
      return;
    if (parse_release (g, minors[i].file, leg) == 0 && leg->major_version == in->major_version)
      in->minor_version = leg->minor_version;
    img_inspection_free (leg);
    return;
  }
}

static void
clear_os (struct img_inspection *in)
{
  free (in->os_id);
  free (in->os_id_like);
  free (in->os_name);
  free (in->os_pretty_name);
  free (in->os_version_id);
  free (in->os_codename);
  free (in->os_source);
  free (in->distro);
  in->os_id = in->os_id_like = in->os_name = in->os_pretty_name = NULL;
  in->os_version_id = in->os_codename = in->os_source = in->distro = NULL;
  in->major_version = in->minor_version = -1;
}

/* The first release file that names the OS; if none does (an os-release
 * without ID, say), what the first readable one said. */
static void
inspect_os (struct img_guest *g, struct img_inspection *in)
{
  size_t i, first = ARRAY_SIZE (release_files);

  clear_os (in);
  for (i = 0; i < ARRAY_SIZE (release_files); i++) {
    if (parse_release (g, release_files[i], in) < 0)
      continue;
    if (in->os_id) {
      refine_version (g, in);
      return;
    }
    if (first == ARRAY_SIZE (release_files))
      first = i;
    clear_os (in);
  }
  if (first < ARRAY_SIZE (release_files) && parse_release (g, release_files[first], in) < 0)
    clear_os (in);
}

static void
inspect_hostname (struct img_guest *g, struct img_inspection *in)
{
  char *text;

  if ((text = read_text (g, "/etc/hostname", SMALL_FILE, NULL)) != NULL) {
    in->hostname = img_internal_first_line (text);
    free (text);
  }
  if (in->hostname == NULL
      && (text = read_text (g, "/etc/sysconfig/network", SMALL_FILE, NULL)) != NULL) {
    in->hostname = img_internal_text_value (text, "HOSTNAME");
    free (text);
  }
  if (in->hostname == NULL && (text = read_text (g, "/etc/HOSTNAME", SMALL_FILE, NULL)) != NULL) {
    in->hostname = img_internal_first_line (text);
    free (text);
  }
}

static void
inspect_arch (struct img_guest *g, struct img_inspection *in)
{
  static const char *const bins[] = { "/bin/sh", "/bin/bash", "/usr/bin/ls", "/bin/ls" };
  static const struct { unsigned machine; const char *name; } machines[] = {
    { 3, "i386" }, { 62, "x86_64" }, { 183, "aarch64" }, { 40, "arm" },
    { 21, "ppc64" }, { 22, "s390x" }, { 243, "riscv64" },
  };
  unsigned char hdr[20];
  size_t i, k, got;

  for (i = 0; i < ARRAY_SIZE (bins); i++) {
    CLEANUP_FREE char *canon = NULL;
    struct img_fs *fs;
    const char *rel;
    if (img_internal_guest_resolve (g, bins[i], true, &canon, &fs, &rel) < 0
        || img_fs_pread (fs, rel, hdr, sizeof hdr, 0, &got) < 0 || got < sizeof hdr
        || memcmp (hdr, "\177ELF", 4) != 0) {
      img_ctx_clear_error (img_guest_ctx (g));
      continue;
    }
    for (k = 0; k < ARRAY_SIZE (machines); k++)
      if ((hdr[5] == 2 ? (unsigned) (hdr[18] << 8 | hdr[19]) : get_le16 (hdr + 18))
          == machines[k].machine) {
        in->arch = strdup (machines[k].name);
        if (strcmp (machines[k].name, "i386") == 0) {
          free (in->arch);
          in->arch = strdup ("i686");
        }
        return;
      }
  }
}

static const char *
detect_initramfs (struct img_guest *g)
{
  if (img_guest_exists (g, "/usr/bin/dracut") || img_guest_exists (g, "/sbin/dracut")
      || img_guest_exists (g, "/usr/sbin/dracut") || img_guest_exists (g, "/etc/dracut.conf"))
    return "dracut";
  if (img_guest_exists (g, "/usr/sbin/mkinitramfs") || img_guest_exists (g, "/etc/initramfs-tools"))
    return "initramfs-tools";
  if (img_guest_exists (g, "/sbin/mkinitrd") || img_guest_exists (g, "/usr/sbin/mkinitrd"))
    return "mkinitrd";
  return "unknown";
}

/* Whether the kernel config TEXT has the line LINE (first line too). */
static bool
config_has (const char *text, const char *line)
{
  size_t l = strlen (line);
  const char *p;

  for (p = text; (p = strstr (p, line)) != NULL; p += l)
    if ((p == text || p[-1] == '\n') && (p[l] == '\n' || p[l] == '\0'))
      return true;
  return false;
}

/* Xen PV support of a kernel, from its name and its config. */
static const char *
kernel_xen (struct img_guest *g, const char *version, const char *config)
{
  CLEANUP_FREE char *text = NULL;

  if (strstr (version, "xen"))
    return "xenified";
  if (config == NULL || (text = read_text (g, config, CONFIG_FILE, NULL)) == NULL)
    return "unknown";
  if (config_has (text, "CONFIG_XEN_PV=y"))
    return "pvops";
  /* Before 4.14 split it out, CONFIG_XEN alone meant PV support. */
  if (config_has (text, "CONFIG_XEN=y") && !strstr (text, "CONFIG_XEN_PV"))
    return "pvops";
  return "none";
}

/* Name patterns around a kernel version: prefix VERSION suffix. */
struct around {
  const char *prefix, *suffix;
};

static char *
first_existing (struct img_guest *g, const struct around *pats, size_t n,
                const char *version)
{
  size_t i;

  for (i = 0; i < n; i++) {
    char *p;
    if (asprintf (&p, "%s%s%s", pats[i].prefix, version, pats[i].suffix) < 0)
      return NULL;
    if (img_guest_exists (g, p))
      return p;
    img_ctx_clear_error (img_guest_ctx (g));
    free (p);
  }
  return NULL;
}

static int
cmp_kernels (const void *a, const void *b)
{
  const struct img_kernel_info *ka = a, *kb = b;

  return -img_version_cmp (ka->version, kb->version);
}

static void
inspect_kernels (struct img_guest *g, struct img_inspection *in)
{
  static const struct around initrds[] = {
    { "/boot/initrd.img-", "" }, { "/boot/initramfs-", ".img" },
    { "/boot/initrd-", ".img" }, { "/boot/initrd-", "" },
  };
  static const struct around modules[] = {
    { "/lib/modules/", "" }, { "/usr/lib/modules/", "" },
  };
  static const struct around configs[] = {
    { "/boot/config-", "" }, { "/lib/modules/", "/config" },
  };
  struct img_dirent *ents = NULL;
  size_t n = 0, i;

  if (img_guest_readdir (g, "/boot", &ents, &n) < 0) {
    img_ctx_clear_error (img_guest_ctx (g));
    return;
  }
  for (i = 0; i < n && in->n_kernels < MAX_KERNELS; i++) {
    const char *name = ents[i].name, *ver;
    struct img_kernel_info *k;
    struct img_stat st;
    char path[300];

    if (strncmp (name, "vmlinuz-", 8) == 0)
      ver = name + 8;
    else if (strncmp (name, "vmlinux-", 8) == 0)
      ver = name + 8;
    else
      continue;
    if (!*ver || strlen (name) > 250 || strstr (ver, "rescue"))
      continue;
    snprintf (path, sizeof path, "/boot/%s", name);
    if (img_guest_stat (g, path, &st) < 0 || !S_ISREG (st.mode)) {
      img_ctx_clear_error (img_guest_ctx (g));
      continue;
    }
    k = realloc (in->kernels, (in->n_kernels + 1) * sizeof *k);
    if (k == NULL)
      break;
    in->kernels = k;
    k = &k[in->n_kernels++];
    memset (k, 0, sizeof *k);
    k->version = strdup (ver);
    k->vmlinuz = strdup (path);
    k->initrd = first_existing (g, initrds, ARRAY_SIZE (initrds), ver);
    k->modules = first_existing (g, modules, ARRAY_SIZE (modules), ver);
    k->config = first_existing (g, configs, ARRAY_SIZE (configs), ver);
    k->xen = kernel_xen (g, ver, k->config);
  }
  img_dirents_free (ents, n);
  if (in->n_kernels > 1)
    qsort (in->kernels, in->n_kernels, sizeof *in->kernels, cmp_kernels);
}

static void
add_bootcfg (struct img_guest *g, struct img_inspection *in, const char *path,
             enum img_boot_kind kind)
{
  CLEANUP_FREE char *text = NULL;
  struct img_bootcfg *b;
  size_t len;

  if ((text = read_text (g, path, CONFIG_FILE, &len)) == NULL)
    return;
  b = realloc (in->bootcfgs, (in->n_bootcfgs + 1) * sizeof *b);
  if (b == NULL)
    return;
  in->bootcfgs = b;
  b = &b[in->n_bootcfgs];
  memset (b, 0, sizeof *b);
  if (img_bootcfg_parse (img_guest_ctx (g), kind, text, len, &b->entries,
                         &b->n_entries, &b->default_index) < 0) {
    img_dbg (img_guest_ctx (g), "inspect: %s: %s", path, img_ctx_error (img_guest_ctx (g)));
    img_ctx_clear_error (img_guest_ctx (g));
    return;
  }
  b->path = strdup (path);
  b->kind = kind;
  in->n_bootcfgs++;
}

/* FIELD of a BLS entry with the grubenv's variables in it expanded, as
 * blscfg boots it (RHEL 8: "options $kernelopts $tuned_params"). */
static void
bls_expand (struct img_guest *g, const char *env, size_t env_len, char **field)
{
  char *x = NULL;
  int r;

  if (*field == NULL || strchr (*field, '$') == NULL)
    return;
  if ((r = img_internal_grubenv_expand (env ? env : "", env ? env_len : 0, *field, &x)) < 0) {
    img_dbg (img_guest_ctx (g), "inspect: BLS line %s not expanded: %s", *field, strerror (-r));
    return;
  }
  free (*field);
  *field = x;
}

static void
inspect_boot (struct img_guest *g, struct img_inspection *in)
{
  static const struct { const char *path; enum img_boot_kind kind; } files[] = {
    { "/boot/grub/grub.cfg", IMG_BOOT_GRUB2 },
    { "/boot/grub2/grub.cfg", IMG_BOOT_GRUB2 },
    { "/boot/grub/menu.lst", IMG_BOOT_GRUB_LEGACY },
    { "/boot/grub/grub.conf", IMG_BOOT_GRUB_LEGACY },
    { "/boot/extlinux/extlinux.conf", IMG_BOOT_EXTLINUX },
    { "/boot/extlinux.conf", IMG_BOOT_EXTLINUX },
    { "/boot/syslinux/syslinux.cfg", IMG_BOOT_EXTLINUX },
  };
  struct img_dirent *ents = NULL;
  size_t n = 0, i;
  char seen[ARRAY_SIZE (files)][PATH_MAX];
  size_t n_seen = 0, env_len = 0;
  CLEANUP_FREE char *env = read_text (g, "/boot/grub2/grubenv", CONFIG_FILE, &env_len);

  for (i = 0; i < ARRAY_SIZE (files); i++) {
    CLEANUP_FREE char *canon = NULL;
    size_t k;
    /* menu.lst is often a symlink to grub.conf: read each file once. */
    if (img_guest_realpath (g, files[i].path, true, &canon) < 0 || !img_guest_exists (g, canon)) {
      img_ctx_clear_error (img_guest_ctx (g));
      continue;
    }
    for (k = 0; k < n_seen; k++)
      if (strcmp (seen[k], canon) == 0)
        break;
    if (k < n_seen)
      continue;
    snprintf (seen[n_seen++], PATH_MAX, "%s", canon);
    add_bootcfg (g, in, files[i].path, files[i].kind);
  }
  if (img_guest_readdir (g, "/boot/loader/entries", &ents, &n) == 0) {
    for (i = 0; i < n && i < 256; i++) {
      size_t l = strlen (ents[i].name);
      char path[PATH_MAX];
      if (l < 6 || strcmp (ents[i].name + l - 5, ".conf") != 0)
        continue;
      snprintf (path, sizeof path, "/boot/loader/entries/%s", ents[i].name);
      add_bootcfg (g, in, path, IMG_BOOT_BLS);
      if (in->n_bootcfgs && strcmp (in->bootcfgs[in->n_bootcfgs - 1].path, path) == 0
          && in->bootcfgs[in->n_bootcfgs - 1].n_entries == 1) {
        struct img_boot_entry *e = &in->bootcfgs[in->n_bootcfgs - 1].entries[0];
        free (e->id);
        e->id = strndup (ents[i].name, l - 5);
        bls_expand (g, env, env_len, &e->kernel);
        bls_expand (g, env, env_len, &e->initrd);
        bls_expand (g, env, env_len, &e->args);
      }
    }
    img_dirents_free (ents, n);
  }
  img_ctx_clear_error (img_guest_ctx (g));
}

int
img_guest_inspect (struct img_guest *g, struct img_inspection **out)
{
  struct img_inspection *in;

  in = calloc (1, sizeof *in);
  if (in == NULL)
    return img_err (img_guest_ctx (g), -ENOMEM, "inspect: out of memory");
  inspect_os (g, in);
  inspect_hostname (g, in);
  inspect_arch (g, in);
  in->initramfs = detect_initramfs (g);
  inspect_kernels (g, in);
  inspect_boot (g, in);
  img_ctx_clear_error (img_guest_ctx (g));
  *out = in;
  return 0;
}

void
img_inspection_free (struct img_inspection *in)
{
  size_t i;

  if (in == NULL)
    return;
  clear_os (in);
  free (in->hostname);
  free (in->arch);
  for (i = 0; i < in->n_kernels; i++) {
    free (in->kernels[i].version);
    free (in->kernels[i].vmlinuz);
    free (in->kernels[i].initrd);
    free (in->kernels[i].modules);
    free (in->kernels[i].config);
  }
  free (in->kernels);
  for (i = 0; i < in->n_bootcfgs; i++) {
    free (in->bootcfgs[i].path);
    img_boot_entries_free (in->bootcfgs[i].entries, in->bootcfgs[i].n_entries);
  }
  free (in->bootcfgs);
  free (in);
}
