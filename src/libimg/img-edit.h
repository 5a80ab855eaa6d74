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

#ifdef __cplusplus
extern "C" {
#endif

/* ---- disk write hook (disk.c) ---------------------------------------- */

/* Called by img_disk_pwrite before every write reaches the image, with
 * the range about to be written.  A negative return fails the write with
 * that code (the hook records the message); nothing is written then.
 * The hook may read the disk (img_disk_pread) but must not write it. */
typedef int (*img_disk_write_hook) (void *data, struct img_disk *disk,
                                    uint64_t offset, size_t len);
/* Sets (or, with FN NULL, clears) the hook of DISK.  Setting one on a disk
 * that has already been written is refused with -EBUSY: a hook that
 * missed a write could not undo it. */
int img_disk_set_write_hook (struct img_disk *disk, img_disk_write_hook fn,
                             void *data);

/* ---- undo record (undo.c) -------------------------------------------- */

/* The undo file keeps, for every 4 KiB chunk of the image's (virtual)
 * disk that a run writes, the chunk's bytes before the first write,
 * appended and fdatasync'd before that write is let through (write-ahead).
 * Format, all integers little-endian:
 *
 *   header   "IMGUNDO1" u32 version(1) u32 header_len u32 chunk_size
 *            u32 n_disks u64 created(unix seconds), then per disk:
 *            u64 size, char format[16] (NUL padded), u32 path_len, path
 *            bytes; then u32 CRC-32 of everything before it.
 *   records  u32 magic "UREC", u32 type, u32 disk, u32 flags, u64 offset,
 *            u32 length, u32 payload_len, u32 payload_crc, u32 head_crc
 *            (CRC-32 of the 36 bytes before it), then the payload.
 *     type 1 DATA: LENGTH original bytes at OFFSET of disk DISK; flag 1
 *            (ZERO) means they were all zeros and there is no payload.
 *     type 2 STATE: OFFSET holds enum img_undo_state.
 *     type 3 POST: payload = entries {u32 disk, u64 offset, u32 crc} of
 *            every chunk as the run left it (checked by a rollback).
 *
 * Records are only appended.  A record that is cut short or fails its
 * CRCs (a run killed while appending) ends the log: its image write never
 * happened, so ignoring it is right.  The state is the last STATE record
 * (RUNNING if none).  A rollback writes back the DATA records (the first
 * write to each chunk only, so their order does not matter), flushes and
 * appends STATE rolled-back.  For raw images the result is byte-identical;
 * for qcow2 and other formats the virtual disk is identical, though the
 * container may keep clusters it allocated (qemu-img compare says equal).
 */
enum img_undo_state {
  IMG_UNDO_RUNNING = 1,         /* a run is writing, or died doing so */
  IMG_UNDO_COMPLETE = 2,        /* the last run finished */
  IMG_UNDO_ROLLED_BACK = 3,     /* the image was restored */
};

#define IMG_UNDO_CHUNK 4096
#define IMG_UNDO_SUFFIX ".img-tools-undo"

struct img_undo;

/* Starts recording the writes to DISKS (as opened by img_guest_open; they
 * must not have been written yet) into the undo file PATH.  The file is
 * created (O_EXCL) lazily, at the first write, so a run that writes
 * nothing leaves no file.  With APPEND, an existing file in state
 * complete whose disks match continues to be used: this run's records
 * follow a STATE running record (one "run" per such record), and a full
 * rollback undoes every run since the file was created.  The image must
 * still be as the last run left it (checked against the POST record,
 * -ESTALE otherwise).  An existing file in any other case is refused
 * (-EEXIST).
 * The caller owns *undo and must keep it until the disks are closed. */
int img_undo_begin (struct img_ctx *ctx, const char *path,
                    struct img_disk *const *disks, size_t n_disks,
                    bool append, struct img_undo **undo);
/* After the disks were closed (everything flushed): records the state of
 * the written chunks (POST) and marks the file complete.  Reads the
 * images again to do so. */
int img_undo_commit (struct img_undo *undo);
/* The same on DISKS, still open (and flushed): the images stay locked
 * from the first read to the commit, with no window for another writer. */
int img_undo_commit_disks (struct img_undo *undo, struct img_disk *const *disks,
                           size_t n_disks);
/* Frees; the file stays as it is. */
void img_undo_free (struct img_undo *undo);
/* Bytes of the image saved by this run; whether this run wrote at all. */
uint64_t img_undo_bytes (const struct img_undo *undo);
bool img_undo_written (const struct img_undo *undo);
const char *img_undo_path (const struct img_undo *undo);

/* Reads the state of the undo file PATH: *state gets the state; -ENOENT
 * if there is none.  A file cut short while its header was being written
 * gives *state 0 (no image byte was written under it). */
int img_undo_state (struct img_ctx *ctx, const char *path, int *state);
const char *img_undo_state_name (int state);

enum {
  /* Roll back even when the image changed after the run completed
   * (without it: -ESTALE, nothing written). */
  IMG_UNDO_FORCE = 1,
  /* Undo only the last run, which must be one that did not complete (a
   * failure, a kill): the image goes back to how the run before left it
   * and the file to state complete (or rolled-back if it was the first). */
  IMG_UNDO_LAST_RUN = 2,
};
/* Restores the image(s) recorded in the undo file PATH.  IMAGES (N_IMAGES
 * of them) override the paths stored in the file, for an image that was
 * moved; NULL uses those.  Each disk must have the recorded size and
 * format (-EINVAL otherwise).  An undo file already rolled back is left
 * alone (returns 1), as is one whose run stopped before its first write;
 * 0 after a rollback.  Non-raw images are checked with
 * `qemu-img check` afterwards. */
int img_undo_rollback (struct img_ctx *ctx, const char *path,
                       const char *const *images, size_t n_images,
                       unsigned flags);

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

/* Helpers for edits, thin wrappers over img_guest_* on the plan's guest
 * (paths are the guest's): the writing ones compare first and do nothing
 * when the work is done. */
int img_plan_read_file (struct img_plan *plan, const char *path, size_t max,
                        void **buf, size_t *len);
bool img_plan_exists (struct img_plan *plan, const char *path);
/* Writes PATH (atomic replace; MODE for a new file) unless it already
 * holds exactly BUF. */
int img_plan_write_file (struct img_plan *plan, const char *path,
                         const void *buf, size_t len, uint32_t mode);
/* Removes a file, symlink or empty directory; absent: nothing to do. */
int img_plan_remove (struct img_plan *plan, const char *path);
/* Moves OLDPATH to NEWPATH; OLDPATH absent and NEWPATH present: done
 * already, nothing to do. */
int img_plan_rename (struct img_plan *plan, const char *oldpath,
                     const char *newpath);
int img_plan_mkdir_p (struct img_plan *plan, const char *path, uint32_t mode);
/* PATH becomes a symlink to TARGET; one already pointing there: nothing
 * to do; anything else at PATH: -EEXIST. */
int img_plan_symlink (struct img_plan *plan, const char *target,
                      const char *path);
/* An informational finding ("/lib/tls not present"); not a change. */
int img_plan_note (struct img_plan *plan, const char *fmt, ...)
  __attribute__((format (printf, 2, 3)));
bool img_plan_is_dry_run (const struct img_plan *plan);
/* A fact about the conversion for the report ("kernel": "6.1.0-28-amd64");
 * setting a key again replaces its value.  Facts come after the changes
 * in the text report and under "facts" (an object) in the JSON. */
int img_plan_fact (struct img_plan *plan, const char *key, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));
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
const struct img_change *img_plan_change (const struct img_plan *plan,
                                          size_t i);
enum img_plan_status img_plan_status (const struct img_plan *plan);
const char *img_plan_action_name (enum img_change_action a);

/* Reports.  The text report is for people.  The JSON report (one object)
 * is stable; fields:
 *   "images": [paths], "dry_run": bool,
 *   "status": "changed" | "nothing-to-do" | "failed" | "failed-dirty",
 *   "error": message or null, "undo": undo file path or null,
 *   "rolled_back": bool (this run's changes were undone after a failure),
 *   "recovered_interrupted_run": bool, "facts": {key: value strings},
 *   "edits": [{"name", "description", "changes": count (notes excluded)}],
 *   "changes": [{"edit", "action": "add" | "write" | "remove" | "move" |
 *       "mkdir" | "symlink" | "note", "path", "target" (move, symlink),
 *       "detail" (note, binary file), "diff" (text file)}] — absent keys
 *       are omitted.
 * Both write to FP. */
void img_plan_report_text (const struct img_plan *plan, FILE *fp);
void img_plan_report_json (const struct img_plan *plan, FILE *fp);

/* Exit codes of the tools built on plans. */
enum {
  IMG_EXIT_CHANGED = 0,         /* converted (dry run: would change) */
  IMG_EXIT_ERROR = 1,           /* failed; the image is as before */
  IMG_EXIT_USAGE = 2,           /* bad command line */
  IMG_EXIT_NOTHING = 3,         /* nothing to do: already converted */
  IMG_EXIT_DIRTY = 4,           /* failed and could not restore the image:
                                 * run the rollback by hand */
};
int img_plan_exit_code (const struct img_plan *plan);

#ifdef __cplusplus
}
#endif

#endif /* LIBIMG_IMG_EDIT_H */
