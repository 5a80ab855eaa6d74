/* Streaming JSON writer (see json.h). */
#include <config.h>

#include <inttypes.h>
#include <string.h>

#include "json.h"

void
img_json_init (struct img_json *j, FILE *fp)
{
  memset (j, 0, sizeof *j);
  j->fp = fp;
  j->first[0] = true;
}

static void
indent (struct img_json *j)
{
  int i;

  fputc ('\n', j->fp);
  for (i = 0; i < j->depth; i++)
    fputs ("  ", j->fp);
}

/* Separator and indentation before a value or a key. */
static void
before_value (struct img_json *j)
{
  if (j->after_key) {
    j->after_key = false;
    return;
  }
  if (j->depth == 0)
    return;
  if (!j->first[j->depth])
    fputc (',', j->fp);
  j->first[j->depth] = false;
  indent (j);
}

static void
open_container (struct img_json *j, char c)
{
  before_value (j);
  fputc (c, j->fp);
  if (j->depth + 1 < IMG_JSON_MAX_DEPTH)
    j->depth++;
  j->first[j->depth] = true;
}

static void
close_container (struct img_json *j, char c)
{
  bool empty = j->first[j->depth];

  if (j->depth > 0)
    j->depth--;
  if (!empty)
    indent (j);
  fputc (c, j->fp);
}

void img_json_begin_object (struct img_json *j) { open_container (j, '{'); }
void img_json_end_object (struct img_json *j) { close_container (j, '}'); }
void img_json_begin_array (struct img_json *j) { open_container (j, '['); }
void img_json_end_array (struct img_json *j) { close_container (j, ']'); }

/* Length of a valid UTF-8 sequence at S, or 0. */
static size_t
utf8_len (const unsigned char *s)
{
  size_t n, i;
  uint32_t c;

  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0) { n = 2; c = s[0] & 0x1f; }
  else if ((s[0] & 0xf0) == 0xe0) { n = 3; c = s[0] & 0x0f; }
  else if ((s[0] & 0xf8) == 0xf0) { n = 4; c = s[0] & 0x07; }
  else
    return 0;
  for (i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000)
      || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  return n;
}

static void
write_string (FILE *fp, const char *str)
{
  const unsigned char *s = (const unsigned char *) str;

  fputc ('"', fp);
  while (*s) {
    size_t n;
    switch (*s) {
    case '"': fputs ("\\\"", fp); s++; continue;
    case '\\': fputs ("\\\\", fp); s++; continue;
    case '\n': fputs ("\\n", fp); s++; continue;
    case '\t': fputs ("\\t", fp); s++; continue;
    case '\r': fputs ("\\r", fp); s++; continue;
    }
    if (*s < 0x20 || *s == 0x7f) {
      fprintf (fp, "\\u%04x", *s);
      s++;
      continue;
    }
    n = utf8_len (s);
    if (n == 0) {
      fputs ("\\ufffd", fp);
      s++;
      continue;
    }
    fwrite (s, 1, n, fp);
    s += n;
  }
  fputc ('"', fp);
}

void
img_json_key (struct img_json *j, const char *key)
{
  before_value (j);
  write_string (j->fp, key);
  fputs (": ", j->fp);
  j->after_key = true;
}

void
img_json_string (struct img_json *j, const char *s)
{
  before_value (j);
  if (s)
    write_string (j->fp, s);
  else
    fputs ("null", j->fp);
}

void
img_json_uint (struct img_json *j, uint64_t v)
{
  before_value (j);
  fprintf (j->fp, "%" PRIu64, v);
}

void
img_json_bool (struct img_json *j, bool v)
{
  before_value (j);
  fputs (v ? "true" : "false", j->fp);
}

void
img_json_null (struct img_json *j)
{
  before_value (j);
  fputs ("null", j->fp);
}

void
img_json_kv_string (struct img_json *j, const char *key, const char *s)
{
  img_json_key (j, key);
  img_json_string (j, s);
}

void
img_json_kv_uint (struct img_json *j, const char *key, uint64_t v)
{
  img_json_key (j, key);
  img_json_uint (j, v);
}

void
img_json_kv_bool (struct img_json *j, const char *key, bool v)
{
  img_json_key (j, key);
  img_json_bool (j, v);
}

void
img_json_finish (struct img_json *j)
{
  fputc ('\n', j->fp);
}
