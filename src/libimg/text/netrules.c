/* Network identity left in a guest's config text: the MAC address of the
 * HVM NIC in udev persistent-net rules (ATTR{address}=="...") and in ifcfg
 * files (HWADDR=...).  A MAC we take is strictly "xx:xx:xx:xx:xx:xx" in
 * hex: it goes into an xl config later, so nothing else may pass.  Texts
 * are read only within their length. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "libimg.h"

int
img_mac_parse (const char *s, size_t len, char mac[18])
{
  size_t i;

  if (len < 17)
    return -EINVAL;
  for (i = 0; i < 17; i++)
    if (i % 3 == 2 ? s[i] != ':' : !isxdigit ((unsigned char) s[i]))
      return -EINVAL;
  if (len > 17 && isxdigit ((unsigned char) s[17]))
    return -EINVAL;
  for (i = 0; i < 17; i++)
    mac[i] = s[i];
  mac[17] = '\0';
  return 0;
}

int
img_netrules_mac (const char *text, size_t len, char mac[18])
{
  static const char attr[] = "ATTR{address}==\"";
  const char *p = text, *end = text + len;

  while ((p = memmem (p, end - p, attr, sizeof attr - 1)) != NULL) {
    const char *m = p + sizeof attr - 1;
    if (end - m > 17 && m[17] == '"' && img_mac_parse (m, 17, mac) == 0)
      return 0;
    p = m;
  }
  return -ENOENT;
}

int
img_ifcfg_hwaddr (const char *line, size_t len, char mac[18])
{
  size_t i = 0;

  while (i < len && (line[i] == ' ' || line[i] == '\t'))
    i++;
  if (len - i < 7 || memcmp (line + i, "HWADDR=", 7) != 0)
    return -ENOENT;
  i += 7;
  if (i < len && (line[i] == '"' || line[i] == '\''))
    i++;
  return img_mac_parse (line + i, len - i, mac) == 0 ? 0 : -EINVAL;
}
