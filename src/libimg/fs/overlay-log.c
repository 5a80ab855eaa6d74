/* The overlays' change log: what the writes through the overlays of one
 * guest changed, per path and in order, until the caller (a plan) takes
 * the entries and clears it. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/overlay-private.h"

struct img_fs_log {
  struct img_ctx *ctx;
  size_t n, cap;
  struct img_fs_change **changes;
};

int
img_internal_fs_log_new (struct img_ctx *ctx, struct img_fs_log **logp)
{
  struct img_fs_log *log = calloc (1, sizeof *log);

  if (log == NULL)
    return img_err (ctx, -ENOMEM, "fs: out of memory");
  log->ctx = ctx;
  *logp = log;
  return 0;
}

static void
change_free (struct img_fs_change *c)
{
  free (c->fs_path);
  free (c->path);
  free (c->target);
  free (c->detail);
  free (c->old);
  free (c);
}

void
img_internal_fs_log_clear (struct img_fs_log *log)
{
  size_t i;

  for (i = 0; i < log->n; i++)
    change_free (log->changes[i]);
  log->n = 0;
}

void
img_internal_fs_log_free (struct img_fs_log *log)
{
  if (log == NULL)
    return;
  img_internal_fs_log_clear (log);
  free (log->changes);
  free (log);
}

size_t
img_internal_fs_log_n (const struct img_fs_log *log)
{
  return log->n;
}

const struct img_fs_change *
img_internal_fs_log_get (const struct img_fs_log *log, size_t i)
{
  return i < log->n ? log->changes[i] : NULL;
}

struct img_fs_change *
img_internal_fs_log_find (struct img_fs_log *log, struct img_fs *fs,
                          const char *fs_path)
{
  size_t i;

  for (i = log->n; i-- > 0;)
    if (log->changes[i]->fs == fs
        && strcmp (log->changes[i]->fs_path, fs_path) == 0)
      return log->changes[i];
  return NULL;
}

struct img_fs_change *
img_internal_fs_log_add (struct img_fs_log *log, struct img_fs *fs,
                         enum img_fs_change_kind kind, const char *fs_path,
                         const char *name, const char *target,
                         unsigned long op)
{
  struct img_fs_change *c;

  if (img_internal_grow ((void **) &log->changes, &log->cap, log->n,
                         sizeof *log->changes) < 0)
    return NULL;
  c = calloc (1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->kind = kind;
  c->fs = fs;
  c->op = op;
  c->fs_path = strdup (fs_path);
  c->path = strdup (name);
  c->target = target ? strdup (target) : NULL;
  if (c->fs_path == NULL || c->path == NULL || (target && c->target == NULL)) {
    change_free (c);
    return NULL;
  }
  log->changes[log->n++] = c;
  return c;
}

void
img_internal_fs_log_drop (struct img_fs_log *log, struct img_fs_change *c)
{
  size_t i;

  for (i = 0; i < log->n; i++)
    if (log->changes[i] == c) {
      memmove (&log->changes[i], &log->changes[i + 1],
               (log->n - i - 1) * sizeof *log->changes);
      log->n--;
      change_free (c);
      return;
    }
}

int
img_internal_fs_log_moved (struct img_fs_log *log, struct img_fs *fs,
                           const char *old_path, const char *new_path)
{
  size_t i, ol = strlen (old_path);

  for (i = 0; i < log->n; i++) {
    struct img_fs_change *c = log->changes[i];
    char *np;

    if (c->fs != fs || strncmp (c->fs_path, old_path, ol) != 0
        || (c->fs_path[ol] != '\0' && c->fs_path[ol] != '/'))
      continue;
    if (asprintf (&np, "%s%s", new_path, c->fs_path + ol) < 0)
      return -ENOMEM;
    free (c->fs_path);
    c->fs_path = np;
  }
  return 0;
}

int
img_internal_fs_change_read (const struct img_fs_change *c, void **buf,
                             size_t *len)
{
  struct img_stat st;
  int r;

  r = img_internal_overlay_view_lstat (c->fs, c->fs_path, &st);
  if (r < 0)
    return r;
  if (st.size > IMG_FS_CAPTURE_MAX)
    return -EFBIG;
  return img_internal_overlay_view_read (c->fs, c->fs_path, st.size, buf, len);
}
