/* LVM2 read in user space: PV labels, metadata areas and the metadata
 * text on each volume, assembled into volume groups whose linear and
 * striped LVs become volumes.  Nothing is activated; the guest's VG names
 * never meet the host's LVM.  Every field comes off a guest disk and is
 * checked before use. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume/lvmconf.h"
#include "private.h"

/* On-disk layout (lvm2's label.h and format_text/layout.h).
 *
 * The label sits in one of the first four 512-byte sectors:
 *   0  id "LABELONE"     8  sector number (u64)   16 crc of 20..511 (u32)
 *   20 offset of the PV header from the label (u32)   24 type "LVM2 001"
 * The PV header: 32-byte UUID, device size (u64, bytes), then two lists of
 * {offset, size} (u64, bytes), data areas then metadata areas, each ended
 * by an entry with offset 0.
 * A metadata area starts with a 512-byte header:
 *   0 crc of 4..511   4 magic   20 version (1)   24 start (u64)   32 size
 *   40 raw_locn[]: offset (from the area start), size, crc (u32),
 *      flags (u32), ended by offset 0.
 * The text lives in the circular buffer after the header and may wrap to
 * area start + 512. */
#define SECTOR_SIZE 512
#define LABEL_SCAN_SECTORS 4
#define LABEL_ID "LABELONE"
#define LABEL_TYPE "LVM2 001"
#define LABEL_CRC_START 20
#define LABEL_HEADER_SIZE 32
#define PV_UUID_LEN 32
#define DISK_LOCN_SIZE 16
#define MDA_HEADER_SIZE 512
#define MDA_MAGIC " LVM2 x[5A%r0N*>"
#define MDA_MAGIC_LEN 16
#define MDA_VERSION 1
#define MDA_LOCNS_OFFSET 40
#define RAW_LOCN_SIZE 24
#define RAW_LOCN_IGNORED 0x1

/* Sanity bounds on what metadata may ask for. */
#define MAX_SEGMENTS 65536
#define MAX_STRIPES 128         /* lvm2's own limit */
#define MAX_MDAS 8

_Static_assert (LABEL_HEADER_SIZE + PV_UUID_LEN + 8 + 2 * DISK_LOCN_SIZE
                <= SECTOR_SIZE, "a PV header fits in its sector");
_Static_assert (MDA_LOCNS_OFFSET + RAW_LOCN_SIZE <= MDA_HEADER_SIZE,
                "one raw_locn fits in the metadata area header");

struct img_lvm {
  size_t n_vgs;
  struct img_lvm_vg *vgs;
};

/* A volume that carries a PV label. */
struct found_pv {
  struct img_volume *vol;
  char uuid[39];
  uint64_t da_start;            /* first data area; 0 if none listed */
};

/* One metadata text read from one metadata area.  Only the newest copy
 * of each VG keeps its parsed tree (conf and vg); the others are kept
 * for the warning when copies disagree. */
struct meta {
  struct img_lvmconf *conf;
  const struct img_lvmconf_node *vg;
  const char *src;              /* volume name, for messages */
  char vg_uuid[39];
  uint64_t seqno;
  bool used;
};

struct scan {
  struct img_ctx *ctx;
  struct found_pv *found;
  size_t n_found;
  struct meta *metas;
  size_t n_metas;
};

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

/* lvm2's UUID alphabet. */
static bool
uuid_char_ok (unsigned char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
    || (c >= 'A' && c <= 'Z') || c == '!' || c == '#';
}

/* 32 characters → 6-4-4-4-4-4-6 with dashes, as lvm prints them. */
static void
format_uuid (const unsigned char *u, char out[39])
{
  static const int groups[] = { 6, 4, 4, 4, 4, 4, 6 };
  size_t g, i, o = 0, k = 0;

  for (g = 0; g < ARRAY_SIZE (groups); g++) {
    if (g > 0)
      out[o++] = '-';
    for (i = 0; i < (size_t) groups[g]; i++)
      out[o++] = (char) u[k++];
  }
  out[o] = '\0';
}

/* A UUID as metadata text holds it: the same 38-character form. */
static bool
uuid_text_ok (const char *s)
{
  size_t i;

  if (strlen (s) != 38)
    return false;
  for (i = 0; i < 38; i++) {
    bool dash = i == 6 || i == 11 || i == 16 || i == 21 || i == 26 || i == 31;
    if (dash ? s[i] != '-' : !uuid_char_ok ((unsigned char) s[i]))
      return false;
  }
  return true;
}

/* ---- label and metadata areas ----------------------------------------- */

/* Reads the LVM label of VOL, if any.  *has_label is false when there is
 * none; otherwise *fp is filled and MDAS (up to MAX_MDAS {offset, size}
 * pairs) lists its metadata areas. */
static int
read_label (struct img_ctx *ctx, struct img_volume *vol, bool *has_label,
            struct found_pv *fp, uint64_t mdas[][2], size_t *n_mdas)
{
  unsigned char buf[LABEL_SCAN_SECTORS * SECTOR_SIZE];
  const unsigned char *lab = NULL, *p, *end;
  uint64_t sector = 0, n_sectors, dev_size;
  uint32_t crc, hdr_off;
  size_t i, list;
  int r;

  *has_label = false;
  *n_mdas = 0;
  n_sectors = vol->size / SECTOR_SIZE;
  if (n_sectors > LABEL_SCAN_SECTORS)
    n_sectors = LABEL_SCAN_SECTORS;
  if (n_sectors == 0)
    return 0;
  r = img_volume_pread (ctx, vol, buf, n_sectors * SECTOR_SIZE, 0);
  if (r < 0)
    return r;
  for (i = 0; i < n_sectors; i++)
    if (memcmp (buf + i * SECTOR_SIZE, LABEL_ID, 8) == 0) {
      lab = buf + i * SECTOR_SIZE;
      sector = i;
      break;
    }
  if (lab == NULL)
    return 0;

  if (get_le64 (lab + 8) != sector)
    return img_err (ctx, -EINVAL,
                    "%s: lvm: label in sector %" PRIu64 " claims to be in sector %" PRIu64,
                    vol->name, sector, get_le64 (lab + 8));
  crc = img_lvm_crc (lab + LABEL_CRC_START, SECTOR_SIZE - LABEL_CRC_START);
  if (crc != get_le32 (lab + 16))
    return img_err (ctx, -EINVAL, "%s: lvm: label checksum mismatch",
                    vol->name);
  if (memcmp (lab + 24, LABEL_TYPE, 8) != 0)
    return img_err (ctx, -ENOTSUP, "%s: lvm: unknown label type (not \"%s\")",
                    vol->name, LABEL_TYPE);
  hdr_off = get_le32 (lab + 20);
  if (hdr_off < LABEL_HEADER_SIZE
      || hdr_off > SECTOR_SIZE - (PV_UUID_LEN + 8 + 2 * DISK_LOCN_SIZE))
    return img_err (ctx, -EINVAL,
                    "%s: lvm: PV header offset %" PRIu32 " is outside the label sector",
                    vol->name, hdr_off);
  p = lab + hdr_off;
  end = lab + SECTOR_SIZE;
  for (i = 0; i < PV_UUID_LEN; i++)
    if (!uuid_char_ok (p[i]))
      return img_err (ctx, -EINVAL, "%s: lvm: PV UUID holds invalid characters",
                      vol->name);
  format_uuid (p, fp->uuid);
  fp->vol = vol;
  fp->da_start = 0;
  dev_size = get_le64 (p + PV_UUID_LEN);
  p += PV_UUID_LEN + 8;

  /* list 0: data areas (we take pe_start from the metadata); list 1:
   * metadata areas.  Both must end inside the sector. */
  for (list = 0; list < 2; list++) {
    for (;;) {
      uint64_t off, size, area_end;

      if (end - p < DISK_LOCN_SIZE)
        return img_err (ctx, -EINVAL,
                        "%s: lvm: PV header area list runs past the label sector",
                        vol->name);
      off = get_le64 (p);
      size = get_le64 (p + 8);
      p += DISK_LOCN_SIZE;
      if (off == 0)
        break;
      if (list == 0) {
        if (fp->da_start == 0)
          fp->da_start = off;
        continue;
      }
      if (*n_mdas == MAX_MDAS)
        return img_err (ctx, -EINVAL,
                        "%s: lvm: PV header lists more than %d metadata areas",
                        vol->name, MAX_MDAS);
      if (size < 2 * MDA_HEADER_SIZE)
        return img_err (ctx, -EINVAL,
                        "%s: lvm: metadata area at offset %" PRIu64 " is too small (%" PRIu64 " bytes)",
                        vol->name, off, size);
      if (add_overflow_u64 (off, size, &area_end) || area_end > vol->size)
        return img_err (ctx, -EIO,
                        "%s: lvm: metadata area at offset %" PRIu64 " (%" PRIu64 " bytes) extends past the end of the volume (%" PRIu64 " bytes); the image is truncated",
                        vol->name, off, size, vol->size);
      mdas[*n_mdas][0] = off;
      mdas[*n_mdas][1] = size;
      (*n_mdas)++;
    }
  }
  img_dbg (ctx, "%s: lvm: PV %s, device size %" PRIu64 ", %zu metadata areas",
           vol->name, fp->uuid, dev_size, *n_mdas);
  *has_label = true;
  return 0;
}

/* Reads the committed metadata text of the metadata area at OFF (SIZE
 * bytes) of VOL.  *text is NULL when the area holds none (an orphan PV)
 * or is flagged ignored; else the caller frees it. */
static int
read_mda (struct img_ctx *ctx, struct img_volume *vol, uint64_t off,
          uint64_t size, char **textp, size_t *lenp)
{
  unsigned char hdr[MDA_HEADER_SIZE];
  uint64_t text_off = 0, text_size = 0, first, buf_size;
  uint32_t text_crc = 0;
  size_t i;
  char *text;
  int r;

  *textp = NULL;
  *lenp = 0;
  r = img_volume_pread (ctx, vol, hdr, sizeof hdr, off);
  if (r < 0)
    return r;
  if (img_lvm_crc (hdr + 4, MDA_HEADER_SIZE - 4) != get_le32 (hdr))
    return img_err (ctx, -EINVAL, "%s: lvm: metadata area checksum mismatch",
                    vol->name);
  if (memcmp (hdr + 4, MDA_MAGIC, MDA_MAGIC_LEN) != 0)
    return img_err (ctx, -EINVAL,
                    "%s: lvm: metadata area at offset %" PRIu64 " has no metadata magic",
                    vol->name, off);
  if (get_le32 (hdr + 20) != MDA_VERSION)
    return img_err (ctx, -ENOTSUP,
                    "%s: lvm: metadata area version %" PRIu32 " is not supported",
                    vol->name, get_le32 (hdr + 20));
  if (get_le64 (hdr + 24) != off || get_le64 (hdr + 32) != size)
    return img_err (ctx, -EINVAL,
                    "%s: lvm: metadata area header says %" PRIu64 "+%" PRIu64 " but the PV label says %" PRIu64 "+%" PRIu64,
                    vol->name, get_le64 (hdr + 24), get_le64 (hdr + 32), off,
                    size);

  /* The first location not flagged ignored holds the committed text. */
  for (i = MDA_LOCNS_OFFSET; i + RAW_LOCN_SIZE <= MDA_HEADER_SIZE;
       i += RAW_LOCN_SIZE) {
    uint64_t o = get_le64 (hdr + i);

    if (o == 0)
      break;
    if (get_le32 (hdr + i + 20) & RAW_LOCN_IGNORED)
      continue;
    text_off = o;
    text_size = get_le64 (hdr + i + 8);
    text_crc = get_le32 (hdr + i + 16);
    break;
  }
  if (text_off == 0) {
    img_dbg (ctx, "%s: lvm: metadata area at %" PRIu64 " holds no metadata",
             vol->name, off);
    return 0;
  }
  buf_size = size - MDA_HEADER_SIZE;
  if (text_off < MDA_HEADER_SIZE || text_off >= size || text_size == 0
      || text_size > buf_size)
    return img_err (ctx, -EINVAL,
                    "%s: lvm: metadata text location %" PRIu64 "+%" PRIu64 " lies outside its %" PRIu64 "-byte metadata area",
                    vol->name, text_off, text_size, size);
  if (text_size > IMG_LVMCONF_MAX_SIZE)
    return img_err (ctx, -EFBIG,
                    "%s: lvm: metadata text of %" PRIu64 " bytes is over the %u-byte limit",
                    vol->name, text_size, IMG_LVMCONF_MAX_SIZE);
  text = malloc (text_size);
  if (text == NULL)
    return img_err (ctx, -ENOMEM, "%s: lvm: out of memory", vol->name);
  first = size - text_off;
  if (first > text_size)
    first = text_size;
  r = img_volume_pread (ctx, vol, text, first, off + text_off);
  if (r == 0 && first < text_size)
    r = img_volume_pread (ctx, vol, text + first, text_size - first,
                          off + MDA_HEADER_SIZE);
  if (r < 0) {
    free (text);
    return r;
  }
  if (img_lvm_crc (text, text_size) != text_crc) {
    free (text);
    return img_err (ctx, -EINVAL, "%s: lvm: metadata text checksum mismatch",
                    vol->name);
  }
  *textp = text;
  *lenp = text_size;
  return 0;
}

/* Parses TEXT and finds the VG section, its UUID and seqno. */
static int
parse_meta (struct img_ctx *ctx, const char *src, const char *text,
            size_t len, struct meta *m)
{
  const struct img_lvmconf_node *root, *n;
  const char *id;
  int r;

  memset (m, 0, sizeof *m);
  m->src = src;
  r = img_lvmconf_parse (ctx, src, text, len, &m->conf);
  if (r < 0)
    return r;
  root = img_lvmconf_root (m->conf);
  for (n = root->child; n; n = n->next) {
    if (n->type != IMG_LVMCONF_SECTION)
      continue;
    if (m->vg != NULL) {
      r = img_err (ctx, -EINVAL,
                   "%s: lvm: metadata holds more than one volume group (%s, %s)",
                   src, m->vg->key, n->key);
      goto fail;
    }
    m->vg = n;
  }
  if (m->vg == NULL) {
    r = img_err (ctx, -EINVAL, "%s: lvm: metadata holds no volume group", src);
    goto fail;
  }
  if (img_lvmconf_string (m->vg, "id", &id) < 0 || !uuid_text_ok (id)) {
    r = img_err (ctx, -EINVAL, "%s: lvm: %s: missing or malformed VG id",
                 src, m->vg->key);
    goto fail;
  }
  snprintf (m->vg_uuid, sizeof m->vg_uuid, "%s", id);
  if (img_lvmconf_u64 (m->vg, "seqno", &m->seqno) < 0) {
    r = img_err (ctx, -EINVAL, "%s: lvm: %s: missing or malformed seqno",
                 src, m->vg->key);
    goto fail;
  }
  return 0;

 fail:
  img_lvmconf_free (m->conf);
  m->conf = NULL;
  return r;
}

/* Every PV of a VG usually carries a copy of its metadata: keep one
 * parsed tree per VG, the newest, so memory does not grow with the
 * number of copies. */
static void
keep_newest (struct scan *sc, struct meta *m)
{
  size_t i;

  for (i = 0; i < sc->n_metas; i++) {
    struct meta *o = &sc->metas[i];

    if (o->conf == NULL || strcmp (o->vg_uuid, m->vg_uuid) != 0)
      continue;
    if (m->seqno > o->seqno) {
      img_lvmconf_free (o->conf);
      o->conf = NULL;
      o->vg = NULL;
    }
    else {
      img_lvmconf_free (m->conf);
      m->conf = NULL;
      m->vg = NULL;
    }
    return;
  }
}

static int
scan_volume (struct scan *sc, struct img_volume *vol)
{
  uint64_t mdas[MAX_MDAS][2];
  struct found_pv fp;
  size_t n_mdas, i;
  bool has;
  int r;

  r = read_label (sc->ctx, vol, &has, &fp, mdas, &n_mdas);
  if (r < 0 || !has)
    return r;
  for (i = 0; i < sc->n_found; i++)
    if (strcmp (sc->found[i].uuid, fp.uuid) == 0)
      return img_err (sc->ctx, -EEXIST,
                      "%s: lvm: PV UUID %s is also on %s (a copied disk given twice?)",
                      vol->name, fp.uuid, sc->found[i].vol->name);
  {
    struct found_pv *f = realloc (sc->found, (sc->n_found + 1) * sizeof *f);
    if (f == NULL)
      return img_err (sc->ctx, -ENOMEM, "%s: lvm: out of memory", vol->name);
    sc->found = f;
    f[sc->n_found++] = fp;
  }

  for (i = 0; i < n_mdas; i++) {
    struct meta *ms;
    char *text;
    size_t len;

    r = read_mda (sc->ctx, vol, mdas[i][0], mdas[i][1], &text, &len);
    if (r < 0)
      return r;
    if (text == NULL)
      continue;
    ms = realloc (sc->metas, (sc->n_metas + 1) * sizeof *ms);
    if (ms == NULL) {
      free (text);
      return img_err (sc->ctx, -ENOMEM, "%s: lvm: out of memory", vol->name);
    }
    sc->metas = ms;
    r = parse_meta (sc->ctx, vol->name, text, len, &ms[sc->n_metas]);
    free (text);
    if (r < 0)
      return r;
    img_dbg (sc->ctx, "%s: lvm: metadata of VG %s (%s), seqno %" PRIu64,
             vol->name, ms[sc->n_metas].vg->key, ms[sc->n_metas].vg_uuid,
             ms[sc->n_metas].seqno);
    keep_newest (sc, &ms[sc->n_metas]);
    sc->n_metas++;
  }
  return 0;
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
    if (img_lvmconf_string (n, "id", &id) < 0 || !uuid_text_ok (id))
      return VGERR (-EINVAL, "%s: missing or malformed PV id", pv->name);
    snprintf (pv->uuid, sizeof pv->uuid, "%s", id);
    if (img_lvmconf_u64 (n, "pe_start", &pe_start) < 0
        || img_lvmconf_u64 (n, "pe_count", &pv->pe_count) < 0)
      return VGERR (-EINVAL, "%s: missing or malformed pe_start or pe_count",
                    pv->name);
    r = img_lvmconf_u64 (n, "dev_size", &dev_size);
    if (r < 0 && r != -ENOENT)
      return VGERR (-EINVAL, "%s: malformed dev_size", pv->name);
    if (mul_overflow_u64 (pe_start, SECTOR_SIZE, &pv->pe_start)
        || mul_overflow_u64 (dev_size, SECTOR_SIZE, &pv->dev_size)
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
    if (mul_overflow_u64 (stripe_size, SECTOR_SIZE, &chunk)
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
  if (img_lvmconf_string (lvsec, "id", &id) < 0 || !uuid_text_ok (id))
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

static void
free_vg (struct img_lvm_vg *vg)
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

static int
build_vg (struct scan *sc, const struct meta *m, struct img_lvm_vg *vg)
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
  if (extent_size == 0 || mul_overflow_u64 (extent_size, SECTOR_SIZE,
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
    free_vg (vg);
  return r;
}

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
    r = build_vg (sc, best, &vgs[lvm->n_vgs]);
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
    r = scan_volume (&sc, vols[i]);
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
    free_vg (&lvm->vgs[i]);
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
