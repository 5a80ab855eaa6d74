/* The image's directory and base name: see beside.h. */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/beside.h"

char *
img_beside_base (const char *image, bool strip_ext)
{
  const char *b = strrchr (image, '/');
  char *n = strdup (b ? b + 1 : image), *dot;

  if (n && strip_ext && (dot = strrchr (n, '.')) && dot != n)
    *dot = '\0';
  return n;
}

char *
img_beside_dir (const char *image)
{
  char *abs = realpath (image, NULL), *s;

  if (abs == NULL) {
    /* Not there yet (--output): its directory is. */
    char *d = strdup (image), *slash, *ad;
    if (d == NULL)
      return NULL;
    slash = strrchr (d, '/');
    if (slash == NULL) {
      free (d);
      return getcwd (NULL, 0);
    }
    *slash = '\0';
    ad = realpath (*d ? d : "/", NULL);
    free (d);
    return ad ? ad : strdup (".");
  }
  s = strrchr (abs, '/');
  if (s == abs)
    s[1] = '\0';
  else
    *s = '\0';
  return abs;
}
