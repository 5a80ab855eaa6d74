/* The undo record's insides, shared by disk/undo*.c: the file's layout
 * (see img-undo.h), the record buffer, the set of chunks already saved,
 * and the file as read back. */
#ifndef LIBIMG_DISK_UNDO_PRIVATE_H
#define LIBIMG_DISK_UNDO_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img-undo.h"
#include "private.h"
#include "disk/disk-private.h"

#define UNDO_MAGIC "IMGUNDO1"
#define UNDO_VERSION 1
#define HDR_FIXED 32
#define HDR_DISK_FIXED (8 + 16 + 4)
#define HDR_MAX (1u << 20)
#define REC_MAGIC 0x43455255u   /* "UREC" */
#define REC_HEAD 40
#define REC_DATA 1
#define REC_STATE 2
#define REC_POST 3
#define REC_FLAG_ZERO 1u
#define POST_ENTRY 16
#define MAX_DISKS 64
/* A record's payload is at most one chunk (DATA) or one POST list. */
#define MAX_PAYLOAD (1u << 30)

struct buf {
  unsigned char *p;
  size_t len, cap;
};

/* A set of chunk keys (disk index << 52 | chunk number), open addressing;
 * the keys are also kept in insertion order for the POST record. */
struct keyset {
  uint64_t *slots;              /* key + 1; 0 is empty */
  size_t cap, n;
  uint64_t *order;
};

#define KEY(disk, chunk) (((uint64_t) (disk) << 52) | (chunk))
#define KEY_DISK(k) ((size_t) ((k) >> 52))
#define KEY_CHUNK(k) ((k) & ((1ULL << 52) - 1))

struct hdisk {
  char *path;
  uint64_t size;
  char format[17];
};

struct ufile {
  int fd;
  uint64_t file_size;
  uint32_t header_len;
  uint32_t chunk;
  uint64_t created;
  size_t n_disks;
  struct hdisk *disks;
  int state;                    /* 0: header incomplete */
  uint64_t end;                 /* end of the last valid record */
  unsigned char *post;          /* last POST payload (malloc'd) */
  uint32_t post_len;
  uint64_t n_data;
  uint32_t n_segments;          /* runs: a STATE running starts one */
};

typedef int (*rec_fn) (void *data, uint32_t seg, uint32_t disk,
                       uint32_t flags,
                       uint64_t offset, uint32_t length,
                       const unsigned char *payload);

/* ---- undo-file.c: records, reading a file back ------------------------ */

int img_internal_undo_buf_add (struct buf *b, const void *data, size_t len);
int img_internal_undo_buf_u32 (struct buf *b, uint32_t v);
int img_internal_undo_buf_u64 (struct buf *b, uint64_t v);
void img_internal_undo_put_le32 (unsigned char *p, uint32_t v);
bool img_internal_undo_keyset_has (const struct keyset *s, uint64_t k);
int img_internal_undo_keyset_add (struct keyset *s, uint64_t k);
void img_internal_undo_keyset_free (struct keyset *s);
int img_internal_undo_fsync_parent (const char *path);
int img_internal_undo_rec_add (struct buf *b, uint32_t type, uint32_t disk,
                               uint32_t flags, uint64_t offset,
                               uint32_t length, const void *payload,
                               uint32_t plen);
void img_internal_undo_ufile_free (struct ufile *u);
int img_internal_undo_ufile_read (struct img_ctx *ctx, const char *path,
                                  int oflags, struct ufile *u, rec_fn fn,
                                  void *fn_data);
int img_internal_undo_check_identity (struct img_ctx *ctx, const char *path,
                                      const struct hdisk *h,
                                      struct img_disk *disk);
uint64_t img_internal_undo_chunk_len (struct img_disk *disk, uint64_t off);
int img_internal_undo_verify_post (struct img_ctx *ctx, const char *path,
                                   struct img_disk **disks, size_t n_disks,
                                   const unsigned char *post,
                                   uint32_t post_len);

#endif /* LIBIMG_DISK_UNDO_PRIVATE_H */
