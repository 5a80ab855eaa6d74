/* Paths in the guest: which mounted filesystem holds a path, and the
 * resolution of a guest path with its symlinks followed inside the
 * guest (never on the host), bounded in links and components. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/overlay.h"
#include "guest/guest-private.h"

#define MAX_SYMLINKS 40
#define MAX_COMPONENTS 1024

/* ---- path resolution ---------------------------------------------------- */

/* The mount holding canonical path PATH and the path inside it. */
static struct gmount *
find_mount (struct img_guest *g, const char *path, const char **rel)
{
  size_t i;

  for (i = 0; i < g->n_mounts; i++) {
    struct gmount *m = &g->mounts[i];
    const char *mp = m->pub.mountpoint;
    size_t l = strlen (mp);

    if (m->fs == NULL && !m->lazy)
      continue;
    if (strcmp (mp, "/") == 0) {
      *rel = path;
      return m;
    }
    if (strncmp (path, mp, l) == 0 && (path[l] == '/' || path[l] == '\0')) {
      *rel = path[l] ? path + l : "/";
      return m;
    }
  }
  return NULL;
}

const struct img_guest_mount *
img_guest_mount_of (const struct img_guest *g, const char *path, size_t *index,
                    const char **rel)
{
  const char *r;
  struct gmount *m = find_mount ((struct img_guest *) g, path, &r);

  if (m == NULL)
    return NULL;
  if (index)
    *index = (size_t) (m - g->mounts);
  if (rel)
    *rel = r;
  return &m->pub;
}

/* A mount the appliance reads, opened at its first use (with the
 * recording overlay the others got, if any). */
static int
open_lazy (struct img_guest *g, struct gmount *m)
{
  struct img_fs *fs, *ov;
  int r;

  r = img_internal_guest_open_fs (g, m->volume, m->fs_options,
                                  m->readonly ? IMG_FS_RDONLY : g->flags, &fs);
  if (r < 0)
    return r;
  if (g->ov_set) {
    r = img_internal_overlay_open (g->ctx, fs, g->ov_dry, m->pub.mountpoint,
                                   g->ov_log, &ov);
    if (r < 0) {
      img_fs_close (fs);
      return r;
    }
    fs = ov;
  }
  m->fs = fs;
  return 0;
}

int
img_internal_guest_map (struct img_guest *g, const char *canon, struct img_fs **fs,
        const char **rel)
{
  struct gmount *m = find_mount (g, canon, rel);

  if (m == NULL)
    return img_err (g->ctx, -ENOENT, "guest: %s: no filesystem mounted there", canon);
  if (m->fs == NULL) {
    int r = open_lazy (g, m);
    if (r < 0)
      return r;
  }
  *fs = m->fs;
  return 0;
}

int
img_internal_guest_lstat_canon (struct img_guest *g, const char *canon, struct img_stat *st)
{
  struct img_fs *fs;
  const char *rel;
  int r = img_internal_guest_map (g, canon, &fs, &rel);

  return r < 0 ? r : img_fs_lstat (fs, rel, st);
}

/* Resolves PATH (absolute or relative to "/") into *out.  Symlinks in
 * every component but the last are followed; the last too if
 * FOLLOW_LAST.  Intermediate components must exist. */
int
img_guest_realpath (struct img_guest *g, const char *path, bool follow_last,
                    char **out)
{
  /* Work list: the remaining path, rebuilt when a symlink is expanded. */
  char *todo = NULL, *result = NULL;
  size_t rlen = 0;
  int links = 0, r = 0, steps = 0;

  if (strlen (path) >= PATH_MAX)
    return img_err (g->ctx, -ENAMETOOLONG, "guest: path too long");
  todo = strdup (path);
  result = malloc (PATH_MAX + 1);
  if (todo == NULL || result == NULL) {
    r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
    goto out;
  }
  result[0] = '\0';

  for (;;) {
    char *p = todo, *comp, *rest;
    size_t clen;
    struct img_stat st;
    char saved;

    while (*p == '/')
      p++;
    if (*p == '\0')
      break;
    if (++steps > MAX_COMPONENTS * 4) {
      r = img_err (g->ctx, -ELOOP, "guest: %s: too many path components", path);
      goto out;
    }
    comp = p;
    while (*p && *p != '/')
      p++;
    clen = p - comp;
    rest = p;
    while (*rest == '/')
      rest++;

    if (clen == 1 && comp[0] == '.') {
      memmove (todo, rest, strlen (rest) + 1);
      continue;
    }
    if (clen == 2 && comp[0] == '.' && comp[1] == '.') {
      /* The result has no symlinks, so ".." is lexical; it stops at "/". */
      char *slash = strrchr (result, '/');
      rlen = slash ? (size_t) (slash - result) : 0;
      result[rlen] = '\0';
      memmove (todo, rest, strlen (rest) + 1);
      continue;
    }
    if (rlen + 1 + clen > PATH_MAX) {
      r = img_err (g->ctx, -ENAMETOOLONG, "guest: %s: path too long", path);
      goto out;
    }
    saved = comp[clen];
    comp[clen] = '\0';
    result[rlen] = '/';
    memcpy (result + rlen + 1, comp, clen + 1);
    comp[clen] = saved;

    if (*rest == '\0' && !follow_last) {
      rlen += 1 + clen;
      break;
    }
    r = img_internal_guest_lstat_canon (g, result, &st);
    if (r == -ENOENT && *rest == '\0') {
      rlen += 1 + clen;         /* a last component that does not exist yet */
      r = 0;
      break;
    }
    if (r < 0) {
      if (r == -ENOENT || r == -ENOTDIR)
        img_err (g->ctx, r, "guest: %s: %s", path, strerror (-r));
      goto out;
    }
    if (S_ISLNK (st.mode)) {
      struct img_fs *fs;
      const char *rel;
      char *target = NULL, *next;

      if (++links > MAX_SYMLINKS) {
        r = img_err (g->ctx, -ELOOP, "guest: %s: too many levels of symbolic links", path);
        goto out;
      }
      r = img_internal_guest_map (g, result, &fs, &rel);
      if (r == 0)
        r = img_fs_readlink (fs, rel, &target);
      if (r < 0)
        goto out;
      if (strlen (target) + strlen (rest) + 2 > PATH_MAX) {
        free (target);
        r = img_err (g->ctx, -ENAMETOOLONG, "guest: %s: path too long", path);
        goto out;
      }
      if (asprintf (&next, "%s/%s", target, rest) < 0) {
        free (target);
        r = img_err (g->ctx, -ENOMEM, "guest: out of memory");
        goto out;
      }
      if (target[0] == '/')
        rlen = 0;               /* absolute: from the guest's root */
      result[rlen] = '\0';
      free (target);
      free (todo);
      todo = next;
      continue;
    }
    rlen += 1 + clen;
    if (*rest != '\0' && !S_ISDIR (st.mode)) {
      result[rlen] = '\0';
      r = img_err (g->ctx, -ENOTDIR, "guest: %s: not a directory", result);
      goto out;
    }
    memmove (todo, rest, strlen (rest) + 1);
  }
  if (rlen == 0)
    result[rlen++] = '/';
  result[rlen] = '\0';
  *out = result;
  result = NULL;
 out:
  free (todo);
  free (result);
  return r;
}

/* Resolves PATH and maps it to a filesystem. */
int
img_internal_guest_resolve (struct img_guest *g, const char *path, bool follow_last,
         char **canon, struct img_fs **fs, const char **rel)
{
  int r = img_guest_realpath (g, path, follow_last, canon);

  if (r < 0)
    return r;
  r = img_internal_guest_map (g, *canon, fs, rel);
  if (r < 0) {
    free (*canon);
    *canon = NULL;
  }
  return r;
}
