/* Filesystem and signature probing on a volume: type, UUID and label, as
 * blkid reports them, for the signatures guests use (md RAID members,
 * ext2/3/4, xfs, btrfs, swap, LVM2 PV, LUKS, vfat, ntfs, iso9660,
 * squashfs).  Read-only; a signature past the end of a small volume is
 * simply absent. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "volume/volume-private.h"

bool
img_internal_probe_read (struct img_ctx *ctx, const struct img_volume *vol,
                         void *buf, size_t len, uint64_t off, int *r)
{
  uint64_t end;

  *r = 0;
  if (add_overflow_u64 (off, len, &end) || end > vol->size)
    return false;
  *r = img_volume_pread (ctx, vol, buf, len, off);
  return *r == 0;
}

/* A UUID of all zeros means "none" (tune2fs -U clear); blkid does not
 * report it either. */
static void
set_uuid (char *out, const unsigned char *u)
{
  static const unsigned char zero[16];

  if (memcmp (u, zero, sizeof zero) == 0)
    out[0] = '\0';
  else
    img_internal_uuid_to_string (u, out);
}

void
img_internal_probe_trim (char *label)
{
  size_t n = strlen (label);

  while (n > 0 && (label[n - 1] == ' ' || label[n - 1] == '\t' || label[n - 1] == '\n'
                   || label[n - 1] == '\r' || label[n - 1] == '\v' || label[n - 1] == '\f'))
    label[--n] = '\0';
}

void
img_internal_probe_label (char *out, size_t outlen, const unsigned char *p, size_t len)
{
  size_t n = 0;

  while (n < len && p[n] != '\0' && n + 1 < outlen)
    n++;
  memcpy (out, p, n);
  out[n] = '\0';
  /* Trailing blanks pad FAT labels. */
  while (n > 0 && out[n - 1] == ' ')
    out[--n] = '\0';
}

/* ext2/3/4 (superblock at 1024).  The type follows blkid's rule: ext4 if
 * any feature ext3 does not know is set, ext3 if it has a journal. */
#define EXT_COMPAT_HAS_JOURNAL 0x0004
#define EXT_INCOMPAT_FILETYPE 0x0002
#define EXT_INCOMPAT_RECOVER 0x0004
#define EXT_INCOMPAT_JOURNAL_DEV 0x0008
#define EXT_INCOMPAT_META_BG 0x0010
#define EXT_RO_COMPAT_SPARSE_SUPER 0x0001
#define EXT_RO_COMPAT_LARGE_FILE 0x0002
#define EXT_RO_COMPAT_BTREE_DIR 0x0004

static bool
probe_ext (const unsigned char *sb, struct img_fsinfo *info)
{
  uint32_t compat, incompat, ro_compat;

  if (get_le16 (sb + 56) != 0xef53)
    return false;
  compat = get_le32 (sb + 92);
  incompat = get_le32 (sb + 96);
  ro_compat = get_le32 (sb + 100);
  if (incompat & EXT_INCOMPAT_JOURNAL_DEV)
    snprintf (info->type, sizeof info->type, "jbd");
  else if ((incompat & ~(EXT_INCOMPAT_FILETYPE | EXT_INCOMPAT_RECOVER | EXT_INCOMPAT_META_BG))
           || (ro_compat & ~(EXT_RO_COMPAT_SPARSE_SUPER | EXT_RO_COMPAT_LARGE_FILE | EXT_RO_COMPAT_BTREE_DIR)))
    snprintf (info->type, sizeof info->type, "ext4");
  else if (compat & EXT_COMPAT_HAS_JOURNAL)
    snprintf (info->type, sizeof info->type, "ext3");
  else
    snprintf (info->type, sizeof info->type, "ext2");
  set_uuid (info->uuid, sb + 104);
  img_internal_probe_label (info->label, sizeof info->label, sb + 120, 16);
  return true;
}

static void
lvm_uuid (const unsigned char *p, char *out)
{
  /* 32 characters shown as 6-4-4-4-4-4-6, as lvm2 prints them. */
  static const int groups[] = { 6, 4, 4, 4, 4, 4, 6 };
  size_t g, o = 0, i = 0;

  for (g = 0; g < ARRAY_SIZE (groups); g++) {
    int k;
    if (g > 0)
      out[o++] = '-';
    for (k = 0; k < groups[g]; k++) {
      unsigned char c = p[i++];
      out[o++] = (c >= 0x21 && c < 0x7f) ? c : '?';
    }
  }
  out[o] = '\0';
}

/* blkid's linux_raid_member: UUID the array's, LABEL the 1.x name. */
static int
probe_md (struct img_ctx *ctx, const struct img_volume *vol,
          struct img_fsinfo *info)
{
  struct img_md_super sb;
  int r;

  r = img_internal_md_read_super (ctx, vol, &sb);
  if (r <= 0)
    return r;
  snprintf (info->type, sizeof info->type, "linux_raid_member");
  set_uuid (info->uuid, sb.uuid);
  img_internal_probe_label (info->label, sizeof info->label,
                            (const unsigned char *) sb.name, sizeof sb.name);
  return 1;
}

int
img_probe (struct img_ctx *ctx, const struct img_volume *vol,
           struct img_fsinfo *info)
{
  unsigned char buf[4096];
  static const unsigned page_sizes[] = { 4096, 8192, 16384, 32768, 65536 };
  size_t i;
  int r;

  memset (info, 0, sizeof *info);

  /* md RAID first, as blkid does: a 0.90 or 1.0 member holds its
   * array's data from byte 0, so it also looks like what the array holds. */
  r = probe_md (ctx, vol, info);
  if (r != 0)
    return r < 0 ? r : 0;

  /* Signatures in the first 4 KiB: LVM2 label, LUKS, xfs, vfat, ext. */
  if (img_internal_probe_read (ctx, vol, buf, sizeof buf, 0, &r)) {
    for (i = 0; i < 4; i++) {
      const unsigned char *s = buf + IMG_SECTOR_SIZE * i;
      if (memcmp (s, "LABELONE", 8) == 0 && memcmp (s + 24, "LVM2 001", 8) == 0) {
        uint32_t off = get_le32 (s + 20);       /* pv_header offset */
        snprintf (info->type, sizeof info->type, "LVM2_member");
        /* (Not off + 32 <= IMG_SECTOR_SIZE: near 2^32 that wraps.) */
        if (off >= 32 && off <= IMG_SECTOR_SIZE - 32)
          lvm_uuid (s + off, info->uuid);
        return 0;
      }
    }
    if (memcmp (buf, "LUKS\xba\xbe", 6) == 0) {
      snprintf (info->type, sizeof info->type, "crypto_LUKS");
      img_internal_probe_label (info->uuid, sizeof info->uuid, buf + 168, 40);
      if (get_be16 (buf + 6) == 2)
        img_internal_probe_label (info->label, sizeof info->label, buf + 24, 48);
      return 0;
    }
    if (memcmp (buf, "XFSB", 4) == 0) {
      snprintf (info->type, sizeof info->type, "xfs");
      set_uuid (info->uuid, buf + 32);
      img_internal_probe_label (info->label, sizeof info->label, buf + 108, 12);
      return 0;
    }
    if (probe_ext (buf + 1024, info))
      return 0;
    /* squashfs 4 (little-endian "hsqs"; older versions are "squashfs3"
     * to blkid); no UUID or label. */
    if (memcmp (buf, "hsqs", 4) == 0 || memcmp (buf, "sqsh", 4) == 0) {
      bool le = buf[0] == 'h';
      unsigned major = le ? get_le16 (buf + 28) : get_be16 (buf + 28);
      snprintf (info->type, sizeof info->type, le && major >= 4 ? "squashfs" : "squashfs3");
      return 0;
    }
    if ((r = img_internal_probe_ntfs (ctx, vol, buf, info)) < 0 || info->type[0])
      return r;
    if (buf[510] == 0x55 && buf[511] == 0xaa
        && (memcmp (buf + 0x52, "FAT32   ", 8) == 0
            || memcmp (buf + 0x36, "FAT12   ", 8) == 0
            || memcmp (buf + 0x36, "FAT16   ", 8) == 0)) {
      bool fat32 = memcmp (buf + 0x52, "FAT32", 5) == 0;
      uint32_t id = get_le32 (buf + (fat32 ? 67 : 39));
      snprintf (info->type, sizeof info->type, "vfat");
      snprintf (info->uuid, sizeof info->uuid, "%04X-%04X", id >> 16, id & 0xffff);
      img_internal_probe_label (info->label, sizeof info->label, buf + (fat32 ? 71 : 43), 11);
      if (strcmp (info->label, "NO NAME") == 0)
        info->label[0] = '\0';
      return 0;
    }
  }
  else if (r < 0)
    return r;
  else if (img_internal_probe_read (ctx, vol, buf, 2048, 0, &r) && probe_ext (buf + 1024, info))
    return 0;
  else if (r < 0)
    return r;

  if ((r = img_internal_probe_iso9660 (ctx, vol, info)) < 0 || info->type[0])
    return r;

  /* btrfs: superblock at 64 KiB. */
  if (img_internal_probe_read (ctx, vol, buf, sizeof buf, 65536, &r)
      && memcmp (buf + 64, "_BHRfS_M", 8) == 0) {
    snprintf (info->type, sizeof info->type, "btrfs");
    set_uuid (info->uuid, buf + 32);
    img_internal_probe_label (info->label, sizeof info->label, buf + 0x12b, 256);
    return 0;
  }
  if (r < 0)
    return r;

  /* swap: the signature ends the first page, whatever the page size. */
  for (i = 0; i < ARRAY_SIZE (page_sizes); i++) {
    unsigned char sig[10];
    if (!img_internal_probe_read (ctx, vol, sig, sizeof sig, page_sizes[i] - 10, &r)) {
      if (r < 0)
        return r;
      break;
    }
    if (memcmp (sig, "SWAPSPACE2", 10) == 0 || memcmp (sig, "SWAP-SPACE", 10) == 0) {
      snprintf (info->type, sizeof info->type, "swap");
      if (memcmp (sig, "SWAPSPACE2", 10) == 0
          && img_internal_probe_read (ctx, vol, buf, 64, 1024, &r)) {
        set_uuid (info->uuid, buf + 12);
        img_internal_probe_label (info->label, sizeof info->label, buf + 28, 16);
      }
      return r;
    }
  }
  return 0;
}
