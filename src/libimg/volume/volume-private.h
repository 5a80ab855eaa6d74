/* The volume floor's insides: the partition table readers ptable.c
 * calls and the one way a partition is added to a table. */
#ifndef LIBIMG_VOLUME_PRIVATE_H
#define LIBIMG_VOLUME_PRIVATE_H

#include "private.h"

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
