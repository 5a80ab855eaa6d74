/* img2pv: turn a Xen HVM Linux guest image into a PV guest, offline.
 *
 * The conversion is a plan of named, idempotent edits (img-edit.h), each
 * a module of the library's convert/ floor: each looks at the guest and
 * changes only what is not yet as a PV guest needs it.  This file is the
 * options, the list of edits and the report, on the tools' skeleton
 * (tool.h).  A dry run shows every change with diffs and writes nothing;
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
 * image, and the libvirt domain XML where --libvirt-xml says.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img-edit.h"
#include "img-quote.h"
#include "convert/beside.h"
#include "convert/console.h"
#include "convert/devcaches.h"
#include "convert/devnames.h"
#include "convert/drivers.h"
#include "convert/initramfs.h"
#include "convert/kernel.h"
#include "convert/kextract.h"
#include "convert/libvirtxml.h"
#include "convert/netnames.h"
#include "convert/pvboot.h"
#include "convert/selinux.h"
#include "convert/tls.h"
#include "convert/xlconfig.h"
#include "tool.h"

#define PROG "img2pv"

struct opts {
  struct tool t;                /* the options every tool takes */
  bool xvd, keep_tls, extract_kernel, no_xl;
  const char *output, *kernel, *kernel_from, *modules_from;
  const char *xl_path, *libvirt_path, *name, *bridge, *mac;
  unsigned memory_mib, vcpus;
};

/* A domain config written beside the converted image: the same domain
 * (struct img_xl_config) in xl's language or libvirt's. */
enum { CONF_XL, CONF_LIBVIRT, N_CONF };
struct conf {
  const char *what, *fact, *option;
  int (*ours) (struct img_ctx *ctx, const char *path, char **old);
  void (*mac) (struct img_ctx *ctx, const char *path, char mac[18]);
  int (*text_of) (struct img_ctx *ctx, const struct img_xl_config *c, char **out);
  char *path;                   /* NULL: not written */
  char *text;                   /* what is (or would be) in it */
  bool same;                    /* PATH held TEXT already */
};

struct pv {
  struct img_ctx *ctx;
  struct img_plan *plan;
  struct img_guest *g;
  struct img_inspection *insp;
  const struct opts *o;
  const char *const *images;
  size_t n_images;

  struct img_pv_kernel k;       /* the chosen kernel */
  const char *console;
  const char *flavour;          /* the guest's initramfs tooling */

  /* The edits' data. */
  struct img_tls_opts tls;
  struct img_netnames net;
  struct img_devnames_opts devnames;
  struct img_console_opts console_opts;
  struct img_initramfs_opts initramfs;
  struct img_pv_entry entry;
  struct img_kernel_extract extract;
  bool direct_kernel;
  char **formats;               /* of each image, for the domain configs */
  struct conf conf[N_CONF];
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
           "      --backend B        auto (default), native or guestfs: what reads\n"
           "                         the filesystems (xfs, btrfs... need libguestfs)\n"
           "      --key SEL:key:PASSPHRASE | SEL:file:PATH\n"
           "                         a LUKS key (SEL: its UUID, /dev/sdXN, all)\n"
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
           "      --libvirt-xml FILE also write the libvirt domain XML (Xen PV) to FILE\n"
           "      --name NAME        domain name (default: image file name)\n"
           "      --memory MIB       domain memory (default 1024)\n"
           "      --vcpus N          (default 1)\n"
           "      --bridge BR        vif bridge (default xenbr0)\n"
           "      --mac MAC          vif MAC (default: the HVM NIC's, when found)\n"
           "      --budget=NAME=SIZE raise or lower a resource budget (IMG_BUDGET_*)\n"
           "  -q, --quiet  -v, --verbose  -x, --trace  -p, --progress  --no-progress\n"
           "  -h, --help\n"
           "      --version\n\n"
           "Exit status: 0 converted, 3 nothing to do, 1 error (image unchanged),\n"
           "4 error and the image could not be restored, 2 usage.\n");
}

static void
free_pv (struct pv *pv)
{
  img_pv_kernel_clear (&pv->k);
  img_kernel_extract_clear (&pv->extract);
  img_pv_entry_clear (&pv->entry);
  for (size_t i = 0; pv->formats && i < pv->n_images; i++)
    free (pv->formats[i]);
  free (pv->formats);
  for (size_t i = 0; i < N_CONF; i++) {
    free (pv->conf[i].path);
    free (pv->conf[i].text);
  }
  img_inspection_free (pv->insp);
}

/* Parses the command line into *O; -1 and *code on a usage error or
 * --help. */
static int
parse_args (int argc, char **argv, struct opts *o, int *code)
{
  enum { O_OUTPUT = 'o', O_KERNEL = TOOL_O_OWN, O_KERNEL_FROM, O_MODULES_FROM, O_XVD, O_KEEP_TLS,
         O_EXTRACT, O_XL, O_NO_XL, O_LIBVIRT, O_NAME, O_MEMORY, O_VCPUS, O_BRIDGE, O_MAC };
  static const struct option lopts[] = {
    TOOL_LONG_OPTIONS,
    { "output", required_argument, NULL, 'o' }, { "kernel", required_argument, NULL, O_KERNEL },
    { "kernel-from", required_argument, NULL, O_KERNEL_FROM },
    { "modules-from", required_argument, NULL, O_MODULES_FROM },
    { "xvd", no_argument, NULL, O_XVD }, { "keep-tls", no_argument, NULL, O_KEEP_TLS },
    { "extract-kernel", no_argument, NULL, O_EXTRACT },
    { "xl-config", required_argument, NULL, O_XL }, { "no-xl-config", no_argument, NULL, O_NO_XL },
    { "libvirt-xml", required_argument, NULL, O_LIBVIRT },
    { "name", required_argument, NULL, O_NAME }, { "memory", required_argument, NULL, O_MEMORY },
    { "vcpus", required_argument, NULL, O_VCPUS }, { "bridge", required_argument, NULL, O_BRIDGE },
    { "mac", required_argument, NULL, O_MAC },
    { NULL, 0, NULL, 0 },
  };
  uint64_t bytes;
  unsigned long v;
  const char *why;
  char *end, *q;
  int c, taken;

  *code = IMG_EXIT_USAGE;
  tool_getopt_init ();
  while ((c = getopt_long (argc, argv, "o:" TOOL_SHORT_OPTIONS, lopts, NULL)) != -1) {
    if ((taken = tool_option (&o->t, c, optarg)) < 0)
      return -1;
    if (taken)
      continue;
    switch (c) {
    case O_OUTPUT: o->output = optarg; break;
    case O_KERNEL: o->kernel = optarg; break;
    case O_KERNEL_FROM: o->kernel_from = optarg; break;
    case O_MODULES_FROM: o->modules_from = optarg; break;
    case O_XVD: o->xvd = true; break;
    case O_KEEP_TLS: o->keep_tls = true; break;
    case O_EXTRACT: o->extract_kernel = true; break;
    case O_XL: o->xl_path = optarg; break;
    case O_NO_XL: o->no_xl = true; break;
    case O_LIBVIRT: o->libvirt_path = optarg; break;
    case O_NAME: o->name = optarg; break;
    case O_MEMORY:
      if (parse_size (optarg, true, &bytes) < 0 || bytes < (32u << 20) || bytes > (1ull << 50))
        return report_error (-1, "--memory %s: not a memory size of at least 32 MiB", optarg);
      o->memory_mib = (unsigned) (bytes >> 20);
      break;
    case O_VCPUS:
      v = strtoul (optarg, &end, 10);
      if (*end || v == 0 || v > 512)
        return report_error (-1, "--vcpus %s: not a number from 1 to 512", optarg);
      o->vcpus = (unsigned) v;
      break;
    case O_BRIDGE:
    case O_MAC:
      if ((c == O_BRIDGE ? img_check_ifname (optarg, &why) : img_check_mac (optarg, &why)) < 0) {
        q = img_quote_term (optarg, 0);
        report_error (-1, "--%s %s: %s", c == O_BRIDGE ? "bridge" : "mac", q ? q : "", why);
        free (q);
        return -1;
      }
      *(c == O_BRIDGE ? &o->bridge : &o->mac) = optarg;
      break;
    case 'h': usage (stdout); *code = 0; return -1;
    default: tool_bad_option (PROG, argv); return -1;
    }
  }
  return 0;
}

/* The xl config path: --xl-config, else IMAGE-without-suffix.cfg beside
 * the image (or the --output copy); NULL with --no-xl-config. */
static int
xl_path_of (const struct opts *o, const char *image, char **path)
{
  const char *target = o->output ? o->output : image;
  char *dir, *b;

  *path = NULL;
  if (o->no_xl)
    return 0;
  if (o->xl_path) {
    *path = tool_strdup (o->xl_path);
    return 0;
  }
  dir = img_beside_dir (target);
  b = img_beside_base (target, true);
  if (dir && b)
    *path = tool_asprintf ("%s/%s.cfg", dir, b);
  free (dir);
  free (b);
  if (*path)
    return 0;
  report_phase (REPORT_INTERNAL);
  return report_error (IMG_EXIT_ERROR, "out of memory");
}

/* PATH as an absolute name (its directory resolved), to tell whether two
 * names are one file before either exists; NULL without memory. */
static char *
abs_name (const char *path)
{
  char *dir = img_beside_dir (path), *b = img_beside_base (path, false), *a = NULL;

  if (dir && b)
    a = tool_asprintf ("%s/%s", dir, b);
  free (dir);
  free (b);
  return a;
}

/* The domain configs' paths, checked before anything is written: a file
 * there that img2pv did not write is never replaced (unless --force), and
 * the two are not one file. */
static int
conf_paths (struct img_ctx *ctx, const struct opts *o, const char *image, struct conf *conf)
{
  bool same, checked = false;
  char *a, *b;
  size_t i;
  int ours, r;

  conf[CONF_XL] = (struct conf) {
    .what = "xl config", .fact = "xl_config", .option = "--xl-config elsewhere, --no-xl-config",
    .ours = img_xl_config_ours, .mac = img_xl_config_mac, .text_of = img_xl_config_text };
  conf[CONF_LIBVIRT] = (struct conf) {
    .what = "libvirt domain XML", .fact = "libvirt_xml", .option = "--libvirt-xml elsewhere",
    .ours = img_libvirt_xml_ours, .mac = img_libvirt_xml_mac, .text_of = img_libvirt_xml_text };
  if ((r = xl_path_of (o, image, &conf[CONF_XL].path)) != 0)
    return r;
  if (o->libvirt_path)
    conf[CONF_LIBVIRT].path = tool_strdup (o->libvirt_path);
  if (conf[CONF_XL].path && conf[CONF_LIBVIRT].path) {
    a = abs_name (conf[CONF_XL].path);
    b = abs_name (conf[CONF_LIBVIRT].path);
    same = a && b && strcmp (a, b) == 0;
    free (a);
    free (b);
    if (same)
      return tool_usage_error (PROG, "--libvirt-xml names the xl config's file; give it another name");
  }
  for (i = 0; i < N_CONF; i++) {
    const struct conf *c = &conf[i];
    if (c->path == NULL || access (c->path, F_OK) != 0 || o->t.force)
      continue;
    checked = true;
    report_phase (REPORT_OUTPUT);
    if ((ours = c->ours (ctx, c->path, NULL)) < 0)
      return tool_fail (ctx, PROG, NULL);
    report_phase (REPORT_REFUSED);
    if (ours == 0)
      return report_error (IMG_EXIT_ERROR, "%s: %s %s exists and was not written by img2pv; not replacing it "
                           "(%s, or --force)", image, c->what, c->path, c->option);
  }
  if (checked)
    report_phase (REPORT_OPEN);
  return 0;
}

/* What the edits need, found before any of them runs: the kernel, the PV
 * entry, the edits' options; facts for the report. */
static int
prepare (struct pv *pv, const char *image)
{
  struct img_pv_kernel_opts ko = { pv->images[0], pv->o->kernel, pv->o->kernel_from,
                                   pv->o->modules_from };
  struct img_plan *plan = pv->plan;
  int r;

  if ((r = img_guest_inspect (pv->g, &pv->insp)) < 0)
    return r;
  pv->flavour = pv->insp->initramfs ? pv->insp->initramfs : "unknown";
  if ((r = img_pv_kernel_choose (plan, pv->insp, &ko, &pv->k)) < 0)
    return r;
  pv->console = pv->k.console;
  if ((r = img_pv_entry_prepare (pv->g, pv->insp, &pv->k, pv->flavour, pv->o->xvd, image,
                                 &pv->entry)) < 0)
    return r;
  /* A direct-kernel domU when pygrub cannot read the kernel, or asked. */
  if (pv->entry.direct_reason || pv->o->extract_kernel) {
    char *why = pv->entry.direct_reason ? tool_strdup (pv->entry.direct_reason)
                                        : tool_strdup ("--extract-kernel");
    pv->direct_kernel = true;
    if ((r = img_kernel_extract_init (pv->ctx, &pv->extract, image, pv->images[0], pv->k.kver,
                                      pv->k.vmlinuz, pv->k.initrd, why)) < 0)
      return r;
  }
  pv->tls.keep = pv->o->keep_tls;
  pv->devnames.xvd = pv->o->xvd;
  pv->console_opts.console = pv->console;
  pv->initramfs = (struct img_initramfs_opts) { pv->flavour, { pv->k.drivers[0], pv->k.drivers[1] } };
  img_plan_fact (plan, "kernel", "%s (%s, console %s, drivers %s %s)", pv->k.kver,
                 pv->k.xenified ? "xenified" : "pvops", pv->console, pv->k.drivers[0], pv->k.drivers[1]);
  img_plan_fact (plan, "pv_entry", "%s", pv->entry.title);
  img_plan_fact (plan, "pv_args", "%s", pv->entry.args);
  img_plan_fact (plan, "boot", "%s", pv->direct_kernel ? "direct-kernel" : "pygrub");
  if (pv->direct_kernel) {
    img_plan_fact (plan, "direct_kernel_reason", "%s", pv->extract.reason);
    img_plan_fact (plan, "kernel_file", "%s", pv->extract.kernel_out);
    img_plan_fact (plan, "initrd_file", "%s", pv->extract.initrd_out);
  }
  return 0;
}

static void
add_edits (struct pv *pv)
{
  const struct opts *o = pv->o;
  const struct { const struct img_edit *edit; void *data; bool on; } list[] = {
    { &img_edit_kernel_from, &pv->k, o->kernel_from || o->modules_from },
    { &img_edit_initrd_drivers, &pv->k, true },
    { &img_edit_initramfs_config, &pv->initramfs, true },
    { &img_edit_tls, &pv->tls, true },
    { &img_edit_udev_net, &pv->net, true },
    { &img_edit_device_names, &pv->devnames, true },
    { &img_edit_console, &pv->console_opts, true },
    { &img_edit_device_caches, NULL, true },
    { &img_edit_pv_boot_entry, &pv->entry, true },
    { &img_edit_selinux_relabel, NULL, true },
    { &img_edit_kernel_extract, &pv->extract, pv->direct_kernel },
  };
  size_t i;

  for (i = 0; i < sizeof list / sizeof list[0]; i++)
    if (list[i].on)
      img_plan_add (pv->plan, list[i].edit, list[i].data);
}

/* The domain configs' text (conf[].text) for the domain as known now;
 * on failure *failed (may be NULL) is the config that refused. */
static int
render_confs (struct pv *pv, const struct conf **failed)
{
  const struct opts *o = pv->o;
  struct img_xl_config c = {
    .image = pv->images[0], .images = o->output ? &o->output : pv->images,
    .formats = (const char *const *) pv->formats, .n_images = pv->n_images, .name = o->name,
    .memory_mib = o->memory_mib, .vcpus = o->vcpus, .bridge = o->bridge,
  };
  char mac[18] = "";
  size_t i;
  int r;

  if (pv->direct_kernel) {
    c.kernel = pv->extract.kernel_out;
    c.ramdisk = pv->extract.initrd_out;
    c.cmdline = pv->entry.args;
    c.reason = pv->extract.reason;
  }
  /* A re-run finds the MAC in what the first run wrote. */
  for (i = 0; i < N_CONF && !o->mac && !pv->net.mac[0] && !mac[0]; i++)
    if (pv->conf[i].path)
      pv->conf[i].mac (pv->ctx, pv->conf[i].path, mac);
  c.mac = o->mac ? o->mac : pv->net.mac[0] ? pv->net.mac : mac[0] ? mac : NULL;
  for (i = 0; i < N_CONF; i++) {
    struct conf *f = &pv->conf[i];
    free (f->text);
    f->text = NULL;
    if (f->path && (r = f->text_of (pv->ctx, &c, &f->text)) < 0) {
      if (failed)
        *failed = f;
      return r;
    }
  }
  return 0;
}

/* The domain configs, written (real run) unless a file already holds
 * its text (conf[].same). */
static int
write_confs (struct pv *pv)
{
  const struct conf *bad = NULL;
  char *old = NULL;
  size_t i, len = 0;
  int r = render_confs (pv, &bad);

  if (r < 0)
    return report_error (r, "the image was converted, but the %s was not written: %s", bad->what,
                         img_ctx_error (pv->ctx));
  for (i = 0; i < N_CONF && r == 0 && !pv->o->t.dry_run; i++) {
    struct conf *f = &pv->conf[i];
    if (f->path == NULL)
      continue;
    f->same = access (f->path, F_OK) == 0
              && host_read_file (pv->ctx, f->path, 1 << 20, &old, &len) == 0
              && len == strlen (f->text) && memcmp (old, f->text, len) == 0;
    free (old);
    old = NULL;
    if (!f->same && (r = host_write_file (pv->ctx, f->path, f->text, strlen (f->text), 0644)) < 0)
      report_error (r, "the image was converted, but the %s was not written: %s", f->what,
                    img_ctx_error (pv->ctx));
  }
  return r;
}

/* Runs the conversion on the open plan; the exit code. */
static int
convert (struct pv *pv, const char *tmp_out)
{
  const struct opts *o = pv->o;
  struct img_plan *plan = pv->plan;
  size_t i;
  int r, code;

  pv->g = img_plan_guest (plan);
  plan_disk_facts (plan);
  report_phase (REPORT_INSPECT);
  if (img_guest_n_roots (pv->g) == 0) {
    const char *why = img_guest_no_root_reason (pv->g);
    if (why)
      return report_error (IMG_EXIT_ERROR, "%s", why);
    return report_error (IMG_EXIT_ERROR, "%s: guest: no Linux root filesystem found", pv->images[0]);
  }
  report_phase (REPORT_PREPARE);
  if (prepare (pv, o->output ? o->output : pv->images[0]) < 0)
    return tool_fail (pv->ctx, PROG, NULL);
  for (i = 0; i < N_CONF; i++)
    if (pv->conf[i].path)
      img_plan_fact (plan, pv->conf[i].fact, "%s", pv->conf[i].path);
  if (o->output)
    img_plan_fact (plan, "output", "%s", o->output);
  add_edits (pv);
  pv->formats = calloc (pv->n_images, sizeof *pv->formats);
  for (i = 0; pv->formats && i < pv->n_images && i < img_guest_n_disks (pv->g); i++)
    pv->formats[i] = tool_strdup (img_disk_format (img_guest_disk (pv->g, i)));
  /* What a domain config cannot carry is refused before the guest is
   * touched. */
  if (render_confs (pv, NULL) < 0)
    return tool_fail (pv->ctx, PROG, NULL);

  /* The guest is closed after this; the domain configs use what was found. */
  report_phase (REPORT_EDIT);
  r = img_plan_run (plan);
  report_phase (REPORT_OUTPUT);
  if (r == 0)
    r = write_confs (pv);
  if (tmp_out && r == 0 && img_plan_status (plan) != IMG_PLAN_FAILED
      && img_plan_status (plan) != IMG_PLAN_FAILED_DIRTY && link (tmp_out, o->output) < 0)
    r = report_error (-errno, "%s: %s", o->output, strerror (errno));
  code = tool_exit_code (plan);
  if (r < 0 && code == 0)
    code = IMG_EXIT_ERROR;
  if (tmp_out && code == IMG_EXIT_DIRTY)
    code = IMG_EXIT_ERROR;      /* the copy was thrown away */
  tool_report (plan, o->t.json, code);
  for (i = 0; i < N_CONF && !o->t.json && r == 0; i++) {
    const struct conf *f = &pv->conf[i];
    if (f->text && f->same)
      printf ("%s %s is up to date.\n", f->what, f->path);
    else if (f->text)
      printf ("%s %s %s:\n%s", o->t.dry_run ? "Would write" : "Wrote", f->what, f->path, f->text);
  }
  if (r < 0 && img_plan_status (plan) != IMG_PLAN_CHANGED && img_plan_status (plan) != IMG_PLAN_NOTHING) {
    const char *msg = img_ctx_error (pv->ctx);
    if (strncmp (msg, pv->images[0], strlen (pv->images[0])) == 0)
      fprintf (stderr, PROG ": %s\n", msg);
    else
      fprintf (stderr, PROG ": %s: %s\n", o->output ? o->output : pv->images[0], msg);
  }
  return code;
}

int
main (int argc, char **argv)
{
  struct opts o = { .t.prog = PROG, .memory_mib = 1024, .vcpus = 1, .bridge = "xenbr0" };
  const char *const *images, *work_image[1];
  struct pv pv = { 0 };
  char *tmp_out = NULL;
  unsigned flags = 0;
  size_t n_images;
  int code;

  /* Reports carry names and text from images: every byte printed goes
   * through img_quote_term on its way to the terminal. */
  img_quote_term_stdio ();
  report_init (PROG, argc, argv, NULL);
  if (parse_args (argc, argv, &o, &code) < 0 || (code = tool_start (&o.t)) != 0)
    return report_finish (code);
  images = (const char *const *) argv + optind;
  n_images = (size_t) (argc - optind);
  report_set_images (images, n_images);
  if (o.t.rollback)
    code = tool_rollback (o.t.ctx, PROG, o.t.rollback, images, n_images, o.t.force);
  else if (n_images == 0)
    code = tool_usage_error (PROG, "no image given");
  else if (o.output && n_images != 1)
    code = tool_usage_error (PROG, "--output converts one image");
  else
    code = conf_paths (o.t.ctx, &o, images[0], pv.conf);
  if (o.t.rollback || code != 0)
    goto out;

  if (o.output && !o.t.dry_run) {
    /* Convert a copy: made under a temporary name, renamed when done. */
    tmp_out = tool_asprintf ("%s.img2pv-tmp", o.output);
    if (access (o.output, F_OK) == 0) {
      report_phase (REPORT_REFUSED);
      code = report_error (IMG_EXIT_ERROR, "%s: already exists; not overwriting it", o.output);
      goto out;
    }
    unlink (tmp_out);
    if (copy_image (o.t.ctx, images[0], tmp_out) < 0) {
      code = tool_fail (o.t.ctx, PROG, NULL);
      goto out;
    }
    work_image[0] = tmp_out;
    images = work_image;
    flags |= IMG_PLAN_NO_UNDO;
  }
  flags |= (o.t.dry_run ? IMG_PLAN_DRY_RUN : 0) | (o.t.no_undo ? IMG_PLAN_NO_UNDO : 0);
  pv.ctx = o.t.ctx;
  pv.o = &o;
  pv.images = images;
  pv.n_images = n_images;
  if (tool_plan_open (o.t.ctx, PROG, images, n_images, flags, o.t.undo, &pv.plan) < 0)
    code = tool_fail (o.t.ctx, PROG, NULL);
  else
    code = convert (&pv, tmp_out);
 out:
  code = tool_finish (pv.plan, o.t.json, code);
  img_plan_free (pv.plan);
  if (tmp_out)
    unlink (tmp_out);           /* a copy that failed is never left behind */
  free_pv (&pv);
  free (tmp_out);
  tool_end (&o.t);
  return code;
}
