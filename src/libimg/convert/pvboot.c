/* The edit "boot-entry" of a Xen PV conversion: see pvboot.h.  The entry
 * itself is written by convert/bootentry; this file puts it first in the
 * live configs, and makes the guest's other entries and its update-grub
 * input boot under Xen PV too. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text-private.h"
#include "convert/bootentry.h"
#include "convert/convert-private.h"
#include "convert/devnames.h"
#include "convert/pvboot.h"

#define MARK_BEGIN "### BEGIN " IMG_PV_ENTRY_MARKER " ###"
#define MARK_END "### END " IMG_PV_ENTRY_MARKER " ###"

static const char *
skip_ws (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* The entry as a fenced block for KIND (GRUB 2 or legacy). */
static int
block (struct img_plan *plan, const struct img_pv_entry *e, enum img_boot_kind kind, char **out)
{
  const char *initrds[] = { e->initrd };
  struct img_bootentry be = {
    .id = IMG_PV_ENTRY_ID, .title = e->title, .kernel = e->kernel, .initrds = initrds,
    .n_initrds = 1, .args = e->args, .marker = IMG_PV_ENTRY_MARKER, .root_uuid = e->boot_uuid,
    .legacy_root = e->legacy_root, .grub2_fs_module = e->fs_module,
  };

  return img_bootentry_text (img_conv_ctx (plan), e->image, kind, &be, out);
}

/* Rewrites root=/resume= in a "KEYWORD args" line (linux, kernel, options). */
static int
kernel_line (struct img_plan *plan, const struct img_pv_entry *e, const char *line, size_t len,
             const char *const *keywords, struct img_sb *out, bool *changed)
{
  const char *p = skip_ws (line);
  size_t i;

  for (i = 0; keywords[i]; i++) {
    size_t kl = strlen (keywords[i]);
    if ((size_t) (line + len - p) > kl && strncmp (p, keywords[i], kl) == 0
        && (p[kl] == ' ' || p[kl] == '\t')) {
      char *rest = strndup (p + kl, (size_t) (line + len - p - kl)), *nr = NULL;
      const char *ws = rest ? skip_ws (rest) : NULL;
      bool ch = false;
      if (rest == NULL || img_cmdline_rewrite (img_plan_guest (plan), e->xvd, NULL, ws, &nr, &ch) < 0) {
        free (rest);
        return img_conv_oom (plan);
      }
      if (ch && strcmp (nr, ws) != 0) {
        img_sb_add (out, line, (size_t) (p - line) + kl);
        img_sb_add (out, rest, (size_t) (ws - rest));
        img_sb_adds (out, nr);
        *changed = true;
      } else
        img_sb_add (out, line, len);
      free (nr);
      free (rest);
      return 0;
    }
  }
  img_sb_add (out, line, len);
  return 0;
}

/* A line of a live GRUB config outside our block: a numeric default
 * pointed at our entry (0), kernel lines' root names rewritten. */
typedef int (*line_fn) (struct img_plan *plan, const struct img_pv_entry *e, const char *path,
                        const char *p, size_t l, struct img_sb *b, bool *changed);

static int
grub2_line (struct img_plan *plan, const struct img_pv_entry *e, const char *path,
            const char *p, size_t l, struct img_sb *b, bool *changed)
{
  static const char *const kw[] = { "linux", "linux16", "linuxefi", NULL };
  const char *q = skip_ws (p);

  if (strncmp (q, "set default=", 12) == 0 && p == q) {
    char *val = strndup (q + 12, l - 12), *u = val;
    if (u && (*u == '"' || *u == '\''))
      u++;
    if (u && isdigit ((unsigned char) *u) && strtol (u, NULL, 10) != 0) {
      img_sb_adds (b, "set default=\"0\"");
      *changed = true;
      img_plan_note (plan, "%s: default entry was %s; now 0, the PV entry", path, val);
    } else
      img_sb_add (b, p, l);
    free (val);
    return 0;
  }
  return kernel_line (plan, e, p, l, kw, b, changed);
}

static int
legacy_line (struct img_plan *plan, const struct img_pv_entry *e, const char *path,
             const char *p, size_t l, struct img_sb *b, bool *changed)
{
  static const char *const kw[] = { "kernel", NULL };
  const char *q = skip_ws (p);

  if (strncmp (q, "default", 7) == 0 && (q[7] == '=' || q[7] == ' ' || q[7] == '\t')) {
    const char *v = skip_ws (q + 8);
    if (isdigit ((unsigned char) *v) && strtol (v, NULL, 10) != 0) {
      img_sb_adds (b, "default=0");
      *changed = true;
      img_plan_note (plan, "%s: default entry was %.*s; now 0, the PV entry", path,
                     (int) (l - (size_t) (v - p)), v);
    } else
      img_sb_add (b, p, l);
    return 0;
  }
  if (strncmp (q, "# kopt=", 7) == 0) {
    /* Debian's legacy update-grub builds entries from kopt. */
    char *rest = strndup (q + 7, l - (size_t) (q + 7 - p)), *nr = NULL;
    bool ch = false;
    if (rest == NULL || img_cmdline_rewrite (img_plan_guest (plan), e->xvd, NULL, rest, &nr, &ch) < 0) {
      free (rest);
      return img_conv_oom (plan);
    }
    if (strcmp (nr, rest) != 0) {
      img_sb_add (b, p, (size_t) (q + 7 - p));
      img_sb_adds (b, nr);
      *changed = true;
    } else
      img_sb_add (b, p, l);
    free (nr);
    free (rest);
    return 0;
  }
  return kernel_line (plan, e, p, l, kw, b, changed);
}

/* A live config PATH (the file itself, not a link to it): our block first
 * (img_bootentry_place), then FN on every line outside it. */
static int
live_config (struct img_plan *plan, const struct img_pv_entry *e, enum img_boot_kind kind,
             const char *path, line_fn fn, uint32_t mode)
{
  const char *begin = kind == IMG_BOOT_GRUB2 ? MARK_BEGIN : "# " MARK_BEGIN;
  const char *end = kind == IMG_BOOT_GRUB2 ? MARK_END : "# " MARK_END;
  char *text = NULL, *blk = NULL, *placed = NULL;
  struct img_sb b = { 0 };
  const char *p;
  bool changed = false, inside = false;
  size_t len;
  int r;

  if ((r = block (plan, e, kind, &blk)) < 0 || (r = img_conv_read_text (plan, path, &text, &len)) < 0
      || text == NULL)
    goto out;
  if (img_bootentry_place (kind, text, len, IMG_PV_ENTRY_MARKER, blk, IMG_BOOTENTRY_FIRST, &placed,
                           &changed) < 0) {
    r = img_conv_oom (plan);
    goto out;
  }
  for (p = placed; *p && r == 0;) {
    const char *nl = strchr (p, '\n'), *q = skip_ws (p);
    size_t l = nl ? (size_t) (nl - p) : strlen (p);
    if (strncmp (q, begin, strlen (begin)) == 0)
      inside = true;
    if (inside) {
      img_sb_add (&b, p, l);
      if (strncmp (q, end, strlen (end)) == 0)
        inside = false;
    } else
      r = fn (plan, e, path, p, l, &b, &changed);
    if (nl)
      img_sb_add (&b, "\n", 1);
    p += l + (nl != NULL);
  }
  if (r == 0 && changed)
    r = img_conv_write_text (plan, path, &b, mode);
 out:
  img_sb_free (&b);
  free (placed);
  free (text);
  free (blk);
  return r;
}

static int
legacy_config (struct img_plan *plan, const struct img_pv_entry *e, const char *path)
{
  char *real = NULL;
  int r;

  /* menu.lst is often a link to grub.conf: edit the file itself. */
  if (img_guest_realpath (img_plan_guest (plan), path, true, &real) < 0 || real == NULL) {
    free (real);
    if ((real = strdup (path)) == NULL)
      return img_conv_oom (plan);
  }
  r = live_config (plan, e, IMG_BOOT_GRUB_LEGACY, real, legacy_line, 0600);
  free (real);
  return r;
}

/* The "options" line of a BLS entry, or /etc/kernel/cmdline: root names
 * rewritten. */
static int
cmdline_file (struct img_plan *plan, const struct img_pv_entry *e, const char *path,
              const char *const *kw)
{
  struct img_sb b = { 0 };
  const char *p;
  bool changed = false;
  char *text;
  size_t len;
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0 || text == NULL)
    return r;
  for (p = text; *p && r == 0;) {
    const char *nl = strchr (p, '\n');
    size_t l = nl ? (size_t) (nl - p) : strlen (p);
    r = kernel_line (plan, e, p, l, kw, &b, &changed);
    if (nl)
      img_sb_add (&b, "\n", 1);
    p += l + (nl != NULL);
  }
  if (r == 0 && changed)
    r = img_conv_write_text (plan, path, &b, 0644);
  img_sb_free (&b);
  free (text);
  return r;
}

static int
bls_config (struct img_plan *plan, const struct img_pv_entry *e, const struct img_bootcfg *c)
{
  static const char *const kw[] = { "options", NULL };
  size_t pl = strlen (c->path), j;
  int r = 0;

  if (pl > 5 && strcmp (c->path + pl - 5, ".conf") == 0)
    return cmdline_file (plan, e, c->path, kw);
  for (j = 0; j < c->n_entries && r == 0; j++) {
    char *p = NULL;
    if (c->entries[j].id == NULL)
      continue;
    if (asprintf (&p, "%s/%s.conf", c->path, c->entries[j].id) < 0)
      return img_conv_oom (plan);
    if (img_guest_exists (img_plan_guest (plan), p))
      r = cmdline_file (plan, e, p, kw);
    free (p);
  }
  return r;
}

/* /etc/default/grub KEY: root names that survive, the PV console (with
 * FOR_DEFAULT, console= words cut: they would follow ours and take
 * /dev/console away). */
static int
default_grub_key (struct img_plan *plan, const struct img_pv_entry *e, const char *key,
                  bool cut_console)
{
  const char *path = "/etc/default/grub";
  char *text, *v, *nv = NULL, *c;
  size_t len;
  bool ch;
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0 || text == NULL)
    return r;
  v = img_conv_shell_value (text, key, NULL, NULL);
  free (text);
  if (v == NULL && cut_console)
    return 0;
  if (img_cmdline_rewrite (img_plan_guest (plan), e->xvd, e->console, v ? v : "", &nv, &ch) < 0)
    r = img_conv_oom (plan);
  else {
    if (cut_console && (c = strstr (nv, "console="))) {
      while (c > nv && c[-1] == ' ')
        c--;
      *c = '\0';
    }
    if (!v || strcmp (nv, v) != 0)
      r = img_conv_set_shell_value (plan, path, key, nv);
  }
  free (nv);
  free (v);
  return r;
}

/* /etc/kernel/cmdline, read by kernel-install and RHEL's grubby for the
 * entries of new kernels: root names rewritten, the PV console. */
static int
kernel_cmdline (struct img_plan *plan, const struct img_pv_entry *e)
{
  const char *path = "/etc/kernel/cmdline";
  char *text, *nl, *nv = NULL;
  size_t len;
  bool ch;
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0 || text == NULL)
    return r;
  if ((nl = strchr (text, '\n')) != NULL)
    *nl = '\0';
  if (img_cmdline_rewrite (img_plan_guest (plan), e->xvd, e->console, text, &nv, &ch) < 0)
    r = img_conv_oom (plan);
  else if (strcmp (nv, text) != 0) {
    struct img_sb b = { 0 };
    img_sb_addf (&b, "%s\n", nv);
    r = img_conv_write_text (plan, path, &b, 0644);
    img_sb_free (&b);
  }
  free (nv);
  free (text);
  return r;
}

/* kernelopts in the grubenv beside the GRUB 2 configuration CFG: what
 * RHEL 8's BLS entries ("options $kernelopts") and grubby's entries for
 * new kernels boot with; root names rewritten, the PV console. */
static int
grubenv_kernelopts (struct img_plan *plan, const struct img_pv_entry *e, const char *cfg)
{
  struct img_guest *g = img_plan_guest (plan);
  const char *sl = strrchr (cfg, '/');
  char *env = NULL, *text = NULL, *v = NULL, *nv = NULL, *out = NULL;
  size_t len, olen;
  bool ch;
  int r;

  if (asprintf (&env, "%.*s/grubenv", (int) (sl ? sl - cfg : 0), cfg) < 0)
    return img_conv_oom (plan);
  if ((r = img_conv_read_text (plan, env, &text, &len)) < 0 || text == NULL)
    goto out;
  if ((r = img_internal_grubenv_get (text, len, "kernelopts", &v)) == -ENOENT) {
    r = 0;
    goto out;
  }
  if (r < 0 || img_cmdline_rewrite (g, e->xvd, e->console, v, &nv, &ch) < 0) {
    r = img_conv_oom (plan);
    goto out;
  }
  if (strcmp (nv, v) != 0
      && (r = img_bootentry_grubenv_set (img_guest_ctx (g), env, text, len, "kernelopts", nv,
                                         &out, &olen)) == 0)
    r = img_guest_write_file (g, env, out, olen, 0644);
 out:
  free (out);
  free (nv);
  free (v);
  free (text);
  free (env);
  return r;
}

/* The live configs; *n_grub: how many GRUB ones. */
static int
live_configs (struct img_plan *plan, const struct img_pv_entry *e, size_t *n_grub)
{
  size_t i;
  int r = 0;

  for (i = 0; i < e->insp->n_bootcfgs && r == 0; i++) {
    const struct img_bootcfg *c = &e->insp->bootcfgs[i];
    switch (c->kind) {
    case IMG_BOOT_GRUB2:
      r = live_config (plan, e, IMG_BOOT_GRUB2, c->path, grub2_line, 0644);
      if (r == 0)
        r = grubenv_kernelopts (plan, e, c->path);
      (*n_grub)++;
      break;
    case IMG_BOOT_GRUB_LEGACY:
      r = legacy_config (plan, e, c->path);
      (*n_grub)++;
      break;
    case IMG_BOOT_BLS:
      r = bls_config (plan, e, c);
      break;
    case IMG_BOOT_EXTLINUX:
      img_plan_note (plan, "%s: extlinux configuration left as is", c->path);
      break;
    }
  }
  return r;
}

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_pv_entry *e = data;
  size_t n_grub = 0;
  char *blk = NULL;
  int r;

  r = live_configs (plan, e, &n_grub);
  if (r == 0 && n_grub == 0)
    r = img_plan_note (plan, "no GRUB configuration: the xl config boots the kernel directly");
  if (r == 0 && img_guest_exists (img_plan_guest (plan), "/etc/default/grub")
      && (r = default_grub_key (plan, e, "GRUB_CMDLINE_LINUX", false)) == 0)
    r = default_grub_key (plan, e, "GRUB_CMDLINE_LINUX_DEFAULT", true);
  /* update-grub keeps the entry: 40_custom carries it. */
  if (r == 0 && img_guest_exists (img_plan_guest (plan), "/etc/grub.d") && (r = block (plan, e, IMG_BOOT_GRUB2, &blk)) == 0)
    r = img_bootentry_edit_file (plan, "/etc/grub.d/40_custom", IMG_BOOT_GRUB2, IMG_PV_ENTRY_MARKER,
                                 blk, IMG_BOOTENTRY_REPLACE, NULL, IMG_BOOTENTRY_GRUBD_HEAD, 0755);
  free (blk);
  if (r == 0 && img_guest_exists (img_plan_guest (plan), "/etc/kernel/cmdline"))
    r = kernel_cmdline (plan, e);
  return r;
}

const struct img_edit img_edit_pv_boot_entry = {
  "boot-entry", "a PV boot entry pygrub finds first, kept by update-grub", apply
};
