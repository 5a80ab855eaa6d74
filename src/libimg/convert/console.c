/* Edit "console": see console.h.  The first init system found gets the
 * getty; one already there is left alone. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "convert/convert-private.h"
#include "convert/console.h"

/* systemd: serial-getty@CONSOLE enabled.  *done: systemd handled it. */
static int
systemd_getty (struct img_plan *plan, const char *c, bool *done)
{
  const char *unit = img_guest_exists (img_plan_guest (plan), "/lib/systemd/system/serial-getty@.service")
                     ? "/lib/systemd/system/serial-getty@.service"
                     : img_guest_exists (img_plan_guest (plan), "/usr/lib/systemd/system/serial-getty@.service")
                     ? "/usr/lib/systemd/system/serial-getty@.service" : NULL;
  char *link = NULL;
  int r;

  if (unit == NULL || !(img_guest_exists (img_plan_guest (plan), "/lib/systemd/systemd")
                        || img_guest_exists (img_plan_guest (plan), "/usr/lib/systemd/systemd")))
    return 0;
  *done = true;
  if (asprintf (&link, "/etc/systemd/system/getty.target.wants/serial-getty@%s.service", c) < 0)
    return img_conv_oom (plan);
  r = img_guest_mkdir_p (img_plan_guest (plan), "/etc/systemd/system/getty.target.wants", 0755);
  if (r == 0)
    r = img_guest_symlink (img_plan_guest (plan), unit, link);
  free (link);
  return r;
}

static int
upstart_getty (struct img_plan *plan, const char *c)
{
  struct img_sb path = { 0 }, b = { 0 };
  int r = 0;

  img_sb_addf (&path, "/etc/init/%s.conf", c);
  if (path.oom)
    return img_conv_oom (plan);
  if (!img_guest_exists (img_plan_guest (plan), path.s)) {
    img_sb_addf (&b, "# %s - getty on the Xen PV console (img2pv)\n\n"
                 "start on stopped rc RUNLEVEL=[2345]\nstop on runlevel [!2345]\n\n"
                 "respawn\nexec /sbin/getty -L 38400 %s vt102\n", c, c);
    r = img_conv_write_text (plan, path.s, &b, 0644);
  }
  img_sb_free (&b);
  img_sb_free (&path);
  return r;
}

static int
inittab_getty (struct img_plan *plan, const char *c)
{
  char *text;
  size_t len;
  int r;

  if ((r = img_conv_read_text (plan, "/etc/inittab", &text, &len)) < 0)
    return r;
  if (text && !strstr (text, c)) {
    const char *getty = img_guest_exists (img_plan_guest (plan), "/sbin/agetty") ? "/sbin/agetty" : "/sbin/getty";
    const char *id = strstr (text, "\nco:") || strncmp (text, "co:", 3) == 0 ? "hv" : "co";
    struct img_sb b = { 0 };
    img_sb_add (&b, text, len);
    if (img_sb_open_line (&b))
      img_sb_add (&b, "\n", 1);
    if (strcmp (getty, "/sbin/agetty") == 0)
      img_sb_addf (&b, "# Xen PV console (img2pv)\n%s:2345:respawn:%s %s 9600 vt100-nav\n", id, getty, c);
    else
      img_sb_addf (&b, "# Xen PV console (img2pv)\n%s:2345:respawn:%s 38400 %s\n", id, getty, c);
    r = img_conv_write_text (plan, "/etc/inittab", &b, 0644);
    img_sb_free (&b);
  }
  free (text);
  return r;
}

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_console_opts *o = data;
  const char *c = o->console;
  bool done = false;
  int r;

  r = systemd_getty (plan, c, &done);
  if (r == 0 && !done && img_guest_exists (img_plan_guest (plan), "/etc/init") && img_guest_exists (img_plan_guest (plan), "/sbin/initctl")) {
    r = upstart_getty (plan, c);
    done = true;
  }
  if (r == 0 && !done && img_guest_exists (img_plan_guest (plan), "/etc/inittab")) {
    r = inittab_getty (plan, c);
    done = true;
  }
  if (r == 0 && !done)
    r = img_plan_note (plan, "no systemd, upstart or inittab found: no getty set up on %s", c);
  if (r == 0 && img_guest_exists (img_plan_guest (plan), "/etc/securetty")) {
    const char *add[] = { c };
    r = img_conv_ensure_lines (plan, "/etc/securetty", add, 1, NULL, 0600);
  }
  return r;
}

const struct img_edit img_edit_console = {
  "console", "a login on the Xen PV console", apply
};
