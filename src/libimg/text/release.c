/* Which OS a guest is, from its release files: os-release (KEY=VALUE),
 * else the legacy ones (/etc/redhat-release and its siblings, SuSE-release,
 * lsb-release, debian_version, arch-release, alpine-release,
 * gentoo-release).  The text is a guest's: it is read within
 * its length (a NUL byte ends it, as it ends any C string we keep). */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "text/text-private.h"

/* VALUE of KEY= in shell-style KEY=VALUE text, unquoted; NULL if absent.
 * The caller owns the result. */
char *
img_internal_text_value (const char *text, const char *key)
{
  char *v = NULL;

  img_textconf_get (text, strlen (text), key, &v, NULL, NULL);
  return v;
}

/* The first line of TEXT without trailing blanks; NULL if empty.  The
 * caller owns the result. */
char *
img_internal_first_line (const char *text)
{
  size_t l = strcspn (text, "\r\n");

  while (l > 0 && (text[l - 1] == ' ' || text[l - 1] == '\t'))
    l--;
  return l ? strndup (text, l) : NULL;
}

/* "Red Hat Enterprise Linux Server release 5.4 (Tikanga)" and friends
 * (CentOS, Rocky, AlmaLinux, Oracle, Amazon Linux's system-release,
 * "Gentoo Base System release 2.14"). */
static void
parse_redhat_release (struct img_inspection *in, const char *text)
{
  static const struct { const char *prefix; const char *id; } names[] = {
    { "Red Hat Enterprise Linux", "rhel" }, { "CentOS Stream", "centos" },
    { "CentOS", "centos" }, { "Fedora", "fedora" }, { "Scientific Linux", "scientific" },
    { "Oracle Linux", "ol" }, { "Enterprise Linux", "ol" }, { "Rocky Linux", "rocky" },
    { "AlmaLinux", "almalinux" }, { "Amazon Linux", "amzn" },
    { "Gentoo", "gentoo" },
  };
  const char *rel;
  size_t i;

  in->os_pretty_name = img_internal_first_line (text);
  for (i = 0; i < ARRAY_SIZE (names); i++)
    if (strncmp (text, names[i].prefix, strlen (names[i].prefix)) == 0) {
      in->os_id = strdup (names[i].id);
      in->os_name = strdup (names[i].prefix);
      break;
    }
  rel = strstr (text, "release ");
  if (rel) {
    const char *v = rel + 8, *e = v;
    while (isdigit ((unsigned char) *e) || *e == '.')
      e++;
    if (e > v)
      in->os_version_id = strndup (v, e - v);
    if ((v = strchr (e, '(')) != NULL && (e = strchr (v, ')')) != NULL && e > v + 1)
      in->os_codename = strndup (v + 1, e - v - 1);
  }
}

static void
parse_suse_release (struct img_inspection *in, const char *text)
{
  /* "VERSION = 11": the key is "VERSION " and the value " 11". */
  char *v = img_internal_text_value (text, "VERSION "), *pl = img_internal_text_value (text, "PATCHLEVEL ");

  static const struct { const char *prefix, *id, *name; } names[] = {
    { "SUSE Linux Enterprise", "sles", "SLES" }, { "SUSE LINUX Enterprise", "sles", "SLES" },
    { "Novell Linux Desktop", "sles", "SLES" }, { "openSUSE", "opensuse", "openSUSE" },
    { "SuSE Linux", "opensuse", "openSUSE" }, { "SUSE LINUX", "opensuse", "openSUSE" },
  };
  size_t i;

  /* Enterprise first: "SUSE LINUX Enterprise" also starts "SUSE LINUX".
   * A first line none of these begins is some SUSE (distro.c). */
  in->os_pretty_name = img_internal_first_line (text);
  for (i = 0; i < ARRAY_SIZE (names); i++)
    if (strncmp (text, names[i].prefix, strlen (names[i].prefix)) == 0) {
      in->os_id = strdup (names[i].id);
      in->os_name = strdup (names[i].name);
      break;
    }
  if (v) {
    char *t = v;
    while (*t == ' ')
      t++;
    if (pl && *pl) {
      char *p2 = pl;
      while (*p2 == ' ')
        p2++;
      if (asprintf (&in->os_version_id, "%s.%s", t, p2) < 0)
        in->os_version_id = NULL;
    }
    else
      in->os_version_id = strdup (t);
  }
  free (v);
  free (pl);
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t l = strlen (s), sl = strlen (suffix);

  return l >= sl && strcmp (s + l - sl, suffix) == 0;
}

int
img_release_parse (const char *file, const char *text, size_t len,
                   struct img_inspection *in)
{
  char *t = strndup (text, len);        /* terminated, cut at a NUL */
  int r = 0;

  if (t == NULL)
    return -ENOMEM;
  if (ends_with (file, "/os-release")) {
    size_t l = strlen (t);
    in->os_id = img_internal_osrelease_value (t, l, "ID");
    in->os_id_like = img_internal_osrelease_value (t, l, "ID_LIKE");
    in->os_name = img_internal_osrelease_value (t, l, "NAME");
    in->os_pretty_name = img_internal_osrelease_value (t, l, "PRETTY_NAME");
    in->os_version_id = img_internal_osrelease_value (t, l, "VERSION_ID");
    in->os_codename = img_internal_osrelease_value (t, l, "VERSION_CODENAME");
  }
  else if (ends_with (file, "/SuSE-release"))
    parse_suse_release (in, t);
  else if (ends_with (file, "/lsb-release")) {
    char *id = img_internal_text_value (t, "DISTRIB_ID");
    if (id) {
      for (char *p = id; *p; p++)
        *p = tolower ((unsigned char) *p);
      in->os_id = id;
      in->os_version_id = img_internal_text_value (t, "DISTRIB_RELEASE");
      in->os_codename = img_internal_text_value (t, "DISTRIB_CODENAME");
      in->os_pretty_name = img_internal_text_value (t, "DISTRIB_DESCRIPTION");
    }
    else
      r = -ENOENT;
  }
  else if (ends_with (file, "/debian_version")) {
    in->os_id = strdup ("debian");
    in->os_name = strdup ("Debian GNU/Linux");
    in->os_version_id = img_internal_first_line (t);
  }
  else if (ends_with (file, "/arch-release")) {
    /* Empty as Arch ships it: the file's presence is the answer. */
    in->os_id = strdup ("arch");
    in->os_name = strdup ("Arch Linux");
  }
  else if (ends_with (file, "/alpine-release")) {
    in->os_id = strdup ("alpine");
    in->os_name = strdup ("Alpine Linux");
    in->os_version_id = img_internal_first_line (t);
  }
  else if (ends_with (file, "-release"))
    parse_redhat_release (in, t);
  else
    r = -EINVAL;
  if (r == 0 && (in->os_source = strdup (file)) == NULL)
    r = -ENOMEM;
  if (r == 0)
    r = img_internal_release_distro (in, file);
  free (t);
  return r;
}
