/* Shared by the conversion tools (img2pv, img-ramify): text building,
 * host-side files written atomically, image copies for --output. */
#ifndef IMG_TOOLUTIL_H
#define IMG_TOOLUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"

#define img_err(ctx, err, ...) img_ctx_set_error ((ctx), (err), __VA_ARGS__)

/* A growing NUL-terminated string; on allocation failure it stays in an
 * error state (sb.oom) and every later append is a no-op. */
struct sb {
  char *s;
  size_t len, cap;
  bool oom;
};
void sb_add (struct sb *b, const char *s, size_t len);
void sb_adds (struct sb *b, const char *s);
void sb_addf (struct sb *b, const char *fmt, ...)
  __attribute__((format (printf, 2, 3)));
void sb_free (struct sb *b);

/* Writes PATH on the host: a temporary file beside it, fsync'd, renamed
 * over PATH, the directory fsync'd.  0 or -errno (message in CTX). */
int host_write_file (struct img_ctx *ctx, const char *path, const void *buf,
                     size_t len, unsigned mode);
/* Reads a whole host file of at most MAX bytes (NUL-terminated). */
int host_read_file (struct img_ctx *ctx, const char *path, size_t max,
                    char **buf, size_t *len);

/* Copies image IN to OUT (which must not exist): raw images sparsely
 * (only the data extents), other formats with qemu-img convert to the
 * same format.  OUT is written under a temporary name and renamed when
 * complete; nothing is left behind on failure. */
int copy_image (struct img_ctx *ctx, const char *in, const char *out);
/* Report facts for each disk of the plan's guest: its format (and whether
 * it was guessed) and the resolved backing chain (--allow-backing). */
struct img_plan;
void plan_disk_facts (struct img_plan *plan);

/* Parses "512M", "2G", "1024" (MiB when no unit and MIB_DEFAULT) into
 * bytes; -EINVAL if malformed. */
int parse_size (const char *s, bool mib_default, uint64_t *bytes);

/* Runs ARGV (no shell), stdout/stderr captured into *out (may be NULL);
 * returns the exit status (>= 0) or -errno. */
int run_command (const char *const *argv, char **out);

#endif
