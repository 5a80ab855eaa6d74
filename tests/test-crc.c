/* The CRC-32 variants against the standard check value and against a
 * bit-by-bit model of LVM2's calc_crc (seed 0xf597a6cf, no inversion). */
#include <config.h>

#include <stdint.h>

#include "libimg.h"
#include "tap.h"

static uint32_t
lvm_model (const unsigned char *p, size_t len)
{
  uint32_t crc = 0xf597a6cfU;
  size_t i;
  int b;

  for (i = 0; i < len; i++) {
    crc ^= p[i];
    for (b = 0; b < 8; b++)
      crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320U : 0);
  }
  return crc;
}

int
main (void)
{
  unsigned char buf[4096];
  size_t i;

  tap_plan (5);
  tap_is_int (img_crc32 ("123456789", 9), 0xcbf43926U, "crc32 check value");
  tap_is_int (img_crc32 ("", 0), 0, "crc32 of nothing");
  for (i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char) (i * 7 + 3);
  tap_is_int (img_lvm_crc (buf, sizeof buf), lvm_model (buf, sizeof buf),
              "lvm crc matches the bitwise model on 4 KiB");
  tap_is_int (img_lvm_crc (buf, 1), lvm_model (buf, 1), "lvm crc on one byte");
  tap_is_int (img_lvm_crc (buf, 0), 0xf597a6cfU, "lvm crc of nothing is the seed");
  return tap_done ();
}
