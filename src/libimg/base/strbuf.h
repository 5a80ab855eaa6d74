/* A growing NUL-terminated string for building guest text (configs, boot
 * entries, init scripts).  On allocation failure it stays in an error
 * state (oom) and every later append is a no-op: callers build the whole
 * text, then check once.  Internal to libimg. */
#ifndef LIBIMG_STRBUF_H
#define LIBIMG_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct img_sb {
  char *s;                      /* NULL until the first append */
  size_t len, cap;
  bool oom;
};

void img_sb_add (struct img_sb *b, const char *s, size_t len);
void img_sb_adds (struct img_sb *b, const char *s);
void img_sb_addf (struct img_sb *b, const char *fmt, ...)
  __attribute__((format (printf, 2, 3)));
/* Whether the text is non-empty and does not end in a newline. */
bool img_sb_open_line (const struct img_sb *b);
/* Frees the text and empties B. */
void img_sb_free (struct img_sb *b);

#endif /* LIBIMG_STRBUF_H */
