/* The guest's volumes, found bottom up: each image's partitions (or the
 * whole image), the md arrays across their members (an array's own
 * partitions when a table is written on it), then LVM across every PV
 * among them; each volume probed for its signature. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest-private.h"

/* VOL, found as WHAT (for -x: "IMAGE:p2", "VG/LV"), probed. */
static int
add_volume (struct img_guest *g, struct img_volume *vol, bool owned,
            const struct img_part *part, size_t image, const char *vg,
            const char *lv, const char *what)
{
  struct gvolume *v = img_internal_guest_append_volume (g, vol, owned);
  int r;

  if (v == NULL)
    return -ENOMEM;
  v->part = part;
  v->image = image;
  v->vg = vg;
  v->lv = lv;
  r = img_probe (g->ctx, vol, &v->info);
  if (r == 0)
    img_progress_step (g->ctx, IMG_PROGRESS_TRACE, "volume %s: %s%s%s", what,
                       v->info.type[0] ? v->info.type : "no signature",
                       v->info.uuid[0] ? ", UUID " : "", v->info.uuid);
  return r;
}

/* The volumes found so far whose signature is TYPE (*vols malloc'd). */
static int
volumes_of_type (struct img_guest *g, const char *type,
                 struct img_volume ***vols, size_t *n)
{
  size_t i;

  *n = 0;
  *vols = calloc (g->n_volumes + 1, sizeof **vols);
  if (*vols == NULL)
    return img_err (g->ctx, -ENOMEM, "guest: out of memory");
  for (i = 0; i < g->n_volumes; i++)
    if (strcmp (g->volumes[i].info.type, type) == 0)
      (*vols)[(*n)++] = g->volumes[i].vol;
  return 0;
}

static int
add_md_parts (struct img_guest *g, const struct img_md_array *a)
{
  size_t j;
  int r;

  for (j = 0; j < a->pt->n_parts; j++) {
    char name[80];
    if (a->part_vols[j] == NULL)
      continue;
    snprintf (name, sizeof name, "%sp%u", a->devname, a->pt->parts[j].number);
    r = add_volume (g, a->part_vols[j], false, &a->pt->parts[j], SIZE_MAX,
                    NULL, NULL, name);
    if (r < 0)
      return r;
    g->volumes[g->n_volumes - 1].md = a;
  }
  return 0;
}

static int
scan_md (struct img_guest *g)
{
  struct img_volume **members;
  size_t i, n;
  int r;

  r = volumes_of_type (g, "linux_raid_member", &members, &n);
  if (r < 0)
    return r;
  r = img_md_scan (g->ctx, members, n, &g->md);
  free (members);
  if (r < 0)
    return r;
  for (i = 0; i < img_md_n_arrays (g->md); i++) {
    const struct img_md_array *a = img_md_array (g->md, i);
    img_progress_step (g->ctx, IMG_PROGRESS_TRACE, "md: %s, metadata %s, %zu members%s",
                       a->devname, a->metadata, a->n_members, a->vol ? "" : ", not read");
    if (a->vol == NULL)
      continue;
    /* A partitioned array: its partitions are the volumes, as a disk's. */
    if (a->pt != NULL) {
      r = add_md_parts (g, a);
      if (r < 0)
        return r;
      continue;
    }
    r = add_volume (g, a->vol, false, NULL, 0, NULL, NULL, a->devname);
    if (r < 0)
      return r;
    g->volumes[g->n_volumes - 1].md = a;
  }
  return 0;
}

int
img_internal_guest_scan_disks (struct img_guest *g, const char *const *images,
                               size_t n)
{
  struct img_volume **pvs = NULL;
  size_t i, j, n_pvs;
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
    img_progress_step (g->ctx, IMG_PROGRESS_TRACE, "image %s: %s, %llu bytes", images[i],
                       img_disk_format (g->disks[i]),
                       (unsigned long long) img_disk_size (g->disks[i]));
    r = img_ptable_read (g->ctx, g->disks[i], &g->pts[i]);
    if (r < 0)
      return r;
    img_progress_step (g->ctx, IMG_PROGRESS_TRACE, "image %s: partition table %s, %zu entries",
                       images[i], img_ptable_type_name (g->pts[i]->type), g->pts[i]->n_parts);
    if (g->pts[i]->type == IMG_PTABLE_NONE) {
      r = img_volume_new_linear (g->ctx, images[i], g->disks[i], 0,
                                 img_disk_size (g->disks[i]), &vol);
      if (r < 0 || (r = add_volume (g, vol, true, NULL, i, NULL, NULL, images[i])) < 0)
        return r;
      continue;
    }
    for (j = 0; j < g->pts[i]->n_parts; j++) {
      const struct img_part *p = &g->pts[i]->parts[j];
      if (p->kind == IMG_PART_EXTENDED)
        continue;
      snprintf (name, sizeof name, "%s:p%u", images[i], p->number);
      r = img_volume_new_linear (g->ctx, name, g->disks[i], p->start, p->size, &vol);
      if (r < 0 || (r = add_volume (g, vol, true, p, i, NULL, NULL, name)) < 0)
        return r;
    }
  }

  /* md RAID across every member we found; its arrays are volumes too. */
  r = scan_md (g);
  if (r < 0)
    return r;

  /* LVM across every PV we found (md arrays included). */
  r = volumes_of_type (g, "LVM2_member", &pvs, &n_pvs);
  if (r < 0)
    return r;
  r = img_lvm_scan (g->ctx, pvs, n_pvs, &g->lvm);
  free (pvs);
  if (r < 0)
    return r;
  for (i = 0; i < img_lvm_n_vgs (g->lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (g->lvm, i);
    img_progress_step (g->ctx, IMG_PROGRESS_TRACE, "LVM: volume group %s, %zu logical volumes",
                       vg->name, vg->n_lvs);
    for (j = 0; j < vg->n_lvs; j++) {
      const struct img_lvm_lv *lv = &vg->lvs[j];
      char lvname[512];
      if (lv->vol == NULL)
        continue;
      snprintf (lvname, sizeof lvname, "%s/%s", vg->name, lv->name);
      r = add_volume (g, lv->vol, false, NULL, 0, vg->name, lv->name, lvname);
      if (r < 0)
        return r;
    }
  }
  return 0;
}
