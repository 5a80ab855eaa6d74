/* Edit "udev-net": see netnames.h. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert-private.h"
#include "convert/netnames.h"
#include "img-quote.h"

static void
take_mac (struct img_netnames *nn, const char *text)
{
  if (nn->mac[0] || text == NULL)
    return;
  /* Strictly hex:colon (netrules.c), checked again as the xl config
   * takes it (quote.c). */
  if (img_netrules_mac (text, strlen (text), nn->mac) < 0 || img_check_mac (nn->mac, NULL) < 0)
    nn->mac[0] = '\0';
}

/* Drops the HWADDR= lines of the ifcfg file PATH; *any if it changed. */
static int
drop_hwaddr (struct img_plan *plan, struct img_netnames *nn, const char *path, bool *any)
{
  char *text;
  size_t len;
  struct img_sb b = { 0 };
  const char *p;
  bool changed = false;
  int r = 0;

  if (img_conv_read_text (plan, path, &text, &len) < 0 || text == NULL)
    return 0;
  for (p = text; *p;) {
    const char *e = strchr (p, '\n'), *q = p;
    size_t l = e ? (size_t) (e - p + 1) : strlen (p);
    char m[18];
    int hw;
    while (*q == ' ' || *q == '\t')
      q++;
    hw = img_ifcfg_hwaddr (q, (size_t) ((e ? e : p + l) - q), m);
    if (hw != -ENOENT) {
      if (hw == 0 && !nn->mac[0] && img_check_mac (m, NULL) == 0)
        memcpy (nn->mac, m, sizeof m);
      changed = true;
    } else
      img_sb_add (&b, p, l);
    p += l;
  }
  if (changed) {
    r = img_conv_write_text (plan, path, &b, 0644);
    *any = true;
  }
  img_sb_free (&b);
  free (text);
  return r;
}

static int
ifcfg_dir (struct img_plan *plan, struct img_netnames *nn, const char *dir, bool *any)
{
  struct img_dirent *ents;
  size_t n, j;
  int r = 0;

  if (!img_guest_exists (img_plan_guest (plan), dir) || img_guest_readdir (img_plan_guest (plan), dir, &ents, &n) < 0)
    return 0;
  for (j = 0; j < n && r == 0; j++) {
    char *path = NULL;
    if (strncmp (ents[j].name, "ifcfg-", 6) != 0 || strcmp (ents[j].name, "ifcfg-lo") == 0
        || strchr (ents[j].name, '~') || strstr (ents[j].name, ".bak"))
      continue;
    if (asprintf (&path, "%s/%s", dir, ents[j].name) < 0) {
      r = img_conv_oom (plan);
      break;
    }
    r = drop_hwaddr (plan, nn, path, any);
    free (path);
  }
  img_dirents_free (ents, n);
  return r;
}

static int
apply (struct img_plan *plan, void *data)
{
  struct img_netnames *nn = data;
  static const char *const rules[] = { "/etc/udev/rules.d/70-persistent-net.rules",
                                       "/etc/udev/rules.d/z25_persistent-net.rules",
                                       "/etc/udev/rules.d/30-net_persistent_names.rules", NULL };
  static const char *const ifdirs[] = { "/etc/sysconfig/network-scripts",
                                        "/etc/sysconfig/network", NULL };
  bool any = false;
  size_t i;
  int r = 0;

  for (i = 0; rules[i] && r == 0; i++) {
    char *text;
    size_t len;
    if (!img_guest_exists (img_plan_guest (plan), rules[i]))
      continue;
    if (img_conv_read_text (plan, rules[i], &text, &len) == 0)
      take_mac (nn, text);
    free (text);
    r = img_guest_remove (img_plan_guest (plan), rules[i]);
    any = true;
  }
  for (i = 0; ifdirs[i] && r == 0; i++)
    r = ifcfg_dir (plan, nn, ifdirs[i], &any);
  if (r == 0 && !any)
    r = img_plan_note (plan, "no udev persistent-net rules, no HWADDR= in ifcfg files");
  return r;
}

const struct img_edit img_edit_udev_net = {
  "udev-net", "remove persistent network names tied to the HVM NIC", apply
};
