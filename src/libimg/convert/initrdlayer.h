/* An initrd layer: a newc cpio built from a list of directories, files and
 * symlinks, appended to an initrd in the compression of its last segment
 * (later entries override earlier ones: the kernel's own rule).  What both
 * tools add to a guest's initrd goes through here. */
#ifndef LIBIMG_CONVERT_INITRDLAYER_H
#define LIBIMG_CONVERT_INITRDLAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"

struct img_initrd_layer;

/* A new, empty layer whose entries all get MTIME (the same guest then gets
 * the same bytes) and owner 0:0.  The caller owns *layer
 * (img_initrd_layer_free). */
int img_initrd_layer_new (struct img_ctx *ctx, uint64_t mtime, struct img_initrd_layer **layer);
void img_initrd_layer_free (struct img_initrd_layer *layer);

/* PATH (relative: "usr/lib/modules/6.1") and each of its parents, as
 * directories 0755, each once however often asked. */
int img_initrd_layer_dir (struct img_initrd_layer *layer, const char *path);
/* A regular file PATH (its parents are not added) with MODE's permission
 * bits and LEN bytes of DATA (copied). */
int img_initrd_layer_file (struct img_initrd_layer *layer, const char *path, uint32_t mode,
                           const void *data, size_t len);
int img_initrd_layer_symlink (struct img_initrd_layer *layer, const char *path,
                              const char *target);
/* Whether anything was added. */
bool img_initrd_layer_empty (const struct img_initrd_layer *layer);

/* ORIG (ORIG_LEN bytes, parsed as IRD) with the layer appended, in *out
 * (malloc'd; the caller frees it); *compression (may be NULL) what the
 * layer was compressed with: the last segment's ("none" when it is
 * uncompressed).  The layer is finished and can take nothing more. */
int img_initrd_layer_append (struct img_initrd_layer *layer, const struct img_initrd *ird,
                             const void *orig, size_t orig_len, void **out, size_t *out_len,
                             const char **compression);

/* The layer alone, as a file a boot loader loads after an initrd parsed
 * as IRD (GRUB 2 "initrd A B", BLS repeated initrd lines; each file starts
 * on a 4-byte boundary): compressed as IRD's last segment, after the zero
 * bytes that must end an uncompressed or legacy lz4 segment.  *out
 * malloc'd; *compression as for img_initrd_layer_append.  The layer is
 * finished. */
int img_initrd_layer_file_after (struct img_initrd_layer *layer, const struct img_initrd *ird,
                                 void **out, size_t *out_len, const char **compression);

#endif
