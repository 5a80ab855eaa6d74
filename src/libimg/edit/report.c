/* A plan's results: the change list, how the run ended, the exit code
 * the tools give for it, and the reports (text for people, JSON). */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "edit/plan-private.h"
#include "img-json.h"
#include "img-quote.h"

#define MiB ((uint64_t) 1 << 20)

/* ---- results and reports ---------------------------------------------- */

size_t
img_plan_n_changes (const struct img_plan *p)
{
  return p->n_changes;
}

const struct img_change *
img_plan_change (const struct img_plan *p, size_t i)
{
  return i < p->n_changes ? &p->changes[i] : NULL;
}

enum img_plan_status
img_plan_status (const struct img_plan *p)
{
  return p->status;
}

const char *
img_plan_error (const struct img_plan *p)
{
  return p->error;
}

const char *
img_plan_failed_edit (const struct img_plan *p)
{
  return p->failed_edit;
}

const char *
img_plan_action_name (enum img_change_action a)
{
  switch (a) {
  case IMG_CHANGE_ADD: return "add";
  case IMG_CHANGE_WRITE: return "write";
  case IMG_CHANGE_REMOVE: return "remove";
  case IMG_CHANGE_MOVE: return "move";
  case IMG_CHANGE_MKDIR: return "mkdir";
  case IMG_CHANGE_SYMLINK: return "symlink";
  case IMG_CHANGE_NOTE: return "note";
  }
  return "?";
}

static const char *
status_name (enum img_plan_status s)
{
  switch (s) {
  case IMG_PLAN_CHANGED: return "changed";
  case IMG_PLAN_NOTHING: return "nothing-to-do";
  case IMG_PLAN_FAILED: return "failed";
  case IMG_PLAN_FAILED_DIRTY: return "failed-dirty";
  default: return "not-run";
  }
}

/* Prints S for the terminal (img_quote_term): guest paths, notes and diff
 * lines may hold any byte.  With KEEP_NL (diffs) newlines pass. */
static void
term_puts (FILE *fp, const char *s, int keep_nl)
{
  char *q = img_quote_term (s ? s : "", keep_nl);

  fputs (q ? q : "?", fp);
  free (q);
}

void
img_plan_report_text (const struct img_plan *p, FILE *fp)
{
  bool dry = img_plan_is_dry_run (p);
  size_t i, n = img_internal_plan_count (p);

  if (p->recovered)
    fprintf (fp, "A previous run was interrupted; its changes were rolled back first.\n");
  for (i = 0; i < p->n_changes; i++) {
    const struct img_change *c = &p->changes[i];

    fputc ('[', fp);
    term_puts (fp, c->edit, 0);
    if (c->action == IMG_CHANGE_NOTE) {
      fputs ("] note: ", fp);
      term_puts (fp, c->detail, 0);
      fputc ('\n', fp);
      continue;
    }
    fprintf (fp, "] %s ", img_plan_action_name (c->action));
    term_puts (fp, c->path, 0);
    if (c->action == IMG_CHANGE_MOVE || c->action == IMG_CHANGE_SYMLINK) {
      fputs (" -> ", fp);
      term_puts (fp, c->target, 0);
    }
    if (c->detail) {
      fputs (" (", fp);
      term_puts (fp, c->detail, 0);
      fputc (')', fp);
    }
    fputc ('\n', fp);
    if (c->diff)
      term_puts (fp, c->diff, 1);
  }
  for (i = 0; i < p->n_facts; i++) {
    const struct plan_fact *f = &p->facts[i];
    term_puts (fp, f->key, 0);
    fputs (": ", fp);
    if (f->kind == PLAN_FACT_TEXT)
      term_puts (fp, f->text, 0);
    else
      fprintf (fp, "%" PRIu64, f->num);
    if (f->kind == PLAN_FACT_BYTES && f->num >= MiB)
      fprintf (fp, " (%" PRIu64 " MiB)", f->num / MiB);
    fputc ('\n', fp);
  }
  switch (p->status) {
  case IMG_PLAN_CHANGED:
    fprintf (fp, "%zu change%s %s.\n", n, n == 1 ? "" : "s",
             dry ? "would be made (dry run: nothing was written)" : "made");
    if (!dry && p->undo_path) {
      fputs ("Undo record: ", fp);
      term_puts (fp, p->undo_path, 0);
      fputc ('\n', fp);
    }
    break;
  case IMG_PLAN_NOTHING:
    fprintf (fp, "Nothing to do.\n");
    break;
  case IMG_PLAN_FAILED:
    fputs ("Failed: ", fp);
    term_puts (fp, p->error, 0);
    fputc ('\n', fp);
    if (p->rolled_back)
      fprintf (fp, "Every change of this run was rolled back; the image is as it was.\n");
    else
      fprintf (fp, "The image was not changed.\n");
    break;
  case IMG_PLAN_FAILED_DIRTY:
    fputs ("Failed: ", fp);
    term_puts (fp, p->error, 0);
    fputc ('\n', fp);
    fputs ("The image may be partly changed", fp);
    if (p->undo_path) {
      fputs ("; roll it back from ", fp);
      term_puts (fp, p->undo_path, 0);
    }
    fputs (".\n", fp);
    break;
  default:
    break;
  }
}

void
img_plan_report_json_fields (const struct img_plan *p, struct img_json *j)
{
  size_t i, k;

  img_json_key (j, "images");
  img_json_begin_array (j);
  for (i = 0; i < p->n_images; i++)
    img_json_string (j, p->images[i]);
  img_json_end_array (j);
  img_json_kv_bool (j, "dry_run", img_plan_is_dry_run (p));
  img_json_kv_string (j, "status", status_name (p->status));
  img_json_kv_string (j, "undo", img_plan_is_dry_run (p) || p->status == IMG_PLAN_NOT_RUN
                                 ? NULL : p->undo_path);
  img_json_kv_bool (j, "rolled_back", p->rolled_back);
  img_json_kv_bool (j, "recovered_interrupted_run", p->recovered);
  img_json_key (j, "facts");
  img_json_begin_object (j);
  for (i = 0; i < p->n_facts; i++) {
    if (p->facts[i].kind == PLAN_FACT_TEXT)
      img_json_kv_string (j, p->facts[i].key, p->facts[i].text);
    else
      img_json_kv_uint (j, p->facts[i].key, p->facts[i].num);
  }
  img_json_end_object (j);
  img_json_key (j, "edits");
  img_json_begin_array (j);
  for (i = 0; i < p->n_edits; i++) {
    img_json_begin_object (j);
    img_json_kv_string (j, "name", p->edits[i].edit->name);
    img_json_kv_string (j, "description", p->edits[i].edit->description);
    img_json_kv_uint (j, "changes", p->edits[i].n_changes);
    img_json_end_object (j);
  }
  img_json_end_array (j);
  img_json_key (j, "changes");
  img_json_begin_array (j);
  for (k = 0; k < p->n_changes; k++) {
    const struct img_change *c = &p->changes[k];
    img_json_begin_object (j);
    img_json_kv_string (j, "edit", c->edit);
    img_json_kv_string (j, "action", img_plan_action_name (c->action));
    if (c->action != IMG_CHANGE_NOTE)
      img_json_kv_string (j, "path", c->path);
    if (c->target)
      img_json_kv_string (j, "target", c->target);
    if (c->detail)
      img_json_kv_string (j, "detail", c->detail);
    if (c->diff)
      img_json_kv_string (j, "diff", c->diff);
    img_json_end_object (j);
  }
  img_json_end_array (j);
}

void
img_plan_report_json (const struct img_plan *p, FILE *fp)
{
  struct img_json j;

  img_json_init (&j, fp);
  img_json_begin_object (&j);
  img_json_kv_string (&j, "error", p->error);
  img_plan_report_json_fields (p, &j);
  img_json_end_object (&j);
  img_json_finish (&j);
}
