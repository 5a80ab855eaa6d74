/* Streaming JSON writer (see json.h). */
#include <config.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "img-json.h"
#include "img-quote.h"

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

/* The one JSON string quoting lives in quote.c. */
static void
write_string (FILE *fp, const char *str)
{
  char *q = NULL;

  if (img_quote_json (str, &q, NULL) == 0)
    fputs (q, fp);
  else
    fputs ("\"\"", fp);         /* no memory: an empty string, still JSON */
  free (q);
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
