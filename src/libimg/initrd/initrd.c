/* An initramfs as the kernel reads it (init/initramfs.c): a chain of
 * segments -- uncompressed cpio archives at 4-byte boundaries, compressed
 * streams holding more archives, zero padding in between -- unpacked in
 * order into one tree where later members replace earlier ones.  This file
 * walks the chain, keeps the kernel's view of the resulting tree for
 * lookups and extraction (append.c appends layers). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "private.h"
#include "initrd/initrd-private.h"
#include "base/fdio.h"
#include "base/hostdir.h"

/* The kernel's limit on symlinks followed in one path walk. */
#define MAX_SYMLINKS 40
/* Work allowed to resolve the paths of all members, in units of one
 * component walked or 64 bytes hashed or copied: some ten per member in
 * real initrds; crafted chains of long symlinks could otherwise cost
 * hours.  About a second of work at most. */
#define RESOLVE_BUDGET ((uint64_t) 1 << 26)
/* A lookup never needs more than about MAX_SYMLINKS * PATH_MAX / 2. */
#define LOOKUP_BUDGET ((uint64_t) 1 << 20)
/* Longest probe sequence in the path hash: far beyond what chance makes
 * at half load; only crafted colliding names get there. */
#define MAX_PROBES 1024

/* One path of the unpacked tree and the member that made it. */
struct node {
  char *path;                   /* canonical, no leading "/"; "" = root */
  size_t entry;                 /* index of the member now there */
  size_t nchildren;             /* paths created below it */
};

struct img_initrd {
  struct img_ctx *ctx;
  char *name;
  struct img_initrd_segment *segs;
  size_t n_segs;
  struct img_cpio_entries ents;
  struct img_internal_arena arena;  /* names and kept data */
  uint64_t keep_data;           /* file data kept up to this size */
  img_initrd_keep_fn keep_also; /* and for these names */
  const struct img_initrd_sink *sink; /* the data of the others, or NULL */
  struct node *nodes;
  size_t n_nodes, cap_nodes;
  size_t *slots;                /* hash of nodes: index + 1, 0 = free */
  size_t n_slots;               /* a power of two */
};


/* ---- the tree ----------------------------------------------------------- */

/* FNV-1a, then a full 64-bit mix: FNV's low bits depend only on the
 * low bits of its state, which makes colliding names cheap to craft. */
static size_t
hash_path (const char *s, size_t len)
{
  uint64_t h = 0xcbf29ce484222325u;
  size_t i;

  for (i = 0; i < len; i++) {
    h ^= (unsigned char) s[i];
    h *= 0x100000001b3u;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdu;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53u;
  h ^= h >> 33;
  return (size_t) h;
}

/* The node for PATH (LEN bytes, not necessarily NUL-terminated). */
static struct node *
find_node (const struct img_initrd *t, const char *path, size_t len)
{
  size_t mask, i, k;
  struct node *n;

  if (t->n_slots == 0)
    return NULL;
  mask = t->n_slots - 1;
  for (i = hash_path (path, len) & mask, k = 0; k < t->n_slots && k <= MAX_PROBES;
       i = (i + 1) & mask, k++) {
    if (t->slots[i] == 0)
      return NULL;
    n = &t->nodes[t->slots[i] - 1];
    if (strncmp (n->path, path, len) == 0 && n->path[len] == '\0')
      return n;
  }
  return NULL;
}

static int
slot_insert (size_t *slots, size_t n_slots, const char *path, size_t idx)
{
  size_t mask = n_slots - 1, i, k;

  for (i = hash_path (path, strlen (path)) & mask, k = 0; slots[i];
       i = (i + 1) & mask, k++)
    if (k >= MAX_PROBES)
      return -E2BIG;
  slots[i] = idx + 1;
  return 0;
}

/* Adds a node; takes PATH (malloc'd) over. */
static int
add_node (struct img_initrd *t, char *path, size_t entry)
{
  size_t i;

  if (t->n_nodes == t->cap_nodes) {
    size_t cap = t->cap_nodes ? t->cap_nodes * 2 : 1024;
    struct node *v = realloc (t->nodes, cap * sizeof *v);
    if (v == NULL)
      return -ENOMEM;
    t->nodes = v;
    t->cap_nodes = cap;
  }
  if ((t->n_nodes + 1) * 2 > t->n_slots) {
    size_t n = t->n_slots ? t->n_slots * 2 : 2048;
    size_t *slots = calloc (n, sizeof *slots);
    if (slots == NULL)
      return -ENOMEM;
    for (i = 0; i < t->n_nodes; i++)
      if (slot_insert (slots, n, t->nodes[i].path, i) < 0) {
        free (slots);
        return -E2BIG;
      }
    free (t->slots);
    t->slots = slots;
    t->n_slots = n;
  }
  if (slot_insert (t->slots, t->n_slots, path, t->n_nodes) < 0)
    return -E2BIG;
  t->nodes[t->n_nodes++] = (struct node) { path, entry, 0 };
  return 0;
}

/* A growing string. */
struct sbuf {
  char *s;
  size_t len, cap;
};

static int
sbuf_put (struct sbuf *b, const char *s, size_t len)
{
  if (b->len + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    char *p;
    while (cap < b->len + len + 1)
      cap *= 2;
    p = realloc (b->s, cap);
    if (p == NULL)
      return -ENOMEM;
    b->s = p;
    b->cap = cap;
  }
  memcpy (b->s + b->len, s, len);
  b->len += len;
  b->s[b->len] = '\0';
  return 0;
}

/* Walks PATH through the tree the way the kernel's path lookup would:
 * "." and empty components are skipped, ".." goes up but never above the
 * root, a symlink in any component but the last is followed (at most
 * MAX_SYMLINKS times; absolute targets start again at the root).  On
 * success *out is the canonical path (malloc'd; "" for the root).
 * -ENOENT or -ENOTDIR when a directory on the way is missing or is not
 * one, -ELOOP, -ENOMEM; -E2BIG when the walk costs more than *BUDGET,
 * which it decreases. */
static int
resolve (const struct img_initrd *t, const char *path, uint64_t *budget,
         char **out)
{
  struct sbuf cur = { NULL, 0, 0 }, next = { NULL, 0, 0 };
  char *rem;
  const char *p, *c, *q;
  size_t clen, saved;
  const struct node *n;
  const struct img_cpio_entry *e;
  int links = 0, r;

  rem = strdup (path);
  if (rem == NULL || sbuf_put (&cur, "", 0) < 0) {
    r = -ENOMEM;
    goto out;
  }
  p = rem;
  for (;;) {
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    if (*budget < 1 + cur.len / 64) {
      r = -E2BIG;
      goto out;
    }
    *budget -= 1 + cur.len / 64;
    c = p;
    clen = strcspn (p, "/");
    p += clen;
    for (q = p; *q == '/'; q++)
      ;
    if (clen == 1 && c[0] == '.')
      continue;
    if (clen == 2 && c[0] == '.' && c[1] == '.') {
      char *slash = strrchr (cur.s, '/');
      cur.len = slash ? (size_t) (slash - cur.s) : 0;
      cur.s[cur.len] = '\0';
      continue;
    }
    saved = cur.len;
    if ((cur.len && sbuf_put (&cur, "/", 1) < 0) || sbuf_put (&cur, c, clen) < 0) {
      r = -ENOMEM;
      goto out;
    }
    if (*q == '\0')             /* the last component is not followed */
      break;
    n = find_node (t, cur.s, cur.len);
    if (n == NULL) {
      r = -ENOENT;
      goto out;
    }
    e = &t->ents.v[n->entry];
    if (S_ISLNK (e->mode)) {
      if (++links > MAX_SYMLINKS) {
        r = -ELOOP;
        goto out;
      }
      if (*budget < (e->size + strlen (p)) / 64) {
        r = -E2BIG;
        goto out;
      }
      *budget -= (e->size + strlen (p)) / 64;
      next.len = 0;
      if (sbuf_put (&next, (const char *) e->data, e->size) < 0
          || sbuf_put (&next, "/", 1) < 0 || sbuf_put (&next, p, strlen (p)) < 0) {
        r = -ENOMEM;
        goto out;
      }
      cur.len = e->data[0] == '/' ? 0 : saved;
      cur.s[cur.len] = '\0';
      free (rem);
      rem = next.s;
      next.s = NULL;
      next.cap = 0;
      p = rem;
      continue;
    }
    if (!S_ISDIR (e->mode)) {
      r = -ENOTDIR;
      goto out;
    }
  }
  *out = cur.s;
  cur.s = NULL;
  r = 0;
 out:
  free (cur.s);
  free (next.s);
  free (rem);
  return r;
}

/* Unpacks member I into the tree, with the kernel's rules: a member whose
 * directory does not exist (or is not a directory) is not created; one of
 * another type replaces what is there, except a directory that has
 * something in it; a directory over a directory keeps the contents and
 * takes the new mode and owner. */
static int
unpack_entry (struct img_initrd *t, size_t i, uint64_t *budget)
{
  const struct img_cpio_entry *e = &t->ents.v[i];
  struct node *n, *parent;
  char *canon, *slash;
  int r;

  r = resolve (t, e->name, budget, &canon);
  if (r == -ENOMEM || r == -E2BIG)
    return r;
  if (r < 0) {
    img_dbg (t->ctx, "%s: initrd: %s is not unpacked: %s", t->name, e->name,
             strerror (-r));
    return 0;
  }
  n = find_node (t, canon, strlen (canon));
  if (n) {
    const struct img_cpio_entry *old = &t->ents.v[n->entry];
    bool is_root = canon[0] == '\0';
    free (canon);
    if ((is_root && !S_ISDIR (e->mode))
        || (S_ISDIR (old->mode) && !S_ISDIR (e->mode) && n->nchildren > 0)) {
      img_dbg (t->ctx, "%s: initrd: %s does not replace a non-empty directory",
               t->name, e->name);
      return 0;
    }
    n->entry = i;
    return 0;
  }
  if (canon[0] == '\0' && !S_ISDIR (e->mode)) {
    free (canon);
    return 0;
  }
  if (canon[0] != '\0') {
    slash = strrchr (canon, '/');
    parent = find_node (t, canon, slash ? (size_t) (slash - canon) : 0);
    if (parent)
      parent->nchildren++;
  }
  if ((r = add_node (t, canon, i)) < 0)
    free (canon);
  return r;
}

/* ---- the segment walk --------------------------------------------------- */

static int
add_segment (struct img_initrd *t, uint64_t offset, uint64_t length,
             int comp, uint64_t uncompressed, size_t n_entries)
{
  struct img_initrd_segment *v;

  img_progress_step (t->ctx, IMG_PROGRESS_TRACE, "%s: initrd segment %zu at %llu: %s, %llu bytes, "
                     "%llu inflated, %zu members", t->name, t->n_segs, (unsigned long long) offset,
                     img_internal_comp_name (comp), (unsigned long long) length,
                     (unsigned long long) uncompressed, n_entries);
  v = realloc (t->segs, (t->n_segs + 1) * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  t->segs = v;
  t->segs[t->n_segs++] = (struct img_initrd_segment) {
    offset, length, img_internal_comp_name (comp), uncompressed, n_entries
  };
  return 0;
}

/* This initrd's inflated bytes passed LIMIT. */
static int
over_budget (struct img_initrd *t, uint64_t limit)
{
  char lim[32];

  img_internal_budget_format (limit, true, lim);
  return img_err (t->ctx, -EFBIG, "%s: initrd: inflates past %s", t->name, lim);
}

/* Charges the run: BYTES of cpio (inflated or copied) and N_ENTRIES
 * members. */
static int
charge_run (struct img_initrd *t, const char *where, uint64_t bytes,
            uint64_t n_entries)
{
  int r = 0;

  if (bytes)
    r = img_internal_budget_charge (t->ctx, IMG_BUDGET_INFLATE_TOTAL, bytes, where);
  if (r == 0)
    r = img_internal_budget_charge (t->ctx, IMG_BUDGET_ENTRIES_TOTAL, n_entries, where);
  return r;
}

/* An uncompressed archive at OFF, read as the compressed ones are: names
 * and the data kept copied out, the source's bytes not kept. */
static int
walk_plain (struct img_initrd *t, struct img_internal_src *src, uint64_t off,
            uint64_t *total, uint64_t limit, uint64_t *used)
{
  char where[1024];
  struct img_cpio_stream s;
  const unsigned char *q;
  size_t first = t->ents.n, n, k;
  uint64_t u = 0;
  int r;

  snprintf (where, sizeof where, "%s: initrd", t->name);
  img_internal_cpio_stream_init (&s, t->ctx, where, off, true, false,
                                 (unsigned) t->n_segs, &t->ents, &t->arena,
                                 t->keep_data, src->size - off);
  s.keep_also = t->keep_also;
  s.sink = t->sink;
  /* The archive ends at its trailer (the reader takes less than it is
   * given) or with the file. */
  do {
    if ((r = img_internal_src_at (src, off + u, 1, &q, &n)) < 0)
      return r;
    if ((r = img_internal_cpio_stream_feed (&s, q, n, &k)) < 0)
      return r;
    u += k;
  } while (k == n && off + u < src->size);
  if (off + u == src->size && (r = img_internal_cpio_stream_end (&s)) < 0)
    return r;
  if (u > limit - *total)
    return over_budget (t, limit);
  if ((r = charge_run (t, where, u, t->ents.n - first)) < 0)
    return r;
  *total += u;
  if (add_segment (t, off, u, IMG_COMP_NONE, u, t->ents.n - first) < 0)
    return img_err (t->ctx, -ENOMEM, "%s: initrd: out of memory", t->name);
  *used = u;
  return 0;
}

/* The decompressor's window goes straight to the cpio reader. */
struct feed {
  struct img_cpio_stream *s;
  int err;
};

static int
feed_cpio (void *opaque, const unsigned char *p, size_t n)
{
  struct feed *f = opaque;

  f->err = img_internal_cpio_stream_feed (f->s, p, n, NULL);
  return f->err;
}

static int
walk_compressed (struct img_initrd *t, int comp, struct img_internal_src *src,
                 uint64_t off, uint64_t *total, uint64_t limit, uint64_t *used)
{
  char where[1024], over[128], lim[32];
  struct img_cpio_stream s;
  struct feed f = { &s, 0 };
  size_t first = t->ents.n;
  uint64_t u = 0, max = limit - *total, run_left, out_len = 0;
  bool run_bound;
  int r, rc;

  snprintf (where, sizeof where, "%s: initrd: %s segment at offset %" PRIu64,
            t->name, img_internal_comp_name (comp), off);
  /* Stop at whichever comes first: this initrd's budget or the run's. */
  run_left = img_internal_budget_left (t->ctx, IMG_BUDGET_INFLATE_TOTAL);
  run_bound = run_left < max;
  if (run_bound) {
    max = run_left;
    img_internal_budget_format (img_ctx_budget (t->ctx, IMG_BUDGET_INFLATE_TOTAL), true, lim);
    snprintf (over, sizeof over, "inflates past the run's budget of %s (%s)",
              lim, img_internal_budget_env (IMG_BUDGET_INFLATE_TOTAL));
  }
  else {
    img_internal_budget_format (limit, true, lim);
    snprintf (over, sizeof over, "inflates past %s", lim);
  }
  img_internal_cpio_stream_init (&s, t->ctx, where, 0, false, true,
                                 (unsigned) t->n_segs, &t->ents, &t->arena,
                                 t->keep_data, max);
  s.keep_also = t->keep_also;
  s.sink = t->sink;
  r = img_internal_decompress_stream (t->ctx, where, comp, src, off, max,
                                      over, feed_cpio, &f, &u, &out_len);
  if (r < 0 && (f.err == 0 || u == 0)) {
    /* Even a failed inflate took its time: it counts against the run, and
     * one over budget spends all it was allowed, so a thousand bombs cost
     * no more than the run's budget. */
    img_internal_budget_spend (t->ctx, IMG_BUDGET_INFLATE_TOTAL,
                               r == -EFBIG ? max : out_len);
    if (r == -EFBIG && !run_bound)
      img_err (t->ctx, r, "%s: initrd: inflates past %s", t->name, lim);
    return r;
  }
  /* The stream is sound: what it inflated counts, then what the cpio
   * reader found wrong in it, if anything. */
  if ((rc = img_internal_budget_charge (t->ctx, IMG_BUDGET_INFLATE_TOTAL, out_len, where)) < 0)
    return rc;
  *total += out_len;
  if (r < 0)
    return r;
  if ((r = img_internal_cpio_stream_end (&s)) < 0)
    return r;
  if ((r = charge_run (t, where, 0, t->ents.n - first)) < 0)
    return r;
  if (add_segment (t, off, u, comp, out_len, t->ents.n - first) < 0)
    return img_err (t->ctx, -ENOMEM, "%s: out of memory", where);
  *used = u;
  return 0;
}

static int parse (struct img_internal_src *src, uint64_t max_uncompressed,
                  uint64_t keep_data, img_initrd_keep_fn keep_also,
                  const struct img_initrd_sink *sink,
                  struct img_initrd **initrdp);

int
img_initrd_parse (struct img_ctx *ctx, const char *name, const void *buf,
                  size_t len, uint64_t max_uncompressed,
                  struct img_initrd **initrdp)
{
  return img_initrd_parse_keep (ctx, name, buf, len, max_uncompressed,
                                UINT64_MAX, initrdp);
}

int
img_initrd_parse_keep (struct img_ctx *ctx, const char *name, const void *buf,
                       size_t len, uint64_t max_uncompressed,
                       uint64_t keep_data, struct img_initrd **initrdp)
{
  return img_initrd_parse_select (ctx, name, buf, len, max_uncompressed,
                                  keep_data, NULL, initrdp);
}

int
img_initrd_parse_select (struct img_ctx *ctx, const char *name,
                         const void *buf, size_t len,
                         uint64_t max_uncompressed, uint64_t keep_data,
                         img_initrd_keep_fn keep_also,
                         struct img_initrd **initrdp)
{
  struct img_internal_src src;

  img_internal_src_mem (&src, ctx, name, buf, len);
  return parse (&src, max_uncompressed, keep_data, keep_also, NULL, initrdp);
}

int
img_initrd_parse_read (struct img_ctx *ctx, const char *name,
                       img_initrd_read_fn read, void *opaque, uint64_t size,
                       size_t window, uint64_t max_uncompressed,
                       uint64_t keep_data, img_initrd_keep_fn keep_also,
                       const struct img_initrd_sink *sink,
                       struct img_initrd **initrdp)
{
  struct img_internal_src src;
  int r;

  img_internal_src_reader (&src, ctx, name, read, opaque, size, window);
  r = parse (&src, max_uncompressed, keep_data, keep_also, sink, initrdp);
  img_internal_src_free (&src);
  return r;
}

static int
parse (struct img_internal_src *src, uint64_t max_uncompressed,
       uint64_t keep_data, img_initrd_keep_fn keep_also,
       const struct img_initrd_sink *sink, struct img_initrd **initrdp)
{
  struct img_ctx *ctx = src->ctx;
  const char *name = src->name;
  const uint64_t len = src->size;
  const unsigned char *p;
  struct img_initrd *t;
  uint64_t total = 0, limit, budget = RESOLVE_BUDGET, off = 0, used;
  size_t i, n, z;
  int comp, r;

  limit = img_ctx_budget (ctx, IMG_BUDGET_INFLATE);
  if (max_uncompressed && max_uncompressed < limit)
    limit = max_uncompressed;
  t = calloc (1, sizeof *t);
  if (t == NULL || (t->name = strdup (name)) == NULL) {
    free (t);
    return img_err (ctx, -ENOMEM, "%s: initrd: out of memory", name);
  }
  t->ctx = ctx;
  t->keep_data = keep_data;
  t->keep_also = keep_also;
  t->sink = sink;
  t->ents.max = img_ctx_budget (ctx, IMG_BUDGET_MEMBERS) < SIZE_MAX
                ? (size_t) img_ctx_budget (ctx, IMG_BUDGET_MEMBERS) : SIZE_MAX;

  /* The kernel's loop in unpack_to_rootfs(): zero bytes are skipped one
   * by one, a '0' at a 4-byte boundary starts an uncompressed archive,
   * anything else must be a compressed stream.  Each round consumes at
   * least one byte. */
  while (off < len) {
    if ((r = img_internal_src_at (src, off, 8, &p, &n)) < 0)
      goto fail;
    if (p[0] == 0) {
      for (z = 0; z < n && p[z] == 0; z++)
        ;
      off += z;
      continue;
    }
    if (t->n_segs >= IMG_INITRD_MAX_SEGMENTS) {
      r = img_err (ctx, -EFBIG, "%s: initrd: more than %d segments", name,
                   IMG_INITRD_MAX_SEGMENTS);
      goto fail;
    }
    if (p[0] == '0' && n >= 5 && memcmp (p, "07070", 5) == 0) {
      if (off & 3) {
        r = img_err (ctx, -EINVAL,
                     "%s: initrd: cpio header at misaligned offset %" PRIu64 " (the kernel reads an uncompressed cpio only at a 4-byte boundary)",
                     name, off);
        goto fail;
      }
      r = walk_plain (t, src, off, &total, limit, &used);
    }
    else {
      comp = img_internal_comp_detect (p, n);
      if (comp < 0) {
        r = img_err (ctx, -EINVAL, "%s: initrd: unknown data at offset %" PRIu64,
                     name, off);
        goto fail;
      }
      r = walk_compressed (t, comp, src, off, &total, limit, &used);
    }
    if (r < 0)
      goto fail;
    off += used;
  }
  if (t->n_segs == 0) {
    r = img_err (ctx, -EINVAL, "%s: initrd: no cpio archive in it (%s)",
                 name, len ? "only zero bytes" : "empty file");
    goto fail;
  }

  for (i = 0; i < t->ents.n; i++)
    t->ents.v[i].name = img_internal_cpio_name_strip (t->ents.v[i].name);
  for (i = 0; i < t->ents.n; i++)
    if ((r = unpack_entry (t, i, &budget)) < 0) {
      if (r == -E2BIG)
        r = img_err (ctx, r,
                     "%s: initrd: member paths too costly to resolve (crafted symlink chains or colliding names)",
                     name);
      else
        r = img_err (ctx, r, "%s: initrd: out of memory", name);
      goto fail;
    }
  *initrdp = t;
  return 0;
 fail:
  img_initrd_free (t);
  return r;
}

void
img_initrd_free (struct img_initrd *t)
{
  size_t i;

  if (t == NULL)
    return;
  img_internal_arena_free (&t->arena);
  for (i = 0; i < t->n_nodes; i++)
    free (t->nodes[i].path);
  free (t->nodes);
  free (t->slots);
  free (t->ents.v);
  free (t->segs);
  free (t->name);
  free (t);
}

size_t
img_initrd_n_segments (const struct img_initrd *t)
{
  return t->n_segs;
}

const struct img_initrd_segment *
img_initrd_segment (const struct img_initrd *t, size_t i)
{
  return i < t->n_segs ? &t->segs[i] : NULL;
}

size_t
img_initrd_n_entries (const struct img_initrd *t)
{
  return t->ents.n;
}

const struct img_cpio_entry *
img_initrd_entry (const struct img_initrd *t, size_t i)
{
  return i < t->ents.n ? &t->ents.v[i] : NULL;
}

const struct img_cpio_entry *
img_initrd_lookup (const struct img_initrd *t, const char *path)
{
  const struct node *n;
  uint64_t budget = LOOKUP_BUDGET;
  char *canon;

  if (resolve (t, path, &budget, &canon) < 0)
    return NULL;
  n = find_node (t, canon, strlen (canon));
  free (canon);
  return n ? &t->ents.v[n->entry] : NULL;
}

/* ---- extraction ----------------------------------------------------------- */

/* True when NAME climbs above the root with "..": such a member is
 * hostile, whatever the kernel makes of it. */
static bool
escapes (const char *name)
{
  long depth = 0;
  const char *p = name, *c;
  size_t clen;

  while (*p) {
    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    c = p;
    clen = strcspn (p, "/");
    p += clen;
    if (clen == 2 && c[0] == '.' && c[1] == '.') {
      if (--depth < 0)
        return true;
    }
    else if (!(clen == 1 && c[0] == '.'))
      depth++;
  }
  return false;
}

static int
node_cmp (const void *a, const void *b)
{
  const struct node *const *x = a, *const *y = b;

  return strcmp ((*x)->path, (*y)->path);
}

/* Opens the directory that holds PATH below DIRFD, refusing symlinks on
 * the way; *base is PATH's last component. */
static int
open_parent (int dirfd, const char *path, const char **base)
{
  const char *slash = strrchr (path, '/');
  char comp[IMG_CPIO_PATH_MAX];
  const char *p = path;
  int fd, nfd;
  size_t clen;

  fd = dup (dirfd);
  if (fd < 0)
    return -errno;
  while (slash && p < slash) {
    clen = strcspn (p, "/");
    if (clen >= sizeof comp) {
      close (fd);
      return -ENAMETOOLONG;
    }
    memcpy (comp, p, clen);
    comp[clen] = '\0';
    nfd = openat (fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0) {
      nfd = -errno;
      close (fd);
      return nfd;
    }
    close (fd);
    fd = nfd;
    p += clen + 1;
  }
  *base = slash ? slash + 1 : path;
  return fd;
}

/* Creates one member at PATH below DIRFD (replacing a non-directory that
 * is there); directories get their mode later. */
static int
create_one (int dirfd, const char *path, const struct img_cpio_entry *e,
            bool root, bool *skipped)
{
  const char *base;
  struct timespec ts[2];
  struct stat st;
  int pfd, fd, r = 0;
  char *target = NULL;

  *skipped = false;
  pfd = open_parent (dirfd, path, &base);
  if (pfd < 0)
    return pfd;
  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR (st.st_mode) && S_ISDIR (e->mode))
      goto attrs;
    if (unlinkat (pfd, base, S_ISDIR (st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
      r = -errno;
      goto out;
    }
  }
  switch (e->mode & S_IFMT) {
  case S_IFDIR:
    if (mkdirat (pfd, base, 0700) < 0)
      r = -errno;
    break;
  case S_IFREG:
    fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0600);
    if (fd < 0) {
      r = -errno;
      break;
    }
    r = img_internal_write_all (fd, e->data, e->size);
    if (r == 0 && fchmod (fd, e->mode & 07777) < 0)
      r = -errno;
    if (close (fd) < 0 && r == 0)
      r = -errno;
    break;
  case S_IFLNK:
    target = strndup ((const char *) e->data, e->size);
    if (target == NULL)
      r = -ENOMEM;
    else if (symlinkat (target, pfd, base) < 0)
      r = -errno;
    break;
  case S_IFIFO:
  case S_IFCHR:
  case S_IFBLK:
  case S_IFSOCK:
    if (mknodat (pfd, base, e->mode & (S_IFMT | 07777),
                 makedev (e->rdev_major, e->rdev_minor)) < 0) {
      if (errno == EPERM) {
        *skipped = true;
        goto out;
      }
      r = -errno;
    }
    break;
  default:
    *skipped = true;
    goto out;
  }
  if (r < 0)
    goto out;
 attrs:
  if (root && fchownat (pfd, base, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0) {
    r = -errno;
    goto out;
  }
  if (!S_ISDIR (e->mode)) {
    ts[0].tv_sec = ts[1].tv_sec = (time_t) e->mtime;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    if (utimensat (pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
      r = -errno;
  }
 out:
  free (target);
  close (pfd);
  return r;
}

/* Directories last: their mode may forbid writing into them, and filling
 * them changes their mtime. */
static int
finish_dir (int dirfd, const char *path, const struct img_cpio_entry *e)
{
  const char *base;
  struct timespec ts[2];
  int pfd, r = 0;

  pfd = open_parent (dirfd, path, &base);
  if (pfd < 0)
    return pfd;
  ts[0].tv_sec = ts[1].tv_sec = (time_t) e->mtime;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  if (fchmodat (pfd, base, e->mode & 07777, 0) < 0
      || utimensat (pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
    r = -errno;
  close (pfd);
  return r;
}

int
img_initrd_extract (struct img_initrd *t, const char *dir)
{
  struct node **order = NULL;
  size_t i, n = 0, skipped = 0;
  bool root = geteuid () == 0, skip;
  int dirfd, r = 0;

  for (i = 0; i < t->ents.n; i++)
    if (t->ents.v[i].size && t->ents.v[i].data == NULL)
      return img_err (t->ctx, -ENODATA,
                      "%s: initrd: parsed without the members' data; cannot extract",
                      t->name);
  for (i = 0; i < t->ents.n; i++)
    if (escapes (t->ents.v[i].name)) {
      char pname[128];
      snprintf (pname, sizeof pname, "%s", t->ents.v[i].name);
      for (char *q = pname; *q; q++)
        if (*q < 0x20 || *q == 0x7f)
          *q = '?';
      return img_err (t->ctx, -EPERM,
                      "%s: initrd: member \"%s\" climbs out of the archive root; refusing to extract",
                      t->name, pname);
    }
  if (mkdir (dir, 0755) < 0 && errno != EEXIST) {
    r = -errno;
    return img_err (t->ctx, r, "%s: initrd: mkdir %s: %s", t->name, dir,
                    strerror (-r));
  }
  dirfd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    r = -errno;
    return img_err (t->ctx, r, "%s: initrd: %s: %s", t->name, dir,
                    strerror (-r));
  }
  order = malloc ((t->n_nodes ? t->n_nodes : 1) * sizeof *order);
  if (order == NULL) {
    r = img_err (t->ctx, -ENOMEM, "%s: initrd: out of memory", t->name);
    goto out;
  }
  /* Member names are the guest's: each must be a plain relative path
   * (no "..", no control bytes) before it names a host file. */
  for (i = 0; i < t->n_nodes; i++)
    if (t->nodes[i].path[0] != '\0') {
      char *what = NULL;
      if (asprintf (&what, "%s: initrd", t->name) < 0) {
        r = img_err (t->ctx, -ENOMEM, "%s: initrd: out of memory", t->name);
        goto out;
      }
      r = img_host_path_check (t->ctx, what, t->nodes[i].path, strlen (t->nodes[i].path));
      free (what);
      if (r < 0)
        goto out;
      order[n++] = &t->nodes[i];
    }
  /* A parent sorts before what is inside it. */
  qsort (order, n, sizeof *order, node_cmp);
  for (i = 0; i < n; i++) {
    r = create_one (dirfd, order[i]->path, &t->ents.v[order[i]->entry],
                    root, &skip);
    if (r < 0) {
      r = img_err (t->ctx, r, "%s: initrd: extracting %s: %s", t->name,
                   order[i]->path, strerror (-r));
      goto out;
    }
    skipped += skip;
  }
  for (i = n; i-- > 0;) {
    const struct img_cpio_entry *e = &t->ents.v[order[i]->entry];
    if (S_ISDIR (e->mode) && (r = finish_dir (dirfd, order[i]->path, e)) < 0) {
      r = img_err (t->ctx, r, "%s: initrd: extracting %s: %s", t->name,
                   order[i]->path, strerror (-r));
      goto out;
    }
  }
  if (skipped)
    img_warn (t->ctx, "%s: initrd: %zu device nodes not created (needs root)",
              t->name, skipped);
 out:
  free (order);
  close (dirfd);
  return r;
}
