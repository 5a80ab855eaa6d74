/* img-inspect: what is inside disk images: the block layout (container
 * format, partition table, LVM, filesystems) and the guest (OS, mount map,
 * kernels, initrds, bootloader entries).  A thin front end over libimg:
 * options, text or JSON output, exit status. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "img-quote.h"
#include "img-json.h"
#include "libimg.h"
#include "guest/guest-private.h"
#include "img-inspect.h"
#include "cli.h"
#include "report.h"

#define PROG "img-inspect"
#define DEFAULT_MODULES "xen-blkfront,xen-netfront"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

/* File data an initrd's listing keeps: only "init" is looked at (a
 * nash script: small), and only up to KEEP_DATA. */
#define KEEP_DATA (64u << 10)

static int
keep_init (const char *name)
{
  if (name[0] == '/')
    name++;
  else if (name[0] == '.' && name[1] == '/')
    name += 2;
  return strcmp (name, "init") == 0 ? 0 : -1;
}

/* What we found in one kernel's initrd. */
struct initrd_info {
  bool read;                    /* parsed successfully */
  char *error;                  /* why not */
  const char *flavour;
  size_t n_segments;
  struct img_initrd_segment *segments;
  size_t n_entries;
  const char **module_where;    /* per asked module: "initrd", "builtin", "missing" */
};

struct state {
  struct img_ctx *ctx;
  char *const *paths;
  size_t n_images;
  struct img_guest *g;
  struct img_inspection *insp;
  struct initrd_info *initrds;  /* one per kernel */
  char **modules;               /* asked for */
  size_t n_modules;
};

static void
usage (FILE *fp)
{
  fprintf (fp,
           "Usage: %s [OPTION]... IMAGE...\n"
           "Show what is inside powered-off VM disk images: container format,\n"
           "partition table, LVM volume groups and logical volumes, filesystems,\n"
           "and the guest: OS, mount map, kernels, initrds, bootloader entries.\n"
           "Several images are read together (a guest or a volume group may span\n"
           "them).  Nothing is mounted, activated or run.\n"
           "\n"
           "  -j, --json           machine-readable output (see img-inspect(1))\n"
           "      --format=FMT     the images' container format (raw, qcow2, vmdk, ...);\n"
           "                       without it, it is guessed from the image's bytes\n"
           "      --allow-backing  follow backing/data files that are local regular files\n"
           "                       (refused otherwise)\n"
           "      --backend=B      auto (default: ext2/3/4 natively, xfs, btrfs... through\n"
           "                       one libguestfs appliance), native, guestfs\n"
           "      --key=SEL:key:PASSPHRASE, --key=SEL:file:PATH\n"
           "                       key of a LUKS volume (SEL: its UUID, /dev/sdXN or all),\n"
           "                       opened in the appliance\n"
           "  -m, --modules=LIST   kernel modules to look for in each initrd\n"
           "                       (comma-separated; default " DEFAULT_MODULES ")\n"
           "  -q, --quiet          errors only: no warnings, no progress\n"
           "  -v, --verbose        debug messages on stderr (as IMG_DEBUG=1)\n"
           "  -x, --trace          the step lines, with traced operations\n"
           "  -p, --progress       timestamped step lines on stderr (default on a TTY)\n"
           "      --no-progress    none, even on a TTY\n"
           "      --budget=NAME=SIZE  raise or lower a resource budget (IMG_BUDGET_*)\n"
           "  -h, --help           this help\n"
           "  -V, --version        version\n", PROG);
}

static int
fail (struct state *st)
{
  const char *msg = img_ctx_error (st->ctx);

  return report_error (EXIT_ERROR, "%s", *msg ? msg : "out of memory");
}

/* ---- initrds ----------------------------------------------------------- */

/* "xen_blkfront" and "xen-blkfront" are one module to modprobe. */
static bool
module_name_eq (const char *a, size_t alen, const char *b)
{
  size_t i;

  if (alen != strlen (b))
    return false;
  for (i = 0; i < alen; i++) {
    char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
    if (x != y)
      return false;
  }
  return true;
}

/* Does PATH (".../name.ko", ".ko.xz", ".ko.zst", ".ko.gz") name MODULE? */
static bool
is_module_file (const char *path, const char *module)
{
  const char *base = strrchr (path, '/'), *ko;

  base = base ? base + 1 : path;
  ko = strstr (base, ".ko");
  if (ko == NULL || (ko[3] != '\0' && ko[3] != '.'))
    return false;
  return module_name_eq (base, ko - base, module);
}

static bool
builtin_has (const char *builtin, const char *module)
{
  const char *line = builtin;

  while (line && *line) {
    const char *nl = strchr (line, '\n');
    char buf[512];
    size_t l = nl ? (size_t) (nl - line) : strlen (line);
    if (l < sizeof buf) {
      memcpy (buf, line, l);
      buf[l] = '\0';
      if (is_module_file (buf, module))
        return true;
    }
    line = nl ? nl + 1 : NULL;
  }
  return false;
}

static void
inspect_initrd (struct state *st, const struct img_kernel_info *k,
                struct initrd_info *ii)
{
  size_t i, m;
  struct img_initrd *initrd = NULL;
  char *builtin = NULL;
  char path[600], what[1200];
  int r;

  snprintf (what, sizeof what, "%s: %s", st->paths[0], k->initrd ? k->initrd : "");
  ii->module_where = calloc (st->n_modules + 1, sizeof *ii->module_where);
  if (k->modules) {
    size_t blen;
    snprintf (path, sizeof path, "%s/modules.builtin", k->modules);
    if (img_guest_read_file (st->g, path, 16u << 20, (void **) &builtin, &blen) < 0)
      builtin = NULL;
  }
  img_ctx_clear_error (st->ctx);
  if (k->initrd == NULL)
    goto modules;
  /* The file and its inflated bytes are bounded by the context's
   * budgets; an initrd past them is skipped with one line, the rest of
   * the guest still reported. */
  if ((r = img_guest_initrd_parse (st->g, k->initrd, UINT64_MAX, what, 0, KEEP_DATA, keep_init,
                                    NULL, &initrd, NULL)) < 0) {
    ii->error = strdup (img_ctx_error (st->ctx));
    if (r == -EFBIG || r == -E2BIG)
      fprintf (stderr, "%s: %s: skipped\n", PROG, img_ctx_error (st->ctx));
    img_ctx_clear_error (st->ctx);
    goto modules;
  }
  ii->read = true;
  ii->n_entries = img_initrd_n_entries (initrd);
  ii->n_segments = img_initrd_n_segments (initrd);
  ii->segments = calloc (ii->n_segments + 1, sizeof *ii->segments);
  for (i = 0; ii->segments && i < ii->n_segments; i++)
    ii->segments[i] = *img_initrd_segment (initrd, i);
  ii->flavour = "unknown";
  if (img_initrd_lookup (initrd, "scripts/local") || img_initrd_lookup (initrd, "conf/initramfs.conf"))
    ii->flavour = "initramfs-tools";
  else if (img_initrd_lookup (initrd, "usr/lib/dracut/build-parameter.txt")
           || img_initrd_lookup (initrd, "usr/lib/dracut/modules.txt")
           || img_initrd_lookup (initrd, "dracut-state.sh"))
    ii->flavour = "dracut";
  else {
    const struct img_cpio_entry *init = img_initrd_lookup (initrd, "init");
    if (init && init->data && init->size >= 11 && memcmp (init->data, "#!/bin/nash", 11) == 0)
      ii->flavour = "mkinitrd";
  }
 modules:
  for (m = 0; ii->module_where && m < st->n_modules; m++) {
    ii->module_where[m] = "missing";
    for (i = 0; initrd && i < img_initrd_n_entries (initrd); i++)
      if (is_module_file (img_initrd_entry (initrd, i)->name, st->modules[m])) {
        ii->module_where[m] = "initrd";
        break;
      }
    if (strcmp (ii->module_where[m], "missing") == 0 && builtin
        && builtin_has (builtin, st->modules[m]))
      ii->module_where[m] = "builtin";
  }
  /* Segment compression names are static strings; the rest we copied. */
  img_initrd_free (initrd);
  free (builtin);
}

/* ---- helpers over the guest's volumes ---------------------------------- */

static const struct img_fsinfo *
whole_fs (const struct state *st, size_t image)
{
  const struct img_disk *disk = img_guest_disk (st->g, image);
  size_t i;

  for (i = 0; i < img_guest_n_volumes (st->g); i++) {
    const struct img_fsinfo *info;
    const struct img_part *vp;
    size_t vi;
    const struct img_volume *v = img_guest_volume (st->g, i, &info, &vp, &vi);
    if (vp == NULL && vi == image && v->n_segments == 1
        && v->segments[0].stripes[0].disk == disk && v->segments[0].stripes[0].offset == 0)
      return info;
  }
  return NULL;
}

const struct img_fsinfo *
vol_fs (const struct img_guest *g, const struct img_volume *vol)
{
  size_t i;

  for (i = 0; vol && i < img_guest_n_volumes (g); i++) {
    const struct img_fsinfo *info;
    if (img_guest_volume (g, i, &info, NULL, NULL) == vol)
      return info;
  }
  return NULL;
}

/* Where a PV-relative byte lands in its image. */
static bool
pv_location (const struct img_lvm_pv *pv, uint64_t rel, const char **image,
             uint64_t *offset)
{
  const struct img_volume *dev = pv->dev;

  if (dev == NULL || dev->n_segments != 1 || dev->segments[0].n_stripes != 1)
    return false;
  *image = img_disk_name (dev->segments[0].stripes[0].disk);
  *offset = dev->segments[0].stripes[0].offset + rel;
  return true;
}

/* ---- btrfs subvolumes, listed once per run ------------------------------ */

/* The subvolumes of each btrfs the appliance reads, keyed by the
 * volume's signature (what json_fs and text_fs are given). */
static struct subvols {
  const struct img_fsinfo *info;
  struct img_subvolume *subs;
  size_t n;
} *subvols;
static size_t n_subvols;

static void
list_subvolumes (struct state *st)
{
  size_t i, n = img_guest_n_volumes (st->g);

  subvols = calloc (n + 1, sizeof *subvols);
  if (subvols == NULL)
    return;
  for (i = 0; i < n; i++) {
    struct subvols *sv = &subvols[n_subvols];
    img_guest_volume (st->g, i, &sv->info, NULL, NULL);
    if (strcmp (sv->info->type, "btrfs") != 0)
      continue;
    if (img_guest_subvolumes (st->g, i, &sv->subs, &sv->n) < 0) {
      fprintf (stderr, PROG ": warning: %s\n", img_ctx_error (st->ctx));
      img_ctx_clear_error (st->ctx);
      continue;
    }
    if (sv->n)
      n_subvols++;
  }
}

static const struct subvols *
subvols_of (const struct img_fsinfo *fs)
{
  size_t i;

  for (i = 0; i < n_subvols; i++)
    if (subvols[i].info == fs)
      return &subvols[i];
  return NULL;
}

static void
free_subvolumes (void)
{
  size_t i;

  for (i = 0; i < n_subvols; i++)
    img_subvolumes_free (subvols[i].subs, subvols[i].n);
  free (subvols);
  subvols = NULL;
  n_subvols = 0;
}

/* ---- JSON -------------------------------------------------------------- */

void
json_fs (struct img_json *j, const struct img_fsinfo *fs)
{
  const struct subvols *sv;
  size_t i;

  img_json_key (j, "filesystem");
  if (fs == NULL || fs->type[0] == '\0') {
    img_json_null (j);
    return;
  }
  img_json_begin_object (j);
  img_json_kv_string (j, "type", fs->type);
  img_json_kv_string (j, "uuid", fs->uuid[0] ? fs->uuid : NULL);
  img_json_kv_string (j, "label", fs->label[0] ? fs->label : NULL);
  if ((sv = subvols_of (fs)) != NULL) {
    img_json_key (j, "subvolumes");
    img_json_begin_array (j);
    for (i = 0; i < sv->n; i++) {
      img_json_begin_object (j);
      img_json_kv_uint (j, "id", sv->subs[i].id);
      img_json_kv_string (j, "path", sv->subs[i].path);
      img_json_end_object (j);
    }
    img_json_end_array (j);
  }
  img_json_end_object (j);
}

static void
json_images (struct state *st, struct img_json *j)
{
  size_t i, k;

  img_json_key (j, "images");
  img_json_begin_array (j);
  for (i = 0; i < st->n_images; i++) {
    struct img_disk *disk = img_guest_disk (st->g, i);
    const struct img_ptable *pt = img_guest_ptable (st->g, i);
    img_json_begin_object (j);
    img_json_kv_string (j, "path", img_disk_name (disk));
    img_json_kv_string (j, "format", img_disk_format (disk));
    img_json_kv_bool (j, "format_guessed", img_disk_format_guessed (disk));
    img_json_key (j, "backing_chain");
    img_json_begin_array (j);
    for (k = 0; k < img_disk_n_backing (disk); k++)
      img_json_string (j, img_disk_backing (disk, k));
    img_json_end_array (j);
    img_json_kv_uint (j, "size", img_disk_size (disk));
    json_ptable (j, st->g, pt, false);
    json_fs (j, pt->type == IMG_PTABLE_NONE ? whole_fs (st, i) : NULL);
    img_json_end_object (j);
  }
  img_json_end_array (j);
}

static void
json_vgs (struct state *st, struct img_json *j)
{
  const struct img_lvm *lvm = img_guest_lvm (st->g);
  size_t i, k, l, s;

  img_json_key (j, "volume_groups");
  img_json_begin_array (j);
  for (i = 0; i < img_lvm_n_vgs (lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (lvm, i);
    img_json_begin_object (j);
    img_json_kv_string (j, "name", vg->name);
    img_json_kv_string (j, "uuid", vg->uuid);
    img_json_kv_uint (j, "seqno", vg->seqno);
    img_json_kv_uint (j, "extent_size", vg->extent_size);
    img_json_kv_bool (j, "partial", vg->partial);
    img_json_key (j, "pvs");
    img_json_begin_array (j);
    for (k = 0; k < vg->n_pvs; k++) {
      const struct img_lvm_pv *pv = &vg->pvs[k];
      img_json_begin_object (j);
      img_json_kv_string (j, "name", pv->name);
      img_json_kv_string (j, "uuid", pv->uuid);
      img_json_kv_string (j, "device", pv->dev ? pv->dev->name : NULL);
      img_json_kv_uint (j, "pe_start", pv->pe_start);
      img_json_kv_uint (j, "pe_count", pv->pe_count);
      img_json_end_object (j);
    }
    img_json_end_array (j);
    img_json_key (j, "lvs");
    img_json_begin_array (j);
    for (k = 0; k < vg->n_lvs; k++) {
      const struct img_lvm_lv *lv = &vg->lvs[k];
      img_json_begin_object (j);
      img_json_kv_string (j, "name", lv->name);
      img_json_kv_string (j, "uuid", lv->uuid);
      img_json_kv_uint (j, "size", lv->size);
      img_json_kv_bool (j, "visible", lv->visible);
      img_json_kv_string (j, "error", lv->error);
      img_json_key (j, "segments");
      img_json_begin_array (j);
      for (l = 0; l < lv->n_segs; l++) {
        const struct img_lvm_seg *sg = &lv->segs[l];
        img_json_begin_object (j);
        img_json_kv_uint (j, "start_extent", sg->start_extent);
        img_json_kv_uint (j, "extent_count", sg->extent_count);
        img_json_kv_string (j, "type", sg->type);
        img_json_kv_uint (j, "stripe_size", sg->stripe_size);
        img_json_key (j, "stripes");
        img_json_begin_array (j);
        for (s = 0; s < sg->n_stripes; s++) {
          const struct img_lvm_stripe *stp = &sg->stripes[s];
          const struct img_lvm_pv *pv = stp->pv < vg->n_pvs ? &vg->pvs[stp->pv] : NULL;
          const char *image;
          uint64_t off;
          img_json_begin_object (j);
          img_json_kv_string (j, "pv", pv ? pv->name : NULL);
          img_json_kv_uint (j, "first_pe", stp->first_pe);
          if (pv && pv_location (pv, pv->pe_start + stp->first_pe * vg->extent_size,
                                 &image, &off)) {
            img_json_kv_string (j, "image", image);
            img_json_kv_uint (j, "offset", off);
          }
          else {
            img_json_kv_string (j, "image", NULL);
            img_json_key (j, "offset");
            img_json_null (j);
          }
          img_json_end_object (j);
        }
        img_json_end_array (j);
        img_json_end_object (j);
      }
      img_json_end_array (j);
      json_fs (j, vol_fs (st->g, lv->vol));
      img_json_end_object (j);
    }
    img_json_end_array (j);
    img_json_end_object (j);
  }
  img_json_end_array (j);
}

/* KEY: V, or null when V is negative (unknown). */
static void
json_kv_count (struct img_json *j, const char *key, int v)
{
  img_json_key (j, key);
  if (v >= 0)
    img_json_uint (j, (uint64_t) v);
  else
    img_json_null (j);
}

/* A Windows guest (reported, not converted), or null. */
static void
json_windows (const struct img_windows *w, struct img_json *j)
{
  img_json_key (j, "windows");
  if (w == NULL) {
    img_json_null (j);
    return;
  }
  img_json_begin_object (j);
  img_json_kv_string (j, "root", w->volume);
  img_json_kv_string (j, "systemroot", w->systemroot);
  img_json_kv_string (j, "distro", "windows");
  img_json_kv_string (j, "product_name", w->product_name);
  img_json_kv_string (j, "product_variant", w->product_variant);
  json_kv_count (j, "major_version", w->major_version);
  json_kv_count (j, "minor_version", w->minor_version);
  img_json_kv_string (j, "arch", w->arch);
  img_json_kv_string (j, "hostname", w->hostname);
  img_json_kv_bool (j, "convertible", false);
  img_json_end_object (j);
}

static void
json_guest (struct state *st, struct img_json *j)
{
  const struct img_inspection *in = st->insp;
  size_t i, k;

  if (in == NULL) {
    /* Why no guest may have been missed (a LUKS volume with no key...). */
    img_json_kv_string (j, "no_guest_reason", img_guest_no_root_reason (st->g));
    json_windows (img_guest_windows (st->g), j);
    img_json_key (j, "guest");
    img_json_null (j);
    return;
  }
  img_json_key (j, "guest");
  img_json_begin_object (j);
  img_json_key (j, "roots");
  img_json_begin_array (j);
  for (i = 0; i < img_guest_n_roots (st->g); i++)
    img_json_string (j, img_guest_root (st->g, i));
  img_json_end_array (j);
  img_json_key (j, "os");
  img_json_begin_object (j);
  img_json_kv_string (j, "id", in->os_id);
  img_json_kv_string (j, "id_like", in->os_id_like);
  img_json_kv_string (j, "name", in->os_name);
  img_json_kv_string (j, "pretty_name", in->os_pretty_name);
  img_json_kv_string (j, "version_id", in->os_version_id);
  img_json_kv_string (j, "codename", in->os_codename);
  img_json_kv_string (j, "source", in->os_source);
  img_json_kv_string (j, "distro", in->distro);
  json_kv_count (j, "major_version", in->major_version);
  json_kv_count (j, "minor_version", in->minor_version);
  img_json_end_object (j);
  img_json_kv_string (j, "hostname", in->hostname);
  img_json_kv_string (j, "arch", in->arch);
  img_json_kv_string (j, "initramfs", in->initramfs);

  img_json_key (j, "mounts");
  img_json_begin_array (j);
  for (i = img_guest_n_mounts (st->g); i-- > 0; ) {
    const struct img_guest_mount *m = img_guest_mount (st->g, i);
    img_json_begin_object (j);
    img_json_kv_string (j, "mountpoint", m->mountpoint);
    img_json_kv_string (j, "spec", m->spec);
    img_json_kv_string (j, "vfstype", m->vfstype);
    img_json_kv_string (j, "options", m->options);
    img_json_kv_string (j, "device", m->device);
    img_json_kv_string (j, "fs_uuid", m->fs_uuid);
    img_json_kv_bool (j, "mounted", m->mounted);
    img_json_kv_string (j, "why_not", m->why_not);
    img_json_kv_uint (j, "fstab_line", m->fstab_line);
    img_json_end_object (j);
  }
  img_json_end_array (j);

  img_json_key (j, "kernels");
  img_json_begin_array (j);
  for (i = 0; i < in->n_kernels; i++) {
    const struct img_kernel_info *kn = &in->kernels[i];
    const struct initrd_info *ii = &st->initrds[i];
    img_json_begin_object (j);
    img_json_kv_string (j, "version", kn->version);
    img_json_kv_string (j, "vmlinuz", kn->vmlinuz);
    img_json_kv_string (j, "initrd", kn->initrd);
    img_json_kv_string (j, "modules", kn->modules);
    img_json_kv_string (j, "config", kn->config);
    img_json_kv_string (j, "xen", kn->xen);
    img_json_key (j, "initrd_contents");
    if (!ii->read) {
      img_json_null (j);
    }
    else {
      img_json_begin_object (j);
      img_json_kv_string (j, "flavour", ii->flavour);
      img_json_kv_uint (j, "entries", ii->n_entries);
      img_json_key (j, "segments");
      img_json_begin_array (j);
      for (k = 0; k < ii->n_segments; k++) {
        img_json_begin_object (j);
        img_json_kv_uint (j, "offset", ii->segments[k].offset);
        img_json_kv_uint (j, "length", ii->segments[k].length);
        img_json_kv_string (j, "compression", ii->segments[k].compression);
        img_json_kv_uint (j, "uncompressed", ii->segments[k].uncompressed);
        img_json_kv_uint (j, "entries", ii->segments[k].n_entries);
        img_json_end_object (j);
      }
      img_json_end_array (j);
      img_json_end_object (j);
    }
    img_json_kv_string (j, "initrd_error", ii->error);
    img_json_key (j, "drivers");
    img_json_begin_object (j);
    for (k = 0; ii->module_where && k < st->n_modules; k++)
      img_json_kv_string (j, st->modules[k], ii->module_where[k]);
    img_json_end_object (j);
    img_json_end_object (j);
  }
  img_json_end_array (j);

  img_json_key (j, "bootloader");
  img_json_begin_array (j);
  for (i = 0; i < in->n_bootcfgs; i++) {
    const struct img_bootcfg *b = &in->bootcfgs[i];
    img_json_begin_object (j);
    img_json_kv_string (j, "path", b->path);
    img_json_kv_string (j, "kind", img_boot_kind_name (b->kind));
    json_kv_count (j, "default", b->default_index);
    img_json_key (j, "entries");
    img_json_begin_array (j);
    for (k = 0; k < b->n_entries; k++) {
      const struct img_boot_entry *e = &b->entries[k];
      img_json_begin_object (j);
      img_json_kv_string (j, "title", e->title);
      img_json_kv_string (j, "id", e->id);
      img_json_kv_string (j, "kernel", e->kernel);
      img_json_kv_string (j, "initrd", e->initrd);
      img_json_kv_string (j, "args", e->args);
      img_json_kv_string (j, "root", e->root);
      img_json_kv_uint (j, "submenu_depth", e->depth);
      img_json_end_object (j);
    }
    img_json_end_array (j);
    img_json_end_object (j);
  }
  img_json_end_array (j);
  img_json_end_object (j);
}

static void
print_json (struct state *st)
{
  struct img_json j;

  report_begin (&j, EXIT_OK, NULL, NULL, NULL);
  img_json_kv_uint (&j, "version", 1);  /* the schema's number, from before "schema" */
  json_images (st, &j);
  json_md (st->g, &j);
  json_vgs (st, &j);
  json_guest (st, &j);
  report_end (&j);
}

/* ---- text -------------------------------------------------------------- */

const char *
human (uint64_t v, char *buf, size_t len)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double d = v;
  int u = 0;

  while (d >= 1024 && u < 5) {
    d /= 1024;
    u++;
  }
  if (u == 0)
    snprintf (buf, len, "%" PRIu64 " B", v);
  else
    snprintf (buf, len, "%.1f %s", d, units[u]);
  return buf;
}

/* Guest strings on a terminal: quotes and backslashes escaped here, then
 * control bytes and invalid UTF-8 by img_quote_term, so a hostile label
 * cannot move the cursor or fake a line.  A few rotating buffers let one
 * printf show several strings. */
const char *
esc (const char *s)
{
  static char bufs[8][1024];
  static int next;
  char *b = bufs[next++ % 8], *t, *o, *q;

  if (s == NULL)
    return "-";
  if ((t = malloc (2 * strlen (s) + 1)) == NULL)
    return "?";
  for (o = t; *s; s++) {
    if (*s == '"' || *s == '\\')
      *o++ = '\\';
    *o++ = *s;
  }
  *o = '\0';
  q = img_quote_term (t, 0);
  snprintf (b, sizeof bufs[0], "%s", q ? q : "?");
  free (q);
  free (t);
  return b;
}

void
text_fs (const struct img_fsinfo *fs)
{
  const struct subvols *sv;
  size_t i;

  if (fs == NULL || fs->type[0] == '\0') {
    printf ("-");
    return;
  }
  printf ("%s", esc (fs->type));
  if (fs->uuid[0])
    printf (" UUID=%s", esc (fs->uuid));
  if (fs->label[0])
    printf (" LABEL=\"%s\"", esc (fs->label));
  if ((sv = subvols_of (fs)) != NULL)
    for (i = 0; i < sv->n; i++)
      printf ("%s%s (%" PRIu64 ")", i ? ", " : "; subvolumes ", esc (sv->subs[i].path),
              sv->subs[i].id);
}

static const char *
nz (const char *s)
{
  return esc (s);
}

static void
text_layout (struct state *st)
{
  const struct img_lvm *lvm = img_guest_lvm (st->g);
  size_t i, k, l, s;
  char h[32];

  for (i = 0; i < st->n_images; i++) {
    struct img_disk *disk = img_guest_disk (st->g, i);
    const struct img_ptable *pt = img_guest_ptable (st->g, i);
    printf ("%s: %s%s, %s (%" PRIu64 " bytes)\n", img_disk_name (disk),
            img_disk_format (disk),
            img_disk_format_guessed (disk) ? " (format guessed; use --format to set it)" : "",
            human (img_disk_size (disk), h, sizeof h), img_disk_size (disk));
    for (k = 0; k < img_disk_n_backing (disk); k++)
      printf ("  backing_chain: %s\n", img_disk_backing (disk, k));
    if (pt->type == IMG_PTABLE_NONE) {
      printf ("  no partition table; whole disk: ");
      text_fs (whole_fs (st, i));
      printf ("\n");
      continue;
    }
    text_ptable (st->g, pt);
  }
  text_md (st->g);
  for (i = 0; i < img_lvm_n_vgs (lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (lvm, i);
    printf ("volume group %s: uuid %s, extent size %s, seqno %" PRIu64 "%s\n",
            vg->name, vg->uuid, human (vg->extent_size, h, sizeof h), vg->seqno,
            vg->partial ? ", PARTIAL (PVs missing)" : "");
    for (k = 0; k < vg->n_pvs; k++) {
      const struct img_lvm_pv *pv = &vg->pvs[k];
      printf ("  pv %-6s %-30s uuid %s, pe_start %" PRIu64 ", %" PRIu64 " extents\n",
              pv->name, pv->dev ? pv->dev->name : "MISSING", pv->uuid, pv->pe_start,
              pv->pe_count);
    }
    for (k = 0; k < vg->n_lvs; k++) {
      const struct img_lvm_lv *lv = &vg->lvs[k];
      printf ("  lv %-20s %10s  ", lv->name, human (lv->size, h, sizeof h));
      if (lv->error)
        printf ("unreadable: %s", lv->error);
      else
        text_fs (vol_fs (st->g, lv->vol));
      printf ("%s\n", lv->visible ? "" : " (hidden)");
      for (l = 0; l < lv->n_segs; l++) {
        const struct img_lvm_seg *sg = &lv->segs[l];
        printf ("     extents %" PRIu64 "-%" PRIu64 " %s", sg->start_extent,
                sg->start_extent + sg->extent_count - 1, sg->type);
        for (s = 0; s < sg->n_stripes; s++) {
          const struct img_lvm_stripe *stp = &sg->stripes[s];
          const struct img_lvm_pv *pv = stp->pv < vg->n_pvs ? &vg->pvs[stp->pv] : NULL;
          const char *image;
          uint64_t off;
          printf ("%s %s:%" PRIu64, s ? "," : "", pv ? pv->name : "?", stp->first_pe);
          if (pv && pv_location (pv, pv->pe_start + stp->first_pe * vg->extent_size,
                                 &image, &off))
            printf (" (%s @%" PRIu64 ")", image, off);
        }
        printf ("\n");
      }
    }
  }
}

/* NTFS is read through the appliance only: say, for each NTFS volume,
 * whether a Windows system was looked for on it. */
static void
text_ntfs (struct state *st)
{
  const struct img_windows *w = img_guest_windows (st->g);
  bool native = img_ctx_fs_backend (st->ctx) == IMG_FS_BACKEND_NATIVE;
  bool past = false;            /* after the Windows volume: not looked at */
  size_t i;

  for (i = 0; i < img_guest_n_volumes (st->g); i++) {
    const struct img_fsinfo *info;
    const struct img_volume *vol = img_guest_volume (st->g, i, &info, NULL, NULL);
    if (vol == NULL || info == NULL || strcmp (info->type, "ntfs") != 0)
      continue;
    if (w && strcmp (w->volume, vol->name) == 0) {
      past = true;
      continue;
    }
    if (native)
      printf ("%s: ntfs: not inspected (no native NTFS reader; a Windows system on it is not identified)\n",
              esc (vol->name));
    else if (img_guest_n_roots (st->g) > 0)
      printf ("%s: ntfs: not inspected (a Linux root was found)\n", esc (vol->name));
    else if (past)
      printf ("%s: ntfs: not inspected (Windows was found on %s)\n", esc (vol->name),
              esc (w->volume));
    else
      printf ("%s: ntfs: no Windows system root on it\n", esc (vol->name));
  }
}

/* A Windows guest: what it is, and that it is not converted. */
static void
text_windows (const struct img_windows *w)
{
  printf ("guest: windows: %s (", w->product_name ? esc (w->product_name) : "product unknown");
  if (w->major_version >= 0)
    printf ("version %d.%d, ", w->major_version, w->minor_version);
  printf ("variant %s), %s, hostname %s\n", nz (w->product_variant), nz (w->arch),
          nz (w->hostname));
  printf ("  root: %s (system root %s)\n", esc (w->volume), esc (w->systemroot));
  printf ("  not convertible: img-tools converts Linux guests\n");
}

static void
text_guest (struct state *st)
{
  const struct img_inspection *in = st->insp;
  size_t i, k;

  if (in == NULL) {
    /* No root: the layout is all there is, and why a guest may have
     * been missed, if it may have been. */
    const char *why = img_guest_no_root_reason (st->g);
    if (img_guest_windows (st->g))
      text_windows (img_guest_windows (st->g));
    else if (why)
      printf ("guest: none found: %s\n", esc (why));
    return;
  }
  printf ("guest: %s (id %s, version %s%s%s", nz (in->os_pretty_name ? in->os_pretty_name : in->os_name),
          nz (in->os_id), nz (in->os_version_id), in->os_codename ? ", " : "",
          in->os_codename ? esc (in->os_codename) : "");
  /* virt-inspector's name, where it is not the ID already. */
  if (in->distro && (in->os_id == NULL || strcmp (in->distro, in->os_id) != 0))
    printf (", distro %s", esc (in->distro));
  printf ("), %s, hostname %s\n", nz (in->arch), nz (in->hostname));
  printf ("  root: %s", nz (img_guest_root (st->g, 0)));
  for (i = 1; i < img_guest_n_roots (st->g); i++)
    printf (" (also a root: %s)", nz (img_guest_root (st->g, i)));
  printf ("\n  initramfs tooling: %s\n  mounts:\n", in->initramfs);
  for (i = img_guest_n_mounts (st->g); i-- > 0; ) {
    const struct img_guest_mount *m = img_guest_mount (st->g, i);
    printf ("    %-12s %-40s %-6s %s%s%s\n", nz (m->mountpoint), nz (m->spec), nz (m->vfstype),
            nz (m->device), m->mounted ? "" : " -- not mounted: ",
            m->mounted ? "" : nz (m->why_not));
  }
  printf ("  kernels:\n");
  for (i = 0; i < in->n_kernels; i++) {
    const struct img_kernel_info *kn = &in->kernels[i];
    const struct initrd_info *ii = &st->initrds[i];
    printf ("    %s: %s, initrd %s, modules %s, xen %s\n", nz (kn->version), nz (kn->vmlinuz),
            nz (kn->initrd), nz (kn->modules), kn->xen);
    if (ii->read) {
      printf ("      initrd: %s, %zu entries in %zu segments (", ii->flavour,
              ii->n_entries, ii->n_segments);
      for (k = 0; k < ii->n_segments; k++)
        printf ("%s%s", k ? " + " : "", ii->segments[k].compression);
      printf (")\n");
    }
    else if (ii->error)
      printf ("      initrd unreadable: %s\n", ii->error);
    for (k = 0; ii->module_where && k < st->n_modules; k++)
      printf ("      %s: %s\n", st->modules[k], ii->module_where[k]);
  }
  printf ("  bootloader:\n");
  for (i = 0; i < in->n_bootcfgs; i++) {
    const struct img_bootcfg *b = &in->bootcfgs[i];
    printf ("    %s (%s)", nz (b->path), img_boot_kind_name (b->kind));
    if (b->default_index >= 0)
      printf (", default %d", b->default_index);
    printf ("\n");
    for (k = 0; k < b->n_entries; k++) {
      const struct img_boot_entry *e = &b->entries[k];
      printf ("      %*s\"%s\": %s %s\n", 2 * e->depth, "", nz (e->title), nz (e->kernel),
              nz (e->args));
    }
  }
}

static void
free_state (struct state *st)
{
  size_t i;

  if (st->initrds && st->insp)
    for (i = 0; i < st->insp->n_kernels; i++) {
      free (st->initrds[i].error);
      free (st->initrds[i].segments);
      free (st->initrds[i].module_where);
    }
  free (st->initrds);
  img_inspection_free (st->insp);
  img_guest_close (st->g);
  for (i = 0; i < st->n_modules; i++)
    free (st->modules[i]);
  free (st->modules);
  img_ctx_free (st->ctx);
}

static int
parse_modules (struct state *st, const char *list)
{
  const char *p = list;

  while (*p) {
    size_t l = strcspn (p, ",");
    char **m;
    if (l > 0) {
      m = realloc (st->modules, (st->n_modules + 1) * sizeof *m);
      if (m == NULL)
        return -1;
      st->modules = m;
      if ((m[st->n_modules++] = strndup (p, l)) == NULL)
        return -1;
    }
    p += l;
    if (*p == ',')
      p++;
  }
  return 0;
}

int
main (int argc, char *argv[])
{
  /* Reports carry names and text from images: every byte printed goes
   * through img_quote_term on its way to the terminal. */
  img_quote_term_stdio ();
  report_init (PROG, argc, argv, "j" CLI_SHORT_OPTIONS "hV");
  static const struct option opts[] = {
    { "json", no_argument, NULL, 'j' },
    { "format", required_argument, NULL, 'f' },
    { "allow-backing", no_argument, NULL, 'B' },
    { "backend", required_argument, NULL, 'G' },
    { "key", required_argument, NULL, 'K' },
    { "modules", required_argument, NULL, 'm' },
    CLI_LONG_OPTIONS,
    { "budget", required_argument, NULL, 'b' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  struct state st = { 0 };
  struct cli_opts cli = { 0 };
  uint64_t budget[IMG_BUDGET_N] = { 0 };
  enum img_budget bw;
  uint64_t bv;
  const char *modules = DEFAULT_MODULES;
  bool json = false;
  struct img_disk_opts dopts = { NULL, false };
  enum img_fs_backend backend = IMG_FS_BACKEND_AUTO;
  const char *keys[16];
  size_t i, n_keys = 0;
  int c, rc = EXIT_OK;

  tool_getopt_init ();
  while ((c = getopt_long (argc, argv, "jm:" CLI_SHORT_OPTIONS "hV", opts, NULL)) != -1) {
    if (cli_option (&cli, c)) {
      if (c == 'v')
        setenv ("IMG_DEBUG", "1", 1);
      continue;
    }
    switch (c) {
    case 'j': json = true; report_set_json (true); break;
    case 'f': dopts.format = optarg; break;
    case 'B': dopts.allow_backing = true; break;
    case 'K':
      if (n_keys >= sizeof keys / sizeof keys[0])
        return report_finish (report_error (EXIT_USAGE, "--key: at most %zu keys", sizeof keys / sizeof keys[0]));
      keys[n_keys++] = optarg;
      break;
    case 'G':
      if (img_fs_backend_parse (optarg, &backend) < 0)
        return report_finish (report_error (EXIT_USAGE, "--backend=%s: one of auto, native, guestfs", optarg));
      break;
    case 'm': modules = optarg; break;
    case 'b':
      if (img_budget_parse (optarg, &bw, &bv) < 0)
        return report_finish (report_error (EXIT_USAGE, "--budget=%s: NAME=SIZE, NAME one of inflate, inflate-total, file, file-total, entries, entries-total, members", optarg));
      budget[bw] = bv;
      break;
    case 'h': usage (stdout); return report_finish (EXIT_OK);
    case 'V': tool_version (PROG); return EXIT_OK;
    default: return report_finish (tool_bad_option (PROG, argv));
    }
  }
  report_set_images ((const char *const *) argv + optind, (size_t) (argc - optind));
  if (optind >= argc)
    return report_finish (tool_usage_error (PROG, "no image given"));
  if ((c = img_ctx_new (&st.ctx)) == -EINVAL) {
    report_record ("a bad IMG_BUDGET_* value in the environment");      /* said */
    return report_finish (EXIT_ERROR);
  }
  if (c < 0 || parse_modules (&st, modules) < 0) {
    report_phase (REPORT_INTERNAL);
    return report_finish (report_error (EXIT_ERROR, "out of memory"));
  }
  img_ctx_set_log_fn (st.ctx, NULL, (void *) PROG);
  if (cli.quiet && !cli.verbose)
    img_ctx_set_log_priority (st.ctx, IMG_LOG_ERR);
  cli_progress_start (&cli);
  cli_progress_attach (st.ctx);
  for (i = 0; i < IMG_BUDGET_N; i++)
    if (budget[i])
      img_ctx_set_budget (st.ctx, (enum img_budget) i, budget[i]);
  img_ctx_set_fs_backend (st.ctx, backend);
  for (i = 0; i < n_keys; i++)
    if (img_ctx_add_key (st.ctx, keys[i]) < 0) {
      report_error (EXIT_USAGE, "%s", img_ctx_error (st.ctx));
      img_ctx_free (st.ctx);
      return report_finish (EXIT_USAGE);
    }
  if (img_ctx_set_disk_opts (st.ctx, &dopts) < 0) {
    report_phase (REPORT_INTERNAL);
    return report_finish (report_error (EXIT_ERROR, "out of memory"));
  }
  st.paths = argv + optind;
  st.n_images = argc - optind;

  report_phase (REPORT_OPEN);
  img_progress_step (st.ctx, IMG_PROGRESS_STEP, "Opening the image%s %s%s", st.n_images > 1 ? "s" : "",
                     st.paths[0], st.n_images > 1 ? " ..." : "");
  if (img_guest_open (st.ctx, (const char *const *) st.paths, st.n_images,
                      IMG_FS_RDONLY, &st.g) < 0) {
    rc = fail (&st);
    goto out;
  }
  img_progress_step (st.ctx, IMG_PROGRESS_STEP, "Reading the volumes and filesystems");
  list_subvolumes (&st);
  report_phase (REPORT_INSPECT);
  if (img_guest_n_roots (st.g) > 0) {
    img_progress_step (st.ctx, IMG_PROGRESS_STEP, "Inspecting the guest");
    if (img_guest_inspect (st.g, &st.insp) < 0) {
      rc = fail (&st);
      goto out;
    }
    st.initrds = calloc (st.insp->n_kernels + 1, sizeof *st.initrds);
    if (st.initrds == NULL) {
      rc = fail (&st);
      goto out;
    }
    for (i = 0; i < st.insp->n_kernels; i++) {
      img_progress_step (st.ctx, IMG_PROGRESS_STEP, "Reading the initrd of %s",
                         st.insp->kernels[i].version ? st.insp->kernels[i].version : "a kernel");
      inspect_initrd (&st, &st.insp->kernels[i], &st.initrds[i]);
    }
  }
  img_progress_step (st.ctx, IMG_PROGRESS_STEP, "Writing the report");
  if (json)
    print_json (&st);
  else {
    text_layout (&st);
    text_ntfs (&st);
    text_guest (&st);
  }
  if (fflush (stdout) != 0 || ferror (stdout)) {
    report_phase (REPORT_OUTPUT);
    rc = report_error (EXIT_ERROR, "write error on standard output");
  }
 out:
  free_subvolumes ();
  free_state (&st);
  return report_finish (rc);
}
