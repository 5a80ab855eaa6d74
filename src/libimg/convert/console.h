/* Edit "console": a login on the Xen PV console (hvc0, or xvc0 for the
 * 2.6.18-era xenified kernels): a systemd getty, an upstart job or an
 * inittab line, and the console in /etc/securetty. */
#ifndef LIBIMG_CONVERT_CONSOLE_H
#define LIBIMG_CONVERT_CONSOLE_H

#include "img-edit.h"

/* The edit's data. */
struct img_console_opts {
  const char *console;          /* "hvc0" */
};

extern const struct img_edit img_edit_console;

#endif
