/* The overlay's insides, shared by overlay.c (the operations, the
 * recording) and overlay-mem.c (a dry run's in-memory tree). */
#ifndef LIBIMG_FS_OVERLAY_PRIVATE_H
#define LIBIMG_FS_OVERLAY_PRIVATE_H

#include "fs/overlay.h"

struct ov_node;

struct img_overlay {
  struct img_fs fs;             /* first: what callers hold */
  struct img_fs *lower;         /* owned */
  bool dry;
  char *prefix;                 /* the mount point; "" for "/" */
  struct img_fs_log *log;
  /* The caller's operation in progress (img_internal_overlay_begin). */
  bool in_op;
  unsigned long op_id;
  char *op_path, *op_name, *op_path2, *op_name2;
  /* Dry run: the paths that differ from the lower fs, hashed by path. */
  struct ov_node **buckets;
  size_t n_buckets, n_nodes;
  uint64_t next_ino;
};

/* A path string of parsed components ("/" for none).  NULL on no memory. */
char *img_internal_ov_join (const struct img_fs_path *p);

/* Dry run: the operations on the in-memory tree over the lower fs.  Paths
 * are canonical ("/a/b"); the same returns as the img_fs_ops. */
int img_internal_ov_lstat (struct img_overlay *o, const char *path,
                           struct img_stat *st);
int img_internal_ov_readlink (struct img_overlay *o, const char *path,
                              char **target);
int img_internal_ov_readdir (struct img_overlay *o, const char *path,
                             struct img_dirent **ents, size_t *n);
int img_internal_ov_pread (struct img_overlay *o, const char *path, void *buf,
                           size_t len, uint64_t off, size_t *got);
int img_internal_ov_make (struct img_overlay *o, const char *path,
                          uint32_t mode, uint32_t uid, uint32_t gid,
                          const char *link, uint32_t major, uint32_t minor);
int img_internal_ov_pwrite (struct img_overlay *o, const char *path,
                            const void *buf, size_t len, uint64_t off);
int img_internal_ov_truncate (struct img_overlay *o, const char *path,
                              uint64_t size);
int img_internal_ov_link (struct img_overlay *o, const char *oldpath,
                          const char *newpath);
int img_internal_ov_remove (struct img_overlay *o, const char *path, bool dir);
int img_internal_ov_rename (struct img_overlay *o, const char *oldpath,
                            const char *newpath);
enum ov_attr { OV_ATTR_MODE, OV_ATTR_OWNER, OV_ATTR_TIMES };
int img_internal_ov_setattr (struct img_overlay *o, const char *path,
                             enum ov_attr what, const struct img_stat *v);
int img_internal_ov_xattrs (struct img_overlay *o, const char *path,
                            img_xattr_fn fn, void *data);
int img_internal_ov_space (struct img_overlay *o, uint64_t *total,
                           uint64_t *avail);
void img_internal_ov_free_nodes (struct img_overlay *o);

#endif /* LIBIMG_FS_OVERLAY_PRIVATE_H */
