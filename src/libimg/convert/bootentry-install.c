/* Boot-entry writers, third part: an entry of our own added where the
 * guest's boot loader looks (BLS, GRUB 2, GRUB legacy), the default
 * pointed at it, and the title such an entry carries (see bootentry.h). */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "cleanup.h"
#include "base/strbuf.h"
#include "convert/bootentry.h"

char *
img_bootentry_title (const char *os, const char *fmt, ...)
{
  struct img_sb t = { 0 };
  va_list ap;
  char *rest = NULL;
  size_t i;
  int n;

  for (i = 0; os[i] && i < 80; i++)
    img_sb_add (&t, (unsigned char) os[i] >= 0x20 && (unsigned char) os[i] < 0x7f ? os + i : "?", 1);
  va_start (ap, fmt);
  n = vasprintf (&rest, fmt, ap);
  va_end (ap);
  if (n < 0)
    t.oom = true;
  else
    img_sb_adds (&t, rest);
  free (rest);
  if (t.oom) {
    img_sb_free (&t);
    return NULL;
  }
  return t.s;
}

/* saved_entry=ID in the grubenv beside the GRUB 2 configuration CFG. */
static int
edit_grubenv (struct img_plan *plan, const char *where, const char *cfg, const char *id)
{
  struct img_ctx *ctx = img_guest_ctx (img_plan_guest (plan));
  const char *sl = strrchr (cfg, '/');
  CLEANUP_FREE char *env = NULL;
  CLEANUP_FREE char *what = NULL;
  CLEANUP_FREE char *old = NULL;
  CLEANUP_FREE char *text = NULL;
  size_t len = 0, tlen;
  int r = 0;

  if (asprintf (&env, "%.*s/grubenv", (int) (sl ? sl - cfg : 0), cfg) < 0
      || asprintf (&what, "%s: %s", where, env) < 0)
    return img_err (ctx, -ENOMEM, "%s: out of memory", where);
  if (img_guest_exists (img_plan_guest (plan), env))
    r = img_guest_read_file (img_plan_guest (plan), env, 1u << 20, (void **) &old, &len);
  if (r == 0)
    r = img_bootentry_grubenv_set (ctx, what, old, len, "saved_entry", id, &text, &tlen);
  if (r == 0)
    r = img_guest_write_file (img_plan_guest (plan), env, text, tlen, 0644);
  return r;
}

char *
img_bootentry_bls_path (const struct img_inspection *insp, const char *id, bool *oom)
{
  const char *entry, *sl;
  char *path = NULL;
  size_t i;

  *oom = false;
  for (i = 0; i < insp->n_bootcfgs; i++)
    if (insp->bootcfgs[i].kind == IMG_BOOT_BLS && insp->bootcfgs[i].n_entries) {
      entry = insp->bootcfgs[i].path;
      sl = strrchr (entry, '/');
      if (asprintf (&path, "%.*s/%s.conf", (int) (sl ? sl - entry : 0), entry, id) < 0) {
        *oom = true;
        return NULL;
      }
      return path;
    }
  return NULL;
}

/* An executable of ours: written, and chmod'ed (an existing file keeps
 * its mode, and a hook or generator must run). */
static int
install_script (struct img_plan *plan, const char *path, const char *script)
{
  struct img_guest *g = img_plan_guest (plan);
  char *dir = strndup (path, (size_t) (strrchr (path, '/') - path));
  int r;

  if (dir == NULL)
    return img_err (img_guest_ctx (g), -ENOMEM, "%s: out of memory", path);
  r = img_guest_mkdir_p (g, dir, 0755);
  free (dir);
  if (r == 0)
    r = img_guest_write_file (g, path, script, strlen (script), 0755);
  return r == 0 ? img_guest_chmod (g, path, 0755) : r;
}

/* BLS: an entry file ID.conf of our own beside the others (PATH), which
 * GRUB's blscfg and the distribution's kernel-install leave alone, and
 * T's kernel-install plugin that keeps it on the newest kernel; with
 * DEFAULT_ID, saved_entry in each GRUB 2 grubenv. */
static int
install_bls (struct img_plan *plan, const char *where, const struct img_inspection *insp,
             const char *path, const struct img_bootentry_texts *t, const char *default_id)
{
  size_t i;
  int r;

  r = img_guest_write_file (img_plan_guest (plan), path, t->bls, strlen (t->bls), 0644);
  if (r == 0 && t->bls_keeper_script)
    r = install_script (plan, t->bls_keeper_path, t->bls_keeper_script);
  for (i = 0; i < insp->n_bootcfgs && r == 0 && default_id; i++)
    if (insp->bootcfgs[i].kind == IMG_BOOT_GRUB2)
      r = edit_grubenv (plan, where, insp->bootcfgs[i].path, default_id);
  return r;
}

/* /etc/default/grub: GRUB_DEFAULT=ID, so that update-grub keeps it. */
static int
edit_default_grub (struct img_plan *plan, const char *id)
{
  const char *path = "/etc/default/grub";
  CLEANUP_FREE char *text = NULL;
  CLEANUP_FREE char *out = NULL;
  size_t len;
  int r;

  if (!img_guest_exists (img_plan_guest (plan), path))
    return 0;
  if ((r = img_guest_read_file (img_plan_guest (plan), path, 1u << 20, (void **) &text, &len)) < 0)
    return r;
  if ((r = img_bootentry_default_grub (text, len, id, &out, NULL)) < 0)
    return r;
  return img_guest_write_file (img_plan_guest (plan), path, out, strlen (out), 0644);
}

/* What keeps the GRUB 2 entry through update-grub: our block in
 * 40_custom, or T's generator (then no block of ours in 40_custom). */
static int
install_grubd (struct img_plan *plan, const char *marker, const struct img_bootentry_texts *t)
{
  int r;

  if (t->grubd_script == NULL)
    return img_bootentry_edit_file (plan, "/etc/grub.d/40_custom", IMG_BOOT_GRUB2, marker, t->grub2,
                                    IMG_BOOTENTRY_REPLACE, NULL, IMG_BOOTENTRY_GRUBD_HEAD, 0755);
  if ((r = img_bootentry_edit_file (plan, "/etc/grub.d/40_custom", IMG_BOOT_GRUB2, marker, "",
                                    IMG_BOOTENTRY_REMOVE, NULL, NULL, 0755)) < 0)
    return r;
  return install_script (plan, t->grubd_path, t->grubd_script);
}

int
img_bootentry_install (struct img_plan *plan, const char *where, const struct img_inspection *insp,
                       const char *id, const char *marker, const struct img_bootentry_texts *t,
                       const char *default_id)
{
  size_t i, n = 0;
  bool oom;
  CLEANUP_FREE char *bls = img_bootentry_bls_path (insp, id, &oom);
  int r = 0;

  if (oom)
    return img_err (img_guest_ctx (img_plan_guest (plan)), -ENOMEM, "%s: out of memory", where);
  if (bls)
    /* grub.cfg only runs blscfg: the entry is a BLS file. */
    return install_bls (plan, where, insp, bls, t, default_id);
  for (i = 0; i < insp->n_bootcfgs && r == 0; i++)
    if (insp->bootcfgs[i].kind == IMG_BOOT_GRUB2) {
      r = img_bootentry_edit_file (plan, insp->bootcfgs[i].path, IMG_BOOT_GRUB2, marker, t->grub2,
                                   IMG_BOOTENTRY_REPLACE, default_id, NULL, 0644);
      n++;
    }
  if (n && r == 0 && img_guest_exists (img_plan_guest (plan), "/etc/grub.d"))
    r = install_grubd (plan, marker, t);
  if (n && r == 0 && default_id)
    r = edit_default_grub (plan, default_id);
  if (n)
    return r;
  /* GRUB legacy: at the end, after Debian's AUTOMAGIC list.  menu.lst and
   * grub.conf are often one file: the second edit changes nothing. */
  for (i = 0; i < insp->n_bootcfgs && r == 0; i++)
    if (insp->bootcfgs[i].kind == IMG_BOOT_GRUB_LEGACY) {
      r = img_bootentry_edit_file (plan, insp->bootcfgs[i].path, IMG_BOOT_GRUB_LEGACY, marker,
                                   t->legacy, IMG_BOOTENTRY_LAST, default_id, NULL, 0600);
      n++;
    }
  if (r == 0 && n == 0)
    return img_err (img_guest_ctx (img_plan_guest (plan)), -ENOTSUP, "%s: no GRUB configuration "
                    "(GRUB 2, BLS or GRUB legacy; extlinux guests are not handled)", where);
  return r;
}
