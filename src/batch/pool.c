/* The worker pool: up to N tools at once, each fork/exec'ed with its
 * report and stderr in OUTDIR, its result journaled as it ends.
 *
 * Signals: the tools keep no SIGINT/SIGTERM handler of their own (a
 * killed run leaves its undo record, which the next run rolls back), so
 * the first SIGINT/SIGTERM only stops new images from starting and lets
 * the running ones finish; a second one is forwarded to them (they die,
 * and are journaled as interrupted).  Each tool runs in its own process
 * group, so a terminal's ^C reaches img-batch alone. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "img-quote.h"
#include "../cli.h"

#define REASON_TAIL 4096

static volatile sig_atomic_t got_signal, signal_count;

static void
on_stop (int sig)
{
  if (!got_signal)
    got_signal = sig;
  signal_count++;
}

static void
on_child (int sig)
{
  (void) sig;
}

struct slot {
  pid_t pid;                    /* 0: free */
  size_t image;
};

struct pool {
  const struct batch_run *run;
  struct batch_list *l;
  const char *path;             /* the tool to exec, or NULL: PATH */
  struct slot *slots;
  int *cpus;                    /* each slot's CPU, or NULL: not pinned */
  sigset_t orig;                /* the mask to restore */
  sigset_t wait;                /* ORIG without the signals we wait for */
  unsigned running;
  size_t done, todo;
};

/* The sibling tool next to our own executable (the build tree's src/,
 * or the bindir), else NULL (then PATH). */
static char *
find_tool (const char *tool)
{
  char self[PATH_MAX], *slash, *path;
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);

  if (n <= 0)
    return NULL;
  self[n] = '\0';
  slash = strrchr (self, '/');
  if (!slash)
    return NULL;
  *slash = '\0';
  /* libtool: we run as src/.libs/img-batch; src/TOOL is the wrapper
   * that finds the uninstalled library. */
  if (strcmp (slash - (slash - self < 6 ? 0 : 6), "/.libs") == 0) {
    if (asprintf (&path, "%.*s/%s", (int) (slash - self - 6), self, tool) < 0)
      return NULL;
    if (access (path, X_OK) == 0)
      return path;
    free (path);
  }
  if (asprintf (&path, "%s/%s", self, tool) < 0)
    return NULL;
  if (access (path, X_OK) == 0)
    return path;
  free (path);
  return NULL;
}

static int
open_report (int dirfd, const char *name, const char *suffix)
{
  char file[NAME_MAX + 1];

  if ((size_t) snprintf (file, sizeof file, "%s%s", name, suffix) >= sizeof file)
    return -ENAMETOOLONG;
  if (unlinkat (dirfd, file, 0) < 0 && errno != ENOENT)
    return -errno;
  return openat (dirfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

/* The argv: TOOL --json [-v] TOOL-OPTIONS IMAGE-OPTIONS -- IMAGE. */
static char **
tool_argv (const struct batch_run *run, const struct batch_image *im)
{
  size_t n = 0;
  char **argv = calloc (run->ntool_opts + im->nopts + 6, sizeof *argv);

  if (!argv)
    return NULL;
  argv[n++] = (char *) run->tool;
  argv[n++] = (char *) "--json";
  if (run->verbose)
    argv[n++] = (char *) "-v";
  for (size_t i = 0; i < run->ntool_opts; i++)
    argv[n++] = run->tool_opts[i];
  for (size_t i = 0; i < im->nopts; i++)
    argv[n++] = im->opts[i];
  argv[n++] = (char *) "--";
  argv[n++] = im->path;
  return argv;
}

static void __attribute__ ((noreturn))
child (struct pool *p, const struct slot *s, char **argv, int out, int err, pid_t parent)
{
  int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  setpgid (0, 0);
  if (p->cpus)
    batch_cpus_pin (p->cpus[s - p->slots]);
  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (getppid () != parent)
    _exit (127);
  if (null < 0 || dup2 (null, 0) < 0 || dup2 (out, 1) < 0 || dup2 (err, 2) < 0)
    _exit (127);
  sigprocmask (SIG_SETMASK, &p->orig, NULL);
  if (p->path)
    execv (p->path, argv);
  else
    execvp (argv[0], argv);
  dprintf (2, "%s: cannot run %s: %s\n", BATCH_PROG, argv[0], strerror (errno));
  _exit (127);
}

/* -x: the command line of a tool, "+ img2pv --json ... -- IMAGE". */
static void
trace_argv (char *const *argv)
{
  size_t len = 0;
  char *line, *e;

  for (size_t i = 0; argv[i]; i++)
    len += strlen (argv[i]) + 1;
  if ((line = malloc (len + 1)) == NULL)
    return;
  e = line;
  for (size_t i = 0; argv[i]; i++)
    e += sprintf (e, "%s%s", i ? " " : "", argv[i]);
  cli_step (IMG_PROGRESS_TRACE, "%s", line);
  free (line);
}

/* An image's line on stderr: "[   3.1] IMAGE: WHAT (3/20 done)" with
 * progress (-p, or a TTY), as it starts and as it ends; else only as it
 * ends, "img-batch: [3/20] IMAGE: WHAT". */
static void
image_line (struct pool *p, const struct batch_image *im, const char *what)
{
  bool end = strcmp (what, "started") != 0;
  char *q;

  if (!end && !cli_progress_on ())
    return;
  q = img_quote_term (im->path, 0);
  if (cli_progress_on ())
    cli_step (IMG_PROGRESS_STEP, "%s: %s (%zu/%zu done)", q ? q : "?", what, p->done, p->todo);
  else
    fprintf (stderr, "%s: [%zu/%zu] %s: %s\n", BATCH_PROG, p->done, p->todo, q ? q : "?", what);
  free (q);
}

/* 0, or -errno when the image could not be started (it is then failed,
 * with the reason). */
static int
start (struct pool *p, struct slot *s, size_t i)
{
  struct batch_image *im = &p->l->v[i];
  int out = open_report (p->run->dirfd, im->name, ".json");
  int err = out < 0 ? -1 : open_report (p->run->dirfd, im->name, ".stderr");
  char **argv = tool_argv (p->run, im);
  pid_t parent = getpid (), pid = -1;
  int r = 0;

  if (out < 0 || err < 0)
    r = out < 0 ? out : -errno;
  else if (!argv)
    r = -ENOMEM;
  else {
    trace_argv (argv);
    if ((pid = fork ()) < 0)
      r = -errno;
    else if (pid == 0)
      child (p, s, argv, out, err, parent);
  }
  if (out >= 0)
    close (out);
  if (err >= 0)
    close (err);
  free (argv);
  if (r < 0) {
    im->result = BATCH_FAILED;
    if (asprintf (&im->reason, "%s: cannot start: %s", BATCH_PROG, strerror (-r)) < 0)
      im->reason = NULL;
    return r;
  }
  setpgid (pid, pid);           /* as the child does: whoever runs first */
  if (!p->run->quiet)
    image_line (p, im, "started");
  s->pid = pid;
  s->image = i;
  p->running++;
  return 0;
}

/* The last non-blank line of the image's stderr. */
static char *
last_line (int dirfd, const char *name)
{
  char file[NAME_MAX + 1], buf[REASON_TAIL + 1];
  ssize_t n;
  off_t end;
  int fd;
  char *e, *b;

  if ((size_t) snprintf (file, sizeof file, "%s.stderr", name) >= sizeof file)
    return NULL;
  fd = openat (dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  end = lseek (fd, 0, SEEK_END);
  n = end < 0 ? -1 : pread (fd, buf, REASON_TAIL, end > REASON_TAIL ? end - REASON_TAIL : 0);
  close (fd);
  if (n <= 0)
    return NULL;
  buf[n] = '\0';
  for (e = buf + strlen (buf); e > buf && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r'); e--)
    ;
  *e = '\0';
  b = strrchr (buf, '\n');
  return *(b ? b + 1 : buf) ? strdup (b ? b + 1 : buf) : NULL;
}

static void
finish (struct pool *p, struct slot *s, int status)
{
  struct batch_image *im = &p->l->v[s->image];
  int r;

  s->pid = 0;
  p->running--;
  p->done++;
  if (WIFEXITED (status)) {
    im->status = WEXITSTATUS (status);
    im->result = im->status == 0 ? BATCH_CONVERTED : im->status == 3 ? BATCH_NOTHING : BATCH_FAILED;
  }
  else {
    im->status = 128 + WTERMSIG (status);
    im->result = got_signal ? BATCH_INTERRUPTED : BATCH_FAILED;
  }
  if (im->result == BATCH_FAILED || im->result == BATCH_INTERRUPTED) {
    im->reason = last_line (p->run->dirfd, im->name);
    if (!im->reason && !WIFEXITED (status)
        && asprintf (&im->reason, "killed by signal %d", WTERMSIG (status)) < 0)
      im->reason = NULL;
  }
  r = batch_journal_append (p->run->journal, p->run->tool, im);
  if (r < 0)
    fprintf (stderr, "%s: journal: %s\n", BATCH_PROG, strerror (-r));
  if (!p->run->quiet)
    image_line (p, im, batch_result_word (im->result, p->run->tool));
}

static int
reap (struct pool *p)
{
  for (;;) {
    int status;
    pid_t pid = waitpid (-1, &status, WNOHANG);

    if (pid == 0 || (pid < 0 && errno == ECHILD))
      return 0;
    if (pid < 0)
      return errno == EINTR ? 0 : -errno;
    for (unsigned k = 0; k < p->run->jobs; k++)
      if (p->slots[k].pid == pid)
        finish (p, &p->slots[k], status);
  }
}

static void
forward (struct pool *p, int sig)
{
  for (unsigned k = 0; k < p->run->jobs; k++)
    if (p->slots[k].pid > 0)
      kill (-p->slots[k].pid, sig);
}

/* Starts images while slots are free and no signal came. */
static void
fill (struct pool *p, size_t *next)
{
  for (unsigned k = 0; k < p->run->jobs && !got_signal; k++) {
    while (p->slots[k].pid == 0 && *next < p->l->n && !got_signal) {
      size_t i = (*next)++;
      if (p->l->v[i].skipped)
        continue;
      if (start (p, &p->slots[k], i) < 0) {
        p->l->v[i].status = -1;
        p->done++;
        batch_journal_append (p->run->journal, p->run->tool, &p->l->v[i]);
      }
    }
  }
}

static int
loop (struct pool *p)
{
  size_t next = 0;
  bool forwarded = false;
  int r;

  /* Reap, then fill the slots that freed: a child that ends after the
   * reap leaves SIGCHLD pending (it is blocked but in sigsuspend), so the
   * wait below returns at once; filling before the reap would leave a
   * slot reaped here idle until another child ends. */
  for (;;) {
    if ((r = reap (p)) < 0)
      return r;
    fill (p, &next);
    /* The reaped images' lines, durable once their slots work again. */
    if ((r = batch_journal_sync (p->run->journal)) < 0)
      fprintf (stderr, "%s: journal: %s\n", BATCH_PROG, strerror (-r));
    if (p->running == 0 && (got_signal || next >= p->l->n))
      break;
    if (p->running == 0)
      continue;
    if (signal_count > 1 && !forwarded) {
      forward (p, got_signal);
      forwarded = true;
    }
    sigsuspend (&p->wait);
  }
  return got_signal;
}

int
batch_pool_run (const struct batch_run *run, struct batch_list *l)
{
  struct pool p = { .run = run, .l = l };
  struct sigaction sa = { .sa_handler = on_stop }, ca = { .sa_handler = on_child };
  struct sigaction old_int, old_term, old_chld;
  sigset_t block;
  int r;

  p.slots = calloc (run->jobs, sizeof *p.slots);
  if (!p.slots)
    return -ENOMEM;
  for (size_t i = 0; i < l->n; i++)
    p.todo += !l->v[i].skipped;
  p.path = find_tool (run->tool);
  if (batch_cpus_plan (run->pin, run->jobs, &p.cpus) < 0) {
    free ((char *) p.path);
    free (p.slots);
    return -ENOMEM;
  }
  sigemptyset (&block);
  sigaddset (&block, SIGINT);
  sigaddset (&block, SIGTERM);
  sigaddset (&block, SIGCHLD);
  sigprocmask (SIG_BLOCK, &block, &p.orig);
  p.wait = p.orig;
  sigdelset (&p.wait, SIGINT);
  sigdelset (&p.wait, SIGTERM);
  sigdelset (&p.wait, SIGCHLD);
  ca.sa_flags = SA_NOCLDSTOP;
  sigaction (SIGINT, &sa, &old_int);
  sigaction (SIGTERM, &sa, &old_term);
  sigaction (SIGCHLD, &ca, &old_chld);
  r = loop (&p);
  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  sigaction (SIGCHLD, &old_chld, NULL);
  sigprocmask (SIG_SETMASK, &p.orig, NULL);
  free ((char *) p.path);
  free (p.cpus);
  free (p.slots);
  return r;
}
