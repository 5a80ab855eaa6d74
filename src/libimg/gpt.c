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

#define GPT_SIGNATURE "EFI PART"
#define GPT_HEADER_MIN 92
#define GPT_MAX_ENTRIES 4096
#define GPT_MAX_ENTRY_SIZE 4096

struct gpt_header {
  uint64_t my_lba, alt_lba, first_lba, last_lba, entries_lba;
  uint32_t n_entries, entry_size, entries_crc;
  unsigned char disk_guid[16];
};

/* Reads and checks the header at LBA and its entry array.  On success
 * *entriesp is a malloc'd copy of the array.  On failure writes the reason
 * to WHY and returns < 0 without touching the context's error. */
static int
read_header (struct img_disk *disk, unsigned ss, uint64_t lba,
             struct gpt_header *h, unsigned char **entriesp,
             char *why, size_t whylen)
{
  unsigned char *hdr = NULL, *entries = NULL;
  uint64_t n_sectors = img_disk_size (disk) / ss, bytes;
  uint32_t hsize, crc;
  int r = -EINVAL;

  hdr = malloc (ss);
  if (hdr == NULL)
    return -ENOMEM;
  if (lba >= n_sectors || img_disk_pread (disk, hdr, ss, lba * ss) < 0) {
    snprintf (why, whylen, "cannot read sector %" PRIu64, lba);
    goto out;
  }
  if (memcmp (hdr, GPT_SIGNATURE, 8) != 0) {
    snprintf (why, whylen, "no signature at sector %" PRIu64, lba);
    goto out;
  }
  hsize = get_le32 (hdr + 12);
  if (hsize < GPT_HEADER_MIN || hsize > ss) {
    snprintf (why, whylen, "header size %u is invalid", hsize);
    goto out;
  }
  crc = get_le32 (hdr + 16);
  memset (hdr + 16, 0, 4);
  if (img_crc32 (hdr, hsize) != crc) {
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
    snprintf (why, whylen, "usable area %" PRIu64 "-%" PRIu64 " does not fit the image (%" PRIu64 " sectors); the image may be truncated",
              h->first_lba, h->last_lba, n_sectors);
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
    snprintf (why, whylen, "entry array at sector %" PRIu64 " is outside the image",
              h->entries_lba);
    goto out;
  }
  entries = malloc (bytes);
  if (entries == NULL) {
    r = -ENOMEM;
    goto out;
  }
  if (img_disk_pread (disk, entries, bytes, h->entries_lba * ss) < 0) {
    snprintf (why, whylen, "cannot read the entry array");
    goto out;
  }
  if (img_crc32 (entries, bytes) != h->entries_crc) {
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

/* UTF-16LE (UCS-2 in practice) to UTF-8. */
static void
name_to_utf8 (const unsigned char *p, size_t units, char *out, size_t outlen)
{
  size_t i, o = 0;

  for (i = 0; i < units; i++) {
    unsigned c = get_le16 (p + 2 * i);
    if (c == 0)
      break;
    if (c < 0x80 && o + 1 < outlen)
      out[o++] = c;
    else if (c < 0x800 && o + 2 < outlen) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    }
    else if (o + 3 < outlen) {
      if (c >= 0xd800 && c <= 0xdfff)
        c = 0xfffd;             /* lone surrogate */
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  out[o] = '\0';
}

static bool
guid_is_zero (const unsigned char *g)
{
  static const unsigned char zero[16];
  return memcmp (g, zero, 16) == 0;
}

int
img_internal_gpt_read (struct img_ctx *ctx, struct img_disk *disk,
                       struct img_ptable *pt)
{
  static const unsigned sizes[] = { 512, 4096 };
  CLEANUP_FREE unsigned char *entries = NULL;
  struct gpt_header h;
  char why1[256] = "", why2[256] = "";
  const char *name = img_disk_name (disk);
  unsigned ss = 512;
  size_t i;
  int r = -EINVAL;

  /* The header sits at LBA 1, whose byte offset depends on the logical
   * sector size, which an image file does not record: try both. */
  for (i = 0; i < ARRAY_SIZE (sizes); i++) {
    ss = sizes[i];
    r = read_header (disk, ss, 1, &h, &entries, why1, sizeof why1);
    if (r == 0 || strstr (why1, "no signature") == NULL)
      break;
  }
  if (r == -ENOMEM)
    return img_err (ctx, r, "%s: gpt: out of memory", name);
  if (r < 0) {
    uint64_t last;

    if (strstr (why1, "no signature"))
      ss = 512;
    last = img_disk_size (disk) / ss - 1;
    r = read_header (disk, ss, last, &h, &entries, why2, sizeof why2);
    if (r < 0)
      return img_err (ctx, r == -ENOMEM ? r : -EINVAL,
                      "%s: gpt: both GPT headers are damaged (primary: %s; backup: %s)",
                      name, why1, why2);
    img_warn (ctx, "%s: gpt: primary GPT header is damaged (%s); using the backup at sector %" PRIu64,
              name, why1, last);
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
    name_to_utf8 (e + 56, 36, part.name, sizeof part.name);
    r = img_internal_ptable_add (ctx, disk, pt, &part);
    if (r < 0)
      return r;
  }
  return 0;
}
