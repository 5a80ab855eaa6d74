/* img-ramify: make a guest able to boot with its whole root in RAM, so
 * that its disk can be detached and the VM moved freely.  Offline: a
 * ramboot initrd (the guest's own initrd plus an appended layer with our
 * boot logic and static helper) and a GRUB entry that boots it; the
 * disk's own boot entries and files stay as they were, so the disk still
 * boots normally.
 *
 * Edits (edits.h: dry run with diffs, undo record, rollback, idempotent):
 *   ramboot-initrd   our layer next to the kernel's initrd: for
 *                    initramfs-tools a boot=ramboot script, for dracut a
 *                    pre-pivot hook run with rd.ramboot; a file of its own
 *                    (INITRD.ramboot-layer) that GRUB 2 and BLS load after
 *                    the initrd, else (GRUB legacy, pygrub) a copy of the
 *                    initrd with it appended (INITRD.ramboot)
 *   ramboot-hook     the layer's files in /usr/local/lib/img-ramify and an
 *                    initrd hook (initramfs-tools hook, dracut module) that
 *                    puts them into every initrd the guest builds
 *   grub-entry       the RAM entry: GRUB 2 (live grub.cfg, and the
 *                    generator /etc/grub.d/41_img-ramify that keeps it on
 *                    the newest kernel), BLS (an entry file), GRUB legacy
 *                    (a title block)
 *   detach-helper    img-ramify-detach in the guest (--detach-helper)
 *   root-archive     --archive: the tree as /boot/ramboot-root.tar.zst,
 *                    unpacked at boot instead of copied file by file
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "img-quote.h"
#include "img-edit.h"
#include "tool.h"
#include "convert/bootentry.h"
#include "convert/ramboot.h"

#define PROG "img-ramify"
#define MARKER "img-ramify RAM boot entry"
#define ENTRY_ID "img-ramify-ramboot"
#define MiB ((uint64_t) 1024 * 1024)

struct opts {
  bool force, make_default, detach_helper;
  const char *kernel, *copy, *vm;
  const char *archive;          /* "zstd", "gzip" or NULL */
  uint64_t headroom, margin;
};

struct ram {
  struct img_ctx *ctx;
  struct img_plan *plan;
  struct img_guest *g;
  struct img_inspection *insp;
  const struct opts *o;
  const char *image;
  char *kver, *vmlinuz, *initrd, *ram_initrd;
  char *entry_kernel, *entry_initrd, *ram_entry_initrd, *boot_uuid, *args, *title;
  bool split;                   /* the layer as a file of its own (ramboot.h) */
  const char *split_why;
  char *legacy_root;            /* GRUB legacy "root (hdN,M)" of the base entry */
  bool dracut;                  /* else initramfs-tools */
  const char *boot_arg;         /* what selects our boot logic */
  char *archive_path;           /* --archive: where it goes in the guest */
  char *conf, *fstab, *lvmlocal;        /* for the ramboot layer */
  char *script, *helper;                /* ... and its boot logic and helper */
  size_t script_len, helper_len;
  char **copy;                  /* mount points copied besides / */
  size_t n_copy;
  uint64_t bytes;               /* what the copy takes in a tmpfs */
  uint64_t recommended;         /* VM memory to give */
  const char *datadir, *ramcopy;
  /* Our boot entry, quoted and written out for each boot loader. */
  char *grub2_block, *legacy_block, *bls_text;
  char *grubd_script;           /* /etc/grub.d/41_img-ramify */
  char *bls_keeper_script;      /* BLS: /etc/kernel/install.d/95-img-ramify.install */
};

/* ---- where our files are --------------------------------------------- */

/* The data directory and the static helper: IMG_TOOLS_DATADIR and
 * IMG_RAMCOPY if set, else beside an uninstalled build, else installed. */
static void
find_files (struct ram *r)
{
  static char data[PATH_MAX + 32], helper[PATH_MAX + 32];
  char exe[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  char *slash;

  r->datadir = getenv ("IMG_TOOLS_DATADIR");
  r->ramcopy = getenv ("IMG_RAMCOPY");
  if (n > 0) {
    exe[n] = '\0';
    slash = strrchr (exe, '/');
    if (slash)
      *slash = '\0';
    /* Uninstalled, src/img-ramify is libtool's wrapper script and the
     * program itself runs from src/.libs/. */
    slash = strrchr (exe, '/');
    if (slash && strcmp (slash, "/.libs") == 0)
      *slash = '\0';
    snprintf (data, sizeof data, "%s/../data", exe);
    snprintf (helper, sizeof helper, "%s/ramboot/img-ramcopy", exe);
    if (r->datadir == NULL && access (data, R_OK) == 0
        && access (helper, X_OK) == 0)
      r->datadir = data;
    if (r->ramcopy == NULL && access (helper, X_OK) == 0)
      r->ramcopy = helper;
  }
  if (r->datadir == NULL)
    r->datadir = PKGDATADIR "/data";
  if (r->ramcopy == NULL)
    r->ramcopy = PKGLIBEXECDIR "/img-ramcopy";
}

/* A file of ours under the data directory (NAME under ramboot/). */
static int
read_data (struct ram *r, const char *name, char **text, size_t *len)
{
  char *p = tool_asprintf ("%s/ramboot/%s", r->datadir, name);
  int rc = host_read_file (r->ctx, p, 1u << 20, text, len);

  free (p);
  return rc;
}

/* What the ramboot layer holds. */
static struct img_ramboot_layer
layer (const struct ram *r)
{
  return (struct img_ramboot_layer) { .dracut = r->dracut, .conf = r->conf, .fstab = r->fstab,
                                      .lvmlocal = r->lvmlocal, .script = r->script,
                                      .script_len = r->script_len, .helper = r->helper,
                                      .helper_len = r->helper_len };
}

/* ---- edit: ramboot-initrd ---------------------------------------------- */

static int
edit_ramboot_initrd (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  struct img_ramboot_layer l = layer (r);

  return img_ramboot_initrd (plan, r->image, r->initrd, r->split, &l);
}

/* ---- edit: ramboot-hook ------------------------------------------------- */

static int
edit_ramboot_hook (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  struct img_ramboot_layer l = layer (r);
  char *hook = NULL;
  size_t len;
  int rc = read_data (r, r->dracut ? "dracut/module-setup.sh" : "initramfs-tools/hook", &hook, &len);

  if (rc == 0)
    rc = img_ramboot_persist (plan, &l, hook, len);
  free (hook);
  return rc;
}

/* ---- the boot entry ------------------------------------------------------- */

/* The scripts that keep the entry on the newest kernel (the GRUB 2
 * generator; on a BLS guest, the kernel-install plugin too), with the
 * values build_entry had checked. */
static int
build_keepers (struct ram *r, const char *args)
{
  struct img_ramboot_layer l = layer (r);
  char *os = img_bootentry_title (r->insp->os_pretty_name ? r->insp->os_pretty_name : "Linux", "%s", "");
  char *lib = NULL, *body = NULL, *bls_body = NULL;
  bool oom = false;
  char *bls = img_bootentry_bls_path (r->insp, ENTRY_ID, &oom);
  size_t lib_len = 0, len = 0, bls_len = 0;
  int rc = os && !oom ? 0 : -ENOMEM;
  struct img_ramboot_keeper k = { .id = ENTRY_ID, .marker = MARKER, .os = os, .args = args,
                                  .layer = &l, .make_default = r->o->make_default };

  if (rc == 0 && (rc = read_data (r, "select.sh", &lib, &lib_len)) == 0)
    rc = read_data (r, "grub/41_img-ramify.body", &body, &len);
  if (rc == 0 && bls)
    rc = read_data (r, "bls/95-img-ramify.install.body", &bls_body, &bls_len);
  k.lib = lib;
  k.lib_len = lib_len;
  k.body = body;
  k.body_len = len;
  if (rc == 0)
    rc = img_ramboot_keeper (r->ctx, r->image, &k, &r->grubd_script);
  k.body = bls_body;
  k.body_len = bls_len;
  k.entry = bls;
  if (rc == 0 && bls)
    rc = img_ramboot_keeper (r->ctx, r->image, &k, &r->bls_keeper_script);
  if (rc == -ENOMEM)
    rc = img_ctx_set_error (r->ctx, rc, "%s: out of memory", r->image);
  free (os);
  free (lib);
  free (body);
  free (bls_body);
  free (bls);
  return rc;
}

/* Our entry for each boot loader, built (every value checked and quoted)
 * before anything is changed. */
static int
build_entry (struct ram *r)
{
  /* The guest's initrd then our layer, or the one copy with both. */
  const char *initrds[] = { r->split ? r->entry_initrd : r->ram_entry_initrd, r->ram_entry_initrd };
  char *args = tool_asprintf ("%s %s", r->args, r->boot_arg);
  char *echo = tool_asprintf ("Loading Linux %s with its root in RAM ...", r->kver);
  struct img_bootentry e = {
    .id = ENTRY_ID, .title = r->title, .kernel = r->entry_kernel, .initrds = initrds,
    .n_initrds = r->split ? 2 : 1, .args = args, .marker = MARKER, .root_uuid = r->boot_uuid,
    .legacy_root = r->legacy_root, .echo = echo, .version = r->kver,
    .comment = MARKER ": the root is copied into RAM at boot",
  };
  int rc;

  if ((rc = img_bootentry_text (r->ctx, r->image, IMG_BOOT_GRUB2, &e, &r->grub2_block)) == 0
      /* Split only where no GRUB legacy entry is written. */
      && (r->split || (rc = img_bootentry_text (r->ctx, r->image, IMG_BOOT_GRUB_LEGACY, &e,
                                                &r->legacy_block)) == 0)
      && (rc = img_bootentry_text (r->ctx, r->image, IMG_BOOT_BLS, &e, &r->bls_text)) == 0)
    rc = build_keepers (r, args);
  free (args);
  free (echo);
  return rc;
}

static int
edit_grub_entry (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  struct img_bootentry_texts t = { r->grub2_block, r->legacy_block, r->bls_text,
                                   IMG_RAMBOOT_GRUBD, r->grubd_script,
                                   IMG_RAMBOOT_KERNEL_INSTALL, r->bls_keeper_script };

  return img_bootentry_install (plan, r->image, r->insp, ENTRY_ID, MARKER, &t,
                                r->o->make_default ? ENTRY_ID : NULL);
}

/* ---- edit: detach-helper ----------------------------------------------------- */

static int
edit_detach_helper (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  char *p = tool_asprintf ("%s/ramboot/img-ramify-detach", r->datadir), *text;
  size_t len;
  int rc;

  rc = host_read_file (r->ctx, p, 1u << 20, &text, &len);
  free (p);
  if (rc < 0)
    return rc;
  rc = img_guest_mkdir_p (img_plan_guest (plan), "/usr/local/sbin", 0755);
  if (rc == 0)
    rc = img_guest_write_file (img_plan_guest (plan), "/usr/local/sbin/img-ramify-detach", text, len, 0755);
  free (text);
  return rc;
}

/* ---- edit: root-archive ------------------------------------------------------ */

static int
edit_root_archive (struct img_plan *plan, void *data)
{
  struct ram *r = data;

  return img_ramboot_archive (plan, r->image, r->archive_path, r->o->archive,
                              (const char *const *) r->copy, r->n_copy);
}

/* ---- preparing ------------------------------------------------------------ */

static int
prepare (struct ram *r)
{
  const struct img_kernel_info *k = NULL;
  const struct img_boot_entry *base = NULL;
  const struct img_guest_mount *bm;
  size_t i;
  int rc;

  if (r->insp->n_kernels == 0)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: no kernel in /boot", r->image);
  for (i = 0; i < r->insp->n_kernels; i++)
    if (r->o->kernel ? strcmp (r->insp->kernels[i].version, r->o->kernel) == 0 : true) {
      k = &r->insp->kernels[i];
      break;
    }
  if (k == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: no kernel %s in the guest", r->image, r->o->kernel);
  if (k->initrd == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: kernel %s has no initrd", r->image, k->version);
  r->kver = tool_strdup (k->version);
  r->vmlinuz = tool_strdup (k->vmlinuz);
  r->initrd = tool_strdup (k->initrd);
  r->split = img_ramboot_split (r->insp, &r->split_why);
  r->ram_initrd = tool_asprintf ("%s%s", k->initrd,
                                 r->split ? IMG_RAMBOOT_LAYER_SUFFIX : IMG_RAMBOOT_COPY_SUFFIX);
  if (r->insp->initramfs && strcmp (r->insp->initramfs, "dracut") == 0)
    r->dracut = true;
  else if (!r->insp->initramfs || strcmp (r->insp->initramfs, "initramfs-tools") != 0)
    return img_ctx_set_error (r->ctx, -ENOTSUP, "%s: the guest builds its initrds with %s; "
                              "img-ramify knows initramfs-tools and dracut", r->image,
                              r->insp->initramfs ? r->insp->initramfs : "unknown tooling");
  r->boot_arg = r->dracut ? "rd.ramboot" : "boot=ramboot";

  base = img_ramboot_base_entry (r->insp, r->vmlinuz, ENTRY_ID);
  if (base == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: no boot entry for kernel %s to start from",
                              r->image, r->kver);
  r->args = tool_strdup (base->args);
  r->entry_kernel = tool_strdup (base->kernel);
  r->entry_initrd = tool_strdup (base->initrd);
  if (base->kind == IMG_BOOT_GRUB_LEGACY && base->root)
    r->legacy_root = tool_strdup (base->root);
  if (r->entry_initrd == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: the boot entry for %s has no initrd", r->image, r->kver);
  r->ram_entry_initrd = tool_asprintf ("%s%s", r->entry_initrd,
                                       r->split ? IMG_RAMBOOT_LAYER_SUFFIX : IMG_RAMBOOT_COPY_SUFFIX);
  bm = img_guest_mount_of (r->g, r->vmlinuz, NULL, NULL);
  r->boot_uuid = bm && bm->fs_uuid ? tool_strdup (bm->fs_uuid) : NULL;
  /* The title is ours: the guest's OS name in printable ASCII only. */
  r->title = img_bootentry_title (r->insp->os_pretty_name ? r->insp->os_pretty_name : "Linux",
                                  ", root in RAM, Linux %s", r->kver);
  if (r->title == NULL)
    return img_ctx_set_error (r->ctx, -ENOMEM, "%s: out of memory", r->image);
  if ((rc = read_data (r, r->dracut ? "dracut/90-img-ramify.sh" : "initramfs-tools/ramboot",
                       &r->script, &r->script_len)) < 0
      || (rc = host_read_file (r->ctx, r->ramcopy, 64u << 20, &r->helper, &r->helper_len)) < 0)
    return rc;
  if (r->o->archive && (r->archive_path = img_ramboot_archive_path (r->g, r->o->archive)) == NULL)
    return img_ctx_set_error (r->ctx, -ENOMEM, "%s: out of memory", r->image);
  if ((rc = img_ramboot_copy_list (r->g, r->image, r->o->copy, &r->copy, &r->n_copy)) < 0
      || (rc = img_ramboot_measure (r->g, (const char *const *) r->copy, r->n_copy, &r->bytes)) < 0
      || (rc = img_ramboot_fstab (r->plan, r->image, &r->fstab)) < 0
      || (rc = img_ramboot_conf (r->g, r->image, (const char *const *) r->copy, r->n_copy,
                                 r->o->headroom, r->o->margin, r->archive_path, &r->conf,
                                 &r->lvmlocal)) < 0
      || (rc = build_entry (r)) < 0)
    return rc;
  r->recommended = img_ramboot_memory (r->bytes, r->o->headroom, r->o->margin);
  return 0;
}

/* ---- main ------------------------------------------------------------------ */

static const struct img_edit edits[] = {
  { "ramboot-initrd", "the RAM boot's initrd layer, beside the kernel's initrd", edit_ramboot_initrd },
  { "ramboot-hook", "the RAM boot in every initrd the guest builds (initramfs-tools hook, dracut module)", edit_ramboot_hook },
  { "grub-entry", "a GRUB entry for the RAM boot, kept by update-grub on the newest kernel", edit_grub_entry },
  { "detach-helper", "img-ramify-detach in the guest, to release the disk after a RAM boot", edit_detach_helper },
  { "root-archive", "the root as one archive in /boot, unpacked at boot (--archive)", edit_root_archive },
};

/* The report's facts; what the host does once the guest runs from RAM;
 * the memory check.  0, or the exit status to end with. */
static int
plan_facts (struct ram *r, uint64_t memory)
{
  struct img_plan *plan = r->plan;
  const struct opts *o = r->o;
  struct sb l = { 0 };
  char *vm, *dot;
  size_t i;

  img_plan_fact (plan, "kernel", "%s", r->kver);
  img_plan_fact (plan, "ramboot_initrd", "%s", r->ram_initrd);
  img_plan_fact (plan, "ramboot_initrd_kind", "%s", r->split ? "layer" : "copy");
  img_plan_fact (plan, "ramboot_initrd_why", "%s", r->split_why);
  sb_adds (&l, "/");
  for (i = 0; i < r->n_copy; i++)
    sb_addf (&l, " %s", r->copy[i]);
  img_plan_fact (plan, "copy", "%s", l.s ? l.s : "/");
  sb_free (&l);
  img_plan_fact_bytes (plan, "copy_bytes", r->bytes);
  img_plan_fact_bytes (plan, "memory_recommended_bytes", r->recommended);
  img_plan_fact (plan, "entry", "%s (id %s)%s", r->title, ENTRY_ID, o->make_default ? ", default" : "");
  if (memory) {
    img_plan_fact_bytes (plan, "memory_planned_bytes", memory);
    if (memory < r->recommended && !o->force) {
      report_phase (REPORT_REFUSED);
      return report_error (IMG_EXIT_ERROR, "%s: the copy (%" PRIu64 " MiB) will not fit in %" PRIu64 " MiB of memory "
                           "with %" PRIu64 " MiB of headroom and margins: give the VM %" PRIu64 " MiB (or --force)",
                           r->image, r->bytes / MiB, memory / MiB, (o->headroom + o->margin + 256 * MiB) / MiB,
                           r->recommended / MiB);
    }
    if (memory < r->recommended)
      fprintf (stderr, PROG ": warning: %s: %" PRIu64 " MiB of memory is below the %" PRIu64
               " MiB recommended; the RAM entry will boot from the disk when it does not fit\n",
               r->image, memory / MiB, r->recommended / MiB);
  }
  vm = o->vm ? tool_strdup (o->vm) : tool_strdup (strrchr (r->image, '/') ? strrchr (r->image, '/') + 1 : r->image);
  if (!o->vm && (dot = strrchr (vm, '.')) && dot != vm)
    *dot = '\0';
  img_plan_fact (plan, "detach_guest", "%s", o->detach_helper
                 ? "img-ramify-detach (in the guest, after a RAM boot: releases the disk once nothing uses it)"
                 : "echo 1 > /sys/block/sda/device/delete (in the guest, after a RAM boot; or --detach-helper)");
  img_plan_fact (plan, "detach_proxmox", "qm set %s --delete scsi0   (VMID; the disk's slot as qm config shows it; it becomes unused0)", vm);
  img_plan_fact (plan, "detach_libvirt", "virsh detach-disk %s sda --live --config   (the target as virsh domblklist %s shows it)", vm, vm);
  img_plan_fact (plan, "detach_deckhouse", "kubectl -n NAMESPACE delete virtualmachineblockdeviceattachment ATTACHMENT   "
                 "(hot-plugged disk), or remove the VirtualDisk from spec.blockDeviceRefs of VirtualMachine %s", vm);
  free (vm);
  return 0;
}

static void
free_ram (struct ram *r)
{
  char *const fields[] = { r->kver, r->vmlinuz, r->initrd, r->ram_initrd, r->entry_kernel,
                           r->entry_initrd, r->ram_entry_initrd, r->boot_uuid, r->args, r->title,
                           r->legacy_root, r->grub2_block, r->legacy_block, r->bls_text,
                           r->archive_path, r->conf, r->fstab, r->lvmlocal, r->script,
                           r->helper, r->grubd_script, r->bls_keeper_script };
  size_t i;

  for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
    free (fields[i]);
  img_ramboot_copy_free (r->copy, r->n_copy);
  img_inspection_free (r->insp);
}

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: img-ramify [OPTION]... IMAGE...\n"
           "       img-ramify --rollback UNDO-FILE [--force] [IMAGE...]\n"
           "Make a guest able to boot with its whole root in RAM, offline.\n\n"
           "  -n, --dry-run        show what would change (with diffs); write nothing\n"
           "      --json           report as JSON\n"
           "      --format FMT     the image's container format (raw, qcow2, vmdk, ...);\n"
           "                       without it, it is guessed from the image's bytes\n"
           "      --allow-backing  follow backing/data files that are local regular files\n"
           "                       (refused otherwise)\n"
           "      --backend B      auto (default), native or guestfs: what reads\n"
           "                       the filesystems (xfs, btrfs... need libguestfs)\n"
           "      --key SEL:key:PASSPHRASE | SEL:file:PATH\n"
           "                       a LUKS key (SEL: its UUID, /dev/sdXN, all)\n"
           "      --undo FILE      undo record (default: IMAGE" IMG_UNDO_SUFFIX ")\n"
           "      --no-undo        keep no undo record\n"
           "      --rollback FILE  restore the image(s) from an undo record\n"
           "      --kernel VER     the kernel to boot (default: the newest)\n"
           "      --copy LIST      filesystems copied besides / (default: all the guest mounts from its disk)\n"
           "      --memory SIZE    the VM's planned memory: refused if the copy will not fit\n"
           "      --force          only warn when it will not fit; roll back a changed image\n"
           "      --headroom SIZE  free space in the RAM root (default 256M)\n"
           "      --margin SIZE    memory left for the system at boot (default 256M)\n"
           "      --default        make the RAM entry GRUB's default\n"
           "      --detach-helper  install /usr/local/sbin/img-ramify-detach in the guest\n"
           "      --vm NAME        the VM's name in the host-side detach steps\n"
           "      --archive[=zstd|gzip]  keep the root as one archive in /boot, unpacked at boot\n"
           "      --budget=NAME=SIZE  raise or lower a resource budget (IMG_BUDGET_*)\n"
           "  -q, --quiet  -v, --verbose  -x, --trace  -p, --progress  --no-progress\n"
           "  -h, --help\n"
           "      --version\n\n"
           "Exit status: 0 changed, 3 nothing to do, 1 error (image unchanged),\n"
           "4 error and the image could not be restored, 2 usage.\n");
}

int
main (int argc, char **argv)
{
  /* Reports carry names and text from images: every byte printed goes
   * through img_quote_term on its way to the terminal. */
  img_quote_term_stdio ();
  report_init (PROG, argc, argv, NULL);
  enum { O_KERNEL = TOOL_O_OWN, O_COPY, O_MEMORY, O_HEADROOM, O_MARGIN, O_DEFAULT, O_DETACH, O_VM,
         O_ARCHIVE };
  static const struct option lopts[] = {
    TOOL_LONG_OPTIONS,
    { "kernel", required_argument, NULL, O_KERNEL }, { "copy", required_argument, NULL, O_COPY },
    { "memory", required_argument, NULL, O_MEMORY }, { "headroom", required_argument, NULL, O_HEADROOM },
    { "margin", required_argument, NULL, O_MARGIN }, { "default", no_argument, NULL, O_DEFAULT },
    { "detach-helper", no_argument, NULL, O_DETACH }, { "vm", required_argument, NULL, O_VM },
    { "archive", optional_argument, NULL, O_ARCHIVE },
    { NULL, 0, NULL, 0 },
  };
  struct tool t = { .prog = PROG };
  struct opts o = { .headroom = 256 * MiB, .margin = 256 * MiB };
  struct ram r = { 0 };
  struct img_ctx *ctx;
  struct img_plan *plan = NULL;
  uint64_t memory = 0;
  unsigned flags = 0;
  size_t i;
  int c, rc, code;

  tool_getopt_init ();
  while ((c = getopt_long (argc, argv, TOOL_SHORT_OPTIONS, lopts, NULL)) != -1) {
    if ((rc = tool_option (&t, c, optarg)) != 0) {
      if (rc < 0)
        return report_finish (IMG_EXIT_USAGE);
      continue;
    }
    switch (c) {
    case O_KERNEL: o.kernel = optarg; break;
    case O_COPY: o.copy = optarg; break;
    case O_DEFAULT: o.make_default = true; break;
    case O_DETACH: o.detach_helper = true; break;
    case O_VM: o.vm = optarg; break;
    case O_ARCHIVE:
      if (optarg && strcmp (optarg, "zstd") != 0 && strcmp (optarg, "gzip") != 0)
        return report_finish (report_error (IMG_EXIT_USAGE, "--archive=%s: zstd or gzip", optarg));
      o.archive = optarg ? optarg : "zstd";
      break;
    case O_MEMORY: case O_HEADROOM: case O_MARGIN: {
      uint64_t v;
      if (parse_size (optarg, true, &v) < 0)
        return report_finish (report_error (IMG_EXIT_USAGE, "%s: not a size (512M, 2G, or MiB)", optarg));
      if (c == O_MEMORY)
        memory = v;
      else if (c == O_HEADROOM)
        o.headroom = v;
      else
        o.margin = v;
      break;
    }
    case 'h': usage (stdout); return report_finish (0);
    default: return report_finish (tool_bad_option (PROG, argv));
    }
  }
  o.force = t.force;
  report_set_images ((const char *const *) argv + optind, (size_t) (argc - optind));
  if ((code = tool_start (&t)) != 0)
    return report_finish (code);
  ctx = t.ctx;
  if (t.rollback) {
    code = tool_rollback (ctx, PROG, t.rollback, (const char *const *) argv + optind,
                          (size_t) (argc - optind), t.force);
    tool_end (&t);
    return report_finish (code);
  }
  if (optind >= argc) {
    tool_end (&t);
    return report_finish (tool_usage_error (PROG, "no image given"));
  }
  r.ctx = ctx;
  r.o = &o;
  r.image = argv[optind];
  find_files (&r);
  if (t.dry_run)
    flags |= IMG_PLAN_DRY_RUN;
  if (t.no_undo)
    flags |= IMG_PLAN_NO_UNDO;
  if ((rc = tool_plan_open (ctx, PROG, (const char *const *) argv + optind, (size_t) (argc - optind),
                            flags, t.undo, &plan)) < 0) {
    code = tool_fail (ctx, PROG, NULL);
    goto out;
  }
  r.plan = plan;
  r.g = img_plan_guest (plan);
  plan_disk_facts (plan);
  report_phase (REPORT_INSPECT);
  if ((rc = img_guest_inspect (r.g, &r.insp)) < 0
      || (report_phase (REPORT_PREPARE), rc = prepare (&r)) < 0) {
    code = tool_fail (ctx, PROG, r.image);
    goto out;
  }
  if ((code = plan_facts (&r, memory)) != 0)
    goto out;
  for (i = 0; i < sizeof edits / sizeof edits[0]; i++)
    if (strcmp (edits[i].name, "detach-helper") != 0 || o.detach_helper)
      img_plan_add (plan, &edits[i], &r);
  report_phase (REPORT_EDIT);
  rc = img_plan_run (plan);
  code = tool_exit_code (plan);
  tool_report (plan, t.json, code);
  if (rc < 0 && img_plan_status (plan) != IMG_PLAN_CHANGED && img_plan_status (plan) != IMG_PLAN_NOTHING)
    tool_fail (ctx, PROG, NULL);
 out:
  code = tool_finish (plan, t.json, code);
  img_plan_free (plan);
  free_ram (&r);
  tool_end (&t);
  return code;
}
