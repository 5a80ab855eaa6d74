/* The skeleton the conversion tools (img2pv, img-ramify) share: the
 * options every tool takes, --rollback, the undo record an earlier run
 * left, the report and the exit status; and small host-side helpers (text
 * building, files written atomically, image copies for --output).  Tool
 * policy lives here, not in the library's public headers. */
#ifndef IMG_TOOL_H
#define IMG_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"
#include "img-edit.h"
#include "base/strbuf.h"
#include "cli.h"
#include "report.h"

/* Exit status of the tools. */
enum {
  IMG_EXIT_CHANGED = 0,         /* converted (dry run: would change) */
  IMG_EXIT_ERROR = 1,           /* failed; the image is as before */
  IMG_EXIT_USAGE = 2,           /* bad command line */
  IMG_EXIT_NOTHING = 3,         /* nothing to do: already converted */
  IMG_EXIT_DIRTY = 4,           /* failed and could not restore the image:
                                 * run the rollback by hand */
};
/* The exit status for how PLAN ended. */
int tool_exit_code (const struct img_plan *plan);

/* ---- the options every tool takes ---------------------------------------- */

/* Their getopt codes; a tool numbers its own from TOOL_O_OWN. */
enum {
  TOOL_O_FORMAT = 200, TOOL_O_ALLOW_BACKING, TOOL_O_JSON, TOOL_O_UNDO, TOOL_O_NO_UNDO,
  TOOL_O_ROLLBACK, TOOL_O_FORCE, TOOL_O_BUDGET, TOOL_O_BACKEND, TOOL_O_KEY, TOOL_O_VERSION,
  TOOL_O_OWN,
};
/* Their short options, for a tool's getopt string: -n dry run, -h help,
 * and -q, -v, -x, -p (cli.h). */
#define TOOL_SHORT_OPTIONS "n" CLI_SHORT_OPTIONS "h"
/* The start of a tool's struct option table; 'n' is --dry-run, 'h' --help. */
#define TOOL_LONG_OPTIONS                                                             \
  { "dry-run", no_argument, NULL, 'n' }, { "json", no_argument, NULL, TOOL_O_JSON },  \
  { "format", required_argument, NULL, TOOL_O_FORMAT },                               \
  { "allow-backing", no_argument, NULL, TOOL_O_ALLOW_BACKING },                       \
  { "undo", required_argument, NULL, TOOL_O_UNDO },                                   \
  { "no-undo", no_argument, NULL, TOOL_O_NO_UNDO },                                   \
  { "rollback", required_argument, NULL, TOOL_O_ROLLBACK },                           \
  { "force", no_argument, NULL, TOOL_O_FORCE },                                       \
  { "budget", required_argument, NULL, TOOL_O_BUDGET },                               \
  { "backend", required_argument, NULL, TOOL_O_BACKEND },                             \
  { "key", required_argument, NULL, TOOL_O_KEY },                                     \
  { "version", no_argument, NULL, TOOL_O_VERSION },                                   \
  CLI_LONG_OPTIONS, { "help", no_argument, NULL, 'h' }

struct tool {
  const char *prog;             /* "img-ramify": the first word of every message */
  struct img_ctx *ctx;          /* tool_start's */
  bool dry_run, json, no_undo, force;
  const char *undo, *rollback;
  struct img_disk_opts dopts;
  uint64_t budget[IMG_BUDGET_N];
  enum img_fs_backend backend;
  const char *keys[16];         /* --key, in order */
  size_t n_keys;
  struct cli_opts cli;          /* -q, -v, -x, -p, --no-progress */
};

/* Takes option C (getopt's) with ARG if it is one of TOOL_LONG_OPTIONS
 * but -h: 1 taken, 0 not one of them, -1 a bad value (said on stderr).
 * --version prints the version and exits 0. */
int tool_option (struct tool *t, int c, const char *arg);
/* The context, with the options in it and messages to stderr as
 * "PROG: [warning: ]message".  0, or the exit status to end with. */
int tool_start (struct tool *t);
/* Frees the context. */
void tool_end (struct tool *t);
/* Prints the context's error as "PROG: IMAGE: message" (IMAGE only when
 * the message does not start with it; none when IMAGE is NULL), keeps it
 * for the JSON error object (report.h) and returns IMG_EXIT_ERROR. */
int tool_fail (struct img_ctx *ctx, const char *prog, const char *image);

/* --rollback UNDO [IMAGE...]: restores the images (WITH FORCE also when
 * they changed since) and says so (in JSON with --json: the envelope,
 * "images" and "rollback": {"undo", "rolled_back"}).  Returns the exit
 * status. */
int tool_rollback (struct img_ctx *ctx, const char *prog, const char *undo,
                   const char *const *images, size_t n_images, bool force);

/* img_plan_new and img_plan_open, and the undo record an earlier run left
 * (UNDO, default IMAGES[0] IMG_UNDO_SUFFIX): one that was rolled back has
 * done its job and is kept aside as UNDO.rolled-back-STAMP; one the image
 * no longer matches (the guest ran since) can restore nothing, and is kept
 * aside as UNDO.stale-STAMP with a warning; a new record is started (none
 * of this in a dry run or with IMG_PLAN_NO_UNDO).  0 or -errno (the message
 * in CTX); *plan is the caller's to free, also after a failure (may be
 * NULL). */
int tool_plan_open (struct img_ctx *ctx, const char *prog, const char *const *images,
                    size_t n_images, unsigned flags, const char *undo,
                    struct img_plan **plan);

/* The plan's report on stdout: text, or with JSON the versioned JSON
 * report (report.h) of a run that ends with exit status CODE. */
void tool_report (const struct img_plan *plan, bool json, int code);
/* The end of a run with status CODE: with JSON, a failure not reported
 * yet is PLAN's report (status "not-run": the failure came before the
 * edits ran) when there is a plan, else the error object (report.h).
 * Returns CODE. */
int tool_finish (const struct img_plan *plan, bool json, int code);

#define img_err(ctx, err, ...) img_ctx_set_error ((ctx), (err), __VA_ARGS__)

/* The library's growing string (base/strbuf.h: a sticky oom flag) under
 * the names the tools have used. */
#define sb img_sb
#define sb_add img_sb_add
#define sb_adds img_sb_adds
#define sb_addf img_sb_addf
#define sb_free img_sb_free

/* Writes PATH on the host: a temporary file beside it, fsync'd, renamed
 * over PATH, the directory fsync'd.  0 or -errno (message in CTX). */
int host_write_file (struct img_ctx *ctx, const char *path, const void *buf,
                     size_t len, unsigned mode);
/* Reads a whole host file of at most MAX bytes (NUL-terminated). */
int host_read_file (struct img_ctx *ctx, const char *path, size_t max,
                    char **buf, size_t *len);

/* Copies image IN to OUT (which must not exist): raw images sparsely
 * (only the data extents), other formats with qemu-img convert to the
 * same format.  OUT is written under a temporary name and renamed when
 * complete; nothing is left behind on failure. */
int copy_image (struct img_ctx *ctx, const char *in, const char *out);
/* Report facts for each disk of the plan's guest: its format (and whether
 * it was guessed) and the resolved backing chain (--allow-backing). */
struct img_plan;
void plan_disk_facts (struct img_plan *plan);

/* Parses "512M", "2G", "1024" (MiB when no unit and MIB_DEFAULT) into
 * bytes; -EINVAL if malformed. */
int parse_size (const char *s, bool mib_default, uint64_t *bytes);

/* asprintf and strdup that end the tool (IMG_EXIT_ERROR, a line on
 * stderr) when out of memory; tool_strdup (NULL) is NULL. */
char *tool_asprintf (const char *fmt, ...) __attribute__((format (printf, 1, 2)));
char *tool_strdup (const char *s);

/* Runs ARGV (no shell), stdout/stderr captured into *out (may be NULL);
 * returns the exit status (>= 0) or -errno. */
int run_command (const char *const *argv, char **out);
/* The same, FN (when not NULL) seeing the output as it comes. */
int run_command_fn (const char *const *argv, char **out,
                    void (*fn) (void *data, const char *buf, size_t len), void *data);

#endif
