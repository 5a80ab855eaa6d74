/* The distribution's name as virt-inspector spells it ("rhel",
 * "oraclelinux", "archlinux", "alpinelinux"...) and its major.minor
 * version, from what the release files said (os_id, os_version_id).  An
 * ID virt-inspector has no name for is kept as the os-release ID. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "text/text-private.h"

static const struct { const char *id, *distro; } names[] = {
  { "alpine", "alpinelinux" }, { "arch", "archlinux" }, { "kali", "kalilinux" },
  { "ol", "oraclelinux" }, { "scientific", "scientificlinux" }, { "pld", "pldlinux" },
  { "void", "voidlinux" }, { "sled", "sles" }, { "linuxmint", "linuxmint" },
};

static const char *
distro_name (const char *id)
{
  size_t i;

  if (strncmp (id, "opensuse", 8) == 0)       /* opensuse-leap, -tumbleweed */
    return "opensuse";
  for (i = 0; i < ARRAY_SIZE (names); i++)
    if (strcmp (id, names[i].id) == 0)
      return names[i].distro;
  return id;
}

/* A decimal number of at most 9 digits at *P (advanced past it); -1 if
 * there is none or it is longer. */
static int
number (const char **p)
{
  const char *s = *p;
  int v = 0;

  while (isdigit ((unsigned char) **p)) {
    if (*p - s == 9)
      return -1;                /* a 10th digit could overflow an int */
    v = v * 10 + (*(*p)++ - '0');
  }
  return *p == s ? -1 : v;
}

void
img_internal_release_version (const char *version, int *major, int *minor)
{
  const char *p = version;
  int a, b = 0;

  *major = *minor = -1;
  if (p == NULL || (a = number (&p)) < 0)
    return;
  if (*p == '.') {
    p++;
    if ((b = number (&p)) < 0)
      b = 0;
  }
  *major = a;
  *minor = b;
}

int
img_internal_release_distro (struct img_inspection *in, const char *file)
{
  const char *d, *u;

  if (in->os_id)
    d = distro_name (in->os_id);
  else if (strcmp (file, "/etc/redhat-release") == 0)
    d = "redhat-based";         /* a Red Hat clone of no name we know */
  else if (strcmp (file, "/etc/SuSE-release") == 0)
    d = "suse-based";
  else
    d = NULL;
  if (d && (in->distro = strdup (d)) == NULL)
    return -ENOMEM;
  img_internal_release_version (in->os_version_id, &in->major_version, &in->minor_version);
  /* "Red Hat Enterprise Linux AS release 4 (Nahant Update 9)": 4.9. */
  if (in->major_version >= 0 && in->os_version_id && !strchr (in->os_version_id, '.')
      && in->os_codename && (u = strstr (in->os_codename, "Update ")) != NULL) {
    int minor;
    u += 7;
    if ((minor = number (&u)) >= 0)
      in->minor_version = minor;
  }
  return 0;
}
