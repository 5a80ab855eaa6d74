/* Files beside the image: see beside.h. */
#include <config.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img-quote.h"
#include "base/hostfile.h"
#include "convert/beside.h"

#define BESIDE_MAX (1u << 20)

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

int
img_beside_ours (struct img_ctx *ctx, const char *path, const char *mark, char **old)
{
  char *text;
  size_t len;
  int r = img_host_read_file (ctx, path, BESIDE_MAX, &text, &len);

  if (old)
    *old = NULL;
  if (r < 0)
    return r;
  r = strstr (text, mark) != NULL;
  if (old)
    *old = text;
  else
    free (text);
  return r;
}

void
img_beside_mac (struct img_ctx *ctx, const char *path, const char *mark, const char *key,
                char mac[18])
{
  char *old = NULL, *m;

  mac[0] = '\0';
  if (access (path, F_OK) == 0 && img_beside_ours (ctx, path, mark, &old) == 1
      && (m = strstr (old, key)) && strlen (m + strlen (key)) >= 17) {
    memcpy (mac, m + strlen (key), 17);
    mac[17] = '\0';
    if (img_check_mac (mac, NULL) < 0)
      mac[0] = '\0';
  }
  free (old);
}
