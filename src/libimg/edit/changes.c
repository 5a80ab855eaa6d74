/* A plan's change list: the changes the overlays under the guest logged
 * (each file's with a unified diff, or its sizes) and the notes edits
 * add.  Edits write through img_guest_* on the plan's guest. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "edit/plan-private.h"

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
