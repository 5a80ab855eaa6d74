/* LVM2 read in user space, its insides shared by volume/lvm*.c: the
 * on-disk layout, what a scan collects, and the steps one file lends
 * another. */
#ifndef LIBIMG_VOLUME_LVM_PRIVATE_H
#define LIBIMG_VOLUME_LVM_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "private.h"
#include "volume/volume-private.h"
#include "volume/lvmconf.h"

/* On-disk layout (lvm2's label.h and format_text/layout.h).
 *
 * The label sits in one of the first four 512-byte sectors:
 *   0  id "LABELONE"     8  sector number (u64)   16 crc of 20..511 (u32)
 *   20 offset of the PV header from the label (u32)   24 type "LVM2 001"
 * The PV header: 32-byte UUID, device size (u64, bytes), then two lists of
 * {offset, size} (u64, bytes), data areas then metadata areas, each ended
 * by an entry with offset 0.
 * A metadata area starts with a 512-byte header:
 *   0 crc of 4..511   4 magic   20 version (1)   24 start (u64)   32 size
 *   40 raw_locn[]: offset (from the area start), size, crc (u32),
 *      flags (u32), ended by offset 0.
 * The text lives in the circular buffer after the header and may wrap to
 * area start + 512. */
#define LABEL_SCAN_SECTORS 4
#define LABEL_ID "LABELONE"
#define LABEL_TYPE "LVM2 001"
#define LABEL_CRC_START 20
#define LABEL_HEADER_SIZE 32
#define PV_UUID_LEN 32
#define DISK_LOCN_SIZE 16
#define MDA_HEADER_SIZE 512
#define MDA_MAGIC " LVM2 x[5A%r0N*>"
#define MDA_MAGIC_LEN 16
#define MDA_VERSION 1
#define MDA_LOCNS_OFFSET 40
#define RAW_LOCN_SIZE 24
#define RAW_LOCN_IGNORED 0x1

/* Sanity bounds on what metadata may ask for. */
#define MAX_SEGMENTS 65536
#define MAX_STRIPES 128         /* lvm2's own limit */
#define MAX_MDAS 8

_Static_assert (LABEL_HEADER_SIZE + PV_UUID_LEN + 8 + 2 * DISK_LOCN_SIZE
                <= IMG_SECTOR_SIZE, "a PV header fits in its sector");
_Static_assert (MDA_LOCNS_OFFSET + RAW_LOCN_SIZE <= MDA_HEADER_SIZE,
                "one raw_locn fits in the metadata area header");

struct img_lvm {
  size_t n_vgs;
  struct img_lvm_vg *vgs;
};

/* A volume that carries a PV label. */
struct found_pv {
  struct img_volume *vol;
  char uuid[39];
  uint64_t da_start;            /* first data area; 0 if none listed */
};

/* One metadata text read from one metadata area.  Only the newest copy
 * of each VG keeps its parsed tree (conf and vg); the others are kept
 * for the warning when copies disagree. */
struct meta {
  struct img_lvmconf *conf;
  const struct img_lvmconf_node *vg;
  const char *src;              /* volume name, for messages */
  char vg_uuid[39];
  uint64_t seqno;
  bool used;
};

struct scan {
  struct img_ctx *ctx;
  struct found_pv *found;
  size_t n_found;
  struct meta *metas;
  size_t n_metas;
};

/* ---- lvm-label.c: labels, metadata areas ---------------------------- */

bool img_internal_lvm_uuid_text_ok (const char *s);
int img_internal_lvm_scan_volume (struct scan *sc, struct img_volume *vol);

/* ---- lvm-vg.c: metadata text -> VG ---------------------------------- */

void img_internal_lvm_free_vg (struct img_lvm_vg *vg);
int img_internal_lvm_build_vg (struct scan *sc, const struct meta *m,
                               struct img_lvm_vg *vg);

#endif /* LIBIMG_VOLUME_LVM_PRIVATE_H */
