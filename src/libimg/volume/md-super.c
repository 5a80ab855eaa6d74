/* Linux md RAID superblocks, read as blkid and the kernel find them:
 * 0.90 (in the last 64 KiB-aligned 64 KiB of the member, in the byte
 * order of the machine that wrote it) and 1.x (little-endian: 1.0 near
 * the end, 1.1 at the start, 1.2 at 4 KiB).  Only what inspection needs
 * is decoded; every field comes off a guest disk and is checked here or
 * by md.c before it sizes or places anything. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "volume/volume-private.h"

#define MD_MAGIC 0xa92b4efcU
#define MD_SB_BYTES 4096
#define MD_RESERVED_BYTES 65536

/* 0.90: 1024 32-bit words; the numbers below are word indexes. */
#define SB0_MAJOR 1
#define SB0_MINOR 2
#define SB0_UUID0 5
#define SB0_LEVEL 7
#define SB0_SIZE_KIB 8
#define SB0_RAID_DISKS 10
#define SB0_MD_MINOR 11
#define SB0_UUID1 13
#define SB0_CSUM 38
#define SB0_EVENTS_A 39           /* low word on little-endian writers */
#define SB0_EVENTS_B 40
#define SB0_THIS_DISK 992         /* number, major, minor, raid_disk, state */
#define SB0_MAX_DISKS 27
#define SB0_DISK_FAULTY 0
#define SB0_DISK_ACTIVE 1
#define SB0_DISK_SYNC 2

/* 1.x: byte offsets. */
#define SB1_MAJOR 4
#define SB1_FEATURES 8
#define SB1_UUID 16
#define SB1_NAME 32
#define SB1_LEVEL 72
#define SB1_SIZE 80
#define SB1_RAID_DISKS 92
#define SB1_DATA_OFFSET 128
#define SB1_DATA_SIZE 136
#define SB1_SUPER_OFFSET 144
#define SB1_RECOVERY_OFFSET 152
#define SB1_DEV_NUMBER 160
#define SB1_DEV_UUID 168
#define SB1_EVENTS 200
#define SB1_CSUM 216
#define SB1_MAX_DEV 220
#define SB1_ROLES 256
#define SB1_FEATURE_RECOVERY 2
#define SB1_ROLE_MAX 0xff00
#define SB1_ROLE_SPARE 0xffff
#define SB1_ROLE_FAULTY 0xfffe
/* The roles must fit in the 4 KiB read: (4096 - 256) / 2. */
#define SB1_MAX_DEVS ((MD_SB_BYTES - SB1_ROLES) / 2)

_Static_assert (SB0_THIS_DISK * 4 + 5 * 4 <= MD_SB_BYTES, "0.90 this_disk inside the superblock");
_Static_assert (SB1_ROLES + 2 * SB1_MAX_DEVS <= MD_SB_BYTES, "1.x roles inside the read");

/* Reads the 4 KiB at OFF if it lies inside VOL.  1 read, 0 does not fit. */
static int
read_block (struct img_ctx *ctx, const struct img_volume *vol, uint64_t off,
            unsigned char *buf)
{
  uint64_t end;
  int r;

  if (add_overflow_u64 (off, MD_SB_BYTES, &end) || end > vol->size)
    return 0;
  r = img_volume_pread (ctx, vol, buf, MD_SB_BYTES, off);
  return r < 0 ? r : 1;
}

/* md's checksum: 32-bit words summed into 64 bits, the carry folded in
 * once.  WORD reads one word in the superblock's byte order; SKIP is the
 * word holding the checksum itself, counted as zero. */
static uint32_t
fold_sum (const unsigned char *buf, size_t bytes, size_t skip, bool be)
{
  uint64_t sum = 0;
  size_t i;

  for (i = 0; i + 4 <= bytes; i += 4)
    if (i / 4 != skip)
      sum += be ? get_be32 (buf + i) : get_le32 (buf + i);
  if (bytes % 4 == 2)
    sum += be ? get_be16 (buf + bytes - 2) : get_le16 (buf + bytes - 2);
  return (uint32_t) ((sum & 0xffffffffU) + (sum >> 32));
}

/* Fuzzing builds take every checksum as good, so that mutated
 * superblocks reach the checks behind it. */
static bool
csum_ok (const unsigned char *buf, size_t bytes, size_t skip, bool be,
         uint32_t want)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void) buf;
  (void) bytes;
  (void) skip;
  (void) be;
  (void) want;
  return true;
#else
  return fold_sum (buf, bytes, skip, be) == want;
#endif
}

static uint32_t
w0 (const unsigned char *buf, unsigned word, bool be)
{
  return be ? get_be32 (buf + 4 * word) : get_le32 (buf + 4 * word);
}

static int
read_090 (struct img_ctx *ctx, const struct img_volume *vol,
          struct img_md_super *sb)
{
  unsigned char buf[MD_SB_BYTES];
  uint64_t off, kib;
  uint32_t state, raid_disk;
  bool be;
  int r;

  if (vol->size < MD_RESERVED_BYTES)
    return 0;
  off = (vol->size & ~(uint64_t) (MD_RESERVED_BYTES - 1)) - MD_RESERVED_BYTES;
  r = read_block (ctx, vol, off, buf);
  if (r <= 0)
    return r;
  if (get_le32 (buf) == MD_MAGIC)
    be = false;
  else if (get_be32 (buf) == MD_MAGIC)
    be = true;
  else
    return 0;
  if (w0 (buf, SB0_MAJOR, be) != 0 || w0 (buf, SB0_MINOR, be) != 90) {
    img_dbg (ctx, "%s: md: 0.90 magic but version %u.%u; ignored", vol->name,
             w0 (buf, SB0_MAJOR, be), w0 (buf, SB0_MINOR, be));
    return 0;
  }
  if (!csum_ok (buf, MD_SB_BYTES, SB0_CSUM, be, w0 (buf, SB0_CSUM, be))) {
    img_dbg (ctx, "%s: md: 0.90 superblock checksum mismatch; ignored", vol->name);
    return 0;
  }
  memset (sb, 0, sizeof *sb);
  snprintf (sb->metadata, sizeof sb->metadata, "0.90");
  sb->big_endian = be;
  sb->sb_offset = off;
  /* The UUID is the four words as they lie on disk, as blkid shows it. */
  memcpy (sb->uuid, buf + 4 * SB0_UUID0, 4);
  memcpy (sb->uuid + 4, buf + 4 * SB0_UUID1, 12);
  sb->level = (int32_t) w0 (buf, SB0_LEVEL, be);
  sb->raid_disks = w0 (buf, SB0_RAID_DISKS, be);
  sb->md_minor = w0 (buf, SB0_MD_MINOR, be);
  sb->events = ((uint64_t) w0 (buf, be ? SB0_EVENTS_A : SB0_EVENTS_B, be) << 32)
    | w0 (buf, be ? SB0_EVENTS_B : SB0_EVENTS_A, be);
  kib = w0 (buf, SB0_SIZE_KIB, be);
  sb->size = kib * 1024;        /* < 2^42: no overflow */
  sb->data_offset = 0;
  sb->data_size = off;
  raid_disk = w0 (buf, SB0_THIS_DISK + 3, be);
  state = w0 (buf, SB0_THIS_DISK + 4, be);
  if (state & (1U << SB0_DISK_FAULTY))
    sb->role = IMG_MD_ROLE_FAULTY;
  else if ((state & (1U << SB0_DISK_ACTIVE)) && (state & (1U << SB0_DISK_SYNC))
           && raid_disk < SB0_MAX_DISKS) {
    sb->role = (int) raid_disk;
    sb->in_sync = true;
  }
  else
    sb->role = IMG_MD_ROLE_SPARE;
  if (sb->raid_disks == 0 || sb->raid_disks > SB0_MAX_DISKS)
    snprintf (sb->bad, sizeof sb->bad, "raid_disks %" PRIu32 " is out of range (1-%d)",
              sb->raid_disks, SB0_MAX_DISKS);
  else if (sb->size > off)
    snprintf (sb->bad, sizeof sb->bad,
              "component size %" PRIu64 " bytes runs into the superblock at %" PRIu64,
              sb->size, off);
  return 1;
}

static void
decode_role (const unsigned char *buf, uint32_t max_dev,
             struct img_md_super *sb)
{
  uint32_t dev = get_le32 (buf + SB1_DEV_NUMBER);
  unsigned role;

  sb->role = IMG_MD_ROLE_UNKNOWN;
  if (dev >= max_dev)
    return;
  role = get_le16 (buf + SB1_ROLES + 2 * dev);
  if (role < SB1_ROLE_MAX) {
    sb->role = (int) role;
    /* A member being rebuilt carries a recovery offset: not in sync yet. */
    sb->in_sync = !(get_le32 (buf + SB1_FEATURES) & SB1_FEATURE_RECOVERY);
  }
  else if (role == SB1_ROLE_SPARE)
    sb->role = IMG_MD_ROLE_SPARE;
  else if (role == SB1_ROLE_FAULTY)
    sb->role = IMG_MD_ROLE_FAULTY;
}

/* 1.x at byte OFF ("1.0", "1.1" or "1.2" in WHICH). */
static int
read_1x (struct img_ctx *ctx, const struct img_volume *vol, uint64_t off,
         const char *which, struct img_md_super *sb)
{
  unsigned char buf[MD_SB_BYTES];
  uint32_t max_dev;
  uint64_t sectors;
  int r;

  r = read_block (ctx, vol, off, buf);
  if (r <= 0)
    return r;
  if (get_le32 (buf) != MD_MAGIC)
    return 0;
  if (get_le32 (buf + SB1_MAJOR) != 1
      || get_le64 (buf + SB1_SUPER_OFFSET) != off / IMG_SECTOR_SIZE)
    return 0;                   /* another version's place: not this one */
  max_dev = get_le32 (buf + SB1_MAX_DEV);
  if (max_dev > SB1_MAX_DEVS) {
    img_dbg (ctx, "%s: md: %s superblock claims %" PRIu32 " device slots (at most %d); ignored",
             vol->name, which, max_dev, SB1_MAX_DEVS);
    return 0;
  }
  if (!csum_ok (buf, SB1_ROLES + 2 * max_dev, SB1_CSUM / 4, false,
                get_le32 (buf + SB1_CSUM))) {
    img_dbg (ctx, "%s: md: %s superblock checksum mismatch; ignored", vol->name, which);
    return 0;
  }
  memset (sb, 0, sizeof *sb);
  snprintf (sb->metadata, sizeof sb->metadata, "%s", which);
  sb->sb_offset = off;
  memcpy (sb->uuid, buf + SB1_UUID, 16);
  memcpy (sb->dev_uuid, buf + SB1_DEV_UUID, 16);
  sb->has_dev_uuid = true;
  memcpy (sb->name, buf + SB1_NAME, 32);
  sb->name[32] = '\0';
  sb->level = (int32_t) get_le32 (buf + SB1_LEVEL);
  sb->raid_disks = get_le32 (buf + SB1_RAID_DISKS);
  sb->events = get_le64 (buf + SB1_EVENTS);
  decode_role (buf, max_dev, sb);

  /* Sizes are in sectors: check they fit in bytes, and in the member. */
  sectors = get_le64 (buf + SB1_DATA_OFFSET);
  if (mul_overflow_u64 (sectors, IMG_SECTOR_SIZE, &sb->data_offset))
    sb->data_offset = UINT64_MAX;
  sectors = get_le64 (buf + SB1_DATA_SIZE);
  if (mul_overflow_u64 (sectors, IMG_SECTOR_SIZE, &sb->data_size))
    sb->data_size = UINT64_MAX;
  sectors = get_le64 (buf + SB1_SIZE);
  if (mul_overflow_u64 (sectors, IMG_SECTOR_SIZE, &sb->size))
    sb->size = UINT64_MAX;
  if (sb->raid_disks == 0 || sb->raid_disks > max_dev)
    snprintf (sb->bad, sizeof sb->bad,
              "raid_disks %" PRIu32 " is out of range (1-%" PRIu32 " device slots)",
              sb->raid_disks, max_dev);
  else if (add_overflow_u64 (sb->data_offset, sb->data_size, &sectors)
           || sectors > vol->size)
    snprintf (sb->bad, sizeof sb->bad,
              "data area of %" PRIu64 " bytes at %" PRIu64 " is past the end of the member (%" PRIu64 " bytes)",
              sb->data_size, sb->data_offset, vol->size);
  else if (sb->size > sb->data_size)
    snprintf (sb->bad, sizeof sb->bad,
              "component size %" PRIu64 " bytes is larger than the data area (%" PRIu64 " bytes)",
              sb->size, sb->data_size);
  return 1;
}

int
img_internal_md_read_super (struct img_ctx *ctx, const struct img_volume *vol,
                            struct img_md_super *sb)
{
  uint64_t off10;
  int r;

  r = read_090 (ctx, vol, sb);
  if (r != 0)
    return r;
  /* 1.0: 8 KiB before the end, rounded down to 4 KiB. */
  if (vol->size >= 3 * MD_SB_BYTES) {
    off10 = (vol->size - 2 * MD_SB_BYTES) & ~(uint64_t) (MD_SB_BYTES - 1);
    r = read_1x (ctx, vol, off10, "1.0", sb);
    if (r != 0)
      return r;
  }
  r = read_1x (ctx, vol, 0, "1.1", sb);
  if (r != 0)
    return r;
  return read_1x (ctx, vol, MD_SB_BYTES, "1.2", sb);
}
