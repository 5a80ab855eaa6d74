/* UTF-16 (GPT partition names, NTFS labels: little-endian; Joliet
 * labels: big-endian) to UTF-8, for names read from a volume.  Characters
 * outside the BMP come as surrogate pairs; a lone surrogate becomes
 * U+FFFD; the output is cut at a whole character and always terminated. */
#include <config.h>

#include <stdbool.h>
#include <stdint.h>

#include "private.h"
#include "volume/volume-private.h"

static uint32_t
unit (const unsigned char *p, bool big_endian)
{
  return big_endian ? get_be16 (p) : get_le16 (p);
}

void
img_internal_utf16_to_utf8 (const unsigned char *p, size_t units, bool big_endian,
                            char *out, size_t outlen)
{
  size_t i, o = 0;

  for (i = 0; i < units; i++) {
    uint32_t c = unit (p + 2 * i, big_endian);
    size_t n;

    if (c == 0)
      break;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < units) {
      uint32_t lo = unit (p + 2 * (i + 1), big_endian);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff)
      c = 0xfffd;
    n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (o + n >= outlen)
      break;
    switch (n) {
    case 1:
      out[o++] = c;
      break;
    case 2:
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
      break;
    case 3:
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
      break;
    default:
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
      break;
    }
  }
  out[o] = '\0';
}
