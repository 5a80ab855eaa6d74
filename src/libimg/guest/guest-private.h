/* The guest's insides, shared by guest.c (opening: volumes, mount map),
 * paths.c (resolution inside the guest) and file.c (file operations). */
#ifndef LIBIMG_GUEST_PRIVATE_H
#define LIBIMG_GUEST_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "private.h"
#include "initrd/initrd-private.h"

struct gvolume {
  struct img_volume *vol;       /* owned unless lv */
  bool owned;
  struct img_fsinfo info;
  const struct img_part *part;  /* NULL for whole disks and LVs */
  size_t image;                 /* which image (for /dev/sdX names); SIZE_MAX
                                   for a partition of an md array */
  const char *vg, *lv;          /* for LVs */
  const struct img_md_array *md; /* for md arrays */
  char adev[300];               /* the appliance's name for it (fsopen.c) */
  bool adev_ok;                 /* adev is set */
  /* Inside an encrypted volume (luks.c): only the appliance reads it. */
  bool inner;
  long parent;                  /* the LUKS volume (or the mapping) holding it */
  char *own_vg, *own_lv;        /* vg, lv of an LV found in the appliance */
  char *crypt_name;             /* the mapping's name in the guest's crypttab */
};

struct gmount {
  struct img_guest_mount pub;
  struct img_fs *fs;            /* NULL unless mounted */
  long volume;                  /* index into volumes, or -1 */
  bool readonly;                /* never opened for writing (CoreOS /usr: dm-verity) */
  bool lazy;                    /* read through the appliance: opened on first use */
  char *fs_options;             /* appliance mount options ("subvol=@home") */
};

struct img_guest {
  struct img_ctx *ctx;
  int flags;
  size_t n_disks;
  struct img_disk **disks;
  struct img_ptable **pts;
  struct img_lvm *lvm;
  struct img_md *md;
  size_t n_volumes;
  struct gvolume *volumes;
  size_t n_mounts;
  struct gmount *mounts;        /* sorted: longest mount point first */
  size_t n_roots;
  char **roots;
  char *root_options;           /* appliance options of the root ("subvol=@") */
  struct img_appliance *ap;     /* the run's libguestfs appliance, or NULL */
  struct img_fs_log *ov_log;    /* set by img_internal_guest_overlay: lazy */
  bool ov_set, ov_dry;          /* mounts get their overlay when opened */
  long locked;                  /* a LUKS volume left closed (no key), or -1 */
  char *no_root_why;            /* why no root could be found, or NULL */
  struct img_windows *windows;  /* a Windows guest found instead (windows.c) */
};

/* paths.c: the filesystem and the path in it holding the canonical path
 * CANON (*rel points into CANON); its lstat. */
int img_internal_guest_map (struct img_guest *g, const char *canon,
                            struct img_fs **fs, const char **rel);
int img_internal_guest_lstat_canon (struct img_guest *g, const char *canon,
                                    struct img_stat *st);

/* file.c: what a copy of the tree of the filesystem mounted at MOUNTPOINT takes
 * in a tmpfs, from its inode table (fs usage op); -ENOTSUP (no message)
 * where its backend cannot say, or MOUNTPOINT is not a mount's own. */
int img_internal_guest_fs_usage (struct img_guest *g, const char *mountpoint,
                                 uint64_t *bytes);

/* paths.c: resolve a guest path (symlinks followed inside the guest) to
 * its canonical form (*canon, malloc'd) and the filesystem and path in it
 * that hold it (*rel points into *canon). */
int img_internal_guest_resolve (struct img_guest *g, const char *path,
                                bool follow_last, char **canon,
                                struct img_fs **fs, const char **rel);
/* guest.c: stacks a recording overlay (fs/overlay.h) on every mounted
 * filesystem of G, logging into LOG; DRY_RUN keeps the writes in memory.
 * What a plan opens the guest with. */
struct img_fs_log;
int img_internal_guest_overlay (struct img_guest *g, bool dry_run,
                                struct img_fs_log *log);

/* guest.c: an ext2/3/4 type name (what the native backend reads). */
bool img_internal_guest_is_ext (const char *type);
/* usrfs.c: the volume holding a /usr that no fstab names (CoreOS,
 * Flatcar: the USR-A partition), or -1; ROOT is the root's volume. */
long img_internal_guest_find_usr (struct img_guest *g, long root);

/* scan.c: opens the N images and finds every volume on them (partitions,
 * md arrays and their partitions, LVs), each probed.  0 or -errno. */
int img_internal_guest_scan_disks (struct img_guest *g,
                                   const char *const *images, size_t n);

/* guest.c: appends a volume (not probed) to G's; NULL on no memory
 * (VOL freed if OWNED, message recorded). */
struct gvolume *img_internal_guest_append_volume (struct img_guest *g,
                                                  struct img_volume *vol,
                                                  bool owned);
/* fsopen.c: which backend reads volume VI. */
enum img_guest_reader {
  IMG_GUEST_READER_NONE = 0,
  IMG_GUEST_READER_NATIVE,
  IMG_GUEST_READER_APPLIANCE,
};
enum img_guest_reader img_internal_guest_reader (struct img_guest *g, long vi);
/* fsopen.c: sets every volume's appliance name (after the scan). */
void img_internal_guest_appliance_names (struct img_guest *g);
/* fsopen.c: opens volume VI's filesystem with the backend that reads it
 * (OPTIONS: appliance mount options, NULL for none). */
int img_internal_guest_open_fs (struct img_guest *g, long vi,
                                const char *options, int flags,
                                struct img_fs **fs);
/* fsopen.c: whether volume VI holds a root: 1 (*OPTIONS: the appliance
 * options that reach it, a btrfs subvolume, or NULL), 0, or -errno. */
int img_internal_guest_try_root (struct img_guest *g, long vi, char **options);
/* fsopen.c: /etc as a directory and a release file or an fstab. */
bool img_internal_guest_looks_like_root (struct img_fs *fs);
/* fsopen.c: the appliance, created and started (WHY: for the log). */
int img_internal_guest_need_appliance (struct img_guest *g, const char *why);
/* guest.c: the volume an fstab/crypttab spec names, or -1. */
long img_internal_guest_resolve_spec (struct img_guest *g, const char *spec);
/* luks.c: opens every LUKS volume a key was given for, adding what each
 * holds; those left closed are remembered in g->locked. */
int img_internal_guest_open_luks (struct img_guest *g);
/* luks.c: why a guest with no root found may have it in g->locked
 * (malloc'd, or NULL). */
char *img_internal_guest_locked_why (struct img_guest *g, const char *image);
/* luks.c: names the opened mappings from the root's /etc/crypttab. */
void img_internal_guest_crypttab (struct img_guest *g);
/* fsopen.c: shuts the appliance down (committing its writes on a
 * read-write guest); 0 when there is none. */
int img_internal_guest_close_appliance (struct img_guest *g);
/* windows.c: with no Linux root, looks for a Windows system root on the
 * NTFS volumes the appliance reads; when found, sets g->windows and
 * g->no_root_why (it is not converted).  0 or -errno (no memory). */
int img_internal_guest_find_windows (struct img_guest *g);
void img_internal_guest_free_windows (struct img_guest *g);

/* Appends LEN bytes of BUF to the regular file PATH, in place, where it
 * is AT bytes long (what the caller read): its first AT bytes, blocks,
 * mode and owner stay.  A file AT + LEN long ending in BUF already is left
 * alone; any other size is -ESTALE (the file changed since it was read).
 * For the conversions (an initrd's layer); not in the public API. */
int img_internal_guest_append_file (struct img_guest *g, const char *path,
                                    uint64_t at, const void *buf, size_t len);

/* guestinitrd.c: parses the guest's initrd PATH (symlinks followed; a
 * regular file of at most MAX bytes, as img_guest_read_file admits it)
 * through a window of its bytes, never the whole file: the arguments and
 * result of img_initrd_parse_read, NAME starting its messages; *size
 * (if not NULL) the file's size. */
int img_guest_initrd_parse (struct img_guest *g, const char *path,
                            uint64_t max, const char *name,
                            uint64_t max_uncompressed, uint64_t keep_data,
                            img_initrd_keep_fn keep_also,
                            const struct img_initrd_sink *sink,
                            struct img_initrd **initrd, uint64_t *size);
/* file.c: img_guest_read_file's checks and budget charge for PATH, with
 * nothing read (*size: the file's size). */
int img_internal_guest_read_admit (struct img_guest *g, const char *path,
                                   uint64_t max, uint64_t *size);
/* file.c: img_guest_write_file of the LEN bytes of the host file FD,
 * read a chunk at a time (never mapped or held whole). */
int img_internal_guest_write_fd (struct img_guest *g, const char *path, int fd,
                                 uint64_t len, uint32_t mode);
/* file.c: whether the regular file PATH holds exactly the LEN bytes of
 * the host file FD, compared a chunk at a time; leaves no error. */
int img_internal_guest_same_fd (struct img_guest *g, const char *path, int fd,
                                uint64_t len);

#endif /* LIBIMG_GUEST_PRIVATE_H */
