/* One libguestfs appliance a run, over private overlays (appliance.h). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/appliance.h"
#include "base/hostdir.h"
#include "disk/disk-private.h"

struct img_appliance {
  struct img_ctx *ctx;
  const struct img_gfs_api *api;
  guestfs_h *g;
  size_t n_disks;
  struct img_disk **disks;
  struct img_hostdir *dir;      /* the overlays */
  bool writable;
  bool tried, started;
  int start_err;
  char *start_msg;              /* the first start's error, repeated */
  bool written;                 /* a mount was made writable */
  unsigned next_mp;
};

static const char *
name_of (const struct img_appliance *ap)
{
  return img_disk_name (ap->disks[0]);
}

int
img_internal_appliance_new (struct img_ctx *ctx, struct img_disk *const *disks,
                            size_t n, bool writable, struct img_appliance **app)
{
  struct img_appliance *ap;

  if (n == 0 || n > 26 * 27)
    return img_err (ctx, -EINVAL, "appliance: %zu disks", n);
  ap = calloc (1, sizeof *ap);
  if (ap == NULL || (ap->disks = calloc (n, sizeof *ap->disks)) == NULL) {
    free (ap);
    return img_err (ctx, -ENOMEM, "appliance: out of memory");
  }
  ap->ctx = ctx;
  ap->n_disks = n;
  memcpy (ap->disks, disks, n * sizeof *disks);
  ap->writable = writable;
  *app = ap;
  return 0;
}

bool
img_internal_appliance_started (const struct img_appliance *ap)
{
  return ap && ap->started;
}

const struct img_gfs_api *
img_internal_appliance_api (const struct img_appliance *ap)
{
  return ap->api;
}

guestfs_h *
img_internal_appliance_handle (const struct img_appliance *ap)
{
  return ap->g;
}

int
img_internal_appliance_fail (struct img_appliance *ap, const char *what)
{
  const char *msg = ap->g ? ap->api->last_error (ap->g) : NULL;
  int e = ap->g ? ap->api->last_errno (ap->g) : 0;
  char line[512], *nl;

  snprintf (line, sizeof line, "%s", msg ? msg : "failed");
  /* libguestfs's messages may span lines (a tool's stderr): keep the
   * first, the error stays one line. */
  if ((nl = strchr (line, '\n')) != NULL)
    *nl = '\0';
  return img_err (ap->ctx, e > 0 ? -e : -EIO, "%s: appliance: %s: %s",
                  name_of (ap), what, line);
}

void
img_internal_appliance_device (size_t index, unsigned part, char *out,
                               size_t outlen)
{
  char letters[4];
  size_t n = 0, i = index + 1;
  char rev[4];

  /* sda..sdz, sdaa..sdzz: bijective base 26, as the kernel names them. */
  while (i > 0 && n < sizeof rev) {
    rev[n++] = 'a' + (char) ((i - 1) % 26);
    i = (i - 1) / 26;
  }
  for (i = 0; i < n; i++)
    letters[i] = rev[n - 1 - i];
  letters[n] = '\0';
  if (part)
    snprintf (out, outlen, "/dev/sd%s%u", letters, part);
  else
    snprintf (out, outlen, "/dev/sd%s", letters);
}

/* Each disk as a private overlay, in the order given. */
static int
add_disks (struct img_appliance *ap)
{
  size_t i;
  int r;

  r = img_hostdir_new (ap->ctx, "img-tools-appliance", &ap->dir);
  if (r < 0)
    return r;
  for (i = 0; i < ap->n_disks; i++) {
    struct guestfs_add_drive_opts_argv o = {
      .bitmask = GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK
               | GUESTFS_ADD_DRIVE_OPTS_CACHEMODE_BITMASK,
      .format = "qcow2",
      .cachemode = "unsafe",    /* the overlay is ours and throwaway */
    };
    char path[4096];

    snprintf (path, sizeof path, "%s/disk%zu.qcow2", img_hostdir_path (ap->dir), i);
    r = img_internal_disk_overlay_create (ap->disks[i], path);
    if (r < 0)
      return r;
    if (ap->api->add_drive_opts_argv (ap->g, path, &o) == -1)
      return img_internal_appliance_fail (ap, "adding the disk");
  }
  return 0;
}

static int
start (struct img_appliance *ap, const char *why)
{
  int r;

  ap->api = img_internal_gfs_api (ap->ctx, name_of (ap));
  if (ap->api == NULL)
    return -ENOSYS;
  ap->g = ap->api->create_flags (0);
  if (ap->g == NULL)
    return img_err (ap->ctx, -ENOMEM, "%s: appliance: cannot create a libguestfs handle",
                    name_of (ap));
  /* Errors are ours to report, in one line; never printed by libguestfs. */
  ap->api->set_error_handler (ap->g, NULL, NULL);
  ap->api->set_program (ap->g, "img-tools");
  if (ap->api->set_network (ap->g, 0) == -1)
    return img_internal_appliance_fail (ap, "turning the network off");
  r = add_disks (ap);
  if (r < 0)
    return r;
  img_info (ap->ctx, "%s: starting the libguestfs appliance (%s)", name_of (ap), why);
  if (ap->api->launch (ap->g) == -1)
    return img_internal_appliance_fail (ap, "launch");
  if (ap->api->umask (ap->g, 0) == -1)
    return img_internal_appliance_fail (ap, "umask");
  return 0;
}

int
img_internal_appliance_start (struct img_appliance *ap, const char *why)
{
  if (ap->tried) {
    if (ap->started)
      return 0;
    return img_err (ap->ctx, ap->start_err, "%s", ap->start_msg ? ap->start_msg : "appliance: failed");
  }
  ap->tried = true;
  ap->start_err = start (ap, why);
  if (ap->start_err == 0) {
    ap->started = true;
    return 0;
  }
  ap->start_msg = strdup (img_ctx_error (ap->ctx));
  return ap->start_err;
}

int
img_internal_appliance_mount (struct img_appliance *ap, const char *device,
                              const char *options, char **mpp)
{
  char mp[32], opts[600];
  int r;

  r = img_internal_appliance_start (ap, device);
  if (r < 0)
    return r;
  snprintf (mp, sizeof mp, "/img%u", ap->next_mp++);
  if (options && (strlen (options) > 500 || strchr (options, '\n')))
    return img_err (ap->ctx, -EINVAL, "%s: appliance: unusable mount options", name_of (ap));
  snprintf (opts, sizeof opts, "ro%s%s", options && *options ? "," : "",
            options ? options : "");
  if (ap->api->mkmountpoint (ap->g, mp) == -1)
    return img_internal_appliance_fail (ap, "mkmountpoint");
  if (ap->api->mount_options (ap->g, opts, device, mp) == -1) {
    char what[300];
    snprintf (what, sizeof what, "mounting %.200s", device);
    return img_internal_appliance_fail (ap, what);
  }
  *mpp = strdup (mp);
  if (*mpp == NULL)
    return img_err (ap->ctx, -ENOMEM, "appliance: out of memory");
  return 0;
}

int
img_internal_appliance_make_writable (struct img_appliance *ap,
                                      const char *device, const char *options,
                                      const char *mp)
{
  char opts[600];

  if (!ap->writable)
    return img_err (ap->ctx, -EROFS, "%s: appliance: opened read-only", name_of (ap));
  snprintf (opts, sizeof opts, "remount,rw%s%s", options && *options ? "," : "",
            options ? options : "");
  if (ap->api->mount_options (ap->g, opts, device, mp) == -1) {
    char what[300];
    snprintf (what, sizeof what, "remounting %.200s read-write", device);
    return img_internal_appliance_fail (ap, what);
  }
  ap->written = true;
  return 0;
}

/* The LVs deactivated and the md arrays stopped, so that what was written
 * to a mirror leaves its superblocks clean, as a guest's shutdown would:
 * an array left active would be resynced at the guest's next boot. */
static int
stop_arrays (struct img_appliance *ap)
{
  char **mds;
  size_t i;
  int r = 0;

  if (ap->api->vg_activate_all (ap->g, 0) == -1)
    return img_internal_appliance_fail (ap, "deactivating the volume groups");
  mds = ap->api->list_md_devices (ap->g);
  if (mds == NULL)
    return img_internal_appliance_fail (ap, "listing md arrays");
  for (i = 0; mds[i]; i++) {
    if (r == 0 && ap->api->md_stop (ap->g, mds[i]) == -1)
      r = img_internal_appliance_fail (ap, "stopping an md array");
    free (mds[i]);
  }
  free (mds);
  return r;
}

static int
apply (struct img_appliance *ap)
{
  size_t i;
  int r;

  for (i = 0; i < ap->n_disks; i++) {
    char path[4096];
    uint64_t changed = 0;

    snprintf (path, sizeof path, "%s/disk%zu.qcow2", img_hostdir_path (ap->dir), i);
    r = img_internal_disk_overlay_apply (ap->disks[i], path, false, &changed);
    if (r < 0)
      return r;
    img_dbg (ap->ctx, "%s: appliance: %" PRIu64 " bytes changed",
             img_disk_name (ap->disks[i]), changed);
  }
  return 0;
}

int
img_internal_appliance_close (struct img_appliance *ap, bool commit)
{
  int r = 0;

  if (ap == NULL)
    return 0;
  if (ap->g) {
    if (ap->started) {
      if (ap->api->umount_all (ap->g) == -1)
        r = img_internal_appliance_fail (ap, "unmounting");
      else if (ap->written)
        r = stop_arrays (ap);
      if (r == 0 && ap->api->shutdown (ap->g) == -1)
        r = img_internal_appliance_fail (ap, "shutdown");
    }
    ap->api->close (ap->g);
    ap->g = NULL;
  }
  if (r == 0 && commit && ap->writable && ap->written)
    r = apply (ap);
  img_hostdir_free (ap->dir);
  free (ap->start_msg);
  free (ap->disks);
  free (ap);
  return r;
}
