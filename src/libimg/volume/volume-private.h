/* The volume floor's insides: the partition table readers ptable.c
 * calls and the one way a partition is added to a table. */
#ifndef LIBIMG_VOLUME_PRIVATE_H
#define LIBIMG_VOLUME_PRIVATE_H

#include "private.h"

/* The 512-byte sector: the unit of MBR addresses and LVM2 sizes, and
 * the first logical sector size GPT is looked for at (then 4 KiB). */
#define IMG_SECTOR_SIZE 512
#define IMG_SECTOR_SIZE_4K 4096

/* Partition table readers (mbr.c, gpt.c), called by ptable.c with the
 * first sector already read.  They fill PT (allocated by the caller). */
int img_internal_mbr_read (struct img_ctx *ctx, struct img_disk *disk,
                           const unsigned char *sector0,
                           struct img_ptable *pt);
int img_internal_gpt_read (struct img_ctx *ctx, struct img_disk *disk,
                           struct img_ptable *pt);
/* Appends a copy of PART to PT. */
int img_internal_ptable_add (struct img_ctx *ctx, struct img_disk *disk,
                             struct img_ptable *pt,
                             const struct img_part *part);

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

#endif /* LIBIMG_VOLUME_PRIVATE_H */
