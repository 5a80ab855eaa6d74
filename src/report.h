/* The tools' reports as an interface: with --json, every run ends with
 * one JSON object on stdout, a failure too (usage errors, images that do
 * not open, refusals, failed edits, signals), and every object starts
 * with the same envelope:
 *   "schema": "img-tools/TOOL/N"  which JSON Schema it follows
 *                                 ($(pkgdatadir)/schema/TOOL.schema.json);
 *   "ok": the run did what was asked (exit 0, or 3: nothing to do);
 *   "exit": the exit status;
 *   "error": null, or {"layer", "message", "edit"?}: where it failed and
 *            the one line said on stderr (without the program's name).
 * A failure before a report could be made is that envelope plus
 * "images" (the images named on the command line).  Tool policy, so it
 * lives beside the tools, not in the library. */
#ifndef IMG_TOOLS_REPORT_H
#define IMG_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>

struct img_json;

/* The version of the reports' schemas: raised when a field changes
 * meaning or type (fields are only ever added within one). */
#define REPORT_SCHEMA_VERSION 1

/* Where a run failed: the "layer" of the error object. */
#define REPORT_USAGE "usage"        /* the command line, the environment */
#define REPORT_OPEN "open"          /* the images: container, volumes, filesystems */
#define REPORT_INSPECT "inspect"    /* the guest: none, or not one we convert */
#define REPORT_PREPARE "prepare"    /* what the edits need (kernel, entry, ...) */
#define REPORT_REFUSED "refused"    /* the tool would not (memory, a file in the way) */
#define REPORT_EDIT "edit"          /* an edit failed; the run was rolled back */
#define REPORT_ROLLBACK "rollback"  /* a rollback failed: the image may be changed */
#define REPORT_OUTPUT "output"      /* a host file the tool writes (copy, config) */
#define REPORT_SIGNAL "signal"      /* killed by SIGINT, SIGTERM or SIGHUP */
#define REPORT_INTERNAL "internal"  /* out of memory */

/* Before anything else: PROG names the tool; --json anywhere on the
 * command line (before "--"), or a cluster of the short options
 * JSON_CLUSTER (NULL: none) holding 'j', asks for JSON; the handlers of
 * SIGINT, SIGTERM and SIGHUP report the signal and die of it. */
void report_init (const char *prog, int argc, char *const *argv, const char *json_cluster);
bool report_json (void);
void report_set_json (bool json);
/* The images named on the command line (borrowed, kept). */
void report_set_images (const char *const *images, size_t n_images);
/* The layer of the failures from now on. */
void report_phase (const char *layer);
const char *report_current_phase (void);
/* Says "PROG: MESSAGE" on stderr and keeps MESSAGE for the error object;
 * returns CODE. */
int report_error (int code, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
/* Keeps MESSAGE (said on stderr by the caller) for the error object. */
void report_record (const char *message);
/* Opens the report object on stdout and writes the envelope: ERROR null
 * when the run is ok, else {LAYER, MESSAGE (NULL: the kept one), EDIT
 * (may be NULL)}.  Signals wait until report_end. */
void report_begin (struct img_json *j, int code, const char *layer, const char *message,
                   const char *edit);
/* Closes the object begun with report_begin and flushes stdout. */
void report_end (struct img_json *j);
/* Whether the run's report (or error object) is out. */
bool report_done (void);
/* The end of a run with status CODE: with --json and no report made, a
 * failure is reported as the envelope plus "images".  Returns CODE. */
int report_finish (int code);

#endif
