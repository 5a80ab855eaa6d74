/* Unit tests of the initrd layer: the newc writer against the reader,
 * every compression through img_initrd_append(), the kernel's rules for
 * the unpacked tree (later members win, symlinked directories, hard
 * links, missing parents), and hand-made hostile archives. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libimg.h"
#include "initrd/initrd-private.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

static struct img_ctx *ctx;

/* A growing byte buffer for hand-made archives. */
struct buf {
  unsigned char *p;
  size_t len, cap;
};

static void
put (struct buf *b, const void *data, size_t len)
{
  if (b->len + len > b->cap) {
    b->cap = (b->len + len) * 2 + 1024;
    b->p = realloc (b->p, b->cap);
    if (b->p == NULL)
      abort ();
  }
  memcpy (b->p + b->len, data, len);
  b->len += len;
}

static void
put_zeros (struct buf *b, size_t n)
{
  static const unsigned char z[4096];
  while (n > 0) {
    size_t k = n < sizeof z ? n : sizeof z;
    put (b, z, k);
    n -= k;
  }
}

static void
align4 (struct buf *b)
{
  put_zeros (b, (4 - (b->len & 3)) & 3);
}

/* One raw member; NAMESIZE 0 means strlen (name) + 1. */
static void
raw (struct buf *b, const char *magic, unsigned ino, unsigned mode,
     unsigned nlink, unsigned namesize, const char *name,
     const void *data, unsigned size, unsigned check)
{
  char hdr[111];

  if (namesize == 0)
    namesize = strlen (name) + 1;
  snprintf (hdr, sizeof hdr,
            "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
            magic, ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, namesize,
            check);
  put (b, hdr, 110);
  /* The name as given (an absurd NAMESIZE is not followed by as many
   * bytes), padded to NAMESIZE when that is sane. */
  put (b, name, strlen (name) + 1 < namesize ? strlen (name) + 1 : namesize);
  if (strlen (name) + 1 < namesize && namesize <= 4096)
    put_zeros (b, namesize - strlen (name) - 1);
  align4 (b);
  if (size)
    put (b, data, size);
  align4 (b);
}

static void
trailer (struct buf *b)
{
  raw (b, "070701", 0, 0, 1, 0, "TRAILER!!!", NULL, 0, 0);
}

static int
parse (const void *p, size_t len, uint64_t max, struct img_initrd **t)
{
  img_ctx_clear_error (ctx);
  return img_initrd_parse (ctx, "t.img", p, len, max, t);
}

/* The archive must be refused with -ERR and a message holding WANT. */
static void
refused (const struct buf *b, int err, const char *want, const char *name)
{
  struct img_initrd *t = NULL;
  int r = parse (b->p, b->len, 0, &t);
  const char *msg = img_ctx_error (ctx);

  if (!tap_ok (r == err && strstr (msg, want) != NULL
               && strncmp (msg, "t.img: initrd: ", 15) == 0, name))
    printf ("# r=%d (want %d) msg '%s' (want '%s')\n", r, err, msg, want);
  img_initrd_free (t);
}

static void *
finish (struct img_cpio *c, size_t *len)
{
  void *p = NULL;

  if (img_cpio_finish (c, &p, len) < 0) {
    printf ("# %s\n", img_ctx_error (ctx));
    abort ();
  }
  img_cpio_free (c);
  return p;
}

static void *
simple_layer (const char *name, const char *content, size_t *len)
{
  struct img_cpio *c;

  if (img_cpio_new (ctx, &c) < 0
      || img_cpio_add (c, "etc", S_IFDIR | 0755, 0, 0, 0, 0, 0, NULL, 0) < 0
      || img_cpio_add (c, name, S_IFREG | 0644, 0, 0, 1, 0, 0, content,
                       strlen (content)) < 0)
    abort ();
  return finish (c, len);
}

static bool
data_is (const struct img_cpio_entry *e, const char *want)
{
  return e && e->size == strlen (want) && memcmp (e->data, want, e->size) == 0;
}

static void
test_roundtrip (void)
{
  struct img_cpio *c;
  struct img_initrd *t;
  const struct img_cpio_entry *e;
  size_t len;
  void *p;

  tap_ok (img_cpio_new (ctx, &c) == 0, "writer: new");
  tap_ok (img_cpio_add (c, "/etc", S_IFDIR | 0750, 1, 2, 1000, 0, 0, NULL, 0) == 0
          && img_cpio_add (c, "etc/hello", S_IFREG | 0600, 3, 4, 2000, 0, 0,
                           "hello\n", 6) == 0
          && img_cpio_add (c, "etc/link", S_IFLNK | 0777, 0, 0, 0, 0, 0,
                           "hello", 5) == 0
          && img_cpio_add (c, "etc/fifo", S_IFIFO | 0644, 0, 0, 0, 0, 0,
                           NULL, 0) == 0
          && img_cpio_add (c, "etc/null", S_IFCHR | 0666, 0, 0, 0, 1, 3,
                           NULL, 0) == 0
          && img_cpio_add (c, "etc/empty", S_IFREG | 0644, 0, 0, 0, 0, 0,
                           NULL, 0) == 0,
          "writer: add a dir, files, a symlink, a fifo, a device");
  tap_is_int (img_cpio_add (c, "", S_IFREG | 0644, 0, 0, 0, 0, 0, NULL, 0),
              -EINVAL, "writer: empty name refused");
  tap_is_int (img_cpio_add (c, "x", S_IFLNK | 0777, 0, 0, 0, 0, 0, "", 0),
              -EINVAL, "writer: empty symlink target refused");
  tap_is_int (img_cpio_add (c, "x", S_IFDIR | 0755, 0, 0, 0, 0, 0, "a", 1),
              -EINVAL, "writer: a directory with data refused");
  tap_is_int (img_cpio_add (c, "x", 0644, 0, 0, 0, 0, 0, NULL, 0),
              -EINVAL, "writer: mode without a file type refused");
  tap_is_int (img_cpio_add (c, "TRAILER!!!", S_IFREG | 0644, 0, 0, 0, 0, 0,
                            NULL, 0),
              -EINVAL, "writer: a member named TRAILER!!! refused");
  tap_is_int (img_cpio_add (c, "x", S_IFREG | 0644, 0, 0, (uint64_t) 1 << 33,
                            0, 0, NULL, 0),
              -EOVERFLOW, "writer: mtime beyond 32 bits refused");
  p = finish (c, &len);
  tap_ok (len % 4 == 0 && memcmp (p, "070701", 6) == 0,
          "writer: newc, 4-byte aligned");
  tap_ok (parse (p, len, 0, &t) == 0, "reader: parses the writer's archive");
  tap_is_int (img_initrd_n_entries (t), 6, "reader: 6 members");
  tap_is_int (img_initrd_n_segments (t), 1, "reader: 1 segment");
  tap_is_str (img_initrd_segment (t, 0)->compression, "none",
              "reader: segment not compressed");
  tap_is_int (img_initrd_segment (t, 0)->length, len,
              "reader: segment covers the archive");
  e = img_initrd_entry (t, 0);
  tap_ok (e && strcmp (e->name, "etc") == 0 && e->mode == (S_IFDIR | 0750)
          && e->uid == 1 && e->gid == 2 && e->mtime == 1000,
          "reader: directory attributes, leading / stripped");
  e = img_initrd_lookup (t, "etc/hello");
  tap_ok (data_is (e, "hello\n") && e->mode == (S_IFREG | 0600)
          && e->uid == 3 && e->gid == 4 && e->mtime == 2000,
          "reader: file data and attributes");
  e = img_initrd_lookup (t, "/etc/link");
  tap_ok (e && S_ISLNK (e->mode) && data_is (e, "hello"),
          "reader: symlink (not followed by lookup)");
  e = img_initrd_lookup (t, "etc/null");
  tap_ok (e && S_ISCHR (e->mode) && e->rdev_major == 1 && e->rdev_minor == 3,
          "reader: device numbers");
  tap_ok (img_initrd_lookup (t, "etc/nothing") == NULL,
          "reader: lookup of a missing member");
  e = img_initrd_lookup (t, "etc/empty");
  tap_ok (e && e->size == 0, "reader: empty file");
  img_initrd_free (t);
  free (p);
}

static void
test_compressions (void)
{
  static const char *const comps[] = {
    "none", "gzip", "zstd", "xz", "lzma", "lz4", "bzip2",
  };
  size_t i, olen, llen, out_len, out2_len;
  void *orig, *layer, *out, *out2;
  struct img_initrd *t;
  char name[128];
  int r;

  orig = simple_layer ("etc/x", "old", &olen);
  layer = simple_layer ("etc/x", "new", &llen);
  for (i = 0; i < ARRAY_SIZE (comps); i++) {
    /* An original whose length is not a multiple of 4. */
    unsigned char *o3 = malloc (olen + 3);
    memcpy (o3, orig, olen);
    memset (o3 + olen, 0, 3);
    r = img_initrd_append (ctx, o3, olen + 3, layer, llen, comps[i], &out,
                           &out_len);
    snprintf (name, sizeof name, "append %s: layer found, overrides",
              comps[i]);
    if (r == 0 && parse (out, out_len, 0, &t) == 0) {
      const struct img_initrd_segment *s = img_initrd_segment (t, 1);
      tap_ok (img_initrd_n_segments (t) == 2 && s
              && strcmp (s->compression, comps[i]) == 0
              /* Uncompressed and lz4 layers after zero padding to a
               * 4-byte boundary; the others right after the original. */
              && (strcmp (comps[i], "none") == 0 || strcmp (comps[i], "lz4") == 0
                  ? s->offset % 4 == 0 && s->offset >= olen + 3 + 4
                  : s->offset == olen + 3)
              && s->offset + s->length == out_len
              && data_is (img_initrd_lookup (t, "etc/x"), "new")
              && img_initrd_n_entries (t) == 4, name);
      img_initrd_free (t);
      /* And another layer after it: the walk must find the end of the
       * compressed stream (lz4 legacy has no end marker). */
      snprintf (name, sizeof name, "append none after %s", comps[i]);
      free (layer);
      layer = simple_layer ("etc/x", "third", &llen);
      r = img_initrd_append (ctx, out, out_len, layer, llen, "none", &out2,
                             &out2_len);
      t = NULL;
      tap_ok (r == 0 && parse (out2, out2_len, 0, &t) == 0
              && img_initrd_n_segments (t) == 3
              && data_is (img_initrd_lookup (t, "etc/x"), "third"), name);
      img_initrd_free (t);
      if (r == 0)
        free (out2);
      free (layer);
      layer = simple_layer ("etc/x", "new", &llen);
      free (out);
    }
    else {
      tap_ok (0, name);
      printf ("# %s\n", img_ctx_error (ctx));
      tap_ok (0, "append after");
    }
    free (o3);
  }
  tap_is_int (img_initrd_append (ctx, orig, olen, layer, llen, "lzo", &out,
                                 &out_len), -EINVAL,
              "append: unknown compression refused");
  tap_is_int (img_initrd_append (ctx, orig, olen, "garbage!", 8, "none", &out,
                                 &out_len), -EINVAL,
              "append: a layer that is not newc refused");
  free (orig);
  free (layer);
}

/* Output buffers that must grow, several bzip2 blocks, more than one lz4
 * chunk (8 MiB): every format on a larger archive. */
static void
test_large (void)
{
  static const char *const comps[] = {
    "gzip", "zstd", "xz", "lzma", "bzip2", "lz4",
  };
  const size_t max = (8 << 20) + (300 << 10);
  unsigned char *data = malloc (max);
  size_t size;
  uint32_t x = 12345;
  struct img_cpio *c;
  struct img_initrd *t;
  const struct img_cpio_entry *e;
  void *layer, *out;
  size_t llen, out_len, i;
  char name[64];

  for (i = 0; i < max; i++) {
    x = x * 1103515245 + 12345;
    data[i] = "abcdefgh\n "[(x >> 16) % 10];
  }
  for (i = 0; i < ARRAY_SIZE (comps); i++) {
    size = strcmp (comps[i], "lz4") == 0 ? max : (2 << 20) + 1234;
    img_cpio_new (ctx, &c);
    img_cpio_add (c, "big", S_IFREG | 0644, 0, 0, 0, 0, 0, data, size);
    layer = finish (c, &llen);
    snprintf (name, sizeof name, "%s: a %zu-byte member round trip", comps[i],
              size);
    if (img_initrd_append (ctx, NULL, 0, layer, llen, comps[i], &out,
                           &out_len) < 0
        || parse (out, out_len, 0, &t) < 0) {
      tap_ok (0, name);
      printf ("# %s\n", img_ctx_error (ctx));
      free (layer);
      continue;
    }
    e = img_initrd_lookup (t, "big");
    tap_ok (e && e->size == size && memcmp (e->data, data, size) == 0
            && strcmp (img_initrd_segment (t, 0)->compression, comps[i]) == 0,
            name);
    img_initrd_free (t);
    free (out);
    free (layer);
  }
  free (data);
}

static void
test_kernel_rules (void)
{
  struct img_cpio *c;
  struct img_initrd *t;
  const struct img_cpio_entry *e;
  void *a, *b, *out;
  size_t alen, blen, out_len;

  /* Debian's merged /usr, then a layer that writes through the link. */
  img_cpio_new (ctx, &c);
  img_cpio_add (c, "usr", S_IFDIR | 0755, 0, 0, 0, 0, 0, NULL, 0);
  img_cpio_add (c, "usr/bin", S_IFDIR | 0755, 0, 0, 0, 0, 0, NULL, 0);
  img_cpio_add (c, "usr/bin/sh", S_IFREG | 0755, 0, 0, 0, 0, 0, "sh", 2);
  img_cpio_add (c, "bin", S_IFLNK | 0777, 0, 0, 0, 0, 0, "usr/bin", 7);
  img_cpio_add (c, "abs", S_IFLNK | 0777, 0, 0, 0, 0, 0, "/usr", 4);
  img_cpio_add (c, "loop", S_IFLNK | 0777, 0, 0, 0, 0, 0, "loop", 4);
  img_cpio_add (c, "full", S_IFDIR | 0755, 0, 0, 0, 0, 0, NULL, 0);
  img_cpio_add (c, "full/f", S_IFREG | 0644, 0, 0, 0, 0, 0, "f", 1);
  img_cpio_add (c, "empty", S_IFDIR | 0755, 0, 0, 0, 0, 0, NULL, 0);
  img_cpio_add (c, "file", S_IFREG | 0644, 0, 0, 0, 0, 0, "file", 4);
  a = finish (c, &alen);
  img_cpio_new (ctx, &c);
  img_cpio_add (c, "bin/tool", S_IFREG | 0755, 0, 0, 0, 0, 0, "tool", 4);
  img_cpio_add (c, "nodir/x", S_IFREG | 0644, 0, 0, 0, 0, 0, "x", 1);
  img_cpio_add (c, "file/x", S_IFREG | 0644, 0, 0, 0, 0, 0, "x", 1);
  img_cpio_add (c, "full", S_IFREG | 0644, 0, 0, 0, 0, 0, "nope", 4);
  img_cpio_add (c, "empty", S_IFREG | 0644, 0, 0, 0, 0, 0, "yes", 3);
  img_cpio_add (c, "usr/bin", S_IFDIR | 0700, 7, 7, 0, 0, 0, NULL, 0);
  b = finish (c, &blen);
  if (img_initrd_append (ctx, a, alen, b, blen, "gzip", &out, &out_len) < 0
      || parse (out, out_len, 0, &t) < 0) {
    printf ("# %s\n", img_ctx_error (ctx));
    abort ();
  }
  tap_ok (data_is (img_initrd_lookup (t, "bin/sh"), "sh"),
          "lookup follows a symlinked directory");
  tap_ok (data_is (img_initrd_lookup (t, "/./usr/../bin//sh"), "sh"),
          "lookup handles /, ., .. and //");
  tap_ok (img_initrd_lookup (t, "bin/../usr/bin/sh") == NULL,
          "lookup: .. after a symlink goes up from its target (usr/usr)");
  tap_ok (data_is (img_initrd_lookup (t, "../../usr/bin/sh"), "sh"),
          "lookup: .. stops at the root, as in the kernel");
  tap_ok (data_is (img_initrd_lookup (t, "abs/bin/sh"), "sh"),
          "lookup follows an absolute symlink from the root");
  e = img_initrd_lookup (t, "bin");
  tap_ok (e && S_ISLNK (e->mode), "lookup does not follow the last component");
  tap_ok (img_initrd_lookup (t, "loop/x") == NULL, "a symlink loop ends");
  tap_ok (data_is (img_initrd_lookup (t, "usr/bin/tool"), "tool"),
          "a member written through a symlinked directory lands in its target");
  tap_ok (img_initrd_lookup (t, "nodir/x") == NULL,
          "a member whose directory is missing is not unpacked");
  tap_ok (img_initrd_lookup (t, "file/x") == NULL,
          "a member below a file is not unpacked");
  e = img_initrd_lookup (t, "full");
  tap_ok (e && S_ISDIR (e->mode)
          && data_is (img_initrd_lookup (t, "full/f"), "f"),
          "a file does not replace a non-empty directory");
  tap_ok (data_is (img_initrd_lookup (t, "empty"), "yes"),
          "a file replaces an empty directory");
  e = img_initrd_lookup (t, "usr/bin");
  tap_ok (e && e->mode == (S_IFDIR | 0700) && e->uid == 7
          && data_is (img_initrd_lookup (t, "usr/bin/sh"), "sh"),
          "a directory over a directory: new mode and owner, contents kept");
  tap_is_int (img_initrd_n_entries (t), 16, "every member is listed");
  img_initrd_free (t);
  free (a);
  free (b);
  free (out);
}

static void
test_hard_links (void)
{
  struct buf b = { 0 };
  struct img_initrd *t;
  const char *d = "linked data";
  unsigned sum = 0;
  size_t i;

  raw (&b, "070701", 9, S_IFDIR | 0755, 2, 0, "d", NULL, 0, 0);
  raw (&b, "070701", 5, S_IFREG | 0644, 3, 0, "d/a", NULL, 0, 0);
  raw (&b, "070701", 5, S_IFREG | 0644, 3, 0, "./d/b", NULL, 0, 0);
  raw (&b, "070701", 5, S_IFREG | 0644, 3, 0, "/d/c", d, strlen (d), 0);
  raw (&b, "070701", 6, S_IFREG | 0644, 1, 0, "d/lone", NULL, 0, 0);
  trailer (&b);
  tap_ok (parse (b.p, b.len, 0, &t) == 0, "hard links: parsed");
  tap_ok (data_is (img_initrd_lookup (t, "d/a"), d)
          && data_is (img_initrd_lookup (t, "d/b"), d)
          && data_is (img_initrd_lookup (t, "d/c"), d),
          "hard links: every name has the data of the last link");
  tap_ok (img_initrd_lookup (t, "d/lone")->size == 0,
          "hard links: a single link stays empty");
  tap_is_str (img_initrd_entry (t, 2)->name, "d/b", "names: ./ stripped");
  tap_is_str (img_initrd_entry (t, 3)->name, "d/c", "names: / stripped");
  img_initrd_free (t);

  /* The "crc" variant: the check field is the sum of the data bytes. */
  b.len = 0;
  for (i = 0; i < strlen (d); i++)
    sum += (unsigned char) d[i];
  raw (&b, "070702", 1, S_IFREG | 0644, 1, 0, "f", d, strlen (d), sum);
  trailer (&b);
  tap_ok (parse (b.p, b.len, 0, &t) == 0
          && data_is (img_initrd_lookup (t, "f"), d), "crc variant read");
  img_initrd_free (t);
  b.len = 0;
  raw (&b, "070702", 1, S_IFREG | 0644, 1, 0, "f", d, strlen (d), sum + 1);
  trailer (&b);
  refused (&b, -EIO, "checksum of f", "crc variant: bad checksum");
  free (b.p);
}

static void
test_hostile (void)
{
  struct buf b = { 0 }, z = { 0 };
  struct img_initrd *t = NULL;
  unsigned char *gz;
  size_t gz_len, i;
  void *layer;
  size_t llen;

  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0xfffffff0, "x", NULL, 0, 0);
  refused (&b, -EINVAL, "namesize 4294967280 is absurd", "absurd namesize");
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  memcpy (b.p + 6 + 6 * 8, "7FFFFFFF", 8);
  trailer (&b);
  refused (&b, -EIO, "filesize 2147483647 of x exceeds", "absurd filesize");
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  memcpy (b.p + 6 + 11 * 8, "00000001", 8);   /* namesize 1: "x" w/o NUL */
  trailer (&b);
  refused (&b, -EINVAL, "not NUL-terminated", "name without NUL");
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", "abc", 3, 0);
  refused (&b, -EIO, "without TRAILER!!!", "archive without trailer");
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", "abc", 3, 0);
  b.len = 50;
  refused (&b, -EIO, "truncated header", "truncated header");
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  memcpy (b.p + 6, "0000000G", 8);
  trailer (&b);
  refused (&b, -EINVAL, "field ino is not hexadecimal", "non-hex field");
  b.len = 0;
  raw (&b, "070707", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  refused (&b, -EINVAL, "070707", "old cpio format");
  b.len = 0;
  raw (&b, "070701", 1, S_IFLNK | 0777, 1, 0, "l", "a\0b", 3, 0);
  trailer (&b);
  refused (&b, -EINVAL, "NUL byte in its target", "symlink target with NUL");
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  trailer (&b);
  put (&b, "garbage", 7);
  refused (&b, -EINVAL, "unknown data at offset 236", "garbage after the archive");
  b.len = 0;
  put_zeros (&b, 5);
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  trailer (&b);
  refused (&b, -EINVAL, "misaligned offset 5", "misaligned archive");
  b.len = 0;
  put_zeros (&b, 64);
  refused (&b, -EINVAL, "no cpio archive", "only zeros");
  b.len = 0;
  refused (&b, -EINVAL, "no cpio archive", "empty file");
  b.len = 0;
  put (&b, "\x04\x22\x4d\x18", 4);
  put_zeros (&b, 16);
  refused (&b, -ENOTSUP, "lz4 frame format", "lz4 frame format");

  /* Inside a compressed stream: junk after the archive, a misaligned
   * second archive, an empty stream. */
  b.len = 0;
  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  trailer (&b);
  put (&b, "junk", 4);
  img_internal_compress (ctx, "t", IMG_COMP_GZIP, b.p, b.len, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len);
  free (gz);
  refused (&z, -EINVAL, "gzip segment at offset 0: junk after the cpio data",
           "junk inside a compressed segment");
  img_internal_compress (ctx, "t", IMG_COMP_GZIP, b.p, 0, &gz, &gz_len);
  z.len = 0;
  raw (&z, "070701", 1, S_IFREG | 0644, 1, 0, "x", NULL, 0, 0);
  trailer (&z);
  for (i = 0; i < 1000; i++)
    put (&z, gz, gz_len);
  free (gz);
  refused (&z, -EINVAL, "gzip segment at offset 236: holds no cpio archive",
           "a chain of empty gzip streams");

  /* Truncated and corrupt streams. */
  layer = simple_layer ("etc/x", "some data to compress", &llen);
  img_internal_compress (ctx, "t", IMG_COMP_ZSTD, layer, llen, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len - 5);
  refused (&z, -EIO, "truncated zstd stream", "truncated zstd");
  gz[gz_len / 2] ^= 0x55;
  z.len = 0;
  put (&z, gz, gz_len);
  refused (&z, -EIO, "zstd", "corrupt zstd");
  free (gz);
  img_internal_compress (ctx, "t", IMG_COMP_XZ, layer, llen, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len - 1);
  refused (&z, -EIO, "truncated xz stream", "truncated xz");
  free (gz);
  img_internal_compress (ctx, "t", IMG_COMP_BZIP2, layer, llen, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len - 3);
  refused (&z, -EIO, "truncated bzip2 stream", "truncated bzip2");
  free (gz);
  img_internal_compress (ctx, "t", IMG_COMP_LZ4, layer, llen, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len - 3);
  refused (&z, -EIO, "truncated lz4 stream", "truncated lz4");
  free (gz);
  img_internal_compress (ctx, "t", IMG_COMP_GZIP, layer, llen, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len - 4);
  refused (&z, -EIO, "truncated gzip stream", "truncated gzip");
  free (gz);
  img_internal_compress (ctx, "t", IMG_COMP_LZMA, layer, llen, &gz, &gz_len);
  z.len = 0;
  put (&z, gz, gz_len - 4);
  refused (&z, -EIO, "truncated lzma stream", "truncated lzma");
  free (gz);
  free (layer);

  /* A bomb: 20 MiB of zeros in a file, squeezed to a few KiB. */
  {
    struct img_cpio *c;
    unsigned char *zeros = calloc (1, 20 << 20);
    void *out;
    size_t out_len;
    img_cpio_new (ctx, &c);
    img_cpio_add (c, "bomb", S_IFREG | 0644, 0, 0, 0, 0, 0, zeros, 20 << 20);
    layer = finish (c, &llen);
    img_internal_compress (ctx, "t", IMG_COMP_GZIP, layer, llen, &gz, &gz_len);
    img_ctx_clear_error (ctx);
    tap_ok (img_initrd_parse (ctx, "t.img", gz, gz_len, 1 << 20, &t) == -EFBIG
            && strcmp (img_ctx_error (ctx), "t.img: initrd: inflates past 1 MiB") == 0,
            "bomb: gzip over the limit");
    free (gz);
    img_internal_compress (ctx, "t", IMG_COMP_LZ4, layer, llen, &gz, &gz_len);
    tap_ok (img_initrd_parse (ctx, "t.img", gz, gz_len, 1 << 20, &t) == -EFBIG,
            "bomb: lz4 over the limit");
    free (gz);
    tap_ok (img_initrd_parse (ctx, "t.img", layer, llen, 1 << 20, &t) == -EFBIG,
            "limit: uncompressed data counts too");
    img_initrd_append (ctx, NULL, 0, layer, llen, "zstd", &out, &out_len);
    tap_ok (img_initrd_parse (ctx, "t.img", out, out_len, 21 << 20, &t) == 0,
            "limit: just enough is fine");
    img_initrd_free (t);
    /* The run's budget: every initrd of the run counts, failed ones too. */
    {
      struct img_ctx *c2;
      img_ctx_new (&c2);
      tap_ok (img_ctx_set_budget_string (c2, "inflate-total=30M") == 0
              && img_ctx_budget (c2, IMG_BUDGET_INFLATE_TOTAL) == 30 << 20
              && img_ctx_set_budget_string (c2, "inflate-total=0") == -EINVAL
              && img_ctx_set_budget_string (c2, "nosuch=1M") == -EINVAL
              && img_ctx_set_budget_string (c2, "inflate=1X") == -EINVAL,
              "budget: set from NAME=SIZE, nonsense refused");
      t = NULL;
      tap_ok (img_initrd_parse (c2, "a.img", out, out_len, 0, &t) == 0
              && img_ctx_budget_used (c2, IMG_BUDGET_INFLATE_TOTAL) >= 20 << 20,
              "budget: the first initrd fits the run's budget and is charged");
      img_initrd_free (t);
      tap_ok (img_initrd_parse (c2, "b.img", out, out_len, 0, &t) == -EFBIG
              && strstr (img_ctx_error (c2), "b.img: initrd: zstd segment at offset 0: inflates past the run's budget of 30 MiB (IMG_BUDGET_INFLATE_TOTAL)"),
              "budget: the second one stops at the run's budget");
      tap_ok (img_initrd_parse (c2, "c.img", out, out_len, 0, &t) == -EFBIG
              && img_ctx_budget_used (c2, IMG_BUDGET_INFLATE_TOTAL) == 30 << 20,
              "budget: then nothing more is inflated");
      img_ctx_set_budget (c2, IMG_BUDGET_INFLATE_TOTAL, 1ull << 40);
      img_ctx_set_budget (c2, IMG_BUDGET_INFLATE, 4 << 20);
      tap_ok (img_initrd_parse (c2, "d.img", out, out_len, 0, &t) == -EFBIG
              && strcmp (img_ctx_error (c2), "d.img: initrd: inflates past 4 MiB") == 0,
              "budget: one initrd's limit from the context");
      img_ctx_set_budget (c2, IMG_BUDGET_ENTRIES_TOTAL, 1);
      img_ctx_set_budget (c2, IMG_BUDGET_INFLATE, 64 << 20);
      tap_ok (img_initrd_parse (c2, "e.img", out, out_len, 0, &t) == -E2BIG
              && strstr (img_ctx_error (c2), "walks past the run's budget of 1 (IMG_BUDGET_ENTRIES_TOTAL)"),
              "budget: members count against the run's entries");
      img_ctx_free (c2);
    }
    free (out);
    free (layer);
    free (zeros);
  }

  /* Members reached through 40 symlinks of 4000 bytes each: a lot of
   * path walking per member, fine for a few, bounded in all. */
  for (int n_files = 10; n_files <= 20000; n_files += 19990) {
    struct img_cpio *c;
    char target[4096], name[32];
    void *out;
    size_t out_len, k;
    int r;
    img_cpio_new (ctx, &c);
    img_cpio_add (c, "d", S_IFDIR | 0755, 0, 0, 0, 0, 0, NULL, 0);
    for (i = 0; i < 40; i++) {
      for (k = 0; k < 1990; k++)
        memcpy (target + 2 * k, "./", 2);
      snprintf (target + 2 * k, sizeof target - 2 * k, i < 39 ? "s%zu" : "d",
                i + 1);
      snprintf (name, sizeof name, "s%zu", i);
      img_cpio_add (c, name, S_IFLNK | 0777, 0, 0, 0, 0, 0, target,
                    strlen (target));
    }
    for (i = 0; i < (size_t) n_files; i++) {
      snprintf (name, sizeof name, "s0/f%zu", i);
      img_cpio_add (c, name, S_IFREG | 0644, 0, 0, 0, 0, 0, "f", 1);
    }
    out = finish (c, &out_len);
    img_ctx_clear_error (ctx);
    r = img_initrd_parse (ctx, "t.img", out, out_len, 0, &t);
    if (n_files == 10)
      tap_ok (r == 0 && data_is (img_initrd_lookup (t, "d/f7"), "f")
              && data_is (img_initrd_lookup (t, "s0/f9"), "f"),
              "a chain of 40 long symlinks resolves (the kernel's limit)");
    else
      tap_ok (r == -E2BIG && strstr (img_ctx_error (ctx), "too costly"),
              "crafted symlink chains: path resolution is bounded");
    if (r == 0)
      img_initrd_free (t);
    free (out);
  }

  /* Many tiny archives: the segment count is bounded. */
  b.len = 0;
  for (i = 0; i < IMG_INITRD_MAX_SEGMENTS + 1; i++)
    trailer (&b);
  refused (&b, -EFBIG, "more than 4096 segments", "segment count bounded");

  /* More members than allowed. */
  b.len = 0;
  raw (&b, "070701", 1, S_IFDIR | 0755, 2, 0, "d", NULL, 0, 0);
  for (i = 0; i < IMG_BUDGET_MEMBERS_DEFAULT; i++) {
    char name[16];
    snprintf (name, sizeof name, "d/%07zx", i);
    raw (&b, "070701", (unsigned) (2 + i), S_IFREG | 0644, 1, 0, name, NULL, 0, 0);
  }
  trailer (&b);
  refused (&b, -EFBIG, "more than 262144 members (IMG_BUDGET_MEMBERS)", "member count bounded");
  free (b.p);
  free (z.p);
}

static void
test_two_archives_in_one_stream (void)
{
  struct buf b = { 0 }, z = { 0 };
  struct img_initrd *t;
  unsigned char *gz;
  size_t gz_len;

  raw (&b, "070701", 1, S_IFREG | 0644, 1, 0, "a", "1", 1, 0);
  trailer (&b);
  put_zeros (&b, 512);
  raw (&b, "070701", 2, S_IFREG | 0644, 1, 0, "a", "2", 1, 0);
  trailer (&b);
  img_internal_compress (ctx, "t", IMG_COMP_XZ, b.p, b.len, &gz, &gz_len);
  put (&z, gz, gz_len);
  put_zeros (&z, 4);
  free (gz);
  tap_ok (parse (z.p, z.len, 0, &t) == 0 && img_initrd_n_entries (t) == 2
          && img_initrd_n_segments (t) == 1
          && data_is (img_initrd_lookup (t, "a"), "2"),
          "two archives in one compressed stream, zero padding after it");
  img_initrd_free (t);
  free (b.p);
  free (z.p);
}

int
main (void)
{
  if (img_ctx_new (&ctx) < 0)
    return 1;
  test_roundtrip ();
  test_compressions ();
  test_large ();
  test_kernel_rules ();
  test_hard_links ();
  test_hostile ();
  test_two_archives_in_one_stream ();
  img_ctx_free (ctx);
  printf ("1..%d\n", tap_n);
  return tap_done ();
}
