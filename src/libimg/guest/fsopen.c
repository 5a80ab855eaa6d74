/* Which backend reads a guest filesystem, and the appliance side of
 * opening a guest: ext2/3/4 natively (fs/ext-*.c), the filesystems the
 * native backends do not read through the run's one libguestfs appliance
 * (fs/gfs.c), launched on first need (--backend auto), always
 * (--backend guestfs) or never (--backend native).  Btrfs roots are
 * looked for in the default subvolume, then in every subvolume, as the
 * guest's fstab may name any of them. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "appliance/appliance.h"
#include "fs/fs-private.h"
#include "guest/guest-private.h"

/* Subvolumes tried as a btrfs root, at most. */
#define MAX_SUBVOL_TRIES 64

/* What the appliance mounts (the kernel's names, as blkid probes them). */
static bool
appliance_type (const char *type)
{
  static const char *const types[] = {
    "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs",
    "nilfs2", "ntfs",
  };
  size_t i;

  for (i = 0; i < ARRAY_SIZE (types); i++)
    if (strcmp (type, types[i]) == 0)
      return true;
  return false;
}

enum img_guest_reader
img_internal_guest_reader (struct img_guest *g, long vi)
{
  const char *type = g->volumes[vi].info.type;
  enum img_fs_backend b = img_ctx_fs_backend (g->ctx);

  /* An md mirror (or an LV on one) is read natively from one member,
   * but written only by the appliance's md driver: every mirror then,
   * superblocks and all. */
  bool md_write = b != IMG_FS_BACKEND_NATIVE && (g->flags & IMG_FS_RDWR)
                  && g->volumes[vi].vol->no_write
                  && (g->volumes[vi].md || g->volumes[vi].lv);

  if (b != IMG_FS_BACKEND_GUESTFS && !g->volumes[vi].inner && !md_write
      && img_internal_guest_is_ext (type))
    return IMG_GUEST_READER_NATIVE;
  if (g->volumes[vi].md && b != IMG_FS_BACKEND_NATIVE && appliance_type (type))
    return IMG_GUEST_READER_APPLIANCE;   /* named when opened (md_device) */
  if (b != IMG_FS_BACKEND_NATIVE && appliance_type (type)
      && g->volumes[vi].adev_ok)
    return IMG_GUEST_READER_APPLIANCE;
  return IMG_GUEST_READER_NONE;
}

/* A root has /etc as a directory and a release file or an fstab. */
bool
img_internal_guest_looks_like_root (struct img_fs *fs)
{
  static const char *const marks[] = {
    "/etc/fstab", "/etc/os-release", "/usr/lib/os-release",
    "/etc/redhat-release", "/etc/debian_version", "/etc/SuSE-release",
    "/etc/lsb-release", "/etc/system-release", "/etc/arch-release",
    "/etc/alpine-release", "/etc/gentoo-release",
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


/* LVM's names are [A-Za-z0-9+_.-]: anything else is not a name the
 * appliance's /dev/VG/LV can carry. */
static bool
lvm_name_ok (const char *s)
{
  if (*s == '\0' || *s == '-' || strlen (s) > 127)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
          || (*s >= '0' && *s <= '9') || strchr ("+_.-", *s)))
      return false;
  return true;
}

void
img_internal_guest_appliance_names (struct img_guest *g)
{
  size_t i;

  for (i = 0; i < g->n_volumes; i++) {
    struct gvolume *v = &g->volumes[i];

    v->adev_ok = false;
    if (v->md || v->inner)
      continue;                 /* md: not mapped; inner: named by luks.c */
    if (v->lv) {
      if (lvm_name_ok (v->vg) && lvm_name_ok (v->lv)) {
        snprintf (v->adev, sizeof v->adev, "/dev/%s/%s", v->vg, v->lv);
        v->adev_ok = true;
      }
      continue;
    }
    img_internal_appliance_device (v->image, v->part ? v->part->number : 0,
                                   v->adev, sizeof v->adev);
    v->adev_ok = true;
  }
}

static int
need_appliance (struct img_guest *g)
{
  if (g->ap)
    return 0;
  return img_internal_appliance_new (g->ctx, g->disks, g->n_disks,
                                     (g->flags & IMG_FS_RDWR) != 0, &g->ap);
}

int
img_internal_guest_need_appliance (struct img_guest *g, const char *why)
{
  int r = need_appliance (g);

  return r < 0 ? r : img_internal_appliance_start (g->ap, why);
}

/* A UUID as hex digits only, lower case: mdadm writes 4 groups of 8 with
 * colons, blkid 8-4-4-4-12 with dashes. */
static void
uuid_hex (const char *in, char *out, size_t outlen)
{
  size_t o = 0;

  for (; *in && o + 1 < outlen; in++)
    if (isxdigit ((unsigned char) *in))
      out[o++] = (char) tolower ((unsigned char) *in);
  out[o] = '\0';
}

/* A partition of a partitioned array: v->adev names the array
 * ("/dev/md127"); the partition is the kernel's mdNpM, which the
 * appliance must list. */
static int
md_part_device (struct img_guest *g, long vi)
{
  struct gvolume *v = &g->volumes[vi];
  const struct img_gfs_api *api = img_internal_appliance_api (g->ap);
  char want[sizeof v->adev], **parts;
  size_t i;
  bool found = false;

  v->adev_ok = false;
  if ((size_t) snprintf (want, sizeof want, "%sp%u", v->adev, v->part->number)
      >= sizeof want)
    return img_err (g->ctx, -ENAMETOOLONG, "%s: appliance: device name too long",
                    v->vol->name);
  parts = api->list_partitions (img_internal_appliance_handle (g->ap));
  if (parts == NULL)
    return img_internal_appliance_fail (g->ap, "listing partitions");
  for (i = 0; parts[i]; i++) {
    found = found || strcmp (parts[i], want) == 0;
    free (parts[i]);
  }
  free (parts);
  if (!found)
    return img_err (g->ctx, -ENODEV, "%s: appliance: partition %u of the md array (UUID %s) not found (no %s)",
                    v->vol->name, v->part->number, v->md->uuid, want);
  memcpy (v->adev, want, sizeof v->adev);
  v->adev_ok = true;
  return 0;
}

/* The appliance's device for md volume VI: the array whose UUID is its
 * (the appliance assembles every array it finds when it starts). */
static int
md_device (struct img_guest *g, long vi)
{
  struct gvolume *v = &g->volumes[vi];
  const struct img_gfs_api *api;
  guestfs_h *h;
  char want[64], **mds;
  size_t i, k;
  int r;

  r = img_internal_appliance_start (g->ap, v->vol->name);
  if (r < 0)
    return r;
  api = img_internal_appliance_api (g->ap);
  h = img_internal_appliance_handle (g->ap);
  uuid_hex (v->md->uuid, want, sizeof want);
  mds = api->list_md_devices (h);
  if (mds == NULL)
    return img_internal_appliance_fail (g->ap, "listing md arrays");
  for (i = 0; mds[i] && !v->adev_ok; i++) {
    char **kv = api->md_detail (h, mds[i]);
    for (k = 0; kv && kv[k] && kv[k + 1]; k += 2) {
      char got[64];
      uuid_hex (kv[k + 1], got, sizeof got);
      if (strcmp (kv[k], "uuid") == 0 && want[0] && strcmp (got, want) == 0
          && strlen (mds[i]) < sizeof v->adev) {
        snprintf (v->adev, sizeof v->adev, "%s", mds[i]);
        v->adev_ok = true;
      }
    }
    for (k = 0; kv && kv[k]; k++)
      free (kv[k]);
    free (kv);
  }
  for (i = 0; mds[i]; i++)
    free (mds[i]);
  free (mds);
  if (!v->adev_ok)
    return img_err (g->ctx, -ENODEV, "%s: appliance: the md array (UUID %s) was not assembled",
                    v->vol->name, v->md->uuid);
  return v->part ? md_part_device (g, vi) : 0;
}

int
img_internal_guest_open_fs (struct img_guest *g, long vi, const char *options,
                            int flags, struct img_fs **fs)
{
  const struct gvolume *v = &g->volumes[vi];
  int r;

  switch (img_internal_guest_reader (g, vi)) {
  case IMG_GUEST_READER_NATIVE:
    return img_fs_open (g->ctx, v->vol, flags, fs);
  case IMG_GUEST_READER_APPLIANCE:
    r = need_appliance (g);
    if (r == 0 && v->md && !v->adev_ok)
      r = md_device (g, vi);
    if (r < 0)
      return r;
    return img_internal_gfs_open (g->ctx, g->ap, v->vol->name, v->adev,
                                  v->info.type, options, flags, fs);
  default:
    return img_err (g->ctx, -ENOTSUP, "%s: %s filesystems are not read with --backend %s",
                    v->vol->name, v->info.type[0] ? v->info.type : "unknown",
                    img_ctx_fs_backend (g->ctx) == IMG_FS_BACKEND_NATIVE ? "native" : "auto");
  }
}

/* Btrfs: a root in one of the subvolumes.  1 and *OPTIONS set when
 * found, 0 when not. */
static int
btrfs_root (struct img_guest *g, long vi, struct img_fs *top, char **options)
{
  struct img_subvolume *subs = NULL;
  size_t n = 0, i;
  int r, found = 0;

  r = img_internal_gfs_btrfs_subvolumes (top, &subs, &n);
  if (r < 0)
    return r;
  for (i = 0; i < n && i < MAX_SUBVOL_TRIES && !found; i++) {
    char opt[64];
    struct img_fs *fs;

    snprintf (opt, sizeof opt, "subvolid=%" PRIu64, subs[i].id);
    if (img_internal_guest_open_fs (g, vi, opt, IMG_FS_RDONLY, &fs) < 0) {
      img_dbg (g->ctx, "%s", img_ctx_error (g->ctx));
      img_ctx_clear_error (g->ctx);
      continue;
    }
    if (img_internal_guest_looks_like_root (fs)) {
      size_t len = strlen (subs[i].path) + 8;
      *options = malloc (len);
      if (*options == NULL)
        r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
      else {
        snprintf (*options, len, "subvol=%s", subs[i].path);
        found = 1;
      }
    }
    img_fs_close (fs);
    if (r < 0)
      break;
  }
  img_subvolumes_free (subs, n);
  return r < 0 ? r : found;
}

int
img_internal_guest_try_root (struct img_guest *g, long vi, char **options)
{
  struct img_fs *fs;
  int r;

  *options = NULL;
  r = img_internal_guest_open_fs (g, vi, NULL, IMG_FS_RDONLY, &fs);
  if (r < 0)
    return r;
  if (img_internal_guest_looks_like_root (fs))
    r = 1;
  else if (strcmp (g->volumes[vi].info.type, "btrfs") == 0
           && img_internal_guest_reader (g, vi) == IMG_GUEST_READER_APPLIANCE)
    r = btrfs_root (g, vi, fs, options);
  else
    r = 0;
  img_fs_close (fs);
  return r;
}

int
img_guest_subvolumes (struct img_guest *g, size_t i, struct img_subvolume **subs,
                      size_t *n)
{
  struct img_fs *fs;
  int r;

  *subs = NULL;
  *n = 0;
  if (i >= g->n_volumes || strcmp (g->volumes[i].info.type, "btrfs") != 0
      || img_internal_guest_reader (g, (long) i) != IMG_GUEST_READER_APPLIANCE)
    return 0;
  r = img_internal_guest_open_fs (g, (long) i, NULL, IMG_FS_RDONLY, &fs);
  if (r < 0)
    return r;
  r = img_internal_gfs_btrfs_subvolumes (fs, subs, n);
  img_fs_close (fs);
  return r;
}

int
img_internal_guest_close_appliance (struct img_guest *g)
{
  int r = img_internal_appliance_close (g->ap, (g->flags & IMG_FS_RDWR) != 0);
  g->ap = NULL;
  return r;
}
