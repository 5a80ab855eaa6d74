/* Unified diffs (as `diff -u` prints them) of the text files a plan
 * changes, for dry runs and reports: Myers' O(ND) shortest edit script on
 * lines, after the common prefix and suffix are set aside. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-quote.h"
#include "img-edit.h"
#include "private.h"

/* Beyond this many differences the trace would take too much memory; the
 * diff then replaces the differing middle wholesale (still correct). */
#define MAX_D 4000

struct line {
  const char *p;
  size_t len;                   /* with its '\n', if it has one */
  uint64_t hash;
};

enum { OP_EQ, OP_DEL, OP_INS };

struct op {
  unsigned char type;
  size_t a, b;                  /* line index in old (EQ, DEL), new (EQ, INS) */
};

bool
img_is_text (const void *buf, size_t len)
{
  return memchr (buf, '\0', len) == NULL;
}

static int
split_lines (const char *s, size_t len, struct line **out, size_t *n)
{
  size_t cap = 16, i = 0, start = 0, k = 0;
  struct line *l = malloc (cap * sizeof *l);

  if (l == NULL)
    return -ENOMEM;
  while (start < len) {
    const char *nl = memchr (s + start, '\n', len - start);
    size_t end = nl ? (size_t) (nl - s) + 1 : len;
    uint64_t h = 1469598103934665603ULL;

    if (i == cap) {
      struct line *nl2 = realloc (l, (cap *= 2) * sizeof *l);
      if (nl2 == NULL) {
        free (l);
        return -ENOMEM;
      }
      l = nl2;
    }
    for (k = start; k < end; k++)
      h = (h ^ (unsigned char) s[k]) * 1099511628211ULL;
    l[i].p = s + start;
    l[i].len = end - start;
    l[i].hash = h;
    i++;
    start = end;
  }
  *out = l;
  *n = i;
  return 0;
}

static bool
line_eq (const struct line *x, const struct line *y)
{
  return x->hash == y->hash && x->len == y->len
    && memcmp (x->p, y->p, x->len) == 0;
}

/* Myers' greedy algorithm on a[0..n) and b[0..m), keeping each round's V
 * for the backtrack.  Appends the ops (in reverse order) to OPS; A0 and
 * B0 offset the indices.  Returns -E2BIG past MAX_D. */
static int
myers (const struct line *a, size_t n, const struct line *b, size_t m,
       size_t a0, size_t b0, struct op *ops, size_t *nops)
{
  long max = (long) (n + m), d, k, x, y, D = -1;
  long *v, **trace;
  long limit = max < MAX_D ? max : MAX_D;
  int r = 0;

  v = calloc (2 * max + 3, sizeof *v);
  trace = calloc (limit + 1, sizeof *trace);
  if (v == NULL || trace == NULL) {
    free (v);
    free (trace);
    return -ENOMEM;
  }
#define V(k) v[(k) + max + 1]
  for (d = 0; d <= limit && D < 0; d++) {
    for (k = -d; k <= d; k += 2) {
      if (k == -d || (k != d && V (k - 1) < V (k + 1)))
        x = V (k + 1);
      else
        x = V (k - 1) + 1;
      y = x - k;
      while (x < (long) n && y < (long) m && line_eq (&a[x], &b[y]))
        x++, y++;
      V (k) = x;
      if (x >= (long) n && y >= (long) m) {
        D = d;
        break;
      }
    }
    trace[d] = malloc ((2 * d + 1) * sizeof (long));
    if (trace[d] == NULL) {
      r = -ENOMEM;
      goto out;
    }
    memcpy (trace[d], &V (-d), (2 * d + 1) * sizeof (long));
  }
  if (D < 0) {
    r = -E2BIG;
    goto out;
  }
  x = n;
  y = m;
  for (d = D; d > 0; d--) {
    const long *vp = trace[d - 1];      /* index k + (d - 1) */
    long pk, px, py;

    k = x - y;
    if (k == -d || (k != d && vp[k - 1 + d - 1] < vp[k + 1 + d - 1]))
      pk = k + 1;
    else
      pk = k - 1;
    px = vp[pk + d - 1];
    py = px - pk;
    while (x > px && y > py) {
      x--, y--;
      ops[(*nops)++] = (struct op) { OP_EQ, a0 + x, b0 + y };
    }
    if (pk == k + 1) {
      y--;
      ops[(*nops)++] = (struct op) { OP_INS, a0 + x, b0 + y };
    }
    else {
      x--;
      ops[(*nops)++] = (struct op) { OP_DEL, a0 + x, b0 + y };
    }
  }
  while (x > 0 && y > 0) {
    x--, y--;
    ops[(*nops)++] = (struct op) { OP_EQ, a0 + x, b0 + y };
  }
 out:
  for (d = 0; d <= limit; d++)
    free (trace[d]);
  free (trace);
  free (v);
#undef V
  return r;
}

struct out {
  char *p;
  size_t len, cap;
  bool oom;
};

static void
out_add (struct out *o, const char *s, size_t len)
{
  if (o->oom)
    return;
  if (o->len + len + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    char *p;
    while (cap < o->len + len + 1)
      cap *= 2;
    p = realloc (o->p, cap);
    if (p == NULL) {
      o->oom = true;
      return;
    }
    o->p = p;
    o->cap = cap;
  }
  memcpy (o->p + o->len, s, len);
  o->len += len;
  o->p[o->len] = '\0';
}

static void
out_str (struct out *o, const char *s)
{
  out_add (o, s, strlen (s));
}

static void
out_line (struct out *o, char prefix, const struct line *l)
{
  out_add (o, &prefix, 1);
  out_add (o, l->p, l->len);
  if (l->len == 0 || l->p[l->len - 1] != '\n')
    out_str (o, "\n\\ No newline at end of file\n");
}

/* "start,count" as diff -u writes it: ",1" is left out, an empty range
 * names the line before it. */
static void
out_range (struct out *o, size_t start, size_t count)
{
  char tmp[64];

  if (count == 1)
    snprintf (tmp, sizeof tmp, "%zu", start + 1);
  else if (count == 0)
    snprintf (tmp, sizeof tmp, "%zu,0", start);
  else
    snprintf (tmp, sizeof tmp, "%zu,%zu", start + 1, count);
  out_str (o, tmp);
}

int
img_udiff (const char *old, size_t old_len, const char *new_,
           size_t new_len, unsigned context, const char *label_old,
           const char *label_new, char **outp)
{
  struct line *a = NULL, *b = NULL;
  size_t n = 0, m = 0, pre = 0, suf = 0, nops = 0, i, j, nmid;
  struct op *ops = NULL, *tmp;
  struct out o = { 0 };
  int r;

  if ((r = split_lines (old, old_len, &a, &n)) < 0
      || (r = split_lines (new_, new_len, &b, &m)) < 0)
    goto out;
  while (pre < n && pre < m && line_eq (&a[pre], &b[pre]))
    pre++;
  while (suf < n - pre && suf < m - pre
         && line_eq (&a[n - 1 - suf], &b[m - 1 - suf]))
    suf++;
  ops = malloc ((n + m + 1) * sizeof *ops);
  if (ops == NULL) {
    r = -ENOMEM;
    goto out;
  }
  /* Built backwards: suffix, middle, prefix; reversed below. */
  for (i = 0; i < suf; i++)
    ops[nops++] = (struct op) { OP_EQ, n - 1 - i, m - 1 - i };
  r = myers (a + pre, n - pre - suf, b + pre, m - pre - suf, pre, pre,
             ops, &nops);
  if (r == -E2BIG) {
    nops = suf;
    for (i = m - suf; i-- > pre;)
      ops[nops++] = (struct op) { OP_INS, n - suf, i };
    for (i = n - suf; i-- > pre;)
      ops[nops++] = (struct op) { OP_DEL, i, pre };
    r = 0;
  }
  if (r < 0)
    goto out;
  for (i = pre; i-- > 0;)
    ops[nops++] = (struct op) { OP_EQ, i, i };
  for (i = 0, j = nops ? nops - 1 : 0; i < j; i++, j--) {
    struct op t = ops[i];
    ops[i] = ops[j];
    ops[j] = t;
  }
  /* In each run of changes, deletions first, as diff -u prints them. */
  tmp = malloc ((nops + 1) * sizeof *tmp);
  if (tmp == NULL) {
    r = -ENOMEM;
    goto out;
  }
  for (i = 0; i < nops;) {
    size_t k = 0, e;
    if (ops[i].type == OP_EQ) {
      i++;
      continue;
    }
    for (e = i; e < nops && ops[e].type != OP_EQ; e++)
      ;
    for (j = i; j < e; j++)
      if (ops[j].type == OP_DEL)
        tmp[k++] = ops[j];
    for (j = i; j < e; j++)
      if (ops[j].type == OP_INS)
        tmp[k++] = ops[j];
    memcpy (ops + i, tmp, k * sizeof *tmp);
    i = e;
  }
  free (tmp);
  nmid = nops;

  if (label_old || label_new) {
    bool any = false;
    for (i = 0; i < nmid && !any; i++)
      any = ops[i].type != OP_EQ;
    if (any) {
      /* Labels are guest paths: one line of printable text each. */
      char *qo = img_quote_term (label_old ? label_old : "/dev/null", 0);
      char *qn = img_quote_term (label_new ? label_new : "/dev/null", 0);
      out_str (&o, "--- ");
      out_str (&o, qo ? qo : "?");
      out_str (&o, "\n+++ ");
      out_str (&o, qn ? qn : "?");
      out_str (&o, "\n");
      free (qo);
      free (qn);
    }
  }
  /* Hunks: changes less than 2*context+1 equal lines apart share one. */
  for (i = 0; i < nops;) {
    size_t first, last, start, end, k, ao, bo, ac = 0, bc = 0;

    if (ops[i].type == OP_EQ) {
      i++;
      continue;
    }
    first = last = i;
    for (k = i + 1; k < nops; k++) {
      if (ops[k].type == OP_EQ)
        continue;
      if (k - last - 1 > 2 * (size_t) context)
        break;
      last = k;
    }
    start = first > context ? first - context : 0;
    end = last + 1 + context < nops ? last + 1 + context : nops;
    /* Line numbers where the hunk starts: count what precedes it. */
    ao = bo = 0;
    for (k = 0; k < start; k++) {
      if (ops[k].type != OP_INS)
        ao++;
      if (ops[k].type != OP_DEL)
        bo++;
    }
    for (k = start; k < end; k++) {
      if (ops[k].type != OP_INS)
        ac++;
      if (ops[k].type != OP_DEL)
        bc++;
    }
    out_str (&o, "@@ -");
    out_range (&o, ao, ac);
    out_str (&o, " +");
    out_range (&o, bo, bc);
    out_str (&o, " @@\n");
    for (k = start; k < end; k++)
      switch (ops[k].type) {
      case OP_EQ: out_line (&o, ' ', &a[ops[k].a]); break;
      case OP_DEL: out_line (&o, '-', &a[ops[k].a]); break;
      default: out_line (&o, '+', &b[ops[k].b]); break;
      }
    i = end;
  }
  out_add (&o, "", 0);
  if (o.oom)
    r = -ENOMEM;

 out:
  free (a);
  free (b);
  free (ops);
  if (r < 0) {
    free (o.p);
    return r;
  }
  *outp = o.p;
  return 0;
}
