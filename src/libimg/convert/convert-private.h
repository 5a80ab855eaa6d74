/* Shared by the conversions of the convert/ floor: guest text files read
 * and written through the plan (so that a dry run sees earlier edits),
 * shell-style assignments, the string builder.  Internal to libimg. */
#ifndef LIBIMG_CONVERT_PRIVATE_H
#define LIBIMG_CONVERT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "img-edit.h"
#include "private.h"
#include "base/strbuf.h"

#define IMG_CONV_MAX_TEXT (16u << 20)      /* a config file */
#define IMG_CONV_MAX_LIST (64u << 20)      /* modules.dep, a kernel config */
#define IMG_CONV_MAX_INITRD (1024u << 20)
#define IMG_CONV_MAX_KERNEL (256u << 20)

/* The context of the plan's guest (for messages). */
struct img_ctx *img_conv_ctx (struct img_plan *plan);
/* Records "out of memory" in the plan's context; returns -ENOMEM. */
int img_conv_oom (struct img_plan *plan);

/* Reads the guest text file PATH (at most IMG_CONV_MAX_TEXT); absent: 0
 * with *buf NULL.  The caller frees *buf. */
int img_conv_read_text (struct img_plan *plan, const char *path, char **buf,
                        size_t *len);
/* Reads PATH (at most IMG_CONV_MAX_LIST); NULL if absent or unreadable
 * (then img_conv_unreadable says why). */
char *img_conv_guest_text (struct img_plan *plan, const char *path, size_t *len);
/* The error for a file that exists but img_conv_guest_text could not
 * read: the read's own message, or "IMAGE: PATH: cannot be read". */
int img_conv_unreadable (struct img_plan *plan, const char *image, const char *path);
/* Writes B to PATH (MODE for a new file), making its directory first if
 * the guest lacks it.  B's oom flag is an error. */
int img_conv_write_text (struct img_plan *plan, const char *path,
                         const struct img_sb *b, uint32_t mode);
/* Appends the lines of ADD that PATH lacks (whole-line compare), after
 * HEADER (may be NULL) if any is added. */
int img_conv_ensure_lines (struct img_plan *plan, const char *path,
                           const char *const *add, size_t n,
                           const char *header, uint32_t mode);
/* The value of KEY="..." in shell-style TEXT (its first assignment), or
 * NULL; *line_start / *line_end (may be NULL) get the line's bounds. */
char *img_conv_shell_value (const char *text, const char *key,
                            const char **line_start, const char **line_end);
/* Sets KEY to VALUE (shell-quoted) in PATH: replaces its first
 * assignment, or appends one.  An absent PATH is left absent. */
int img_conv_set_shell_value (struct img_plan *plan, const char *path,
                              const char *key, const char *value);

/* Kernel choice (kernelchoice.c, kernelhost.c): the console and driver
 * names that K's version implies; the --kernel-from tree O names, into
 * K. */
struct img_pv_kernel;
struct img_pv_kernel_opts;
void img_internal_pv_kernel_kind (struct img_pv_kernel *k);
int img_internal_pv_kernel_host (struct img_ctx *ctx, const struct img_pv_kernel_opts *o,
                                 struct img_pv_kernel *k);

#endif /* LIBIMG_CONVERT_PRIVATE_H */
