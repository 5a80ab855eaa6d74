/* os-release values (os-release(5)): KEY=VALUE lines whose values follow
 * shell quoting, read as systemd reads them, without evaluating anything:
 * '...' is literal, "..." keeps \" \\ \$ \` as escapes, a backslash quotes
 * the next character outside quotes, unquoted blanks end the value, and a
 * later assignment overrides an earlier one.  A value with an unterminated
 * quote is dropped, as systemd drops it.  The text is a guest's: it is read
 * within LEN, one line at a time, and nothing in it can grow the output
 * past its own length. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "text/text-private.h"

/* Unquotes V (VL bytes) into OUT (room for VL + 1); false if a quote is
 * left open. */
static bool
unquote (const char *v, size_t vl, char *out)
{
  size_t i = 0, o = 0;
  char q = 0;

  while (i < vl) {
    char c = v[i++];
    if (q == '\'') {
      if (c == '\'')
        q = 0;
      else
        out[o++] = c;
    }
    else if (q == '"') {
      if (c == '"')
        q = 0;
      else if (c == '\\' && i < vl && strchr ("\"\\$`", v[i]))
        out[o++] = v[i++];
      else
        out[o++] = c;
    }
    else if (c == '\'' || c == '"')
      q = c;
    else if (c == '\\' && i < vl)
      out[o++] = v[i++];
    else if (c == ' ' || c == '\t')
      break;
    else
      out[o++] = c;
  }
  out[o] = '\0';
  return q == 0;
}

char *
img_internal_osrelease_value (const char *text, size_t len, const char *key)
{
  size_t kl = strlen (key), pos = 0;
  char *val = NULL;

  while (pos < len) {
    const char *line = text + pos, *nl = memchr (line, '\n', len - pos);
    size_t ll = nl ? (size_t) (nl - line) : len - pos, i = 0;

    pos += ll + (nl ? 1 : 0);
    while (i < ll && (line[i] == ' ' || line[i] == '\t'))
      i++;
    if (ll - i > kl && memcmp (line + i, key, kl) == 0 && line[i + kl] == '=') {
      const char *v = line + i + kl + 1;
      size_t vl = ll - i - kl - 1;
      char *u;
      while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
      if ((u = malloc (vl + 1)) == NULL)
        continue;
      if (!unquote (v, vl, u) || memchr (v, '\0', vl)) {
        free (u);               /* open quote, or a NUL: not a value */
        continue;
      }
      free (val);
      val = u;
    }
  }
  if (val && val[0] == '\0') {
    free (val);
    val = NULL;
  }
  return val;
}
