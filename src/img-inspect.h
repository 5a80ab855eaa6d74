/* img-inspect's report helpers shared by its files: img-inspect.c (the
 * tool and most of the report), inspect-md.c (md RAID arrays) and
 * inspect-ptable.c (partition tables). */
#ifndef IMG_INSPECT_H
#define IMG_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img-json.h"
#include "libimg.h"

/* The signature probed on VOL among G's volumes, or NULL. */
const struct img_fsinfo *vol_fs (const struct img_guest *g,
                                 const struct img_volume *vol);
/* "filesystem": null or { type, uuid, label }. */
void json_fs (struct img_json *j, const struct img_fsinfo *fs);
/* "type UUID=... LABEL=..." or "-", guest strings escaped. */
void text_fs (const struct img_fsinfo *fs);
/* V bytes as "1.5 MiB" in BUF (returned). */
const char *human (uint64_t v, char *buf, size_t len);
/* A guest string made safe for a terminal (a rotating static buffer). */
const char *esc (const char *s);

/* inspect-ptable.c: a partition table (a disk's or an md array's) and
 * its partitions with their signatures among G's volumes: JSON keys
 * "partition_table" (null when none) and "partitions" (NAMED: each with
 * its volume's "device" name); text lines, two spaces in. */
void json_ptable (struct img_json *j, const struct img_guest *g,
                  const struct img_ptable *pt, bool named);
void text_ptable (const struct img_guest *g, const struct img_ptable *pt);

/* inspect-md.c: the md RAID arrays, as JSON ("md_arrays") and as text. */
void json_md (const struct img_guest *g, struct img_json *j);
void text_md (const struct img_guest *g);

#endif /* IMG_INSPECT_H */
