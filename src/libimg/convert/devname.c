/* HVM device names and what they become under Xen PV: see devnames.h. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "convert/devnames.h"

/* "/dev/sda2" -> disk 0, partition 2 (0: the whole disk); false if NAME is
 * not an sd/hd/vd name.  *letters_at: where the drive letters start. */
static bool
parse_hvm_name (const char *name, size_t len, size_t *disk, unsigned *part,
                size_t *letters_at)
{
  size_t i = 7, d = 0, start;
  unsigned long p = 0;

  if (len < 9 || strncmp (name, "/dev/", 5) != 0
      || !(strncmp (name + 5, "sd", 2) == 0 || strncmp (name + 5, "hd", 2) == 0
           || strncmp (name + 5, "vd", 2) == 0))
    return false;
  start = i;
  while (i < len && name[i] >= 'a' && name[i] <= 'z' && i - start < 3) {
    d = d * 26 + (size_t) (name[i] - 'a' + 1);
    i++;
  }
  if (i == start)
    return false;
  while (i < len && isdigit ((unsigned char) name[i]) && p < 1000)
    p = p * 10 + (unsigned long) (name[i++] - '0');
  if (i != len || p >= 1000)
    return false;
  *disk = d - 1;
  *part = (unsigned) p;
  *letters_at = start;
  return true;
}

int
img_devname_rewrite (struct img_guest *g, bool xvd, const char *name, size_t len,
                     char **out, const char **why)
{
  size_t disk, at, i;
  unsigned part;

  *out = NULL;
  *why = NULL;
  if (!parse_hvm_name (name, len, &disk, &part, &at))
    return 0;
  if (xvd)
    return asprintf (out, "/dev/xvd%.*s", (int) (len - at), name + at) < 0
           ? (*out = NULL, -ENOMEM) : 0;
  if (disk >= img_guest_n_disks (g)) {
    *why = "no such disk among the images given";
    return 0;
  }
  for (i = 0; i < img_guest_n_volumes (g); i++) {
    const struct img_fsinfo *info;
    const struct img_part *p;
    size_t image;
    img_guest_volume (g, i, &info, &p, &image);
    if (image != disk || p == NULL || p->number != part)
      continue;
    if (info == NULL || info->uuid[0] == '\0') {
      *why = "that partition has no filesystem UUID";
      return 0;
    }
    return asprintf (out, "UUID=%s", info->uuid) < 0 ? (*out = NULL, -ENOMEM) : 0;
  }
  *why = part ? "no such partition" : "a whole-disk name";
  return 0;
}

int
img_cmdline_rewrite (struct img_guest *g, bool xvd, const char *console, const char *args,
                     char **out, bool *changed)
{
  struct img_sb b = { 0 };
  const char *p = args;

  *out = NULL;
  *changed = false;
  while (*p) {
    const char *w = p, *eq, *why;
    size_t wl;
    char *nv = NULL;

    while (*p && *p != ' ' && *p != '\t')
      p++;
    wl = (size_t) (p - w);
    eq = memchr (w, '=', wl);
    if (console && wl >= 8 && strncmp (w, "console=", 8) == 0) {
      *changed = true;
    } else {
      if (eq && ((eq - w == 4 && strncmp (w, "root", 4) == 0)
                 || (eq - w == 6 && strncmp (w, "resume", 6) == 0))
          && img_devname_rewrite (g, xvd, eq + 1, wl - (size_t) (eq + 1 - w), &nv, &why) < 0)
        b.oom = true;
      if (b.len && b.s[b.len - 1] != ' ')
        img_sb_add (&b, " ", 1);
      if (nv) {
        img_sb_add (&b, w, (size_t) (eq + 1 - w));
        img_sb_adds (&b, nv);
        *changed = true;
        free (nv);
      } else
        img_sb_add (&b, w, wl);
    }
    while (*p == ' ' || *p == '\t')
      p++;
  }
  if (console) {
    if (b.len && b.s[b.len - 1] != ' ')
      img_sb_add (&b, " ", 1);
    img_sb_addf (&b, "console=%s", console);
    *changed = true;
  }
  if (b.oom) {
    img_sb_free (&b);
    return -ENOMEM;
  }
  *out = b.s ? b.s : strdup ("");
  return *out ? 0 : -ENOMEM;
}
