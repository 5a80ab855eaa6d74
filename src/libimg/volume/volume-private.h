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

#endif /* LIBIMG_VOLUME_PRIVATE_H */
