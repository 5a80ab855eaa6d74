/* A plan's insides, shared by plan.c (its life: open, run, undo),
 * changes.c (the change list, from the overlays' log) and report.c. */
#ifndef LIBIMG_EDIT_PLAN_PRIVATE_H
#define LIBIMG_EDIT_PLAN_PRIVATE_H

#include "img-edit.h"
#include "fs/overlay.h"
#include "private.h"

struct plan_edit {
  const struct img_edit *edit;
  void *data;
  size_t n_changes;             /* notes excluded */
};

/* A fact for the report: text, or a number (a count, or bytes). */
enum plan_fact_kind { PLAN_FACT_TEXT, PLAN_FACT_COUNT, PLAN_FACT_BYTES };
struct plan_fact {
  char *key;
  enum plan_fact_kind kind;
  char *text;                   /* PLAN_FACT_TEXT */
  uint64_t num;                 /* the others */
};

struct img_plan {
  struct img_ctx *ctx;
  char **images;
  size_t n_images;
  unsigned flags;
  char *undo_path;              /* NULL with IMG_PLAN_NO_UNDO */
  struct img_guest *g;          /* its filesystems under overlays */
  struct img_fs_log *log;       /* what the overlays changed, not yet taken */
  struct img_undo *undo;
  bool opened;
  size_t n_edits;
  struct plan_edit *edits;
  size_t cur;                   /* the edit running */
  const char *failed_edit;      /* the name of the edit that failed, or NULL */
  size_t n_changes;
  struct img_change *changes;
  enum img_plan_status status;
  char *error;
  bool rolled_back;             /* this run's writes were undone */
  bool recovered;               /* an interrupted run was rolled back */
  size_t n_facts;
  struct plan_fact *facts;
};

/* Moves the overlays' logged changes into the change list (with diffs),
 * under the edit running. */
int img_internal_plan_take_changes (struct img_plan *p);
/* Changes in the list, notes excluded. */
size_t img_internal_plan_count (const struct img_plan *p);
/* Frees the change list. */
void img_internal_plan_free_changes (struct img_plan *p);

#endif /* LIBIMG_EDIT_PLAN_PRIVATE_H */
