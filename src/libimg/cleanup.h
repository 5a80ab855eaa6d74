/* __attribute__((cleanup)) helpers for local scratch only: never use them
 * on something a function returns. */
#ifndef LIBIMG_CLEANUP_H
#define LIBIMG_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

static inline void
img_cleanup_free (void *ptr)
{
  free (*(void **) ptr);
}

static inline void
img_cleanup_close (int *fd)
{
  if (*fd >= 0)
    close (*fd);
}

#define CLEANUP_FREE __attribute__((cleanup (img_cleanup_free)))
#define CLEANUP_CLOSE __attribute__((cleanup (img_cleanup_close)))

#endif /* LIBIMG_CLEANUP_H */
