/* The NTFS signature: the boot sector's OEM id and geometry, then the
 * $Volume record of the MFT for the label, as blkid reads them.  No NTFS
 * data is interpreted beyond that: there is no NTFS reader here. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "volume/volume-private.h"

#define NTFS_MFT_RECORD_VOLUME 3
#define NTFS_ATTR_VOLUME_NAME 0x60
#define NTFS_ATTR_END 0xffffffffu
#define NTFS_MAX_RECORD 65536

static bool
power_of_two (uint32_t v)
{
  return v && (v & (v - 1)) == 0;
}

/* The geometry blkid accepts: sector 256..4096 bytes, cluster at most
 * 2 MiB, the FAT-era fields zero, an MFT record 512..64 KiB. */
static bool
ntfs_geometry (const unsigned char *b, uint32_t *cluster, uint32_t *record)
{
  uint32_t sector = get_le16 (b + 0x0b), spc = b[0x0d];
  int8_t cpr = (int8_t) b[0x40];

  if (!power_of_two (sector) || sector < 256 || sector > 4096)
    return false;
  if (spc >= 0xf4)              /* newer mkntfs: 2^(256 - n) sectors */
    spc = 1u << (256 - spc);
  if (!power_of_two (spc) || (uint64_t) spc * sector > 2 * 1024 * 1024)
    return false;
  if (get_le16 (b + 0x0e) || b[0x10] || get_le16 (b + 0x11) || get_le16 (b + 0x13)
      || get_le16 (b + 0x16) || get_le32 (b + 0x20))
    return false;
  *cluster = spc * sector;
  if (cpr > 0)
    *record = (uint32_t) cpr * *cluster;
  else if (cpr < 0 && cpr >= -31)
    *record = 1u << -cpr;
  else
    return false;
  return *record >= 512 && *record <= NTFS_MAX_RECORD && power_of_two (*record);
}

/* The $VOLUME_NAME attribute of the $Volume record REC (LEN bytes). */
static void
ntfs_label (const unsigned char *rec, uint32_t len, struct img_fsinfo *info)
{
  uint32_t off = get_le16 (rec + 0x14);

  while (off <= len - 24) {
    uint32_t type = get_le32 (rec + off), alen = get_le32 (rec + off + 4);
    if (type == NTFS_ATTR_END || alen < 24 || alen > len - off)
      return;                   /* end, or a length that would not progress */
    if (type == NTFS_ATTR_VOLUME_NAME && rec[off + 8] == 0) {   /* resident */
      uint32_t vlen = get_le32 (rec + off + 0x10), voff = get_le16 (rec + off + 0x14);
      if (voff <= alen && vlen <= alen - voff)
        img_internal_utf16_to_utf8 (rec + off + voff, vlen / 2, false,
                                    info->label, sizeof info->label);
      return;
    }
    off += alen;
  }
}

int
img_internal_probe_ntfs (struct img_ctx *ctx, const struct img_volume *vol,
                         const unsigned char *boot, struct img_fsinfo *info)
{
  unsigned char rec[NTFS_MAX_RECORD];
  uint32_t cluster, reclen;
  uint64_t mft, vrec;
  int r;

  if (memcmp (boot + 3, "NTFS    ", 8) != 0 || !ntfs_geometry (boot, &cluster, &reclen))
    return 0;
  /* blkid wants the MFT's first record and $Volume to carry "FILE". */
  if (mul_overflow_u64 (get_le64 (boot + 0x30), cluster, &mft)
      || add_overflow_u64 (mft, (uint64_t) NTFS_MFT_RECORD_VOLUME * reclen, &vrec))
    return 0;
  if (!img_internal_probe_read (ctx, vol, rec, reclen, mft, &r))
    return r;
  if (memcmp (rec, "FILE", 4) != 0)
    return 0;
  if (!img_internal_probe_read (ctx, vol, rec, reclen, vrec, &r))
    return r;
  if (memcmp (rec, "FILE", 4) != 0)
    return 0;
  snprintf (info->type, sizeof info->type, "ntfs");
  snprintf (info->uuid, sizeof info->uuid, "%016" PRIX64, get_le64 (boot + 0x48));
  ntfs_label (rec, reclen, info);
  return 0;
}
