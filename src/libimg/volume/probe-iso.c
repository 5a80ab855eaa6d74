/* The ISO 9660 signature: the primary volume descriptor at 32 KiB.  As
 * blkid: the label is its volume identifier, the UUID its modification
 * (else creation) date written "YYYY-MM-DD-HH-MM-SS-cc". */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "private.h"
#include "volume/volume-private.h"

#define ISO_PVD_OFFSET 32768
#define ISO_VOLUME_ID 40
#define ISO_CREATED 813
#define ISO_MODIFIED 830

/* A descriptor date: 16 characters and a time zone byte.  All '0' with
 * zone 0 means unset (ECMA-119 8.4.26.1). */
static bool
iso_date_uuid (const unsigned char *d, char *out, size_t outlen)
{
  static const char layout[] = "dddd-dd-dd-dd-dd-dd-dd";
  size_t i, k = 0, zeros = 0;

  for (i = 0; i < 16; i++)
    zeros += d[i] == '0';
  if (zeros == 16 && d[16] == 0)
    return false;
  if (outlen < sizeof layout)
    return false;
  for (i = 0; layout[i]; i++) {
    unsigned char c = d[k];
    if (layout[i] == '-') {
      out[i] = '-';
      continue;
    }
    out[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    k++;
  }
  out[i] = '\0';
  return true;
}

int
img_internal_probe_iso9660 (struct img_ctx *ctx, const struct img_volume *vol,
                            struct img_fsinfo *info)
{
  unsigned char pvd[2048];
  int r;

  if (!img_internal_probe_read (ctx, vol, pvd, sizeof pvd, ISO_PVD_OFFSET, &r))
    return r;
  if (pvd[0] != 1 || memcmp (pvd + 1, "CD001", 5) != 0)
    return 0;
  snprintf (info->type, sizeof info->type, "iso9660");
  img_internal_probe_label (info->label, sizeof info->label, pvd + ISO_VOLUME_ID, 32);
  if (!iso_date_uuid (pvd + ISO_MODIFIED, info->uuid, sizeof info->uuid))
    iso_date_uuid (pvd + ISO_CREATED, info->uuid, sizeof info->uuid);
  return 0;
}
