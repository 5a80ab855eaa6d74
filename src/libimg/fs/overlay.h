/* The recording overlay: an fs backend stacked on any other (ext, dir,
 * libguestfs) behind the same img_fs_ops.  In a real run every operation
 * passes through to the lower fs; in a dry run writes are kept in memory
 * and every read sees them.  In both, what changed is logged per path
 * (overlay-log.c), with the old contents of small files captured before
 * the first change, so a plan can report diffs. */
#ifndef LIBIMG_FS_OVERLAY_H
#define LIBIMG_FS_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fs-private.h"

/* Old contents up to this size are captured (a file bigger than this
 * gets no diff, only its sizes). */
#define IMG_FS_CAPTURE_MAX (4u << 20)

enum img_fs_change_kind {
  IMG_FS_CHANGE_ADD = 1,        /* a new file, link, device node */
  IMG_FS_CHANGE_WRITE,          /* an existing file rewritten */
  IMG_FS_CHANGE_REMOVE,
  IMG_FS_CHANGE_MOVE,
  IMG_FS_CHANGE_MKDIR,
  IMG_FS_CHANGE_SYMLINK,
};

/* One change, merged per path between two img_internal_fs_log_clear:
 * a temporary file written then renamed over PATH is one WRITE (or ADD)
 * of PATH, mkdir -p is one MKDIR of the deepest directory. */
struct img_fs_change {
  enum img_fs_change_kind kind;
  struct img_fs *fs;            /* the overlay it happened in */
  char *fs_path;                /* where it is now, inside FS */
  char *path;                   /* the guest path the caller named */
  char *target;                 /* MOVE: new guest path; SYMLINK: target */
  char *detail;                 /* ADD of a device node: what it is */
  bool existed;                 /* WRITE: there was a file before */
  bool captured;                /* OLD holds the contents before */
  uint64_t old_size;
  void *old;                    /* NUL-terminated, OLD_SIZE bytes */
  unsigned long op;             /* the caller's operation it came from */
};

/* The changes of every overlay of one guest, in the order they happened.
 * Owned by the caller; it must outlive the overlays. */
struct img_fs_log;
int img_internal_fs_log_new (struct img_ctx *ctx, struct img_fs_log **log);
void img_internal_fs_log_free (struct img_fs_log *log);
size_t img_internal_fs_log_n (const struct img_fs_log *log);
const struct img_fs_change *img_internal_fs_log_get (const struct img_fs_log *log,
                                                     size_t i);
/* Forgets the changes (the caller has taken them); later changes to the
 * same paths start new entries. */
void img_internal_fs_log_clear (struct img_fs_log *log);
/* Reads the current contents of the file of change C (through its
 * overlay, so a dry run's writes are seen), up to IMG_FS_CAPTURE_MAX
 * bytes: -EFBIG past that.  *buf NUL-terminated, owned by the caller. */
int img_internal_fs_change_read (const struct img_fs_change *c, void **buf,
                                 size_t *len);

/* Stacks an overlay on LOWER (which it then owns and closes).  DRY_RUN:
 * writes stay in memory (LOWER may be read-only).  MOUNTPOINT prefixes
 * the paths logged.  LOG receives the changes. */
int img_internal_overlay_open (struct img_ctx *ctx, struct img_fs *lower,
                               bool dry_run, const char *mountpoint,
                               struct img_fs_log *log, struct img_fs **fs);
/* Whether FS is an overlay. */
bool img_internal_fs_is_overlay (const struct img_fs *fs);
/* Brackets one operation of a caller above (the guest's write_file,
 * mkdir -p, rename): changes of FS_PATH (FS_PATH2) are logged under the
 * name NAME (NAME2) the caller used, and the steps of the operation
 * merge into one change.  No-ops on other backends. */
void img_internal_overlay_begin (struct img_fs *fs, const char *fs_path,
                                 const char *name, const char *fs_path2,
                                 const char *name2);
void img_internal_overlay_end (struct img_fs *fs);
/* Within such an operation: the directory change logged for FS_PATH is
 * named NAME (mkdir -p learns the deepest path only at its end). */
int img_internal_overlay_name (struct img_fs *fs, const char *fs_path,
                               const char *name);

/* overlay-log.c's part, used by overlay.c. */
/* The newest change of FS at FS_PATH since the last clear, or NULL. */
struct img_fs_change *img_internal_fs_log_find (struct img_fs_log *log,
                                                struct img_fs *fs,
                                                const char *fs_path);
/* Appends a change; NAME and TARGET are copied.  NULL on no memory. */
struct img_fs_change *img_internal_fs_log_add (struct img_fs_log *log,
                                               struct img_fs *fs,
                                               enum img_fs_change_kind kind,
                                               const char *fs_path,
                                               const char *name,
                                               const char *target,
                                               unsigned long op);
/* Drops change C. */
void img_internal_fs_log_drop (struct img_fs_log *log, struct img_fs_change *c);
/* FS_PATH (or a directory above it) moved from OLD to NEW: entries of FS
 * there follow it. */
int img_internal_fs_log_moved (struct img_fs_log *log, struct img_fs *fs,
                               const char *old_path, const char *new_path);

/* Resolved in overlay.c for the log: the view's lstat and pread. */
int img_internal_overlay_view_lstat (struct img_fs *fs, const char *path,
                                     struct img_stat *st);
int img_internal_overlay_view_read (struct img_fs *fs, const char *path,
                                    uint64_t size, void **buf, size_t *len);

#endif /* LIBIMG_FS_OVERLAY_H */
