/* Guest text files for the conversions: read and written through the
 * plan, lines added once, shell-style assignments set.  See
 * convert-private.h. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert-private.h"
#include "img-quote.h"

struct img_ctx *
img_conv_ctx (struct img_plan *plan)
{
  return img_guest_ctx (img_plan_guest (plan));
}

int
img_conv_oom (struct img_plan *plan)
{
  return img_err (img_conv_ctx (plan), -ENOMEM, "out of memory");
}

int
img_conv_read_text (struct img_plan *plan, const char *path, char **buf, size_t *len)
{
  int r;

  *buf = NULL;
  *len = 0;
  if (!img_guest_exists (img_plan_guest (plan), path))
    return 0;
  r = img_guest_read_file (img_plan_guest (plan), path, IMG_CONV_MAX_TEXT, (void **) buf, len);
  return r < 0 ? r : 0;
}

char *
img_conv_guest_text (struct img_plan *plan, const char *path, size_t *len)
{
  char *buf = NULL;
  size_t l = 0;

  if (img_guest_exists (img_plan_guest (plan), path)
      && img_guest_read_file (img_plan_guest (plan), path, IMG_CONV_MAX_LIST, (void **) &buf, &l) == 0) {
    if (len)
      *len = l;
    return buf;
  }
  if (len)
    *len = 0;
  return NULL;
}

int
img_conv_unreadable (struct img_plan *plan, const char *image, const char *path)
{
  size_t l;
  char *buf = NULL;
  int r = img_guest_read_file (img_plan_guest (plan), path, IMG_CONV_MAX_LIST, (void **) &buf, &l);

  free (buf);
  if (r == 0)
    r = img_err (img_conv_ctx (plan), -EIO, "%s: %s: cannot be read", image, path);
  return r;
}

int
img_conv_write_text (struct img_plan *plan, const char *path, const struct img_sb *b,
                     uint32_t mode)
{
  char *dir, *slash;
  int r = 0;

  if (b->oom || (dir = strdup (path)) == NULL)
    return img_conv_oom (plan);
  /* A new file in a directory the guest does not have yet. */
  slash = strrchr (dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    if (!img_guest_exists (img_plan_guest (plan), dir))
      r = img_guest_mkdir_p (img_plan_guest (plan), dir, 0755);
  }
  free (dir);
  if (r < 0)
    return r;
  return img_guest_write_file (img_plan_guest (plan), path, b->s ? b->s : "", b->len, mode);
}

int
img_conv_ensure_lines (struct img_plan *plan, const char *path, const char *const *add,
                       size_t n, const char *header, uint32_t mode)
{
  char *text;
  size_t len, i;
  struct img_sb b = { 0 };
  bool changed = false;
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0)
    return r;
  if (text)
    img_sb_add (&b, text, len);
  if (img_sb_open_line (&b))
    img_sb_add (&b, "\n", 1);
  for (i = 0; i < n; i++) {
    bool have = text && img_textconf_has_line (text, strlen (text), add[i]);
    if (!have) {
      if (!changed && header)
        img_sb_adds (&b, header);
      img_sb_addf (&b, "%s\n", add[i]);
      changed = true;
    }
  }
  r = changed ? img_conv_write_text (plan, path, &b, mode) : 0;
  img_sb_free (&b);
  free (text);
  return r;
}

char *
img_conv_shell_value (const char *text, const char *key, const char **line_start,
                      const char **line_end)
{
  size_t ls, le;
  char *v = NULL;

  if (text == NULL || img_textconf_get (text, strlen (text), key, &v, &ls, &le) < 0)
    return NULL;
  if (line_start)
    *line_start = text + ls;
  if (line_end)
    *line_end = text + le;
  return v;
}

int
img_conv_set_shell_value (struct img_plan *plan, const char *path, const char *key,
                          const char *value)
{
  char *text, *old, *q = NULL;
  size_t len;
  const char *ls, *le;
  struct img_sb b = { 0 };
  int r;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0 || text == NULL)
    return r;
  old = img_conv_shell_value (text, key, &ls, &le);
  if (old && strcmp (old, value) == 0) {
    free (old);
    free (text);
    return 0;
  }
  if (img_quote_sh (value, &q, NULL) < 0) {
    free (old);
    free (text);
    return img_conv_oom (plan);
  }
  if (old) {
    img_sb_add (&b, text, (size_t) (ls - text));
    img_sb_addf (&b, "%s=%s", key, q);
    img_sb_adds (&b, le);
  } else {
    img_sb_add (&b, text, len);
    if (img_sb_open_line (&b))
      img_sb_add (&b, "\n", 1);
    img_sb_addf (&b, "%s=%s\n", key, q);
  }
  free (q);
  r = img_conv_write_text (plan, path, &b, 0644);
  img_sb_free (&b);
  free (old);
  free (text);
  return r;
}
