/* LVM2 metadata text -> a volume group: its PVs, and its linear and
 * striped LVs as volumes over them; every other segment type, and LVs
 * on LVs, become a clear error on that LV. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume/lvm-private.h"

/* Name → index, sorted, for lookups that stay fast on hostile counts. */
struct name_idx {
  const char *name;
  size_t idx;
};

static int
cmp_name_idx (const void *a, const void *b)
{
  return strcmp (((const struct name_idx *) a)->name,
                 ((const struct name_idx *) b)->name);
}

static const struct name_idx *
name_lookup (const struct name_idx *tab, size_t n, const char *name)
{
  struct name_idx key = { .name = name };

  if (n == 0)
    return NULL;
  return bsearch (&key, tab, n, sizeof *tab, cmp_name_idx);
}

/* ---- metadata text → VG ----------------------------------------------- */

/* What an LV needs while the VG is assembled. */
struct lv_work {
  const char *unsupported;      /* first segment type we cannot map */
  const char *cow_of;           /* a snapshot's COW store: its snapshot */
  const char *layered_on;       /* an LV a stripe sits on (pvmove) */
};

/* A stripe that sits on another LV, not on a PV. */
#define STRIPE_ON_LV SIZE_MAX

/* Messages about metadata content name the source volume and VG[/LV]. */
#define VGERR(err, fmt, ...) \
  img_err (ctx, (err), "%s: lvm: %s: " fmt, src, vg->name, ##__VA_ARGS__)
#define LVERR(err, fmt, ...) \
  img_err (ctx, (err), "%s: lvm: %s/%s: " fmt, src, vg->name, lv->name, \
           ##__VA_ARGS__)

static int
build_pvs (struct img_ctx *ctx, const char *src, struct img_lvm_vg *vg,
           const struct img_lvmconf_node *vgsec, const struct scan *sc,
           struct name_idx **pv_idx)
{
  const struct img_lvmconf_node *pvsec, *n;
  struct name_idx *idx;
  size_t i, k;
  int r;

  r = img_lvmconf_section (vgsec, "physical_volumes", &pvsec);
  if (r < 0)
    return VGERR (-EINVAL, "no physical_volumes section");
  if (pvsec->n_children == 0)
    return VGERR (-EINVAL, "no physical volumes");
  vg->pvs = calloc (pvsec->n_children, sizeof *vg->pvs);
  idx = calloc (pvsec->n_children, sizeof *idx);
  *pv_idx = idx;
  if (vg->pvs == NULL || idx == NULL)
    return VGERR (-ENOMEM, "out of memory");

  for (n = pvsec->child, i = 0; n; n = n->next, i++) {
    struct img_lvm_pv *pv = &vg->pvs[i];
    uint64_t pe_start, dev_size = 0, bytes, end;
    const char *id;

    vg->n_pvs++;
    if (n->type != IMG_LVMCONF_SECTION)
      return VGERR (-EINVAL, "physical_volumes holds '%s', not a PV section (line %u)",
                    n->key, n->line);
    if (strlen (n->key) >= sizeof pv->name)
      return VGERR (-EINVAL, "PV name '%.40s...' is too long", n->key);
    snprintf (pv->name, sizeof pv->name, "%s", n->key);
    if (img_lvmconf_string (n, "id", &id) < 0 || !img_internal_lvm_uuid_text_ok (id))
      return VGERR (-EINVAL, "%s: missing or malformed PV id", pv->name);
    snprintf (pv->uuid, sizeof pv->uuid, "%s", id);
    if (img_lvmconf_u64 (n, "pe_start", &pe_start) < 0
        || img_lvmconf_u64 (n, "pe_count", &pv->pe_count) < 0)
      return VGERR (-EINVAL, "%s: missing or malformed pe_start or pe_count",
                    pv->name);
    r = img_lvmconf_u64 (n, "dev_size", &dev_size);
    if (r < 0 && r != -ENOENT)
      return VGERR (-EINVAL, "%s: malformed dev_size", pv->name);
    if (mul_overflow_u64 (pe_start, IMG_SECTOR_SIZE, &pv->pe_start)
        || mul_overflow_u64 (dev_size, IMG_SECTOR_SIZE, &pv->dev_size)
        || mul_overflow_u64 (pv->pe_count, vg->extent_size, &bytes)
        || add_overflow_u64 (pv->pe_start, bytes, &end))
      return VGERR (-EOVERFLOW,
                    "%s: pe_start %" PRIu64 " + %" PRIu64 " extents overflows",
                    pv->name, pe_start, pv->pe_count);
    for (k = 0; k < sc->n_found; k++)
      if (strcmp (sc->found[k].uuid, pv->uuid) == 0) {
        pv->dev = sc->found[k].vol;
        /* lvm2 goes by the metadata's pe_start too; only worth a note. */
        if (sc->found[k].da_start != pv->pe_start)
          img_dbg (ctx, "%s: lvm: %s: pe_start %" PRIu64 " in the metadata, %" PRIu64 " in the PV label",
                   vg->name, pv->name, pv->pe_start, sc->found[k].da_start);
      }
    if (pv->dev == NULL) {
      vg->partial = true;
      img_dbg (ctx, "%s: lvm: PV %s (UUID %s) is missing", vg->name, pv->name,
               pv->uuid);
    }
  }
  /* Two entries with one UUID would map two PVs onto one device. */
  for (i = 0; i < vg->n_pvs; i++) {
    idx[i].name = vg->pvs[i].uuid;
    idx[i].idx = i;
  }
  qsort (idx, vg->n_pvs, sizeof *idx, cmp_name_idx);
  for (i = 1; i < vg->n_pvs; i++)
    if (strcmp (idx[i - 1].name, idx[i].name) == 0)
      return VGERR (-EINVAL, "PVs %s and %s have the same UUID %s",
                    vg->pvs[idx[i - 1].idx].name, vg->pvs[idx[i].idx].name,
                    idx[i].name);
  for (i = 0; i < vg->n_pvs; i++) {
    idx[i].name = vg->pvs[i].name;
    idx[i].idx = i;
  }
  /* Names are unique: the parser refuses duplicate keys. */
  qsort (idx, vg->n_pvs, sizeof *idx, cmp_name_idx);
  return 0;
}

/* stripes = [ "pv0", first_pe, "pv1", first_pe, ... ] */
static int
parse_stripes (struct img_ctx *ctx, const char *src, struct img_lvm_vg *vg,
               struct img_lvm_lv *lv, struct lv_work *w, size_t segno,
               const struct img_lvmconf_node *segsec, struct img_lvm_seg *seg,
               const struct name_idx *pv_idx,
               const struct img_lvmconf_node *lvs)
{
  const struct img_lvmconf_node *list, *it;
  uint64_t stripe_count, per_stripe, stripe_size = 0, chunk, per_bytes;
  size_t i;

  if (img_lvmconf_u64 (segsec, "stripe_count", &stripe_count) < 0)
    return LVERR (-EINVAL, "segment%zu: missing or malformed stripe_count",
                  segno);
  if (stripe_count == 0 || stripe_count > MAX_STRIPES)
    return LVERR (-EINVAL, "segment%zu: stripe_count %" PRIu64 " is out of range (1-%d)",
                  segno, stripe_count, MAX_STRIPES);
  if (seg->extent_count % stripe_count != 0)
    return LVERR (-EINVAL,
                  "segment%zu: %" PRIu64 " extents do not divide into %" PRIu64 " stripes",
                  segno, seg->extent_count, stripe_count);
  per_stripe = seg->extent_count / stripe_count;
  if (stripe_count > 1) {
    if (img_lvmconf_u64 (segsec, "stripe_size", &stripe_size) < 0
        || stripe_size == 0)
      return LVERR (-EINVAL, "segment%zu: missing or malformed stripe_size",
                    segno);
    /* extent_count * extent_size did not overflow, so neither do these. */
    per_bytes = per_stripe * vg->extent_size;
    if (mul_overflow_u64 (stripe_size, IMG_SECTOR_SIZE, &chunk)
        || per_bytes % chunk != 0)
      return LVERR (-EINVAL,
                    "segment%zu: stripe_size of %" PRIu64 " sectors does not divide the %" PRIu64 " bytes of each stripe",
                    segno, stripe_size, per_bytes);
    seg->stripe_size = chunk;
  }
  if (img_lvmconf_list (segsec, "stripes", &list) < 0)
    return LVERR (-EINVAL, "segment%zu: missing or malformed stripes list",
                  segno);
  if (list->n_children != 2 * stripe_count)
    return LVERR (-EINVAL,
                  "segment%zu: stripes list has %zu items for %" PRIu64 " stripes",
                  segno, list->n_children, stripe_count);
  seg->stripes = calloc (stripe_count, sizeof *seg->stripes);
  if (seg->stripes == NULL)
    return LVERR (-ENOMEM, "out of memory");
  seg->n_stripes = stripe_count;
  snprintf (seg->type, sizeof seg->type, "%s",
            stripe_count == 1 ? "linear" : "striped");

  for (it = list->child, i = 0; i < stripe_count; i++, it = it->next->next) {
    const struct name_idx *ni;
    const struct img_lvm_pv *pv;
    uint64_t end;

    if (it->type != IMG_LVMCONF_STRING || it->next->type != IMG_LVMCONF_INT
        || it->next->i < 0)
      return LVERR (-EINVAL,
                    "segment%zu: stripe %zu is not a PV name and an extent number",
                    segno, i);
    seg->stripes[i].first_pe = (uint64_t) it->next->i;
    ni = name_lookup (pv_idx, vg->n_pvs, it->s);
    if (ni == NULL) {
      const struct img_lvmconf_node *under = img_lvmconf_find (lvs, it->s);

      /* An unfinished pvmove leaves LVs layered on its pvmoveN LV. */
      if (under == NULL || under->type != IMG_LVMCONF_SECTION
          || strcmp (under->key, lv->name) == 0)
        return LVERR (-EINVAL, "segment%zu: stripe %zu is on unknown PV '%.64s'",
                      segno, i, it->s);
      seg->stripes[i].pv = STRIPE_ON_LV;
      if (w->layered_on == NULL)
        w->layered_on = under->key;
      continue;
    }
    pv = &vg->pvs[ni->idx];
    seg->stripes[i].pv = ni->idx;
    if (add_overflow_u64 (seg->stripes[i].first_pe, per_stripe, &end)
        || end > pv->pe_count)
      return LVERR (-ERANGE,
                    "segment%zu: stripe %zu (extents %" PRIu64 "+%" PRIu64 ") is past the %" PRIu64 " extents of %s",
                    segno, i, seg->stripes[i].first_pe, per_stripe,
                    pv->pe_count, pv->name);
  }
  return 0;
}

static bool
type_name_ok (const char *s)
{
  size_t i;

  for (i = 0; s[i]; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
          || s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.'))
      return false;
  return i > 0 && i < sizeof ((struct img_lvm_seg *) 0)->type;
}

static int
parse_lv (struct img_ctx *ctx, const char *src, struct img_lvm_vg *vg,
          struct img_lvm_lv *lv, struct lv_work *w,
          const struct img_lvmconf_node *lvsec, const struct name_idx *pv_idx,
          const struct img_lvmconf_node *lvs)
{
  uint64_t n_segs, total = 0;
  const char *id;
  size_t i;
  int r;

  if (strlen (lvsec->key) >= sizeof lv->name)
    return VGERR (-EINVAL, "LV name '%.40s...' is too long", lvsec->key);
  snprintf (lv->name, sizeof lv->name, "%s", lvsec->key);
  if (img_lvmconf_string (lvsec, "id", &id) < 0 || !img_internal_lvm_uuid_text_ok (id))
    return LVERR (-EINVAL, "missing or malformed LV id");
  snprintf (lv->uuid, sizeof lv->uuid, "%s", id);
  lv->visible = img_lvmconf_list_has (lvsec, "status", "VISIBLE");
  if (img_lvmconf_u64 (lvsec, "segment_count", &n_segs) < 0)
    return LVERR (-EINVAL, "missing or malformed segment_count");
  if (n_segs == 0 || n_segs > MAX_SEGMENTS)
    return LVERR (-EINVAL, "segment_count %" PRIu64 " is out of range (1-%d)",
                  n_segs, MAX_SEGMENTS);
  lv->segs = calloc (n_segs, sizeof *lv->segs);
  if (lv->segs == NULL)
    return LVERR (-ENOMEM, "out of memory");

  for (i = 0; i < n_segs; i++) {
    const struct img_lvmconf_node *segsec;
    struct img_lvm_seg *seg = &lv->segs[i];
    uint64_t bytes;
    const char *type;
    char key[32];

    lv->n_segs++;
    snprintf (key, sizeof key, "segment%zu", i + 1);
    if (img_lvmconf_section (lvsec, key, &segsec) < 0)
      return LVERR (-EINVAL, "%s is missing", key);
    if (img_lvmconf_u64 (segsec, "start_extent", &seg->start_extent) < 0
        || img_lvmconf_u64 (segsec, "extent_count", &seg->extent_count) < 0)
      return LVERR (-EINVAL, "%s: missing or malformed start_extent or extent_count",
                    key);
    if (seg->start_extent != total)
      return LVERR (-EINVAL,
                    "%s starts at extent %" PRIu64 " but the segments before end at %" PRIu64 " (a gap or an overlap)",
                    key, seg->start_extent, total);
    if (seg->extent_count == 0)
      return LVERR (-EINVAL, "%s has no extents", key);
    if (add_overflow_u64 (total, seg->extent_count, &total)
        || mul_overflow_u64 (total, vg->extent_size, &bytes))
      return LVERR (-EOVERFLOW, "%s: extent_count %" PRIu64 " overflows",
                    key, seg->extent_count);
    if (img_lvmconf_string (segsec, "type", &type) < 0 || !type_name_ok (type))
      return LVERR (-EINVAL, "%s: missing or malformed type", key);
    snprintf (seg->type, sizeof seg->type, "%s", type);
    if (strcmp (type, "striped") == 0 || strcmp (type, "linear") == 0) {
      r = parse_stripes (ctx, src, vg, lv, w, i + 1, segsec, seg, pv_idx,
                         lvs);
      if (r < 0)
        return r;
    }
    else if (w->unsupported == NULL)
      w->unsupported = seg->type;
  }
  lv->size = total * vg->extent_size;
  return 0;
}

/* Marks the COW stores of old-style snapshots: their bytes are not the
 * snapshot's contents. */
static int
mark_cow_stores (struct img_ctx *ctx, const char *src, struct img_lvm_vg *vg,
                 const struct img_lvmconf_node *lvs, struct lv_work *work)
{
  const struct img_lvmconf_node *n, *seg;
  struct name_idx *idx;
  size_t i;

  idx = calloc (vg->n_lvs ? vg->n_lvs : 1, sizeof *idx);
  if (idx == NULL)
    return VGERR (-ENOMEM, "out of memory");
  for (i = 0; i < vg->n_lvs; i++) {
    idx[i].name = vg->lvs[i].name;
    idx[i].idx = i;
  }
  /* Names are unique: the parser refuses duplicate keys. */
  qsort (idx, vg->n_lvs, sizeof *idx, cmp_name_idx);
  for (n = lvs->child, i = 0; n; n = n->next, i++) {
    const char *cow;
    const struct name_idx *ni;

    if (strcmp (vg->lvs[i].segs[0].type, "snapshot") != 0)
      continue;
    if (img_lvmconf_section (n, "segment1", &seg) < 0
        || img_lvmconf_string (seg, "cow_store", &cow) < 0)
      continue;
    ni = name_lookup (idx, vg->n_lvs, cow);
    if (ni != NULL && ni->idx != i)
      work[ni->idx].cow_of = vg->lvs[i].name;
  }
  free (idx);
  return 0;
}

/* Where PV-relative byte OFF of PV lands on a disk, and how many bytes
 * from there are contiguous.  The PV's volume must map OFF linearly. */
static int
pv_locate (const struct img_volume *dev, uint64_t off, struct img_stripe *st,
           uint64_t *run)
{
  size_t i;

  for (i = 0; i < dev->n_segments; i++) {
    const struct img_segment *s = &dev->segments[i];

    if (off >= s->start && off - s->start < s->length) {
      if (s->n_stripes != 1)
        return -ENOTSUP;
      st->disk = s->stripes[0].disk;
      st->offset = s->stripes[0].offset + (off - s->start);
      *run = s->length - (off - s->start);
      return 0;
    }
  }
  return -ERANGE;
}

static int
set_lv_error (struct img_ctx *ctx, struct img_lvm_vg *vg,
              struct img_lvm_lv *lv, const char *fmt, ...)
  __attribute__((format (printf, 4, 5)));

static int
set_lv_error (struct img_ctx *ctx, struct img_lvm_vg *vg,
              struct img_lvm_lv *lv, const char *fmt, ...)
{
  char reason[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (reason, sizeof reason, fmt, ap);
  va_end (ap);
  if (asprintf (&lv->error, "%s/%s: lvm: %s", vg->name, lv->name, reason) < 0) {
    lv->error = NULL;
    return img_err (ctx, -ENOMEM, "%s/%s: lvm: out of memory", vg->name,
                    lv->name);
  }
  img_dbg (ctx, "%s", lv->error);
  return 0;
}

/* Turns a failure to map PV-relative bytes [off, off+len) into lv->error. */
static int
locate_error (struct img_ctx *ctx, struct img_lvm_vg *vg,
              struct img_lvm_lv *lv, const struct img_lvm_pv *pv, int err,
              uint64_t off, uint64_t len)
{
  if (err == -ENOTSUP)
    return set_lv_error (ctx, vg, lv,
                         "PV %s lives on %s, which is not a linear volume; not supported",
                         pv->name, pv->dev->name);
  if (err == -EXDEV)
    return set_lv_error (ctx, vg, lv,
                         "a stripe at bytes %" PRIu64 "+%" PRIu64 " of PV %s crosses a segment boundary of %s; not supported",
                         off, len, pv->name, pv->dev->name);
  return set_lv_error (ctx, vg, lv,
                       "bytes %" PRIu64 "+%" PRIu64 " of PV %s are past the end of %s (%" PRIu64 " bytes); the image is truncated",
                       off, len, pv->name, pv->dev->name, pv->dev->size);
}

/* Builds the LV's volume, or sets lv->error when it cannot be read. */
static int
build_lv_volume (struct img_ctx *ctx, struct img_lvm_vg *vg,
                 struct img_lvm_lv *lv, const struct lv_work *w)
{
  struct img_stripe st[MAX_STRIPES];
  struct img_volume *vol = NULL;
  char name[sizeof vg->name + sizeof lv->name + 1];
  size_t i, k;
  int r;

  if (w->unsupported)
    return set_lv_error (ctx, vg, lv, "%s LVs are not supported",
                         w->unsupported);
  if (w->cow_of)
    return set_lv_error (ctx, vg, lv,
                         "snapshot LVs are not supported (this is the copy-on-write store of %s)",
                         w->cow_of);
  if (w->layered_on)
    return set_lv_error (ctx, vg, lv,
                         "LV is layered on LV %s (an unfinished pvmove?); not supported",
                         w->layered_on);
  for (i = 0; i < lv->n_segs; i++)
    for (k = 0; k < lv->segs[i].n_stripes; k++) {
      const struct img_lvm_pv *pv = &vg->pvs[lv->segs[i].stripes[k].pv];
      if (pv->dev == NULL)
        return set_lv_error (ctx, vg, lv, "PV %s (UUID %s) is missing",
                             pv->name, pv->uuid);
    }

  snprintf (name, sizeof name, "%s/%s", vg->name, lv->name);
  r = img_volume_new (ctx, name, &vol);
  if (r < 0)
    return r;
  /* An LV on a PV that must not be written (an md array) inherits that. */
  for (i = 0; i < lv->n_segs && vol->no_write == NULL; i++)
    for (k = 0; k < lv->segs[i].n_stripes; k++)
      if (vg->pvs[lv->segs[i].stripes[k].pv].dev->no_write)
        vol->no_write = vg->pvs[lv->segs[i].stripes[k].pv].dev->no_write;
  for (i = 0; i < lv->n_segs; i++) {
    const struct img_lvm_seg *seg = &lv->segs[i];
    uint64_t per_len = seg->extent_count / seg->n_stripes * vg->extent_size;

    if (seg->n_stripes == 1) {
      /* A linear run may cross segments of the PV's own volume. */
      const struct img_lvm_pv *pv = &vg->pvs[seg->stripes[0].pv];
      uint64_t off = pv->pe_start + seg->stripes[0].first_pe * vg->extent_size;
      uint64_t left = per_len, run;

      while (left > 0) {
        r = pv_locate (pv->dev, off, &st[0], &run);
        if (r < 0) {
          r = locate_error (ctx, vg, lv, pv, r, off, left);
          goto out;
        }
        if (run > left)
          run = left;
        r = img_volume_add_segment (ctx, vol, run, 0, 1, st);
        if (r < 0)
          goto out;
        off += run;
        left -= run;
      }
      continue;
    }
    for (k = 0; k < seg->n_stripes; k++) {
      const struct img_lvm_pv *pv = &vg->pvs[seg->stripes[k].pv];
      uint64_t off = pv->pe_start + seg->stripes[k].first_pe * vg->extent_size;
      uint64_t run;

      r = pv_locate (pv->dev, off, &st[k], &run);
      if (r == 0 && run < per_len)
        r = off + per_len <= pv->dev->size ? -EXDEV : -ERANGE;
      if (r < 0) {
        r = locate_error (ctx, vg, lv, pv, r, off, per_len);
        goto out;
      }
    }
    r = img_volume_add_segment (ctx, vol, seg->extent_count * vg->extent_size,
                                seg->stripe_size, seg->n_stripes, st);
    if (r < 0)
      goto out;
  }
  lv->vol = vol;
  vol = NULL;

 out:
  img_volume_free (vol);
  return r;
}

void
img_internal_lvm_free_vg (struct img_lvm_vg *vg)
{
  size_t i, k;

  for (i = 0; i < vg->n_lvs; i++) {
    struct img_lvm_lv *lv = &vg->lvs[i];
    for (k = 0; k < lv->n_segs; k++)
      free (lv->segs[k].stripes);
    free (lv->segs);
    free (lv->error);
    img_volume_free (lv->vol);
  }
  free (vg->lvs);
  free (vg->pvs);
}

int
img_internal_lvm_build_vg (struct scan *sc, const struct meta *m,
                           struct img_lvm_vg *vg)
{
  struct img_ctx *ctx = sc->ctx;
  const char *src = m->src;
  const struct img_lvmconf_node *lvs = NULL, *n;
  struct name_idx *pv_idx = NULL;
  struct lv_work *work = NULL;
  uint64_t extent_size;
  size_t i;
  int r;

  memset (vg, 0, sizeof *vg);
  if (strlen (m->vg->key) >= sizeof vg->name)
    return img_err (ctx, -EINVAL, "%s: lvm: VG name '%.40s...' is too long",
                    src, m->vg->key);
  snprintf (vg->name, sizeof vg->name, "%s", m->vg->key);
  snprintf (vg->uuid, sizeof vg->uuid, "%s", m->vg_uuid);
  vg->seqno = m->seqno;
  if (img_lvmconf_u64 (m->vg, "extent_size", &extent_size) < 0)
    return VGERR (-EINVAL, "missing or malformed extent_size");
  if (extent_size == 0 || mul_overflow_u64 (extent_size, IMG_SECTOR_SIZE,
                                            &vg->extent_size))
    return VGERR (-EINVAL, "extent_size %" PRIu64 " is absurd", extent_size);

  r = build_pvs (ctx, src, vg, m->vg, sc, &pv_idx);
  if (r < 0)
    goto out;

  r = img_lvmconf_section (m->vg, "logical_volumes", &lvs);
  if (r == -ENOENT) {
    r = 0;
    goto out;
  }
  if (r < 0) {
    r = VGERR (-EINVAL, "logical_volumes is not a section");
    goto out;
  }
  vg->lvs = calloc (lvs->n_children ? lvs->n_children : 1, sizeof *vg->lvs);
  work = calloc (lvs->n_children ? lvs->n_children : 1, sizeof *work);
  if (vg->lvs == NULL || work == NULL) {
    r = VGERR (-ENOMEM, "out of memory");
    goto out;
  }
  for (n = lvs->child, i = 0; n; n = n->next, i++) {
    vg->n_lvs++;
    if (n->type != IMG_LVMCONF_SECTION) {
      r = VGERR (-EINVAL, "logical_volumes holds '%s', not an LV section (line %u)",
                 n->key, n->line);
      goto out;
    }
    r = parse_lv (ctx, src, vg, &vg->lvs[i], &work[i], n, pv_idx, lvs);
    if (r < 0)
      goto out;
  }
  r = mark_cow_stores (ctx, src, vg, lvs, work);
  if (r < 0)
    goto out;
  for (i = 0; i < vg->n_lvs; i++) {
    r = build_lv_volume (ctx, vg, &vg->lvs[i], &work[i]);
    if (r < 0)
      goto out;
  }

 out:
  free (work);
  free (pv_idx);
  if (r < 0)
    img_internal_lvm_free_vg (vg);
  return r;
}
