/* Boot-entry writers, second half: where a block goes in a configuration
 * that holds other entries, how the default comes to name it, and the
 * edits of guest files through a plan (see bootentry.h). */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "private.h"
#include "cleanup.h"
#include "convert/bootentry.h"

/* Text being built: an open_memstream that turns every failure into
 * -ENOMEM at the end. */
struct text {
  FILE *f;
  char *s;
  size_t len;
};

static int
text_open (struct text *t)
{
  t->s = NULL;
  t->len = 0;
  t->f = open_memstream (&t->s, &t->len);
  return t->f ? 0 : -ENOMEM;
}

/* Ends T: *OUT its text (NUL-terminated), *CHANGED whether it differs from
 * ORIG (LEN bytes). */
static int
text_close (struct text *t, const char *orig, size_t len, char **out, bool *changed)
{
  int bad = ferror (t->f);

  if (fclose (t->f) != 0 || bad || t->s == NULL) {
    free (t->s);
    return -ENOMEM;
  }
  *out = t->s;
  if (changed)
    *changed = t->len != len || memcmp (t->s, orig, len) != 0;
  return 0;
}

static const char *
skip_ws (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static size_t
line_len (const char *p)
{
  const char *nl = strchr (p, '\n');
  return nl ? (size_t) (nl - p + 1) : strlen (p);
}

/* Whether the line at P is the fence "### WHICH MARKER ###" (after blanks,
 * and a "# " for the languages whose comments start with '#' alone). */
static bool
is_fence (const char *p, const char *which, const char *marker)
{
  size_t wl = strlen (which), ml = strlen (marker);

  p = skip_ws (p);
  if (strncmp (p, "# ###", 5) == 0)
    p += 2;
  return strncmp (p, "### ", 4) == 0 && strncmp (p + 4, which, wl) == 0 && p[4 + wl] == ' '
    && strncmp (p + 5 + wl, marker, ml) == 0 && strncmp (p + 5 + wl + ml, " ###", 4) == 0;
}

bool
img_bootentry_in_block (const char *text, const char *line, const char *marker)
{
  const char *p;
  bool inside = false;

  for (p = text; *p && p <= line; p += line_len (p)) {
    if (is_fence (p, "BEGIN", marker))
      inside = true;
    if (p == line)
      return inside;
    if (is_fence (p, "END", marker))
      inside = false;
  }
  return false;
}

/* Whether the line at P opens an entry of KIND (GRUB 2: also a submenu
 * or blscfg, which list entries). */
static bool
is_entry (enum img_boot_kind kind, const char *p)
{
  const char *q = skip_ws (p);

  if (kind == IMG_BOOT_GRUB2)
    return strncmp (q, "menuentry ", 10) == 0 || strncmp (q, "submenu ", 8) == 0
      || strncmp (q, "blscfg", 6) == 0;
  if (kind == IMG_BOOT_GRUB_LEGACY)
    return strncmp (q, "title", 5) == 0 && (q[5] == ' ' || q[5] == '\t' || q[5] == '=');
  return strncasecmp (q, "label", 5) == 0 && (q[5] == ' ' || q[5] == '\t');
}

/* Where IMG_BOOTENTRY_FIRST puts the block: before the section that
 * lists the entries, or the first entry outside our block; NULL: at the
 * end. */
static const char *
first_place (enum img_boot_kind kind, const char *text, const char *marker)
{
  const char *p, *first = NULL, *section = NULL;

  for (p = text; *p; p += line_len (p)) {
    const char *q = skip_ws (p);
    if (first == NULL && is_entry (kind, p) && !img_bootentry_in_block (text, p, marker))
      first = p;
    if (section == NULL && kind == IMG_BOOT_GRUB2
        && strncmp (q, "### BEGIN /etc/grub.d/10_linux ###", 34) == 0)
      section = p;
    if (section == NULL && kind == IMG_BOOT_GRUB_LEGACY
        && strncmp (q, "### BEGIN AUTOMAGIC KERNELS LIST", 32) == 0)
      section = p;
  }
  if (section && first && section > first)
    section = NULL;
  return section ? section : first;
}

/* The first line of our block, or NULL. */
static const char *
block_at (const char *text, const char *marker)
{
  const char *p;

  for (p = text; *p; p += line_len (p))
    if (is_fence (p, "BEGIN", marker))
      return p;
  return NULL;
}

int
img_bootentry_place (enum img_boot_kind kind, const char *text, size_t len,
                     const char *marker, const char *block,
                     enum img_bootentry_place where, char **out, bool *changed)
{
  CLEANUP_FREE char *s = strndup (text ? text : "", text ? len : 0);
  const char *p, *at, *ours, *put = NULL;
  struct text t;
  bool inside = false, keep = false, done = false;

  *out = NULL;
  if (s == NULL || text_open (&t) < 0)
    return -ENOMEM;
  ours = block_at (s, marker);
  at = where == IMG_BOOTENTRY_FIRST ? first_place (kind, s, marker) : NULL;
  if (where == IMG_BOOTENTRY_FIRST)
    /* An identical block before the first entry stays. */
    keep = ours && (at == NULL || ours < at) && strncmp (ours, block, strlen (block)) == 0;
  else if (where == IMG_BOOTENTRY_REPLACE && ours) {
    const char *e;
    for (e = ours; *e && !is_fence (e, "END", marker); e += line_len (e))
      ;
    if (*e)
      put = ours;               /* a complete block: replaced where it is */
  }
  for (p = s; *p; p += line_len (p)) {
    size_t l = line_len (p);
    if (!keep && !done && (p == at || p == put)) {
      fputs (block, t.f);
      done = true;
    }
    if (is_fence (p, "BEGIN", marker))
      inside = true;
    if (!inside || keep)
      fwrite (p, 1, l, t.f);
    if (inside && is_fence (p, "END", marker))
      inside = false;
  }
  if (!keep && !done && where != IMG_BOOTENTRY_REMOVE) {
    if (*s && s[strlen (s) - 1] != '\n')
      fputc ('\n', t.f);
    fputs (block, t.f);
  }
  return text_close (&t, text ? text : "", text ? len : 0, out, changed);
}

int
img_bootentry_grub2_default (const char *text, size_t len, const char *id,
                             char **out, bool *changed)
{
  CLEANUP_FREE char *s = strndup (text, len);
  const char *p;
  struct text t;

  *out = NULL;
  if (s == NULL || text_open (&t) < 0)
    return -ENOMEM;
  for (p = s; *p; p += line_len (p)) {
    size_t l = line_len (p);
    const char *q = skip_ws (p);
    if (strncmp (q, "set default=", 12) == 0 && (q == p || strncmp (p, "   set", 6) == 0)
        && !memmem (p, l, "${next_entry}", 13))
      fprintf (t.f, "%.*sset default=\"%s\"\n", (int) (q - p), p, id);
    else
      fwrite (p, 1, l, t.f);
  }
  return text_close (&t, text, len, out, changed);
}

static bool
is_legacy_default (const char *p)
{
  const char *q = skip_ws (p);
  return strncmp (q, "default", 7) == 0 && (q[7] == '=' || q[7] == ' ' || q[7] == '\t');
}

int
img_bootentry_legacy_default (const char *text, size_t len, const char *marker,
                              char **out, bool *changed)
{
  CLEANUP_FREE char *s = strndup (text, len);
  const char *p;
  size_t n = 0;
  bool have = false;
  struct text t;

  *out = NULL;
  if (s == NULL || text_open (&t) < 0)
    return -ENOMEM;
  /* Our entry is the last title: its index is the number of the others. */
  for (p = s; *p; p += line_len (p)) {
    if (img_bootentry_in_block (s, p, marker))
      continue;
    n += is_entry (IMG_BOOT_GRUB_LEGACY, p);
    have |= is_legacy_default (p);
  }
  if (!have)
    fprintf (t.f, "default=%zu\n", n);
  for (p = s; *p; p += line_len (p))
    if (is_legacy_default (p) && !img_bootentry_in_block (s, p, marker))
      fprintf (t.f, "default=%zu\n", n);
    else
      fwrite (p, 1, line_len (p), t.f);
  return text_close (&t, text, len, out, changed);
}

int
img_bootentry_default_grub (const char *text, size_t len, const char *id,
                            char **out, bool *changed)
{
  CLEANUP_FREE char *s = strndup (text, len);
  const char *p;
  bool found = false;
  struct text t;

  *out = NULL;
  if (s == NULL || text_open (&t) < 0)
    return -ENOMEM;
  for (p = s; *p; p += line_len (p))
    if (strncmp (p, "GRUB_DEFAULT=", 13) == 0) {
      fprintf (t.f, "GRUB_DEFAULT=%s\n", id);
      found = true;
    } else
      fwrite (p, 1, line_len (p), t.f);
  if (!found) {
    if (*s && s[strlen (s) - 1] != '\n')
      fputc ('\n', t.f);
    fprintf (t.f, "GRUB_DEFAULT=%s\n", id);
  }
  return text_close (&t, text, len, out, changed);
}

int
img_bootentry_grubenv_set (struct img_ctx *ctx, const char *where, const char *old,
                           size_t len, const char *key, const char *value,
                           char **out, size_t *out_len)
{
  size_t klen = strlen (key);
  const char *p;
  struct text t;
  int r;

  *out = NULL;
  if (text_open (&t) < 0)
    return img_err (ctx, -ENOMEM, "%s: out of memory", where);
  fputs ("# GRUB Environment Block\n", t.f);
  for (p = old; p && p < old + len;) {
    const char *nl = memchr (p, '\n', (size_t) (old + len - p));
    size_t l = nl ? (size_t) (nl - p) : (size_t) (old + len - p);
    if (l && *p != '#' && !(l > klen && strncmp (p, key, klen) == 0 && p[klen] == '=')) {
      fwrite (p, 1, l, t.f);
      fputc ('\n', t.f);
    }
    p += l + (nl != NULL);
  }
  fprintf (t.f, "%s=%s\n", key, value);
  if ((r = text_close (&t, "", 0, out, NULL)) < 0)
    return img_err (ctx, r, "%s: out of memory", where);
  if (t.len > 1024) {
    free (*out);
    *out = NULL;
    return img_err (ctx, -EFBIG, "%s: the GRUB environment block is full", where);
  }
  {
    char *n = realloc (*out, 1025);
    if (n == NULL) {
      free (*out);
      *out = NULL;
      return img_err (ctx, -ENOMEM, "%s: out of memory", where);
    }
    memset (n + t.len, '#', 1024 - t.len);
    n[1024] = '\0';
    *out = n;
  }
  *out_len = 1024;
  return 0;
}

int
img_bootentry_edit_file (struct img_plan *plan, const char *path, enum img_boot_kind kind,
                         const char *marker, const char *block,
                         enum img_bootentry_place where, const char *default_id,
                         const char *create_head, uint32_t mode)
{
  CLEANUP_FREE char *real = NULL;
  CLEANUP_FREE char *text = NULL;
  CLEANUP_FREE char *placed = NULL;
  CLEANUP_FREE char *out = NULL;
  size_t len = 0;
  bool changed;
  int r;

  /* menu.lst is often a link to grub.conf: the file itself is edited. */
  if (img_guest_realpath (img_plan_guest (plan), path, true, &real) < 0 || real == NULL) {
    free (real);
    if ((real = strdup (path)) == NULL)
      return -ENOMEM;
  }
  if (img_guest_exists (img_plan_guest (plan), real)) {
    if ((r = img_guest_read_file (img_plan_guest (plan), real, 16u << 20, (void **) &text, &len)) < 0)
      return r;
  } else if (create_head) {
    if ((text = strdup (create_head)) == NULL)
      return -ENOMEM;
    len = strlen (text);
  } else
    return 0;
  if ((r = img_bootentry_place (kind, text, len, marker, block, where, &placed, &changed)) < 0)
    return r;
  if (default_id && kind == IMG_BOOT_GRUB2)
    r = img_bootentry_grub2_default (placed, strlen (placed), default_id, &out, NULL);
  else if (default_id && kind == IMG_BOOT_GRUB_LEGACY)
    r = img_bootentry_legacy_default (placed, strlen (placed), marker, &out, NULL);
  else
    out = strdup (placed), r = out ? 0 : -ENOMEM;
  if (r < 0)
    return r;
  if (strlen (out) == len && memcmp (out, text, len) == 0 && img_guest_exists (img_plan_guest (plan), real))
    return 0;
  return img_guest_write_file (img_plan_guest (plan), real, out, strlen (out), mode);
}
