/* A plan's change list: the changes the overlays under the guest logged
 * (each file's with a unified diff, or its sizes), the notes edits add,
 * and the helpers edits call, thin wrappers over img_guest_* that first
 * compare, so that an edit whose work is done changes nothing. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "edit/plan-private.h"

#define READ_MAX (256u << 20)   /* biggest file an edit may rewrite */
#define DIFF_MAX IMG_FS_CAPTURE_MAX     /* bigger files get no diff */

/* ---- the change list ------------------------------------------------ */

static int
record (struct img_plan *p, enum img_change_action action, const char *path,
        const char *target, char *detail, char *diff)
{
  struct img_change *c = realloc (p->changes, (p->n_changes + 1) * sizeof *c);

  if (c == NULL)
    goto oom;
  p->changes = c;
  c += p->n_changes;
  memset (c, 0, sizeof *c);
  c->edit = p->n_edits ? p->edits[p->cur].edit->name : "";
  c->action = action;
  c->detail = detail;
  c->diff = diff;
  c->path = strdup (path);
  c->target = target ? strdup (target) : NULL;
  if (c->path == NULL || (target && c->target == NULL)) {
    free (c->path);
    free (c->target);
    detail = diff = NULL;
    goto oom;
  }
  p->n_changes++;
  if (action != IMG_CHANGE_NOTE && p->n_edits)
    p->edits[p->cur].n_changes++;
  img_dbg (p->ctx, "plan: %s: %s %s", c->edit, img_plan_action_name (action), path);
  return 0;

 oom:
  free (detail);
  free (diff);
  return img_err (p->ctx, -ENOMEM, "plan: out of memory");
}

void
img_internal_plan_free_changes (struct img_plan *p)
{
  size_t i;

  for (i = 0; i < p->n_changes; i++) {
    free (p->changes[i].path);
    free (p->changes[i].target);
    free (p->changes[i].detail);
    free (p->changes[i].diff);
  }
  free (p->changes);
  p->changes = NULL;
  p->n_changes = 0;
}

size_t
img_internal_plan_count (const struct img_plan *p)
{
  size_t i, n = 0;

  for (i = 0; i < p->n_changes; i++)
    n += p->changes[i].action != IMG_CHANGE_NOTE;
  return n;
}

static int
set_detail_sizes (char **detail, bool existed, uint64_t old_len,
                  uint64_t new_len)
{
  int r;

  if (existed)
    r = asprintf (detail, "binary file, %" PRIu64 " -> %" PRIu64 " bytes",
                  old_len, new_len);
  else
    r = asprintf (detail, "binary file, %" PRIu64 " bytes", new_len);
  if (r == -1) {
    *detail = NULL;
    return -ENOMEM;
  }
  return 0;
}

/* What a logged write or new file shows: a unified diff of small text,
 * the sizes otherwise.  *same: the file holds what it held before. */
static int
describe_file (struct img_plan *p, const struct img_fs_change *c,
               char **diff, char **detail, bool *same)
{
  struct img_stat st;
  char *la = NULL, *lb = NULL;
  void *buf = NULL;
  size_t len;
  int r;

  *diff = *detail = NULL;
  *same = false;
  r = img_internal_overlay_view_lstat (c->fs, c->fs_path, &st);
  if (r < 0)
    return r;
  if (st.size > DIFF_MAX || (c->existed && (!c->captured || c->old_size > DIFF_MAX)))
    return set_detail_sizes (detail, c->existed, c->old_size, st.size);
  r = img_internal_fs_change_read (c, &buf, &len);
  if (r < 0)
    return r;
  if (c->existed && c->old_size == len && memcmp (c->old, buf, len) == 0) {
    free (buf);
    *same = true;
    return 0;
  }
  if (img_is_text (buf, len) && (!c->existed || img_is_text (c->old, c->old_size))) {
    if (asprintf (&la, "a%s", c->path) == -1)
      la = NULL;
    if (asprintf (&lb, "b%s", c->path) == -1)
      lb = NULL;
    r = la && lb ? img_udiff (c->existed ? c->old : "", c->old_size, buf, len,
                              3, c->existed ? la : "/dev/null", lb, diff)
      : -ENOMEM;
    if (r == 0 && (*diff)[0] == '\0') {
      free (*diff);
      *diff = NULL;
    }
  }
  free (la);
  free (lb);
  free (buf);
  if (r == 0 && *diff == NULL)
    r = set_detail_sizes (detail, c->existed, c->old_size, len);
  return r;
}

static enum img_change_action
action_of (enum img_fs_change_kind k)
{
  switch (k) {
  case IMG_FS_CHANGE_ADD: return IMG_CHANGE_ADD;
  case IMG_FS_CHANGE_WRITE: return IMG_CHANGE_WRITE;
  case IMG_FS_CHANGE_REMOVE: return IMG_CHANGE_REMOVE;
  case IMG_FS_CHANGE_MOVE: return IMG_CHANGE_MOVE;
  case IMG_FS_CHANGE_MKDIR: return IMG_CHANGE_MKDIR;
  case IMG_FS_CHANGE_SYMLINK: return IMG_CHANGE_SYMLINK;
  }
  return IMG_CHANGE_NOTE;
}

int
img_internal_plan_take_changes (struct img_plan *p)
{
  size_t i, n;
  int r = 0;

  if (p->log == NULL)
    return 0;
  n = img_internal_fs_log_n (p->log);
  for (i = 0; i < n && r == 0; i++) {
    const struct img_fs_change *c = img_internal_fs_log_get (p->log, i);
    char *diff = NULL, *detail = NULL;
    bool same = false;

    if (c->detail)
      r = (detail = strdup (c->detail)) ? 0 : -ENOMEM;
    else if (c->kind == IMG_FS_CHANGE_ADD || c->kind == IMG_FS_CHANGE_WRITE)
      r = describe_file (p, c, &diff, &detail, &same);
    if (r < 0) {
      if (r == -ENOMEM)
        r = img_err (p->ctx, r, "plan: out of memory");
      else if (img_ctx_error (p->ctx)[0] == '\0')
        r = img_err (p->ctx, r, "%s: %s: %s", p->images[0], c->path, strerror (-r));
      break;
    }
    if (!same)
      r = record (p, action_of (c->kind), c->path, c->target, detail, diff);
  }
  img_internal_fs_log_clear (p->log);
  return r;
}

size_t
img_plan_n_changed (struct img_plan *p)
{
  img_internal_plan_take_changes (p);
  return img_internal_plan_count (p);
}

int
img_plan_note (struct img_plan *p, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  int r;

  /* In its place among the changes the edit made before. */
  r = img_internal_plan_take_changes (p);
  if (r < 0)
    return r;
  va_start (ap, fmt);
  r = vasprintf (&msg, fmt, ap);
  va_end (ap);
  if (r == -1)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  return record (p, IMG_CHANGE_NOTE, "", NULL, msg, NULL);
}

/* ---- helpers for edits -------------------------------------------- */

int
img_plan_read_file (struct img_plan *p, const char *path, size_t max,
                    void **buf, size_t *len)
{
  return img_guest_read_file (p->g, path, max, buf, len);
}

bool
img_plan_exists (struct img_plan *p, const char *path)
{
  bool e = img_guest_exists (p->g, path);

  img_ctx_clear_error (p->ctx);
  return e;
}

/* Whether the regular file PATH holds exactly BUF, LEN bytes, read a
 * chunk at a time: a file too big to diff (a root archive) is never read
 * whole, so it costs no file budget. */
static bool
same_bytes (struct img_plan *p, const char *path, const void *buf, size_t len)
{
  const size_t chunk = 1u << 20;
  unsigned char *tmp;
  size_t off = 0, got;
  bool same = true;

  tmp = malloc (chunk);
  if (tmp == NULL)
    return false;
  while (same && off < len) {
    size_t want = len - off < chunk ? len - off : chunk;
    if (img_guest_pread (p->g, path, tmp, want, off, &got) < 0 || got != want
        || memcmp (tmp, (const unsigned char *) buf + off, want) != 0)
      same = false;
    off += want;
  }
  free (tmp);
  img_ctx_clear_error (p->ctx);
  return same;
}

int
img_plan_write_file (struct img_plan *p, const char *path, const void *buf,
                     size_t len, uint32_t mode)
{
  struct img_stat st;
  void *old = NULL;
  size_t old_len = 0;
  bool same;
  int r;

  r = img_guest_lstat (p->g, path, &st);
  if (r == 0 && S_ISREG (st.mode) && (st.size > DIFF_MAX || len > DIFF_MAX)) {
    if (st.size == len && same_bytes (p, path, buf, len))
      return 0;                 /* done already */
  }
  else {
    img_ctx_clear_error (p->ctx);
    r = img_guest_read_file (p->g, path, READ_MAX, &old, &old_len);
    if (r < 0 && r != -ENOENT)
      return r;
    img_ctx_clear_error (p->ctx);
    same = r == 0 && old_len == len && memcmp (old, buf, len) == 0;
    free (old);
    if (same)
      return 0;                 /* done already */
  }
  return img_guest_write_file (p->g, path, buf, len, mode);
}

int
img_plan_remove (struct img_plan *p, const char *path)
{
  struct img_stat st;
  int r;

  r = img_guest_lstat (p->g, path, &st);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    return 0;
  }
  if (r < 0)
    return r;
  if (S_ISDIR (st.mode))
    return img_guest_rmdir (p->g, path);
  return img_guest_unlink (p->g, path);
}

int
img_plan_rename (struct img_plan *p, const char *oldpath, const char *newpath)
{
  struct img_stat st;
  int r;

  r = img_guest_lstat (p->g, oldpath, &st);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    if (img_guest_lstat (p->g, newpath, &st) == 0)
      return 0;                 /* moved already */
    return img_err (p->ctx, -ENOENT, "%s: cannot move %s to %s: neither exists",
                    p->images[0], oldpath, newpath);
  }
  if (r < 0)
    return r;
  return img_guest_rename (p->g, oldpath, newpath);
}

int
img_plan_mkdir_p (struct img_plan *p, const char *path, uint32_t mode)
{
  struct img_stat st;
  int r;

  r = img_guest_lstat (p->g, path, &st);
  if (r == 0 && S_ISLNK (st.mode))
    r = img_guest_stat (p->g, path, &st);
  if (r == 0) {
    if (S_ISDIR (st.mode))
      return 0;
    return img_err (p->ctx, -ENOTDIR, "%s: %s exists and is not a directory",
                    p->images[0], path);
  }
  if (r != -ENOENT)
    return r;
  img_ctx_clear_error (p->ctx);
  return img_guest_mkdir_p (p->g, path, mode);
}

int
img_plan_symlink (struct img_plan *p, const char *target, const char *path)
{
  struct img_stat st;
  char *cur = NULL;
  int r;

  r = img_guest_lstat (p->g, path, &st);
  if (r == 0) {
    bool same = false;
    if (S_ISLNK (st.mode) && img_guest_readlink (p->g, path, &cur) == 0)
      same = strcmp (cur, target) == 0;
    free (cur);
    img_ctx_clear_error (p->ctx);
    if (same)
      return 0;
    return img_err (p->ctx, -EEXIST, "%s: %s exists and is not a link to %s",
                    p->images[0], path, target);
  }
  if (r != -ENOENT)
    return r;
  img_ctx_clear_error (p->ctx);
  return img_guest_symlink (p->g, target, path);
}
