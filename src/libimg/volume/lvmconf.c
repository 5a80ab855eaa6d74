/* LVM2 metadata text → a tree of sections, values and lists.  The text
 * comes straight off a guest's disk, so the parser is a flat loop with an
 * explicit, bounded stack of open sections (no recursion), counts what it
 * allocates, and names the line of every error. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume/lvmconf.h"
#include "private.h"

/* Everything a tree holds lives in a few large chunks freed at once. */
struct chunk {
  struct chunk *next;
  size_t used, size;
  _Alignas (max_align_t) unsigned char data[];
};

#define CHUNK_SIZE (64u * 1024)
#define ALIGN_UP(n) (((n) + _Alignof (max_align_t) - 1) \
                     & ~(size_t) (_Alignof (max_align_t) - 1))

struct img_lvmconf {
  struct chunk *chunks;
  struct img_lvmconf_node root;
};

struct frame {
  struct img_lvmconf_node *sec;
  struct img_lvmconf_node *tail;
};

struct parser {
  struct img_ctx *ctx;
  const char *name;
  const char *p, *end;
  unsigned line;
  size_t n_nodes;
  struct img_lvmconf *conf;
};

static void *
arena_alloc (struct img_lvmconf *conf, size_t len)
{
  struct chunk *c = conf->chunks;
  void *r;

  len = ALIGN_UP (len ? len : 1);
  if (c == NULL || c->size - c->used < len) {
    size_t size = len > CHUNK_SIZE ? len : CHUNK_SIZE;

    c = malloc (sizeof *c + size);
    if (c == NULL)
      return NULL;
    c->size = size;
    c->used = 0;
    c->next = conf->chunks;
    conf->chunks = c;
  }
  r = c->data + c->used;
  c->used += len;
  return r;
}

static int perr (struct parser *ps, int err, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

static int
perr (struct parser *ps, int err, const char *fmt, ...)
{
  char reason[256];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (reason, sizeof reason, fmt, ap);
  va_end (ap);
  return img_err (ps->ctx, err, "%s: lvm: metadata line %u: %s",
                  ps->name, ps->line, reason);
}

/* Describes the byte at the cursor for a message. */
static const char *
describe (const struct parser *ps, char buf[16])
{
  unsigned char c;

  if (ps->p >= ps->end)
    return "end of text";
  c = (unsigned char) *ps->p;
  if (c > 0x20 && c < 0x7f)
    snprintf (buf, 16, "'%c'", c);
  else
    snprintf (buf, 16, "byte 0x%02x", c);
  return buf;
}

static int
new_node (struct parser *ps, enum img_lvmconf_type type,
          struct img_lvmconf_node **np)
{
  struct img_lvmconf_node *n;

  if (ps->n_nodes >= IMG_LVMCONF_MAX_NODES)
    return perr (ps, -E2BIG, "more than %u entries", IMG_LVMCONF_MAX_NODES);
  n = arena_alloc (ps->conf, sizeof *n);
  if (n == NULL)
    return perr (ps, -ENOMEM, "out of memory");
  memset (n, 0, sizeof *n);
  n->type = type;
  n->line = ps->line;
  ps->n_nodes++;
  *np = n;
  return 0;
}

/* Skips blanks and comments, counting lines. */
static void
skip_space (struct parser *ps)
{
  while (ps->p < ps->end) {
    char c = *ps->p;

    if (c == '\n') {
      ps->line++;
      ps->p++;
    }
    else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f')
      ps->p++;
    else if (c == '#') {
      while (ps->p < ps->end && *ps->p != '\n')
        ps->p++;
    }
    else
      break;
  }
}

static bool
is_name_char (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
    || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'
    || c == '+';
}

/* A number or string value ends at a blank, a separator or a comment. */
static bool
is_value_end (const struct parser *ps)
{
  char c;

  if (ps->p >= ps->end)
    return true;
  c = *ps->p;
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
    || c == '\f' || c == ',' || c == ']' || c == '}' || c == '#';
}

static int
parse_name (struct parser *ps, const char **name)
{
  const char *start = ps->p;
  size_t len;
  char *s, buf[16];

  while (ps->p < ps->end && is_name_char (*ps->p))
    ps->p++;
  len = ps->p - start;
  if (len == 0)
    return perr (ps, -EINVAL, "expected a name, found %s",
                 describe (ps, buf));
  s = arena_alloc (ps->conf, len + 1);
  if (s == NULL)
    return perr (ps, -ENOMEM, "out of memory");
  memcpy (s, start, len);
  s[len] = '\0';
  *name = s;
  return 0;
}

/* "..." or '...'; a backslash takes the next byte literally (lvm2 escapes
 * quotes and backslashes that way).  Newlines may appear inside. */
static int
parse_string (struct parser *ps, struct img_lvmconf_node *n)
{
  char quote = *ps->p;
  unsigned start_line = ps->line;
  const char *q;
  size_t len = 0;
  char *s, *o;

  for (q = ps->p + 1; q < ps->end && *q != quote; q++) {
    if (*q == '\\') {
      q++;
      if (q == ps->end)
        break;
    }
    if (*q == '\0')
      return perr (ps, -EINVAL, "NUL byte inside a string");
    len++;
  }
  if (q >= ps->end) {
    ps->line = start_line;
    return perr (ps, -EINVAL, "unterminated string");
  }
  s = o = arena_alloc (ps->conf, len + 1);
  if (s == NULL)
    return perr (ps, -ENOMEM, "out of memory");
  for (q = ps->p + 1; *q != quote; q++) {
    if (*q == '\\')
      q++;
    if (*q == '\n')
      ps->line++;
    *o++ = *q;
  }
  *o = '\0';
  ps->p = q + 1;
  n->type = IMG_LVMCONF_STRING;
  n->s = s;
  if (!is_value_end (ps)) {
    char buf[16];
    return perr (ps, -EINVAL, "unexpected %s after a string",
                 describe (ps, buf));
  }
  return 0;
}

/* [-]digits, or [-]digits.digits kept as text. */
static int
parse_number (struct parser *ps, struct img_lvmconf_node *n)
{
  const char *start = ps->p;
  bool neg = false;
  uint64_t v = 0;
  char buf[16];

  if (*ps->p == '-') {
    neg = true;
    ps->p++;
  }
  if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
    return perr (ps, -EINVAL, "expected a value, found %s",
                 describe (ps, buf));
  for (; ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9'; ps->p++) {
    if (mul_overflow_u64 (v, 10, &v)
        || add_overflow_u64 (v, (uint64_t) (*ps->p - '0'), &v)
        || v > (uint64_t) INT64_MAX + neg) {
      while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
      return perr (ps, -ERANGE, "integer %.*s is out of range",
                   (int) (ps->p - start > 40 ? 40 : ps->p - start), start);
    }
  }
  if (ps->p + 1 < ps->end && *ps->p == '.'
      && ps->p[1] >= '0' && ps->p[1] <= '9') {
    size_t len;
    char *s;

    ps->p++;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
      ps->p++;
    len = ps->p - start;
    s = arena_alloc (ps->conf, len + 1);
    if (s == NULL)
      return perr (ps, -ENOMEM, "out of memory");
    memcpy (s, start, len);
    s[len] = '\0';
    n->type = IMG_LVMCONF_FLOAT;
    n->s = s;
  }
  else {
    n->type = IMG_LVMCONF_INT;
    if (!neg)
      n->i = (int64_t) v;
    else if (v == (uint64_t) INT64_MAX + 1)
      n->i = INT64_MIN;
    else
      n->i = -(int64_t) v;
  }
  if (!is_value_end (ps))
    return perr (ps, -EINVAL, "unexpected %s after a number",
                 describe (ps, buf));
  return 0;
}

static int
parse_scalar (struct parser *ps, struct img_lvmconf_node *n)
{
  if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\''))
    return parse_string (ps, n);
  return parse_number (ps, n);
}

/* [ v, v, ... ]: items are scalars; lists do not nest. */
static int
parse_list (struct parser *ps, struct img_lvmconf_node *list)
{
  struct img_lvmconf_node *tail = NULL;
  unsigned start_line = ps->line;
  char buf[16];
  int r;

  ps->p++;                      /* '[' */
  list->type = IMG_LVMCONF_LIST;
  for (;;) {
    struct img_lvmconf_node *item;

    skip_space (ps);
    if (ps->p >= ps->end) {
      ps->line = start_line;
      return perr (ps, -EINVAL, "unterminated list");
    }
    if (*ps->p == ']') {
      ps->p++;
      return 0;
    }
    if (*ps->p == '[')
      return perr (ps, -EINVAL, "nested lists are not allowed");
    r = new_node (ps, IMG_LVMCONF_INT, &item);
    if (r < 0)
      return r;
    r = parse_scalar (ps, item);
    if (r < 0)
      return r;
    if (tail)
      tail->next = item;
    else
      list->child = item;
    tail = item;
    list->n_children++;
    skip_space (ps);
    if (ps->p < ps->end && *ps->p == ',')
      ps->p++;
    else if (ps->p < ps->end && *ps->p != ']')
      return perr (ps, -EINVAL, "expected ',' or ']' in a list, found %s",
                   describe (ps, buf));
  }
}

static int
cmp_key (const void *a, const void *b)
{
  const struct img_lvmconf_node *x = *(struct img_lvmconf_node *const *) a;
  const struct img_lvmconf_node *y = *(struct img_lvmconf_node *const *) b;
  int c = strcmp (x->key, y->key);

  if (c != 0)
    return c;
  return (x->line > y->line) - (x->line < y->line);
}

/* On closing a section: sort an index of its children and refuse
 * duplicate keys (which copy of "pv0" or "segment1" would be meant?). */
static int
close_section (struct parser *ps, struct img_lvmconf_node *sec)
{
  struct img_lvmconf_node *c;
  size_t i = 0;

  if (sec->n_children == 0)
    return 0;
  sec->index = arena_alloc (ps->conf, sec->n_children * sizeof *sec->index);
  if (sec->index == NULL)
    return perr (ps, -ENOMEM, "out of memory");
  for (c = sec->child; c; c = c->next)
    sec->index[i++] = c;
  qsort (sec->index, sec->n_children, sizeof *sec->index, cmp_key);
  for (i = 1; i < sec->n_children; i++)
    if (strcmp (sec->index[i - 1]->key, sec->index[i]->key) == 0) {
      ps->line = sec->index[i]->line;
      return perr (ps, -EINVAL, "duplicate key '%s' (first on line %u)",
                   sec->index[i]->key, sec->index[i - 1]->line);
    }
  return 0;
}

static int
parse (struct parser *ps)
{
  struct frame stack[IMG_LVMCONF_MAX_DEPTH + 1];
  size_t depth = 0;
  char buf[16];
  int r;

  stack[0].sec = &ps->conf->root;
  stack[0].tail = NULL;
  for (;;) {
    struct img_lvmconf_node *n;
    const char *key = NULL;
    unsigned line;

    skip_space (ps);
    if (ps->p >= ps->end) {
      if (depth > 0) {
        ps->line = stack[depth].sec->line;
        return perr (ps, -EINVAL, "section '%s' is not closed",
                     stack[depth].sec->key);
      }
      return close_section (ps, stack[0].sec);
    }
    if (*ps->p == '}') {
      if (depth == 0)
        return perr (ps, -EINVAL, "'}' without a section to close");
      r = close_section (ps, stack[depth].sec);
      if (r < 0)
        return r;
      ps->p++;
      depth--;
      continue;
    }
    if (*ps->p == '\0')
      return perr (ps, -EINVAL, "NUL byte in the text");
    line = ps->line;
    r = parse_name (ps, &key);
    if (r < 0)
      return r;
    skip_space (ps);
    if (ps->p < ps->end && *ps->p == '{') {
      if (depth == IMG_LVMCONF_MAX_DEPTH)
        return perr (ps, -ELOOP, "sections nested more than %d deep",
                     IMG_LVMCONF_MAX_DEPTH);
      r = new_node (ps, IMG_LVMCONF_SECTION, &n);
      if (r < 0)
        return r;
      ps->p++;
    }
    else if (ps->p < ps->end && *ps->p == '=') {
      ps->p++;
      skip_space (ps);
      r = new_node (ps, IMG_LVMCONF_INT, &n);
      if (r < 0)
        return r;
      if (ps->p < ps->end && *ps->p == '[')
        r = parse_list (ps, n);
      else
        r = parse_scalar (ps, n);
      if (r < 0)
        return r;
    }
    else
      return perr (ps, -EINVAL, "expected '=' or '{' after '%s', found %s",
                   key, describe (ps, buf));
    n->key = key;
    n->line = line;
    if (stack[depth].tail)
      stack[depth].tail->next = n;
    else
      stack[depth].sec->child = n;
    stack[depth].tail = n;
    stack[depth].sec->n_children++;
    if (n->type == IMG_LVMCONF_SECTION) {
      depth++;
      stack[depth].sec = n;
      stack[depth].tail = NULL;
    }
  }
}

int
img_lvmconf_parse (struct img_ctx *ctx, const char *name, const char *text,
                   size_t len, struct img_lvmconf **confp)
{
  struct parser ps = { .ctx = ctx, .name = name, .line = 1 };
  struct img_lvmconf *conf;
  int r;

  while (len > 0 && text[len - 1] == '\0')
    len--;
  if (len > IMG_LVMCONF_MAX_SIZE)
    return img_err (ctx, -EFBIG,
                    "%s: lvm: metadata text of %zu bytes is over the %u-byte limit",
                    name, len, IMG_LVMCONF_MAX_SIZE);
  conf = calloc (1, sizeof *conf);
  if (conf == NULL)
    return img_err (ctx, -ENOMEM, "%s: lvm: out of memory", name);
  conf->root.type = IMG_LVMCONF_SECTION;
  conf->root.line = 1;
  ps.p = text;
  ps.end = text + len;
  ps.conf = conf;
  r = parse (&ps);
  if (r < 0) {
    img_lvmconf_free (conf);
    return r;
  }
  *confp = conf;
  return 0;
}

void
img_lvmconf_free (struct img_lvmconf *conf)
{
  struct chunk *c, *next;

  if (conf == NULL)
    return;
  for (c = conf->chunks; c; c = next) {
    next = c->next;
    free (c);
  }
  free (conf);
}

const struct img_lvmconf_node *
img_lvmconf_root (const struct img_lvmconf *conf)
{
  return &conf->root;
}

const struct img_lvmconf_node *
img_lvmconf_find (const struct img_lvmconf_node *section, const char *key)
{
  size_t lo = 0, hi;

  if (section == NULL || section->type != IMG_LVMCONF_SECTION
      || section->index == NULL)
    return NULL;
  hi = section->n_children;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp (key, section->index[mid]->key);

    if (c == 0)
      return section->index[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

static int
find_typed (const struct img_lvmconf_node *section, const char *key,
            enum img_lvmconf_type type, const struct img_lvmconf_node **n)
{
  *n = img_lvmconf_find (section, key);
  if (*n == NULL)
    return -ENOENT;
  if ((*n)->type != type)
    return -EINVAL;
  return 0;
}

int
img_lvmconf_section (const struct img_lvmconf_node *section, const char *key,
                     const struct img_lvmconf_node **sub)
{
  return find_typed (section, key, IMG_LVMCONF_SECTION, sub);
}

int
img_lvmconf_int (const struct img_lvmconf_node *section, const char *key,
                 int64_t *v)
{
  const struct img_lvmconf_node *n;
  int r = find_typed (section, key, IMG_LVMCONF_INT, &n);

  if (r == 0)
    *v = n->i;
  return r;
}

int
img_lvmconf_u64 (const struct img_lvmconf_node *section, const char *key,
                 uint64_t *v)
{
  int64_t i;
  int r = img_lvmconf_int (section, key, &i);

  if (r < 0)
    return r;
  if (i < 0)
    return -ERANGE;
  *v = (uint64_t) i;
  return 0;
}

int
img_lvmconf_string (const struct img_lvmconf_node *section, const char *key,
                    const char **s)
{
  const struct img_lvmconf_node *n;
  int r = find_typed (section, key, IMG_LVMCONF_STRING, &n);

  if (r == 0)
    *s = n->s;
  return r;
}

int
img_lvmconf_list (const struct img_lvmconf_node *section, const char *key,
                  const struct img_lvmconf_node **list)
{
  return find_typed (section, key, IMG_LVMCONF_LIST, list);
}

bool
img_lvmconf_list_has (const struct img_lvmconf_node *section, const char *key,
                      const char *s)
{
  const struct img_lvmconf_node *list, *it;

  if (img_lvmconf_list (section, key, &list) < 0)
    return false;
  for (it = list->child; it; it = it->next)
    if (it->type == IMG_LVMCONF_STRING && strcmp (it->s, s) == 0)
      return true;
  return false;
}
