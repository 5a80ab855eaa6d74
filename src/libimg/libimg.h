/* libimg: the img-tools engine.  Reads and writes the bytes of a
 * powered-off VM disk image through its container format, partition table
 * and LVM, without root, loop devices, device-mapper or an appliance.
 *
 * Conventions: functions return 0 or -errno; results come back through
 * out-parameters, last.  On failure the function that detected the problem
 * records one message ("IMAGE: LAYER: REASON") in the context, readable with
 * img_ctx_error(); callers propagate the code without adding another.
 * Destructors accept NULL.
 *
 * Threat model (the design rule every function here follows):
 *   - The host is trusted: the caller's options, the paths it names (the
 *     image, --output, --kernel-from, --modules-from, the undo record it
 *     names) and the host's programs (qemu-img, qemu-nbd, depmod).
 *   - Everything read from an image is hostile: the container (qcow2
 *     backing and data files, VMDK extents, any header field), partition
 *     tables, LVM text, filesystem metadata, file names, symlinks, file
 *     contents, configs, initrds and archives.  A tenant wrote all of it,
 *     knowing we run as root on the hypervisor.
 *   - So no guest byte chooses a host path, a host file, a network
 *     address or a process argument: the container's format is the
 *     caller's, backing files are refused unless the caller allows local
 *     ones; host files named after guest data are only made below a
 *     private mkdtemp directory through openat2 (RESOLVE_BENEATH |
 *     RESOLVE_NO_SYMLINKS), and names with "..", "/" at the start, NUL or
 *     control bytes are refused; guest symlinks resolve inside the guest.
 *   - No guest value reaches a language we write (xl config, GRUB 2, GRUB
 *     legacy, BLS, extlinux, shell, kernel command line, JSON, the
 *     terminal) except through that language's one quoting function; a
 *     value that cannot be quoted is refused.
 *   - Every parser is bounded and memory-safe on any input (fuzzed), every
 *     chain walk progresses or stops, and one budget per run caps the
 *     bytes inflated, the file bytes read into memory and the entries
 *     walked, so an image cannot take unbounded memory or time.
 *   - A run leaves the image converted or as it was; the image is locked
 *     from the first read to the undo commit; helper processes (qemu-nbd)
 *     die with us; nothing of the guest is mounted, activated or run.
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
/* Records an error message from code outside the library (the tools), in
 * the same one-line form; returns ERR. */
int img_ctx_set_error (struct img_ctx *ctx, int err, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

/* Budgets: what one run may spend on what a guest holds.  A guest is
 * hostile, so every layer charges the same counters of its context:
 * bytes inflated from initrds and archives, bytes of guest files read
 * into memory, entries walked (archive members, directory entries).  The
 * "one" limits bound a single initrd, file or directory (and so the
 * memory it takes: an inflated initrd is held whole); the "run" limits
 * bound the sum over the context's life (and so the time).  Past a
 * limit, the operation fails with -EFBIG (bytes) or -E2BIG (entries) and
 * a message naming the limit, e.g. "boot/initrd.img: initrd: inflates
 * past 256 MiB".  Defaults are the values below; IMG_BUDGET_INFLATE=,
 * IMG_BUDGET_INFLATE_TOTAL=, IMG_BUDGET_FILE=, IMG_BUDGET_FILE_TOTAL=,
 * IMG_BUDGET_ENTRIES=, IMG_BUDGET_ENTRIES_TOTAL= and IMG_BUDGET_MEMBERS= in the environment
 * (a number with an optional K, M, G or T suffix) override them when the
 * context is made. */
enum img_budget {
  IMG_BUDGET_INFLATE = 0,       /* one initrd or archive, inflated: 256 MiB */
  IMG_BUDGET_INFLATE_TOTAL,     /* every one inflated in the run: 2 GiB */
  IMG_BUDGET_FILE,              /* one guest file read whole: 128 MiB */
  IMG_BUDGET_FILE_TOTAL,        /* guest files read whole in the run: 4 GiB */
  IMG_BUDGET_ENTRIES,           /* one directory's entries: 1 Mi */
  IMG_BUDGET_ENTRIES_TOTAL,     /* entries walked in the run (directory
                                 * entries, archive members): 32 Mi */
  IMG_BUDGET_MEMBERS,           /* one initrd's members, each of which
                                 * costs some 800 bytes of bookkeeping
                                 * (real ones have thousands): 256 Ki */
  IMG_BUDGET_N
};
#define IMG_BUDGET_INFLATE_DEFAULT ((uint64_t) 256 << 20)
#define IMG_BUDGET_INFLATE_TOTAL_DEFAULT ((uint64_t) 2 << 30)
#define IMG_BUDGET_FILE_DEFAULT ((uint64_t) 128 << 20)
#define IMG_BUDGET_FILE_TOTAL_DEFAULT ((uint64_t) 4 << 30)
#define IMG_BUDGET_ENTRIES_DEFAULT ((uint64_t) 1 << 20)
#define IMG_BUDGET_ENTRIES_TOTAL_DEFAULT ((uint64_t) 32 << 20)
#define IMG_BUDGET_MEMBERS_DEFAULT ((uint64_t) 256 << 10)

/* Sets a limit (at least 1); -EINVAL for an unknown WHICH or 0. */
int img_ctx_set_budget (struct img_ctx *ctx, enum img_budget which,
                        uint64_t limit);
uint64_t img_ctx_budget (const struct img_ctx *ctx, enum img_budget which);
/* What the run has spent so far (the _TOTAL counters). */
uint64_t img_ctx_budget_used (const struct img_ctx *ctx,
                              enum img_budget which);
/* "inflate", "inflate-total", "file", "file-total", "entries",
 * "entries-total", "members" (static), or NULL. */
const char *img_budget_name (enum img_budget which);
/* Sets one limit from "NAME=SIZE" (the names above; SIZE a number with
 * an optional K, M, G or T suffix, binary).  -EINVAL if malformed. */
int img_ctx_set_budget_string (struct img_ctx *ctx, const char *setting);
/* The same parse without a context (for option parsing before one is
 * made): *which and *limit from "NAME=SIZE"; -EINVAL if malformed. */
int img_budget_parse (const char *setting, enum img_budget *which,
                      uint64_t *limit);

/* ---- disk: a byte-addressable image ----------------------------------- */

struct img_disk;

enum {
  IMG_DISK_RDONLY = 0,
  IMG_DISK_RDWR = 1,
};

/* How an image is opened (libguestfs-style).  FORMAT (raw, qcow2, qcow,
 * qed, vmdk, vhdx, vpc, vdi, parallels, bochs, cloop, dmg) is used as
 * given and never probed; NULL guesses it from the image's magic bytes
 * (our own table, never qemu's probing), and the disk says it guessed.
 * Backing files, external data files and multi-file VMDKs are refused
 * with -EPERM unless ALLOW_BACKING, and even then only local regular
 * files are followed (never a protocol or "json:" name); every file
 * qemu opens is pinned, so it can follow nothing else. */
struct img_disk_opts {
  const char *format;
  bool allow_backing;
};

/* Opens PATH (a file or a block device) with OPTS (NULL: the context's
 * defaults, img_ctx_set_disk_opts).  Raw images and block devices are
 * read with pread, every other format through a private qemu-nbd and
 * libnbd, after `qemu-img info` has shown what the image names.  An image
 * that another process holds (qemu's image locks, a loop device, an
 * exclusive open of a block device) is refused with -EBUSY.  The caller
 * owns *disk (img_disk_close). */
int img_disk_open_opts (struct img_ctx *ctx, const char *path, int flags,
                        const struct img_disk_opts *opts,
                        struct img_disk **disk);
/* img_disk_open_opts with the context's defaults. */
int img_disk_open (struct img_ctx *ctx, const char *path, int flags,
                   struct img_disk **disk);
/* Sets the defaults img_disk_open uses (copied).  0 or -ENOMEM. */
int img_ctx_set_disk_opts (struct img_ctx *ctx, const struct img_disk_opts *opts);
/* What img_guest_open reads filesystems with.  AUTO: ext2/3/4 natively
 * (no appliance), everything else (xfs, btrfs, LUKS...) through one
 * libguestfs appliance, launched only if the guest needs it.  NATIVE:
 * never libguestfs (other filesystems are listed, not mounted).
 * GUESTFS: every filesystem through the appliance, ext ones too. */
enum img_fs_backend {
  IMG_FS_BACKEND_AUTO = 0,
  IMG_FS_BACKEND_NATIVE,
  IMG_FS_BACKEND_GUESTFS,
};
int img_ctx_set_fs_backend (struct img_ctx *ctx, enum img_fs_backend backend);
enum img_fs_backend img_ctx_fs_backend (const struct img_ctx *ctx);
/* "auto", "native", "guestfs" → *BACKEND; -EINVAL for anything else. */
int img_fs_backend_parse (const char *name, enum img_fs_backend *backend);
/* A key for an encrypted (LUKS 1 or 2) volume of the guest, opened in the
 * appliance (never on the host), in virt-*'s --key syntax:
 * "SELECTOR:key:PASSPHRASE" or "SELECTOR:file:PATH" (the file's contents,
 * at most 8 KiB, less one final newline).  SELECTOR is the volume's LUKS
 * UUID, its device in the appliance ("/dev/sda2") or "all".  -EINVAL
 * (message recorded) for anything else; the key is wiped when the
 * context is freed. */
int img_ctx_add_key (struct img_ctx *ctx, const char *spec);
/* True if the format was guessed from the image's bytes (no format given). */
bool img_disk_format_guessed (const struct img_disk *disk);
/* The files besides the image that qemu reads for it (backing chain,
 * then data files), "PATH (FORMAT)", resolved; only with allow_backing.
 * Owned by the disk. */
size_t img_disk_n_backing (const struct img_disk *disk);
const char *img_disk_backing (const struct img_disk *disk, size_t i);
/* The pinned "json:" file name under which qemu tools must open this
 * image (qemu-img convert for --output), or NULL for raw.  Owned by the
 * disk. */
const char *img_disk_qemu_name (const struct img_disk *disk);
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

/* Called by img_disk_pwrite before every write reaches the image, with
 * the range about to be written.  A negative return fails the write with
 * that code (the hook records the message); nothing is written then.
 * The hook may read the disk (img_disk_pread) but must not write it. */
typedef int (*img_disk_write_hook) (void *data, struct img_disk *disk,
                                    uint64_t offset, size_t len);
/* Sets (or, with FN NULL, clears) the hook of DISK.  Setting one on a disk
 * that has already been written is refused with -EBUSY: a hook that
 * missed a write could not undo it. */
int img_disk_set_write_hook (struct img_disk *disk, img_disk_write_hook fn,
                             void *data);

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
  /* When set, writes are refused with this reason (a static string): an
   * md array read from one mirror, and LVs on it.  NULL otherwise. */
  const char *no_write;
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
  char type[24];                /* "ext4", "swap", "linux_raid_member", "" */
  char uuid[40];
  char label[256];
};

/* Looks for a known signature at the start of VOL.  Nothing found is not
 * an error: info->type is "". */
int img_probe (struct img_ctx *ctx, const struct img_volume *vol,
               struct img_fsinfo *info);

/* ---- md RAID, read in user space -------------------------------------- */

struct img_md;                  /* every array found on a set of volumes */

enum {
  IMG_MD_ROLE_SPARE = -1,
  IMG_MD_ROLE_FAULTY = -2,
  IMG_MD_ROLE_UNKNOWN = -3,     /* journal, replacement, no slot */
};

struct img_md_member {
  const struct img_volume *dev; /* the member volume (a partition, a disk) */
  char dev_uuid[37];            /* 1.x device UUID (blkid's UUID_SUB), or "" */
  int role;                     /* slot in the array (0..), or IMG_MD_ROLE_* */
  bool in_sync;
  uint64_t events;
  uint64_t data_offset;         /* bytes from the member's start */
  uint64_t data_size;           /* bytes */
  bool used;                    /* the member the array is read from */
};

struct img_md_array {
  char uuid[37];                /* the array's UUID (blkid's UUID) */
  char name[33];                /* 1.x name as written ("host:root"), or "" */
  char devname[48];             /* the volume's name: "md/root", "md3" */
  char metadata[8];             /* "0.90", "1.0", "1.1", "1.2" */
  int level;                    /* -1 linear, 0, 1, 4, 5, 6, 10 */
  unsigned raid_disks;
  uint64_t size;                /* bytes of each member the array uses */
  bool degraded;                /* fewer in-sync members than raid_disks */
  size_t n_members;
  struct img_md_member *members;
  /* Why the array is not read (its level, members that disagree, none in
   * sync); NULL when vol is set.  Owned by the array. */
  char *error;
  struct img_volume *vol;       /* RAID1: the array's bytes, read-only */
  /* A partition table written on the array (MBR or GPT in its data
   * area), read as a disk's is: NULL when there is none.  part_vols[i]
   * is partition pt->parts[i] as the guest names it ("md0p1",
   * "md/root2"), NULL for an extended partition.  Owned by the array. */
  struct img_ptable *pt;
  struct img_volume **part_vols;
};

/* Scans VOLS for md RAID members and assembles the arrays (grouped by
 * array UUID).  A RAID1 array becomes a volume reading one in-sync member
 * (the freshest); other levels are listed, not read.  Members with
 * absurd fields are left out with a warning.  The caller owns *md
 * (img_md_free); it refers to VOLS, which must outlive it. */
int img_md_scan (struct img_ctx *ctx, struct img_volume *const *vols,
                 size_t n_vols, struct img_md **md);
void img_md_free (struct img_md *md);
size_t img_md_n_arrays (const struct img_md *md);
const struct img_md_array *img_md_array (const struct img_md *md, size_t i);
/* "raid1", "raid0", "linear", ... (static string). */
const char *img_md_level_name (int level);
/* A member's role: its slot number written into BUF (which is returned),
 * or "spare", "faulty", "unknown" (static strings). */
const char *img_md_role_name (int role, char *buf, size_t len);

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

/* ---- fs: one filesystem (ext2/3/4 via libext2fs, or a host dir) ----- */

struct img_fs;

enum {
  IMG_FS_RDONLY = 0,
  IMG_FS_RDWR = 1,
};

struct img_stat {
  uint64_t ino;
  uint32_t mode;                /* S_IFMT bits | permission bits */
  uint32_t uid, gid;
  uint32_t nlink;
  uint64_t size;
  uint64_t blocks;              /* allocated, in 512-byte units */
  uint32_t rdev_major, rdev_minor;
  int64_t atime, mtime, ctime;  /* seconds since the epoch */
  uint32_t atime_ns, mtime_ns, ctime_ns;
};

struct img_dirent {
  char *name;
  uint64_t ino;
  unsigned char type;           /* DT_REG, DT_DIR, DT_LNK, ... (DT_UNKNOWN) */
};

/* Opens the ext2/3/4 filesystem on VOL, read-only or read-write, in place
 * (no copy, no loop device).  A read-write open is refused when the
 * journal needs recovery, when the filesystem is marked with errors, or
 * when it has features libext2fs cannot write.  The caller owns *fs
 * (img_fs_close); VOL must outlive it. */
int img_fs_open (struct img_ctx *ctx, const struct img_volume *vol,
                 int flags, struct img_fs **fs);
/* A host directory treated as a filesystem root (the "dir" backend). No
 * path ever escapes DIR: lookups refuse symlinks and "..". */
int img_fs_open_dir (struct img_ctx *ctx, const char *dir, int flags,
                     struct img_fs **fs);
/* Writes back everything and frees; returns the first write error. */
int img_fs_close (struct img_fs *fs);
int img_fs_sync (struct img_fs *fs);
const char *img_fs_type (const struct img_fs *fs);   /* "ext4", "dir" */
const char *img_fs_name (const struct img_fs *fs);   /* for messages */
bool img_fs_is_writable (const struct img_fs *fs);

/* Path operations on ONE filesystem.  PATH is absolute within it ("/etc/
 * fstab") and must not pass through a symlink: symlinks are the guest
 * layer's business, because an absolute link in a guest resolves from the
 * guest's root, across mount points.  A symlink or non-directory in a
 * non-final component gives -ENOTDIR; ".." and "." components -EINVAL.
 * Nothing here follows a symlink. */
int img_fs_lstat (struct img_fs *fs, const char *path, struct img_stat *st);
/* *target is malloc'd, NUL-terminated, owned by the caller. */
int img_fs_readlink (struct img_fs *fs, const char *path, char **target);
/* Entries other than "." and ".."; *ents owned by the caller
 * (img_dirents_free). */
int img_fs_readdir (struct img_fs *fs, const char *path,
                    struct img_dirent **ents, size_t *n);
void img_dirents_free (struct img_dirent *ents, size_t n);
/* Reads up to LEN bytes at OFF; *got is what was read (0 at EOF). */
int img_fs_pread (struct img_fs *fs, const char *path, void *buf, size_t len,
                  uint64_t off, size_t *got);
/* Calls FN for each extended attribute of PATH (not following a final
 * symlink), with its full name ("security.capability", "user.x") and
 * raw value, as the kernel's getxattr would return it; FN returning
 * non-zero stops with that value. */
typedef int (*img_xattr_fn) (const char *name, const void *value, size_t len,
                             void *data);
/* Size and free space, in bytes (free: what a non-root writer could use
 * is not distinguished; the reserved blocks count as free). */
int img_fs_space (struct img_fs *fs, uint64_t *total, uint64_t *avail);
int img_fs_xattrs (struct img_fs *fs, const char *path, img_xattr_fn fn,
                   void *data);
/* Reads a whole regular file of at most MAX bytes (-EFBIG beyond);
 * *buf is malloc'd (NUL-terminated after *len bytes), owned by the
 * caller. */
int img_fs_read_file (struct img_fs *fs, const char *path, size_t max,
                      void **buf, size_t *len);
/* Creates an empty regular file; -EEXIST if PATH exists. */
int img_fs_create (struct img_fs *fs, const char *path, uint32_t mode,
                   uint32_t uid, uint32_t gid);
/* Writes LEN bytes at OFF into an existing regular file, growing it. */
int img_fs_pwrite (struct img_fs *fs, const char *path, const void *buf,
                   size_t len, uint64_t off);
/* Sets the size; growing leaves a hole. */
int img_fs_truncate (struct img_fs *fs, const char *path, uint64_t size);
int img_fs_mkdir (struct img_fs *fs, const char *path, uint32_t mode,
                  uint32_t uid, uint32_t gid);
int img_fs_symlink (struct img_fs *fs, const char *target, const char *path,
                    uint32_t uid, uint32_t gid);
/* MODE carries the file type (S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK). */
int img_fs_mknod (struct img_fs *fs, const char *path, uint32_t mode,
                  uint32_t major, uint32_t minor, uint32_t uid, uint32_t gid);
int img_fs_link (struct img_fs *fs, const char *oldpath, const char *newpath);
/* Removes a non-directory (the inode is freed with its last link). */
int img_fs_unlink (struct img_fs *fs, const char *path);
int img_fs_rmdir (struct img_fs *fs, const char *path);      /* empty only */
/* Renames within the filesystem; an existing non-directory NEWPATH is
 * replaced. */
int img_fs_rename (struct img_fs *fs, const char *oldpath,
                   const char *newpath);
int img_fs_chmod (struct img_fs *fs, const char *path, uint32_t mode);
int img_fs_chown (struct img_fs *fs, const char *path, uint32_t uid,
                  uint32_t gid);
int img_fs_utimes (struct img_fs *fs, const char *path, int64_t atime,
                   uint32_t atime_ns, int64_t mtime, uint32_t mtime_ns);

/* ---- initrd: initramfs images as chains of cpio segments ------------- */

struct img_initrd;

struct img_cpio_entry {
  char *name;                   /* as stored, without a leading "./" or "/" */
  uint32_t mode, uid, gid, nlink;
  uint64_t mtime;
  uint32_t ino;
  uint32_t dev_major, dev_minor, rdev_major, rdev_minor;
  uint64_t size;
  const unsigned char *data;    /* size bytes (link target for symlinks),
                                 * owned by the initrd; or NULL (_keep) */
  unsigned segment;             /* which segment holds it */
};

struct img_initrd_segment {
  uint64_t offset;              /* in the initrd file */
  uint64_t length;              /* bytes of the file it covers */
  const char *compression;      /* "none", "gzip", "zstd", "xz", "lzma",
                                 * "lz4", "bzip2" */
  uint64_t uncompressed;        /* bytes of cpio */
  size_t n_entries;
};

/* Parses a whole initramfs held in BUF (LEN bytes): every segment, every
 * member.  NAME is used in messages.  The cpio bytes (inflated or not)
 * are bounded by MAX_UNCOMPRESSED (0: no limit of the caller's) and the
 * context's IMG_BUDGET_INFLATE, whichever is less, and charged to its
 * IMG_BUDGET_INFLATE_TOTAL (an initrd over budget spends what it was
 * allowed); members by IMG_BUDGET_MEMBERS and IMG_BUDGET_ENTRIES_TOTAL.
 * Past a budget: -EFBIG or -E2BIG, "NAME: initrd: inflates past 256 MiB".
 * Segments are inflated through a small window, never whole.  The caller
 * owns *initrd (img_initrd_free); it does not refer to BUF afterwards. */
int img_initrd_parse (struct img_ctx *ctx, const char *name, const void *buf,
                      size_t len, uint64_t max_uncompressed,
                      struct img_initrd **initrd);
void img_initrd_free (struct img_initrd *initrd);
size_t img_initrd_n_segments (const struct img_initrd *initrd);
const struct img_initrd_segment *
img_initrd_segment (const struct img_initrd *initrd, size_t i);
size_t img_initrd_n_entries (const struct img_initrd *initrd);
const struct img_cpio_entry *
img_initrd_entry (const struct img_initrd *initrd, size_t i);
/* The entry the kernel would end up with for PATH (the last one wins);
 * NULL if none. */
const struct img_cpio_entry *
img_initrd_lookup (const struct img_initrd *initrd, const char *path);

/* A newc archive being built in memory. */
struct img_cpio;
int img_cpio_new (struct img_ctx *ctx, struct img_cpio **cpio);
void img_cpio_free (struct img_cpio *cpio);
/* Adds a member; DATA is LEN bytes (file contents, or the target of a
 * symlink).  Names are stored without a leading "/". */
int img_cpio_add (struct img_cpio *cpio, const char *name, uint32_t mode,
                  uint32_t uid, uint32_t gid, uint64_t mtime,
                  uint32_t rdev_major, uint32_t rdev_minor,
                  const void *data, size_t len);
/* Ends the archive (TRAILER!!!) and hands over the bytes: *buf is
 * malloc'd, owned by the caller. */
int img_cpio_finish (struct img_cpio *cpio, void **buf, size_t *len);

/* An initrd extended with a layer: ORIG, padded with zeros to a 4-byte
 * boundary (the kernel only recognises an appended cpio there), then
 * LAYER (a finished newc archive), compressed with COMPRESSION ("none",
 * "gzip", "zstd", "xz").  *out is malloc'd, owned by the caller. */
int img_initrd_append (struct img_ctx *ctx, const void *orig, size_t orig_len,
                       const void *layer, size_t layer_len,
                       const char *compression, void **out,
                       size_t *out_len);

/* ---- guest: the guest as its OS sees it ----------------------------- */

struct img_guest;

/* One line of the guest's mount map (from its /etc/fstab, plus the root). */
struct img_guest_mount {
  char *mountpoint;             /* "/", "/boot", or "swap" for swap */
  char *spec;                   /* as fstab says; NULL for a root found
                                 * without a matching fstab line */
  char *vfstype;
  char *options;
  char *device;                 /* the volume it resolved to
                                 * ("disk.img:p1", "vg/lv"), or NULL */
  char *fs_uuid;                /* of that volume, or NULL */
  bool mounted;                 /* readable through the guest API */
  char *why_not;                /* when not mounted: why */
  unsigned fstab_line;          /* 0 if not from fstab */
};

/* Opens the guest on IMAGES (read-only or read-write): partitions, LVM,
 * filesystems; finds the root (a filesystem with /etc and a release file
 * or /etc/fstab; the first if there are several) and mounts, in memory,
 * what its /etc/fstab names on ext2/3/4.  Nothing is mounted on the host.
 * Finding no root is not an error (img_guest_n_roots is then 0 and the
 * path API has nothing to read).  The caller owns *g (img_guest_close). */
int img_guest_open (struct img_ctx *ctx, const char *const *images,
                    size_t n_images, int flags, struct img_guest **g);
/* A host directory as the guest's whole tree (dir backend; no fstab). */
int img_guest_open_dir (struct img_ctx *ctx, const char *dir, int flags,
                        struct img_guest **g);
/* Writes back and closes everything; returns the first error. */
int img_guest_close (struct img_guest *g);
/* Closes the guest's filesystems (their writes reach the disks) but keeps
 * the disks open, and locked, for whatever must happen before they are
 * let go (the undo commit); img_guest_close then closes the rest. */
int img_guest_close_fs (struct img_guest *g);
struct img_ctx *img_guest_ctx (const struct img_guest *g);
/* The mount map (owned by the guest). */
size_t img_guest_n_mounts (const struct img_guest *g);
const struct img_guest_mount *img_guest_mount (const struct img_guest *g,
                                               size_t i);
/* The mount the path API reads PATH (absolute, canonical) from: the
 * mounted filesystem with the longest mount point holding it (a mount
 * point holds itself).  *INDEX (may be NULL) its index for
 * img_guest_mount, *REL (may be NULL) the path inside it ("/" for the mount
 * point itself).  NULL when no mounted filesystem holds PATH. */
const struct img_guest_mount *img_guest_mount_of (const struct img_guest *g, const char *path,
                                                  size_t *index, const char **rel);
/* Every filesystem that looked like a root, by volume name (owned by the
 * guest); the first is the one in use. */
size_t img_guest_n_roots (const struct img_guest *g);
const char *img_guest_root (const struct img_guest *g, size_t i);
/* When no root was found, why one may have been missed: a filesystem
 * that could not be examined (libguestfs missing, the appliance failing)
 * or an encrypted volume with no key given (the line says which --key).
 * NULL when a root was found or nothing was left unexamined.  Owned by
 * the guest. */
const char *img_guest_no_root_reason (const struct img_guest *g);
/* A Windows guest found where no Linux root is (NTFS volumes read through
 * the appliance): reported, never converted.  NULL for any other guest.
 * Strings are the registry's, UTF-8, possibly NULL (not there); versions
 * -1 when unknown. */
struct img_windows {
  char *volume;                 /* the volume of the system root */
  char *systemroot;             /* "/Windows", as the filesystem spells it */
  char *product_name;           /* "Windows Server 2019 Standard" */
  char *product_variant;        /* "Server", "Client" (InstallationType) */
  int major_version, minor_version;
  char *arch;                   /* "x86_64", "i386", "aarch64" (cmd.exe) */
  char *hostname;               /* Tcpip\Parameters\Hostname */
};
const struct img_windows *img_guest_windows (const struct img_guest *g);
/* The subvolumes of volume I (img_guest_volume's index) when it is a
 * btrfs read through the appliance (started if it is not yet): id and
 * path from the top level.  None (*n 0) for anything else, or with
 * --backend native.  Free with img_subvolumes_free. */
struct img_subvolume {
  uint64_t id;
  char *path;
};
int img_guest_subvolumes (struct img_guest *g, size_t i,
                          struct img_subvolume **subs, size_t *n);
void img_subvolumes_free (struct img_subvolume *subs, size_t n);
/* What the guest was opened on, all owned by the guest: the disks in the
 * order given, their partition tables, the LVM found on them, and every
 * volume (partitions or whole disks, md arrays or their partitions, then
 * LVs) with the signature probed on it, its partition (NULL for whole
 * disks, arrays and LVs) and its disk's index (SIZE_MAX for a partition
 * of an md array: it is on no one disk).  Out-parameters may be NULL. */
size_t img_guest_n_disks (const struct img_guest *g);
struct img_disk *img_guest_disk (const struct img_guest *g, size_t i);
const struct img_ptable *img_guest_ptable (const struct img_guest *g,
                                           size_t i);
const struct img_lvm *img_guest_lvm (const struct img_guest *g);
const struct img_md *img_guest_md (const struct img_guest *g);
size_t img_guest_n_volumes (const struct img_guest *g);
const struct img_volume *img_guest_volume (const struct img_guest *g,
                                           size_t i,
                                           const struct img_fsinfo **info,
                                           const struct img_part **part,
                                           size_t *image);

/* Path API across the guest's mount points.  Paths are the guest's own
 * ("/etc/fstab"); symlinks, absolute ones included, resolve inside the
 * guest and never reach the host; ".." stops at the guest's root; at most
 * 40 links are followed (-ELOOP beyond). */
/* The path with every symlink resolved (FOLLOW_LAST: the last one too);
 * the final component need not exist.  *canon malloc'd, caller owns. */
int img_guest_realpath (struct img_guest *g, const char *path,
                        bool follow_last, char **canon);
int img_guest_stat (struct img_guest *g, const char *path,
                    struct img_stat *st);
int img_guest_lstat (struct img_guest *g, const char *path,
                     struct img_stat *st);
/* Whether PATH exists (not following a final symlink); leaves no error. */
bool img_guest_exists (struct img_guest *g, const char *path);
int img_guest_readlink (struct img_guest *g, const char *path, char **target);
int img_guest_readdir (struct img_guest *g, const char *path,
                       struct img_dirent **ents, size_t *n);
int img_guest_read_file (struct img_guest *g, const char *path, size_t max,
                         void **buf, size_t *len);
/* Up to LEN bytes of the regular file PATH at OFF (*got: 0 at EOF). */
int img_guest_pread (struct img_guest *g, const char *path, void *buf,
                     size_t len, uint64_t off, size_t *got);
/* img_fs_xattrs on the filesystem PATH is on (final symlink not followed). */
int img_guest_xattrs (struct img_guest *g, const char *path, img_xattr_fn fn,
                      void *data);
/* img_fs_space of the filesystem PATH is on. */
int img_guest_space (struct img_guest *g, const char *path, uint64_t *total,
                     uint64_t *avail);
/* The writing calls below do nothing when the work is done already (a
 * re-run changes no byte): that is said of each.
 *
 * Atomic replace: the new contents go to a temporary file in the same
 * directory, which is then renamed over PATH (following symlinks to the
 * real file).  An existing file keeps its mode and owner; a new one gets
 * MODE (permission bits) and root ownership.  A file that holds exactly
 * BUF already is left alone. */
int img_guest_write_file (struct img_guest *g, const char *path,
                          const void *buf, size_t len, uint32_t mode);
int img_guest_unlink (struct img_guest *g, const char *path);
int img_guest_rmdir (struct img_guest *g, const char *path);
/* Removes a file, symlink or empty directory (rm -f: none there is not
 * an error). */
int img_guest_remove (struct img_guest *g, const char *path);
/* Both paths must be on the same filesystem (-EXDEV otherwise).  OLDPATH
 * gone and NEWPATH there: moved already, 0; neither: -ENOENT. */
int img_guest_rename (struct img_guest *g, const char *oldpath,
                      const char *newpath);
int img_guest_mkdir (struct img_guest *g, const char *path, uint32_t mode);
/* mkdir -p: a directory there already (or a symlink to one) is fine;
 * anything else in the way: -ENOTDIR. */
int img_guest_mkdir_p (struct img_guest *g, const char *path, uint32_t mode);
int img_guest_symlink (struct img_guest *g, const char *target,
                       const char *path);
int img_guest_chmod (struct img_guest *g, const char *path, uint32_t mode);
int img_guest_chown (struct img_guest *g, const char *path, uint32_t uid,
                     uint32_t gid);
int img_guest_utimes (struct img_guest *g, const char *path, int64_t atime,
                      int64_t mtime);
/* Calls FN for PATH and everything under it (pre-order; symlinks not
 * followed; mount points crossed as the guest would).  FN returning
 * non-zero stops the walk with that value. */
typedef int (*img_guest_walk_fn) (struct img_guest *g, const char *path,
                                  const struct img_stat *st, void *data);
int img_guest_walk (struct img_guest *g, const char *path,
                    img_guest_walk_fn fn, void *data);
/* Copies the host tree HOSTDIR into the guest as GUESTDIR (created if
 * missing): files (holes kept, any size), directories, symlinks, device
 * nodes, fifos, hard links, modes, owners, mtimes.  Host symlinks are
 * copied as links, never followed. */
int img_guest_copy_in (struct img_guest *g, const char *hostdir,
                       const char *guestdir);

/* Writes NEWPATH in the guest: the initrd at INITRD (checked to be a
 * readable initramfs first) with LAYER (a finished newc archive) appended,
 * compressed with COMPRESSION (see img_initrd_append).  NEWPATH gets the
 * original's mode; it is written atomically and may equal INITRD.  No
 * mkinitramfs or dracut runs anywhere. */
int img_guest_extend_initrd (struct img_guest *g, const char *initrd,
                             const char *newpath, const void *layer,
                             size_t layer_len, const char *compression);

/* ---- config-file parsers (fstab.c, bootcfg.c) ------------------------ */

struct img_fstab_entry {
  char *spec;                   /* "UUID=...", "/dev/sda1", "LABEL=..." */
  char *file;                   /* mount point, or "none"/"swap" */
  char *vfstype;
  char *options;
  int freq, passno;
  unsigned line;                /* 1-based line number in the file */
};

/* Parses fstab text (octal escapes like \040 decoded).  Malformed lines are
 * skipped with a debug message; *entries owned by the caller
 * (img_fstab_free). */
int img_fstab_parse (struct img_ctx *ctx, const char *text, size_t len,
                     struct img_fstab_entry **entries, size_t *n);
void img_fstab_free (struct img_fstab_entry *entries, size_t n);

enum img_boot_kind {
  IMG_BOOT_GRUB2 = 1,           /* grub.cfg menuentry */
  IMG_BOOT_GRUB_LEGACY,         /* menu.lst / grub.conf title */
  IMG_BOOT_BLS,                 /* /boot/loader/entries/NAME.conf */
  IMG_BOOT_EXTLINUX,            /* extlinux.conf / syslinux.cfg LABEL */
};

struct img_boot_entry {
  enum img_boot_kind kind;
  char *title;
  char *id;                     /* grub2 --id / $menuentry_id_option, BLS
                                 * file name; NULL if none */
  char *kernel;                 /* path as the config names it */
  char *initrd;                 /* first initrd, or NULL */
  char *args;                   /* kernel command line, or NULL */
  char *root;                   /* grub "root" device/search uuid, or NULL */
  unsigned line;                /* where the entry starts */
  int depth;                    /* grub2 submenu nesting */
};

/* Parses a bootloader configuration of KIND.  *entries owned by the
 * caller (img_boot_entries_free).  For GRUB legacy, *default_index gets
 * the "default" value (or -1); for GRUB 2 the "set default=" value if it
 * is a number (or -1).  DEFAULT_INDEX may be NULL. */
int img_bootcfg_parse (struct img_ctx *ctx, enum img_boot_kind kind,
                       const char *text, size_t len,
                       struct img_boot_entry **entries, size_t *n,
                       int *default_index);
void img_boot_entries_free (struct img_boot_entry *entries, size_t n);
const char *img_boot_kind_name (enum img_boot_kind kind);

/* ---- shell-style KEY=VALUE text (textconf.c) ------------------------- */

/* The value of the first KEY=VALUE line of TEXT (LEN bytes, need not be
 * terminated): leading blanks skipped, trailing blanks and CR dropped,
 * one pair of matching quotes stripped, nothing evaluated; a NUL byte in
 * the value ends it.  *value is malloc'd, owned by the caller.  With
 * LINE_START/LINE_END (may be NULL), the offsets of the line and of its
 * end (its '\n', or LEN).  0; -ENOENT: no such key (no message);
 * -ENOMEM; -EINVAL: empty KEY. */
int img_textconf_get (const char *text, size_t len, const char *key, char **value,
                      size_t *line_start, size_t *line_end);

/* Whether a line of TEXT (LEN bytes) is WORD, or WORD then blanks and
 * more (leading blanks allowed): "xen-blkfront" in
 * /etc/initramfs-tools/modules or conf/modules. */
bool img_textconf_has_line (const char *text, size_t len, const char *word);

/* ---- MAC addresses in network config text (netrules.c) ---------------- */

/* S (LEN bytes) starts with a MAC "xx:xx:xx:xx:xx:xx" (hex, not followed
 * by another hex digit): MAC gets it as written.  0 or -EINVAL. */
int img_mac_parse (const char *s, size_t len, char mac[18]);
/* The first well-formed ATTR{address}=="MAC" in udev persistent-net rules
 * TEXT (LEN bytes): 0, or -ENOENT. */
int img_netrules_mac (const char *text, size_t len, char mac[18]);
/* One ifcfg LINE (LEN bytes, no newline): 0 and MAC if it is
 * HWADDR=MAC (quoted or not); -EINVAL if it is a HWADDR= line without a
 * well-formed MAC; -ENOENT if it is another line. */
int img_ifcfg_hwaddr (const char *line, size_t len, char mac[18]);

/* ---- inspection (inspect.c) ------------------------------------------ */

struct img_kernel_info {
  char *version;                /* "6.1.0-28-amd64" */
  char *vmlinuz;                /* guest path */
  char *initrd;                 /* guest path, NULL if none found */
  char *modules;                /* "/lib/modules/VER", NULL if missing */
  char *config;                 /* "/boot/config-VER", NULL if missing */
  /* Xen PV capability: "pvops" (CONFIG_XEN_PV or, before it existed,
   * CONFIG_XEN), "xenified" (an old -xen kernel), "none", or "unknown"
   * (no config to tell). */
  const char *xen;
};

struct img_bootcfg {
  char *path;                   /* guest path of the file */
  enum img_boot_kind kind;
  int default_index;            /* -1 if not a plain number */
  size_t n_entries;
  struct img_boot_entry *entries;
};

struct img_inspection {
  /* From os-release, or else the legacy release files. */
  char *os_id, *os_id_like, *os_name, *os_pretty_name, *os_version_id,
       *os_codename;
  char *os_source;              /* the file it came from */
  /* The distribution as virt-inspector names it ("rhel", "oraclelinux",
   * "archlinux"...; an ID it has no name for stays the os-release ID;
   * "redhat-based" for an unknown /etc/redhat-release), NULL if none;
   * its version as numbers, -1 where unknown. */
  char *distro;
  int major_version, minor_version;
  char *hostname;
  char *arch;                   /* from the ELF header of /bin/sh */
  /* "initramfs-tools", "dracut", "mkinitrd" or "unknown". */
  const char *initramfs;
  size_t n_kernels;
  struct img_kernel_info *kernels;      /* newest version first */
  size_t n_bootcfgs;
  struct img_bootcfg *bootcfgs;
};

/* Inspects the guest's OS, kernels, initramfs tooling and bootloader
 * configurations.  Unreadable or hostile files are skipped (debug
 * message), never fatal.  The caller owns *out (img_inspection_free). */
int img_guest_inspect (struct img_guest *g, struct img_inspection **out);
void img_inspection_free (struct img_inspection *insp);
/* Fills IN's os_* fields (and os_source = FILE) from the release file FILE
 * ("/etc/os-release", "/usr/lib/os-release", "/etc/redhat-release" or
 * another "*-release" (centos, rocky, almalinux, oracle, enterprise,
 * fedora, system, gentoo), "/etc/SuSE-release", "/etc/lsb-release",
 * "/etc/debian_version", "/etc/arch-release", "/etc/alpine-release"),
 * TEXT being its LEN bytes (need not be terminated; a NUL byte ends it),
 * and IN's distro, major_version and minor_version from them.  The os_*
 * fields and distro must be NULL before.
 * 0; -ENOENT: the file says nothing (lsb-release without DISTRIB_ID);
 * -EINVAL: FILE is none of those; -ENOMEM.  No message is recorded. */
int img_release_parse (const char *file, const char *text, size_t len,
                       struct img_inspection *in);
/* Compares kernel version strings the way package managers order them
 * (numeric runs compared as numbers). */
int img_version_cmp (const char *a, const char *b);

/* ---- kernel module trees (kmod.c) ------------------------------------ */

struct img_kmod;

/* Parses a tree's modules.dep (DEP, DEP_LEN bytes) and, if BUILTIN is not
 * NULL, its modules.builtin; NAME is for messages.  Paths are kept
 * relative to the tree ("kernel/drivers/block/xen-blkfront.ko.xz"). */
int img_kmod_parse (struct img_ctx *ctx, const char *name, const char *dep,
                    size_t dep_len, const char *builtin, size_t builtin_len,
                    struct img_kmod **km);
void img_kmod_free (struct img_kmod *km);
/* The file of MODULE ('-' and '_' alike), or NULL. */
const char *img_kmod_find (const struct img_kmod *km, const char *module);
bool img_kmod_builtin (const struct img_kmod *km, const char *module);
/* Every file MODULES need, dependencies before the modules that use them;
 * *paths (malloc'd array of strings owned by KM) is freed by the caller.
 * -ENOENT names a module the tree does not have. */
int img_kmod_closure (const struct img_kmod *km, const char *const *modules,
                      size_t n_modules, const char ***paths, size_t *n_paths);

/* ---- checksums (crc.c) ------------------------------------------------ */

uint32_t img_crc32 (const void *buf, size_t len);       /* as GPT uses it */
uint32_t img_lvm_crc (const void *buf, size_t len);     /* LVM2's calc_crc */

#ifdef __cplusplus
}
#endif

#endif /* LIBIMG_H */
