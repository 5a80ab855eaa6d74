/* Encrypted volumes (LUKS 1 and 2): opened in the appliance with the
 * keys the admin gave (img_ctx_add_key), never on the host.  What they
 * hold (a filesystem, or LVM whose LVs then appear) becomes volumes of
 * the guest that only the appliance reads.  Once the root is known, its
 * /etc/crypttab names the mappings, so that fstab's /dev/mapper/NAME
 * lines resolve as the guest's own boot resolves them. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/appliance.h"
#include "cleanup.h"
#include "guest/guest-private.h"

#define CRYPTTAB_MAX (256 << 10)

/* A volume only the appliance reads, named NAME, at appliance device
 * ADEV, with its signature from the appliance. */
static int
add_inner (struct img_guest *g, const char *name, const char *adev,
           size_t parent, const char *vg, const char *lv)
{
  const struct img_gfs_api *api = img_internal_appliance_api (g->ap);
  guestfs_h *h = img_internal_appliance_handle (g->ap);
  struct img_volume *vol;
  struct gvolume *v;
  char *type, *uuid, *label;
  int r;

  r = img_volume_new (g->ctx, name, &vol);
  if (r < 0)
    return r;
  v = img_internal_guest_append_volume (g, vol, true);
  if (v == NULL)
    return -ENOMEM;
  v->image = g->volumes[parent].image;
  v->inner = true;
  v->parent = (long) parent;
  snprintf (v->adev, sizeof v->adev, "%s", adev);
  v->adev_ok = true;
  if (vg && lv) {
    v->own_vg = strdup (vg);
    v->own_lv = strdup (lv);
    if (v->own_vg == NULL || v->own_lv == NULL)
      return img_err (g->ctx, -ENOMEM, "guest: out of memory");
    v->vg = v->own_vg;
    v->lv = v->own_lv;
  }
  vol->size = (uint64_t) (api->blockdev_getsize64 (h, adev) > 0
                          ? api->blockdev_getsize64 (h, adev) : 0);
  /* vfs_type and friends fail on what has no signature: that is "none". */
  type = api->vfs_type (h, adev);
  uuid = type ? api->vfs_uuid (h, adev) : NULL;
  label = type ? api->vfs_label (h, adev) : NULL;
  snprintf (v->info.type, sizeof v->info.type, "%s", type ? type : "");
  snprintf (v->info.uuid, sizeof v->info.uuid, "%s", uuid ? uuid : "");
  snprintf (v->info.label, sizeof v->info.label, "%s", label ? label : "");
  free (type);
  free (uuid);
  free (label);
  return 0;
}

/* The LVs of what was just opened (vgs on it activated by lvm_scan),
 * those not already known from the plain disks. */
static int
add_inner_lvs (struct img_guest *g, size_t parent)
{
  const struct img_gfs_api *api = img_internal_appliance_api (g->ap);
  guestfs_h *h = img_internal_appliance_handle (g->ap);
  char **lvs;
  size_t i, j;
  int r = 0;

  if (api->lvm_scan (h, 1) == -1)
    return img_internal_appliance_fail (g->ap, "LVM on LUKS");
  lvs = api->lvs (h);
  if (lvs == NULL)
    return img_internal_appliance_fail (g->ap, "LVM on LUKS");
  for (i = 0; lvs[i] && r == 0; i++) {
    /* "/dev/VG/LV" */
    char vg[256], lv[256], name[520];
    const char *p = lvs[i] + 5, *slash;
    bool known = false;

    if (strncmp (lvs[i], "/dev/", 5) != 0 || (slash = strchr (p, '/')) == NULL
        || (size_t) (slash - p) >= sizeof vg || strlen (slash + 1) >= sizeof lv)
      continue;
    snprintf (vg, sizeof vg, "%.*s", (int) (slash - p), p);
    snprintf (lv, sizeof lv, "%s", slash + 1);
    for (j = 0; j < g->n_volumes; j++)
      if (g->volumes[j].lv && strcmp (g->volumes[j].vg, vg) == 0
          && strcmp (g->volumes[j].lv, lv) == 0)
        known = true;
    if (known)
      continue;
    snprintf (name, sizeof name, "%s/%s", vg, lv);
    r = add_inner (g, name, lvs[i], parent, vg, lv);
  }
  for (i = 0; lvs[i]; i++)
    free (lvs[i]);
  free (lvs);
  return r;
}

/* A UUID as a mapping name: hex digits and dashes only. */
static bool
uuid_ok (const char *u)
{
  if (*u == '\0' || strlen (u) > 64)
    return false;
  for (; *u; u++)
    if (!isxdigit ((unsigned char) *u) && *u != '-')
      return false;
  return true;
}

static int
open_one (struct img_guest *g, size_t i, const char *key)
{
  const struct gvolume *v = &g->volumes[i];
  struct guestfs_cryptsetup_open_argv o = {
    .bitmask = GUESTFS_CRYPTSETUP_OPEN_READONLY_BITMASK,
    .readonly = (g->flags & IMG_FS_RDWR) == 0,
  };
  char map[80], adev[100], name[600];
  int r;

  if (!uuid_ok (v->info.uuid))
    return img_err (g->ctx, -EINVAL, "%s: LUKS: unusable UUID", v->vol->name);
  r = img_internal_guest_need_appliance (g, "LUKS");
  if (r < 0)
    return r;
  snprintf (map, sizeof map, "luks-%s", v->info.uuid);
  if (img_internal_appliance_api (g->ap)->cryptsetup_open_argv
      (img_internal_appliance_handle (g->ap), v->adev, key, map, &o) == -1) {
    char what[400];
    snprintf (what, sizeof what, "%s: LUKS: cannot open with the key given", v->vol->name);
    return img_internal_appliance_fail (g->ap, what);
  }
  snprintf (adev, sizeof adev, "/dev/mapper/%s", map);
  snprintf (name, sizeof name, "%s", map);
  r = add_inner (g, name, adev, i, NULL, NULL);
  if (r < 0)
    return r;
  if (strcmp (g->volumes[g->n_volumes - 1].info.type, "LVM2_member") == 0)
    r = add_inner_lvs (g, g->n_volumes - 1);
  return r;
}

int
img_internal_guest_open_luks (struct img_guest *g)
{
  size_t i, n = g->n_volumes;
  int r;

  for (i = 0; i < n; i++) {
    const struct gvolume *v = &g->volumes[i];
    const char *names[2] = { v->info.uuid, v->adev };
    const char *key;

    if (strcmp (v->info.type, "crypto_LUKS") != 0)
      continue;
    key = img_internal_ctx_key (g->ctx, names, 2);
    if (key == NULL || img_ctx_fs_backend (g->ctx) == IMG_FS_BACKEND_NATIVE) {
      if (g->locked < 0)
        g->locked = (long) i;
      continue;
    }
    r = open_one (g, i, key);
    if (r < 0)
      return r;
  }
  return 0;
}

char *
img_internal_guest_locked_why (struct img_guest *g, const char *image)
{
  const struct gvolume *v = &g->volumes[g->locked];
  char *why = NULL;
  int r;

  if (img_ctx_fs_backend (g->ctx) == IMG_FS_BACKEND_NATIVE)
    r = asprintf (&why, "%s: %s is encrypted (LUKS, UUID %s) and may hold the root: "
                  "LUKS is opened with --backend auto or guestfs, and --key",
                  image, v->vol->name, v->info.uuid);
  else
    r = asprintf (&why, "%s: %s is encrypted (LUKS, UUID %s) and may hold the root: "
                  "give its key with --key %s:key:PASSPHRASE or --key %s:file:KEYFILE",
                  image, v->vol->name, v->info.uuid, v->info.uuid, v->info.uuid);
  return r < 0 ? NULL : why;
}

/* The crypttab of the root: NAME SOURCE [KEY [OPTIONS]] lines.  Each
 * NAME whose SOURCE is one of the opened volumes names its contents. */
void
img_internal_guest_crypttab (struct img_guest *g)
{
  CLEANUP_FREE char *text = NULL;
  size_t len = 0;
  char *line, *save = NULL;
  size_t i;

  for (i = 0; i < g->n_volumes; i++)
    if (g->volumes[i].inner && g->volumes[i].lv == NULL)
      break;
  if (i == g->n_volumes)
    return;                     /* nothing opened: nothing to name */
  if (img_guest_read_file (g, "/etc/crypttab", CRYPTTAB_MAX, (void **) &text, &len) < 0) {
    img_ctx_clear_error (g->ctx);
    return;
  }
  for (line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
    char name[128], source[512];
    long src;

    if (sscanf (line, " %127s %511s", name, source) != 2 || name[0] == '#')
      continue;
    src = img_internal_guest_resolve_spec (g, source);
    if (src < 0)
      continue;
    for (i = 0; i < g->n_volumes; i++) {
      struct gvolume *v = &g->volumes[i];
      if (v->inner && v->parent == src && v->lv == NULL && v->crypt_name == NULL)
        v->crypt_name = strdup (name);
    }
  }
}
