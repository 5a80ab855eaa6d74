/* Bootloader configurations, read as text: GRUB 2 grub.cfg (menuentry and
 * submenu blocks), GRUB legacy menu.lst/grub.conf, BLS entry files and
 * extlinux/syslinux configs.  We only read what an entry boots (kernel,
 * initrd, command line, root hint); nothing is evaluated. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "private.h"

#define BOOTCFG_MAX_ENTRIES 1024
#define BOOTCFG_MAX_WORDS 256
#define BOOTCFG_MAX_DEPTH 16

const char *
img_boot_kind_name (enum img_boot_kind kind)
{
  switch (kind) {
  case IMG_BOOT_GRUB2: return "grub2";
  case IMG_BOOT_GRUB_LEGACY: return "grub-legacy";
  case IMG_BOOT_BLS: return "bls";
  case IMG_BOOT_EXTLINUX: return "extlinux";
  }
  return "unknown";
}

static void
free_entry (struct img_boot_entry *e)
{
  free (e->title);
  free (e->id);
  free (e->kernel);
  free (e->initrd);
  free (e->args);
  free (e->root);
}

void
img_boot_entries_free (struct img_boot_entry *entries, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free_entry (&entries[i]);
  free (entries);
}

struct parser {
  struct img_ctx *ctx;
  enum img_boot_kind kind;
  struct img_boot_entry *entries;
  size_t n, cap;
  int err;
};

static struct img_boot_entry *
new_entry (struct parser *p, unsigned line, int depth)
{
  struct img_boot_entry *ne;

  if (p->n == BOOTCFG_MAX_ENTRIES) {
    p->err = img_err (p->ctx, -E2BIG, "bootloader: more than %d entries", BOOTCFG_MAX_ENTRIES);
    return NULL;
  }
  if (img_internal_grow ((void **) &p->entries, &p->cap, p->n, sizeof *ne) < 0) {
    p->err = img_err (p->ctx, -ENOMEM, "bootloader: out of memory");
    return NULL;
  }
  ne = &p->entries[p->n++];
  memset (ne, 0, sizeof *ne);
  ne->kind = p->kind;
  ne->line = line;
  ne->depth = depth;
  return ne;
}

/* Replaces *field with a copy of S (NULL keeps it NULL). */
static void
set_field (struct parser *p, char **field, const char *s)
{
  char *c = s ? strdup (s) : NULL;

  if (s && c == NULL) {
    p->err = img_err (p->ctx, -ENOMEM, "bootloader: out of memory");
    return;
  }
  free (*field);
  *field = c;
}

/* A menu index: the decimal digits at S (at most LEN bytes, S need not be
 * terminated), -1 if there are none or the number does not fit an int. */
static int
parse_index (const char *s, size_t len)
{
  size_t i = 0;
  int v = 0;

  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i == len || s[i] < '0' || s[i] > '9')
    return -1;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
    if (__builtin_mul_overflow (v, 10, &v) || __builtin_add_overflow (v, s[i] - '0', &v))
      return -1;
  return v;
}

/* Joins words [from, n) with single spaces. */
static char *
join (char **words, int from, int n)
{
  size_t len = 1;
  char *out, *o;
  int i;

  for (i = from; i < n; i++)
    len += strlen (words[i]) + 1;
  out = malloc (len);
  if (out == NULL)
    return NULL;
  o = out;
  *o = '\0';
  for (i = from; i < n; i++) {
    if (i > from)
      *o++ = ' ';
    o = stpcpy (o, words[i]);
  }
  return out;
}

/* The word buffer of one grub.cfg line.  Every byte goes through put(),
 * which checks the room left: the size is derived from the line (see
 * grub_words_size), and a write past it is refused, never made. */
struct wbuf {
  char *p;
  size_t len, cap;
};

static bool
put (struct wbuf *b, char c)
{
  if (b->len >= b->cap)
    return false;
  b->p[b->len++] = c;
  return true;
}

/* Room for the words of a line of LEN bytes: each word ends in a NUL and
 * takes at least one input byte, and no input byte yields more than one
 * output byte, so 2 * LEN + 1 is enough (a line of ';' needs all of it). */
static bool
grub_words_size (size_t len, size_t *size)
{
  return !__builtin_mul_overflow (len, 2, size) && !__builtin_add_overflow (*size, 1, size);
}

/* Splits one line of grub.cfg into words the way GRUB's lexer does for
 * the cases that matter: '...' literal, "..." with \ escapes, \ escapes,
 * '#' comment at a word start, '{' and '}' and ';' as their own words.
 * Words are written into B; WORDS has BOOTCFG_MAX_WORDS slots.  Returns
 * the word count, or -1 if B was too small (a bug: B is sized by
 * grub_words_size). */
static int
grub_words (const char *line, size_t len, struct wbuf *b, char **words)
{
  size_t i = 0;
  int n = 0;
  bool ok = true;

  b->len = 0;
  while (ok && i < len && n < BOOTCFG_MAX_WORDS) {
    bool any = false;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
      i++;
    if (i >= len || line[i] == '#')
      break;
    words[n] = b->p + b->len;
    if (line[i] == '{' || line[i] == '}' || line[i] == ';') {
      ok = put (b, line[i++]) && put (b, '\0');
      n++;
      continue;
    }
    while (ok && i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r'
           && line[i] != ';' && !(line[i] == '{' && !any) && line[i] != '}') {
      any = true;
      if (line[i] == '\'') {
        i++;
        while (ok && i < len && line[i] != '\'')
          ok = put (b, line[i++]);
        if (i < len)
          i++;
      }
      else if (line[i] == '"') {
        i++;
        while (ok && i < len && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < len)
            i++;
          ok = put (b, line[i++]);
        }
        if (i < len)
          i++;
      }
      else if (line[i] == '\\' && i + 1 < len) {
        ok = put (b, line[i + 1]);
        i += 2;
      }
      else
        ok = put (b, line[i++]);
    }
    ok = ok && put (b, '\0');
    n++;
  }
  return ok ? n : -1;
}

static void
parse_grub2 (struct parser *p, const char *text, size_t len)
{
  /* Stack of open blocks: each an entry index or -1 (submenu/other). */
  long stack[BOOTCFG_MAX_DEPTH];
  int depth = 0, submenus = 0;
  size_t pos = 0;
  unsigned lineno = 0;
  struct wbuf buf = { NULL, 0, 0 };
  char **words = malloc (BOOTCFG_MAX_WORDS * sizeof *words);
  size_t longest = 0, i, lstart = 0;

  /* The buffer is sized for the longest line: see grub_words_size. */
  for (i = 0; i <= len; i++)
    if (i == len || text[i] == '\n') {
      if (i - lstart > longest)
        longest = i - lstart;
      lstart = i + 1;
    }
  if (!grub_words_size (longest, &buf.cap)) {
    p->err = img_err (p->ctx, -E2BIG, "bootloader: grub.cfg line too long");
    goto out;
  }
  buf.p = malloc (buf.cap);
  if (buf.p == NULL || words == NULL) {
    p->err = img_err (p->ctx, -ENOMEM, "bootloader: out of memory");
    goto out;
  }
  while (pos < len && p->err == 0) {
    const char *line = text + pos;
    const char *nl = memchr (line, '\n', len - pos);
    size_t linelen = nl ? (size_t) (nl - line) : len - pos;
    int nw, w;

    pos += linelen + (nl ? 1 : 0);
    lineno++;
    nw = grub_words (line, linelen, &buf, words);
    if (nw < 0) {
      p->err = img_err (p->ctx, -EOVERFLOW, "bootloader: line %u: word buffer overflow (a bug)", lineno);
      break;
    }
    for (w = 0; w < nw && p->err == 0; ) {
      /* One command: words up to ';' or a brace. */
      int start = w, end;
      const char *cmd = words[w];
      long cur = depth > 0 ? stack[depth - 1] : -1;

      if (strcmp (cmd, "}") == 0) {
        if (depth > 0) {
          if (stack[depth - 1] == -2)
            submenus--;
          depth--;
        }
        w++;
        continue;
      }
      end = w;
      while (end < nw && strcmp (words[end], ";") != 0 && strcmp (words[end], "{") != 0
             && strcmp (words[end], "}") != 0)
        end++;
      if (end < nw && strcmp (words[end], "{") == 0) {
        long idx = -1;
        if (strcmp (cmd, "menuentry") == 0 && end > start + 1) {
          struct img_boot_entry *e = new_entry (p, lineno, submenus);
          int k;
          if (e == NULL)
            break;
          set_field (p, &e->title, words[start + 1]);
          for (k = start + 2; k + 1 < end; k++)
            if (strcmp (words[k], "--id") == 0 || strcmp (words[k], "$menuentry_id_option") == 0)
              set_field (p, &e->id, words[k + 1]);
          idx = p->n - 1;
        }
        else if (strcmp (cmd, "submenu") == 0) {
          idx = -2;
          submenus++;
        }
        if (depth == BOOTCFG_MAX_DEPTH) {
          p->err = img_err (p->ctx, -EINVAL, "bootloader: line %u: blocks nested too deep", lineno);
          break;
        }
        stack[depth++] = idx;
        w = end + 1;
        continue;
      }
      if (cur >= 0 && end > start) {
        struct img_boot_entry *e = &p->entries[cur];
        if ((strcmp (cmd, "linux") == 0 || strcmp (cmd, "linux16") == 0
             || strcmp (cmd, "linuxefi") == 0 || strcmp (cmd, "kernel") == 0)
            && end > start + 1) {
          char *args = join (words, start + 2, end);
          set_field (p, &e->kernel, words[start + 1]);
          free (e->args);
          e->args = args;
        }
        else if ((strcmp (cmd, "initrd") == 0 || strcmp (cmd, "initrd16") == 0
                  || strcmp (cmd, "initrdefi") == 0) && end > start + 1)
          /* With early microcode first, the main initrd is the last. */
          set_field (p, &e->initrd, words[end - 1]);
        else if (strcmp (cmd, "search") == 0) {
          int k;
          for (k = start + 1; k < end; k++)
            if (words[k][0] != '-') {
              set_field (p, &e->root, words[k]);
              break;
            }
        }
        else if (strcmp (cmd, "set") == 0 && end == start + 2
                 && strncmp (words[start + 1], "root=", 5) == 0 && e->root == NULL)
          set_field (p, &e->root, words[start + 1] + 5);
      }
      w = end < nw && strcmp (words[end], ";") == 0 ? end + 1 : end;
    }
  }
 out:
  free (buf.p);
  free (words);
}

/* Lines of "keyword rest" (GRUB legacy, BLS, extlinux): keyword and the
 * rest, with '=' accepted as GRUB legacy's separator. */
static bool
split_kw (const char *line, size_t len, char *kw, size_t kwlen, const char **rest,
          size_t *restlen, bool allow_eq)
{
  size_t i = 0, k = 0;

  while (i < len && isspace ((unsigned char) line[i]))
    i++;
  if (i >= len || line[i] == '#')
    return false;
  while (i < len && !isspace ((unsigned char) line[i]) && !(allow_eq && line[i] == '=')) {
    if (k + 1 < kwlen)
      kw[k++] = line[i];
    i++;
  }
  kw[k] = '\0';
  while (i < len && (isspace ((unsigned char) line[i]) || (allow_eq && line[i] == '=')))
    i++;
  *rest = line + i;
  *restlen = len - i;
  while (*restlen > 0 && isspace ((unsigned char) (*rest)[*restlen - 1]))
    (*restlen)--;
  return true;
}

static char *
strndup_first_word (const char *s, size_t len, const char **after, size_t *afterlen)
{
  size_t i = 0;

  while (i < len && !isspace ((unsigned char) s[i]))
    i++;
  *after = s + i;
  *afterlen = len - i;
  while (*afterlen > 0 && isspace ((unsigned char) **after)) {
    (*after)++;
    (*afterlen)--;
  }
  return strndup (s, i);
}

static void
parse_lines (struct parser *p, const char *text, size_t len, int *default_index)
{
  struct img_boot_entry *e = NULL;
  size_t pos = 0;
  unsigned lineno = 0;
  char kw[32];

  if (p->kind == IMG_BOOT_BLS && (e = new_entry (p, 1, 0)) == NULL)
    return;
  while (pos < len && p->err == 0) {
    const char *line = text + pos, *rest, *after;
    const char *nl = memchr (line, '\n', len - pos);
    size_t linelen = nl ? (size_t) (nl - line) : len - pos, restlen, afterlen;
    char *val;

    pos += linelen + (nl ? 1 : 0);
    lineno++;
    if (!split_kw (line, linelen, kw, sizeof kw, &rest, &restlen,
                   p->kind == IMG_BOOT_GRUB_LEGACY))
      continue;
    val = strndup (rest, restlen);
    if (val == NULL) {
      p->err = img_err (p->ctx, -ENOMEM, "bootloader: out of memory");
      return;
    }
    switch (p->kind) {
    case IMG_BOOT_GRUB_LEGACY:
      if (strcmp (kw, "default") == 0 && default_index && e == NULL)
        *default_index = parse_index (val, strlen (val));
      else if (strcmp (kw, "title") == 0) {
        if ((e = new_entry (p, lineno, 0)) != NULL)
          set_field (p, &e->title, val);
      }
      else if (e && strcmp (kw, "root") == 0)
        set_field (p, &e->root, val);
      else if (e && strcmp (kw, "kernel") == 0) {
        free (e->kernel);
        e->kernel = strndup_first_word (rest, restlen, &after, &afterlen);
        free (e->args);
        e->args = afterlen ? strndup (after, afterlen) : NULL;
      }
      else if (e && strcmp (kw, "initrd") == 0) {
        free (e->initrd);
        e->initrd = strndup_first_word (rest, restlen, &after, &afterlen);
      }
      break;
    case IMG_BOOT_BLS:
      if (strcmp (kw, "title") == 0)
        set_field (p, &e->title, val);
      else if (strcmp (kw, "linux") == 0)
        set_field (p, &e->kernel, val);
      else if (strcmp (kw, "initrd") == 0)
        set_field (p, &e->initrd, val);   /* the last one is the main one */
      else if (strcmp (kw, "options") == 0)
        set_field (p, &e->args, val);
      break;
    case IMG_BOOT_EXTLINUX:
      if (strcasecmp (kw, "label") == 0) {
        if ((e = new_entry (p, lineno, 0)) != NULL) {
          set_field (p, &e->id, val);
          set_field (p, &e->title, val);
        }
      }
      else if (e && strcasecmp (kw, "menu") == 0 && strncasecmp (val, "label", 5) == 0) {
        const char *t = val + 5;
        while (*t == ' ' || *t == '\t')
          t++;
        set_field (p, &e->title, t);
      }
      else if (e && (strcasecmp (kw, "kernel") == 0 || strcasecmp (kw, "linux") == 0))
        set_field (p, &e->kernel, val);
      else if (e && strcasecmp (kw, "initrd") == 0)
        set_field (p, &e->initrd, val);
      else if (e && strcasecmp (kw, "append") == 0) {
        /* initrd= on the APPEND line is syslinux's other way. */
        const char *ini = strstr (val, "initrd=");
        set_field (p, &e->args, val);
        if (ini && e->initrd == NULL && (ini == val || ini[-1] == ' ')) {
          size_t l = strcspn (ini + 7, " ,");
          free (e->initrd);
          e->initrd = strndup (ini + 7, l);
        }
      }
      break;
    case IMG_BOOT_GRUB2:
      break;
    }
    free (val);
  }
}

int
img_bootcfg_parse (struct img_ctx *ctx, enum img_boot_kind kind,
                   const char *text, size_t len,
                   struct img_boot_entry **entries, size_t *n,
                   int *default_index)
{
  struct parser p = { .ctx = ctx, .kind = kind };

  if (default_index)
    *default_index = -1;
  if (kind == IMG_BOOT_GRUB2) {
    parse_grub2 (&p, text, len);
    if (p.err == 0 && default_index) {
      /* set default="0" / set default=0 at the top level; every read
       * stays inside LEN (the text need not be NUL-terminated). */
      const char *d = text, *end = text + len;
      while ((d = memmem (d, end - d, "set default=", 12)) != NULL) {
        const char *v = d + 12;
        if (v < end && (*v == '"' || *v == '\''))
          v++;
        if (v < end && *v >= '0' && *v <= '9') {
          *default_index = parse_index (v, end - v);
          break;
        }
        d = v;
      }
    }
  }
  else
    parse_lines (&p, text, len, default_index);
  if (p.err) {
    img_boot_entries_free (p.entries, p.n);
    return p.err;
  }
  *entries = p.entries;
  *n = p.n;
  return 0;
}
