/* libimg edits: a conversion (img2pv, img-ramify) as a plan of small,
 * named, idempotent edits, with a dry run that shows unified diffs and
 * changes no byte, and a block-level write-ahead undo record that a
 * rollback (explicit, or automatic after a failure or a kill) uses to
 * put every byte of the image back.
 *
 * Conventions as in libimg.h: 0 or -errno, one error message recorded in
 * the context, destructors accept NULL.
 */
#ifndef LIBIMG_IMG_EDIT_H
#define LIBIMG_IMG_EDIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "libimg.h"
#include "img-undo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- unified diff (udiff.c) ------------------------------------------ */

/* A unified diff of OLD and NEW (text, lines split at '\n'), CONTEXT lines
 * of context, headed "--- LABEL_OLD" / "+++ LABEL_NEW" unless both labels
 * are NULL.  Identical inputs give "" .  Missing final newlines are
 * marked "\ No newline at end of file", as diff -u does.  *out is
 * malloc'd, NUL-terminated, owned by the caller. */
int img_udiff (const char *old, size_t old_len, const char *new_,
               size_t new_len, unsigned context, const char *label_old,
               const char *label_new, char **out);
/* Whether BUF looks like text that a diff can show (no NUL byte). */
bool img_is_text (const void *buf, size_t len);

/* ---- plans and edits (edit/plan.c, changes.c, report.c) -------------- */

struct img_plan;

/* One step of a conversion.  APPLY looks at and changes the guest through
 * img_plan_guest with the img_guest_* calls (or the img_plan_* helpers
 * below, which compare before they write).  The guest's filesystems sit
 * under recording overlays: every write is logged as a change of this
 * edit (a file's with its unified diff), and in a dry run kept in memory,
 * so later reads, directory listings and stats see it.  An edit whose work
 * is already done should write nothing.  Returns 0 or -errno (with the
 * message recorded in the context). */
struct img_edit {
  const char *name;             /* short, stable: "udev-net-rules" */
  const char *description;      /* one line for the report */
  int (*apply) (struct img_plan *plan, void *data);
};

enum {
  IMG_PLAN_DRY_RUN = 1,         /* open read-only; record, never write */
  IMG_PLAN_NO_UNDO = 2,         /* no undo file (not with failures!) */
  IMG_PLAN_NO_AUTO_ROLLBACK = 4,/* an interrupted run's undo file is an
                                 * error instead of being rolled back */
};

/* A plan on the guest in IMAGES.  UNDO is the undo file (NULL: the first
 * image's path + IMG_UNDO_SUFFIX).  The caller owns *plan
 * (img_plan_free). */
int img_plan_new (struct img_ctx *ctx, const char *const *images,
                  size_t n_images, unsigned flags, const char *undo,
                  struct img_plan **plan);
void img_plan_free (struct img_plan *plan);
/* Appends an edit (EDIT must outlive the plan; DATA is passed to it). */
int img_plan_add (struct img_plan *plan, const struct img_edit *edit,
                  void *data);
/* Opens the guest "for the plan": each mounted filesystem under a
 * recording overlay; for a dry run the image is opened read-only and the
 * writes stay in memory.  An undo file left by an interrupted run is
 * rolled back first (warning), unless IMG_PLAN_NO_AUTO_ROLLBACK.  Called
 * by img_plan_run if needed; call it yourself to inspect the guest before
 * adding edits. */
int img_plan_open (struct img_plan *plan);
/* The open guest, an ordinary img_guest whose writes the plan records
 * (owned by the plan; NULL before img_plan_open and after img_plan_run). */
struct img_guest *img_plan_guest (struct img_plan *plan);
/* Runs the edits in order, closes the guest and commits the undo record.
 * If an edit (or the close) fails in a real run, the guest is closed and
 * the image rolled back from the undo record; the error is returned and
 * the report says whether the rollback worked. */
int img_plan_run (struct img_plan *plan);

/* Edits read and write the guest with img_guest_* on img_plan_guest:
 * every write is recorded, every read sees the writes before it, and a
 * write whose work is done already changes nothing (libimg.h). */
/* An informational finding ("/lib/tls not present"); not a change. */
int img_plan_note (struct img_plan *plan, const char *fmt, ...)
  __attribute__((format (printf, 2, 3)));
bool img_plan_is_dry_run (const struct img_plan *plan);
/* A fact about the conversion for the report ("kernel": "6.1.0-28-amd64");
 * setting a key again replaces its value (and kind).  Facts come after
 * the changes in the text report and under "facts" (an object) in the
 * JSON: text as a JSON string, counts and byte sizes as JSON numbers (a
 * size's key ends in "_bytes"; the text report adds its size in MiB). */
int img_plan_fact (struct img_plan *plan, const char *key, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));
int img_plan_fact_count (struct img_plan *plan, const char *key, uint64_t n);
int img_plan_fact_bytes (struct img_plan *plan, const char *key, uint64_t bytes);
/* Changes recorded so far, notes excluded (takes the guest's writes
 * not yet recorded first). */
size_t img_plan_n_changed (struct img_plan *plan);

/* Results. */
enum img_change_action {
  IMG_CHANGE_ADD = 1,           /* new file */
  IMG_CHANGE_WRITE,             /* existing file rewritten */
  IMG_CHANGE_REMOVE,
  IMG_CHANGE_MOVE,
  IMG_CHANGE_MKDIR,
  IMG_CHANGE_SYMLINK,
  IMG_CHANGE_NOTE,              /* not a change */
};

struct img_change {
  const char *edit;             /* the edit's name */
  enum img_change_action action;
  char *path;
  char *target;                 /* MOVE: new path; SYMLINK: target */
  char *detail;                 /* NOTE text; binary "N -> M bytes" */
  char *diff;                   /* unified diff for text files, or NULL */
};

/* How a run ended. */
enum img_plan_status {
  IMG_PLAN_NOT_RUN = 0,
  IMG_PLAN_CHANGED,             /* changes made (or, dry run, would be) */
  IMG_PLAN_NOTHING,             /* nothing to do */
  IMG_PLAN_FAILED,              /* error; image restored (or untouched) */
  IMG_PLAN_FAILED_DIRTY,        /* error and the rollback failed too */
};

size_t img_plan_n_changes (const struct img_plan *plan);   /* notes too */
/* Why the run failed (the plan's), or NULL; owned by the plan. */
const char *img_plan_error (const struct img_plan *plan);
/* The name of the edit that failed, or NULL (the run failed elsewhere,
 * or did not fail). */
const char *img_plan_failed_edit (const struct img_plan *plan);
const struct img_change *img_plan_change (const struct img_plan *plan,
                                          size_t i);
enum img_plan_status img_plan_status (const struct img_plan *plan);
const char *img_plan_action_name (enum img_change_action a);

/* Reports.  The text report is for people.  The JSON report (one object)
 * is stable; fields:
 *   "images": [paths], "dry_run": bool,
 *   "status": "changed" | "nothing-to-do" | "failed" | "failed-dirty" |
 *       "not-run" (the plan never ran: its caller stopped before),
 *   "error": message or null, "undo": undo file path, null in a dry run
 *       or a plan not run,
 *   "rolled_back": bool (this run's changes were undone after a failure),
 *   "recovered_interrupted_run": bool, "facts": {key: string or number},
 *   "edits": [{"name", "description", "changes": count (notes excluded)}],
 *   "changes": [{"edit", "action": "add" | "write" | "remove" | "move" |
 *       "mkdir" | "symlink" | "note", "path", "target" (move, symlink),
 *       "detail" (note, binary file), "diff" (text file)}] — absent keys
 *       are omitted.
 * Both write to FP.  img_plan_report_json_fields writes the same fields
 * but "error" into the object J has open, for a caller that adds its own
 * (the tools' versioned reports). */
struct img_json;
void img_plan_report_json_fields (const struct img_plan *plan, struct img_json *j);
void img_plan_report_text (const struct img_plan *plan, FILE *fp);
void img_plan_report_json (const struct img_plan *plan, FILE *fp);

#ifdef __cplusplus
}
#endif

#endif /* LIBIMG_IMG_EDIT_H */
