/* Files a conversion writes beside the image (the xl config, an extracted
 * kernel): the image's directory and its name without the suffix. */
#ifndef LIBIMG_CONVERT_BESIDE_H
#define LIBIMG_CONVERT_BESIDE_H

#include <stdbool.h>

/* The absolute directory of IMAGE (which need not exist yet: then its
 * directory's); NULL if out of memory.  The caller frees it. */
char *img_beside_dir (const char *image);
/* IMAGE's file name, without its last ".suffix" if STRIP_EXT; NULL if out
 * of memory.  The caller frees it. */
char *img_beside_base (const char *image, bool strip_ext);

#endif
