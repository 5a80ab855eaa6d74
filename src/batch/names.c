/* Report names: OUTDIR/<name>.json and <name>.stderr for every image.  A
 * name is one safe file name whatever the path holds ("../", quotes,
 * control bytes, 4 KiB), and it is given before sharding, so every shard
 * of one manifest agrees on it. */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define NAME_MAX_KEEP 100

static uint32_t
fnv1a (const char *s)
{
  uint32_t h = 2166136261u;

  for (; *s; s++) {
    h ^= (unsigned char) *s;
    h *= 16777619u;
  }
  return h;
}

static bool
safe_byte (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
    || c == '.' || c == '_' || c == '+' || c == '-';
}

/* The path's bytes made safe; a long path keeps its tail (where the file
 * name is) and a hash of the whole. */
static char *
base_name (const char *path)
{
  size_t len = strlen (path), skip = 0;
  char *s;

  if (len > NAME_MAX_KEEP)
    skip = len - NAME_MAX_KEEP;
  s = strdup (path + skip);
  if (!s)
    return NULL;
  for (char *p = s; *p; p++)
    if (!safe_byte (*p))
      *p = '_';
  if (s[0] == '.' || s[0] == '-' || s[0] == '\0') {
    char *t;
    if (asprintf (&t, "_%s", s) < 0)
      t = NULL;
    free (s);
    s = t;
  }
  if (s && skip) {
    char *t;
    if (asprintf (&t, "%08x-%s", (unsigned) fnv1a (path), s) < 0)
      t = NULL;
    free (s);
    s = t;
  }
  return s;
}

/* OUTDIR's own files (summary.json, journal, their per-shard forms) are
 * no report's. */
static bool
reserved (const char *name)
{
  static const char *const own[] = { "summary", "journal" };

  for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
    size_t n = strlen (own[i]);
    if (strncmp (name, own[i], n) == 0 && (name[n] == '\0' || name[n] == '.'))
      return true;
  }
  return false;
}

static bool
taken (const struct batch_list *l, size_t upto, const char *name)
{
  if (reserved (name))
    return true;
  for (size_t i = 0; i < upto; i++)
    if (strcmp (l->v[i].name, name) == 0)
      return true;
  return false;
}

int
batch_names_assign (struct batch_list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    char *base = base_name (l->v[i].given), *name;
    unsigned k = 1;

    if (!base)
      return -ENOMEM;
    name = base;
    while (taken (l, i, name)) {
      if (name != base)
        free (name);
      if (asprintf (&name, "%s~%u", base, ++k) < 0) {
        free (base);
        return -ENOMEM;
      }
    }
    if (name != base)
      free (base);
    l->v[i].name = name;
  }
  return 0;
}
