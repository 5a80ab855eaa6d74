/* /etc/fstab: the guest's own mount map.  The text comes from a guest and
 * is hostile: lines are bounded, fields unescaped (\040 and friends) with
 * checks, and a malformed line is skipped, never fatal. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "text/text-private.h"

#define FSTAB_MAX_ENTRIES 4096

/* Copies a field, decoding the octal escapes fstab uses for blanks. */
static char *
unescape (const char *p, size_t len)
{
  char *out = malloc (len + 1), *o = out;
  size_t i;

  if (out == NULL)
    return NULL;
  for (i = 0; i < len; i++) {
    if (p[i] == '\\' && i + 3 < len && p[i + 1] >= '0' && p[i + 1] <= '3'
        && p[i + 2] >= '0' && p[i + 2] <= '7' && p[i + 3] >= '0' && p[i + 3] <= '7') {
      int c = (p[i + 1] - '0') * 64 + (p[i + 2] - '0') * 8 + (p[i + 3] - '0');
      if (c != 0) {
        *o++ = (char) c;
        i += 3;
        continue;
      }
    }
    *o++ = p[i];
  }
  *o = '\0';
  return out;
}

/* A freq/passno field: its leading decimal digits, read only within LEN
 * (the field is not terminated: atoi would run on into the next line, or
 * past the end of the text), 0 if none, capped at 9999. */
static int
field_int (const char *p, size_t len)
{
  size_t i;
  int v = 0;

  for (i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++)
    if (v < 9999)
      v = v * 10 + (p[i] - '0');
  return v > 9999 ? 9999 : v;
}

static void
free_entry (struct img_fstab_entry *e)
{
  free (e->spec);
  free (e->file);
  free (e->vfstype);
  free (e->options);
}

void
img_fstab_free (struct img_fstab_entry *entries, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free_entry (&entries[i]);
  free (entries);
}

int
img_fstab_parse (struct img_ctx *ctx, const char *text, size_t len,
                 struct img_fstab_entry **entriesp, size_t *np)
{
  struct img_fstab_entry *entries = NULL;
  size_t n = 0, cap = 0, pos = 0;
  unsigned lineno = 0;

  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    size_t linelen = nl ? (size_t) (nl - line) : len - pos;
    const char *f[6];
    size_t flen[6];
    int nf = 0;
    size_t i = 0;

    pos += linelen + (nl ? 1 : 0);
    lineno++;
    /* Fields are separated by blanks; '#' starts a comment line. */
    while (nf < 6) {
      while (i < linelen && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
      if (i >= linelen || (nf == 0 && line[i] == '#'))
        break;
      f[nf] = line + i;
      while (i < linelen && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
        i++;
      flen[nf] = line + i - f[nf];
      nf++;
    }
    if (nf == 0)
      continue;
    if (nf < 2 || memchr (line, '\0', linelen)) {
      img_dbg (ctx, "fstab: line %u: malformed, skipped", lineno);
      continue;
    }
    if (n == FSTAB_MAX_ENTRIES) {
      img_fstab_free (entries, n);
      return img_err (ctx, -E2BIG, "fstab: more than %d entries", FSTAB_MAX_ENTRIES);
    }
    {
      struct img_fstab_entry *e;
      if (img_internal_grow ((void **) &entries, &cap, n, sizeof *e) < 0)
        goto nomem;
      e = &entries[n];
      memset (e, 0, sizeof *e);
      e->line = lineno;
      e->spec = unescape (f[0], flen[0]);
      e->file = unescape (f[1], flen[1]);
      e->vfstype = nf > 2 ? unescape (f[2], flen[2]) : strdup ("auto");
      e->options = nf > 3 ? unescape (f[3], flen[3]) : strdup ("defaults");
      if (!e->spec || !e->file || !e->vfstype || !e->options) {
        free_entry (e);
        goto nomem;
      }
      e->freq = nf > 4 ? field_int (f[4], flen[4]) : 0;
      e->passno = nf > 5 ? field_int (f[5], flen[5]) : 0;
      n++;
    }
  }
  *entriesp = entries;
  *np = n;
  return 0;

 nomem:
  img_fstab_free (entries, n);
  return img_err (ctx, -ENOMEM, "fstab: out of memory");
}

/* "subvol=PATH" or "subvolid=N" from fstab OPTIONS into OUT ("" when
 * none); false when the value cannot be passed on safely. */
bool
img_internal_fstab_subvol (const char *options, char *out, size_t outlen)
{
  const char *p = options;

  out[0] = '\0';
  while (p && *p) {
    const char *end = strchr (p, ',');
    size_t len = end ? (size_t) (end - p) : strlen (p);

    if ((len > 7 && strncmp (p, "subvol=", 7) == 0)
        || (len > 9 && strncmp (p, "subvolid=", 9) == 0)) {
      size_t i;
      if (len >= outlen)
        return false;
      for (i = 0; i < len; i++)
        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
          return false;
      memcpy (out, p, len);
      out[len] = '\0';
    }
    p = end ? end + 1 : NULL;
  }
  return true;
}
