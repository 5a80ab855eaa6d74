/* GUID partition tables.  The primary header and its entry array are
 * CRC-checked; when either is damaged the backup at the end of the disk is
 * used, with a warning.  Both damaged is an error. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "private.h"
#include "volume/volume-private.h"

#define GPT_SIGNATURE "EFI PART"
#define GPT_HEADER_MIN 92
#define GPT_MAX_ENTRIES 4096
#define GPT_MAX_ENTRY_SIZE 4096

struct gpt_header {
  uint64_t my_lba, alt_lba, first_lba, last_lba, entries_lba;
  uint32_t n_entries, entry_size, entries_crc;
  unsigned char disk_guid[16];
};

/* Fuzzing builds take every checksum as good, so that mutated headers
 * and entries reach the checks behind the CRCs. */
static bool
crc_ok (const void *buf, size_t len, uint32_t want)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void) buf;
  (void) len;
  (void) want;
  return true;
#else
  return img_crc32 (buf, len) == want;
#endif
}

/* Reads and checks the header at LBA and its entry array.  On success
 * *entriesp is a malloc'd copy of the array.  On failure writes the reason
 * to WHY and returns < 0 without touching the context's error: -ENOENT
 * when there is no header at all (no signature, sector outside the image),
 * -EINVAL when there is a damaged one, -ENOMEM. */
static int
read_header (const struct img_internal_ptsrc *src, unsigned ss, uint64_t lba,
             struct gpt_header *h, unsigned char **entriesp,
             char *why, size_t whylen)
{
  unsigned char *hdr = NULL, *entries = NULL;
  uint64_t n_sectors = src->size / ss, bytes;
  uint32_t hsize, crc;
  int r = -EINVAL;

  hdr = malloc (ss);
  if (hdr == NULL)
    return -ENOMEM;
  if (lba >= n_sectors) {
    snprintf (why, whylen, "sector %" PRIu64 " is outside the %s", lba, src->what);
    r = -ENOENT;
    goto out;
  }
  if (img_internal_ptsrc_pread (src, hdr, ss, lba * ss) < 0) {
    snprintf (why, whylen, "cannot read sector %" PRIu64, lba);
    goto out;
  }
  if (memcmp (hdr, GPT_SIGNATURE, 8) != 0) {
    snprintf (why, whylen, "no signature at sector %" PRIu64, lba);
    r = -ENOENT;
    goto out;
  }
  hsize = get_le32 (hdr + 12);
  if (hsize < GPT_HEADER_MIN || hsize > ss) {
    snprintf (why, whylen, "header size %u is invalid", hsize);
    goto out;
  }
  crc = get_le32 (hdr + 16);
  memset (hdr + 16, 0, 4);
  if (!crc_ok (hdr, hsize, crc)) {
    snprintf (why, whylen, "header checksum mismatch");
    goto out;
  }
  h->my_lba = get_le64 (hdr + 24);
  h->alt_lba = get_le64 (hdr + 32);
  h->first_lba = get_le64 (hdr + 40);
  h->last_lba = get_le64 (hdr + 48);
  memcpy (h->disk_guid, hdr + 56, 16);
  h->entries_lba = get_le64 (hdr + 72);
  h->n_entries = get_le32 (hdr + 80);
  h->entry_size = get_le32 (hdr + 84);
  h->entries_crc = get_le32 (hdr + 88);

  if (h->my_lba != lba) {
    snprintf (why, whylen, "header at sector %" PRIu64 " says it is at sector %" PRIu64,
              lba, h->my_lba);
    goto out;
  }
  if (h->first_lba > h->last_lba || h->last_lba >= n_sectors) {
    snprintf (why, whylen, "usable area %" PRIu64 "-%" PRIu64 " does not fit the %s (%" PRIu64 " sectors); the %s may be truncated",
              h->first_lba, h->last_lba, src->what, n_sectors, src->what);
    goto out;
  }
  if (h->n_entries == 0 || h->n_entries > GPT_MAX_ENTRIES
      || h->entry_size < 128 || h->entry_size > GPT_MAX_ENTRY_SIZE
      || h->entry_size % 8 != 0) {
    snprintf (why, whylen, "entry array of %u entries of %u bytes is invalid",
              h->n_entries, h->entry_size);
    goto out;
  }
  bytes = (uint64_t) h->n_entries * h->entry_size;
  if (h->entries_lba >= n_sectors
      || h->entries_lba + (bytes + ss - 1) / ss > n_sectors) {
    snprintf (why, whylen, "entry array at sector %" PRIu64 " is outside the %s",
              h->entries_lba, src->what);
    goto out;
  }
  entries = malloc (bytes);
  if (entries == NULL) {
    r = -ENOMEM;
    goto out;
  }
  if (img_internal_ptsrc_pread (src, entries, bytes, h->entries_lba * ss) < 0) {
    snprintf (why, whylen, "cannot read the entry array");
    goto out;
  }
  if (!crc_ok (entries, bytes, h->entries_crc)) {
    snprintf (why, whylen, "entry array checksum mismatch");
    goto out;
  }
  *entriesp = entries;
  entries = NULL;
  r = 0;
 out:
  free (entries);
  free (hdr);
  return r;
}

static bool
guid_is_zero (const unsigned char *g)
{
  static const unsigned char zero[16];
  return memcmp (g, zero, 16) == 0;
}

/* Looks for the primary header (LBA 1) or the backup (last sector) at each
 * of N_SIZES sector sizes, stopping at the first size where there is one,
 * good or damaged: *ssp and *lbap say where.  WHY gets the reason at that
 * size, or at the first size if there is no header at any. */
static int
find_header (const struct img_internal_ptsrc *src, const unsigned *sizes, size_t n_sizes,
             bool backup, unsigned *ssp, uint64_t *lbap,
             struct gpt_header *h, unsigned char **entriesp,
             char *why, size_t whylen)
{
  char why_here[256];
  size_t i;
  int r = -ENOENT;

  for (i = 0; i < n_sizes; i++) {
    uint64_t lba = 1;

    if (backup) {
      lba = src->size / sizes[i];
      if (lba == 0) {
        if (i == 0)
          snprintf (why, whylen, "the %s is smaller than one sector", src->what);
        continue;
      }
      lba--;
    }
    r = read_header (src, sizes[i], lba, h, entriesp,
                     i == 0 ? why : why_here, i == 0 ? whylen : sizeof why_here);
    if (r != -ENOENT) {
      if (i > 0)
        snprintf (why, whylen, "%s", why_here);
      *ssp = sizes[i];
      *lbap = lba;
      return r;
    }
  }
  return r;
}

int
img_internal_gpt_read (struct img_ctx *ctx, const struct img_internal_ptsrc *src,
                       struct img_ptable *pt)
{
  /* The header sits at LBA 1, whose byte offset depends on the logical
   * sector size, which an image file does not record: try both. */
  static const unsigned sizes[] = { IMG_SECTOR_SIZE, IMG_SECTOR_SIZE_4K };
  CLEANUP_FREE unsigned char *entries = NULL;
  struct gpt_header h;
  char why1[256] = "", why2[256] = "";
  const char *name = src->name;
  unsigned ss = IMG_SECTOR_SIZE, primary_ss;
  uint64_t lba = 1;
  size_t i;
  int r;

  r = find_header (src, sizes, ARRAY_SIZE (sizes), false, &ss, &lba, &h,
                   &entries, why1, sizeof why1);
  if (r == -ENOMEM)
    return img_err (ctx, r, "%s: gpt: out of memory", name);
  if (r < 0) {
    /* A damaged primary fixes the sector size; with none at all, the
     * backup may be at either. */
    primary_ss = ss;
    if (r == -ENOENT)
      r = find_header (src, sizes, ARRAY_SIZE (sizes), true, &ss, &lba, &h,
                       &entries, why2, sizeof why2);
    else
      r = find_header (src, &primary_ss, 1, true, &ss, &lba, &h,
                       &entries, why2, sizeof why2);
    if (r == -ENOMEM)
      return img_err (ctx, r, "%s: gpt: out of memory", name);
    if (r < 0)
      return img_err (ctx, -EINVAL,
                      "%s: gpt: both GPT headers are damaged (primary: %s; backup: %s)",
                      name, why1, why2);
    img_warn (ctx, "%s: gpt: primary GPT header is damaged (%s); using the backup at sector %" PRIu64,
              name, why1, lba);
    pt->used_backup = true;
  }

  pt->type = IMG_PTABLE_GPT;
  pt->sector_size = ss;
  pt->first_lba = h.first_lba;
  pt->last_lba = h.last_lba;
  img_internal_guid_to_string (h.disk_guid, pt->id);

  for (i = 0; i < h.n_entries; i++) {
    const unsigned char *e = entries + i * h.entry_size;
    struct img_part part = { 0 };
    uint64_t first, last;

    if (guid_is_zero (e))
      continue;
    first = get_le64 (e + 32);
    last = get_le64 (e + 40);
    if (first > last || first < h.first_lba || last > h.last_lba)
      return img_err (ctx, -EINVAL,
                      "%s: gpt: partition %zu (sectors %" PRIu64 "-%" PRIu64 ") lies outside the usable area %" PRIu64 "-%" PRIu64,
                      name, i + 1, first, last, h.first_lba, h.last_lba);
    part.number = i + 1;
    part.kind = IMG_PART_PRIMARY;
    part.start = first * ss;
    part.size = (last - first + 1) * ss;
    img_internal_guid_to_string (e, part.type_guid);
    img_internal_guid_to_string (e + 16, part.uuid);
    part.attrs = get_le64 (e + 48);
    img_internal_utf16_to_utf8 (e + 56, 36, false, part.name, sizeof part.name);
    r = img_internal_ptable_add (ctx, src, pt, &part);
    if (r < 0)
      return r;
  }
  return 0;
}
