/* The ext2/3/4 backend's insides, shared by the fs/ext-*.c files: the
 * filesystem and channel state, the inode buffer, and the helpers one
 * concern lends another (e2fsprogs' lib/ext2fs is split the same way). */
#ifndef LIBIMG_FS_EXT_PRIVATE_H
#define LIBIMG_FS_EXT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "fs/fs-private.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* The cache: lines of the volume in a set-associative cache with LRU
 * replacement (direct mapping thrashes: libext2fs keeps going back to the
 * group descriptors and to the inode table, which are often a power of
 * two apart).  Small writes (the metadata, small files) land in it and
 * reach the volume together, when libext2fs flushes, when the filesystem
 * is closed, or when the cache needs the room: all of them announced to
 * the volume first (img_internal_volume_will_write), so that the undo record saves
 * what they overwrite behind one barrier, not one per write.  A cached
 * line always holds the newest bytes: large writes go to the volume and
 * into any cached copy, large reads come from the volume with the dirty
 * parts of the cache laid over them. */
#define CACHE_LINE_SIZE (32 * 1024)
#define CACHE_WAYS 8
#define CACHE_SETS 32                           /* 8 MiB at most */
#define CACHE_LINES (CACHE_WAYS * CACHE_SETS)
#define CACHE_BYPASS (4 * CACHE_LINE_SIZE)      /* larger reads go direct */
#define EXT_IO_MAGIC 0x696d6745u

#define CACHE_SUB_SIZE 1024                     /* dirty-tracking unit */

struct cache_line {
  uint64_t tag;                 /* line number + 1; 0 when empty */
  uint64_t used;                /* for LRU: the cache's clock when last hit */
  size_t len;                   /* valid bytes (short at the volume's end) */
  uint32_t dirty;               /* 1 KiB pieces not yet written, a bit each */
  unsigned char *data;
};

/* What our channels read and write.  It belongs to the ext_fs and outlives
 * the channels libext2fs opens on it (one per ext2fs_open2), so the cache
 * carries over from the read-only probe open to the read-write one. */
struct ext_io {
  unsigned magic;
  struct img_ctx *ctx;
  const struct img_volume *vol;
  struct cache_line lines[CACHE_LINES];
  uint64_t clock;
  size_t n_dirty;               /* lines with dirty pieces */
  struct struct_io_stats stats;
  /* The volume layer records its own message on failure; libext2fs then
   * hands us back only an error code.  Keep the message so that the error
   * we finally report names the real cause. */
  int err;
  char msg[1024];
};

/* ext-io.c: the io_manager; its channels read and write the ext_io
 * named by the device name. */
extern struct struct_io_manager img_internal_ext_io_manager;
void img_internal_ext_cache_free (struct ext_io *io);
int img_internal_ext_writeback (struct ext_io *io);
int img_internal_ext_vol_flush (const struct img_volume *vol);

/* The filesystem: the shared part, libext2fs's handle, our channel. */
/* Names looked up before, (directory, name) -> inode, so that walking a
 * tree or reading a file a chunk at a time by its path does not scan
 * each directory on the way again (ext2fs_lookup is linear, and checks
 * every block's checksum).  Emptied by every change to a directory's
 * entries (img_internal_ext_dcache_clear). */
#define EXT_DCACHE_SLOTS 1024
struct ext_dentry {
  ext2_ino_t dir, ino;          /* dir 0: an empty slot */
  unsigned char len;
  char name[EXT2_NAME_LEN];
};

struct ext_fs {
  struct img_fs base;
  ext2_filsys fs;
  struct ext_io io;
  char devname[64];
  struct ext_dentry *dcache;    /* EXT_DCACHE_SLOTS, or NULL */
};

/* An inode as stored: all EXT2_INODE_SIZE bytes of it, so that writing it
 * back never clobbers the in-inode extended attributes that follow the
 * fields we know. */
struct ext_inode {
  ext2_ino_t ino;
  struct ext2_inode_large *i;
};

/* ---- the name cache (ext-lookup.c) -------------------------------------- */
void img_internal_ext_dcache_clear (struct ext_fs *e);

/* ---- errors (ext-open.c) ----------------------------------------------- */
void img_internal_ext_io_reset (struct ext_fs *e);

int img_internal_ext_fail (struct ext_fs *e, const char *path,
                           const char *what, errcode_t err);

int img_internal_ext_errno_msg (struct ext_fs *e, const char *path, int err);

/* ---- inodes (ext-inode.c) ---------------------------------------------- */
void img_internal_ext_now (int64_t *sec, uint32_t *ns);

size_t img_internal_ext_inode_buf_size (const struct ext_fs *e);

int img_internal_ext_inode_read (struct ext_fs *e, const char *path,
                                 ext2_ino_t ino, struct ext_inode *in);

int img_internal_ext_inode_write (struct ext_fs *e, const char *path,
                                  struct ext_inode *in);

void img_internal_ext_inode_free (struct ext_inode *in);

size_t img_internal_ext_extra_end (const struct ext_fs *e,
                                   const struct ext2_inode_large *i);

uint32_t img_internal_ext_time_extra (int64_t sec, uint32_t ns);

void img_internal_ext_time_decode (uint32_t lo, bool has_extra, uint32_t extra,
                                   int64_t *sec, uint32_t *ns);

uint32_t img_internal_ext_large_uid (const struct ext2_inode_large *i);

uint32_t img_internal_ext_large_gid (const struct ext2_inode_large *i);

void img_internal_ext_set_owner (struct ext2_inode_large *i, uint32_t uid,
                                 uint32_t gid);

void img_internal_ext_touch_ctime (struct ext_fs *e,
                                   struct ext2_inode_large *i);

int img_internal_ext_ftype (uint32_t mode);

unsigned char img_internal_ext_ftype_to_dtype (int ft);

void img_internal_ext_zero_inode (struct ext_fs *e, ext2_ino_t ino);

int img_internal_ext_free_inode (struct ext_fs *e, const char *path,
                                 struct ext_inode *in);

int img_internal_ext_drop_link (struct ext_fs *e, const char *path,
                                struct ext_inode *in);

void img_internal_ext_init_inode (struct ext_fs *e, struct ext_inode *in,
                                  uint32_t mode, uint32_t uid, uint32_t gid);

/* The inode times, with their *_extra fields where the inode has them. */
#define SET_TIME(e, in, f, sec, ns) do {                                \
    (in)->i_##f = (uint32_t) (sec);                                     \
    if (inode_includes (img_internal_ext_extra_end ((e), (in)),         \
                        i_##f##_extra))                                 \
      (in)->i_##f##_extra = img_internal_ext_time_extra ((sec), (ns));  \
  } while (0)

#define GET_TIME(e, in, f, secp, nsp)                                   \
  img_internal_ext_time_decode ((in)->i_##f,                            \
                                inode_includes                          \
                                  (img_internal_ext_extra_end ((e), (in)), \
                                   i_##f##_extra),                      \
                                (in)->i_##f##_extra, (secp), (nsp))

/* ---- lookups and write checks (ext-lookup.c) --------------------------- */
int img_internal_ext_resolve (struct ext_fs *e, const struct img_fs_path *p,
                              bool missing_ok, ext2_ino_t *dirp,
                              ext2_ino_t *inop);

const char *img_internal_ext_last_name (const struct img_fs_path *p);

int img_internal_ext_want_bitmaps (struct ext_fs *e, const char *path);

int img_internal_ext_check_dir_writable (struct ext_fs *e, const char *path,
                                         ext2_ino_t dir);

bool img_internal_ext_inline_off (ext2_filsys fs);

void img_internal_ext_inline_restore (ext2_filsys fs, bool had);

int img_internal_ext_check_file_writable (struct ext_fs *e, const char *path,
                                          const struct ext2_inode_large *i);

int img_internal_ext_lookup_new (struct ext_fs *e,
                                 const struct img_fs_path *p,
                                 ext2_ino_t *dirp);
int img_internal_ext_lookup (struct ext_fs *e, const struct img_fs_path *p,
                             struct ext_inode *in);
int img_internal_ext_open_regular (struct ext_fs *e,
                                   const struct img_fs_path *p,
                                   struct ext_inode *in);

/* ---- directory entries (ext-dirent.c) ---------------------------------- */
int img_internal_ext_add_entry (struct ext_fs *e, const char *path,
                                ext2_ino_t dir, const char *name,
                                ext2_ino_t ino, uint32_t mode);

int img_internal_ext_update_dir_from (struct ext_fs *e, const char *path,
                                      ext2_ino_t dir, int delta, int base);

int img_internal_ext_update_dir (struct ext_fs *e, const char *path,
                                 ext2_ino_t dir, int delta);

int img_internal_ext_check_subdir_room (struct ext_fs *e, const char *path,
                                        ext2_ino_t dir);

int img_internal_ext_check_empty (struct ext_fs *e, const char *path,
                                  ext2_ino_t dir);

int img_internal_ext_set_entry (struct ext_fs *e, const char *path,
                                ext2_ino_t dir, const char *name,
                                ext2_ino_t old, ext2_ino_t new, uint32_t mode);

int img_internal_ext_set_dotdot (struct ext_fs *e, const char *path,
                                 ext2_ino_t dir, ext2_ino_t parent);

/* ---- operations (ext-read.c, ext-write.c, ext-dir.c) ------------------ */
/* The img_fs_ops members, gathered in ext_ops (ext-open.c). */
int img_internal_ext_lstat (struct img_fs *fs, const struct img_fs_path *p,
                            struct img_stat *st);

int img_internal_ext_readlink (struct img_fs *fs, const struct img_fs_path *p,
                               char **target);

/* lstat of P, known to be inode INO (listed so by its directory). */
int img_internal_ext_usage (struct img_fs *fs, uint64_t *bytes);
int img_internal_ext_stat_ino (struct img_fs *fs, const struct img_fs_path *p,
                               uint64_t ino, struct img_stat *st);
int img_internal_ext_readdir (struct img_fs *fs, const struct img_fs_path *p,
                              struct img_dirent **ents, size_t *n);

int img_internal_ext_pread (struct img_fs *fs, const struct img_fs_path *p,
                            void *buf, size_t len, uint64_t off, size_t *got);

int img_internal_ext_xattrs (struct img_fs *fs, const struct img_fs_path *p,
                             img_xattr_fn fn, void *data);

int img_internal_ext_create (struct img_fs *fs, const struct img_fs_path *p,
                             uint32_t mode, uint32_t uid, uint32_t gid);

int img_internal_ext_mknod (struct img_fs *fs, const struct img_fs_path *p,
                            uint32_t mode, uint32_t major, uint32_t minor,
                            uint32_t uid, uint32_t gid);

int img_internal_ext_pwrite (struct img_fs *fs, const struct img_fs_path *p,
                             const void *buf, size_t len, uint64_t off);

int img_internal_ext_truncate (struct img_fs *fs, const struct img_fs_path *p,
                               uint64_t size);

int img_internal_ext_chmod (struct img_fs *fs, const struct img_fs_path *p,
                            uint32_t mode);

int img_internal_ext_chown (struct img_fs *fs, const struct img_fs_path *p,
                            uint32_t uid, uint32_t gid);

int img_internal_ext_utimes (struct img_fs *fs, const struct img_fs_path *p,
                             int64_t atime, uint32_t atime_ns, int64_t mtime,
                             uint32_t mtime_ns);

int img_internal_ext_mkdir (struct img_fs *fs, const struct img_fs_path *p,
                            uint32_t mode, uint32_t uid, uint32_t gid);

int img_internal_ext_symlink (struct img_fs *fs, const char *target,
                              const struct img_fs_path *p, uint32_t uid,
                              uint32_t gid);

int img_internal_ext_link (struct img_fs *fs, const struct img_fs_path *op,
                           const struct img_fs_path *np);

int img_internal_ext_unlink (struct img_fs *fs, const struct img_fs_path *p);

int img_internal_ext_rmdir (struct img_fs *fs, const struct img_fs_path *p);

int img_internal_ext_rename (struct img_fs *fs, const struct img_fs_path *op,
                             const struct img_fs_path *np);

#endif /* LIBIMG_FS_EXT_PRIVATE_H */
