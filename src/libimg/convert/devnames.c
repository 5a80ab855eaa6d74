/* Edit "device-names": see devnames.h.  fstab's first field, crypttab's
 * second, RESUME= in initramfs-tools' conf.d files. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "convert/convert-private.h"
#include "convert/devnames.h"

struct fields {
  struct img_plan *plan;
  bool xvd;
  unsigned field;               /* which whitespace-separated field (0-based) */
  const char *file;
  bool changed;
};

/* Appends LINE (LEN bytes, line number LINENO) to OUT with its field
 * rewritten. */
static int
rewrite_field_line (struct fields *fc, const char *line, size_t len, unsigned lineno,
                    struct img_sb *out)
{
  const char *p = line, *end = line + len, *w = NULL, *why;
  unsigned f = 0;
  char *nv;

  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p == end || *p == '#') {
    img_sb_add (out, line, len);
    return 0;
  }
  for (;;) {
    w = p;
    while (p < end && *p != ' ' && *p != '\t')
      p++;
    if (f == fc->field || p == end)
      break;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    f++;
  }
  if (f != fc->field || p == w) {
    img_sb_add (out, line, len);
    return 0;
  }
  if (img_devname_rewrite (img_plan_guest (fc->plan), fc->xvd, w, (size_t) (p - w), &nv, &why) < 0)
    return img_conv_oom (fc->plan);
  if (nv) {
    img_sb_add (out, line, (size_t) (w - line));
    img_sb_adds (out, nv);
    img_sb_add (out, p, (size_t) (end - p));
    fc->changed = true;
    free (nv);
    return 0;
  }
  if (why)
    img_plan_note (fc->plan, "%s line %u: %.*s left as is (%s)%s", fc->file, lineno,
                   (int) (p - w), w, why, fc->xvd ? "" : "; --xvd renames it to /dev/xvd*");
  img_sb_add (out, line, len);
  return 0;
}

static int
rewrite_fields (struct img_plan *plan, bool xvd, const char *path, unsigned field)
{
  struct fields fc = { plan, xvd, field, path, false };
  struct img_sb b = { 0 };
  const char *p, *end;
  unsigned lineno = 0;
  char *text;
  size_t len;
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0 || text == NULL)
    return r;
  for (p = text, end = text + len; p < end && r == 0;) {
    const char *nl = memchr (p, '\n', (size_t) (end - p));
    size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
    r = rewrite_field_line (&fc, p, l, ++lineno, &b);
    if (nl)
      img_sb_add (&b, "\n", 1);
    p += l + (nl ? 1 : 0);
  }
  if (r == 0 && fc.changed)
    r = img_conv_write_text (plan, path, &b, 0644);
  else if (r == 0 && b.oom)
    r = img_conv_oom (plan);
  img_sb_free (&b);
  free (text);
  return r;
}

/* RESUME=/dev/sda3 in initramfs-tools' conf.d files and the like. */
static int
rewrite_assignment (struct img_plan *plan, bool xvd, const char *path, const char *key)
{
  char *text, *v, *nv = NULL;
  size_t len;
  const char *ls, *le, *why;
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0 || text == NULL)
    return r;
  v = img_conv_shell_value (text, key, &ls, &le);
  if (v && img_devname_rewrite (img_plan_guest (plan), xvd, v, strlen (v), &nv, &why) < 0)
    r = img_conv_oom (plan);
  if (nv) {
    struct img_sb b = { 0 };
    img_sb_add (&b, text, (size_t) (ls - text));
    img_sb_addf (&b, "%s=%s", key, nv);
    img_sb_adds (&b, le);
    r = img_conv_write_text (plan, path, &b, 0644);
    img_sb_free (&b);
  }
  free (nv);
  free (v);
  free (text);
  return r;
}

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_devnames_opts *o = data;
  const char *confd = "/etc/initramfs-tools/conf.d";
  struct img_dirent *ents;
  size_t n, i;
  int r;

  r = rewrite_fields (plan, o->xvd, "/etc/fstab", 0);
  if (r == 0)
    r = rewrite_fields (plan, o->xvd, "/etc/crypttab", 1);
  if (r == 0)
    r = rewrite_assignment (plan, o->xvd, "/etc/initramfs-tools/conf.d/resume", "RESUME");
  if (r == 0 && img_guest_exists (img_plan_guest (plan), confd)
      && img_guest_readdir (img_plan_guest (plan), confd, &ents, &n) == 0) {
    for (i = 0; i < n && r == 0; i++) {
      char *p = NULL;
      if (strcmp (ents[i].name, "resume") == 0)
        continue;
      if (asprintf (&p, "%s/%s", confd, ents[i].name) < 0)
        r = img_conv_oom (plan);
      else
        r = rewrite_assignment (plan, o->xvd, p, "RESUME");
      free (p);
    }
    img_dirents_free (ents, n);
  }
  return r;
}

const struct img_edit img_edit_device_names = {
  "device-names", "device names that exist under Xen PV in fstab, crypttab, resume", apply
};
