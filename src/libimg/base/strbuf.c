/* A growing string with a sticky out-of-memory flag: see strbuf.h. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

void
img_sb_add (struct img_sb *b, const char *s, size_t len)
{
  if (b->oom)
    return;
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *n;
    while (cap < b->len + len + 1)
      cap *= 2;
    n = realloc (b->s, cap);
    if (n == NULL) {
      b->oom = true;
      return;
    }
    b->s = n;
    b->cap = cap;
  }
  memcpy (b->s + b->len, s, len);
  b->len += len;
  b->s[b->len] = '\0';
}

void
img_sb_adds (struct img_sb *b, const char *s)
{
  img_sb_add (b, s, strlen (s));
}

void
img_sb_addf (struct img_sb *b, const char *fmt, ...)
{
  va_list ap;
  char *s = NULL;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  img_sb_add (b, s, (size_t) n);
  free (s);
}

bool
img_sb_open_line (const struct img_sb *b)
{
  return b->len && b->s[b->len - 1] != '\n';
}

void
img_sb_free (struct img_sb *b)
{
  free (b->s);
  *b = (struct img_sb) { 0 };
}
