/* Edit "udev-net": network names tied to the HVM NIC go (udev
 * persistent-net rules removed, HWADDR= dropped from ifcfg files), so the
 * PV NIC comes up as eth0.  The MAC found there is kept for the xl
 * config. */
#ifndef LIBIMG_CONVERT_NETNAMES_H
#define LIBIMG_CONVERT_NETNAMES_H

#include "img-edit.h"

/* The edit's data: what it found. */
struct img_netnames {
  char mac[18];                 /* the HVM NIC's MAC ("" if none), checked
                                 * with img_check_mac */
};

extern const struct img_edit img_edit_udev_net;

#endif
