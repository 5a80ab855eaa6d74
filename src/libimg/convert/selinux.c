/* Edit "selinux-relabel": see selinux.h. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "convert/convert-private.h"
#include "convert/selinux.h"

static int
apply (struct img_plan *plan, void *data)
{
  char *text, *v;
  size_t len;
  int r;

  (void) data;
  if ((r = img_conv_read_text (plan, "/etc/selinux/config", &text, &len)) < 0 || text == NULL)
    return r;
  v = img_conv_shell_value (text, "SELINUX", NULL, NULL);
  free (text);
  if (v == NULL || strcmp (v, "disabled") == 0) {
    free (v);
    return 0;
  }
  free (v);
  if (img_plan_n_changed (plan) == 0 || img_guest_exists (img_plan_guest (plan), "/.autorelabel"))
    return 0;
  r = img_guest_write_file (img_plan_guest (plan), "/.autorelabel", "", 0, 0644);
  if (r == 0)
    r = img_plan_note (plan, "SELinux is on: files written here carry no labels, so the guest relabels at its next boot");
  return r;
}

const struct img_edit img_edit_selinux_relabel = {
  "selinux-relabel", "relabel SELinux guests at their next boot", apply
};
