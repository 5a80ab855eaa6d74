/* MBR ("dos") partition tables with extended and logical partitions.
 * The EBR chain lives on disk and is hostile: every link must stay inside
 * the extended partition and never revisit a sector. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "volume/volume-private.h"

#define MBR_ENTRY_OFF 446
#define MBR_MAX_LOGICAL 256     /* Linux stops far below this too */

struct mbr_entry {
  unsigned char boot;
  unsigned char type;
  uint32_t lba;
  uint32_t sectors;
};

static void
decode_entry (const unsigned char *sector, int i, struct mbr_entry *e)
{
  const unsigned char *p = sector + MBR_ENTRY_OFF + 16 * i;

  e->boot = p[0];
  e->type = p[4];
  e->lba = get_le32 (p + 8);
  e->sectors = get_le32 (p + 12);
}

static bool
is_extended (unsigned char type)
{
  return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Checks that a partition lies inside the disk and records it. */
static int
add (struct img_ctx *ctx, const struct img_internal_ptsrc *src, struct img_ptable *pt,
     unsigned number, enum img_part_kind kind, const struct mbr_entry *e,
     uint64_t abs_lba)
{
  struct img_part part = { 0 };
  uint64_t end;

  part.number = number;
  part.kind = kind;
  part.start = abs_lba * IMG_SECTOR_SIZE;
  part.size = (uint64_t) e->sectors * IMG_SECTOR_SIZE;
  part.mbr_type = e->type;
  part.bootable = e->boot == 0x80;
  snprintf (part.uuid, sizeof part.uuid, "%.8s-%02x", pt->id, number & 0xff);
  /* An extended partition's own size is not data; only its EBRs must be
   * readable, which the chain walk checks. */
  end = part.start + part.size;
  if (kind != IMG_PART_EXTENDED && end > src->size)
    return img_err (ctx, -EIO,
                    "%s: mbr: partition %u (%" PRIu64 "-%" PRIu64 ") extends past the end of the %s (%" PRIu64 " bytes); the %s is truncated or the table is corrupt",
                    src->name, number, part.start, end,
                    src->what, src->size, src->what);
  return img_internal_ptable_add (ctx, src, pt, &part);
}

static int
walk_ebr_chain (struct img_ctx *ctx, const struct img_internal_ptsrc *src,
                struct img_ptable *pt, uint64_t ext_lba, uint64_t ext_sectors)
{
  uint64_t ebr = ext_lba, visited[MBR_MAX_LOGICAL];
  unsigned number = 5;
  size_t n_visited = 0, i;
  unsigned char s[IMG_SECTOR_SIZE];
  int r;

  for (;;) {
    struct mbr_entry logical, next;

    for (i = 0; i < n_visited; i++)
      if (visited[i] == ebr)
        return img_err (ctx, -ELOOP,
                        "%s: mbr: the extended partition's EBR chain loops (sector %" PRIu64 " is linked twice)",
                        src->name, ebr);
    if (n_visited == MBR_MAX_LOGICAL)
      return img_err (ctx, -E2BIG,
                      "%s: mbr: more than %d logical partitions; the EBR chain is corrupt",
                      src->name, MBR_MAX_LOGICAL);
    visited[n_visited++] = ebr;

    r = img_internal_ptsrc_pread (src, s, sizeof s, ebr * IMG_SECTOR_SIZE);
    if (r < 0)
      return r;
    if (s[510] != 0x55 || s[511] != 0xaa)
      return img_err (ctx, -EINVAL,
                      "%s: mbr: extended boot record at sector %" PRIu64 " has no 0x55AA signature",
                      src->name, ebr);
    decode_entry (s, 0, &logical);
    decode_entry (s, 1, &next);

    if (logical.type != 0 && logical.sectors != 0) {
      uint64_t start = ebr + logical.lba;
      if (start + logical.sectors > ext_lba + ext_sectors || logical.lba == 0)
        return img_err (ctx, -EINVAL,
                        "%s: mbr: logical partition %u lies outside its extended partition",
                        src->name, number);
      r = add (ctx, src, pt, number++, IMG_PART_LOGICAL, &logical, start);
      if (r < 0)
        return r;
    }
    if (next.sectors == 0 || !is_extended (next.type))
      return 0;
    /* A link of 0 points back at the first EBR: the loop check says so. */
    if ((uint64_t) next.lba >= ext_sectors)
      return img_err (ctx, -EINVAL,
                      "%s: mbr: EBR at sector %" PRIu64 " links to sector %" PRIu64 ", outside the extended partition",
                      src->name, ebr, ext_lba + next.lba);
    ebr = ext_lba + next.lba;
  }
}

int
img_internal_mbr_read (struct img_ctx *ctx, const struct img_internal_ptsrc *src,
                       const unsigned char *s0, struct img_ptable *pt)
{
  bool have_ext = false;
  int i, r;

  pt->type = IMG_PTABLE_MBR;
  snprintf (pt->id, sizeof pt->id, "%08x", get_le32 (s0 + 440));

  for (i = 0; i < 4; i++) {
    struct mbr_entry e;

    decode_entry (s0, i, &e);
    if (e.type == 0 || e.sectors == 0)
      continue;
    if (is_extended (e.type)) {
      if (have_ext)
        return img_err (ctx, -EINVAL,
                        "%s: mbr: more than one extended partition",
                        src->name);
      have_ext = true;
      r = add (ctx, src, pt, i + 1, IMG_PART_EXTENDED, &e, e.lba);
      if (r < 0)
        return r;
      r = walk_ebr_chain (ctx, src, pt, e.lba, e.sectors);
      if (r < 0)
        return r;
      continue;
    }
    r = add (ctx, src, pt, i + 1, IMG_PART_PRIMARY, &e, e.lba);
    if (r < 0)
      return r;
  }
  return 0;
}
