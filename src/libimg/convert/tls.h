/* Edit "tls": /lib/tls (and its siblings) moved aside, as old Xen PV
 * guests want: the glibc builds there use segment tricks that a 32-bit
 * PV kernel can only emulate, slowly. */
#ifndef LIBIMG_CONVERT_TLS_H
#define LIBIMG_CONVERT_TLS_H

#include <stdbool.h>

#include "img-edit.h"

/* The edit's data. */
struct img_tls_opts {
  bool keep;                    /* leave them alone (a note says so) */
};

extern const struct img_edit img_edit_tls;

#endif
