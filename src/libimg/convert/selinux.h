/* Edit "selinux-relabel": on a guest with SELinux on, /.autorelabel once
 * files were written (they carry no labels), so the guest relabels at its
 * next boot.  Runs after the edits that write. */
#ifndef LIBIMG_CONVERT_SELINUX_H
#define LIBIMG_CONVERT_SELINUX_H

#include "img-edit.h"

/* Takes no data (NULL). */
extern const struct img_edit img_edit_selinux_relabel;

#endif
