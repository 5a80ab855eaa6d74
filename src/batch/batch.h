/* img-batch's pieces: the image list (arguments or a manifest), report
 * names, shards, the journal, the worker pool and the summary.  Each
 * lives in its own file under src/batch/; img-batch.c only ties them. */
#ifndef IMG_TOOLS_BATCH_H
#define IMG_TOOLS_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#define BATCH_PROG "img-batch"

/* img-batch's own exit status (img-batch(1)). */
#define BATCH_EXIT_OK 0
#define BATCH_EXIT_FAILED 1
#define BATCH_EXIT_USAGE 2

/* The outcome of one image, from the tool's exit status (img2pv(1)). */
enum batch_result {
  BATCH_PENDING = 0,            /* not started (yet) */
  BATCH_CONVERTED,              /* exit 0 */
  BATCH_NOTHING,                /* exit 3: nothing to do */
  BATCH_FAILED,                 /* any other exit */
  BATCH_INTERRUPTED,            /* killed by a signal img-batch forwarded */
};

struct batch_image {
  char *path;                   /* as the tool gets it */
  char *given;                  /* as written: the report name's source */
  char *name;                   /* report name: safe as one file name */
  char **opts;                  /* per-image tool options ("--opt=VALUE") */
  size_t nopts;
  unsigned line;                /* manifest line, 0 for an argument */
  enum batch_result result;
  int status;                   /* the tool's exit status, -1 if none */
  char *reason;                 /* last stderr line of a failure */
  bool skipped;                 /* finished in an earlier run (journal) */
};

struct batch_list {
  struct batch_image *v;
  size_t n, cap;
};

/* list.c: the image list.  The list owns every string of its images. */
int batch_list_add (struct batch_list *l, const char *path, const char *given,
                    unsigned line, struct batch_image **out);
int batch_image_add_opt (struct batch_image *im, const char *opt);
void batch_list_free (struct batch_list *l);
/* Whether two images have the same path: their indexes. */
bool batch_list_duplicate (const struct batch_list *l, size_t *first, size_t *second);
/* Keeps the images whose index k (in list order) has k % count == index. */
void batch_list_shard (struct batch_list *l, unsigned index, unsigned count);

/* manifest.c: reads FILE into L.  TOOL decides which per-image options
 * are allowed.  Relative image paths are taken from FILE's directory.
 * 0, or -EINVAL after one "img-batch: FILE:LINE: reason" line a bad line
 * on stderr, or -errno. */
int batch_manifest_read (const char *file, const char *tool, struct batch_list *l);
/* Splits LINE into words (quotes, no expansion); exposed for the option
 * check of the command line too.  Owner: the caller frees *WORDS. */
int batch_manifest_split (const char *line, char ***words, size_t *n, const char **why);
/* Whether TOOL takes per-image option OPT from a manifest; *HAS_VALUE
 * tells whether it takes a value. */
bool batch_manifest_allowed (const char *tool, const char *opt, bool *has_value);

/* names.c: a report name for every image: its path as written with every byte
 * outside [A-Za-z0-9._+-] (and a leading '.') made '_', cut long with a
 * hash, made unique with ~N in list order. */
int batch_names_assign (struct batch_list *l);

/* shard.c: "I/N", "env/N" or "env" (JOB_COMPLETION_INDEX, or
 * SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT). */
int batch_shard_parse (const char *arg, unsigned *index, unsigned *count, const char **why);

/* journal.c: OUTDIR/journal (or journal.I-of-N), one line per finished
 * image.  batch_journal_append writes a line (to the page cache: a killed
 * img-batch loses none); batch_journal_sync makes the lines written so far
 * durable, and batch_journal_close syncs too. */
struct batch_journal;
int batch_journal_open (int dirfd, const char *file, struct batch_journal **out);
/* Marks the images of L that any journal in DIRFD records as finished
 * (converted or nothing to do) as skipped, with that result. */
int batch_journal_apply (int dirfd, const char *tool, struct batch_list *l);
int batch_journal_append (struct batch_journal *j, const char *tool,
                          const struct batch_image *im);
int batch_journal_sync (struct batch_journal *j);
void batch_journal_close (struct batch_journal *j);
const char *batch_result_word (enum batch_result r, const char *tool);

/* cpus.c: --pin=auto|yes|no, and the CPU of each worker slot (*CPUS, JOBS
 * of them, or NULL when the workers are not pinned).  0 or JOBS, or
 * -ENOMEM. */
enum batch_pin { BATCH_PIN_AUTO = 0, BATCH_PIN_YES, BATCH_PIN_NO };
int batch_pin_parse (const char *arg, enum batch_pin *pin);
int batch_cpus_plan (enum batch_pin pin, unsigned jobs, int **cpus);
/* Pins the calling process (a worker, before its exec) to CPU. */
void batch_cpus_pin (int cpu);

/* pool.c: runs TOOL on the images not skipped, JOBS at a time. */
struct batch_run {
  const char *tool;             /* img2pv, img-ramify or img-inspect */
  char **tool_opts;             /* from the command line, for every image */
  size_t ntool_opts;
  unsigned jobs;
  enum batch_pin pin;           /* --pin */
  int dirfd;                    /* OUTDIR */
  struct batch_journal *journal;
  bool quiet;                   /* -q: no line per image */
  bool verbose;                 /* -v: passed on to the tools */
};
/* 0 when every image ran, or the signal number (SIGINT, SIGTERM) that
 * stopped the run; -errno on a failure of img-batch itself. */
int batch_pool_run (const struct batch_run *run, struct batch_list *l);

/* summary.c: OUTDIR/FILE as JSON and the table on stdout. */
int batch_summary_write (int dirfd, const char *file, const char *tool,
                         unsigned shard_index, unsigned shard_count,
                         int signal, const struct batch_list *l);
void batch_summary_print (const char *tool, const struct batch_list *l);

#endif
