/* Partition tables: decide between none, MBR and GPT, and name the
 * partition types.  The readers themselves are mbr.c and gpt.c. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "private.h"
#include "volume/volume-private.h"

int
img_internal_ptsrc_pread (const struct img_internal_ptsrc *src, void *buf,
                          size_t len, uint64_t off)
{
  if (src->disk != NULL)
    return img_disk_pread (src->disk, buf, len, off);
  return img_volume_pread (src->ctx, src->vol, buf, len, off);
}

int
img_internal_ptable_add (struct img_ctx *ctx,
                         const struct img_internal_ptsrc *src,
                         struct img_ptable *pt, const struct img_part *part)
{
  struct img_part *parts;

  parts = realloc (pt->parts, (pt->n_parts + 1) * sizeof *parts);
  if (parts == NULL)
    return img_err (ctx, -ENOMEM, "%s: partitions: out of memory", src->name);
  pt->parts = parts;
  parts[pt->n_parts++] = *part;
  return 0;
}

static int
cmp_part (const void *a, const void *b)
{
  const struct img_part *pa = a, *pb = b;

  return pa->number < pb->number ? -1 : pa->number > pb->number;
}

/* A sector with 0x55AA that is really a FAT boot sector (a whole-disk
 * filesystem), not a partition table. */
static bool
looks_like_fat (const unsigned char *s)
{
  return memcmp (s + 0x36, "FAT", 3) == 0 || memcmp (s + 0x52, "FAT32", 5) == 0
    || memcmp (s + 3, "NTFS    ", 8) == 0 || memcmp (s + 3, "EXFAT   ", 8) == 0;
}

/* Reads the table (if any) at the start of SRC. */
static int
read_table (struct img_ctx *ctx, const struct img_internal_ptsrc *src,
            struct img_ptable **ptp)
{
  struct img_ptable *pt;
  unsigned char s0[IMG_SECTOR_SIZE];
  bool protective = false;
  int r, i;

  pt = calloc (1, sizeof *pt);
  if (pt == NULL)
    return img_err (ctx, -ENOMEM, "%s: partitions: out of memory",
                    src->name);
  pt->sector_size = IMG_SECTOR_SIZE;

  /* Less than a sector holds neither a table nor a filesystem: an empty
   * or cut-off file, not a disk to report as blank. */
  if (src->size < IMG_SECTOR_SIZE) {
    r = img_err (ctx, -EINVAL,
                 "%s: %s: %s is only %" PRIu64 " bytes, smaller than one 512-byte sector; it is empty or truncated",
                 src->name, src->disk ? "disk" : "md", src->what, src->size);
    goto err;
  }
  r = img_internal_ptsrc_pread (src, s0, sizeof s0, 0);
  if (r < 0)
    goto err;
  if (s0[510] != 0x55 || s0[511] != 0xaa || looks_like_fat (s0)) {
    *ptp = pt;
    return 0;
  }
  for (i = 0; i < 4; i++) {
    unsigned char boot = s0[446 + 16 * i];
    if (boot != 0x00 && boot != 0x80) {
      /* Not a partition table: boot code of a whole-disk something. */
      *ptp = pt;
      return 0;
    }
    if (s0[446 + 16 * i + 4] == 0xee)
      protective = true;
  }

  if (protective)
    r = img_internal_gpt_read (ctx, src, pt);
  else
    r = img_internal_mbr_read (ctx, src, s0, pt);
  if (r < 0)
    goto err;
  if (pt->n_parts > 1)          /* parts is NULL when there are none */
    qsort (pt->parts, pt->n_parts, sizeof *pt->parts, cmp_part);
  *ptp = pt;
  return 0;

 err:
  img_ptable_free (pt);
  return r;
}

int
img_ptable_read (struct img_ctx *ctx, struct img_disk *disk,
                 struct img_ptable **ptp)
{
  struct img_internal_ptsrc src = {
    .ctx = ctx, .name = img_disk_name (disk), .what = "image",
    .size = img_disk_size (disk), .disk = disk,
  };

  return read_table (ctx, &src, ptp);
}

int
img_internal_ptable_read_volume (struct img_ctx *ctx,
                                 const struct img_volume *vol,
                                 const char *name, struct img_ptable **ptp)
{
  struct img_internal_ptsrc src = {
    .ctx = ctx, .name = name, .what = "md array", .size = vol->size,
    .vol = vol,
  };

  return read_table (ctx, &src, ptp);
}

void
img_ptable_free (struct img_ptable *pt)
{
  if (pt == NULL)
    return;
  free (pt->parts);
  free (pt);
}

const char *
img_ptable_type_name (enum img_ptable_type type)
{
  switch (type) {
  case IMG_PTABLE_MBR: return "dos";
  case IMG_PTABLE_GPT: return "gpt";
  case IMG_PTABLE_NONE: break;
  }
  return "none";
}

const char *
img_part_type_name (const struct img_part *part)
{
  static const struct { unsigned id; const char *name; } mbr[] = {
    { 0x05, "Extended" }, { 0x06, "FAT16" }, { 0x07, "HPFS/NTFS/exFAT" },
    { 0x0b, "W95 FAT32" }, { 0x0c, "W95 FAT32 (LBA)" }, { 0x0e, "W95 FAT16 (LBA)" },
    { 0x0f, "W95 Ext'd (LBA)" }, { 0x82, "Linux swap / Solaris" },
    { 0x83, "Linux" }, { 0x85, "Linux extended" }, { 0x8e, "Linux LVM" },
    { 0xa5, "FreeBSD" }, { 0xee, "GPT" }, { 0xef, "EFI (FAT-12/16/32)" },
    { 0xfd, "Linux raid autodetect" },
  };
  static const struct { const char *guid; const char *name; } gpt[] = {
    { "0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux filesystem" },
    { "e6d6d379-f507-44c2-a23c-238f2a3df928", "Linux LVM" },
    { "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "Linux swap" },
    { "a19d880f-05fc-4d3b-a006-743f0f84911e", "Linux RAID" },
    { "4f68bce3-e8cd-4db1-96e7-fbcaf984b709", "Linux root (x86-64)" },
    { "44479540-f297-41b2-9af7-d131d5f0458a", "Linux root (x86)" },
    { "933ac7e1-2eb4-4f13-b844-0e14e2aef915", "Linux home" },
    { "3b8f8425-20e0-4f3b-907f-1a25a76f98e8", "Linux server data" },
    { "bc13c2ff-59e6-4262-a352-b275fd6f7172", "Linux extended boot" },
    { "21686148-6449-6e6f-744e-656564454649", "BIOS boot" },
    { "c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "EFI System" },
    { "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7", "Microsoft basic data" },
    { "e3c9e316-0b5c-4db8-817d-f92df00215ae", "Microsoft reserved" },
    { "ca7d7ccb-63ed-4c53-861c-1742536059cc", "LUKS" },
  };
  size_t i;

  if (part->type_guid[0]) {
    for (i = 0; i < ARRAY_SIZE (gpt); i++)
      if (strcasecmp (part->type_guid, gpt[i].guid) == 0)
        return gpt[i].name;
    return NULL;
  }
  for (i = 0; i < ARRAY_SIZE (mbr); i++)
    if (part->mbr_type == mbr[i].id)
      return mbr[i].name;
  return NULL;
}
