/* libguestfs, loaded on demand (gfsapi.h says why). */
#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "appliance/gfsapi.h"

/* The soname Debian's libguestfs0 (and every distribution) ships. */
#define LIBGUESTFS_SONAME "libguestfs.so.0"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct img_gfs_api api;
static bool loaded;
static char why[256];

static void
load (void)
{
  void *dl = dlopen (LIBGUESTFS_SONAME, RTLD_NOW | RTLD_LOCAL);
  const char *e;

  if (dl == NULL) {
    e = dlerror ();
    snprintf (why, sizeof why, "%s", e ? e : "cannot be loaded");
    return;
  }
#define IMG_GFS_LOAD(f)                                                 \
  if ((api.f = (__typeof__ (api.f)) dlsym (dl, "guestfs_" #f)) == NULL) { \
    snprintf (why, sizeof why, "%s has no guestfs_" #f " (libguestfs >= 1.44 needed)", \
              LIBGUESTFS_SONAME);                                      \
    dlclose (dl);                                                       \
    return;                                                             \
  }
  IMG_GFS_FUNCTIONS (IMG_GFS_LOAD)
#undef IMG_GFS_LOAD
  loaded = true;                /* never dlclose'd: the process keeps it */
}

const struct img_gfs_api *
img_internal_gfs_api (struct img_ctx *ctx, const char *what)
{
  pthread_once (&once, load);
  if (!loaded) {
    img_err (ctx, -ENOSYS, "%s: needs libguestfs (Debian package libguestfs0, "
             "with libguestfs-tools for the appliance): %s", what, why);
    return NULL;
  }
  return &api;
}
