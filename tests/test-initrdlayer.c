/* convert/initrdlayer: a layer built from directories (parents once
 * each), files and a symlink, appended to an uncompressed and to a gzip
 * initrd, read back by the library's initrd parser: the original's
 * entries stay, the layer's follow in the last segment's compression. */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "libimg.h"
#include "convert/initrdlayer.h"
#include "tap.h"

static size_t
count_named (const struct img_initrd *ird, const char *name)
{
  size_t i, n = 0;

  for (i = 0; i < img_initrd_n_entries (ird); i++)
    n += strcmp (img_initrd_entry (ird, i)->name, name) == 0;
  return n;
}

static void
check (struct img_ctx *ctx, const char *comp)
{
  struct img_cpio *base;
  struct img_initrd_layer *l;
  struct img_initrd *orig_ird = NULL, *ird = NULL;
  void *orig = NULL, *out = NULL, *seg = NULL;
  size_t orig_len = 0, out_len = 0, seg_len = 0, n;
  const char *used = NULL;
  const struct img_cpio_entry *e;
  char name[128];

  /* The "original" initrd: one file, in COMP. */
  img_cpio_new (ctx, &base);
  img_cpio_add (base, "init", S_IFREG | 0755, 0, 0, 1, 0, 0, "#!/bin/sh\n", 10);
  img_cpio_finish (base, &seg, &seg_len);
  img_cpio_free (base);
  img_initrd_append (ctx, "", 0, seg, seg_len, comp, &orig, &orig_len);
  free (seg);
  img_initrd_parse (ctx, "orig", orig, orig_len, 0, &orig_ird);

  tap_is_int (img_initrd_layer_new (ctx, 1234, &l), 0, "layer_new");
  tap_ok (img_initrd_layer_empty (l), "a new layer is empty");
  tap_is_int (img_initrd_layer_dir (l, "usr/lib/modules/6.1"), 0, "dir with parents");
  tap_is_int (img_initrd_layer_dir (l, "usr/lib/modules/6.1/kernel"), 0, "a deeper dir");
  tap_is_int (img_initrd_layer_file (l, "usr/lib/modules/6.1/kernel/x.ko", 0644, "KO", 2), 0, "file");
  tap_is_int (img_initrd_layer_symlink (l, "lib", "usr/lib"), 0, "symlink");
  tap_is_int (img_initrd_layer_file (l, "init", 0700, "#!/bin/sh\nexit 0\n", 17), 0, "a file overriding the original's");
  tap_ok (!img_initrd_layer_empty (l), "... the layer is not empty");
  tap_is_int (img_initrd_layer_append (l, orig_ird, orig, orig_len, &out, &out_len, &used), 0, "append");
  tap_is_str (used, comp, "the layer takes the last segment's compression");
  tap_ok (out_len > orig_len && memcmp (out, orig, orig_len) == 0, "the original is the start, untouched");
  tap_is_int (img_initrd_parse (ctx, "out", out, out_len, 0, &ird), 0, "the result parses");
  n = ird ? img_initrd_n_segments (ird) : 0;
  snprintf (name, sizeof name, "%s: two segments, the second %s", comp, comp);
  tap_ok (n == 2 && strcmp (img_initrd_segment (ird, 1)->compression, comp) == 0, name);
  tap_is_int (ird ? count_named (ird, "usr") + count_named (ird, "usr/lib") + count_named (ird, "usr/lib/modules") : 0, 3,
              "each parent directory once");
  e = ird ? img_initrd_lookup (ird, "usr/lib/modules/6.1/kernel/x.ko") : NULL;
  tap_ok (e && S_ISREG (e->mode) && (e->mode & 0777) == 0644 && e->size == 2 && e->mtime == 1234
          && e->uid == 0 && memcmp (e->data, "KO", 2) == 0, "the file: mode, mtime, owner, bytes");
  e = ird ? img_initrd_lookup (ird, "lib") : NULL;
  tap_ok (e && S_ISLNK (e->mode) && e->size == 7 && memcmp (e->data, "usr/lib", 7) == 0, "the symlink");
  e = ird ? img_initrd_lookup (ird, "init") : NULL;
  tap_ok (e && e->size == 17, "the later init overrides the original's");
  img_initrd_layer_free (l);
  img_initrd_free (ird);
  img_initrd_free (orig_ird);
  free (orig);
  free (out);
}

int
main (void)
{
  struct img_ctx *ctx;

  if (img_ctx_new (&ctx) < 0)
    return 99;
  tap_plan (2 * 17);
  check (ctx, "none");
  check (ctx, "gzip");
  img_ctx_free (ctx);
  return tap_done ();
}
