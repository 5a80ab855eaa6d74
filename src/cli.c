/* The command-line conventions every tool shares (cli.h). */
#include <config.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

