/* Shell-style KEY=VALUE configuration text (os-release, lsb-release,
 * /etc/default/grub, /etc/sysconfig/kernel, dracut.conf.d, ifcfg files):
 * the value of one key, read without evaluating anything.  The text comes
 * from a guest: it is read only within its length (it need not be
 * NUL-terminated, and a NUL byte is an ordinary byte), in one pass. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "libimg.h"

int
img_textconf_get (const char *text, size_t len, const char *key, char **value,
                  size_t *line_start, size_t *line_end)
{
  size_t kl = strlen (key), pos = 0;

  *value = NULL;
  if (kl == 0)
    return -EINVAL;
  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    size_t ll = nl ? (size_t) (nl - line) : len - pos, i = 0;

    while (i < ll && (line[i] == ' ' || line[i] == '\t'))
      i++;
    if (ll - i > kl && memcmp (line + i, key, kl) == 0 && line[i + kl] == '=') {
      const char *v = line + i + kl + 1, *end = line + ll;
      size_t vl;
      while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
      vl = (size_t) (end - v);
      if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
        v++;
        vl -= 2;
      }
      /* A value with a NUL byte is cut there: the result is a C string. */
      *value = strndup (v, vl);
      if (*value == NULL)
        return -ENOMEM;
      if (line_start)
        *line_start = pos;
      if (line_end)
        *line_end = pos + ll;
      return 0;
    }
    pos += ll + (nl ? 1 : 0);
  }
  return -ENOENT;
}

bool
img_textconf_has_line (const char *text, size_t len, const char *word)
{
  size_t wl = strlen (word), pos = 0;

  while (pos < len) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    size_t ll = nl ? (size_t) (nl - line) : len - pos, i = 0;

    while (i < ll && (line[i] == ' ' || line[i] == '\t'))
      i++;
    if (ll - i >= wl && memcmp (line + i, word, wl) == 0
        && (ll - i == wl || line[i + wl] == ' ' || line[i + wl] == '\t'))
      return true;
    pos += ll + (nl ? 1 : 0);
  }
  return false;
}
