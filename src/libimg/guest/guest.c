/* The guest as its OS sees it: the disks, their partitions and LVM, the
 * root filesystem and the mount map from the guest's own /etc/fstab.
 * Paths across those mount points resolve in paths.c; the file operations
 * are in file.c. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "appliance/appliance.h"
#include "fs/overlay.h"
#include "guest/guest-private.h"
#include "text/text-private.h"

#define FSTAB_MAX_SIZE (1 << 20)

struct img_ctx *
img_guest_ctx (const struct img_guest *g)
{
  return g->ctx;
}

size_t
img_guest_n_mounts (const struct img_guest *g)
{
  return g->n_mounts;
}

const struct img_guest_mount *
img_guest_mount (const struct img_guest *g, size_t i)
{
  return i < g->n_mounts ? &g->mounts[i].pub : NULL;
}

size_t
img_guest_n_roots (const struct img_guest *g)
{
  return g->n_roots;
}

const char *
img_guest_no_root_reason (const struct img_guest *g)
{
  return g->n_roots ? NULL : g->no_root_why;
}

const char *
img_guest_root (const struct img_guest *g, size_t i)
{
  return i < g->n_roots ? g->roots[i] : NULL;
}

size_t
img_guest_n_disks (const struct img_guest *g)
{
  return g->n_disks;
}

struct img_disk *
img_guest_disk (const struct img_guest *g, size_t i)
{
  return i < g->n_disks ? g->disks[i] : NULL;
}

const struct img_ptable *
img_guest_ptable (const struct img_guest *g, size_t i)
{
  return i < g->n_disks ? g->pts[i] : NULL;
}

const struct img_lvm *
img_guest_lvm (const struct img_guest *g)
{
  return g->lvm;
}

const struct img_md *
img_guest_md (const struct img_guest *g)
{
  return g->md;
}

size_t
img_guest_n_volumes (const struct img_guest *g)
{
  return g->n_volumes;
}

const struct img_volume *
img_guest_volume (const struct img_guest *g, size_t i,
                  const struct img_fsinfo **info,
                  const struct img_part **part, size_t *image)
{
  if (i >= g->n_volumes)
    return NULL;
  if (info)
    *info = &g->volumes[i].info;
  if (part)
    *part = g->volumes[i].part;
  if (image)
    *image = g->volumes[i].image;
  return g->volumes[i].vol;
}

/* ---- opening ----------------------------------------------------------- */

struct gvolume *
img_internal_guest_append_volume (struct img_guest *g, struct img_volume *vol,
                                  bool owned)
{
  struct gvolume *v;

  v = realloc (g->volumes, (g->n_volumes + 1) * sizeof *v);
  if (v == NULL) {
    if (owned)
      img_volume_free (vol);
    img_err (g->ctx, -ENOMEM, "guest: out of memory");
    return NULL;
  }
  g->volumes = v;
  v = &v[g->n_volumes++];
  memset (v, 0, sizeof *v);
  v->vol = vol;
  v->owned = owned;
  return v;
}

bool
img_internal_guest_is_ext (const char *type)
{
  return strcmp (type, "ext2") == 0 || strcmp (type, "ext3") == 0
    || strcmp (type, "ext4") == 0;
}

/* /dev/mapper names double the dashes inside VG and LV names. */
static bool
mapper_name_matches (const char *name, const char *vg, const char *lv)
{
  char buf[600], *o = buf;
  const char *s;

  for (s = vg; *s && o < buf + 290; s++) {
    if (*s == '-')
      *o++ = '-';
    *o++ = *s;
  }
  *o++ = '-';
  for (s = lv; *s && o < buf + 590; s++) {
    if (*s == '-')
      *o++ = '-';
    *o++ = *s;
  }
  *o = '\0';
  return strcmp (name, buf) == 0;
}

/* Kernel disk names: sda, hdb, vdc, xvda, sdaa ... → image index. */
static bool
parse_disk_name (const char *name, size_t *disk, unsigned *part)
{
  static const char *const prefixes[] = { "xvd", "sd", "hd", "vd" };
  size_t i, idx = 0;
  const char *p = NULL;

  for (i = 0; i < ARRAY_SIZE (prefixes); i++)
    if (strncmp (name, prefixes[i], strlen (prefixes[i])) == 0) {
      p = name + strlen (prefixes[i]);
      break;
    }
  if (p == NULL || !islower ((unsigned char) *p))
    return false;
  while (islower ((unsigned char) *p)) {
    idx = idx * 26 + (*p - 'a' + 1);
    if (idx > 1000)
      return false;
    p++;
  }
  *disk = idx - 1;
  *part = 0;
  if (*p == '\0')
    return true;
  if (!isdigit ((unsigned char) *p))
    return false;
  *part = strtoul (p, (char **) &p, 10);
  return *p == '\0' && *part > 0;
}

static bool
spec_value (const char *spec, const char *key, char *out, size_t outlen)
{
  size_t kl = strlen (key), vl;
  const char *v;

  if (strncmp (spec, key, kl) != 0)
    return false;
  v = spec + kl;
  vl = strlen (v);
  if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
    v++;
    vl -= 2;
  }
  if (vl >= outlen)
    return false;
  memcpy (out, v, vl);
  out[vl] = '\0';
  return true;
}

/* /dev/md/NAME, /dev/md/N or /dev/mdN (VAL is what follows "/dev/md"):
 * the array with that 1.x name (host part aside) or 0.90 minor; for a
 * partition of one, the partition's own name: the kernel's (/dev/md5p1)
 * or udev's (/dev/md/NAME1, and /dev/md/5p1 for a 0.90 array, whose
 * volume is named md5p1).  A 1.x array's kernel number is chosen at
 * assembly, not recorded: /dev/md127 names nothing here. */
static long
resolve_md (struct img_guest *g, const char *val)
{
  const char *want = val[0] == '/' ? val + 1 : val;
  size_t i;

  for (i = 0; i < g->n_volumes; i++) {
    const struct img_md_array *a = g->volumes[i].md;
    const char *vn = g->volumes[i].vol->name;
    if (a == NULL)
      continue;
    if (g->volumes[i].part != NULL) {
      if (strncmp (vn, "md", 2) == 0
          && (strcmp (vn + 2, val) == 0 || (vn[2] != '/' && strcmp (vn + 2, want) == 0)))
        return i;
      continue;
    }
    if ((strncmp (a->devname, "md/", 3) == 0 && strcmp (a->devname + 3, want) == 0)
        || (a->devname[2] != '/' && strcmp (a->devname + 2, want) == 0))
      return i;
  }
  return -1;
}

/* Finds the volume an fstab spec names; -1 if none. */
long
img_internal_guest_resolve_spec (struct img_guest *g, const char *spec)
{
  char val[512];
  size_t i, disk;
  unsigned part;

  if (spec_value (spec, "UUID=", val, sizeof val)
      || spec_value (spec, "/dev/disk/by-uuid/", val, sizeof val)) {
    for (i = 0; i < g->n_volumes; i++)
      if (strcasecmp (g->volumes[i].info.uuid, val) == 0
          && strcmp (g->volumes[i].info.type, "LVM2_member") != 0
          && strcmp (g->volumes[i].info.type, "linux_raid_member") != 0)
        return i;
    return -1;
  }
  if (spec_value (spec, "LABEL=", val, sizeof val)
      || spec_value (spec, "/dev/disk/by-label/", val, sizeof val)) {
    for (i = 0; i < g->n_volumes; i++)
      if (g->volumes[i].info.label[0] && strcmp (g->volumes[i].info.label, val) == 0)
        return i;
    return -1;
  }
  if (spec_value (spec, "PARTUUID=", val, sizeof val)
      || spec_value (spec, "/dev/disk/by-partuuid/", val, sizeof val)) {
    for (i = 0; i < g->n_volumes; i++)
      if (g->volumes[i].part && strcasecmp (g->volumes[i].part->uuid, val) == 0)
        return i;
    return -1;
  }
  if (spec_value (spec, "PARTLABEL=", val, sizeof val)
      || spec_value (spec, "/dev/disk/by-partlabel/", val, sizeof val)) {
    for (i = 0; i < g->n_volumes; i++)
      if (g->volumes[i].part && g->volumes[i].part->name[0]
          && strcmp (g->volumes[i].part->name, val) == 0)
        return i;
    return -1;
  }
  if (spec_value (spec, "/dev/mapper/", val, sizeof val)) {
    for (i = 0; i < g->n_volumes; i++)
      if (g->volumes[i].lv && mapper_name_matches (val, g->volumes[i].vg, g->volumes[i].lv))
        return i;
    /* An opened LUKS mapping, by its crypttab name or its default one. */
    for (i = 0; i < g->n_volumes; i++)
      if (g->volumes[i].inner && g->volumes[i].lv == NULL
          && ((g->volumes[i].crypt_name && strcmp (g->volumes[i].crypt_name, val) == 0)
              || strcmp (g->volumes[i].vol->name, val) == 0))
        return i;
    return -1;
  }
  if (spec_value (spec, "/dev/md", val, sizeof val))
    return resolve_md (g, val);
  if (spec_value (spec, "/dev/", val, sizeof val)) {
    char *slash = strchr (val, '/');
    if (slash && strchr (slash + 1, '/') == NULL) {
      *slash = '\0';
      for (i = 0; i < g->n_volumes; i++)
        if (g->volumes[i].lv && strcmp (g->volumes[i].vg, val) == 0
            && strcmp (g->volumes[i].lv, slash + 1) == 0)
          return i;
      return -1;
    }
    if (parse_disk_name (val, &disk, &part)) {
      for (i = 0; i < g->n_volumes; i++) {
        const struct gvolume *v = &g->volumes[i];
        if (v->lv || v->md || v->image != disk)
          continue;
        if (part == 0 ? v->part == NULL : (v->part && v->part->number == part))
          return i;
      }
    }
  }
  return -1;
}

static int
add_mount (struct img_guest *g, const char *mountpoint, const char *spec,
           const char *vfstype, const char *options, unsigned line,
           long volume)
{
  struct gmount *m;

  m = realloc (g->mounts, (g->n_mounts + 1) * sizeof *m);
  if (m == NULL)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  g->mounts = m;
  m = &m[g->n_mounts++];
  memset (m, 0, sizeof *m);
  m->pub.mountpoint = strdup (mountpoint);
  m->pub.spec = spec ? strdup (spec) : NULL;
  m->pub.vfstype = strdup (vfstype);
  m->pub.options = strdup (options);
  m->pub.fstab_line = line;
  m->volume = volume;
  if (volume >= 0) {
    m->pub.device = strdup (g->volumes[volume].vol->name);
    if (g->volumes[volume].info.uuid[0])
      m->pub.fs_uuid = strdup (g->volumes[volume].info.uuid);
  }
  if (!m->pub.mountpoint || !m->pub.vfstype || !m->pub.options)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  return 0;
}

static void
set_why (struct gmount *m, const char *why)
{
  free (m->pub.why_not);
  m->pub.why_not = strdup (why);
}

static int
cmp_mounts (const void *a, const void *b)
{
  const struct gmount *ma = a, *mb = b;
  size_t la = strlen (ma->pub.mountpoint), lb = strlen (mb->pub.mountpoint);

  if (la != lb)
    return la > lb ? -1 : 1;
  return strcmp (ma->pub.mountpoint, mb->pub.mountpoint);
}

/* Normalises a mount point from fstab: absolute, no trailing slash, no
 * "." or ".." or empty components; false if it is not usable. */
static bool
clean_mountpoint (const char *in, char *out, size_t outlen)
{
  const char *p = in;
  size_t o = 0;

  if (in[0] != '/')
    return false;
  while (*p) {
    const char *c;
    size_t l;
    while (*p == '/')
      p++;
    if (!*p)
      break;
    c = p;
    while (*p && *p != '/')
      p++;
    l = p - c;
    if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
      return false;
    if (o + l + 2 > outlen)
      return false;
    out[o++] = '/';
    memcpy (out + o, c, l);
    o += l;
  }
  if (o == 0)
    out[o++] = '/';
  out[o] = '\0';
  return true;
}

/* Drops mount entries [from, n_mounts). */
static void
free_mounts_from (struct img_guest *g, size_t from)
{
  size_t i;

  for (i = from; i < g->n_mounts; i++) {
    struct img_guest_mount *p = &g->mounts[i].pub;
    free (p->mountpoint);
    free (p->spec);
    free (p->vfstype);
    free (p->options);
    free (p->device);
    free (p->fs_uuid);
    free (p->why_not);
    free (g->mounts[i].fs_options);
  }
  g->n_mounts = from;
}

/* A /usr no fstab line names (usrfs.c): mounted read-only, as CoreOS
 * mounts it, named the way its kernel command line names it. */
static int
add_usr (struct img_guest *g, size_t root)
{
  const struct gvolume *v;
  char spec[300];
  long u;
  size_t i;
  int r;

  for (i = 0; i < g->n_mounts; i++)
    if (strcmp (g->mounts[i].pub.mountpoint, "/usr") == 0)
      return 0;
  if ((u = img_internal_guest_find_usr (g, root)) < 0)
    return 0;
  v = &g->volumes[u];
  if (v->part && v->part->name[0])
    snprintf (spec, sizeof spec, "PARTLABEL=%s", v->part->name);
  else if (v->info.label[0])
    snprintf (spec, sizeof spec, "LABEL=%s", v->info.label);
  else
    snprintf (spec, sizeof spec, "UUID=%s", v->info.uuid);
  r = add_mount (g, "/usr", spec, v->info.type, "ro", 0, u);
  if (r == 0)
    g->mounts[g->n_mounts - 1].readonly = true;   /* a write would break dm-verity */
  return r;
}

static int
build_mounts (struct img_guest *g, size_t root)
{
  struct img_fs *rootfs;
  CLEANUP_FREE char *text = NULL;
  size_t len = 0, n = 0, i;
  struct img_fstab_entry *fstab = NULL;
  bool have_root = false;
  int r;

  r = img_internal_guest_open_fs (g, (long) root, g->root_options,
                                  IMG_FS_RDONLY, &rootfs);
  if (r < 0)
    return r;
  /* Until the mount map exists the root is all there is: read the fstab
   * through it, so that an fstab that is a symlink resolves inside the
   * guest like any other path. */
  r = add_mount (g, "/", NULL, g->volumes[root].info.type, "defaults", 0, root);
  if (r < 0) {
    img_fs_close (rootfs);
    return r;
  }
  g->mounts[g->n_mounts - 1].fs = rootfs;
  if (img_guest_read_file (g, "/etc/fstab", FSTAB_MAX_SIZE, (void **) &text, &len) < 0) {
    img_dbg (g->ctx, "guest: no usable /etc/fstab: %s", img_ctx_error (g->ctx));
    img_ctx_clear_error (g->ctx);
    text = NULL;
  }
  img_internal_guest_crypttab (g);
  g->mounts[g->n_mounts - 1].fs = NULL;
  free_mounts_from (g, g->n_mounts - 1);
  img_fs_close (rootfs);

  if (text) {
    r = img_fstab_parse (g->ctx, text, len, &fstab, &n);
    if (r < 0)
      return r;
  }
  for (i = 0; i < n; i++) {
    const struct img_fstab_entry *e = &fstab[i];
    char mp[PATH_MAX];
    long v;

    if (strcmp (e->vfstype, "swap") == 0) {
      v = img_internal_guest_resolve_spec (g, e->spec);
      r = add_mount (g, "swap", e->spec, e->vfstype, e->options, e->line, v);
      if (r < 0)
        goto out;
      set_why (&g->mounts[g->n_mounts - 1], "swap");
      continue;
    }
    if (!clean_mountpoint (e->file, mp, sizeof mp))
      continue;                 /* "none", relative or hostile mount points */
    if (strcmp (mp, "/") == 0) {
      /* The filesystem we found is the root whatever fstab calls it
       * (/dev/root, an HVM-era /dev/sda2 that no longer matches...). */
      r = add_mount (g, "/", e->spec, e->vfstype, e->options, e->line, root);
      if (r < 0)
        goto out;
      have_root = true;
      continue;
    }
    v = img_internal_guest_resolve_spec (g, e->spec);
    r = add_mount (g, mp, e->spec, e->vfstype, e->options, e->line, v);
    if (r < 0)
      goto out;
  }
  if (!have_root) {
    r = add_mount (g, "/", NULL, g->volumes[root].info.type, "defaults", 0, root);
    if (r < 0)
      goto out;
  }
  r = add_usr (g, root);
 out:
  img_fstab_free (fstab, n);
  return r;
}

/* Whether mount I is the same filesystem (and, for btrfs, the same
 * subvolume) as a mount before it. */
static bool
same_as_earlier (struct img_guest *g, size_t i)
{
  const struct gmount *m = &g->mounts[i];
  size_t j;

  for (j = 0; j < i; j++) {
    const struct gmount *o = &g->mounts[j];
    if (!o->pub.mounted || o->volume != m->volume)
      continue;
    if (m->lazy && o->lazy
        && strcmp (o->fs_options ? o->fs_options : "", m->fs_options ? m->fs_options : "") != 0)
      continue;                 /* two subvolumes of one btrfs */
    return true;
  }
  return false;
}

/* Opens the filesystems of the mount map: the native ones now, those the
 * appliance reads on first use (paths.c). */
static int
mount_all (struct img_guest *g)
{
  size_t i;
  int r;

  for (i = 0; i < g->n_mounts; i++) {
    struct gmount *m = &g->mounts[i];
    const struct gvolume *v;
    enum img_guest_reader reader;

    if (strcmp (m->pub.mountpoint, "swap") == 0)
      continue;
    if (m->volume < 0) {
      set_why (m, "device not found on the given images");
      continue;
    }
    v = &g->volumes[m->volume];
    reader = img_internal_guest_reader (g, m->volume);
    if (reader == IMG_GUEST_READER_NONE) {
      char why[96];
      snprintf (why, sizeof why, "%s filesystems are not read with --backend %s",
                v->info.type[0] ? v->info.type : "unknown",
                img_ctx_fs_backend (g->ctx) == IMG_FS_BACKEND_NATIVE ? "native" : "auto");
      set_why (m, why);
      continue;
    }
    if (reader == IMG_GUEST_READER_APPLIANCE) {
      char opt[300];
      if (strcmp (m->pub.mountpoint, "/") == 0)
        snprintf (opt, sizeof opt, "%s", g->root_options ? g->root_options : "");
      else if (!img_internal_fstab_subvol (m->pub.options, opt, sizeof opt)) {
        set_why (m, "unusable subvol= option");
        continue;
      }
      if (opt[0] && (m->fs_options = strdup (opt)) == NULL)
        return img_err (g->ctx, -ENOMEM, "guest: out of memory");
      m->lazy = true;
    }
    /* Two mount points on one filesystem (bind-like fstab lines) would
     * open it twice; refuse to write through two handles. */
    if (same_as_earlier (g, i)) {
      m->lazy = false;
      set_why (m, "same filesystem as another mount point");
      continue;
    }
    if (m->lazy) {
      m->pub.mounted = true;
      continue;
    }
    /* Refused before anything is opened for writing: the image stays
     * as it was. */
    if ((g->flags & IMG_FS_RDWR) && !m->readonly && v->vol->no_write)
      return img_err (g->ctx, -EROFS, "%s: %s (mounted on %s)", v->vol->name,
                      v->vol->no_write, m->pub.mountpoint);
    r = img_fs_open (g->ctx, v->vol, m->readonly ? IMG_FS_RDONLY : g->flags, &m->fs);
    if (r < 0)
      return r;
    m->pub.mounted = true;
  }
  return 0;
}

static void
free_guest (struct img_guest *g)
{
  size_t i;

  img_internal_appliance_close (g->ap, false);
  free_mounts_from (g, 0);
  free (g->mounts);
  for (i = 0; i < g->n_volumes; i++) {
    if (g->volumes[i].owned)
      img_volume_free (g->volumes[i].vol);
    free (g->volumes[i].own_vg);
    free (g->volumes[i].own_lv);
    free (g->volumes[i].crypt_name);
  }
  free (g->volumes);
  img_lvm_free (g->lvm);
  img_md_free (g->md);
  for (i = 0; i < g->n_disks; i++) {
    img_ptable_free (g->pts[i]);
    img_disk_close (g->disks[i]);
  }
  free (g->pts);
  free (g->disks);
  for (i = 0; i < g->n_roots; i++)
    free (g->roots[i]);
  free (g->roots);
  free (g->root_options);
  free (g->no_root_why);
  img_internal_guest_free_windows (g);
  free (g);
}

int
img_guest_close_fs (struct img_guest *g)
{
  size_t i;
  int r = 0, r2;

  for (i = 0; i < g->n_mounts; i++)
    if (g->mounts[i].fs) {
      r2 = img_fs_close (g->mounts[i].fs);
      g->mounts[i].fs = NULL;
      if (r == 0)
        r = r2;
    }
  /* The appliance's writes reach the disks now, through the disk layer
   * (and so the undo record), while the disks are still held. */
  r2 = img_internal_guest_close_appliance (g);
  if (r == 0)
    r = r2;
  return r;
}

int
img_guest_close (struct img_guest *g)
{
  size_t i;
  int r, r2;

  if (g == NULL)
    return 0;
  r = img_guest_close_fs (g);
  for (i = 0; i < g->n_disks; i++) {
    img_ptable_free (g->pts[i]);
    g->pts[i] = NULL;
    r2 = img_disk_close (g->disks[i]);
    g->disks[i] = NULL;
    if (r == 0)
      r = r2;
  }
  free_guest (g);
  return r;
}

/* Adds volume VI to the roots; OPTIONS (taken) reach it in the appliance. */
static int
add_root (struct img_guest *g, long vi, char *options, long *root)
{
  char **roots;

  roots = realloc (g->roots, (g->n_roots + 1) * sizeof *roots);
  if (roots == NULL) {
    free (options);
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  }
  g->roots = roots;
  roots[g->n_roots] = strdup (g->volumes[vi].vol->name);
  if (roots[g->n_roots++] == NULL) {
    free (options);
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  }
  if (*root < 0) {
    *root = vi;
    g->root_options = options;
  } else
    free (options);
  return 0;
}

/* The roots: first among the filesystems read natively, then, if none
 * is there, among those the appliance reads (so that an ext-only guest
 * never starts it).  A filesystem that cannot be examined is not the
 * root we are looking for, but it may be: say so, and when no root is
 * found, fail with why the first one could not be examined. */
static int
find_roots (struct img_guest *g, long *root)
{
  enum img_guest_reader pass;
  char *first_err = NULL;
  int first_r = 0, r;
  size_t i;

  for (pass = IMG_GUEST_READER_NATIVE; pass <= IMG_GUEST_READER_APPLIANCE && *root < 0; pass++)
    for (i = 0; i < g->n_volumes; i++) {
      char *options;

      if (img_internal_guest_reader (g, (long) i) != pass)
        continue;
      r = img_internal_guest_try_root (g, (long) i, &options);
      if (r < 0) {
        if (first_err == NULL) {
          first_r = r;
          if (asprintf (&first_err, "%s (%s): %s", g->volumes[i].vol->name,
                        g->volumes[i].info.type, img_ctx_error (g->ctx)) < 0)
            first_err = NULL;
        } else
          img_dbg (g->ctx, "%s", img_ctx_error (g->ctx));
        img_ctx_clear_error (g->ctx);
        continue;
      }
      if (r > 0 && (r = add_root (g, (long) i, options, root)) < 0) {
        free (first_err);
        return r;
      }
    }
  (void) first_r;
  if (*root < 0 && first_err) {
    g->no_root_why = first_err;       /* said by whoever needs a root */
    return 0;
  }
  if (first_err)
    img_warn (g->ctx, "%s", first_err);
  free (first_err);
  return 0;
}

int
img_guest_open (struct img_ctx *ctx, const char *const *images,
                size_t n_images, int flags, struct img_guest **gp)
{
  struct img_guest *g;
  long root = -1;
  int r;

  if (n_images == 0)
    return img_err (ctx, -EINVAL, "guest: no image given");
  g = calloc (1, sizeof *g);
  if (g == NULL)
    return img_err (ctx, -ENOMEM, "guest: out of memory");
  g->ctx = ctx;
  g->flags = flags;
  g->locked = -1;

  r = img_internal_guest_scan_disks (g, images, n_images);
  if (r < 0)
    goto err;

  img_internal_guest_appliance_names (g);
  r = img_internal_guest_open_luks (g);
  if (r < 0)
    goto err;
  r = find_roots (g, &root);
  if (r < 0)
    goto err;
  if (root < 0 && g->locked >= 0 && g->no_root_why == NULL)
    g->no_root_why = img_internal_guest_locked_why (g, images[0]);
  if (root < 0 && (r = img_internal_guest_find_windows (g)) < 0)
    goto err;
  if (root < 0) {
    /* Not an error here: the block layout is still worth having. Tools
     * that need a guest check img_guest_n_roots. */
    img_dbg (ctx, "%s: guest: no Linux root filesystem found", images[0]);
    *gp = g;
    return 0;
  }
  if (g->n_roots > 1)
    img_warn (ctx, "%s: guest: %zu root filesystems found; using %s",
              images[0], g->n_roots, g->roots[0]);

  r = build_mounts (g, root);
  if (r < 0)
    goto err;
  if (g->n_mounts > 1)
    qsort (g->mounts, g->n_mounts, sizeof *g->mounts, cmp_mounts);
  r = mount_all (g);
  if (r < 0)
    goto err;
  *gp = g;
  return 0;

 err:
  img_guest_close (g);
  return r;
}

int
img_guest_open_dir (struct img_ctx *ctx, const char *dir, int flags,
                    struct img_guest **gp)
{
  struct img_guest *g;
  int r;

  g = calloc (1, sizeof *g);
  if (g == NULL)
    return img_err (ctx, -ENOMEM, "guest: out of memory");
  g->ctx = ctx;
  g->flags = flags;
  r = add_mount (g, "/", dir, "dir", "defaults", 0, -1);
  if (r < 0)
    goto err;
  g->roots = calloc (1, sizeof *g->roots);
  if (g->roots == NULL || (g->roots[0] = strdup (dir)) == NULL) {
    r = img_err (ctx, -ENOMEM, "guest: out of memory");
    goto err;
  }
  g->n_roots = 1;
  r = img_fs_open_dir (ctx, dir, flags, &g->mounts[0].fs);
  if (r < 0)
    goto err;
  g->mounts[0].pub.mounted = true;
  *gp = g;
  return 0;
 err:
  img_guest_close (g);
  return r;
}

int
img_internal_guest_overlay (struct img_guest *g, bool dry_run,
                            struct img_fs_log *log)
{
  size_t i;
  int r;

  g->ov_set = true;
  g->ov_dry = dry_run;
  g->ov_log = log;

  for (i = 0; i < g->n_mounts; i++) {
    struct gmount *m = &g->mounts[i];
    struct img_fs *ov;

    if (m->fs == NULL || img_internal_fs_is_overlay (m->fs))
      continue;
    r = img_internal_overlay_open (g->ctx, m->fs, dry_run, m->pub.mountpoint,
                                   log, &ov);
    if (r < 0)
      return r;
    m->fs = ov;
  }
  return 0;
}
