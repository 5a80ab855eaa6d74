/* LVM2 on disk: the PV label, the metadata areas and the metadata text
 * in them, read from each volume and checked before use (lvm2's label.h
 * and format_text/layout.h). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume/lvm-private.h"

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
bool
img_internal_lvm_uuid_text_ok (const char *s)
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
  unsigned char buf[LABEL_SCAN_SECTORS * IMG_SECTOR_SIZE];
  const unsigned char *lab = NULL, *p, *end;
  uint64_t sector = 0, n_sectors, dev_size;
  uint32_t crc, hdr_off;
  size_t i, list;
  int r;

  *has_label = false;
  *n_mdas = 0;
  n_sectors = vol->size / IMG_SECTOR_SIZE;
  if (n_sectors > LABEL_SCAN_SECTORS)
    n_sectors = LABEL_SCAN_SECTORS;
  if (n_sectors == 0)
    return 0;
  r = img_volume_pread (ctx, vol, buf, n_sectors * IMG_SECTOR_SIZE, 0);
  if (r < 0)
    return r;
  for (i = 0; i < n_sectors; i++)
    if (memcmp (buf + i * IMG_SECTOR_SIZE, LABEL_ID, 8) == 0) {
      lab = buf + i * IMG_SECTOR_SIZE;
      sector = i;
      break;
    }
  if (lab == NULL)
    return 0;

  if (get_le64 (lab + 8) != sector)
    return img_err (ctx, -EINVAL,
                    "%s: lvm: label in sector %" PRIu64 " claims to be in sector %" PRIu64,
                    vol->name, sector, get_le64 (lab + 8));
  crc = img_lvm_crc (lab + LABEL_CRC_START, IMG_SECTOR_SIZE - LABEL_CRC_START);
  if (crc != get_le32 (lab + 16))
    return img_err (ctx, -EINVAL, "%s: lvm: label checksum mismatch",
                    vol->name);
  if (memcmp (lab + 24, LABEL_TYPE, 8) != 0)
    return img_err (ctx, -ENOTSUP, "%s: lvm: unknown label type (not \"%s\")",
                    vol->name, LABEL_TYPE);
  hdr_off = get_le32 (lab + 20);
  if (hdr_off < LABEL_HEADER_SIZE
      || hdr_off > IMG_SECTOR_SIZE - (PV_UUID_LEN + 8 + 2 * DISK_LOCN_SIZE))
    return img_err (ctx, -EINVAL,
                    "%s: lvm: PV header offset %" PRIu32 " is outside the label sector",
                    vol->name, hdr_off);
  p = lab + hdr_off;
  end = lab + IMG_SECTOR_SIZE;
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
  if (img_lvmconf_string (m->vg, "id", &id) < 0 || !img_internal_lvm_uuid_text_ok (id)) {
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

int
img_internal_lvm_scan_volume (struct scan *sc, struct img_volume *vol)
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
