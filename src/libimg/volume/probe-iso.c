/* The ISO 9660 signature: the volume descriptors from 32 KiB on.  As
 * blkid: the UUID is the primary descriptor's modification (else
 * creation) date written "YYYY-MM-DD-HH-MM-SS-cc"; the label its volume
 * identifier, or with a Joliet descriptor the Joliet one (UCS-2, 16
 * characters at most) merged with it: where the two agree (ASCII case
 * aside, '_' standing for what the primary one cannot hold) Joliet's
 * characters, then the primary's tail past Joliet's 16. */
#include <config.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "volume/volume-private.h"

#define ISO_VD_OFFSET 32768
#define ISO_VD_SIZE 2048
#define ISO_VD_MAX 16
#define ISO_VD_PRIMARY 1
#define ISO_VD_SUPPLEMENTARY 2
#define ISO_VD_END 255
#define ISO_ESCAPES 88
#define ISO_ID_LEN 32
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

/* The Joliet and primary volume identifiers merged (see the top) into
 * OUT as UTF-16BE; the number of code units, 0 if they disagree. */
static size_t
merge_label (const unsigned char *u16, const unsigned char *ascii, unsigned char *out)
{
  size_t a = 0, u = 0, o = 0;

  for (; u + 1 < ISO_ID_LEN && a < ISO_ID_LEN; a++, u += 2, o += 2) {
    bool pair = u16[u] >= 0xd8 && u16[u] <= 0xdb && u + 3 < ISO_ID_LEN
                && u16[u + 2] >= 0xdc && u16[u + 2] <= 0xdf;
    if (ascii[a] == '_') {
      memcpy (out + o, u16 + u, pair ? 4 : 2);
      o += pair ? 2 : 0;
      u += pair ? 2 : 0;
    }
    else if (pair)
      return 0;
    else if (u16[u] == 0 && u16[u + 1] == '_') {
      out[o] = 0;
      out[o + 1] = ascii[a];
    }
    else if (u16[u] == 0 && toupper (ascii[a]) == toupper (u16[u + 1])) {
      out[o] = 0;
      out[o + 1] = isupper (ascii[a]) ? u16[u + 1] : ascii[a];
    }
    else
      return 0;
  }
  for (; a < ISO_ID_LEN; a++, o += 2) {
    out[o] = 0;
    out[o + 1] = ascii[a];
  }
  return o / 2;
}

static void
iso_label (const unsigned char *pvd, const unsigned char *joliet, struct img_fsinfo *info)
{
  unsigned char merged[4 * ISO_ID_LEN];
  size_t n;

  if (joliet == NULL) {
    img_internal_probe_label (info->label, sizeof info->label, pvd + ISO_VOLUME_ID, ISO_ID_LEN);
    return;
  }
  if ((n = merge_label (joliet + ISO_VOLUME_ID, pvd + ISO_VOLUME_ID, merged)) > 0)
    img_internal_utf16_to_utf8 (merged, n, true, info->label, sizeof info->label);
  else
    img_internal_utf16_to_utf8 (joliet + ISO_VOLUME_ID, ISO_ID_LEN / 2, true,
                                info->label, sizeof info->label);
  img_internal_probe_trim (info->label);
}

int
img_internal_probe_iso9660 (struct img_ctx *ctx, const struct img_volume *vol,
                            struct img_fsinfo *info)
{
  unsigned char vd[ISO_VD_SIZE], pvd[ISO_VD_SIZE], joliet[ISO_VD_SIZE];
  bool have_pvd = false, have_joliet = false;
  int i, r = 0;

  if (!img_internal_probe_read (ctx, vol, vd, sizeof vd, ISO_VD_OFFSET, &r)
      || memcmp (vd + 1, "CD001", 5) != 0)
    return r;
  /* At most 16 descriptors, up to the set terminator or the volume's end. */
  for (i = 0; i < ISO_VD_MAX && !(have_pvd && have_joliet); i++) {
    if (i > 0 && !img_internal_probe_read (ctx, vol, vd, sizeof vd,
                                           ISO_VD_OFFSET + (uint64_t) i * ISO_VD_SIZE, &r)) {
      if (r < 0)
        return r;
      break;
    }
    if (vd[0] == ISO_VD_END)
      break;
    if (vd[0] == ISO_VD_PRIMARY && !have_pvd) {
      memcpy (pvd, vd, sizeof pvd);
      have_pvd = true;
    }
    else if (vd[0] == ISO_VD_SUPPLEMENTARY && !have_joliet
             && (memcmp (vd + ISO_ESCAPES, "%/@", 3) == 0 || memcmp (vd + ISO_ESCAPES, "%/C", 3) == 0
                 || memcmp (vd + ISO_ESCAPES, "%/E", 3) == 0)) {
      memcpy (joliet, vd, sizeof joliet);
      have_joliet = true;
    }
  }
  if (!have_pvd)
    return 0;
  snprintf (info->type, sizeof info->type, "iso9660");
  iso_label (pvd, have_joliet ? joliet : NULL, info);
  if (!iso_date_uuid (pvd + ISO_MODIFIED, info->uuid, sizeof info->uuid))
    iso_date_uuid (pvd + ISO_CREATED, info->uuid, sizeof info->uuid);
  return 0;
}
