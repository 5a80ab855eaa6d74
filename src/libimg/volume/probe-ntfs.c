/* The NTFS signature: the boot sector's OEM id and geometry, then the
 * $Volume record of the MFT for the label, as blkid reads them.  No NTFS
 * data is interpreted beyond that: there is no NTFS reader here. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "volume/volume-private.h"

#define NTFS_MFT_RECORD_VOLUME 3
#define NTFS_ATTR_VOLUME_NAME 0x60
#define NTFS_ATTR_END 0xffffffffu
#define NTFS_ATTR_HEADER 22     /* up to the value offset */
#define NTFS_MAX_CLUSTER (2 * 1024 * 1024)
/* What is read of a record: MFT records are 1 or 4 KiB in practice; a
 * bigger one is walked only this far. */
#define NTFS_READ_MAX 65536

static bool
power_of_two (uint32_t v)
{
  return v && (v & (v - 1)) == 0;
}

/* The geometry blkid accepts: sector 256..4096 bytes, 1..128 sectors a
 * cluster (or 2^(256-n) for n in 240..249), a cluster of at most 2 MiB,
 * the FAT-era fields zero, clusters per MFT record 1..64 or -31..-9
 * (2^-n bytes), the MFT and its mirror inside the volume.  *MFT is the
 * byte offset of the MFT. */
static bool
ntfs_geometry (const unsigned char *b, uint64_t *mft, uint64_t *record)
{
  uint32_t sector = get_le16 (b + 0x0b), spc = b[0x0d], cluster;
  int8_t cpr = (int8_t) b[0x40];
  uint64_t clusters;

  if (!power_of_two (sector) || sector < 256 || sector > 4096)
    return false;
  if (spc >= 240 && spc <= 249)
    spc = 1u << (256 - spc);
  else if (!power_of_two (spc) || spc > 128)
    return false;
  if ((uint64_t) spc * sector > NTFS_MAX_CLUSTER)
    return false;
  cluster = spc * sector;
  if (get_le16 (b + 0x0e) || b[0x10] || get_le16 (b + 0x11) || get_le16 (b + 0x13)
      || get_le16 (b + 0x16) || get_le32 (b + 0x20))
    return false;
  if (cpr > 0 && cpr <= 64 && power_of_two ((uint32_t) cpr))
    *record = (uint64_t) cpr * cluster;
  else if (cpr >= -31 && cpr <= -9)
    *record = (uint64_t) 1 << -cpr;
  else
    return false;
  clusters = get_le64 (b + 0x28) / spc;
  if (get_le64 (b + 0x30) > clusters || get_le64 (b + 0x38) > clusters)
    return false;
  return !mul_overflow_u64 (get_le64 (b + 0x30), cluster, mft);
}

/* The $VOLUME_NAME attribute of the $Volume record REC (LEN bytes read
 * of it, ALLOCATED its own bytes_allocated), walked as blkid walks it. */
static void
ntfs_label (const unsigned char *rec, size_t len, struct img_fsinfo *info)
{
  uint64_t off = get_le16 (rec + 0x14), allocated = get_le32 (rec + 0x1c);

  while (off + NTFS_ATTR_HEADER <= len && off <= allocated) {
    uint32_t type = get_le32 (rec + off), alen = get_le32 (rec + off + 4);
    if (alen == 0 || type == NTFS_ATTR_END)
      return;
    if (type == NTFS_ATTR_VOLUME_NAME) {
      uint64_t voff = get_le16 (rec + off + 0x14), vlen = get_le32 (rec + off + 0x10);
      if (off + voff + vlen <= len)
        img_internal_utf16_to_utf8 (rec + off + voff, vlen / 2, false,
                                    info->label, sizeof info->label);
      img_internal_probe_trim (info->label);
      return;
    }
    off += alen;                /* alen > 0: strictly progresses */
  }
}

int
img_internal_probe_ntfs (struct img_ctx *ctx, const struct img_volume *vol,
                         const unsigned char *boot, struct img_fsinfo *info)
{
  unsigned char *rec;
  uint64_t mft, reclen, vrec;
  size_t len;
  int r = 0;

  if (memcmp (boot + 3, "NTFS    ", 8) != 0 || !ntfs_geometry (boot, &mft, &reclen))
    return 0;
  if (mul_overflow_u64 (reclen, NTFS_MFT_RECORD_VOLUME, &vrec)
      || add_overflow_u64 (mft, vrec, &vrec))
    return 0;
  len = reclen < NTFS_READ_MAX ? reclen : NTFS_READ_MAX;
  if ((rec = malloc (len)) == NULL)
    return img_err (ctx, -ENOMEM, "%s: ntfs: out of memory", vol->name);
  /* blkid wants the MFT's first record and $Volume to start "FILE". */
  if (img_internal_probe_read (ctx, vol, rec, len, mft, &r) && memcmp (rec, "FILE", 4) == 0
      && img_internal_probe_read (ctx, vol, rec, len, vrec, &r) && memcmp (rec, "FILE", 4) == 0) {
    snprintf (info->type, sizeof info->type, "ntfs");
    snprintf (info->uuid, sizeof info->uuid, "%016" PRIX64, get_le64 (boot + 0x48));
    ntfs_label (rec, len, info);
  }
  free (rec);
  return r;
}
