/* LUKS keys given by the admin (img_ctx_add_key), kept in the context
 * until it is freed, then wiped. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "private.h"

#define KEY_FILE_MAX 8192

struct img_key {
  char *selector;
  char *key;
  size_t len;
};

struct img_keyring {
  size_t n;
  struct img_key *keys;
};

static void
wipe_free (char *s, size_t len)
{
  if (s) {
    explicit_bzero (s, len);
    free (s);
  }
}

void
img_internal_keyring_free (struct img_keyring *kr)
{
  size_t i;

  if (kr == NULL)
    return;
  for (i = 0; i < kr->n; i++) {
    free (kr->keys[i].selector);
    wipe_free (kr->keys[i].key, kr->keys[i].len);
  }
  free (kr->keys);
  free (kr);
}

/* The key file PATH's contents, less one final newline. */
static int
read_key_file (struct img_ctx *ctx, const char *path, char **key, size_t *len)
{
  char *buf = malloc (KEY_FILE_MAX + 2);
  size_t got = 0;
  int fd, r = 0;

  if (buf == NULL)
    return img_err (ctx, -ENOMEM, "--key: out of memory");
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd == -1) {
    r = -errno;
    free (buf);
    return img_err (ctx, r, "--key: %s: %s", path, strerror (-r));
  }
  while (got <= KEY_FILE_MAX) {
    ssize_t n = read (fd, buf + got, KEY_FILE_MAX + 1 - got);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      r = img_err (ctx, -errno, "--key: %s: %s", path, strerror (errno));
      break;
    }
    if (n == 0)
      break;
    got += (size_t) n;
  }
  close (fd);
  if (r == 0 && got > KEY_FILE_MAX)
    r = img_err (ctx, -EFBIG, "--key: %s: longer than %d bytes", path, KEY_FILE_MAX);
  if (r == 0 && got > 0 && buf[got - 1] == '\n')
    got--;
  if (r == 0 && (got == 0 || memchr (buf, '\0', got)))
    r = img_err (ctx, -EINVAL, "--key: %s: %s", path,
                 got ? "holds a NUL byte (a passphrase is needed)" : "is empty");
  if (r < 0) {
    wipe_free (buf, KEY_FILE_MAX + 2);
    return r;
  }
  buf[got] = '\0';
  *key = buf;
  *len = KEY_FILE_MAX + 2;
  return 0;
}

int
img_ctx_add_key (struct img_ctx *ctx, const char *spec)
{
  struct img_keyring **krp = img_internal_ctx_keyring (ctx), *kr = *krp;
  const char *c1 = strchr (spec, ':'), *val;
  struct img_key k = { 0 };
  struct img_key *n;
  int r;

  if (c1 == NULL || c1 == spec
      || (strncmp (c1 + 1, "key:", 4) != 0 && strncmp (c1 + 1, "file:", 5) != 0))
    return img_err (ctx, -EINVAL, "--key: SELECTOR:key:PASSPHRASE or SELECTOR:file:PATH expected");
  val = c1 + 1 + (c1[1] == 'k' ? 4 : 5);
  if (*val == '\0')
    return img_err (ctx, -EINVAL, "--key: the %s is empty", c1[1] == 'k' ? "passphrase" : "file name");
  k.selector = strndup (spec, (size_t) (c1 - spec));
  if (k.selector == NULL)
    return img_err (ctx, -ENOMEM, "--key: out of memory");
  if (c1[1] == 'k') {
    k.len = strlen (val) + 1;
    k.key = strdup (val);
    r = k.key ? 0 : img_err (ctx, -ENOMEM, "--key: out of memory");
  } else
    r = read_key_file (ctx, val, &k.key, &k.len);
  if (r == 0 && kr == NULL && (kr = *krp = calloc (1, sizeof *kr)) == NULL)
    r = img_err (ctx, -ENOMEM, "--key: out of memory");
  if (r == 0 && (n = realloc (kr->keys, (kr->n + 1) * sizeof *n)) == NULL)
    r = img_err (ctx, -ENOMEM, "--key: out of memory");
  if (r < 0) {
    free (k.selector);
    wipe_free (k.key, k.len);
    return r;
  }
  kr->keys = n;
  kr->keys[kr->n++] = k;
  return 0;
}

const char *
img_internal_ctx_key (struct img_ctx *ctx, const char *const *names, size_t n)
{
  struct img_keyring *kr = *img_internal_ctx_keyring (ctx);
  size_t i, j;

  if (kr == NULL)
    return NULL;
  for (j = 0; j < n; j++)
    for (i = 0; i < kr->n; i++)
      if (names[j] && names[j][0] && strcasecmp (kr->keys[i].selector, names[j]) == 0)
        return kr->keys[i].key;
  for (i = 0; i < kr->n; i++)
    if (strcmp (kr->keys[i].selector, "all") == 0)
      return kr->keys[i].key;
  return NULL;
}
