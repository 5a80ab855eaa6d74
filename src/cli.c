/* The command-line conventions every tool shares (cli.h). */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "img-quote.h"
#include "report.h"

void
tool_getopt_init (void)
{
  opterr = 0;
}

int
tool_usage_error (const char *prog, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (n >= 0 && (size_t) n < sizeof msg)
    snprintf (msg + n, sizeof msg - (size_t) n, " (try '%s --help')", prog);
  fprintf (stderr, "%s: %s\n", prog, msg);
  report_phase (REPORT_USAGE);
  report_record (msg);
  return CLI_EXIT_USAGE;
}

int
tool_bad_option (const char *prog, char *const *argv)
{
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  char *q = img_quote_term (arg, 0);
  int r;

  if (strncmp (arg, "--", 2) == 0)
    r = tool_usage_error (prog, optopt ? "%s needs a value" : "unknown option %s", q ? q : "?");
  else if (optopt > ' ' && optopt < 127)
    r = tool_usage_error (prog, "-%c: unknown option, or its value is missing", optopt);
  else
    r = tool_usage_error (prog, "bad option %s", q ? q : "?");
  free (q);
  return r;
}

void
tool_version (const char *prog)
{
  printf ("%s %s\n", prog, PACKAGE_VERSION);
}


int
cli_option (struct cli_opts *o, int c)
{
  switch (c) {
  case 'q': o->quiet = true; return 1;
  case 'v': o->verbose = true; return 1;
  case 'x': o->trace = true; return 1;
  case 'p': o->progress = 1; return 1;
  case CLI_O_NO_PROGRESS: o->progress = -1; return 1;
  default: return 0;
  }
}

/* ---- progress on stderr ----------------------------------------------------
 * Step lines "[   3.1] text" (seconds since the start, as virt-customize),
 * traced operations "[   3.1] + text" with -x, and a byte bar: redrawn in
 * place with \r at most ten times a second on a TTY, else a plain line at
 * each tenth.  Only stderr: stdout is the report's.  One run a process,
 * so the state is the process's. */
static struct {
  bool steps, trace, tty;
  struct timespec start, last, bar_start;
  int last_decile;
  bool new_bar;                 /* the next byte count starts a bar */
  bool ended;                   /* the last bar ended: a repeated end is not said */
  bool bar_open;                /* a \r bar is on the line */
} prog_state;

static double
elapsed (const struct timespec *a, const struct timespec *b)
{
  return (double) (b->tv_sec - a->tv_sec) + (double) (b->tv_nsec - a->tv_nsec) / 1e9;
}

void
cli_progress_start (const struct cli_opts *o)
{
  bool tty = isatty (STDERR_FILENO);

  prog_state.tty = tty;
  prog_state.steps = o->progress == 1 || o->trace
    || (o->progress == 0 && tty && !o->quiet);
  prog_state.trace = o->trace;
  prog_state.last_decile = -1;
  prog_state.bar_open = false;
  prog_state.new_bar = true;
  clock_gettime (CLOCK_MONOTONIC, &prog_state.start);
}

bool
cli_progress_on (void)
{
  return prog_state.steps;
}

static void
step_text (enum img_progress_kind kind, const char *text)
{
  struct timespec now;
  char *q;

  if (kind == IMG_PROGRESS_TRACE ? !prog_state.trace : !prog_state.steps)
    return;
  clock_gettime (CLOCK_MONOTONIC, &now);
  q = img_quote_term (text, 0);
  if (prog_state.bar_open) {
    fputc ('\n', stderr);
    prog_state.bar_open = false;
  }
  fprintf (stderr, "[%6.1f] %s%s\n", elapsed (&prog_state.start, &now),
           kind == IMG_PROGRESS_TRACE ? "+ " : "", q ? q : "?");
  free (q);
}

void
cli_step (enum img_progress_kind kind, const char *fmt, ...)
{
  char text[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (text, sizeof text, fmt, ap);
  va_end (ap);
  step_text (kind, text);
}

void
cli_bytes (uint64_t done, uint64_t total)
{
  struct timespec now;
  double t, pct, rate;
  bool end = total && done >= total;
  char line[160];
  int decile, n;

  if (!prog_state.steps || (end && prog_state.ended))
    return;
  prog_state.ended = false;
  clock_gettime (CLOCK_MONOTONIC, &now);
  if (prog_state.new_bar) {
    prog_state.bar_start = now;
    prog_state.new_bar = false;
  }
  pct = total ? 100.0 * (double) (end ? total : done) / (double) total : 0;
  decile = (int) (pct / 10);
  if (prog_state.tty) {
    if (!end && prog_state.bar_open && elapsed (&prog_state.last, &now) < 0.1)
      return;
  }
  else if (!end && decile <= prog_state.last_decile)
    return;
  prog_state.last_decile = end ? -1 : decile;
  t = elapsed (&prog_state.bar_start, &now);
  rate = t > 0 ? (double) done / t : 0;
  t = elapsed (&prog_state.start, &now);
  /* Straight to the fd: stderr may be img_quote_term_stdio's stream,
   * which would show the \r as text (the line is ours: numbers only). */
  n = snprintf (line, sizeof line, "%s[%6.1f] %5.1f%% %" PRIu64 "/%" PRIu64 " bytes, %.1f MiB/s%s",
                prog_state.tty ? "\r" : "", t, pct, done, total, rate / 1048576.0,
                prog_state.tty && !end ? "" : "\n");
  fflush (stderr);
  for (size_t off = 0, len = n < 0 ? 0 : (size_t) n < sizeof line ? (size_t) n : sizeof line - 1; off < len;) {
    ssize_t w = write (STDERR_FILENO, line + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    off += (size_t) w;
  }
  prog_state.bar_open = prog_state.tty && !end;
  prog_state.new_bar = end;
  prog_state.ended = end;
  prog_state.last = now;
}

static void
attach_step (void *data, enum img_progress_kind kind, const char *text)
{
  (void) data;
  step_text (kind, text);
}

static void
attach_bytes (void *data, uint64_t done, uint64_t total)
{
  (void) data;
  cli_bytes (done, total);
}

void
cli_progress_attach (struct img_ctx *ctx)
{
  static const struct img_progress_ops ops = { attach_step, attach_bytes };

  img_progress_set_ops (ctx, &ops, NULL);
}
