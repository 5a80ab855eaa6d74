/* libimg: the img-tools engine.  Reads and writes the bytes of a
 * powered-off VM disk image through its container format, partition table
 * and LVM, without root, loop devices, device-mapper or an appliance.
 *
 * Conventions: functions return 0 or -errno; results come back through
 * out-parameters, last.  On failure the function that detected the problem
 * records one message ("IMAGE: LAYER: REASON") in the context, readable with
 * img_ctx_error(); callers propagate the code without adding another.
 * Destructors accept NULL.
 */
#ifndef LIBIMG_H
#define LIBIMG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- context ---------------------------------------------------------- */

struct img_ctx;

enum img_log_priority {
  IMG_LOG_ERR = 3,
  IMG_LOG_WARNING = 4,
  IMG_LOG_INFO = 6,
  IMG_LOG_DEBUG = 7,
};

typedef void (*img_log_fn) (void *data, int priority, const char *msg);

/* Creates a context; IMG_DEBUG=1 in the environment turns on debug logs.
 * The caller owns *ctx and frees it with img_ctx_free(). */
int img_ctx_new (struct img_ctx **ctx);
void img_ctx_free (struct img_ctx *ctx);
/* Messages of at most PRIORITY go to FN (default: stderr). */
void img_ctx_set_log_fn (struct img_ctx *ctx, img_log_fn fn, void *data);
void img_ctx_set_log_priority (struct img_ctx *ctx, int priority);
int img_ctx_get_log_priority (const struct img_ctx *ctx);
/* The last error message, owned by the context; "" if none. */
const char *img_ctx_error (const struct img_ctx *ctx);
void img_ctx_clear_error (struct img_ctx *ctx);

/* ---- disk: a byte-addressable image ----------------------------------- */

struct img_disk;

enum {
  IMG_DISK_RDONLY = 0,
  IMG_DISK_RDWR = 1,
};

/* Opens PATH (a file or a block device).  The format is taken from the
 * image's magic bytes, never from the name; raw images and block devices
 * are read with pread, every other format through a private qemu-nbd and
 * libnbd.  An image that another qemu process holds (qemu's image locks)
 * is refused with -EBUSY.  The caller owns *disk (img_disk_close). */
int img_disk_open (struct img_ctx *ctx, const char *path, int flags,
                   struct img_disk **disk);
/* Flushes (read-write disks), stops the NBD server if any, frees. */
int img_disk_close (struct img_disk *disk);
/* Reads/writes exactly LEN bytes at OFFSET; a range past the end of the
 * image is -EIO with a "truncated" message. */
int img_disk_pread (struct img_disk *disk, void *buf, size_t len,
                    uint64_t offset);
int img_disk_pwrite (struct img_disk *disk, const void *buf, size_t len,
                     uint64_t offset);
int img_disk_flush (struct img_disk *disk);
uint64_t img_disk_size (const struct img_disk *disk);
/* "raw", "qcow2", "vmdk", ... (static string). */
const char *img_disk_format (const struct img_disk *disk);
/* The path as given to img_disk_open (owned by the disk). */
const char *img_disk_name (const struct img_disk *disk);
bool img_disk_is_block_device (const struct img_disk *disk);
bool img_disk_is_writable (const struct img_disk *disk);
struct img_ctx *img_disk_ctx (const struct img_disk *disk);
/* Detects the container format from the first bytes of an image: returns
 * a static name ("raw" when nothing else matches). */
const char *img_disk_detect_format (const unsigned char *buf, size_t len);

/* ---- volume: an extent map onto one or more disks --------------------- */

/* One stripe of a segment: a run of bytes on a disk. */
struct img_stripe {
  struct img_disk *disk;
  uint64_t offset;              /* byte offset of the stripe on the disk */
};

/* A segment maps [start, start+length) of the volume.  Linear segments
 * have one stripe; striped segments interleave stripe_size chunks across
 * n_stripes stripes, each holding length / n_stripes bytes. */
struct img_segment {
  uint64_t start;
  uint64_t length;
  uint64_t stripe_size;         /* bytes; 0 for linear */
  size_t n_stripes;
  struct img_stripe *stripes;
};

struct img_volume {
  char *name;                   /* for messages: "disk.img:p2", "vg/lv" */
  uint64_t size;
  size_t n_segments;
  struct img_segment *segments;
};

/* A volume covering LENGTH bytes of DISK from OFFSET (checked against the
 * disk size).  The caller owns *vol (img_volume_free). */
int img_volume_new_linear (struct img_ctx *ctx, const char *name,
                           struct img_disk *disk, uint64_t offset,
                           uint64_t length, struct img_volume **vol);
/* An empty volume to which segments are added in order. */
int img_volume_new (struct img_ctx *ctx, const char *name,
                    struct img_volume **vol);
/* Appends a segment (stripes copied); its start must equal vol->size. */
int img_volume_add_segment (struct img_ctx *ctx, struct img_volume *vol,
                            uint64_t length, uint64_t stripe_size,
                            size_t n_stripes,
                            const struct img_stripe *stripes);
void img_volume_free (struct img_volume *vol);
int img_volume_pread (struct img_ctx *ctx, const struct img_volume *vol,
                      void *buf, size_t len, uint64_t offset);
int img_volume_pwrite (struct img_ctx *ctx, const struct img_volume *vol,
                       const void *buf, size_t len, uint64_t offset);

/* ---- partition tables ------------------------------------------------- */

enum img_ptable_type {
  IMG_PTABLE_NONE = 0,
  IMG_PTABLE_MBR,
  IMG_PTABLE_GPT,
};

enum img_part_kind {
  IMG_PART_PRIMARY = 0,
  IMG_PART_EXTENDED,
  IMG_PART_LOGICAL,
};

struct img_part {
  unsigned number;              /* as Linux numbers it: 1-4, logical 5+ */
  enum img_part_kind kind;
  uint64_t start;               /* bytes from the start of the disk */
  uint64_t size;                /* bytes */
  unsigned mbr_type;            /* MBR system id, 0 for GPT */
  char type_guid[37];           /* GPT type GUID (lower case), "" for MBR */
  char uuid[37];                /* GPT unique GUID / MBR "sig-NN" PARTUUID */
  char name[72 * 3 + 1];        /* GPT name (UTF-8) */
  uint64_t attrs;               /* GPT attributes */
  bool bootable;                /* MBR active flag */
};

struct img_ptable {
  enum img_ptable_type type;
  unsigned sector_size;
  char id[37];                  /* GPT disk GUID or MBR signature (hex) */
  uint64_t first_lba, last_lba; /* GPT usable range */
  bool used_backup;             /* GPT primary header was damaged */
  size_t n_parts;
  struct img_part *parts;       /* sorted by number */
};

/* Reads the partition table of DISK.  No table is not an error: *pt gets
 * type IMG_PTABLE_NONE.  The caller owns *pt (img_ptable_free). */
int img_ptable_read (struct img_ctx *ctx, struct img_disk *disk,
                     struct img_ptable **pt);
void img_ptable_free (struct img_ptable *pt);
const char *img_ptable_type_name (enum img_ptable_type type);
/* A human name for an MBR id or a GPT type GUID (static string or NULL). */
const char *img_part_type_name (const struct img_part *part);

/* ---- filesystem and signature probing --------------------------------- */

struct img_fsinfo {
  char type[16];                /* "ext4", "xfs", "swap", "LVM2_member", "" */
  char uuid[40];
  char label[256];
};

/* Looks for a known signature at the start of VOL.  Nothing found is not
 * an error: info->type is "". */
int img_probe (struct img_ctx *ctx, const struct img_volume *vol,
               struct img_fsinfo *info);

/* ---- LVM2, read in user space ----------------------------------------- */

struct img_lvm;                 /* everything found on a set of volumes */

struct img_lvm_pv {
  char uuid[39];                /* with dashes, as lvm prints it */
  char name[64];                /* "pv0" in the metadata */
  const struct img_volume *dev; /* the volume it lives on; NULL if missing */
  uint64_t pe_start;            /* bytes from the start of dev */
  uint64_t pe_count;
  uint64_t dev_size;            /* bytes, from the metadata */
};

struct img_lvm_stripe {
  size_t pv;                    /* index into vg->pvs */
  uint64_t first_pe;
};

struct img_lvm_seg {
  uint64_t start_extent;
  uint64_t extent_count;
  char type[32];                /* "linear", "striped", ... */
  uint64_t stripe_size;         /* bytes, striped only */
  size_t n_stripes;
  struct img_lvm_stripe *stripes;
};

struct img_lvm_lv {
  char name[128];
  char uuid[39];
  uint64_t size;                /* bytes */
  bool visible;
  size_t n_segs;
  struct img_lvm_seg *segs;
  /* Set when the LV cannot be read: unsupported segment type, missing PV,
   * extents out of range.  NULL otherwise.  Owned by the LV. */
  char *error;
  struct img_volume *vol;       /* the LV's bytes, NULL if error */
};

struct img_lvm_vg {
  char name[128];
  char uuid[39];
  uint64_t seqno;
  uint64_t extent_size;         /* bytes */
  size_t n_pvs;
  struct img_lvm_pv *pvs;
  size_t n_lvs;
  struct img_lvm_lv *lvs;
  bool partial;                 /* some PVs were not found */
};

/* Scans VOLS for LVM2 physical volumes and assembles the volume groups
 * they hold (a VG may span several of them).  Volumes without an LVM label
 * are skipped.  Corrupt labels or metadata are errors.  Nothing is
 * activated anywhere.  The caller owns *lvm (img_lvm_free); it refers to
 * VOLS, which must outlive it. */
int img_lvm_scan (struct img_ctx *ctx, struct img_volume *const *vols,
                  size_t n_vols, struct img_lvm **lvm);
void img_lvm_free (struct img_lvm *lvm);
size_t img_lvm_n_vgs (const struct img_lvm *lvm);
const struct img_lvm_vg *img_lvm_vg (const struct img_lvm *lvm, size_t i);

/* ---- checksums (crc.c) ------------------------------------------------ */

uint32_t img_crc32 (const void *buf, size_t len);       /* as GPT uses it */
uint32_t img_lvm_crc (const void *buf, size_t len);     /* LVM2's calc_crc */

#ifdef __cplusplus
}
#endif

#endif /* LIBIMG_H */
