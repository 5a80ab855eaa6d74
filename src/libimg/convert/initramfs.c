/* Edit "initramfs-config": see initramfs.h. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert-private.h"
#include "convert/initramfs.h"

static int
dracut_conf (struct img_plan *plan, const struct img_initramfs_opts *o)
{
  struct img_sb b = { 0 };
  int r;

  img_sb_addf (&b, "# Xen PV drivers in every initramfs dracut builts (img2pv)\nadd_drivers+=\" %s %s \"\n",
               o->drivers[0], o->drivers[1]);
  r = img_guest_mkdir_p (img_plan_guest (plan), "/etc/dracut.conf.d", 0755);
  if (r == 0)
    r = img_conv_write_text (plan, "/etc/dracut.conf.d/img2pv-xen.conf", &b, 0644);
  img_sb_free (&b);
  return r;
}

/* TEXT with its "alias eth0" line(s) replaced by NET. */
static int
replace_eth0 (struct img_plan *plan, const char *path, const char *text, const char *net)
{
  struct img_sb b = { 0 };
  const char *p = text;
  int r;

  while (*p) {
    const char *e = strchr (p, '\n');
    size_t l = e ? (size_t) (e - p + 1) : strlen (p);
    if (strncmp (p, "alias eth0 ", 11) == 0)
      img_sb_addf (&b, "%s\n", net);
    else
      img_sb_add (&b, p, l);
    p += l;
  }
  r = img_conv_write_text (plan, path, &b, 0644);
  img_sb_free (&b);
  return r;
}

/* mkinitrd era (RHEL 5 and alike): modprobe.conf aliases drive it. */
static int
modprobe_aliases (struct img_plan *plan, const struct img_initramfs_opts *o)
{
  const char *path = img_guest_exists (img_plan_guest (plan), "/etc/modprobe.conf") ? "/etc/modprobe.conf"
                     : "/etc/modprobe.d/img2pv-xen.conf";
  char *text, *blk = NULL, *net = NULL, pat[64];
  const char *add[2];
  size_t len, n = 0;
  int r, idx = 0;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0)
    return r;
  snprintf (pat, sizeof pat, " %s", o->drivers[0]);
  if (!(text && strstr (text, "scsi_hostadapter") && strstr (text, pat))) {
    /* The next free scsi_hostadapterN. */
    for (;;) {
      char k[40];
      snprintf (k, sizeof k, idx ? "alias scsi_hostadapter%d " : "alias scsi_hostadapter ", idx);
      if (!(text && strstr (text, k)))
        break;
      idx++;
    }
    if ((idx ? asprintf (&blk, "alias scsi_hostadapter%d %s", idx, o->drivers[0])
         : asprintf (&blk, "alias scsi_hostadapter %s", o->drivers[0])) < 0)
      blk = NULL, r = img_conv_oom (plan);
    add[n++] = blk;
  }
  snprintf (pat, sizeof pat, " %s", o->drivers[1]);
  if (r == 0 && !(text && strstr (text, "alias eth0") && strstr (text, pat))) {
    if (asprintf (&net, "alias eth0 %s", o->drivers[1]) < 0)
      net = NULL, r = img_conv_oom (plan);
    add[n++] = net;
  }
  if (r == 0 && n && text && strstr (text, "alias eth0 ") && net) {
    /* Replace the HVM NIC's alias rather than add a second one. */
    r = replace_eth0 (plan, path, text, net);
    n = blk ? 1 : 0;
  }
  if (r == 0 && n)
    r = img_conv_ensure_lines (plan, path, add, n, NULL, 0644);
  free (blk);
  free (net);
  free (text);
  return r;
}

/* SUSE: INITRD_MODULES in /etc/sysconfig/kernel. */
static int
suse_modules (struct img_plan *plan, const struct img_initramfs_opts *o)
{
  const char *path = "/etc/sysconfig/kernel";
  struct img_sb b = { 0 };
  char *text, *v;
  size_t len;
  int r, i;

  if ((r = img_conv_read_text (plan, path, &text, &len)) < 0)
    return r;
  v = img_conv_shell_value (text, "INITRD_MODULES", NULL, NULL);
  img_sb_adds (&b, v ? v : "");
  for (i = 0; i < 2; i++) {
    struct img_sb t = { 0 };
    char pat[64];
    snprintf (pat, sizeof pat, " %s ", o->drivers[i]);
    img_sb_addf (&t, " %s ", b.s ? b.s : "");
    if (t.s && !strstr (t.s, pat))
      img_sb_addf (&b, "%s%s", b.len ? " " : "", o->drivers[i]);
    img_sb_free (&t);
  }
  if (b.oom)
    r = img_conv_oom (plan);
  else if (!v || strcmp (v, b.s ? b.s : "") != 0)
    r = img_conv_set_shell_value (plan, path, "INITRD_MODULES", b.s ? b.s : "");
  img_sb_free (&b);
  free (v);
  free (text);
  return r;
}

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_initramfs_opts *o = data;
  int r = 0;

  if (strcmp (o->flavour, "initramfs-tools") == 0)
    r = img_conv_ensure_lines (plan, "/etc/initramfs-tools/modules", o->drivers, 2,
                               "# Xen PV drivers (img2pv)\n", 0644);
  else if (strcmp (o->flavour, "dracut") == 0)
    r = dracut_conf (plan, o);
  else if (!img_guest_exists (img_plan_guest (plan), "/etc/sysconfig/kernel"))
    r = modprobe_aliases (plan, o);
  if (r == 0 && img_guest_exists (img_plan_guest (plan), "/etc/sysconfig/kernel"))
    r = suse_modules (plan, o);
  return r;
}

const struct img_edit img_edit_initramfs_config = {
  "initramfs-config", "the guest's initramfs tooling keeps the PV drivers", apply
};
