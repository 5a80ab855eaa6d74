/* Edit "device-caches": see devcaches.h. */
#include <config.h>

#include "convert/convert-private.h"
#include "convert/devcaches.h"

static int
apply (struct img_plan *plan, void *data)
{
  static const char *const caches[] = { "/etc/blkid.tab", "/etc/blkid.tab.old",
                                        "/etc/blkid/blkid.tab", "/etc/blkid/blkid.tab.old",
                                        "/etc/lvm/cache/.cache",
                                        "/etc/lvm/devices/system.devices", NULL };
  bool any = false;
  size_t i;
  int r = 0;

  (void) data;
  for (i = 0; caches[i] && r == 0; i++)
    if (img_guest_exists (img_plan_guest (plan), caches[i])) {
      r = img_guest_remove (img_plan_guest (plan), caches[i]);
      any = true;
    }
  if (r == 0 && !any)
    r = img_plan_note (plan, "no device caches (blkid.tab, LVM cache, LVM devices file)");
  return r;
}

const struct img_edit img_edit_device_caches = {
  "device-caches", "remove caches that pin the HVM disks", apply
};
