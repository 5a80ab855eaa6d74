/* A qcow2 file's header, read natively (qemu's docs/interop/qcow2.txt):
 * the fixed fields with their sanity checks, shared by the overlay reader
 * (overlay.c, which refuses whatever it does not expect) and the
 * container check (container.c), which learns a plain image's backing
 * file from it without running `qemu-img info`.  Every byte is the
 * image's: each offset and length is checked against the bytes read. */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "disk/disk-private.h"

/* Fixed header fields (big-endian). */
#define QH_MAGIC 0
#define QH_VERSION 4
#define QH_BACKING_OFFSET 8
#define QH_BACKING_SIZE 16
#define QH_CLUSTER_BITS 20
#define QH_SIZE 24
#define QH_CRYPT 32
#define QH_L1_SIZE 36
#define QH_L1_OFFSET 40
#define QH_INCOMPAT 72
#define QH_HEADER_LENGTH 100

/* Header extensions qemu writes into images it creates. */
#define EXT_END 0x00000000u
#define EXT_BACKING_FORMAT 0xe2792acau
#define EXT_FEATURE_TABLE 0x6803f857u
#define EXT_BITMAPS 0x23852875u

#define BACKING_NAME_MAX 1023           /* qemu's limit */
#define BACKING_FORMAT_MAX 15           /* qemu's char[16] */

int
img_internal_qcow2_decode (const unsigned char *h, size_t len,
                           uint64_t file_size, struct img_internal_qcow2 *q,
                           char *why, size_t whylen)
{
  uint32_t bits;

  memset (q, 0, sizeof *q);
  if (file_size < IMG_QCOW2_V2_LEN || len < IMG_QCOW2_V2_LEN) {
    snprintf (why, whylen, "file is truncated (%" PRIu64 " bytes, shorter than a qcow2 header)",
              file_size < len ? file_size : (uint64_t) len);
    return -EINVAL;
  }
  if (memcmp (h + QH_MAGIC, "QFI\xfb", 4) != 0) {
    snprintf (why, whylen, "not a qcow2 file (bad magic)");
    return -EINVAL;
  }
  q->version = get_be32 (h + QH_VERSION);
  if (q->version != 2 && q->version != 3) {
    snprintf (why, whylen, "unsupported qcow2 version %" PRIu32, q->version);
    return -EINVAL;
  }
  bits = get_be32 (h + QH_CLUSTER_BITS);
  if (bits < 9 || bits > 21) {
    snprintf (why, whylen, "cluster size 2^%" PRIu32 " is out of range (2^9 to 2^21)", bits);
    return -EINVAL;
  }
  q->cluster_size = (uint64_t) 1 << bits;
  q->header_length = IMG_QCOW2_V2_LEN;
  if (q->version == 3) {
    if (file_size < IMG_QCOW2_V3_LEN || len < IMG_QCOW2_V3_LEN) {
      snprintf (why, whylen, "file is truncated (%" PRIu64 " bytes, shorter than a version 3 header)",
                file_size < len ? file_size : (uint64_t) len);
      return -EINVAL;
    }
    q->header_length = get_be32 (h + QH_HEADER_LENGTH);
    if (q->header_length < IMG_QCOW2_V3_LEN || q->header_length % 8 != 0
        || q->header_length > q->cluster_size || q->header_length > file_size) {
      snprintf (why, whylen, "header length %" PRIu32 " is invalid", q->header_length);
      return -EINVAL;
    }
    q->incompat = get_be64 (h + QH_INCOMPAT);
  }
  q->backing_offset = get_be64 (h + QH_BACKING_OFFSET);
  q->backing_size = get_be32 (h + QH_BACKING_SIZE);
  q->size = get_be64 (h + QH_SIZE);
  q->crypt_method = get_be32 (h + QH_CRYPT);
  q->l1_size = get_be32 (h + QH_L1_SIZE);
  q->l1_offset = get_be64 (h + QH_L1_OFFSET);
  return 0;
}

/* The string of LEN bytes at P, malloc'd, if it is one qemu reads as we
 * do: no NUL inside (qemu's C string would end there). */
static int
copy_name (const unsigned char *p, size_t len, char **out)
{
  if (memchr (p, '\0', len) != NULL)
    return 0;
  *out = strndup ((const char *) p, len);
  return *out ? 1 : -ENOMEM;
}

int
img_internal_qcow2_names (const unsigned char *h, size_t len,
                          const struct img_internal_qcow2 *q,
                          char **backing, char **backing_fmt)
{
  uint64_t off = q->header_length, end;
  int r;

  *backing = *backing_fmt = NULL;
  /* Encryption, a data file, a dirty or corrupt image, compression
   * other than zlib...: qemu-img says what they mean. */
  if (q->crypt_method != 0 || q->incompat != 0)
    return 0;
  /* qemu reads the extensions up to the backing name, else to the end
   * of the first cluster. */
  end = q->backing_offset ? q->backing_offset : q->cluster_size;
  if (end > len)
    end = len;
  for (;;) {
    uint32_t type, elen;
    uint64_t next;

    if (off + 8 > end)
      goto unsure;              /* no end marker in the bytes read */
    type = get_be32 (h + off);
    elen = get_be32 (h + off + 4);
    if (type == EXT_END)
      break;
    next = off + 8 + (((uint64_t) elen + 7) & ~(uint64_t) 7);
    if (next > end)
      goto unsure;
    switch (type) {
    case EXT_BACKING_FORMAT:
      if (elen == 0 || elen > BACKING_FORMAT_MAX || *backing_fmt != NULL)
        goto unsure;
      if ((r = copy_name (h + off + 8, elen, backing_fmt)) <= 0)
        goto fail;
      break;
    case EXT_FEATURE_TABLE:
    case EXT_BITMAPS:
      break;
    default:                    /* a data file name, or unknown to us */
      goto unsure;
    }
    off = next;
  }
  if (q->backing_offset != 0) {
    if (q->backing_size == 0 || q->backing_size > BACKING_NAME_MAX
        || q->backing_offset > len || q->backing_size > len - q->backing_offset
        || q->backing_offset + q->backing_size > q->cluster_size)
      goto unsure;
    if ((r = copy_name (h + q->backing_offset, q->backing_size, backing)) <= 0)
      goto fail;
  }
  else if (*backing_fmt != NULL)
    goto unsure;                /* a format for no backing file */
  return 1;

 unsure:
  r = 0;
 fail:
  free (*backing);
  free (*backing_fmt);
  *backing = *backing_fmt = NULL;
  return r;
}
