/* Plans of edits: the conversion tools describe what they do as small,
 * named, idempotent edits; this runs them against the guest, whose
 * filesystems sit under recording overlays (in a dry run, opened
 * read-only with the writes kept in memory), keeps the undo record and
 * rolls the image back when a run fails. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest-private.h"
#include "edit/plan-private.h"

/* ---- setup ---------------------------------------------------------- */

int
img_plan_new (struct img_ctx *ctx, const char *const *images,
              size_t n_images, unsigned flags, const char *undo,
              struct img_plan **planp)
{
  struct img_plan *p;
  size_t i;

  if (n_images == 0)
    return img_err (ctx, -EINVAL, "plan: no image given");
  p = calloc (1, sizeof *p);
  if (p == NULL)
    return img_err (ctx, -ENOMEM, "plan: out of memory");
  p->ctx = ctx;
  p->flags = flags;
  p->images = calloc (n_images, sizeof *p->images);
  if (p->images == NULL)
    goto oom;
  p->n_images = n_images;
  for (i = 0; i < n_images; i++)
    if ((p->images[i] = strdup (images[i])) == NULL)
      goto oom;
  if (!(flags & IMG_PLAN_NO_UNDO)) {
    if (undo)
      p->undo_path = strdup (undo);
    else if (asprintf (&p->undo_path, "%s%s", images[0], IMG_UNDO_SUFFIX) == -1)
      p->undo_path = NULL;
    if (p->undo_path == NULL)
      goto oom;
  }
  *planp = p;
  return 0;

 oom:
  img_plan_free (p);
  return img_err (ctx, -ENOMEM, "plan: out of memory");
}

void
img_plan_free (struct img_plan *p)
{
  size_t i;

  if (p == NULL)
    return;
  img_guest_close (p->g);
  img_undo_free (p->undo);
  for (i = 0; i < p->n_images && p->images; i++)
    free (p->images[i]);
  free (p->images);
  free (p->undo_path);
  free (p->edits);
  img_internal_plan_free_changes (p);
  img_internal_fs_log_free (p->log);    /* after the guest's overlays */
  for (i = 0; i < p->n_facts; i++) {
    free (p->facts[i].key);
    free (p->facts[i].text);
  }
  free (p->facts);
  free (p->error);
  free (p);
}

/* Sets fact KEY (a new one last, a known one in its place) to TEXT
 * (taken, may be NULL) or NUM.  0 or -ENOMEM. */
static int
set_fact (struct img_plan *p, const char *key, enum plan_fact_kind kind, char *text,
          uint64_t num)
{
  struct plan_fact *f = NULL, *nf;
  size_t i;

  for (i = 0; i < p->n_facts && f == NULL; i++)
    if (strcmp (p->facts[i].key, key) == 0)
      f = &p->facts[i];
  if (f == NULL) {
    char *k = strdup (key);
    nf = k ? realloc (p->facts, (p->n_facts + 1) * sizeof *nf) : NULL;
    if (nf == NULL) {
      free (k);
      free (text);
      return img_err (p->ctx, -ENOMEM, "plan: out of memory");
    }
    p->facts = nf;
    f = &nf[p->n_facts++];
    *f = (struct plan_fact) { .key = k };
  }
  free (f->text);
  f->kind = kind;
  f->text = text;
  f->num = num;
  return 0;
}

int
img_plan_fact (struct img_plan *p, const char *key, const char *fmt, ...)
{
  char *v = NULL;
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&v, fmt, ap);
  va_end (ap);
  if (n < 0)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  return set_fact (p, key, PLAN_FACT_TEXT, v, 0);
}

int
img_plan_fact_count (struct img_plan *p, const char *key, uint64_t n)
{
  return set_fact (p, key, PLAN_FACT_COUNT, NULL, n);
}

int
img_plan_fact_bytes (struct img_plan *p, const char *key, uint64_t bytes)
{
  return set_fact (p, key, PLAN_FACT_BYTES, NULL, bytes);
}

int
img_plan_add (struct img_plan *p, const struct img_edit *edit, void *data)
{
  struct plan_edit *e = realloc (p->edits, (p->n_edits + 1) * sizeof *e);

  if (e == NULL)
    return img_err (p->ctx, -ENOMEM, "plan: out of memory");
  p->edits = e;
  e[p->n_edits++] = (struct plan_edit) { edit, data, 0 };
  return 0;
}

struct img_guest *
img_plan_guest (struct img_plan *p)
{
  return p->g;
}

bool
img_plan_is_dry_run (const struct img_plan *p)
{
  return (p->flags & IMG_PLAN_DRY_RUN) != 0;
}

/* Deals with an undo file left by an earlier run before we open. */
static int
settle_undo_file (struct img_plan *p)
{
  const char *path = p->undo_path;
  int state, r;

  r = img_undo_state (p->ctx, path, &state);
  if (r == -ENOENT) {
    img_ctx_clear_error (p->ctx);
    return 0;
  }
  if (r < 0)
    return r;
  switch (state) {
  case IMG_UNDO_RUNNING:
    if (p->flags & IMG_PLAN_NO_AUTO_ROLLBACK)
      return img_err (p->ctx, -EBUSY,
                      "%s: a previous run was interrupted (undo file %s); roll it back first",
                      p->images[0], path);
    r = img_undo_rollback (p->ctx, path, (const char *const *) p->images,
                           p->n_images, IMG_UNDO_LAST_RUN);
    if (r < 0)
      return r;
    img_warn (p->ctx, "%s: a previous run was interrupted; rolled its changes back (from %s)",
              p->images[0], path);
    p->recovered = true;
    return settle_undo_file (p);
  case IMG_UNDO_COMPLETE:
    return 0;                   /* appended to */
  default:
    /* Rolled back (the image is as it was before), or cut short before
     * the first write: nothing in it is needed any more. */
    return img_undo_discard (p->ctx, path);
  }
}

int
img_plan_open (struct img_plan *p)
{
  bool dry = img_plan_is_dry_run (p);
  size_t i, n;
  struct img_disk *disks[64];
  int r;

  if (p->opened)
    return p->g ? 0 : img_err (p->ctx, -EINVAL, "plan: already run");
  p->opened = true;
  if (!dry && p->undo_path) {
    r = settle_undo_file (p);
    if (r < 0)
      return r;
  }
  r = img_guest_open (p->ctx, (const char *const *) p->images, p->n_images,
                      dry ? IMG_FS_RDONLY : IMG_FS_RDWR, &p->g);
  if (r < 0) {
    p->g = NULL;
    return r;
  }
  if (img_guest_n_roots (p->g) == 0) {
    const char *why = img_guest_no_root_reason (p->g);
    r = why ? img_err (p->ctx, -ENOENT, "%s", why)
            : img_err (p->ctx, -ENOENT, "%s: no Linux root filesystem found", p->images[0]);
    goto err;
  }
  /* Every write of the edits goes through an overlay that logs it (and,
   * in a dry run, keeps it in memory, the image opened read-only). */
  r = img_internal_fs_log_new (p->ctx, &p->log);
  if (r == 0)
    r = img_internal_guest_overlay (p->g, dry, p->log);
  if (r < 0)
    goto err;
  if (dry || p->undo_path == NULL)
    return 0;
  n = img_guest_n_disks (p->g);
  if (n > sizeof disks / sizeof disks[0]) {
    r = img_err (p->ctx, -EINVAL, "%s: too many images", p->images[0]);
    goto err;
  }
  for (i = 0; i < n; i++)
    disks[i] = img_guest_disk (p->g, i);
  r = img_undo_begin (p->ctx, p->undo_path, disks, n, true, &p->undo);
  if (r < 0)
    goto err;
  return 0;

 err:
  img_guest_close (p->g);
  p->g = NULL;
  return r;
}

/* ---- running -------------------------------------------------------- */

static void
set_error (struct img_plan *p)
{
  free (p->error);
  p->error = strdup (img_ctx_error (p->ctx));
}

/* After a clean automatic rollback, an undo file that held this run only
 * has done its job: it goes (one with earlier runs in it stays). */
static void
discard_rolled_back (struct img_plan *p)
{
  int state;

  if (img_undo_state (p->ctx, p->undo_path, &state) == 0 && state == IMG_UNDO_ROLLED_BACK
      && img_undo_discard (p->ctx, p->undo_path) == 0)
    img_dbg (p->ctx, "%s: rolled back: undo file removed", p->undo_path);
}

int
img_plan_run (struct img_plan *p)
{
  bool written;
  size_t i;
  int r, r2;

  r = img_plan_open (p);
  if (r < 0) {
    set_error (p);
    p->status = IMG_PLAN_FAILED;
    return r;
  }
  for (i = 0; i < p->n_edits && r == 0; i++) {
    p->cur = i;
    img_dbg (p->ctx, "plan: running edit %s", p->edits[i].edit->name);
    img_progress_step (p->ctx, IMG_PROGRESS_TRACE, "edit %s", p->edits[i].edit->name);
    img_progress_step (p->ctx, IMG_PROGRESS_STEP, "%s", p->edits[i].edit->description);
    img_ctx_clear_error (p->ctx);
    r = p->edits[i].edit->apply (p, p->edits[i].data);
    if (r < 0 && img_ctx_error (p->ctx)[0] == '\0')
      img_err (p->ctx, r, "%s: edit %s failed: %s", p->images[0],
               p->edits[i].edit->name, strerror (-r));
    if (r < 0) {
      set_error (p);
      p->failed_edit = p->edits[i].edit->name;
    }
    /* What the edit changed, failed or not, is its. */
    r2 = img_internal_plan_take_changes (p);
    if (r == 0 && r2 < 0) {
      r = r2;
      set_error (p);
    }
  }
  /* Everything the edits wrote reaches the image here (and is saved in
   * the undo file first, by the hook). */
  r2 = img_guest_close_fs (p->g);
  if (r2 < 0 && r == 0) {
    r = r2;
    set_error (p);
  }
  /* The undo record is committed while the disks are still open: the
   * images stay locked (ours, qemu's) until the record is complete. */
  if (r == 0 && p->undo) {
    struct img_disk *disks[64];
    size_t n = img_guest_n_disks (p->g);
    for (i = 0; i < n && i < 64; i++)
      disks[i] = img_guest_disk (p->g, i);
    if ((r = img_undo_commit_disks (p->undo, disks, n)) < 0)
      /* The image is converted but the record of it is not complete:
       * treat like an interrupted run, roll back. */
      set_error (p);
  }
  r2 = img_guest_close (p->g);
  p->g = NULL;
  if (r2 < 0 && r == 0) {
    r = r2;
    set_error (p);
  }
  if (r == 0) {
    img_undo_free (p->undo);
    p->undo = NULL;
    p->status = img_internal_plan_count (p) ? IMG_PLAN_CHANGED : IMG_PLAN_NOTHING;
    return 0;
  }

  p->status = IMG_PLAN_FAILED;
  if (img_plan_is_dry_run (p))
    return r;
  if (p->undo == NULL) {
    p->status = IMG_PLAN_FAILED_DIRTY;
    return r;
  }
  written = img_undo_written (p->undo);
  /* Let go of the undo file (and its lock) before rolling back from it. */
  img_undo_free (p->undo);
  p->undo = NULL;
  if (written) {
    char *err = p->error;
    p->error = NULL;
    r2 = img_undo_rollback (p->ctx, p->undo_path,
                            (const char *const *) p->images, p->n_images,
                            IMG_UNDO_LAST_RUN);
    if (r2 < 0) {
      img_err (p->ctx, r2, "%s: %s; rolling back also failed: %s (run the rollback by hand from %s)",
               p->images[0], err ? err : "", img_ctx_error (p->ctx),
               p->undo_path);
      free (err);
      set_error (p);
      p->status = IMG_PLAN_FAILED_DIRTY;
      return r;
    }
    p->error = err;
    p->rolled_back = true;
    discard_rolled_back (p);
    img_err (p->ctx, r, "%s (every change was rolled back)",
             err ? err : "error");
  }
  return r;
}

