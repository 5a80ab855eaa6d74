/* The RAM boot's plan: what is copied, what it takes, the RAM copy's
 * fstab and the boot script's configuration (see ramboot.h). */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "private.h"
#include "guest/guest-private.h"
#include "img-quote.h"
#include "base/strbuf.h"
#include "text/text-private.h"
#include "convert/bootentry.h"
#include "convert/pvboot.h"
#include "convert/ramboot.h"

#define MiB ((uint64_t) 1024 * 1024)

static bool
is_on_disk (const struct img_guest_mount *m)
{
  return m->device != NULL;
}

bool
img_ramboot_copied (const char *const *copy, size_t n_copy, const char *mountpoint)
{
  size_t i;

  if (strcmp (mountpoint, "/") == 0)
    return true;
  for (i = 0; i < n_copy; i++)
    if (strcmp (copy[i], mountpoint) == 0)
      return true;
  return false;
}

void
img_ramboot_copy_free (char **copy, size_t n_copy)
{
  while (n_copy)
    free (copy[--n_copy]);
  free (copy);
}

static int
copy_add (struct img_ctx *ctx, const char *where, char ***copy, size_t *n, const char *mp)
{
  char **nc = realloc (*copy, (*n + 1) * sizeof *nc);

  if (nc == NULL || (nc[*n] = strdup (mp)) == NULL) {
    if (nc)
      *copy = nc;
    return img_err (ctx, -ENOMEM, "%s: out of memory", where);
  }
  *copy = nc;
  (*n)++;
  return 0;
}

/* The mount points LIST names, each one the guest mounts from its disk. */
static int
copy_named (struct img_guest *g, const char *where, const char *list, char ***copy, size_t *n)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  char *l = strdup (list), *tok, *save;
  size_t i;
  int r = 0;

  if (l == NULL)
    return img_err (ctx, -ENOMEM, "%s: out of memory", where);
  for (tok = strtok_r (l, ",", &save); tok && r == 0; tok = strtok_r (NULL, ",", &save)) {
    bool found = false;
    if (strcmp (tok, "/") == 0 || *tok == '\0')
      continue;
    for (i = 0; i < img_guest_n_mounts (g); i++) {
      const struct img_guest_mount *m = img_guest_mount (g, i);
      if (strcmp (m->mountpoint, tok) == 0 && is_on_disk (m) && m->mounted)
        found = true;
    }
    if (!found)
      r = img_err (ctx, -EINVAL, "%s: --copy %s: not a filesystem the guest mounts from its disk",
                   where, tok);
    else
      r = copy_add (ctx, where, copy, n, tok);
  }
  free (l);
  return r;
}

int
img_ramboot_copy_list (struct img_guest *g, const char *where, const char *list,
                       char ***copy, size_t *n_copy)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  size_t i;
  int r = 0;

  *copy = NULL;
  *n_copy = 0;
  if (list)
    r = copy_named (g, where, list, copy, n_copy);
  for (i = 0; !list && r == 0 && i < img_guest_n_mounts (g); i++) {
    const struct img_guest_mount *m = img_guest_mount (g, i);
    if (m->mountpoint[0] != '/' || strcmp (m->mountpoint, "/") == 0 || !is_on_disk (m))
      continue;
    if (!m->mounted)
      r = img_err (ctx, -ENOTSUP, "%s: %s (%s) cannot be read here (%s); "
                   "name the filesystems to copy with --copy", where,
                   m->mountpoint, m->vfstype ? m->vfstype : "?",
                   m->why_not ? m->why_not : "not mounted");
    else
      r = copy_add (ctx, where, copy, n_copy, m->mountpoint);
  }
  if (r < 0) {
    img_ramboot_copy_free (*copy, *n_copy);
    *copy = NULL;
    *n_copy = 0;
  }
  return r;
}

/* ---- sizing ------------------------------------------------------------- */

struct sizing {
  const char *const *copy;
  size_t n_copy;
  uint64_t bytes;
  uint64_t *hard;               /* mount index << 56 ^ inode of multiply-linked files */
  size_t n_hard;
};

static int
size_fn (struct img_guest *g, const char *path, const struct img_stat *st, void *data)
{
  struct sizing *s = data;
  size_t idx;
  const struct img_guest_mount *m = img_guest_mount_of (g, path, &idx, NULL);

  if (m == NULL || !img_ramboot_copied (s->copy, s->n_copy, m->mountpoint))
    return 0;
  if (!S_ISDIR (st->mode) && st->nlink > 1) {
    uint64_t *n = realloc (s->hard, (s->n_hard + 1) * sizeof *s->hard);
    if (n == NULL)
      return -ENOMEM;
    s->hard = n;
    /* The mount in the top bits: inode numbers repeat across filesystems. */
    s->hard[s->n_hard++] = ((uint64_t) idx << 56) ^ st->ino;
  }
  /* tmpfs takes whole pages for data; directories and links a little. */
  if (S_ISREG (st->mode))
    s->bytes += st->blocks * 512;
  else
    s->bytes += 4096;
  return 0;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

/* The copied filesystems' usage from their inode tables: one sequential
 * read each, where a walk reads every directory and inode by name (a
 * sixth of img-ramify's run on a Debian guest).  A file hidden under a
 * mount point counts here, not in the copy: the estimate errs high.
 * -ENOTSUP when one of them cannot say (not ext, a dry run's changes, an
 * inode table the scan cannot vouch for): then the tree is walked. */
static int
measure_scan (struct img_guest *g, const char *const *copy, size_t n_copy, uint64_t *bytes)
{
  size_t k, n = img_guest_n_mounts (g);
  uint64_t total = 0, b;
  int r;

  for (k = 0; k < n; k++) {
    const struct img_guest_mount *m = img_guest_mount (g, k), *first;
    size_t idx;

    if (!m->mounted || m->mountpoint[0] != '/' || !img_ramboot_copied (copy, n_copy, m->mountpoint))
      continue;
    /* Two lines for one mount point: the one the guest API reads. */
    first = img_guest_mount_of (g, m->mountpoint, &idx, NULL);
    if (first != m)
      continue;
    if ((r = img_internal_guest_fs_usage (g, m->mountpoint, &b)) < 0)
      return r;
    total += b;
  }
  *bytes = total;
  return 0;
}

int
img_ramboot_measure (struct img_guest *g, const char *const *copy, size_t n_copy,
                     uint64_t *bytes)
{
  struct sizing s = { copy, n_copy, 0, NULL, 0 };
  size_t i;
  int r = measure_scan (g, copy, n_copy, bytes);

  if (r != -ENOTSUP)
    return r;
  r = img_guest_walk (g, "/", size_fn, &s);
  if (r < 0) {
    free (s.hard);
    return r;
  }
  /* A hard-linked file counted once per name; take the extra names off
   * roughly (their blocks are unknown here, so a page each). */
  if (s.n_hard > 1) {
    qsort (s.hard, s.n_hard, sizeof *s.hard, cmp_u64);
    for (i = 1; i < s.n_hard; i++)
      if (s.hard[i] == s.hard[i - 1] && s.bytes >= 4096)
        s.bytes -= 4096;
  }
  free (s.hard);
  *bytes = s.bytes;
  return 0;
}

uint64_t
img_ramboot_memory (uint64_t bytes, uint64_t headroom, uint64_t margin)
{
  uint64_t m = bytes + headroom + margin + 256 * MiB;

  return (m + 64 * MiB - 1) / (64 * MiB) * (64 * MiB);
}

/* ---- the RAM copy's fstab -------------------------------------------------- */

/* Whether fstab line LINENO mounts a filesystem of the disk. */
static bool
line_on_disk (struct img_guest *g, unsigned lineno)
{
  size_t k;

  for (k = 0; k < img_guest_n_mounts (g); k++) {
    const struct img_guest_mount *m = img_guest_mount (g, k);
    if (m->fstab_line == lineno && is_on_disk (m))
      return true;
  }
  return false;
}

int
img_ramboot_fstab (struct img_plan *plan, const char *where, char **out)
{
  struct img_guest *g = img_plan_guest (plan);
  struct img_ctx *ctx = img_guest_ctx (g);
  struct img_fstab_entry *ents;
  struct img_sb b = { 0 };
  void *buf;
  size_t len, i, n;
  const char *p, *end;
  unsigned lineno = 0;
  int r;

  *out = NULL;
  if ((r = img_guest_read_file (img_plan_guest (plan), "/etc/fstab", 1u << 20, &buf, &len)) < 0)
    return r;
  if ((r = img_fstab_parse (ctx, buf, len, &ents, &n)) < 0) {
    free (buf);
    return r;
  }
  img_sb_adds (&b, "# The RAM copy's fstab, written at boot by img-ramify's ramboot:\n"
               "# the root is a tmpfs; filesystems and swap on the disk are not used.\n");
  for (p = buf, end = (char *) buf + len; p < end;) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
    const struct img_fstab_entry *e = NULL;
    lineno++;
    for (i = 0; i < n; i++)
      if (ents[i].line == lineno)
        e = &ents[i];
    if (e && strcmp (e->file, "/") == 0)
      img_sb_adds (&b, "ramroot / tmpfs defaults 0 0\n");
    else {
      if (e && line_on_disk (g, lineno))
        img_sb_adds (&b, "# on the disk: ");
      img_sb_add (&b, p, l);
      img_sb_adds (&b, "\n");
    }
    p += l + (nl != NULL);
  }
  img_fstab_free (ents, n);
  free (buf);
  if (b.oom) {
    img_sb_free (&b);
    return img_err (ctx, -ENOMEM, "%s: out of memory", where);
  }
  *out = b.s ? b.s : strdup ("");
  return *out ? 0 : img_err (ctx, -ENOMEM, "%s: out of memory", where);
}

/* ---- the boot script's configuration ------------------------------------------ */

/* One field of a list the boot script splits at blanks and ':' and leaves
 * unquoted (so globbed): plain characters only. */
static int
script_word (struct img_ctx *ctx, const char *where, const char *what, const char *v)
{
  const char *p;

  for (p = v; *p; p++)
    if (!isalnum ((unsigned char) *p) && !strchr ("-_./=+,@%", *p)) {
      char *t = img_quote_term (v, 0);
      int r = img_err (ctx, -EINVAL, "%s: ramboot: %s %s: only A-Z a-z 0-9 - _ . / = + , @ %% "
                       "can go into the boot script's lists", where, what, t ? t : "");
      free (t);
      return r;
    }
  return *v ? 0 : img_err (ctx, -EINVAL, "%s: ramboot: an empty %s", where, what);
}

void
img_internal_ramboot_assign (struct img_sb *conf, const char *key, const char *value)
{
  char *q = NULL;

  if (img_quote_sh (value, &q, NULL) < 0)
    conf->oom = true;
  else
    img_sb_addf (conf, "%s=%s\n", key, q);
  free (q);
}

/* RAMBOOT_MOUNTS: "MOUNTPOINT:DEVICE:TYPE:OPTIONS" of each copied
 * filesystem; OPTIONS is the btrfs subvolume the guest's fstab names
 * ("subvol=@home"), or "defaults". */
static int
conf_mounts (struct img_guest *g, const char *where, const char *const *copy, size_t n_copy,
             struct img_sb *conf)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  struct img_sb list = { 0 };
  size_t i, k;
  int r = 0;

  for (i = 0; i < n_copy && r == 0; i++)
    for (k = 0; k < img_guest_n_mounts (g); k++) {
      const struct img_guest_mount *m = img_guest_mount (g, k);
      const char *type = m->vfstype ? m->vfstype : "auto";
      char opts[256];
      if (strcmp (m->mountpoint, copy[i]) != 0 || m->spec == NULL)
        continue;
      if (!img_internal_fstab_subvol (m->options ? m->options : "", opts, sizeof opts)) {
        r = img_err (ctx, -EINVAL, "%s: ramboot: %s: an unusable subvol= option", where,
                     m->mountpoint);
        break;
      }
      if (opts[0] == '\0')
        snprintf (opts, sizeof opts, "defaults");
      if ((r = script_word (ctx, where, "mount point", m->mountpoint)) < 0
          || (r = script_word (ctx, where, "device name", m->spec)) < 0
          || (r = script_word (ctx, where, "filesystem type", type)) < 0
          || (r = script_word (ctx, where, "mount option", opts)) < 0)
        break;
      if (strchr (m->spec, ':') || strchr (m->mountpoint, ':') || strchr (type, ':')
          || strchr (opts, ':')) {
        r = img_err (ctx, -EINVAL, "%s: ramboot: %s: a ':' in the device, mount point, "
                     "type or options, which the boot script's list splits at", where,
                     m->mountpoint);
        break;
      }
      img_sb_addf (&list, "%s%s:%s:%s:%s", i ? " " : "", m->mountpoint, m->spec, type, opts);
      break;
    }
  if (r == 0)
    img_internal_ramboot_assign (conf, "RAMBOOT_MOUNTS", list.s ? list.s : "");
  img_sb_free (&list);
  return r;
}

int
img_ramboot_conf (struct img_guest *g, const char *where, const char *const *copy,
                  size_t n_copy, uint64_t headroom, uint64_t margin,
                  const char *archive_path, char **confp, char **lvmlocalp)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  const struct img_lvm *lvm = img_guest_lvm (g);
  const struct img_guest_mount *root = img_guest_mount_of (g, "/", NULL, NULL);
  struct img_sb conf = { 0 }, lvmlocal = { 0 };
  char *vg = NULL;
  int r;

  *confp = *lvmlocalp = NULL;
  img_sb_adds (&conf, "# img-ramify ramboot configuration\n");
  if ((r = conf_mounts (g, where, copy, n_copy, &conf)) < 0)
    goto out;
  img_sb_addf (&conf, "RAMBOOT_HEADROOM_KB=%" PRIu64 "\nRAMBOOT_MARGIN_KB=%" PRIu64 "\n",
               headroom / 1024, margin / 1024);
  img_internal_ramboot_assign (&conf, "RAMBOOT_ARCHIVE", archive_path ? archive_path : "");
  /* Volume groups to deactivate once the disk is let go: the root's. */
  if (lvm && root && root->device && strchr (root->device, '/') && !strchr (root->device, ':')) {
    vg = strndup (root->device, (size_t) (strchr (root->device, '/') - root->device));
    if (vg == NULL) {
      r = -ENOMEM;
      goto out;
    }
    if ((r = script_word (ctx, where, "volume group", vg)) < 0)
      goto out;
    img_internal_ramboot_assign (&conf, "RAMBOOT_VGS", vg);
    /* And no LVM autoactivation in the RAM copy, which would take the
     * disk again when udev sees it. */
    img_sb_adds (&lvmlocal, "# img-ramify: the RAM copy leaves the disk's volume groups alone\n"
                 "global {\n\tevent_activation = 0\n}\nactivation {\n\tauto_activation_volume_list = []\n}\n");
  } else
    img_internal_ramboot_assign (&conf, "RAMBOOT_VGS", "");
  r = conf.oom || lvmlocal.oom ? -ENOMEM : 0;
 out:
  free (vg);
  if (r == -ENOMEM)
    r = img_err (ctx, r, "%s: out of memory", where);
  if (r < 0) {
    img_sb_free (&conf);
    img_sb_free (&lvmlocal);
    return r;
  }
  *confp = conf.s;
  *lvmlocalp = lvmlocal.s;
  return 0;
}

/* ---- the entry the RAM entry copies ------------------------------------------ */

const struct img_boot_entry *
img_ramboot_base_entry (const struct img_inspection *insp, const char *vmlinuz, const char *own_id)
{
  const char *vb = strrchr (vmlinuz, '/') ? strrchr (vmlinuz, '/') + 1 : vmlinuz;
  size_t i, j;

  for (i = 0; i < insp->n_bootcfgs; i++)
    for (j = 0; j < insp->bootcfgs[i].n_entries; j++) {
      const struct img_boot_entry *e = &insp->bootcfgs[i].entries[j];
      const char *kb = e->kernel ? strrchr (e->kernel, '/') : NULL;
      if (e->kernel && strcmp (kb ? kb + 1 : e->kernel, vb) == 0 && e->args
          && !(e->id && strcmp (e->id, own_id) == 0)
          && !strstr (e->args, "boot=ramboot") && !strstr (e->args, "rd.ramboot")
          && !strstr (e->args, "single") && e->kind != IMG_BOOT_EXTLINUX
          && !(e->title && strstr (e->title, "recovery")))
        return e;
    }
  return NULL;
}

bool
img_ramboot_split (const struct img_inspection *insp, const char **why)
{
  bool oom = false, grub2 = false;
  char *path = img_bootentry_bls_path (insp, "x", &oom);
  bool bls = path != NULL;      /* without memory, img_bootentry_install fails */
  size_t i, j;

  free (path);
  for (i = 0; i < insp->n_bootcfgs; i++) {
    grub2 |= insp->bootcfgs[i].kind == IMG_BOOT_GRUB2;
    for (j = 0; j < insp->bootcfgs[i].n_entries; j++)
      if (insp->bootcfgs[i].entries[j].id
          && strcmp (insp->bootcfgs[i].entries[j].id, IMG_PV_ENTRY_ID) == 0) {
        *why = "img2pv's Xen PV entry is there: Xen's pygrub boots this guest, "
          "and it reads an initrd line as one file";
        return false;
      }
  }
  if (bls) {
    *why = "a BLS entry takes several initrd lines";
    return true;
  }
  if (grub2) {
    *why = "GRUB 2 loads several initrds on one line";
    return true;
  }
  *why = "GRUB legacy loads one initrd";
  return false;
}
