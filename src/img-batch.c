/* img-batch: run img2pv, img-ramify or img-inspect over many images, N at
 * a time, with a report per image, a summary, a journal that lets a
 * re-run skip what is done, shards for several machines, and a clean stop
 * on SIGINT/SIGTERM.  The pieces are in src/batch/ (batch.h). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "img-quote.h"
#include "batch/batch.h"

#define PROG BATCH_PROG
#define JOBS_MAX 256

static const char *const tools[] = { "img2pv", "img-ramify", "img-inspect", NULL };

/* Options that make no sense for many images at once, or that img-batch
 * sets itself: refused among the TOOL-OPTIONS. */
static const char *const refused[] = {
  "--rollback", "--output", "--undo", "--xl-config", "--json", "--help", "--version",
  "-o", "-h", "-V", "-j", NULL,
};

struct args {
  unsigned jobs, shard_index, shard_count;
  enum batch_pin pin;
  const char *outdir, *manifest, *tool;
  char **tool_opts, **images;
  size_t ntool_opts, nimages;
  struct cli_opts cli;
};

static void
usage (void)
{
  printf ("usage: %s [OPTION]... TOOL [TOOL-OPTION]... [[--] IMAGE...]\n", PROG);
  puts ("Run TOOL (img2pv, img-ramify or img-inspect) over many images, N at a time.\n"
        "Images come after the TOOL-OPTIONs (after '--' if an option's value is a\n"
        "separate word) and/or from a manifest; TOOL-OPTIONs apply to all.\n"
        "\n"
        "  -j, --jobs N          run N tools at once (default 1)\n"
        "  -m, --manifest FILE   images, one a line, each with its own options\n"
        "                        (e.g. 'disk1.qcow2 --memory 2048 --name web1')\n"
        "  -o, --outdir DIR      reports, journal and summary (default img-batch.out)\n"
        "      --shard I/N       take the images k with k mod N = I; I may be 'env':\n"
        "                        JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID; plain\n"
        "                        'env' takes N from SLURM_ARRAY_TASK_COUNT\n"
        "      --pin WHEN        pin each worker (the tool and its qemu-nbd) to a CPU\n"
        "                        of its own: auto (default: when -j is the number of\n"
        "                        CPUs allowed), yes, no\n"
        "  -q, --quiet           errors only: no line per image on stderr\n"
        "  -v, --verbose         pass -v to the tools (their debug lines in DIR/NAME.stderr)\n"
        "  -x, --trace           step lines, with each tool's command line\n"
        "  -p, --progress        timestamped lines as each image starts and ends, with\n"
        "                        the count done (default on a TTY)\n"
        "      --no-progress     only a plain line as each image ends, even on a TTY\n"
        "  -h, --help\n"
        "      --version\n"
        "\n"
        "Writes DIR/NAME.json (the tool's --json report), DIR/NAME.stderr,\n"
        "DIR/journal and DIR/summary.json, and a table on stdout.  A re-run skips\n"
        "the images the journal has as converted or nothing to do.  SIGINT/SIGTERM:\n"
        "no new image starts, running ones finish; a second signal is passed on.\n"
        "\n"
        "Exit status: 0 all converted or nothing to do, 1 some failed or were\n"
        "interrupted, 2 usage, 130/143 stopped by SIGINT/SIGTERM.");
}

static bool
is_refused (const char *opt)
{
  for (const char *const *r = refused; *r; r++) {
    size_t n = strlen (*r);
    if (strncmp (opt, *r, n) == 0 && (opt[n] == '\0' || opt[n] == '=' || (n == 2 && opt[1] != '-')))
      return true;
  }
  return false;
}

/* Whether TOOL-OPTION OPT (without '=') takes the next word as its value. */
static bool
takes_value (const char *tool, const char *opt)
{
  static const char *const more[] = { "--key", "--kernel-from", "--modules-from", "--budget", "-m", NULL };
  bool has_value = false;

  for (const char *const *m = more; *m; m++)
    if (strcmp (opt, *m) == 0)
      return true;
  return strncmp (opt, "--", 2) == 0 && !strchr (opt, '=')
    && batch_manifest_allowed (tool, opt + 2, &has_value) && has_value;
}

/* Without '--', the images start at the first word that is no option:
 * then an option's value must be given as --opt=VALUE. */
static int
split_images (struct args *a, int argc, char **argv, int i, int *end)
{
  int first = i;

  while (first < argc && argv[first][0] == '-')
    first++;
  *end = first;
  if (first == argc)
    return 0;
  if (first > i && takes_value (a->tool, argv[first - 1]))
    return tool_usage_error (PROG, "%s: give its value in the same word (--opt=VALUE), or put '--' before the images",
                             argv[first - 1]);
  for (int k = first; k < argc; k++)
    if (argv[k][0] == '-')
      return tool_usage_error (PROG, "%s after the images: TOOL-OPTIONs go before them", argv[k]);
  a->images = argv + first;
  a->nimages = (size_t) (argc - first);
  return 0;
}

/* After the options: TOOL [TOOL-OPTION]... [[--] IMAGE...]. */
static int
parse_rest (struct args *a, int argc, char **argv)
{
  int i = optind, end = argc, dashes = -1;

  if (i >= argc)
    return tool_usage_error (PROG, "no TOOL given");
  a->tool = argv[i++];
  for (const char *const *t = tools; ; t++) {
    if (!*t)
      return tool_usage_error (PROG, "TOOL must be img2pv, img-ramify or img-inspect");
    if (strcmp (*t, a->tool) == 0)
      break;
  }
  for (int k = i; k < argc && dashes < 0; k++)
    if (strcmp (argv[k], "--") == 0)
      dashes = k;
  if (dashes >= 0) {
    end = dashes;
    a->images = argv + dashes + 1;
    a->nimages = (size_t) (argc - dashes - 1);
  }
  else if (split_images (a, argc, argv, i, &end) != 0)
    return CLI_EXIT_USAGE;
  a->tool_opts = argv + i;
  a->ntool_opts = (size_t) (end - i);
  for (int k = i; k < end; k++)
    if (is_refused (argv[k]))
      return tool_usage_error (PROG, "%s cannot be given to %s through %s", argv[k], a->tool, PROG);
  if (!a->nimages && !a->manifest)
    return tool_usage_error (PROG, "no images: give them after TOOL or with --manifest");
  return 0;
}

static int
parse_args (struct args *a, int argc, char **argv)
{
  static const struct option longopts[] = {
    { "jobs", required_argument, NULL, 'j' },
    { "manifest", required_argument, NULL, 'm' },
    { "outdir", required_argument, NULL, 'o' },
    { "shard", required_argument, NULL, 'S' },
    { "pin", required_argument, NULL, 'P' },
    CLI_LONG_OPTIONS,
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  const char *why;
  char *end;
  long v;
  int c;

  tool_getopt_init ();
  while ((c = getopt_long (argc, argv, "+j:m:o:" CLI_SHORT_OPTIONS "h", longopts, NULL)) != -1) {
    if (cli_option (&a->cli, c))
      continue;
    switch (c) {
    case 'j':
      errno = 0;
      v = strtol (optarg, &end, 10);
      if (errno || *end || end == optarg || v < 1 || v > JOBS_MAX)
        return tool_usage_error (PROG, "-j wants a number from 1 to %d", JOBS_MAX);
      a->jobs = (unsigned) v;
      break;
    case 'm': a->manifest = optarg; break;
    case 'o': a->outdir = optarg; break;
    case 'S':
      if (batch_shard_parse (optarg, &a->shard_index, &a->shard_count, &why) < 0)
        return tool_usage_error (PROG, "%s", why);
      break;
    case 'P':
      if (batch_pin_parse (optarg, &a->pin) < 0)
        return tool_usage_error (PROG, "--pin wants auto, yes or no");
      break;
    case 'h': usage (); exit (0);
    case 'V': tool_version (PROG); exit (0);
    default: return tool_bad_option (PROG, argv);
    }
  }
  return parse_rest (a, argc, argv);
}

static int
load_images (const struct args *a, struct batch_list *l)
{
  size_t first, second;
  int r;

  for (size_t i = 0; i < a->nimages; i++)
    if ((r = batch_list_add (l, a->images[i], a->images[i], 0, NULL)) < 0)
      return r;
  if (a->manifest && (r = batch_manifest_read (a->manifest, a->tool, l)) < 0) {
    if (r != -EINVAL)
      fprintf (stderr, "%s: %s: %s\n", PROG, a->manifest, strerror (-r));
    return r;
  }
  if (batch_list_duplicate (l, &first, &second)) {
    char *q = img_quote_term (l->v[second].path, 0);
    fprintf (stderr, "%s: %s is listed twice (images %zu and %zu)\n", PROG, q ? q : "an image",
             first + 1, second + 1);
    free (q);
    return -EINVAL;
  }
  if ((r = batch_names_assign (l)) < 0)
    return r;
  batch_list_shard (l, a->shard_index, a->shard_count);
  return 0;
}

static int
open_outdir (const char *dir)
{
  int fd;

  if (mkdir (dir, 0755) < 0 && errno != EEXIST)
    return -errno;
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

static int
exit_status (int sig, const struct batch_list *l)
{
  if (sig > 0)
    return 128 + sig;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].result != BATCH_CONVERTED && l->v[i].result != BATCH_NOTHING)
      return BATCH_EXIT_FAILED;
  return BATCH_EXIT_OK;
}

int
main (int argc, char **argv)
{
  struct args a = { .jobs = 1, .shard_count = 1, .outdir = "img-batch.out" };
  struct batch_list l = { 0 };
  struct batch_run run = { 0 };
  char journal[64], summary[64];
  int r, sig = 0, status = BATCH_EXIT_FAILED;

  if ((r = parse_args (&a, argc, argv)) != 0)
    return r;
  if (a.shard_count > 1) {
    snprintf (journal, sizeof journal, "journal.%u-of-%u", a.shard_index, a.shard_count);
    snprintf (summary, sizeof summary, "summary.%u-of-%u.json", a.shard_index, a.shard_count);
  }
  else {
    snprintf (journal, sizeof journal, "journal");
    snprintf (summary, sizeof summary, "summary.json");
  }
  if ((r = load_images (&a, &l)) < 0) {
    batch_list_free (&l);
    return r == -EINVAL ? BATCH_EXIT_USAGE : BATCH_EXIT_FAILED;
  }
  run = (struct batch_run) { .tool = a.tool, .tool_opts = a.tool_opts, .ntool_opts = a.ntool_opts,
                             .jobs = a.jobs, .pin = a.pin, .quiet = a.cli.quiet, .verbose = a.cli.verbose };
  cli_progress_start (&a.cli);
  if ((run.dirfd = open_outdir (a.outdir)) < 0)
    fprintf (stderr, "%s: %s: %s\n", PROG, a.outdir, strerror (-run.dirfd));
  else if ((r = batch_journal_open (run.dirfd, journal, &run.journal)) < 0)
    fprintf (stderr, "%s: %s/%s: %s\n", PROG, a.outdir, journal,
             r == -EBUSY ? "another img-batch is using this journal" : strerror (-r));
  else if ((r = batch_journal_apply (run.dirfd, a.tool, &l)) < 0)
    fprintf (stderr, "%s: %s: reading the journals: %s\n", PROG, a.outdir, strerror (-r));
  else if ((sig = batch_pool_run (&run, &l)) < 0)
    fprintf (stderr, "%s: %s\n", PROG, strerror (-sig));
  else {
    status = exit_status (sig, &l);
    if ((r = batch_summary_write (run.dirfd, summary, a.tool, a.shard_index, a.shard_count, sig, &l)) < 0) {
      fprintf (stderr, "%s: %s/%s: %s\n", PROG, a.outdir, summary, strerror (-r));
      status = sig > 0 ? status : BATCH_EXIT_FAILED;
    }
    batch_summary_print (a.tool, &l);
  }
  batch_journal_close (run.journal);
  if (run.dirfd >= 0)
    close (run.dirfd);
  batch_list_free (&l);
  return status;
}
