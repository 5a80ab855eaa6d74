/* The command-line conventions every tool shares: one-line usage errors
 * that point at --help, --version. */
#ifndef IMG_TOOLS_CLI_H
#define IMG_TOOLS_CLI_H

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

#endif
