/* The guest as its OS sees it: the disks, their partitions and LVM, the
 * root filesystem, the mount map from the guest's own /etc/fstab, and one
 * path API across those mount points in which symlinks resolve inside the
 * guest, never on the host. */
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
#include "fs/overlay.h"
#include "private.h"

#define MAX_SYMLINKS 40
#define MAX_COMPONENTS 1024
#define FSTAB_MAX_SIZE (1 << 20)

struct gvolume {
  struct img_volume *vol;       /* owned unless lv */
  bool owned;
  struct img_fsinfo info;
  const struct img_part *part;  /* NULL for whole disks and LVs */
  size_t image;                 /* which image (for /dev/sdX names) */
  const char *vg, *lv;          /* for LVs */
};

struct gmount {
  struct img_guest_mount pub;
  struct img_fs *fs;            /* NULL unless mounted */
  long volume;                  /* index into volumes, or -1 */
};

struct img_guest {
  struct img_ctx *ctx;
  int flags;
  size_t n_disks;
  struct img_disk **disks;
  struct img_ptable **pts;
  struct img_lvm *lvm;
  size_t n_volumes;
  struct gvolume *volumes;
  size_t n_mounts;
  struct gmount *mounts;        /* sorted: longest mount point first */
  size_t n_roots;
  char **roots;
};

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

static int
add_volume (struct img_guest *g, struct img_volume *vol, bool owned,
            const struct img_part *part, size_t image, const char *vg,
            const char *lv)
{
  struct gvolume *v;
  int r;

  v = realloc (g->volumes, (g->n_volumes + 1) * sizeof *v);
  if (v == NULL) {
    if (owned)
      img_volume_free (vol);
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  }
  g->volumes = v;
  v = &v[g->n_volumes++];
  memset (v, 0, sizeof *v);
  v->vol = vol;
  v->owned = owned;
  v->part = part;
  v->image = image;
  v->vg = vg;
  v->lv = lv;
  r = img_probe (g->ctx, vol, &v->info);
  return r;
}

static int
scan_disks (struct img_guest *g, const char *const *images, size_t n)
{
  struct img_volume **pvs = NULL;
  size_t i, j, n_pvs = 0, n_first;
  int r;

  g->disks = calloc (n, sizeof *g->disks);
  g->pts = calloc (n, sizeof *g->pts);
  if (g->disks == NULL || g->pts == NULL)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  g->n_disks = n;
  for (i = 0; i < n; i++) {
    struct img_volume *vol;
    char name[PATH_MAX + 16];

    r = img_disk_open (g->ctx, images[i],
                       (g->flags & IMG_FS_RDWR) ? IMG_DISK_RDWR : IMG_DISK_RDONLY,
                       &g->disks[i]);
    if (r < 0)
      return r;
    r = img_ptable_read (g->ctx, g->disks[i], &g->pts[i]);
    if (r < 0)
      return r;
    if (g->pts[i]->type == IMG_PTABLE_NONE) {
      r = img_volume_new_linear (g->ctx, images[i], g->disks[i], 0,
                                 img_disk_size (g->disks[i]), &vol);
      if (r < 0 || (r = add_volume (g, vol, true, NULL, i, NULL, NULL)) < 0)
        return r;
      continue;
    }
    for (j = 0; j < g->pts[i]->n_parts; j++) {
      const struct img_part *p = &g->pts[i]->parts[j];
      if (p->kind == IMG_PART_EXTENDED)
        continue;
      snprintf (name, sizeof name, "%s:p%u", images[i], p->number);
      r = img_volume_new_linear (g->ctx, name, g->disks[i], p->start, p->size, &vol);
      if (r < 0 || (r = add_volume (g, vol, true, p, i, NULL, NULL)) < 0)
        return r;
    }
  }

  /* LVM across every PV we found. */
  n_first = g->n_volumes;
  pvs = calloc (n_first + 1, sizeof *pvs);
  if (pvs == NULL)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  for (i = 0; i < n_first; i++)
    if (strcmp (g->volumes[i].info.type, "LVM2_member") == 0)
      pvs[n_pvs++] = g->volumes[i].vol;
  r = img_lvm_scan (g->ctx, pvs, n_pvs, &g->lvm);
  free (pvs);
  if (r < 0)
    return r;
  for (i = 0; i < img_lvm_n_vgs (g->lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (g->lvm, i);
    for (j = 0; j < vg->n_lvs; j++) {
      const struct img_lvm_lv *lv = &vg->lvs[j];
      if (lv->vol == NULL)
        continue;
      r = add_volume (g, lv->vol, false, NULL, 0, vg->name, lv->name);
      if (r < 0)
        return r;
    }
  }
  return 0;
}

static bool
is_ext (const char *type)
{
  return strcmp (type, "ext2") == 0 || strcmp (type, "ext3") == 0
    || strcmp (type, "ext4") == 0;
}

/* A root has /etc as a directory and a release file or an fstab. */
static bool
looks_like_root (struct img_fs *fs)
{
  static const char *const marks[] = {
    "/etc/fstab", "/etc/os-release", "/usr/lib/os-release",
    "/etc/redhat-release", "/etc/debian_version", "/etc/SuSE-release",
  };
  struct img_stat st;
  size_t i;

  if (img_fs_lstat (fs, "/etc", &st) < 0 || !S_ISDIR (st.mode))
    return false;
  for (i = 0; i < ARRAY_SIZE (marks); i++)
    if (img_fs_lstat (fs, marks[i], &st) == 0)
      return true;
  return false;
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

/* Finds the volume an fstab spec names; -1 if none. */
static long
resolve_spec (struct img_guest *g, const char *spec)
{
  char val[512];
  size_t i, disk;
  unsigned part;

  if (spec_value (spec, "UUID=", val, sizeof val)
      || spec_value (spec, "/dev/disk/by-uuid/", val, sizeof val)) {
    for (i = 0; i < g->n_volumes; i++)
      if (strcasecmp (g->volumes[i].info.uuid, val) == 0
          && strcmp (g->volumes[i].info.type, "LVM2_member") != 0)
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
    return -1;
  }
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
        if (v->lv || v->image != disk)
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
  }
  g->n_mounts = from;
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

  r = img_fs_open (g->ctx, g->volumes[root].vol, IMG_FS_RDONLY, &rootfs);
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
      v = resolve_spec (g, e->spec);
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
    v = resolve_spec (g, e->spec);
    r = add_mount (g, mp, e->spec, e->vfstype, e->options, e->line, v);
    if (r < 0)
      goto out;
  }
  if (!have_root) {
    r = add_mount (g, "/", NULL, g->volumes[root].info.type, "defaults", 0, root);
    if (r < 0)
      goto out;
  }
  r = 0;
 out:
  img_fstab_free (fstab, n);
  return r;
}

/* Opens the filesystems of the mount map that we can read natively. */
static int
mount_all (struct img_guest *g)
{
  size_t i, j;
  int r;

  for (i = 0; i < g->n_mounts; i++) {
    struct gmount *m = &g->mounts[i];
    const struct gvolume *v;

    if (strcmp (m->pub.mountpoint, "swap") == 0)
      continue;
    if (m->volume < 0) {
      set_why (m, "device not found on the given images");
      continue;
    }
    v = &g->volumes[m->volume];
    if (!is_ext (v->info.type)) {
      char why[64];
      snprintf (why, sizeof why, "%s filesystems are not supported natively",
                v->info.type[0] ? v->info.type : "unknown");
      set_why (m, why);
      continue;
    }
    /* Two mount points on one filesystem (bind-like fstab lines) would
     * open it twice; refuse to write through two handles. */
    for (j = 0; j < i; j++)
      if (g->mounts[j].fs && g->mounts[j].volume == m->volume)
        break;
    if (j < i) {
      set_why (m, "same filesystem as another mount point");
      continue;
    }
    r = img_fs_open (g->ctx, v->vol, g->flags, &m->fs);
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

  free_mounts_from (g, 0);
  free (g->mounts);
  for (i = 0; i < g->n_volumes; i++)
    if (g->volumes[i].owned)
      img_volume_free (g->volumes[i].vol);
  free (g->volumes);
  img_lvm_free (g->lvm);
  for (i = 0; i < g->n_disks; i++) {
    img_ptable_free (g->pts[i]);
    img_disk_close (g->disks[i]);
  }
  free (g->pts);
  free (g->disks);
  for (i = 0; i < g->n_roots; i++)
    free (g->roots[i]);
  free (g->roots);
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

int
img_guest_open (struct img_ctx *ctx, const char *const *images,
                size_t n_images, int flags, struct img_guest **gp)
{
  struct img_guest *g;
  size_t i;
  long root = -1;
  int r;

  if (n_images == 0)
    return img_err (ctx, -EINVAL, "guest: no image given");
  g = calloc (1, sizeof *g);
  if (g == NULL)
    return img_err (ctx, -ENOMEM, "guest: out of memory");
  g->ctx = ctx;
  g->flags = flags;

  r = scan_disks (g, images, n_images);
  if (r < 0)
    goto err;

  for (i = 0; i < g->n_volumes; i++) {
    struct img_fs *fs;
    char **roots;

    if (!is_ext (g->volumes[i].info.type))
      continue;
    /* A filesystem we cannot read is not the root we are looking for,
     * but say so: it may be. */
    if (img_fs_open (ctx, g->volumes[i].vol, IMG_FS_RDONLY, &fs) < 0) {
      img_warn (ctx, "%s", img_ctx_error (ctx));
      img_ctx_clear_error (ctx);
      continue;
    }
    if (looks_like_root (fs)) {
      roots = realloc (g->roots, (g->n_roots + 1) * sizeof *roots);
      if (roots == NULL) {
        img_fs_close (fs);
        r = img_err (ctx, -ENOMEM, "guest: out of memory");
        goto err;
      }
      g->roots = roots;
      roots[g->n_roots] = strdup (g->volumes[i].vol->name);
      if (roots[g->n_roots++] == NULL) {
        img_fs_close (fs);
        r = img_err (ctx, -ENOMEM, "guest: out of memory");
        goto err;
      }
      if (root < 0)
        root = i;
    }
    img_fs_close (fs);
  }
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

/* ---- path resolution ---------------------------------------------------- */

/* The mount holding canonical path PATH and the path inside it. */
static struct gmount *
find_mount (struct img_guest *g, const char *path, const char **rel)
{
  size_t i;

  for (i = 0; i < g->n_mounts; i++) {
    struct gmount *m = &g->mounts[i];
    const char *mp = m->pub.mountpoint;
    size_t l = strlen (mp);

    if (m->fs == NULL)
      continue;
    if (strcmp (mp, "/") == 0) {
      *rel = path;
      return m;
    }
    if (strncmp (path, mp, l) == 0 && (path[l] == '/' || path[l] == '\0')) {
      *rel = path[l] ? path + l : "/";
      return m;
    }
  }
  return NULL;
}

static int
mapped (struct img_guest *g, const char *canon, struct img_fs **fs,
        const char **rel)
{
  struct gmount *m = find_mount (g, canon, rel);

  if (m == NULL)
    return img_err (g->ctx, -ENOENT, "guest: %s: no filesystem mounted there", canon);
  *fs = m->fs;
  return 0;
}

/* A path as a list of components, built in a bounded buffer. */
struct comps {
  char *buf;                    /* components separated by NULs */
  size_t len, cap;
  size_t n;
};

static int
lstat_canon (struct img_guest *g, const char *canon, struct img_stat *st)
{
  struct img_fs *fs;
  const char *rel;
  int r = mapped (g, canon, &fs, &rel);

  return r < 0 ? r : img_fs_lstat (fs, rel, st);
}

/* Resolves PATH (absolute or relative to "/") into *out.  Symlinks in
 * every component but the last are followed; the last too if
 * FOLLOW_LAST.  Intermediate components must exist. */
int
img_guest_realpath (struct img_guest *g, const char *path, bool follow_last,
                    char **out)
{
  /* Work list: the remaining path, rebuilt when a symlink is expanded. */
  char *todo = NULL, *result = NULL;
  size_t rlen = 0;
  int links = 0, r = 0, steps = 0;

  if (strlen (path) >= PATH_MAX)
    return img_err (g->ctx, -ENAMETOOLONG, "guest: path too long");
  todo = strdup (path);
  result = malloc (PATH_MAX + 1);
  if (todo == NULL || result == NULL) {
    r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
    goto out;
  }
  result[0] = '\0';

  for (;;) {
    char *p = todo, *comp, *rest;
    size_t clen;
    struct img_stat st;
    char saved;

    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    if (++steps > MAX_COMPONENTS * 4) {
      r = img_err (g->ctx, -ELOOP, "guest: %s: too many path components", path);
      goto out;
    }
    comp = p;
    while (*p && *p != '/')
      p++;
    clen = p - comp;
    rest = p;
    while (*rest == '/')
      rest++;

    if (clen == 1 && comp[0] == '.') {
      memmove (todo, rest, strlen (rest) + 1);
      continue;
    }
    if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
      /* The result has no symlinks, so ".." is lexical; it stops at "/". */
      char *slash = strrchr (result, '/');
      rlen = slash ? (size_t) (slash - result) : 0;
      result[rlen] = '\0';
      memmove (todo, rest, strlen (rest) + 1);
      continue;
    }
    if (rlen + 1 + clen > PATH_MAX) {
      r = img_err (g->ctx, -ENAMETOOLONG, "guest: %s: path too long", path);
      goto out;
    }
    saved = comp[clen];
    comp[clen] = '\0';
    result[rlen] = '/';
    memcpy (result + rlen + 1, comp, clen + 1);
    comp[clen] = saved;

    if (*rest == '\0' && !follow_last) {
      rlen += 1 + clen;
      break;
    }
    r = lstat_canon (g, result, &st);
    if (r == -ENOENT && *rest == '\0') {
      rlen += 1 + clen;         /* a last component that does not exist yet */
      r = 0;
      break;
    }
    if (r < 0) {
      if (r == -ENOENT || r == -ENOTDIR)
        img_err (g->ctx, r, "guest: %s: %s", path, strerror (-r));
      goto out;
    }
    if (S_ISLNK (st.mode)) {
      struct img_fs *fs;
      const char *rel;
      char *target = NULL, *next;

      if (++links > MAX_SYMLINKS) {
        r = img_err (g->ctx, -ELOOP, "guest: %s: too many levels of symbolic links", path);
        goto out;
      }
      r = mapped (g, result, &fs, &rel);
      if (r == 0)
        r = img_fs_readlink (fs, rel, &target);
      if (r < 0)
        goto out;
      if (strlen (target) + strlen (rest) + 2 > PATH_MAX) {
        free (target);
        r = img_err (g->ctx, -ENAMETOOLONG, "guest: %s: path too long", path);
        goto out;
      }
      if (asprintf (&next, "%s/%s", target, rest) < 0) {
        free (target);
        r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
        goto out;
      }
      if (target[0] == '/')
        rlen = 0;               /* absolute: from the guest's root */
      result[rlen] = '\0';
      free (target);
      free (todo);
      todo = next;
      continue;
    }
    rlen += 1 + clen;
    if (*rest != '\0' && !S_ISDIR (st.mode)) {
      result[rlen] = '\0';
      r = img_err (g->ctx, -ENOTDIR, "guest: %s: not a directory", result);
      goto out;
    }
    memmove (todo, rest, strlen (rest) + 1);
  }
  if (rlen == 0)
    result[rlen++] = '/';
  result[rlen] = '\0';
  *out = result;
  result = NULL;
 out:
  free (todo);
  free (result);
  return r;
}

/* Resolves PATH and maps it to a filesystem. */
int
img_internal_guest_resolve (struct img_guest *g, const char *path, bool follow_last,
         char **canon, struct img_fs **fs, const char **rel)
{
  int r = img_guest_realpath (g, path, follow_last, canon);

  if (r < 0)
    return r;
  r = mapped (g, *canon, fs, rel);
  if (r < 0) {
    free (*canon);
    *canon = NULL;
  }
  return r;
}

/* Wraps an fs error that has no message of its own. */
static int
path_error (struct img_guest *g, int r, const char *what, const char *path)
{
  if (r < 0 && img_ctx_error (g->ctx)[0] == '\0')
    img_err (g->ctx, r, "guest: %s %s: %s", what, path, strerror (-r));
  return r;
}

#define RESOLVED_CALL(follow, what, call)                               \
  do {                                                                  \
    CLEANUP_FREE char *canon = NULL;                                    \
    struct img_fs *fs;                                                  \
    const char *rel;                                                    \
    int r_;                                                             \
    img_ctx_clear_error (g->ctx);                                       \
    r_ = img_internal_guest_resolve (g, path, (follow), &canon, &fs, &rel);                \
    if (r_ < 0)                                                         \
      return r_;                                                        \
    r_ = (call);                                                        \
    return path_error (g, r_, what, path);                              \
  } while (0)

/* The same for a call that changes PATH: an overlay logs the change
 * under the name the caller used. */
#define NAMED_CALL(follow, what, call)                                  \
  do {                                                                  \
    CLEANUP_FREE char *canon = NULL;                                    \
    struct img_fs *fs;                                                  \
    const char *rel;                                                    \
    int r_;                                                             \
    img_ctx_clear_error (g->ctx);                                       \
    r_ = img_internal_guest_resolve (g, path, (follow), &canon, &fs, &rel); \
    if (r_ < 0)                                                         \
      return r_;                                                        \
    img_internal_overlay_begin (fs, rel, path, NULL, NULL);             \
    r_ = (call);                                                        \
    img_internal_overlay_end (fs);                                      \
    return path_error (g, r_, what, path);                              \
  } while (0)

int
img_guest_stat (struct img_guest *g, const char *path, struct img_stat *st)
{
  RESOLVED_CALL (true, "stat", img_fs_lstat (fs, rel, st));
}

int
img_guest_lstat (struct img_guest *g, const char *path, struct img_stat *st)
{
  RESOLVED_CALL (false, "lstat", img_fs_lstat (fs, rel, st));
}

bool
img_guest_exists (struct img_guest *g, const char *path)
{
  struct img_stat st;

  return img_guest_lstat (g, path, &st) == 0;
}

int
img_guest_readlink (struct img_guest *g, const char *path, char **target)
{
  RESOLVED_CALL (false, "readlink", img_fs_readlink (fs, rel, target));
}

int
img_guest_readdir (struct img_guest *g, const char *path,
                   struct img_dirent **ents, size_t *n)
{
  RESOLVED_CALL (true, "readdir", img_fs_readdir (fs, rel, ents, n));
}

int
img_guest_read_file (struct img_guest *g, const char *path, size_t max,
                     void **buf, size_t *len)
{
  RESOLVED_CALL (true, "read", img_fs_read_file (fs, rel, max, buf, len));
}

int
img_guest_pread (struct img_guest *g, const char *path, void *buf, size_t len,
                 uint64_t off, size_t *got)
{
  RESOLVED_CALL (true, "read", img_fs_pread (fs, rel, buf, len, off, got));
}

int
img_guest_space (struct img_guest *g, const char *path, uint64_t *total,
                 uint64_t *avail)
{
  RESOLVED_CALL (true, "statfs", img_fs_space (fs, total, avail));
}

int
img_guest_xattrs (struct img_guest *g, const char *path, img_xattr_fn fn,
                  void *data)
{
  RESOLVED_CALL (false, "xattrs", img_fs_xattrs (fs, rel, fn, data));
}

int
img_guest_unlink (struct img_guest *g, const char *path)
{
  NAMED_CALL (false, "unlink", img_fs_unlink (fs, rel));
}

int
img_guest_rmdir (struct img_guest *g, const char *path)
{
  NAMED_CALL (false, "rmdir", img_fs_rmdir (fs, rel));
}

int
img_guest_mkdir (struct img_guest *g, const char *path, uint32_t mode)
{
  NAMED_CALL (false, "mkdir", img_fs_mkdir (fs, rel, mode, 0, 0));
}

int
img_guest_symlink (struct img_guest *g, const char *target, const char *path)
{
  NAMED_CALL (false, "symlink", img_fs_symlink (fs, target, rel, 0, 0));
}

int
img_guest_chmod (struct img_guest *g, const char *path, uint32_t mode)
{
  RESOLVED_CALL (true, "chmod", img_fs_chmod (fs, rel, mode));
}

int
img_guest_chown (struct img_guest *g, const char *path, uint32_t uid,
                 uint32_t gid)
{
  RESOLVED_CALL (true, "chown", img_fs_chown (fs, rel, uid, gid));
}

int
img_guest_utimes (struct img_guest *g, const char *path, int64_t atime,
                  int64_t mtime)
{
  RESOLVED_CALL (true, "utimes", img_fs_utimes (fs, rel, atime, 0, mtime, 0));
}

int
img_guest_rename (struct img_guest *g, const char *oldpath,
                  const char *newpath)
{
  CLEANUP_FREE char *c1 = NULL;
  CLEANUP_FREE char *c2 = NULL;
  struct img_fs *fs1, *fs2;
  const char *rel1, *rel2;
  int r;

  img_ctx_clear_error (g->ctx);
  r = img_internal_guest_resolve (g, oldpath, false, &c1, &fs1, &rel1);
  if (r < 0)
    return r;
  r = img_internal_guest_resolve (g, newpath, false, &c2, &fs2, &rel2);
  if (r < 0)
    return r;
  if (fs1 != fs2)
    return img_err (g->ctx, -EXDEV, "guest: rename %s to %s: not on the same filesystem",
                    oldpath, newpath);
  img_internal_overlay_begin (fs1, rel1, oldpath, rel2, newpath);
  r = img_fs_rename (fs1, rel1, rel2);
  img_internal_overlay_end (fs1);
  return path_error (g, r, "rename", oldpath);
}

static int
mkdir_p (struct img_guest *g, const char *path, uint32_t mode)
{
  CLEANUP_FREE char *canon = NULL;
  char *p;
  int r;

  img_ctx_clear_error (g->ctx);
  r = img_guest_realpath (g, path, true, &canon);
  if (r == -ENOENT) {
    /* A missing intermediate directory: create the parents first. */
    char *parent = strdup (path), *slash;
    if (parent == NULL)
      return img_err (g->ctx, -ENOMEM, "guest: out of memory");
    slash = strrchr (parent, '/');
    while (slash && slash > parent && slash[-1] == '/')
      slash--;
    if (slash == NULL || slash == parent) {
      free (parent);
      return r;
    }
    *slash = '\0';
    r = mkdir_p (g, parent, mode);
    free (parent);
    if (r < 0)
      return r;
    img_ctx_clear_error (g->ctx);
    r = img_guest_realpath (g, path, true, &canon);
  }
  if (r < 0)
    return r;
  /* canon exists up to its last component. */
  for (p = canon + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      struct img_stat st;
      *p = '\0';
      r = lstat_canon (g, canon, &st);
      if (r == -ENOENT) {
        struct img_fs *fs;
        const char *rel;
        r = mapped (g, canon, &fs, &rel);
        if (r == 0)
          r = img_fs_mkdir (fs, rel, mode, 0, 0);
      }
      else if (r == 0 && !S_ISDIR (st.mode))
        r = img_err (g->ctx, -ENOTDIR, "guest: mkdir -p %s: %s is not a directory", path, canon);
      *p = saved;
      if (r < 0)
        return path_error (g, r, "mkdir", path);
      if (saved == '\0')
        break;
    }
  }
  return 0;
}

/* The directories one mkdir -p makes are one change, named for PATH as
 * the caller wrote it. */
int
img_guest_mkdir_p (struct img_guest *g, const char *path, uint32_t mode)
{
  CLEANUP_FREE char *canon = NULL;
  struct img_fs *fs;
  const char *rel;
  size_t i;
  int r;

  for (i = 0; i < g->n_mounts; i++)
    img_internal_overlay_begin (g->mounts[i].fs, NULL, NULL, NULL, NULL);
  r = mkdir_p (g, path, mode);
  if (r == 0)
    r = img_internal_guest_resolve (g, path, true, &canon, &fs, &rel);
  if (r == 0)
    r = img_internal_overlay_name (fs, rel, path);
  for (i = 0; i < g->n_mounts; i++)
    img_internal_overlay_end (g->mounts[i].fs);
  return r;
}

int
img_guest_write_file (struct img_guest *g, const char *path, const void *buf,
                      size_t len, uint32_t mode)
{
  CLEANUP_FREE char *canon = NULL;
  CLEANUP_FREE char *tmp = NULL;
  struct img_fs *fs;
  const char *rel, *base;
  struct img_stat st;
  uint32_t uid = 0, gid = 0;
  int r, attempt;

  img_ctx_clear_error (g->ctx);
  r = img_internal_guest_resolve (g, path, true, &canon, &fs, &rel);
  if (r < 0)
    return r;
  r = img_fs_lstat (fs, rel, &st);
  if (r == 0) {
    if (!S_ISREG (st.mode))
      return img_err (g->ctx, -EINVAL, "guest: write %s: not a regular file", path);
    mode = st.mode & 07777;
    uid = st.uid;
    gid = st.gid;
  }
  else if (r != -ENOENT)
    return path_error (g, r, "write", path);
  mode &= 07777;

  base = strrchr (rel, '/');
  /* A new file, renamed over PATH: an overlay logs one write of PATH. */
  img_internal_overlay_begin (fs, rel, path, NULL, NULL);
  for (attempt = 0; attempt < 100; attempt++) {
    free (tmp);
    if (asprintf (&tmp, "%.*s/.%s.img-tools.%d", (int) (base - rel), rel, base + 1,
                  attempt) < 0) {
      tmp = NULL;
      r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
      goto out;
    }
    r = img_fs_create (fs, tmp, S_IFREG | mode, uid, gid);
    if (r != -EEXIST)
      break;
  }
  if (r < 0) {
    r = path_error (g, r, "create", tmp);
    goto out;
  }
  r = len ? img_fs_pwrite (fs, tmp, buf, len, 0) : 0;
  if (r == 0)
    r = img_fs_chmod (fs, tmp, mode);   /* no umask anywhere here */
  if (r == 0)
    r = img_fs_rename (fs, tmp, rel);
  if (r < 0) {
    int saved = r;
    img_fs_unlink (fs, tmp);
    r = path_error (g, saved, "write", path);
  }
 out:
  img_internal_overlay_end (fs);
  return r;
}

/* ---- walk ------------------------------------------------------------- */

#define WALK_MAX_DEPTH 256

static int
walk_rec (struct img_guest *g, char *path, size_t plen, int depth,
          img_guest_walk_fn fn, void *data)
{
  struct img_stat st;
  struct img_dirent *ents = NULL;
  size_t n = 0, i;
  int r;

  r = lstat_canon (g, path, &st);
  if (r < 0)
    return path_error (g, r, "walk", path);
  r = fn (g, path, &st, data);
  if (r != 0 || !S_ISDIR (st.mode))
    return r;
  if (depth >= WALK_MAX_DEPTH)
    return img_err (g->ctx, -ELOOP, "guest: walk %s: directories nested too deep", path);
  {
    struct img_fs *fs;
    const char *rel;
    r = mapped (g, path, &fs, &rel);
    if (r == 0)
      r = img_fs_readdir (fs, rel, &ents, &n);
    if (r < 0)
      return path_error (g, r, "readdir", path);
  }
  for (i = 0; i < n && r == 0; i++) {
    size_t l = strlen (ents[i].name);
    if (plen + 1 + l > PATH_MAX) {
      r = img_err (g->ctx, -ENAMETOOLONG, "guest: walk %s: path too long", path);
      break;
    }
    if (plen == 1)
      memcpy (path + 1, ents[i].name, l + 1);
    else {
      path[plen] = '/';
      memcpy (path + plen + 1, ents[i].name, l + 1);
    }
    r = walk_rec (g, path, plen == 1 ? 1 + l : plen + 1 + l, depth + 1, fn, data);
    path[plen] = '\0';
  }
  img_dirents_free (ents, n);
  return r;
}

int
img_guest_walk (struct img_guest *g, const char *path, img_guest_walk_fn fn,
                void *data)
{
  CLEANUP_FREE char *canon = NULL;
  char *buf;
  int r;

  img_ctx_clear_error (g->ctx);
  r = img_guest_realpath (g, path, true, &canon);
  if (r < 0)
    return r;
  buf = malloc (PATH_MAX + 2);
  if (buf == NULL)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  strcpy (buf, canon);
  r = walk_rec (g, buf, strlen (buf), 0, fn, data);
  free (buf);
  return r;
}
