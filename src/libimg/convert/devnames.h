/* Device names that will not exist under Xen PV (/dev/sdXN, /dev/hdXN,
 * /dev/vdXN) and what they become: UUID= of the filesystem there, or
 * /dev/xvdXN (xvd).  The edit "device-names" rewrites them in fstab,
 * crypttab and resume configs; the boot-entry code rewrites kernel
 * command lines with img_cmdline_rewrite. */
#ifndef LIBIMG_CONVERT_DEVNAMES_H
#define LIBIMG_CONVERT_DEVNAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "img-edit.h"

/* What NAME (LEN bytes) becomes on the guest G: *out (malloc'd, the
 * caller's) is "UUID=..." or, with XVD, "/dev/xvd...".  *out NULL: not
 * such a name, or one that cannot be resolved (*why says why; NULL if it
 * is no such name).  0, or -ENOMEM. */
int img_devname_rewrite (struct img_guest *g, bool xvd, const char *name, size_t len,
                         char **out, const char **why);

/* ARGS (a kernel command line) with its root= and resume= values
 * rewritten as above; with CONSOLE, every console= word dropped and
 * "console=CONSOLE" appended.  *out is the caller's; *changed says
 * whether anything was rewritten (always, with CONSOLE).  0 or -ENOMEM. */
int img_cmdline_rewrite (struct img_guest *g, bool xvd, const char *console,
                         const char *args, char **out, bool *changed);

/* The edit's data. */
struct img_devnames_opts {
  bool xvd;                     /* /dev/xvdXN rather than UUID= */
};

extern const struct img_edit img_edit_device_names;

#endif
