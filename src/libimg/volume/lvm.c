/* LVM2 read in user space: PV labels, metadata areas and the metadata
 * text on each volume (lvm-label.c), assembled into volume groups whose
 * linear and striped LVs become volumes (lvm-vg.c).  Nothing is
 * activated; the guest's VG names never meet the host's LVM.  Every
 * field comes off a guest disk and is checked before use. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "volume/lvm-private.h"

/* ---- the scan --------------------------------------------------------- */

/* Picks the newest metadata of each VG, warning when PVs disagree, and
 * builds the VGs in the order they were first seen. */
static int
assemble (struct scan *sc, struct img_lvm *lvm)
{
  size_t i, k;
  int r;

  for (i = 0; i < sc->n_metas; i++) {
    const struct meta *best = NULL;
    const struct meta *older = NULL;
    struct img_lvm_vg *vgs;

    if (sc->metas[i].used)
      continue;
    for (k = i; k < sc->n_metas && best == NULL; k++)
      if (sc->metas[k].conf != NULL
          && strcmp (sc->metas[k].vg_uuid, sc->metas[i].vg_uuid) == 0)
        best = &sc->metas[k];
    if (best == NULL)           /* cannot happen: one copy keeps its tree */
      return img_err (sc->ctx, -EINVAL, "%s: lvm: lost the metadata of a VG",
                      sc->metas[i].src);
    for (k = i; k < sc->n_metas; k++) {
      struct meta *m = &sc->metas[k];
      if (m->used || strcmp (m->vg_uuid, best->vg_uuid) != 0)
        continue;
      m->used = true;
      if (m->seqno != best->seqno && older == NULL)
        older = m;
    }
    if (older != NULL)
      img_warn (sc->ctx,
                "%s: lvm: VG %s has metadata seqno %" PRIu64 " here but %" PRIu64 " on %s; using the newer",
                best->src, best->vg->key, best->seqno, older->seqno,
                older->src);
    vgs = realloc (lvm->vgs, (lvm->n_vgs + 1) * sizeof *vgs);
    if (vgs == NULL)
      return img_err (sc->ctx, -ENOMEM, "%s: lvm: out of memory", best->src);
    lvm->vgs = vgs;
    r = img_internal_lvm_build_vg (sc, best, &vgs[lvm->n_vgs]);
    if (r < 0)
      return r;
    lvm->n_vgs++;
  }
  return 0;
}

int
img_lvm_scan (struct img_ctx *ctx, struct img_volume *const *vols,
              size_t n_vols, struct img_lvm **lvmp)
{
  struct scan sc = { .ctx = ctx };
  struct img_lvm *lvm;
  size_t i;
  int r = 0;

  lvm = calloc (1, sizeof *lvm);
  if (lvm == NULL)
    return img_err (ctx, -ENOMEM, "lvm: out of memory");
  for (i = 0; i < n_vols && r == 0; i++)
    r = img_internal_lvm_scan_volume (&sc, vols[i]);
  if (r == 0)
    r = assemble (&sc, lvm);
  for (i = 0; i < sc.n_metas; i++)
    img_lvmconf_free (sc.metas[i].conf);
  free (sc.metas);
  free (sc.found);
  if (r < 0) {
    img_lvm_free (lvm);
    return r;
  }
  *lvmp = lvm;
  return 0;
}

void
img_lvm_free (struct img_lvm *lvm)
{
  size_t i;

  if (lvm == NULL)
    return;
  for (i = 0; i < lvm->n_vgs; i++)
    img_internal_lvm_free_vg (&lvm->vgs[i]);
  free (lvm->vgs);
  free (lvm);
}

size_t
img_lvm_n_vgs (const struct img_lvm *lvm)
{
  return lvm ? lvm->n_vgs : 0;
}

const struct img_lvm_vg *
img_lvm_vg (const struct img_lvm *lvm, size_t i)
{
  return lvm && i < lvm->n_vgs ? &lvm->vgs[i] : NULL;
}
