/* Edit "tls": see tls.h.  Each directory is renamed to NAME.disabled
 * once, by its canonical path (on merged-/usr guests /lib/tls and
 * /usr/lib/tls are one directory). */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert/convert-private.h"
#include "convert/tls.h"

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_tls_opts *o = data;
  static const char *const dirs[] = { "/lib/tls", "/usr/lib/tls", "/lib64/tls",
                                      "/usr/lib64/tls", "/lib/i686/nosegneg", NULL };
  struct img_guest *g = img_plan_guest (plan);
  char *seen[8] = { 0 };
  size_t n_seen = 0, i, k;
  bool any = false;
  int r = 0;

  if (o->keep)
    return img_plan_note (plan, "/lib/tls kept (--keep-tls)");
  for (i = 0; dirs[i] && r == 0; i++) {
    char *canon = NULL, *aside = NULL;
    struct img_stat st;
    bool dup = false;

    if (!img_guest_exists (img_plan_guest (plan), dirs[i]) || img_guest_lstat (g, dirs[i], &st) < 0
        || !S_ISDIR (st.mode))
      continue;
    if (img_guest_realpath (g, dirs[i], true, &canon) < 0)
      continue;
    for (k = 0; k < n_seen; k++)
      dup |= strcmp (seen[k], canon) == 0;
    if (dup) {
      free (canon);
      continue;
    }
    seen[n_seen++] = canon;
    if (asprintf (&aside, "%s.disabled", canon) < 0) {
      r = img_conv_oom (plan);
      break;
    }
    r = img_guest_rename (img_plan_guest (plan), canon, aside);
    any = true;
    free (aside);
  }
  for (k = 0; k < n_seen; k++)
    free (seen[k]);
  if (r == 0 && !any && !img_guest_exists (img_plan_guest (plan), "/lib/tls.disabled")
      && !img_guest_exists (img_plan_guest (plan), "/usr/lib/tls.disabled"))
    r = img_plan_note (plan, "no /lib/tls (nor /usr/lib/tls, /lib64/tls): nothing to disable");
  return r;
}

const struct img_edit img_edit_tls = {
  "tls", "move /lib/tls aside", apply
};
