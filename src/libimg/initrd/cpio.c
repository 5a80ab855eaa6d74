/* cpio in the two forms the kernel unpacks: "newc" (070701) and its "crc"
 * variant (070702).  The reader takes hostile bytes: every field is
 * checked against what is left before it is used.  The writer builds the
 * newc archives that img_initrd_append() adds as a layer. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "private.h"
#include "initrd/initrd-private.h"

#define HDR_LEN 110             /* magic + 13 eight-digit hex fields */
#define TRAILER "TRAILER!!!"

enum {
  F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
  F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK,
  N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
  "ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
  "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check",
};

_Static_assert (6 + 8 * N_FIELDS == HDR_LEN, "newc header size");
_Static_assert (sizeof ((struct img_cpio_stream *) 0)->f == N_FIELDS * 4
                && sizeof ((struct img_cpio_stream *) 0)->hdr
                   >= HDR_LEN + IMG_CPIO_PATH_MAX + 3,
                "struct img_cpio_stream holds a header and a name");

/* Rounds up to the 4-byte alignment newc keeps names and data at. */
static inline size_t
pad4 (size_t x)
{
  return (4 - (x & 3)) & 3;
}

static int
parse_hex8 (const unsigned char *p, uint32_t *v)
{
  uint32_t r = 0;
  int i, d;

  for (i = 0; i < 8; i++) {
    if (p[i] >= '0' && p[i] <= '9')
      d = p[i] - '0';
    else if (p[i] >= 'a' && p[i] <= 'f')
      d = p[i] - 'a' + 10;
    else if (p[i] >= 'A' && p[i] <= 'F')
      d = p[i] - 'A' + 10;
    else
      return -1;
    r = (r << 4) | (uint32_t) d;
  }
  *v = r;
  return 0;
}

/* A member name made safe for a one-line message. */
static void
printable (char *dst, size_t dstlen, const char *src)
{
  size_t i;

  for (i = 0; i + 1 < dstlen && src[i]; i++)
    dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
  dst[i] = '\0';
  if (src[i] && dstlen > 4)
    memcpy (dst + dstlen - 4, "...", 4);
}

struct pstate {
  struct img_ctx *ctx;
  const char *where;
  uint64_t base;
  bool inner;
  unsigned segment;
  struct img_cpio_entries *ents;
};

static int
push_entry (const struct pstate *ps, const struct img_cpio_entry *e)
{
  struct img_cpio_entries *ents = ps->ents;

  if (ents->n >= ents->max)
    return img_err (ps->ctx, -EFBIG, "%s: more than %zu members (IMG_BUDGET_MEMBERS)",
                    ps->where, ents->max);
  if (ents->n == ents->cap) {
    size_t cap = ents->cap ? ents->cap * 2 : 256;
    struct img_cpio_entry *v;
    if (cap > ents->max)
      cap = ents->max;
    v = realloc (ents->v, cap * sizeof *v);
    if (v == NULL)
      return img_err (ps->ctx, -ENOMEM, "%s: out of memory", ps->where);
    ents->v = v;
    ents->cap = cap;
  }
  ents->v[ents->n++] = *e;
  return 0;
}

struct link_key {
  uint32_t ino, major, minor;
  size_t idx;
};

static int
link_key_cmp (const void *a, const void *b)
{
  const struct link_key *x = a, *y = b;

  if (x->major != y->major)
    return x->major < y->major ? -1 : 1;
  if (x->minor != y->minor)
    return x->minor < y->minor ? -1 : 1;
  if (x->ino != y->ino)
    return x->ino < y->ino ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* newc stores the data of a hard-linked file once, with the last link;
 * the kernel links every name of the group (within one archive) to one
 * inode, so each name ends up with that data. */
static int
resolve_hard_links (const struct pstate *ps, size_t first)
{
  struct img_cpio_entry *v = ps->ents->v;
  struct link_key *keys;
  size_t i, j, k, n = 0, data_idx;

  for (i = first; i < ps->ents->n; i++)
    if (S_ISREG (v[i].mode) && v[i].nlink >= 2)
      n++;
  if (n < 2)
    return 0;
  keys = malloc (n * sizeof *keys);
  if (keys == NULL)
    return img_err (ps->ctx, -ENOMEM, "%s: out of memory", ps->where);
  for (i = first, n = 0; i < ps->ents->n; i++)
    if (S_ISREG (v[i].mode) && v[i].nlink >= 2)
      keys[n++] = (struct link_key) { v[i].ino, v[i].dev_major,
                                      v[i].dev_minor, i };
  qsort (keys, n, sizeof *keys, link_key_cmp);
  for (i = 0; i < n; i = j) {
    data_idx = SIZE_MAX;
    for (j = i; j < n && keys[j].ino == keys[i].ino
         && keys[j].major == keys[i].major && keys[j].minor == keys[i].minor;
         j++)
      if (v[keys[j].idx].size > 0)
        data_idx = keys[j].idx;
    if (data_idx == SIZE_MAX)
      continue;
    for (k = i; k < j; k++)
      if (v[keys[k].idx].size == 0) {
        v[keys[k].idx].size = v[data_idx].size;
        v[keys[k].idx].data = v[data_idx].data;
      }
  }
  free (keys);
  return 0;
}

/* ---- the stream reader ---------------------------------------------------- */

/* Blocks of names and kept data: bump allocation, freed all at once. */
struct arena_block {
  struct arena_block *next;
  size_t len, cap;
  unsigned char bytes[];
};

#define ARENA_BLOCK ((size_t) 64 << 10)

void *
img_internal_arena_alloc (struct img_internal_arena *a, size_t n)
{
  struct arena_block *b = a->head;
  size_t cap;

  n = (n + 7) & ~(size_t) 7;
  if (b == NULL || b->cap - b->len < n) {
    cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
    b = malloc (sizeof *b + cap);
    if (b == NULL)
      return NULL;
    b->len = 0;
    b->cap = cap;
    /* A big piece gets a block of its own; the current one stays open. */
    if (cap > ARENA_BLOCK && a->head) {
      b->next = a->head->next;
      a->head->next = b;
    }
    else {
      b->next = a->head;
      a->head = b;
    }
  }
  b->len += n;
  a->bytes += n;
  return b->bytes + b->len - n;
}

void
img_internal_arena_free (struct img_internal_arena *a)
{
  struct arena_block *b, *next;

  for (b = a->head; b; b = next) {
    next = b->next;
    free (b);
  }
  a->head = NULL;
  a->bytes = 0;
}

enum { S_GAP, S_HDR, S_NAME, S_DATA, S_PAD, S_DONE };

void
img_internal_cpio_stream_init (struct img_cpio_stream *s, struct img_ctx *ctx,
                               const char *where, uint64_t base,
                               bool one_archive, bool inner, unsigned segment,
                               struct img_cpio_entries *ents,
                               struct img_internal_arena *arena,
                               uint64_t keep_data, uint64_t limit)
{
  memset (s, 0, sizeof *s);
  s->ctx = ctx;
  s->where = where;
  s->base = base;
  s->one_archive = one_archive;
  s->inner = inner;
  s->segment = segment;
  s->ents = ents;
  s->arena = arena;
  s->keep_data = keep_data;
  s->limit = limit;
  s->state = one_archive ? S_HDR : S_GAP;
  s->first = ents->n;
}

static int
stream_err (const struct img_cpio_stream *s, int err, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

static int
stream_err (const struct img_cpio_stream *s, int err, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return img_err (s->ctx, err, "%s: cpio header at %soffset %" PRIu64 ": %s",
                  s->where, s->inner ? "uncompressed " : "",
                  s->base + s->hdr_pos, msg);
}

/* The header is in s->hdr: check its fields, as parse_archive does. */
static int
stream_header (struct img_cpio_stream *s)
{
  int i;

  if (memcmp (s->hdr, "070707", 6) == 0)
    return stream_err (s, -EINVAL,
                       "old portable cpio format (070707); the kernel reads newc only");
  s->crc = memcmp (s->hdr, "070702", 6) == 0;
  if (!s->crc && memcmp (s->hdr, "070701", 6) != 0)
    return stream_err (s, -EINVAL, "bad cpio magic");
  for (i = 0; i < N_FIELDS; i++)
    if (parse_hex8 (s->hdr + 6 + 8 * i, &s->f[i]) < 0)
      return stream_err (s, -EINVAL, "field %s is not hexadecimal",
                         field_names[i]);
  if (s->f[F_NAMESIZE] == 0)
    return stream_err (s, -EINVAL, "namesize is 0");
  if (s->f[F_NAMESIZE] > IMG_CPIO_PATH_MAX)
    return stream_err (s, -EINVAL,
                       "namesize %" PRIu32 " is absurd (more than %d)",
                       s->f[F_NAMESIZE], IMG_CPIO_PATH_MAX);
  return 0;
}

/* The name (and its padding) is in: check it and decide what to keep. */
static int
stream_name (struct img_cpio_stream *s)
{
  const char *name = (const char *) s->hdr + HDR_LEN;
  uint32_t size = s->f[F_FILESIZE];
  int keep;

  if (memchr (name, '\0', s->f[F_NAMESIZE]) == NULL)
    return stream_err (s, -EINVAL,
                       "name is not NUL-terminated within its namesize of %" PRIu32,
                       s->f[F_NAMESIZE]);
  if (name[0] == '\0')
    return stream_err (s, -EINVAL, "empty name");
  printable (s->pname, sizeof s->pname, name);
  s->trailer = strcmp (name, TRAILER) == 0;
  s->sum = 0;
  s->data_have = 0;
  s->data = NULL;
  s->sinking = false;
  if (s->trailer)
    return 0;
  /* Symlink targets are always kept (they are short: checked below),
   * other data up to keep_data or as keep_also says; never more than the
   * input can still hold, so a header's lie costs nothing. */
  keep = s->keep_also ? s->keep_also (name) : 0;
  if (((S_ISLNK (s->f[F_MODE]) && size < IMG_CPIO_PATH_MAX)
       || (keep == 0 && size <= s->keep_data) || keep > 0)
      && size <= s->limit && s->pos <= s->limit - size) {
    s->data = img_internal_arena_alloc (s->arena, (size_t) size + 1);
    if (s->data == NULL)
      return img_err (s->ctx, -ENOMEM, "%s: out of memory", s->where);
  }
  else if (s->sink && S_ISREG (s->f[F_MODE])) {
    char *copy = strdup (name);
    int r;
    if (copy == NULL)
      return img_err (s->ctx, -ENOMEM, "%s: out of memory", s->where);
    r = s->sink->begin (s->sink->opaque, img_internal_cpio_name_strip (copy), s->f[F_MODE],
                        s->f[F_NLINK], size, &s->sinking);
    free (copy);
    if (r < 0)
      return r;
  }
  return 0;
}

char *
img_internal_cpio_name_strip (char *name)
{
  static char root_name[] = ".";

  while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
    name += name[0] == '/' ? 1 : 2;
  return name[0] ? name : root_name;
}

/* The member's data is all in. */
static int
stream_member (struct img_cpio_stream *s)
{
  struct img_cpio_entry e;
  const char *name = (const char *) s->hdr + HDR_LEN;
  uint32_t size = s->f[F_FILESIZE];
  struct pstate ps = { s->ctx, s->where, s->base, s->inner, s->segment, s->ents };
  char *copy;
  int r;

  if (s->trailer) {
    s->archives++;
    r = resolve_hard_links (&ps, s->first);
    s->first = s->ents->n;
    return r;
  }
  if (S_ISLNK (s->f[F_MODE])) {
    if (size == 0)
      return stream_err (s, -EINVAL, "symlink %s has an empty target", s->pname);
    if (size >= IMG_CPIO_PATH_MAX)
      return stream_err (s, -EINVAL,
                         "symlink %s has an absurd target of %" PRIu32 " bytes",
                         s->pname, size);
    /* Kept whenever it arrived whole (stream_name): a target that was
     * not is a header that lied about what could still come. */
    if (s->data == NULL)
      return stream_err (s, -EIO, "symlink %s: target of %" PRIu32 " bytes past the end of the input",
                         s->pname, size);
    if (memchr (s->data, '\0', size))
      return stream_err (s, -EINVAL, "symlink %s has a NUL byte in its target",
                         s->pname);
  }
  if (s->crc && S_ISREG (s->f[F_MODE]) && s->sum != s->f[F_CHECK])
    return stream_err (s, -EIO,
                       "checksum of %s is %08" PRIx32 ", header says %08" PRIx32,
                       s->pname, s->sum, s->f[F_CHECK]);
  copy = img_internal_arena_alloc (s->arena, strlen (name) + 1);
  if (copy == NULL)
    return img_err (s->ctx, -ENOMEM, "%s: out of memory", s->where);
  strcpy (copy, name);
  memset (&e, 0, sizeof e);
  e.name = copy;
  e.mode = s->f[F_MODE];
  e.uid = s->f[F_UID];
  e.gid = s->f[F_GID];
  e.nlink = s->f[F_NLINK];
  e.mtime = s->f[F_MTIME];
  e.ino = s->f[F_INO];
  e.dev_major = s->f[F_DEVMAJOR];
  e.dev_minor = s->f[F_DEVMINOR];
  e.rdev_major = s->f[F_RDEVMAJOR];
  e.rdev_minor = s->f[F_RDEVMINOR];
  e.size = size;
  e.data = s->data;
  if (s->data)
    s->data[size] = 0;
  e.segment = s->segment;
  return push_entry (&ps, &e);
}

int
img_internal_cpio_stream_feed (struct img_cpio_stream *s,
                               const unsigned char *p, size_t n,
                               size_t *consumed)
{
  size_t i = 0, k;
  int r;

  while (i < n && s->state != S_DONE) {
    switch (s->state) {
    case S_GAP:
      /* Between archives of a decompressed stream: zero padding, then
       * the next archive or the end; nothing else. */
      for (k = i; i < n && p[i] == 0; i++)
        ;
      s->pos += i - k;
      if (i == n)
        break;
      if (p[i] != '0')
        return img_err (s->ctx, -EINVAL,
                        "%s: junk after the cpio data at uncompressed offset %" PRIu64,
                        s->where, s->base + s->pos);
      if (s->pos & 3)
        return img_err (s->ctx, -EINVAL,
                        "%s: cpio header at misaligned uncompressed offset %" PRIu64 " (the kernel reads cpio headers at 4-byte boundaries only)",
                        s->where, s->base + s->pos);
      s->state = S_HDR;
      s->have = 0;
      s->hdr_pos = s->pos;
      break;
    case S_HDR:
      if (s->have == 0)
        s->hdr_pos = s->pos;
      k = HDR_LEN - s->have < n - i ? HDR_LEN - s->have : n - i;
      memcpy (s->hdr + s->have, p + i, k);
      s->have += k;
      i += k;
      s->pos += k;
      if (s->have < HDR_LEN)
        break;
      if ((r = stream_header (s)) < 0)
        return r;
      /* The name and the padding that brings the data to 4 bytes. */
      s->need = HDR_LEN + s->f[F_NAMESIZE];
      s->need += pad4 (s->hdr_pos + s->need);
      s->state = S_NAME;
      break;
    case S_NAME:
      k = s->need - s->have < n - i ? s->need - s->have : n - i;
      memcpy (s->hdr + s->have, p + i, k);
      s->have += k;
      i += k;
      s->pos += k;
      if (s->have < s->need)
        break;
      if ((r = stream_name (s)) < 0)
        return r;
      s->data_left = s->f[F_FILESIZE];
      s->state = S_DATA;
      /* fall through */
    case S_DATA:
      k = s->data_left < n - i ? (size_t) s->data_left : n - i;
      if (s->data)
        memcpy (s->data + s->data_have, p + i, k);
      else if (s->sinking && k > 0 && (r = s->sink->data (s->sink->opaque, p + i, k)) < 0)
        return r;
      if (s->crc && S_ISREG (s->f[F_MODE])) {
        size_t j;
        for (j = 0; j < k; j++)
          s->sum += p[i + j];
      }
      s->data_have += k;
      s->data_left -= k;
      i += k;
      s->pos += k;
      if (s->data_left > 0)
        break;
      if (s->sinking) {
        s->sinking = false;
        if ((r = s->sink->end (s->sink->opaque)) < 0)
          return r;
      }
      if ((r = stream_member (s)) < 0)
        return r;
      s->need = pad4 (s->pos);
      s->state = S_PAD;
      /* fall through */
    case S_PAD:
      k = s->need < n - i ? s->need : n - i;
      s->need -= k;
      i += k;
      s->pos += k;
      if (s->need > 0)
        break;
      s->have = 0;
      if (!s->trailer)
        s->state = S_HDR;
      else if (s->one_archive)
        s->state = S_DONE;
      else
        s->state = S_GAP;
      break;
    }
  }
  if (consumed)
    *consumed = i;
  return 0;
}

int
img_internal_cpio_stream_end (struct img_cpio_stream *s)
{
  int r;

  switch (s->state) {
  case S_HDR:
    if (s->have == 0)
      s->hdr_pos = s->pos;
    if (s->have == 0)
      return stream_err (s, -EIO, "the archive ends without " TRAILER " (truncated)");
    return stream_err (s, -EIO, "truncated header (%zu of %d bytes)",
                       s->have, HDR_LEN);
  case S_NAME:
    if (s->have < HDR_LEN + s->f[F_NAMESIZE])
      return stream_err (s, -EIO,
                         "namesize %" PRIu32 " exceeds the %zu bytes left",
                         s->f[F_NAMESIZE], s->have - HDR_LEN);
    /* Only the name's padding is missing: no data can follow. */
    if ((r = stream_name (s)) < 0)
      return r;
    if (s->f[F_FILESIZE] > 0)
      return stream_err (s, -EIO,
                         "filesize %" PRIu32 " of %s exceeds the %zu bytes left",
                         s->f[F_FILESIZE], s->pname, (size_t) 0);
    if ((r = stream_member (s)) < 0)
      return r;
    s->hdr_pos = s->pos;
    if (!s->trailer)
      return stream_err (s, -EIO, "the archive ends without " TRAILER " (truncated)");
    break;
  case S_DATA:
    return stream_err (s, -EIO,
                       "filesize %" PRIu32 " of %s exceeds the %zu bytes left",
                       s->f[F_FILESIZE], s->pname, (size_t) s->data_have);
  case S_PAD:
    /* The last padding may be missing at the very end. */
    s->hdr_pos = s->pos;
    if (!s->trailer)
      return stream_err (s, -EIO, "the archive ends without " TRAILER " (truncated)");
    break;
  default:
    break;
  }
  if (!s->one_archive && s->archives == 0)
    return img_err (s->ctx, -EINVAL, "%s: holds no cpio archive", s->where);
  return 0;
}

/* ---- the writer ----------------------------------------------------------- */

struct img_cpio {
  struct img_ctx *ctx;
  unsigned char *buf;
  size_t len, cap;
  uint32_t next_ino;
  bool finished;
};

int
img_cpio_new (struct img_ctx *ctx, struct img_cpio **cpiop)
{
  struct img_cpio *c;

  c = calloc (1, sizeof *c);
  if (c == NULL)
    return img_err (ctx, -ENOMEM, "layer: initrd: out of memory");
  c->ctx = ctx;
  /* Inode numbers only have to be distinct within the archive; start
   * high so that they never look like a real filesystem's. */
  c->next_ino = 0x10000;
  *cpiop = c;
  return 0;
}

void
img_cpio_free (struct img_cpio *c)
{
  if (c == NULL)
    return;
  free (c->buf);
  free (c);
}

static int
put_member (struct img_cpio *c, const char *name, uint32_t mode,
            uint32_t uid, uint32_t gid, uint32_t nlink, uint32_t mtime,
            uint32_t rdev_major, uint32_t rdev_minor,
            const void *data, size_t len)
{
  size_t namesize = strlen (name) + 1, need, npad, dpad;
  char hdr[HDR_LEN + 1];
  unsigned char *p;

  npad = pad4 (HDR_LEN + namesize);
  dpad = pad4 (len);
  if (__builtin_add_overflow (c->len, HDR_LEN + namesize + npad, &need)
      || __builtin_add_overflow (need, len, &need)
      || __builtin_add_overflow (need, dpad, &need))
    return img_err (c->ctx, -EFBIG, "layer: initrd: archive too large");
  if (need > c->cap) {
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < need)
      if (__builtin_mul_overflow (cap, 2, &cap))
        return img_err (c->ctx, -EFBIG, "layer: initrd: archive too large");
    p = realloc (c->buf, cap);
    if (p == NULL)
      return img_err (c->ctx, -ENOMEM, "layer: initrd: out of memory");
    c->buf = p;
    c->cap = cap;
  }
  snprintf (hdr, sizeof hdr,
            "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
            strcmp (name, TRAILER) == 0 ? 0 : c->next_ino++, mode, uid, gid,
            nlink, mtime, (uint32_t) len, 0u, 0u, rdev_major, rdev_minor,
            (uint32_t) namesize, 0u);
  p = c->buf + c->len;
  memcpy (p, hdr, HDR_LEN);
  memcpy (p + HDR_LEN, name, namesize);
  memset (p + HDR_LEN + namesize, 0, npad);
  p += HDR_LEN + namesize + npad;
  if (len)
    memcpy (p, data, len);
  memset (p + len, 0, dpad);
  c->len = need;
  return 0;
}

int
img_cpio_add (struct img_cpio *c, const char *name, uint32_t mode,
              uint32_t uid, uint32_t gid, uint64_t mtime,
              uint32_t rdev_major, uint32_t rdev_minor,
              const void *data, size_t len)
{
  char pname[128];

  if (c->finished)
    return img_err (c->ctx, -EINVAL, "layer: initrd: archive already finished");
  while (*name == '/')
    name++;
  printable (pname, sizeof pname, name);
  if (*name == '\0')
    return img_err (c->ctx, -EINVAL, "layer: initrd: member with an empty name");
  if (strlen (name) + 1 > IMG_CPIO_PATH_MAX)
    return img_err (c->ctx, -ENAMETOOLONG, "layer: initrd: member %s: name too long",
                    pname);
  if (strcmp (name, TRAILER) == 0)
    return img_err (c->ctx, -EINVAL,
                    "layer: initrd: member name " TRAILER " would end the archive");
  if (mtime > UINT32_MAX)
    return img_err (c->ctx, -EOVERFLOW,
                    "layer: initrd: member %s: mtime does not fit newc's 32 bits",
                    pname);
  switch (mode & S_IFMT) {
  case S_IFREG:
    if (len > UINT32_MAX)
      return img_err (c->ctx, -EFBIG,
                      "layer: initrd: member %s: %zu bytes do not fit newc's 32-bit size",
                      pname, len);
    break;
  case S_IFLNK:
    if (len == 0 || len >= IMG_CPIO_PATH_MAX || memchr (data, '\0', len))
      return img_err (c->ctx, -EINVAL,
                      "layer: initrd: member %s: bad symlink target", pname);
    break;
  case S_IFDIR:
  case S_IFCHR:
  case S_IFBLK:
  case S_IFIFO:
  case S_IFSOCK:
    if (len != 0)
      return img_err (c->ctx, -EINVAL,
                      "layer: initrd: member %s: only files and symlinks carry data",
                      pname);
    break;
  default:
    return img_err (c->ctx, -EINVAL,
                    "layer: initrd: member %s: mode %o has no valid file type",
                    pname, mode);
  }
  return put_member (c, name, mode, uid, gid, S_ISDIR (mode) ? 2 : 1,
                     (uint32_t) mtime, rdev_major, rdev_minor, data, len);
}

int
img_cpio_finish (struct img_cpio *c, void **buf, size_t *len)
{
  int r;

  if (c->finished)
    return img_err (c->ctx, -EINVAL, "layer: initrd: archive already finished");
  if ((r = put_member (c, TRAILER, 0, 0, 0, 1, 0, 0, 0, NULL, 0)) < 0)
    return r;
  c->finished = true;
  *buf = c->buf;
  *len = c->len;
  c->buf = NULL;
  c->len = c->cap = 0;
  return 0;
}
