/* The two CRC-32 variants on-disk formats here use.  Both are the IEEE
 * polynomial (zlib's crc32); LVM2 seeds it with 0xf597a6cf and skips the
 * pre/post inversion, which zlib's function undoes for us. */
#include <config.h>

#include <zlib.h>

#include "private.h"

#define LVM_INITIAL_CRC 0xf597a6cfU

static uint32_t
crc32_chunked (uint32_t crc, const unsigned char *p, size_t len)
{
  /* zlib takes uInt lengths. */
  while (len > 0) {
    uInt n = len > (1U << 30) ? (1U << 30) : (uInt) len;
    crc = (uint32_t) crc32 (crc, p, n);
    p += n;
    len -= n;
  }
  return crc;
}

uint32_t
img_crc32 (const void *buf, size_t len)
{
  return crc32_chunked (0, buf, len);
}

uint32_t
img_lvm_crc (const void *buf, size_t len)
{
  return ~crc32_chunked (~LVM_INITIAL_CRC, buf, len);
}
