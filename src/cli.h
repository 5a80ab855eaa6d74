/* The command-line conventions every tool shares: one-line usage errors
 * that point at --help, --version, and -q, -v, -x, -p/--no-progress with
 * the one renderer of step lines and byte bars on stderr. */
#ifndef IMG_TOOLS_CLI_H
#define IMG_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/progress.h"

struct img_ctx;

/* The exit status of a usage error, for every tool. */
#define CLI_EXIT_USAGE 2

/* Before getopt_long: its messages off (tool_bad_option says them in
 * one line, under PROG's name). */
void tool_getopt_init (void);
/* A usage error: "PROG: WHAT (try 'PROG --help')", one line on stderr;
 * returns CLI_EXIT_USAGE. */
int tool_usage_error (const char *prog, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* The usage error for what getopt_long just refused ('?' or ':'). */
int tool_bad_option (const char *prog, char *const *argv);
/* "PROG VERSION" on stdout (--version). */
void tool_version (const char *prog);

/* ---- -q, -v, -x, -p, --no-progress: the same meanings in every tool ----
 * -q: errors only (no warnings, no progress); -v: debug lines; -x: the
 * step lines, and traced operations as "+ ..." among them; -p: step lines
 * and byte bars even when stderr is no TTY; --no-progress: none even on
 * a TTY (the default: on when stderr is a TTY, unless -q). */
#define CLI_SHORT_OPTIONS "qvxp"
/* --no-progress's getopt code (below every tool's own codes). */
#define CLI_O_NO_PROGRESS 190
#define CLI_LONG_OPTIONS                                                              \
  { "quiet", no_argument, NULL, 'q' }, { "verbose", no_argument, NULL, 'v' },         \
  { "trace", no_argument, NULL, 'x' }, { "progress", no_argument, NULL, 'p' },        \
  { "no-progress", no_argument, NULL, CLI_O_NO_PROGRESS }

struct cli_opts {
  bool quiet, verbose, trace;
  int progress;                 /* 0: when stderr is a TTY (and not -q); 1 -p; -1 --no-progress */
};
/* Takes option C if it is one of CLI_LONG_OPTIONS: 1 taken, 0 not. */
int cli_option (struct cli_opts *o, int c);

/* Starts the clock of the step lines and decides, from O and whether
 * stderr is a TTY, what is shown. */
void cli_progress_start (const struct cli_opts *o);
/* Whether step lines are shown. */
bool cli_progress_on (void);
/* The renderer on CTX's progress callbacks (base/progress.h). */
void cli_progress_attach (struct img_ctx *ctx);
/* A step line "[   3.1] TEXT" (a traced one "[   3.1] + TEXT", shown with
 * -x only) on stderr, when shown; TEXT is quoted for the terminal. */
void cli_step (enum img_progress_kind kind, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* The byte bar: DONE of TOTAL (0: unknown); DONE >= TOTAL ends it.  On a
 * TTY redrawn in place at most ten times a second, else a line a tenth. */
void cli_bytes (uint64_t done, uint64_t total);

#endif
