/* The ramboot initrd: the guest's own initrd, untouched, with a layer
 * holding our boot logic (initramfs-tools: a boot=ramboot script; dracut:
 * a pre-pivot hook run with rd.ramboot), its configuration, the RAM copy's
 * fstab and the static helper (see ramboot.h). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/guest-private.h"
#include "convert/initrdlayer.h"
#include "convert/ramboot.h"

#define MAX_INITRD (1024u << 20)

/* Where this dracut sources its hooks: /lib/dracut/hooks (lib a link to
 * usr/lib in merged-/usr initrds), or the top-level hook directories of
 * old dracut (RHEL 6). */
static const char *
dracut_hookdir (const struct img_initrd *ird)
{
  static const char *const dirs[] = { "usr/lib/dracut/hooks/pre-pivot",
                                      "lib/dracut/hooks/pre-pivot", "pre-pivot" };
  size_t i;

  for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (img_initrd_lookup (ird, dirs[i]))
      return dirs[i];
  return NULL;
}

static int
add_entries (struct img_initrd_layer *layer, const struct img_initrd *ird,
             const char *hookdir, const struct img_ramboot_layer *l)
{
  /* bin/ is usually a link to usr/bin in merged-/usr initrds: its real
   * place. */
  const struct img_cpio_entry *bin = img_initrd_lookup (ird, "bin");
  const char *helper = bin && S_ISLNK (bin->mode) ? "usr/bin/img-ramcopy" : "bin/img-ramcopy";
  size_t conf_len = strlen (l->conf), fstab_len = strlen (l->fstab);
  char hook[64];
  int r;

  if (l->dracut) {
    snprintf (hook, sizeof hook, "%s/90-img-ramify.sh", hookdir);
    if ((r = img_initrd_layer_file (layer, hook, 0755, l->script, l->script_len)) < 0
        || (r = img_initrd_layer_dir (layer, "ramboot")) < 0
        || (r = img_initrd_layer_file (layer, "ramboot/ramboot.conf", 0644, l->conf, conf_len)) < 0
        || (r = img_initrd_layer_file (layer, "ramboot/fstab", 0644, l->fstab, fstab_len)) < 0)
      return r;
  } else if ((r = img_initrd_layer_dir (layer, "scripts")) < 0
             || (r = img_initrd_layer_file (layer, "scripts/ramboot", 0644, l->script, l->script_len)) < 0
             || (r = img_initrd_layer_dir (layer, "conf")) < 0
             || (r = img_initrd_layer_file (layer, "conf/ramboot.conf", 0644, l->conf, conf_len)) < 0
             || (r = img_initrd_layer_dir (layer, "ramboot")) < 0
             || (r = img_initrd_layer_file (layer, "ramboot/fstab", 0644, l->fstab, fstab_len)) < 0)
    return r;
  if (l->lvmlocal
      && (r = img_initrd_layer_file (layer, "ramboot/lvmlocal.conf", 0644, l->lvmlocal,
                                     strlen (l->lvmlocal))) < 0)
    return r;
  return img_initrd_layer_file (layer, helper, 0755, l->helper, l->helper_len);
}

int
img_ramboot_initrd (struct img_plan *plan, const char *where, const char *initrd,
                    bool split, const struct img_ramboot_layer *l)
{
  struct img_guest *g = img_plan_guest (plan);
  struct img_ctx *ctx = img_guest_ctx (g);
  struct img_initrd_layer *layer = NULL;
  struct img_initrd *ird = NULL;
  struct img_stat st;
  void *orig = NULL, *out = NULL;
  size_t orig_len, out_len;
  const char *hookdir = NULL;
  uint32_t mode = 0600;
  uint64_t t = 0;
  char *name = NULL, *file = NULL, *other = NULL;
  int r;

  /* The layer's times are the original initrd's, so the same guest always
   * gets the same bytes (and a second run has nothing to do); and its
   * permissions: dracut's are 0600 (an initrd can hold keys). */
  if (img_guest_stat (g, initrd, &st) == 0) {
    if (st.mtime > 0 && st.mtime < UINT32_MAX)
      t = (uint64_t) st.mtime;
    mode = st.mode & 0777;
  }
  if (asprintf (&name, "%s: %s", where, initrd) < 0
      || asprintf (&file, "%s%s", initrd, split ? IMG_RAMBOOT_LAYER_SUFFIX : IMG_RAMBOOT_COPY_SUFFIX) < 0
      || asprintf (&other, "%s%s", initrd, split ? IMG_RAMBOOT_COPY_SUFFIX : IMG_RAMBOOT_LAYER_SUFFIX) < 0) {
    r = img_err (ctx, -ENOMEM, "%s: out of memory", where);
    goto out;
  }
  /* Only names are looked up: no member's data is kept, and the file is
   * read through a window (the copy, for GRUB legacy, reads it whole
   * below). */
  if ((r = img_guest_initrd_parse (g, initrd, MAX_INITRD, name, 4ull << 30, 0, NULL, NULL,
                                   &ird, NULL)) < 0)
    goto out;
  if (l->dracut && (hookdir = dracut_hookdir (ird)) == NULL) {
    r = img_err (ctx, -ENOTSUP, "%s: %s: a dracut initrd without a pre-pivot hook directory",
                 where, initrd);
    goto out;
  }
  if (!l->dracut && (!img_initrd_lookup (ird, "scripts/local") || !img_initrd_lookup (ird, "scripts/functions"))) {
    r = img_err (ctx, -ENOTSUP, "%s: %s is not an initramfs-tools initrd (no scripts/local)",
                 where, initrd);
    goto out;
  }
  if ((r = img_initrd_layer_new (ctx, t, &layer)) < 0 || (r = add_entries (layer, ird, hookdir, l)) < 0)
    goto out;
  if (split)
    /* The guest's initrd is not copied: only its segments are needed. */
    r = img_initrd_layer_file_after (layer, ird, &out, &out_len, NULL);
  else if ((r = img_guest_read_file (g, initrd, MAX_INITRD, &orig, &orig_len)) == 0)
    r = img_initrd_layer_append (layer, ird, orig, orig_len, &out, &out_len, NULL);
  if (r == 0)
    r = img_guest_write_file (g, file, out, out_len, mode);
  /* The other way's file, from a run before the boot loader changed. */
  if (r == 0)
    r = img_guest_remove (g, other);
 out:
  img_initrd_layer_free (layer);
  img_initrd_free (ird);
  free (name);
  free (file);
  free (other);
  free (orig);
  free (out);
  return r;
}
