/* The fs layer's insides: the operations table each backend (fs/ext-*.c,
 * dirfs.c, overlay.c) fills in, and the parsed path that fs.c hands them
 * after the checks every backend shares. */
#ifndef LIBIMG_FS_PRIVATE_H
#define LIBIMG_FS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "private.h"

/* Bounds on a path, checked once in fs.c: a whole path shorter than
 * PATH_MAX, no name longer than NAME_MAX.  The component count follows
 * from those (every component costs at least two bytes, "/x"), so the
 * backends' component walks are bounded too. */
#define IMG_FS_PATH_MAX 4096
#define IMG_FS_NAME_MAX 255
#define IMG_FS_MAX_COMPONENTS (IMG_FS_PATH_MAX / 2)

/* An absolute path split into components: no empty ones, no "." or "..".
 * n == 0 is the root. */
struct img_fs_path {
  const char *path;             /* as the caller gave it, for messages */
  size_t n;
  char **comp;                  /* n NUL-terminated names */
  char *buf;                    /* owns the names */
};

struct img_fs;

/* Backend operations.  fs.c has already parsed and checked the paths,
 * refused writes on a read-only fs and the operations that make no sense
 * on the root (create, unlink, rename... of "/"), so those ops see
 * p->n >= 1.  Each op records its own error message. */
struct img_fs_ops {
  int (*close) (struct img_fs *fs);     /* flushes and frees */
  int (*sync) (struct img_fs *fs);
  int (*lstat) (struct img_fs *fs, const struct img_fs_path *p,
                struct img_stat *st);
  int (*readlink) (struct img_fs *fs, const struct img_fs_path *p,
                   char **target);
  int (*readdir) (struct img_fs *fs, const struct img_fs_path *p,
                  struct img_dirent **ents, size_t *n);
  /* Optional: lstat of P, which its directory's readdir listed as inode
   * INO (a walk's children then cost no lookup each). */
  int (*stat_ino) (struct img_fs *fs, const struct img_fs_path *p,
                   uint64_t ino, struct img_stat *st);
  /* Optional: what a copy of the whole tree takes in a tmpfs, from the
   * inode table rather than a walk: each inode in use once (hard links
   * once), a regular file its blocks (st_blocks * 512), anything else
   * 4096.  -ENOTSUP (no message) where the backend cannot say. */
  int (*usage) (struct img_fs *fs, uint64_t *bytes);
  int (*pread) (struct img_fs *fs, const struct img_fs_path *p, void *buf,
                size_t len, uint64_t off, size_t *got);
  int (*create) (struct img_fs *fs, const struct img_fs_path *p,
                 uint32_t mode, uint32_t uid, uint32_t gid);
  int (*pwrite) (struct img_fs *fs, const struct img_fs_path *p,
                 const void *buf, size_t len, uint64_t off);
  int (*truncate) (struct img_fs *fs, const struct img_fs_path *p,
                   uint64_t size);
  int (*mkdir) (struct img_fs *fs, const struct img_fs_path *p,
                uint32_t mode, uint32_t uid, uint32_t gid);
  int (*symlink) (struct img_fs *fs, const char *target,
                  const struct img_fs_path *p, uint32_t uid, uint32_t gid);
  int (*mknod) (struct img_fs *fs, const struct img_fs_path *p,
                uint32_t mode, uint32_t major, uint32_t minor, uint32_t uid,
                uint32_t gid);
  int (*link) (struct img_fs *fs, const struct img_fs_path *oldp,
               const struct img_fs_path *newp);
  int (*unlink) (struct img_fs *fs, const struct img_fs_path *p);
  int (*rmdir) (struct img_fs *fs, const struct img_fs_path *p);
  int (*rename) (struct img_fs *fs, const struct img_fs_path *oldp,
                 const struct img_fs_path *newp);
  int (*chmod) (struct img_fs *fs, const struct img_fs_path *p,
                uint32_t mode);
  int (*chown) (struct img_fs *fs, const struct img_fs_path *p,
                uint32_t uid, uint32_t gid);
  int (*utimes) (struct img_fs *fs, const struct img_fs_path *p,
                 int64_t atime, uint32_t atime_ns, int64_t mtime,
                 uint32_t mtime_ns);
  int (*xattrs) (struct img_fs *fs, const struct img_fs_path *p,
                 img_xattr_fn fn, void *data);
  int (*space) (struct img_fs *fs, uint64_t *total, uint64_t *avail);
};

/* The part every backend shares; backends embed it first. */
struct img_fs {
  struct img_ctx *ctx;
  const struct img_fs_ops *ops;
  char *name;                   /* volume name or host directory */
  const char *type;             /* "ext2", "ext3", "ext4", "dir", "xfs"... */
  bool writable;
};

/* Backend constructors (ext-open.c, dirfs.c).  They set every field of the
 * shared part. */
int img_internal_ext_open (struct img_ctx *ctx, const struct img_volume *vol,
                           int flags, struct img_fs **fs);
int img_internal_dir_open (struct img_ctx *ctx, const char *dir, int flags,
                           struct img_fs **fs);
/* gfs.c: DEVICE (the appliance's name for it) mounted in the run's
 * appliance AP with OPTIONS ("subvol=@", or NULL); NAME for messages,
 * TYPE as probed. */
struct img_appliance;
int img_internal_gfs_open (struct img_ctx *ctx, struct img_appliance *ap,
                           const char *name, const char *device,
                           const char *type, const char *options, int flags,
                           struct img_fs **fs);

/* gfs.c: the subvolumes of the btrfs FS (a gfs backend), by id and
 * path from the top level.  Free with img_subvolumes_free. */
int img_internal_gfs_btrfs_subvolumes (struct img_fs *fs,
                                       struct img_subvolume **subs,
                                       size_t *n);

/* gfs.c: opens the registry hive at PATH of FS (a gfs backend) in the
 * appliance's hivex (img_internal_appliance_hive_*; the hive is parsed
 * there, never on the host).  -ENOTSUP on another backend. */
int img_internal_gfs_hive_open (struct img_fs *fs, const char *path);

/* Splits PATH into components (an absolute path; no "." or "..", no
 * name longer than IMG_FS_NAME_MAX): what fs.c does for every operation,
 * for a backend that calls another with paths of its own (the overlay).
 * Free with img_internal_fs_path_free. */
int img_internal_fs_path_parse (struct img_fs *fs, const char *path,
                                struct img_fs_path *p);
void img_internal_fs_path_free (struct img_fs_path *p);

/* The DT_* type for an S_IF* mode (the overlay's readdir). */
unsigned char img_internal_fs_dtype (uint32_t mode);

/* Records "NAME: TYPE: PATH: strerror(-ERR)" and returns ERR. */
int img_internal_fs_errno (struct img_fs *fs, const char *path, int err);
/* What img_fs_read_file checks before it reads a byte: PATH a regular
 * file of at most MAX bytes and within the budget for one file, its size
 * charged to the run's total (*size).  For readers that stream it. */
int img_internal_fs_read_admit (struct img_fs *fs, const char *path,
                                uint64_t max, uint64_t *size);
/* img_fs_lstat of PATH, which its directory's img_fs_readdir listed as
 * inode INO, without looking its name up; -ENOTSUP (no message) where the
 * backend cannot. */
int img_internal_fs_stat_ino (struct img_fs *fs, const char *path,
                              uint64_t ino, struct img_stat *st);
/* The usage op of FS: -ENOTSUP (no message) where there is none. */
int img_internal_fs_usage (struct img_fs *fs, uint64_t *bytes);

#endif /* LIBIMG_FS_PRIVATE_H */
