/* The guest floor's insides: one path resolution for every guest/
 * file. */
#ifndef LIBIMG_GUEST_PRIVATE_H
#define LIBIMG_GUEST_PRIVATE_H

#include <stdbool.h>

#include "private.h"

/* guest.c: resolve a guest path (symlinks followed inside the guest) to
 * its canonical form (*canon, malloc'd) and the filesystem and path in it
 * that hold it (*rel points into *canon). */
int img_internal_guest_resolve (struct img_guest *g, const char *path,
                                bool follow_last, char **canon,
                                struct img_fs **fs, const char **rel);

#endif /* LIBIMG_GUEST_PRIVATE_H */
