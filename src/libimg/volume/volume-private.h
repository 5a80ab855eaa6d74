/* The volume floor's insides: the partition table readers ptable.c
 * calls and the one way a partition is added to a table. */
#ifndef LIBIMG_VOLUME_PRIVATE_H
#define LIBIMG_VOLUME_PRIVATE_H

#include "private.h"

/* The 512-byte sector: the unit of MBR addresses and LVM2 sizes, and
 * the first logical sector size GPT is looked for at (then 4 KiB). */
#define IMG_SECTOR_SIZE 512
#define IMG_SECTOR_SIZE_4K 4096

/* Where a partition table is read from: a disk image (DISK set), or a
 * volume, the data area of an md array (VOL set). */
struct img_internal_ptsrc {
  struct img_ctx *ctx;
  const char *name;             /* for messages */
  const char *what;             /* "image" or "md array", for messages */
  uint64_t size;
  struct img_disk *disk;
  const struct img_volume *vol;
};
/* Reads LEN bytes at OFF of SRC (ptable.c): 0 or -errno (one line). */
int img_internal_ptsrc_pread (const struct img_internal_ptsrc *src, void *buf,
                              size_t len, uint64_t off);

/* Partition table readers (mbr.c, gpt.c), called by ptable.c with the
 * first sector already read.  They fill PT (allocated by the caller). */
int img_internal_mbr_read (struct img_ctx *ctx,
                           const struct img_internal_ptsrc *src,
                           const unsigned char *sector0,
                           struct img_ptable *pt);
int img_internal_gpt_read (struct img_ctx *ctx,
                           const struct img_internal_ptsrc *src,
                           struct img_ptable *pt);
/* Appends a copy of PART to PT. */
int img_internal_ptable_add (struct img_ctx *ctx,
                             const struct img_internal_ptsrc *src,
                             struct img_ptable *pt,
                             const struct img_part *part);
/* img_ptable_read on VOL (an md array's data area), NAME in messages:
 * the same checks, every partition within VOL. */
int img_internal_ptable_read_volume (struct img_ctx *ctx,
                                     const struct img_volume *vol,
                                     const char *name,
                                     struct img_ptable **ptp);

/* utf16.c: UTF-16 (little- or big-endian, UNITS code units, cut at a
 * NUL) to UTF-8 in OUT (OUTLEN > 0 bytes, always terminated). */
void img_internal_utf16_to_utf8 (const unsigned char *p, size_t units,
                                 bool big_endian, char *out, size_t outlen);

/* probe.c: reads LEN bytes at OFF of VOL if they lie inside it: true if
 * read; false with *r = 0 if past the end, or *r < 0 on a read error. */
bool img_internal_probe_read (struct img_ctx *ctx, const struct img_volume *vol,
                              void *buf, size_t len, uint64_t off, int *r);
/* probe.c: copies a fixed-size, maybe unterminated, label field of LEN
 * bytes, trailing blanks dropped (FAT and ISO 9660 pad with them). */
void img_internal_probe_label (char *out, size_t outlen,
                               const unsigned char *p, size_t len);
/* probe.c: drops trailing white space from LABEL, as blkid does. */
void img_internal_probe_trim (char *label);
/* probe-ntfs.c, probe-iso.c: the NTFS and ISO 9660 signatures, as blkid
 * reports them (type, UUID, label).  0 and info->type "" if absent;
 * -errno on a read error. */
int img_internal_probe_ntfs (struct img_ctx *ctx, const struct img_volume *vol,
                             const unsigned char *boot, struct img_fsinfo *info);
int img_internal_probe_iso9660 (struct img_ctx *ctx, const struct img_volume *vol,
                                struct img_fsinfo *info);

/* md RAID: one member's superblock (md-super.c), as md.c assembles it. */
struct img_md_super {
  char metadata[8];             /* "0.90", "1.0", "1.1", "1.2" */
  bool big_endian;              /* 0.90 written by a big-endian machine */
  uint64_t sb_offset;           /* bytes from the member's start */
  unsigned char uuid[16];       /* the array's */
  unsigned char dev_uuid[16];   /* the member's (1.x) */
  bool has_dev_uuid;
  char name[33];                /* 1.x set_name ("host:name"), as written */
  int32_t level;
  uint32_t raid_disks;
  uint32_t md_minor;            /* 0.90 preferred minor */
  uint64_t events;
  uint64_t data_offset;         /* bytes; UINT64_MAX if it overflowed */
  uint64_t data_size;           /* bytes available from data_offset */
  uint64_t size;                /* bytes of each member the array uses */
  int role;                     /* slot, or IMG_MD_ROLE_* */
  bool in_sync;
  /* Set when the checksum holds but a field is absurd: the member is
   * recognised (as blkid does) but never read. */
  char bad[160];
};

/* Looks for an md superblock on VOL, 0.90 first, then 1.0, 1.1, 1.2 (as
 * blkid does).  1 found (*sb filled), 0 none (or a corrupt one, said in
 * debug output), -errno on a read error. */
int img_internal_md_read_super (struct img_ctx *ctx,
                                const struct img_volume *vol,
                                struct img_md_super *sb);

/* A volume mapping LEN bytes of SRC from OFF (linear parts of SRC only).
 * The caller owns *vol. */
int img_internal_volume_slice (struct img_ctx *ctx, const char *name,
                               const struct img_volume *src, uint64_t off,
                               uint64_t len, struct img_volume **vol);

/* img_internal_disk_will_write for the N volume ranges: each disk under
 * them hears of its part in one call (volume.c). */
struct img_internal_range;
int img_internal_volume_will_write (struct img_ctx *ctx,
                                    const struct img_volume *vol,
                                    const struct img_internal_range *ranges,
                                    size_t n);

#endif /* LIBIMG_VOLUME_PRIVATE_H */
