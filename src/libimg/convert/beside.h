/* Files a conversion writes beside the image (the xl config, the libvirt
 * domain XML, an extracted kernel): the image's directory and its name
 * without the suffix; whether a host file there is one we wrote. */
#ifndef LIBIMG_CONVERT_BESIDE_H
#define LIBIMG_CONVERT_BESIDE_H

#include <stdbool.h>

struct img_ctx;

/* The absolute directory of IMAGE (which need not exist yet: then its
 * directory's); NULL if out of memory.  The caller frees it. */
char *img_beside_dir (const char *image);
/* IMAGE's file name, without its last ".suffix" if STRIP_EXT; NULL if out
 * of memory.  The caller frees it. */
char *img_beside_base (const char *image, bool strip_ext);

/* Whether the host file PATH is one this library wrote, which holds MARK:
 * 1 yes, 0 no, -errno if it cannot be read (at most 1 MiB).  *old (may
 * be NULL) gets its text, the caller's. */
int img_beside_ours (struct img_ctx *ctx, const char *path, const char *mark, char **old);
/* The MAC address that follows KEY in the file at PATH that this library
 * wrote (MARK) into MAC: "" if none, no such file, or not a MAC.  A
 * re-run finds no NIC traces left in the guest: the first run kept the
 * MAC in its domain config. */
void img_beside_mac (struct img_ctx *ctx, const char *path, const char *mark, const char *key,
                     char mac[18]);

#endif
