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
#include "convert/beside.h"
#include "convert/console.h"
#include "convert/devcaches.h"
#include "convert/devnames.h"
#include "convert/drivers.h"
#include "convert/initramfs.h"
#include "convert/kernel.h"
#include "convert/kextract.h"
#include "convert/netnames.h"
#include "convert/selinux.h"
#include "convert/tls.h"
#include "convert/xlconfig.h"
#include "tool.h"

#define PROG "img2pv"
#define MARK_BEGIN "### BEGIN img2pv Xen PV entry ###"
#define MARK_END "### END img2pv Xen PV entry ###"
#define ENTRY_ID "img2pv-xen-pv"
#define MAX_TEXT (16u << 20)

struct opts {
  struct tool t;                /* the options every tool takes */
  bool xvd, keep_tls, extract_kernel, no_xl;
  const char *output, *kernel, *kernel_from, *modules_from;
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

  /* The chosen kernel, and short names for what boot entries use. */
  struct img_pv_kernel k;
  const char *kver, *vmlinuz, *initrd, *console;
  const char *flavour;          /* the guest's initramfs tooling */

  /* The edits' data. */
  struct img_tls_opts tls;
  struct img_netnames net;
  struct img_devnames_opts devnames;
  struct img_console_opts console_opts;
  struct img_initramfs_opts initramfs;
  struct img_kernel_extract extract;

  /* The PV entry. */
  char *title, *args, *entry_kernel, *entry_initrd, *boot_uuid;
  char *legacy_root;            /* "(hd0,0)" from the entry we copied */
  const char *boot_fs_type;
  bool direct_kernel;
  char **formats;               /* of each image, for the xl config */
};

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
    char *dir = tool_strdup (path), *slash = strrchr (dir, '/');
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

/* ARGS with root=/resume= rewritten (img_cmdline_rewrite); with FOR_PV,
 * on the PV console.  NULL if out of memory. */
static char *
rewrite_cmdline (struct pv *pv, const char *args, bool for_pv, bool *changed)
{
  char *out;

  if (img_cmdline_rewrite (pv->g, pv->o->xvd, for_pv ? pv->console : NULL, args, &out,
                           changed) < 0)
    return NULL;
  return out;
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
    real = tool_strdup (path);
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
            char *p = tool_asprintf ("%s/%s.conf", c->path, c->entries[j].id ? c->entries[j].id : "");
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
      pv->args = tool_asprintf ("root=%s ro console=%s", root->spec, pv->console);
    else if (root && root->fs_uuid)
      pv->args = tool_asprintf ("root=UUID=%s ro console=%s", root->fs_uuid, pv->console);
    else
      return img_err (pv->ctx, -ENOENT, "%s: no boot entry to copy and no root filesystem UUID "
                      "to boot from", image);
  }
  if (pv->args == NULL)
    return oom (pv);
  if (strcmp (pv->flavour, "dracut") == 0 && !strstr (pv->args, "rd.driver.pre=")) {
    char *a = tool_asprintf ("%s rd.driver.pre=%s,%s", pv->args, pv->k.drivers[0], pv->k.drivers[1]);
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
    pv->legacy_root = tool_strdup (base->root);
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
  pv->entry_kernel = tool_strdup (rel);
  {
    const char *irel;
    const struct img_guest_mount *mi = mount_of (pv, pv->initrd, &irel);
    if (mi != m)
      return img_err (pv->ctx, -EXDEV, "%s: %s and %s are on different filesystems", image,
                      pv->vmlinuz, pv->initrd);
    pv->entry_initrd = tool_strdup (irel);
  }
  pv->boot_uuid = m->fs_uuid ? tool_strdup (m->fs_uuid) : NULL;
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
      why = tool_asprintf ("%s is on %s, which pygrub cannot read: it only looks at partitions",
                       pv->vmlinuz, m->device ? m->device : "an unknown volume");
    else if (info && info->type[0] && strncmp (info->type, "ext", 3) != 0
             && strcmp (info->type, "xfs") != 0 && strcmp (info->type, "vfat") != 0
             && strcmp (info->type, "reiserfs") != 0)
      why = tool_asprintf ("%s is on %s, a filesystem pygrub cannot read", pv->vmlinuz, info->type);
  }
  {
    size_t n_grub = 0;
    for (i = 0; i < pv->insp->n_bootcfgs; i++)
      n_grub += pv->insp->bootcfgs[i].kind == IMG_BOOT_GRUB2
                || pv->insp->bootcfgs[i].kind == IMG_BOOT_GRUB_LEGACY;
    if (why == NULL && n_grub == 0)
      why = tool_strdup ("the guest has no GRUB configuration for pygrub to read");
  }
  if (why == NULL && !pv->o->extract_kernel)
    return 0;
  pv->direct_kernel = true;
  return img_kernel_extract_init (pv->ctx, &pv->extract, image, pv->images[0], pv->kver,
                                  pv->vmlinuz, pv->initrd,
                                  why ? (char *) why : tool_strdup ("--extract-kernel"));
}

/* ---- main ------------------------------------------------------------------- */

static const struct img_edit boot_entry_edit = {
  "boot-entry", "a PV boot entry pygrub finds first, kept by update-grub", edit_boot_entry
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
  img_pv_kernel_clear (&pv->k);
  img_kernel_extract_clear (&pv->extract);
  free (pv->title);
  free (pv->args);
  free (pv->entry_kernel);
  free (pv->entry_initrd);
  free (pv->boot_uuid);
  free (pv->legacy_root);
  for (size_t i = 0; pv->formats && i < pv->n_images; i++)
    free (pv->formats[i]);
  free (pv->formats);
  img_inspection_free (pv->insp);
}

/* Parses the command line into *O; -1 and *code on a usage error or
 * --help. */
static int
parse_args (int argc, char **argv, struct opts *o, int *code)
{
  enum { O_OUTPUT = 'o', O_KERNEL = TOOL_O_OWN, O_KERNEL_FROM, O_MODULES_FROM, O_XVD, O_KEEP_TLS,
         O_EXTRACT, O_XL, O_NO_XL, O_NAME, O_MEMORY, O_VCPUS, O_BRIDGE, O_MAC };
  static const struct option lopts[] = {
    TOOL_LONG_OPTIONS,
    { "output", required_argument, NULL, 'o' }, { "kernel", required_argument, NULL, O_KERNEL },
    { "kernel-from", required_argument, NULL, O_KERNEL_FROM },
    { "modules-from", required_argument, NULL, O_MODULES_FROM },
    { "xvd", no_argument, NULL, O_XVD }, { "keep-tls", no_argument, NULL, O_KEEP_TLS },
    { "extract-kernel", no_argument, NULL, O_EXTRACT },
    { "xl-config", required_argument, NULL, O_XL }, { "no-xl-config", no_argument, NULL, O_NO_XL },
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
  while ((c = getopt_long (argc, argv, "no:h", lopts, NULL)) != -1) {
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
    case O_NAME: o->name = optarg; break;
    case O_MEMORY:
      if (parse_size (optarg, true, &bytes) < 0 || bytes < (32u << 20) || bytes > (1ull << 50)) {
        fprintf (stderr, PROG ": --memory %s: not a memory size of at least 32 MiB\n", optarg);
        return -1;
      }
      o->memory_mib = (unsigned) (bytes >> 20);
      break;
    case O_VCPUS:
      v = strtoul (optarg, &end, 10);
      if (*end || v == 0 || v > 512) {
        fprintf (stderr, PROG ": --vcpus %s: not a number from 1 to 512\n", optarg);
        return -1;
      }
      o->vcpus = (unsigned) v;
      break;
    case O_BRIDGE:
    case O_MAC:
      if ((c == O_BRIDGE ? img_check_ifname (optarg, &why) : img_check_mac (optarg, &why)) < 0) {
        q = img_quote_term (optarg, 0);
        fprintf (stderr, PROG ": --%s %s: %s\n", c == O_BRIDGE ? "bridge" : "mac", q ? q : "", why);
        free (q);
        return -1;
      }
      *(c == O_BRIDGE ? &o->bridge : &o->mac) = optarg;
      break;
    case 'h': usage (stdout); *code = 0; return -1;
    default: usage (stderr); return -1;
    }
  }
  return 0;
}

/* The xl config path, checked before anything is written: a file there
 * that img2pv did not write is never replaced (unless --force). */
static int
xl_path_of (struct img_ctx *ctx, const struct opts *o, const char *image, char **path)
{
  const char *target = o->output ? o->output : image;
  int ours;

  *path = NULL;
  if (o->no_xl)
    return 0;
  if (o->xl_path)
    *path = tool_strdup (o->xl_path);
  else {
    char *dir = img_beside_dir (target), *b = img_beside_base (target, true);
    if (dir == NULL || b == NULL) {
      fprintf (stderr, PROG ": out of memory\n");
      free (dir);
      free (b);
      return IMG_EXIT_ERROR;
    }
    *path = tool_asprintf ("%s/%s.cfg", dir, b);
    free (dir);
    free (b);
  }
  if (access (*path, F_OK) != 0 || o->t.force)
    return 0;
  if ((ours = img_xl_config_ours (ctx, *path, NULL)) < 0)
    return tool_fail (ctx, PROG, NULL);
  if (ours == 0) {
    fprintf (stderr, PROG ": %s: xl config %s exists and was not written by img2pv; not replacing it "
             "(--xl-config elsewhere, --no-xl-config, or --force)\n", image, *path);
    return IMG_EXIT_ERROR;
  }
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
  pv->kver = pv->k.kver;
  pv->vmlinuz = pv->k.vmlinuz;
  pv->initrd = pv->k.initrd;
  pv->console = pv->k.console;
  if ((r = prepare_entry (pv, image)) < 0)
    return r;
  pv->tls.keep = pv->o->keep_tls;
  pv->devnames.xvd = pv->o->xvd;
  pv->console_opts.console = pv->console;
  pv->initramfs = (struct img_initramfs_opts) { pv->flavour, { pv->k.drivers[0], pv->k.drivers[1] } };
  img_plan_fact (plan, "kernel", "%s (%s, console %s, drivers %s %s)", pv->kver,
                 pv->k.xenified ? "xenified" : "pvops", pv->console, pv->k.drivers[0], pv->k.drivers[1]);
  img_plan_fact (plan, "pv_entry", "%s", pv->title);
  img_plan_fact (plan, "pv_args", "%s", pv->args);
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
    { &boot_entry_edit, pv, true },
    { &img_edit_selinux_relabel, NULL, true },
    { &img_edit_kernel_extract, &pv->extract, pv->direct_kernel },
  };
  size_t i;

  for (i = 0; i < sizeof list / sizeof list[0]; i++)
    if (list[i].on)
      img_plan_add (pv->plan, list[i].edit, list[i].data);
}

/* The xl config into *text, written (real run) unless XL_PATH already
 * holds it (*same). */
static int
write_xl (struct pv *pv, const char *xl_path, char **text, bool *same)
{
  const struct opts *o = pv->o;
  struct img_xl_config c = {
    .image = pv->images[0], .images = o->output ? &o->output : pv->images,
    .formats = (const char *const *) pv->formats, .n_images = pv->n_images, .name = o->name,
    .memory_mib = o->memory_mib, .vcpus = o->vcpus, .bridge = o->bridge,
    .mac = o->mac ? o->mac : pv->net.mac[0] ? pv->net.mac : NULL,
  };
  char *old = NULL;
  size_t len = 0;
  int r;

  if (pv->direct_kernel) {
    c.kernel = pv->extract.kernel_out;
    c.ramdisk = pv->extract.initrd_out;
    c.cmdline = pv->args;
    c.reason = pv->extract.reason;
  }
  if (!o->mac && !pv->net.mac[0])
    img_xl_config_mac (pv->ctx, xl_path, pv->net.mac);
  if ((r = img_xl_config_text (pv->ctx, &c, text)) < 0 || o->t.dry_run)
    return r;
  *same = access (xl_path, F_OK) == 0
          && host_read_file (pv->ctx, xl_path, 1 << 20, &old, &len) == 0
          && len == strlen (*text) && memcmp (old, *text, len) == 0;
  free (old);
  if (!*same && (r = host_write_file (pv->ctx, xl_path, *text, strlen (*text), 0644)) < 0)
    fprintf (stderr, PROG ": the image was converted, but the xl config was not written: %s\n",
             img_ctx_error (pv->ctx));
  return r;
}

/* Runs the conversion on the open plan; the exit code. */
static int
convert (struct pv *pv, const char *xl_path, const char *tmp_out)
{
  const struct opts *o = pv->o;
  struct img_plan *plan = pv->plan;
  char *xl_text = NULL;
  bool xl_same = false;
  size_t i;
  int r, code;

  pv->g = img_plan_guest (plan);
  plan_disk_facts (plan);
  if (img_guest_n_roots (pv->g) == 0) {
    fprintf (stderr, PROG ": %s: guest: no Linux root filesystem found\n", pv->images[0]);
    return IMG_EXIT_ERROR;
  }
  if (prepare (pv, o->output ? o->output : pv->images[0]) < 0)
    return tool_fail (pv->ctx, PROG, NULL);
  if (xl_path)
    img_plan_fact (plan, "xl_config", "%s", xl_path);
  if (o->output)
    img_plan_fact (plan, "output", "%s", o->output);
  add_edits (pv);
  pv->formats = calloc (pv->n_images, sizeof *pv->formats);
  for (i = 0; pv->formats && i < pv->n_images && i < img_guest_n_disks (pv->g); i++)
    pv->formats[i] = tool_strdup (img_disk_format (img_guest_disk (pv->g, i)));

  /* The guest is closed after this; the xl config uses what was found. */
  r = img_plan_run (plan);
  if (r == 0 && xl_path)
    r = write_xl (pv, xl_path, &xl_text, &xl_same);
  if (tmp_out && r == 0 && img_plan_status (plan) != IMG_PLAN_FAILED
      && img_plan_status (plan) != IMG_PLAN_FAILED_DIRTY && link (tmp_out, o->output) < 0) {
    fprintf (stderr, PROG ": %s: %s\n", o->output, strerror (errno));
    r = -errno;
  }
  tool_report (plan, o->t.json);
  if (!o->t.json) {
    if (xl_text && r == 0 && xl_same)
      printf ("xl config %s is up to date.\n", xl_path);
    else if (xl_text && r == 0)
      printf ("%s xl config %s:\n%s", o->t.dry_run ? "Would write" : "Wrote", xl_path, xl_text);
  }
  free (xl_text);
  if (r < 0 && img_plan_status (plan) != IMG_PLAN_CHANGED && img_plan_status (plan) != IMG_PLAN_NOTHING) {
    const char *msg = img_ctx_error (pv->ctx);
    if (strncmp (msg, pv->images[0], strlen (pv->images[0])) == 0)
      fprintf (stderr, PROG ": %s\n", msg);
    else
      fprintf (stderr, PROG ": %s: %s\n", o->output ? o->output : pv->images[0], msg);
  }
  code = tool_exit_code (plan);
  if (r < 0 && code == 0)
    code = IMG_EXIT_ERROR;
  if (tmp_out && code == IMG_EXIT_DIRTY)
    code = IMG_EXIT_ERROR;      /* the copy was thrown away */
  return code;
}

int
main (int argc, char **argv)
{
  struct opts o = { .t.prog = PROG, .memory_mib = 1024, .vcpus = 1, .bridge = "xenbr0" };
  const char *const *images, *work_image[1];
  struct pv pv = { 0 };
  char *xl_path = NULL, *tmp_out = NULL;
  unsigned flags = 0;
  size_t n_images;
  int code;

  /* Reports carry names and text from images: every byte printed goes
   * through img_quote_term on its way to the terminal. */
  img_quote_term_stdio ();
  if (parse_args (argc, argv, &o, &code) < 0 || (code = tool_start (&o.t)) != 0)
    return code;
  images = (const char *const *) argv + optind;
  n_images = (size_t) (argc - optind);
  if (o.t.rollback)
    code = tool_rollback (o.t.ctx, PROG, o.t.rollback, images, n_images, o.t.force);
  else if (n_images == 0) {
    usage (stderr);
    code = IMG_EXIT_USAGE;
  } else if (o.output && n_images != 1) {
    fprintf (stderr, PROG ": --output converts one image\n");
    code = IMG_EXIT_USAGE;
  } else
    code = xl_path_of (o.t.ctx, &o, images[0], &xl_path);
  if (o.t.rollback || code != 0)
    goto out;

  if (o.output && !o.t.dry_run) {
    /* Convert a copy: made under a temporary name, renamed when done. */
    tmp_out = tool_asprintf ("%s.img2pv-tmp", o.output);
    if (access (o.output, F_OK) == 0) {
      fprintf (stderr, PROG ": %s: already exists; not overwriting it\n", o.output);
      code = IMG_EXIT_ERROR;
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
    code = convert (&pv, xl_path, tmp_out);
 out:
  img_plan_free (pv.plan);
  if (tmp_out)
    unlink (tmp_out);           /* a copy that failed is never left behind */
  free_pv (&pv);
  free (xl_path);
  free (tmp_out);
  tool_end (&o.t);
  return code;
}
