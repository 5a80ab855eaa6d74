/* The command-line conventions every tool shares (cli.h). */
#include <config.h>

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "img-quote.h"

void
tool_getopt_init (void)
{
  opterr = 0;
}

int
tool_usage_error (const char *prog, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: ", prog);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, " (try '%s --help')\n", prog);
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

