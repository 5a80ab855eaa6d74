/* The envelope of the tools' JSON reports and the error object every
 * failure gives with --json (report.h).  One run a process, so the state
 * is the process's: the signal handlers need it. */
#include <config.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img-json.h"
#include "report.h"

static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
static const char *const signal_names[] = { "SIGINT", "SIGTERM", "SIGHUP" };
#define N_SIGNALS (sizeof signals / sizeof signals[0])

static struct {
  const char *prog;
  char schema[64];
  bool json;
  const char *const *images;
  size_t n_images;
  const char *phase;
  char message[4096];           /* the last failure said on stderr */
  volatile sig_atomic_t done;   /* the report is out: a signal only kills */
  /* What a signal prints, made ahead (the handler cannot allocate). */
  char *sig_json[N_SIGNALS], *sig_line[N_SIGNALS];
} rep = { .prog = "img-tools", .phase = REPORT_USAGE };

static bool
exit_ok (int code)
{
  return code == 0 || code == 3;
}

static void
write_all (int fd, const char *s)
{
  size_t len = s ? strlen (s) : 0;

  while (len > 0) {
    ssize_t n = write (fd, s, len);
    if (n <= 0)
      return;
    s += n;
    len -= (size_t) n;
  }
}

static void
on_signal (int sig)
{
  size_t i;

  for (i = 0; i < N_SIGNALS; i++)
    if (signals[i] == sig) {
      if (rep.json && !rep.done)
        write_all (STDOUT_FILENO, rep.sig_json[i]);
      write_all (STDERR_FILENO, rep.sig_line[i]);
    }
  rep.done = 1;
  /* Die of the signal, as without the handler: a parent sees it. */
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
write_head (struct img_json *j, int code, const char *layer, const char *message,
            const char *edit)
{
  img_json_kv_string (j, "schema", rep.schema);
  img_json_kv_bool (j, "ok", exit_ok (code));
  img_json_kv_uint (j, "exit", (uint64_t) code);
  img_json_key (j, "error");
  if (exit_ok (code)) {
    img_json_null (j);
    return;
  }
  img_json_begin_object (j);
  img_json_kv_string (j, "layer", layer ? layer : rep.phase);
  img_json_kv_string (j, "message", message ? message : rep.message[0] ? rep.message : "failed");
  if (edit)
    img_json_kv_string (j, "edit", edit);
  img_json_end_object (j);
}

/* The error object alone, to FP. */
static void
write_error_doc (FILE *fp, int code, const char *layer, const char *message)
{
  struct img_json j;
  size_t i;

  img_json_init (&j, fp);
  img_json_begin_object (&j);
  write_head (&j, code, layer, message, NULL);
  img_json_key (&j, "images");
  img_json_begin_array (&j);
  for (i = 0; i < rep.n_images; i++)
    img_json_string (&j, rep.images[i]);
  img_json_end_array (&j);
  img_json_end_object (&j);
  img_json_finish (&j);
}

/* What each signal prints, for the images known now. */
static void
make_signal_texts (void)
{
  size_t i, len;

  for (i = 0; i < N_SIGNALS; i++) {
    char msg[128], *doc = NULL, *line = NULL;
    FILE *fp;

    snprintf (msg, sizeof msg, "interrupted by %s (an image left partly changed is rolled back by the next run, or by --rollback)",
              signal_names[i]);
    if ((fp = open_memstream (&doc, &len)) != NULL) {
      write_error_doc (fp, 128 + signals[i], REPORT_SIGNAL, msg);
      if (fclose (fp) != 0) {
        free (doc);
        doc = NULL;
      }
    }
    if (asprintf (&line, "%s: %s\n", rep.prog, msg) < 0)
      line = NULL;
    free (rep.sig_json[i]);
    free (rep.sig_line[i]);
    rep.sig_json[i] = doc;
    rep.sig_line[i] = line;
  }
}

static bool
asks_json (const char *arg, const char *cluster)
{
  if (strcmp (arg, "--json") == 0)
    return true;
  if (cluster == NULL || arg[0] != '-' || arg[1] == '-' || strchr (arg, 'j') == NULL)
    return false;
  return strspn (arg + 1, cluster) == strlen (arg + 1);
}

void
report_init (const char *prog, int argc, char *const *argv, const char *json_cluster)
{
  struct sigaction sa;
  int i;

  rep.prog = prog;
  snprintf (rep.schema, sizeof rep.schema, "img-tools/%s/%d", prog, REPORT_SCHEMA_VERSION);
  for (i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (asks_json (argv[i], json_cluster))
      rep.json = true;
  make_signal_texts ();
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  for (i = 0; i < (int) N_SIGNALS; i++)
    sigaction (signals[i], &sa, NULL);
}

bool
report_json (void)
{
  return rep.json;
}

void
report_set_json (bool json)
{
  rep.json = json;
}

void
report_set_images (const char *const *images, size_t n_images)
{
  rep.images = images;
  rep.n_images = n_images;
  make_signal_texts ();
}

void
report_phase (const char *layer)
{
  rep.phase = layer;
}

const char *
report_current_phase (void)
{
  return rep.phase;
}

void
report_record (const char *message)
{
  snprintf (rep.message, sizeof rep.message, "%s", message);
}

int
report_error (int code, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (rep.message, sizeof rep.message, fmt, ap);
  va_end (ap);
  fprintf (stderr, "%s: %s\n", rep.prog, rep.message);
  return code;
}

/* Signals wait while the report is written: it is whole, or not begun. */
static void
block_signals (int how)
{
  sigset_t set;
  size_t i;

  sigemptyset (&set);
  for (i = 0; i < N_SIGNALS; i++)
    sigaddset (&set, signals[i]);
  sigprocmask (how, &set, NULL);
}

void
report_begin (struct img_json *j, int code, const char *layer, const char *message,
              const char *edit)
{
  block_signals (SIG_BLOCK);
  img_json_init (j, stdout);
  img_json_begin_object (j);
  write_head (j, code, layer, message, edit);
}

void
report_end (struct img_json *j)
{
  img_json_end_object (j);
  img_json_finish (j);
  fflush (stdout);
  rep.done = 1;
  block_signals (SIG_UNBLOCK);
}

bool
report_done (void)
{
  return rep.done;
}

int
report_finish (int code)
{
  size_t i;

  if (rep.json && !rep.done && !exit_ok (code)) {
    block_signals (SIG_BLOCK);
    write_error_doc (stdout, code, code == 2 ? REPORT_USAGE : rep.phase, NULL);
    fflush (stdout);
    rep.done = 1;
    block_signals (SIG_UNBLOCK);
  }
  for (i = 0; i < N_SIGNALS; i++) {
    free (rep.sig_json[i]);
    free (rep.sig_line[i]);
    rep.sig_json[i] = rep.sig_line[i] = NULL;
  }
  return code;
}
