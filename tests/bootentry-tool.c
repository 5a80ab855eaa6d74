/* Drives the boot-entry writers (convert/bootentry.h) for
 * tests/bootentry.sh:
 *   bootentry-tool write KIND TITLE KERNEL INITRD ARGS [ROOT]
 *       prints the entry (a block, or a BLS file); a refusal: its one
 *       line on stderr, exit 1.  ROOT: the GRUB 2 search UUID or the
 *       GRUB legacy root.
 *   bootentry-tool place KIND WHERE DEFAULT FILE BLOCKFILE
 *       prints FILE with the block put in (WHERE: first, last, replace),
 *       the default pointed at it when DEFAULT is an id ("-": not).
 *   bootentry-tool parse KIND FILE
 *       the library's own parser (text/bootcfg.c) on FILE: one entry a
 *       line, "id|title|kernel|initrd|args|root", and "default=N".
 * KIND: grub2, legacy, bls, extlinux. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg.h"
#include "convert/bootentry.h"

#define MARKER "test boot entry"

static enum img_boot_kind
kind_of (const char *s)
{
  if (strcmp (s, "grub2") == 0)
    return IMG_BOOT_GRUB2;
  if (strcmp (s, "legacy") == 0)
    return IMG_BOOT_GRUB_LEGACY;
  if (strcmp (s, "bls") == 0)
    return IMG_BOOT_BLS;
  if (strcmp (s, "extlinux") == 0)
    return IMG_BOOT_EXTLINUX;
  fprintf (stderr, "bootentry-tool: %s: grub2, legacy, bls or extlinux\n", s);
  exit (2);
}

static char *
slurp (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  char *buf = NULL;
  size_t n = 0;
  FILE *m = open_memstream (&buf, &n);
  int c;

  if (f == NULL || m == NULL) {
    perror (path);
    exit (2);
  }
  while ((c = getc (f)) != EOF)
    putc (c, m);
  fclose (f);
  fclose (m);
  *len = n;
  return buf;
}

static int
write_entry (struct img_ctx *ctx, char **argv, int argc)
{
  enum img_boot_kind kind = kind_of (argv[0]);
  const char *initrds[] = { argv[3] };
  struct img_bootentry e = {
    .id = "test-entry", .title = argv[1], .kernel = argv[2],
    .initrds = initrds, .n_initrds = *argv[3] ? 1 : 0, .args = argv[4], .marker = MARKER,
    .version = "6.1.0-test", .comment = "written by bootentry-tool",
  };
  char *out;

  if (argc > 5) {
    e.root_uuid = argv[5];
    e.legacy_root = argv[5];
  }
  if (img_bootentry_text (ctx, "test", kind, &e, &out) < 0) {
    fprintf (stderr, "%s\n", img_ctx_error (ctx));
    return 1;
  }
  fputs (out, stdout);
  free (out);
  return 0;
}

static int
place (char **argv)
{
  enum img_boot_kind kind = kind_of (argv[0]);
  enum img_bootentry_place where = strcmp (argv[1], "first") == 0 ? IMG_BOOTENTRY_FIRST
    : strcmp (argv[1], "last") == 0 ? IMG_BOOTENTRY_LAST
    : strcmp (argv[1], "remove") == 0 ? IMG_BOOTENTRY_REMOVE : IMG_BOOTENTRY_REPLACE;
  size_t len, blen;
  char *text = slurp (argv[3], &len), *block = slurp (argv[4], &blen), *out, *d = NULL;
  bool changed;
  int r = img_bootentry_place (kind, text, len, MARKER, block, where, &out, &changed);

  if (r == 0 && strcmp (argv[2], "-") != 0)
    r = kind == IMG_BOOT_GRUB2 ? img_bootentry_grub2_default (out, strlen (out), argv[2], &d, NULL)
      : img_bootentry_legacy_default (out, strlen (out), MARKER, &d, NULL);
  if (r == 0)
    fputs (d ? d : out, stdout);
  if (r == 0)
    fprintf (stderr, "%s\n", changed ? "changed" : "unchanged");
  free (text);
  free (block);
  free (out);
  free (d);
  return r < 0;
}

static int
parse (struct img_ctx *ctx, char **argv)
{
  size_t len, n, i;
  char *text = slurp (argv[1], &len);
  struct img_boot_entry *ents;
  int def = -1;

  if (img_bootcfg_parse (ctx, kind_of (argv[0]), text, len, &ents, &n, &def) < 0) {
    fprintf (stderr, "%s\n", img_ctx_error (ctx));
    free (text);
    return 1;
  }
  for (i = 0; i < n; i++)
    printf ("%s|%s|%s|%s|%s|%s\n", ents[i].id ? ents[i].id : "", ents[i].title ? ents[i].title : "",
            ents[i].kernel ? ents[i].kernel : "", ents[i].initrd ? ents[i].initrd : "",
            ents[i].args ? ents[i].args : "", ents[i].root ? ents[i].root : "");
  printf ("default=%d\n", def);
  img_boot_entries_free (ents, n);
  free (text);
  return 0;
}

int
main (int argc, char **argv)
{
  struct img_ctx *ctx;
  int r = 2;

  if (img_ctx_new (&ctx) < 0)
    return 2;
  if (argc >= 7 && strcmp (argv[1], "write") == 0)
    r = write_entry (ctx, argv + 2, argc - 2);
  else if (argc == 7 && strcmp (argv[1], "place") == 0)
    r = place (argv + 2);
  else if (argc == 4 && strcmp (argv[1], "parse") == 0)
    r = parse (ctx, argv + 2);
  else
    fprintf (stderr, "usage: bootentry-tool write|place|parse ...\n");
  img_ctx_free (ctx);
  return r;
}
