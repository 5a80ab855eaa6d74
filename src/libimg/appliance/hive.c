/* Windows registry hives read by the appliance's hivex (appliance.h):
 * the hive file is the guest's, so it is parsed in the appliance only;
 * what comes back is a few values, bounded and checked here. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "appliance/appliance.h"

/* Registry value types (winnt.h). */
#define REG_SZ 1
#define REG_EXPAND_SZ 2
#define REG_DWORD 4

int
img_internal_appliance_hive_open (struct img_appliance *ap, const char *apath)
{
  const struct img_gfs_api *api = img_internal_appliance_api (ap);

  if (api->hivex_open (img_internal_appliance_handle (ap), apath, -1) < 0)
    return img_internal_appliance_fail (ap, "opening a registry hive");
  return 0;
}

void
img_internal_appliance_hive_close (struct img_appliance *ap)
{
  const struct img_gfs_api *api = img_internal_appliance_api (ap);

  (void) api->hivex_close (img_internal_appliance_handle (ap));
}

/* The handle of value VALUE under KEYS and its type: > 0, or 0 when
 * missing (a failed call counts as missing: a damaged hive only hides
 * what it damages). */
static int64_t
find_value (struct img_appliance *ap, const char *const *keys,
            const char *value, int64_t *type)
{
  const struct img_gfs_api *api = img_internal_appliance_api (ap);
  guestfs_h *h = img_internal_appliance_handle (ap);
  int64_t node = api->hivex_root (h), v;

  for (; node > 0 && *keys; keys++)
    node = api->hivex_node_get_child (h, node, *keys);
  if (node <= 0)
    return 0;
  v = api->hivex_node_get_value (h, node, value);
  if (v <= 0)
    return 0;
  *type = api->hivex_value_type (h, v);
  return *type < 0 ? 0 : v;
}

int
img_internal_appliance_hive_string (struct img_appliance *ap,
                                    const char *const *keys,
                                    const char *value, size_t max,
                                    char **out)
{
  const struct img_gfs_api *api = img_internal_appliance_api (ap);
  int64_t type, v = find_value (ap, keys, value, &type);
  char *s;
  size_t len;

  *out = NULL;
  if (v == 0 || (type != REG_SZ && type != REG_EXPAND_SZ))
    return -ENOENT;
  s = api->hivex_value_string (img_internal_appliance_handle (ap), v);
  if (s == NULL)
    return -ENOENT;
  len = strlen (s);
  if (len > max) {
    /* Cut at a character boundary: never in a UTF-8 sequence. */
    len = max;
    while (len > 0 && ((unsigned char) s[len] & 0xc0) == 0x80)
      len--;
    s[len] = '\0';
  }
  *out = s;
  return 0;
}

int
img_internal_appliance_hive_dword (struct img_appliance *ap,
                                   const char *const *keys,
                                   const char *value, uint32_t *out)
{
  const struct img_gfs_api *api = img_internal_appliance_api (ap);
  int64_t type, v = find_value (ap, keys, value, &type);
  unsigned char *b;
  size_t size = 0;

  if (v == 0 || type != REG_DWORD)
    return -ENOENT;
  b = (unsigned char *) api->hivex_value_value (img_internal_appliance_handle (ap), v, &size);
  if (b == NULL)
    return -ENOENT;
  if (size != 4) {
    free (b);
    return -ENOENT;
  }
  *out = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
         | (uint32_t) b[3] << 24;
  free (b);
  return 0;
}
