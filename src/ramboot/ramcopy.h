/* img-ramcopy's insides, shared by the files of src/ramboot: the tar
 * reader's state and the steps one file lends another.  tests/fuzz-tar.c
 * includes every .c file of the helper into one unit, so that its exit,
 * malloc and stdio stand-ins reach all of them. */
#ifndef IMG_RAMCOPY_H
#define IMG_RAMCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#define PROG "img-ramcopy"
#define MAX_DEPTH 256
/* st_blocks counts 512-byte units, whatever the filesystem's block. */
#define ST_BLOCK_UNIT 512

struct totals {
  uint64_t bytes;               /* allocated */
  uint64_t apparent;
  uint64_t files, dirs, links, others, hardlinks, skipped_mounts;
};

/* A POSIX pax tar (as GNU tar --format=posix --xattrs --sparse
 * --sparse-version=1.0 writes it), raw, gzip or zstd, streamed from the
 * guest's disk into a fresh tmpfs.  The archive is hostile input: every
 * field is checked, and every entry is made with *at() calls below an fd
 * of DST whose path components were opened with O_NOFOLLOW, so that no
 * name, link or symlink in it can reach outside DST. */

#define TAR_BLOCK 512
#define STREAM_BUF (256 * 1024)
/* Extended headers carry names and xattrs (64 KiB each at most in
 * Linux); far more is a hostile header, not a real one. */
#define PAX_MAX (16 << 20)
#define SPARSE_MAX_REGIONS (1 << 24)

/* The ustar header: byte arrays only, filled by memcpy. */
struct ustar {
  char name[100];
  char mode[8];
  char uid[8];
  char gid[8];
  char size[12];
  char mtime[12];
  char chksum[8];
  char typeflag;
  char linkname[100];
  char magic[6];
  char version[2];
  char uname[32];
  char gname[32];
  char devmajor[8];
  char devminor[8];
  char prefix[155];
  char pad[12];
};
_Static_assert (sizeof (struct ustar) == TAR_BLOCK, "ustar header is one block");

enum codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };

struct xattr {
  char *name;
  unsigned char *value;
  size_t len;
};

/* What the pax extended header ('x') says of the member after it. */
struct pax {
  char *path, *linkpath;
  bool has_size, has_uid, has_gid, has_mtime, has_atime;
  uint64_t size;
  uint32_t uid, gid;
  struct timespec mtime, atime;
  struct xattr *xattrs;
  size_t n_xattrs;
  bool sparse;                  /* GNU.sparse.major / minor seen */
  uint64_t sparse_major, sparse_minor;
  bool old_sparse;              /* GNU.sparse.map and friends (0.x) */
  char *sparse_name;
  bool has_realsize;
  uint64_t realsize;
};

struct dirtime {
  char *rel;
  struct timespec ts[2];
};

struct unpack {
  const char *archive;
  int fd;                       /* the archive */
  enum codec codec;
  unsigned char *raw;           /* compressed bytes read from fd */
  size_t raw_len, raw_pos;
  unsigned char *out;           /* decompressed bytes not yet taken */
  size_t out_len, out_pos;
  bool out_full;                /* the decompressor may hold more output */
  bool gz_end;                  /* between two gzip members */
  bool cut;                     /* the input ended inside a frame or member */
  size_t zret;                  /* ZSTD_decompressStream's last: 0 between frames */
  ZSTD_DStream *zd;
  z_stream z;
  uint64_t pos;                 /* tar bytes taken so far */

  int dstfd;
  char *cache_rel;              /* the parent directory last opened */
  int cache_fd;
  struct dirtime *dirtimes;
  size_t n_dirtimes, cap_dirtimes;
  uint64_t files, bytes;
};

/* One error line, "img-ramcopy: ...", and exit 1 (img-ramcopy.c). */
void die (const char *fmt, ...);
/* The same for the tar reader, naming the archive (ramcopy-stream.c). */
void udie (struct unpack *u, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3), noreturn));

/* ---- ramcopy-copy.c ---- */

/* user.* attributes tmpfs could not take (left out, then reported). */
extern uint64_t xattrs_skipped;

void size_tree (const char *path, dev_t dev, int depth, struct totals *t);
bool xattr_skippable (const char *name, int err);
void report_skipped (void);
void copy_tree (const char *src, const char *dst, dev_t dev, int depth, bool top,
                struct totals *t);

/* ---- ramcopy-stream.c ---- */

const char *shown (const char *name, int slot);
void *xmalloc (size_t n);
char *xstrndup (const char *s, size_t n);
size_t stream_read (struct unpack *u, void *buf, size_t n);
void stream_need (struct unpack *u, void *buf, size_t n);
void stream_skip (struct unpack *u, uint64_t n);
uint64_t padding (uint64_t size);
void stream_open (struct unpack *u, const char *path);
bool parse_num (const char *field, size_t len, int64_t *out);
bool checksum_ok (const unsigned char *blk, const struct ustar *h);

/* ---- ramcopy-unpack.c ---- */

void unpack_free (struct unpack *u);
void unpack (const char *archive, const char *dst);

#endif /* IMG_RAMCOPY_H */
