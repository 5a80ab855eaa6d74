/* Boot-entry writers: one entry description, written for GRUB 2, GRUB
 * legacy, BLS and extlinux, every value through its language's quoting
 * (see bootentry.h; placing blocks and defaults: bootentry-place.c). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "img-quote.h"
#include "convert/bootentry.h"

typedef int (*quote_fn) (const char *, char **, const char **);

/* VALUE through QUOTE into *OUT; a refusal is one line "WHERE: boot-entry:
 * WHAT VALUE: reason". */
static int
quote_one (struct img_ctx *ctx, const char *where, quote_fn quote, const char *what,
           const char *value, char **out)
{
  const char *why = NULL;
  int r = quote (value, out, &why);

  if (r == -EINVAL) {
    char *t = img_quote_term (value, 0);
    r = img_err (ctx, r, "%s: boot-entry: %s %s: %s", where, what, t ? t : "", why);
    free (t);
  } else if (r < 0)
    r = img_err (ctx, r, "%s: boot-entry: out of memory", where);
  return r;
}

/* The command line, split and joined again with the kernel's rules. */
static int
quote_args (struct img_ctx *ctx, const char *where, const char *args, char **out)
{
  char *bad = NULL;
  const char *why = NULL;
  int r = img_quote_cmdline_line (args ? args : "", out, &bad, &why);

  if (r == -EINVAL) {
    char *t = img_quote_term (bad ? bad : "", 0);
    r = img_err (ctx, r, "%s: boot-entry: kernel argument %s: %s", where, t ? t : "", why);
    free (t);
  } else if (r < 0)
    r = img_err (ctx, r, "%s: boot-entry: out of memory", where);
  free (bad);
  return r;
}

static int
check_plain (struct img_ctx *ctx, const char *where, const char *what, const char *v,
             const char *allowed)
{
  const char *p;

  for (p = v; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || strchr (allowed, *p))) {
      char *t = img_quote_term (v, 0);
      int r = img_err (ctx, -EINVAL, "%s: boot-entry: %s %s: only A-Z a-z 0-9 %s", where, what,
                       t ? t : "", allowed);
      free (t);
      return r;
    }
  return *v ? 0 : img_err (ctx, -EINVAL, "%s: boot-entry: an empty %s", where, what);
}

/* The values of one entry, quoted for one language. */
struct quoted {
  char *title, *kernel, *root, *echo, *version, *comment, *args;
  char **initrds;
  size_t n_initrds;
};

static void
quoted_free (struct quoted *q)
{
  size_t i;

  free (q->title);
  free (q->kernel);
  free (q->root);
  free (q->echo);
  free (q->version);
  free (q->comment);
  free (q->args);
  for (i = 0; i < q->n_initrds; i++)
    free (q->initrds[i]);
  free (q->initrds);
}

/* Quotes what KIND writes of E: TITLE_FN for the title, PATH_FN for paths,
 * WORD_FN for the other values. */
static int
quote_entry (struct img_ctx *ctx, const char *where, enum img_boot_kind kind,
             const struct img_bootentry *e, struct quoted *q)
{
  quote_fn title_fn, path_fn, word_fn;
  size_t i;
  int r;

  *q = (struct quoted) { 0 };
  switch (kind) {
  case IMG_BOOT_GRUB2:
    title_fn = img_quote_grub2_title, path_fn = img_quote_grub2_path, word_fn = img_quote_grub2;
    break;
  case IMG_BOOT_GRUB_LEGACY:
    title_fn = path_fn = word_fn = img_quote_grub_legacy;
    break;
  case IMG_BOOT_BLS:
    title_fn = path_fn = word_fn = img_quote_bls;
    break;
  case IMG_BOOT_EXTLINUX:
    title_fn = path_fn = word_fn = img_quote_extlinux;
    break;
  default:
    return img_err (ctx, -EINVAL, "%s: boot-entry: unknown boot loader %d", where, (int) kind);
  }
  if ((r = check_plain (ctx, where, "id", e->id ? e->id : "", "._-")) < 0
      || (r = check_plain (ctx, where, "marker", e->marker ? e->marker : "", " ._-")) < 0
      || (r = quote_args (ctx, where, e->args, &q->args)) < 0
      || (r = quote_one (ctx, where, title_fn, "title", e->title ? e->title : "", &q->title)) < 0
      || (r = quote_one (ctx, where, path_fn, "kernel", e->kernel ? e->kernel : "", &q->kernel)) < 0)
    return r;
  if (e->n_initrds && (q->initrds = calloc (e->n_initrds, sizeof *q->initrds)) == NULL)
    return img_err (ctx, -ENOMEM, "%s: boot-entry: out of memory", where);
  for (i = 0; i < e->n_initrds; i++, q->n_initrds++)
    if ((r = quote_one (ctx, where, path_fn, "initrd", e->initrds[i], &q->initrds[i])) < 0)
      return r;
  if (kind == IMG_BOOT_GRUB2 && e->root_uuid
      && (r = quote_one (ctx, where, word_fn, "filesystem UUID", e->root_uuid, &q->root)) < 0)
    return r;
  if (kind == IMG_BOOT_GRUB_LEGACY && e->legacy_root
      && (r = quote_one (ctx, where, word_fn, "root", e->legacy_root, &q->root)) < 0)
    return r;
  if (kind == IMG_BOOT_GRUB2 && e->echo
      && (r = quote_one (ctx, where, word_fn, "message", e->echo, &q->echo)) < 0)
    return r;
  if (kind == IMG_BOOT_BLS && e->version
      && (r = quote_one (ctx, where, word_fn, "version", e->version, &q->version)) < 0)
    return r;
  if (kind == IMG_BOOT_BLS && e->comment
      && (r = quote_one (ctx, where, word_fn, "comment", e->comment, &q->comment)) < 0)
    return r;
  if (kind == IMG_BOOT_GRUB2 && e->grub2_fs_module
      && (r = check_plain (ctx, where, "filesystem module", e->grub2_fs_module, "_")) < 0)
    return r;
  if (kind != IMG_BOOT_GRUB2) {
    /* Paths there are words of a line split at blanks (and extlinux's
     * initrd list at commas). */
    bool bad = strpbrk (q->kernel, " \t") || (q->root && strpbrk (q->root, " \t"));
    for (i = 0; i < q->n_initrds; i++)
      bad |= strpbrk (q->initrds[i], kind == IMG_BOOT_EXTLINUX ? " \t," : " \t") != NULL;
    if (bad)
      return img_err (ctx, -EINVAL, "%s: boot-entry: a kernel, initrd or root with a blank, "
                      "which a %s entry cannot carry", where,
                      kind == IMG_BOOT_GRUB_LEGACY ? "GRUB legacy" : kind == IMG_BOOT_BLS ? "BLS" : "extlinux");
  }
  if (kind == IMG_BOOT_GRUB_LEGACY && q->n_initrds > 1)
    return img_err (ctx, -EINVAL, "%s: boot-entry: GRUB legacy loads one initrd, not %zu", where,
                    q->n_initrds);
  return 0;
}

static void
put_grub2 (FILE *f, const struct img_bootentry *e, const struct quoted *q)
{
  size_t i;

  fprintf (f, "### BEGIN %s ###\n", e->marker);
  fprintf (f, "menuentry %s --class gnu-linux --class os $menuentry_id_option '%s' {\n",
           q->title, e->id);
  fprintf (f, "\tinsmod %s\n", e->grub2_fs_module ? e->grub2_fs_module : "ext2");
  if (q->root)
    fprintf (f, "\tsearch --no-floppy --fs-uuid --set=root %s\n", q->root);
  if (q->echo)
    fprintf (f, "\techo\t%s\n", q->echo);
  fprintf (f, "\tlinux\t%s%s%s\n", q->kernel, *q->args ? " " : "", q->args);
  if (q->n_initrds) {
    fputs ("\tinitrd\t", f);
    for (i = 0; i < q->n_initrds; i++)
      fprintf (f, "%s%s", i ? " " : "", q->initrds[i]);
    fputs ("\n", f);
  }
  fprintf (f, "}\n### END %s ###\n", e->marker);
}

static void
put_legacy (FILE *f, const struct img_bootentry *e, const struct quoted *q)
{
  fprintf (f, "# ### BEGIN %s ###\ntitle %s\n", e->marker, q->title);
  if (q->root)
    fprintf (f, "\troot %s\n", q->root);
  fprintf (f, "\tkernel %s%s%s\n", q->kernel, *q->args ? " " : "", q->args);
  if (q->n_initrds)
    fprintf (f, "\tinitrd %s\n", q->initrds[0]);
  fprintf (f, "# ### END %s ###\n", e->marker);
}

static void
put_bls (FILE *f, const struct quoted *q)
{
  size_t i;

  if (q->comment)
    fprintf (f, "# %s\n", q->comment);
  fprintf (f, "title %s\n", q->title);
  if (q->version)
    fprintf (f, "version %s\n", q->version);
  fprintf (f, "linux %s\n", q->kernel);
  for (i = 0; i < q->n_initrds; i++)
    fprintf (f, "initrd %s\n", q->initrds[i]);
  fprintf (f, "options %s\ngrub_class kernel\n", q->args);
}

static void
put_extlinux (FILE *f, const struct img_bootentry *e, const struct quoted *q)
{
  size_t i;

  fprintf (f, "# ### BEGIN %s ###\nLABEL %s\n\tMENU LABEL %s\n\tLINUX %s\n", e->marker, e->id,
           q->title, q->kernel);
  if (q->n_initrds) {
    fputs ("\tINITRD ", f);
    for (i = 0; i < q->n_initrds; i++)
      fprintf (f, "%s%s", i ? "," : "", q->initrds[i]);
    fputs ("\n", f);
  }
  fprintf (f, "\tAPPEND %s\n# ### END %s ###\n", q->args, e->marker);
}

int
img_bootentry_text (struct img_ctx *ctx, const char *where, enum img_boot_kind kind,
                    const struct img_bootentry *e, char **out)
{
  struct quoted q;
  char *buf = NULL;
  size_t len = 0;
  FILE *f;
  int r;

  *out = NULL;
  r = quote_entry (ctx, where, kind, e, &q);
  if (r < 0) {
    quoted_free (&q);
    return r;
  }
  f = open_memstream (&buf, &len);
  if (f == NULL) {
    quoted_free (&q);
    return img_err (ctx, -ENOMEM, "%s: boot-entry: out of memory", where);
  }
  switch (kind) {
  case IMG_BOOT_GRUB2: put_grub2 (f, e, &q); break;
  case IMG_BOOT_GRUB_LEGACY: put_legacy (f, e, &q); break;
  case IMG_BOOT_BLS: put_bls (f, &q); break;
  case IMG_BOOT_EXTLINUX: put_extlinux (f, e, &q); break;
  }
  quoted_free (&q);
  if (ferror (f) | fclose (f)) {
    free (buf);
    return img_err (ctx, -ENOMEM, "%s: boot-entry: out of memory", where);
  }
  *out = buf;
  return 0;
}
