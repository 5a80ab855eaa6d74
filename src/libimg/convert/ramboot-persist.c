/* The RAM boot kept through the guest's own maintenance (see ramboot.h):
 * the layer's files and an initrd hook in the guest, so every initrd it
 * builds has the RAM boot, and the script (a GRUB 2 generator or a
 * kernel-install plugin) that keeps the RAM entry on the newest kernel
 * with such an initrd. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "img-quote.h"
#include "base/strbuf.h"
#include "convert/ramboot.h"

#define DIR IMG_RAMBOOT_PERSIST_DIR
#define HOOK_ITOOLS "/etc/initramfs-tools/hooks/img-ramify"
#define DRACUT_MODULE "/usr/lib/dracut/modules.d/90img-ramify"
#define DRACUT_CONF "/etc/dracut.conf.d/img-ramify.conf"
#define DRACUT_CONF_TEXT "# img-ramify: the RAM boot (rd.ramboot) in every initrd dracut builds\n" \
  "add_dracutmodules+=\" img-ramify \"\n"
#define MAX_FILES 8

/* One file of the hook in the guest. */
struct pfile {
  const char *path;
  const void *data;
  size_t len;
  uint32_t mode;
};

/* The files the hook consists of, for L's initrd tooling (HOOK is the
 * initramfs-tools hook or dracut's module-setup.sh). */
static size_t
persist_files (const struct img_ramboot_layer *l, const void *hook, size_t hook_len,
               struct pfile f[MAX_FILES])
{
  size_t n = 0;

  /* The script under the name that puts it where the layer does: dracut's
   * inst_hook pre-pivot 90 makes it 90-img-ramify.sh. */
  f[n++] = (struct pfile) { l->dracut ? DIR "/img-ramify.sh" : DIR "/ramboot", l->script,
                            l->script_len, 0644 };
  f[n++] = (struct pfile) { DIR "/ramboot.conf", l->conf, l->conf ? strlen (l->conf) : 0, 0644 };
  f[n++] = (struct pfile) { DIR "/fstab", l->fstab, l->fstab ? strlen (l->fstab) : 0, 0644 };
  if (l->lvmlocal)
    f[n++] = (struct pfile) { DIR "/lvmlocal.conf", l->lvmlocal, strlen (l->lvmlocal), 0644 };
  f[n++] = (struct pfile) { DIR "/img-ramcopy", l->helper, l->helper_len, 0755 };
  if (l->dracut) {
    f[n++] = (struct pfile) { DRACUT_MODULE "/module-setup.sh", hook, hook_len, 0755 };
    f[n++] = (struct pfile) { DRACUT_CONF, DRACUT_CONF_TEXT, strlen (DRACUT_CONF_TEXT), 0644 };
  } else
    f[n++] = (struct pfile) { HOOK_ITOOLS, hook, hook_len, 0755 };
  return n;
}

static int
write_one (struct img_guest *g, const struct pfile *f)
{
  char *dir = strndup (f->path, (size_t) (strrchr (f->path, '/') - f->path));
  int r;

  if (dir == NULL)
    return -ENOMEM;
  r = img_guest_mkdir_p (g, dir, 0755);
  free (dir);
  if (r == 0)
    r = img_guest_write_file (g, f->path, f->data, f->len, f->mode);
  /* An existing file keeps its mode: a hook must run. */
  if (r == 0 && (f->mode & 0111))
    r = img_guest_chmod (g, f->path, f->mode);
  return r;
}

int
img_ramboot_persist (struct img_plan *plan, const struct img_ramboot_layer *l,
                     const void *hook, size_t hook_len)
{
  struct img_guest *g = img_plan_guest (plan);
  struct pfile f[MAX_FILES];
  size_t n = persist_files (l, hook, hook_len, f), i;
  int r = 0;

  for (i = 0; i < n && r == 0; i++)
    r = write_one (g, &f[i]);
  /* A root no longer on LVM: an earlier run's lvmlocal.conf goes. */
  if (r == 0 && l->lvmlocal == NULL)
    r = img_guest_remove (g, DIR "/lvmlocal.conf");
  return r;
}

int
img_ramboot_keeper (struct img_ctx *ctx, const char *where, const struct img_ramboot_keeper *k,
                    char **out)
{
  struct img_sb b = { 0 }, files = { 0 };
  struct pfile f[MAX_FILES];
  size_t n = persist_files (k->layer, NULL, 0, f), i;
  char *args = NULL, *bad = NULL;
  const char *why = NULL;
  int r;

  *out = NULL;
  /* The command line as the static entry carries it: checked and
   * normalised, so GRUB reads it back as it is. */
  r = img_quote_cmdline_line (k->args, &args, &bad, &why);
  if (r == -EINVAL) {
    char *t = img_quote_term (bad ? bad : "", 0);
    r = img_err (ctx, r, "%s: grub.d: kernel argument %s: %s", where, t ? t : "", why);
    free (t);
  }
  free (bad);
  if (r < 0) {
    free (args);
    return r == -ENOMEM ? img_err (ctx, r, "%s: out of memory", where) : r;
  }
  for (i = 0; i < n; i++)
    img_sb_addf (&files, "%s%s", i ? " " : "", f[i].path);
  img_sb_addf (&b, "#! /bin/sh\n# img-ramify's RAM boot entry (id %s), kept by %s on the\n"
               "# newest kernel whose initrd has the RAM boot.  Written by img-ramify.\n", k->id,
               k->entry ? "kernel-install" : "update-grub");
  img_internal_ramboot_assign (&b, "RAMIFY_ID", k->id);
  img_internal_ramboot_assign (&b, "RAMIFY_MARKER", k->marker);
  img_internal_ramboot_assign (&b, "RAMIFY_OS", k->os);
  img_internal_ramboot_assign (&b, "RAMIFY_ARGS", args);
  img_internal_ramboot_assign (&b, "RAMIFY_HOOK_FILES", files.s ? files.s : "");
  if (k->entry) {
    img_internal_ramboot_assign (&b, "RAMIFY_ENTRY", k->entry);
    img_internal_ramboot_assign (&b, "RAMIFY_DEFAULT", k->make_default ? "yes" : "no");
  }
  img_sb_add (&b, k->lib, k->lib_len);
  img_sb_add (&b, k->body, k->body_len);
  free (args);
  if (b.oom || files.oom) {
    img_sb_free (&b);
    img_sb_free (&files);
    return img_err (ctx, -ENOMEM, "%s: out of memory", where);
  }
  img_sb_free (&files);
  *out = b.s;
  return 0;
}
