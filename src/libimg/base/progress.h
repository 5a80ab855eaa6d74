/* Progress of a run, told to whoever set a callback on the context: the
 * steps as they start and the bytes of long copies.  The engine never
 * writes to the terminal; the tools render this (src/tool.c). */
#ifndef IMG_BASE_PROGRESS_H
#define IMG_BASE_PROGRESS_H

#include <stdint.h>

struct img_ctx;

/* What a step is: a step of the run (-p shows these), or a traced
 * operation (an edit, a disk operation; -x shows these). */
enum img_progress_kind { IMG_PROGRESS_STEP, IMG_PROGRESS_TRACE };

struct img_progress_ops {
  /* A step starts; TEXT is only valid during the call. */
  void (*step) (void *data, enum img_progress_kind kind, const char *text);
  /* DONE of TOTAL bytes moved (TOTAL 0: unknown); DONE == TOTAL ends it. */
  void (*bytes) (void *data, uint64_t done, uint64_t total);
};

/* Sets the callbacks (copied; NULL unsets); DATA is the caller's. */
void img_progress_set_ops (struct img_ctx *ctx, const struct img_progress_ops *ops,
                           void *data);
/* Tells the callback a step (printf-style text) starts; no-op without one. */
void img_progress_step (struct img_ctx *ctx, enum img_progress_kind kind,
                        const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
/* Tells the callback DONE of TOTAL bytes are moved. */
void img_progress_bytes (struct img_ctx *ctx, uint64_t done, uint64_t total);

#endif
