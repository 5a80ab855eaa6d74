/* The GRUB environment block (grubenv): its variables, and the $NAME /
 * ${NAME} references a BLS entry's lines make to them (RHEL 8's
 * "options $kernelopts $tuned_params"), expanded as GRUB's blscfg does at
 * boot: an unset variable is empty. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "base/strbuf.h"
#include "text/text-private.h"

/* A command line GRUB passes on is at most this long. */
#define GRUBENV_EXPAND_MAX 4096

int
img_internal_grubenv_get (const char *text, size_t len, const char *key, char **value)
{
  size_t klen = strlen (key);
  const char *p = text, *end = text + len;

  *value = NULL;
  if (klen == 0)
    return -EINVAL;
  while (p < end) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
    if (l > klen && p[klen] == '=' && memcmp (p, key, klen) == 0) {
      /* grub-editenv escapes '\\' and newlines with a backslash. */
      struct img_sb v = { 0 };
      const char *q;
      for (q = p + klen + 1; q < p + l; q++) {
        if (*q == '\\' && q + 1 < p + l)
          q++;
        if (*q == '\0')
          break;
        img_sb_add (&v, q, 1);
      }
      if (v.oom) {
        img_sb_free (&v);
        return -ENOMEM;
      }
      *value = v.s ? v.s : strdup ("");
      return *value ? 0 : -ENOMEM;
    }
    p += l + (nl != NULL);
  }
  return -ENOENT;
}

static bool
name_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int
img_internal_grubenv_expand (const char *env, size_t env_len, const char *s, char **out)
{
  struct img_sb b = { 0 };
  const char *p;
  int r = 0;

  *out = NULL;
  for (p = s; *p && r == 0;) {
    const char *n = p + 1, *ne;
    char name[128], *v = NULL;
    bool brace = *n == '{';
    if (*p != '$') {
      img_sb_add (&b, p++, 1);
      continue;
    }
    if (brace)
      n++;
    for (ne = n; name_char (*ne); ne++)
      ;
    if (ne == n || (size_t) (ne - n) >= sizeof name || (brace && *ne != '}')) {
      img_sb_add (&b, p++, 1);        /* not a reference: left as it is */
      continue;
    }
    memcpy (name, n, (size_t) (ne - n));
    name[ne - n] = '\0';
    r = img_internal_grubenv_get (env, env_len, name, &v);
    if (r == 0)
      img_sb_adds (&b, v);
    free (v);
    if (r == -ENOENT)
      r = 0;
    p = ne + brace;
    if (b.len > GRUBENV_EXPAND_MAX)
      r = -E2BIG;
  }
  /* Literal text counts too (the check above stops a growing expansion early). */
  if (r == 0 && b.len > GRUBENV_EXPAND_MAX)
    r = -E2BIG;
  if (r == 0 && b.oom)
    r = -ENOMEM;
  if (r < 0) {
    img_sb_free (&b);
    return r;
  }
  if (b.s == NULL)
    return (*out = strdup ("")) ? 0 : -ENOMEM;
  /* Words as the kernel sees them: an empty variable leaves no gap. */
  {
    char *w = b.s, *d = b.s;
    bool sp = true;
    for (; *w; w++) {
      if (*w == ' ' || *w == '\t') {
        if (!sp)
          *d++ = ' ';
        sp = true;
      } else {
        *d++ = *w;
        sp = false;
      }
    }
    if (d > b.s && d[-1] == ' ')
      d--;
    *d = '\0';
  }
  *out = b.s;
  return 0;
}
