/* The conversion tools' shared skeleton and helpers: see tool.h. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/fdio.h"
#include "base/progress.h"
#include "img-quote.h"
#include <inttypes.h>
#include "tool.h"
#include "base/hostfile.h"
#include "img-json.h"
#include "report.h"

extern char **environ;

static int
fsync_dir_of (const char *path)
{
  char *dir = strdup (path), *slash;
  int fd, r = 0;

  if (dir == NULL)
    return -ENOMEM;
  slash = strrchr (dir, '/');
  if (slash == NULL)
    strcpy (dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync (fd) < 0)
    r = -errno;
  if (fd >= 0)
    close (fd);
  free (dir);
  return r;
}

int
host_write_file (struct img_ctx *ctx, const char *path, const void *buf,
                 size_t len, unsigned mode)
{
  char *tmp = NULL;
  int fd, r = 0;

  if (asprintf (&tmp, "%s.tmp.XXXXXX", path) < 0)
    return img_err (ctx, -ENOMEM, "%s: out of memory", path);
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0) {
    r = img_err (ctx, -errno, "%s: %s", path, strerror (errno));
    free (tmp);
    return r;
  }
  r = img_internal_write_all (fd, buf, len);
  if (r == 0 && (fchmod (fd, mode) < 0 || fsync (fd) < 0))
    r = -errno;
  if (close (fd) < 0 && r == 0)
    r = -errno;
  if (r == 0 && rename (tmp, path) < 0)
    r = -errno;
  if (r < 0) {
    unlink (tmp);
    r = img_err (ctx, r, "%s: %s", path, strerror (-r));
  } else
    fsync_dir_of (path);
  free (tmp);
  return r;
}

int
host_read_file (struct img_ctx *ctx, const char *path, size_t max,
                char **bufp, size_t *lenp)
{
  return img_host_read_file (ctx, path, max, bufp, lenp);
}

int
run_command (const char *const *argv, char **out)
{
  int pipefd[2], status, r;
  pid_t pid, parent;
  struct sb b = { 0 };
  char chunk[4096];
  ssize_t n;

  if (out)
    *out = NULL;
  if (pipe2 (pipefd, O_CLOEXEC) < 0)
    return -errno;
  /* fork, not posix_spawn: the child must die with us (a qemu-img
   * convert left running would hold the image's lock). */
  parent = getpid ();
  pid = fork ();
  if (pid < 0) {
    r = errno;
    close (pipefd[0]);
    close (pipefd[1]);
    return -r;
  }
  if (pid == 0) {
    int fd = open ("/dev/null", O_RDONLY);
    if (fd >= 0)
      dup2 (fd, 0);
    dup2 (pipefd[1], 1);
    dup2 (pipefd[1], 2);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
      _exit (127);
    execvp (argv[0], (char *const *) argv);
    _exit (127);
  }
  close (pipefd[1]);
  while ((n = read (pipefd[0], chunk, sizeof chunk)) != 0) {
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (b.len < (1u << 20))
      sb_add (&b, chunk, (size_t) n);
  }
  close (pipefd[0]);
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR) {
      sb_free (&b);
      return -errno;
    }
  if (out)
    *out = b.s ? b.s : strdup ("");
  else
    sb_free (&b);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return 128 + (WIFSIGNALED (status) ? WTERMSIG (status) : 0);
}

/* Raw: copy the data extents only, so holes stay holes. */
static int
copy_raw (struct img_ctx *ctx, const char *in, const char *tmp, int out_fd)
{
  int fd = open (in, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *buf = NULL;
  off_t pos = 0;
  int r = 0;

  if (fd < 0)
    return img_err (ctx, -errno, "%s: %s", in, strerror (errno));
  if (fstat (fd, &st) < 0) {
    r = img_err (ctx, -errno, "%s: %s", in, strerror (errno));
    goto out;
  }
  if (ftruncate (out_fd, st.st_size) < 0) {
    r = img_err (ctx, -errno, "%s: %s", tmp, strerror (errno));
    goto out;
  }
  buf = malloc (1 << 20);
  if (buf == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: out of memory", in);
    goto out;
  }
  while (pos < st.st_size) {
    off_t data = lseek (fd, pos, SEEK_DATA), hole;
    if (data < 0) {
      if (errno == ENXIO)
        break;                  /* only a hole is left */
      data = pos;               /* no SEEK_DATA: copy everything */
      hole = st.st_size;
    } else {
      hole = lseek (fd, data, SEEK_HOLE);
      if (hole < 0)
        hole = st.st_size;
    }
    for (pos = data; pos < hole;) {
      size_t want = (size_t) (hole - pos < (1 << 20) ? hole - pos : (1 << 20)), i;
      ssize_t n = pread (fd, buf, want, pos);
      bool zero = true;
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        r = img_err (ctx, n < 0 ? -errno : -EIO, "%s: read at %jd: %s", in,
                     (intmax_t) pos, n < 0 ? strerror (errno) : "unexpected end of file");
        goto out;
      }
      for (i = 0; i < (size_t) n && zero; i++)
        zero = buf[i] == 0;
      if (!zero && pwrite (out_fd, buf, (size_t) n, pos) != n) {
        r = img_err (ctx, -errno, "%s: write: %s", tmp, strerror (errno));
        goto out;
      }
      pos += n;
      img_progress_bytes (ctx, (uint64_t) pos, (uint64_t) st.st_size);
    }
  }
  img_progress_bytes (ctx, (uint64_t) st.st_size, (uint64_t) st.st_size);
  if (fsync (out_fd) < 0)
    r = img_err (ctx, -errno, "%s: %s", tmp, strerror (errno));
 out:
  free (buf);
  close (fd);
  return r;
}

int
copy_image (struct img_ctx *ctx, const char *in, const char *out)
{
  struct img_disk *disk = NULL;
  char *fmt = NULL, *tmp = NULL, *msg = NULL, *target = NULL;
  int fd = -1, r;

  if (access (out, F_OK) == 0)
    return img_err (ctx, -EEXIST, "%s: already exists; not overwriting it", out);
  img_progress_step (ctx, IMG_PROGRESS_STEP, "Copying %s to %s", in, out);
  /* Opening checks the format, what the image names besides itself
   * (refused unless --allow-backing) and its integrity, and holds the
   * image (qemu's read lock) while we copy it. */
  r = img_disk_open (ctx, in, IMG_DISK_RDONLY, &disk);
  if (r < 0)
    return r;
  fmt = strdup (img_disk_format (disk));
  if (fmt == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: out of memory", in);
    goto out;
  }
  if (asprintf (&tmp, "%s.tmp.XXXXXX", out) < 0) {
    tmp = NULL;
    r = img_err (ctx, -ENOMEM, "%s: out of memory", out);
    goto out;
  }
  fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0) {
    r = img_err (ctx, -errno, "%s: %s", out, strerror (errno));
    goto out;
  }
  if (strcmp (fmt, "raw") == 0)
    r = copy_raw (ctx, in, tmp, fd);
  else {
    /* The source is the disk's pinned json: name, so qemu-img reads the
     * image and only the files the check allowed (the copy is flattened:
     * with --allow-backing it carries the allowed chain's bytes, without
     * it nothing but the image's own).  -U: we hold the image ourselves.
     * "./" keeps a relative target name from being parsed as a protocol. */
    const char *src = img_disk_qemu_name (disk);
    if (asprintf (&target, "%s%s", tmp[0] == '/' ? "" : "./", tmp) < 0) {
      target = NULL;
      r = img_err (ctx, -ENOMEM, "%s: out of memory", out);
      goto out;
    }
    const char *argv[] = { QEMU_IMG, "convert", "-q", "-U", "-O", fmt,
                           "--", src, target, NULL };
    r = run_command (argv, &msg);
    if (r != 0) {
      char *nl = msg ? strchr (msg, '\n') : NULL;
      if (nl)
        *nl = '\0';
      r = img_err (ctx, -EIO, "%s: qemu-img convert failed: %s", out,
                   msg && *msg ? msg : r < 0 ? strerror (-r) : "non-zero exit");
    }
  }
  if (r == 0 && fchmod (fd, 0644) < 0)
    r = img_err (ctx, -errno, "%s: %s", tmp, strerror (errno));
  if (r == 0 && link (tmp, out) < 0)    /* never replaces an OUT made meanwhile */
    r = img_err (ctx, -errno, "%s: %s", out, strerror (errno));
  if (r == 0)
    fsync_dir_of (out);
  if (r == 0) {
    /* The copy is ours: it is opened as the format it was written in,
     * and has nothing to follow. */
    struct img_disk_opts o = { fmt, false };
    if (img_ctx_set_disk_opts (ctx, &o) < 0)
      r = img_err (ctx, -ENOMEM, "%s: out of memory", out);
  }
 out:
  img_disk_close (disk);
  if (fd >= 0) {
    close (fd);
    unlink (tmp);
  }
  free (target);
  free (msg);
  free (tmp);
  free (fmt);
  return r;
}

int
parse_size (const char *s, bool mib_default, uint64_t *bytes)
{
  char *end;
  unsigned long long v;
  uint64_t mult = mib_default ? 1ull << 20 : 1;

  errno = 0;
  if (s == NULL || *s < '0' || *s > '9')
    return -EINVAL;
  v = strtoull (s, &end, 10);
  if (errno || end == s)
    return -EINVAL;
  switch (*end) {
  case 'k': case 'K': mult = 1ull << 10; end++; break;
  case 'm': case 'M': mult = 1ull << 20; end++; break;
  case 'g': case 'G': mult = 1ull << 30; end++; break;
  case 't': case 'T': mult = 1ull << 40; end++; break;
  case '\0': break;
  default: return -EINVAL;
  }
  if (*end == 'i' && end[-1] != '\0' && mult > 1)
    end++;
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0' || (v && mult > UINT64_MAX / v))
    return -EINVAL;
  *bytes = v * mult;
  return 0;
}

void
plan_disk_facts (struct img_plan *plan)
{
  struct img_guest *g = img_plan_guest (plan);
  size_t i, k;

  for (i = 0; i < img_guest_n_disks (g); i++) {
    struct img_disk *d = img_guest_disk (g, i);
    char key[64];

    snprintf (key, sizeof key, i == 0 ? "format" : "format_%zu", i);
    img_plan_fact (plan, key, "%s%s", img_disk_format (d),
                   img_disk_format_guessed (d) ? " (guessed from the image's bytes; use --format to set it)" : "");
    for (k = 0; k < img_disk_n_backing (d); k++) {
      snprintf (key, sizeof key, i == 0 ? "backing_chain_%zu" : "backing_chain_%zu_%zu", i == 0 ? k : i, k);
      img_plan_fact (plan, key, "%s", img_disk_backing (d, k));
    }
  }
}

char *
tool_asprintf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int n;

  va_start (ap, fmt);
  n = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (n < 0) {
    report_phase (REPORT_INTERNAL);
    exit (report_finish (report_error (IMG_EXIT_ERROR, "out of memory")));
  }
  return s;
}

char *
tool_strdup (const char *s)
{
  return s ? tool_asprintf ("%s", s) : NULL;
}

int
tool_exit_code (const struct img_plan *plan)
{
  switch (img_plan_status (plan)) {
  case IMG_PLAN_CHANGED: return IMG_EXIT_CHANGED;
  case IMG_PLAN_NOTHING: return IMG_EXIT_NOTHING;
  case IMG_PLAN_FAILED_DIRTY: return IMG_EXIT_DIRTY;
  default: return IMG_EXIT_ERROR;
  }
}

int
tool_option (struct tool *t, int c, const char *arg)
{
  enum img_budget which;
  uint64_t v;

  switch (c) {
  case TOOL_O_VERSION:
    tool_version (t->prog);
    exit (fflush (stdout) == 0 ? 0 : IMG_EXIT_ERROR);
  case 'n': t->dry_run = true; return 1;
  case TOOL_O_JSON: t->json = true; report_set_json (true); return 1;
  case TOOL_O_FORMAT: t->dopts.format = arg; return 1;
  case TOOL_O_ALLOW_BACKING: t->dopts.allow_backing = true; return 1;
  case TOOL_O_UNDO: t->undo = arg; return 1;
  case TOOL_O_NO_UNDO: t->no_undo = true; return 1;
  case TOOL_O_ROLLBACK: t->rollback = arg; return 1;
  case TOOL_O_FORCE: t->force = true; return 1;
  case 'q': t->quiet = true; return 1;
  case 'v': t->verbose = true; return 1;
  case 'x': t->trace = true; return 1;
  case 'p': t->progress = 1; return 1;
  case TOOL_O_NO_PROGRESS: t->progress = -1; return 1;
  case TOOL_O_KEY:
    if (t->n_keys >= sizeof t->keys / sizeof t->keys[0])
      return report_error (-1, "--key: at most %zu keys", sizeof t->keys / sizeof t->keys[0]);
    t->keys[t->n_keys++] = arg;
    return 1;
  case TOOL_O_BACKEND:
    if (img_fs_backend_parse (arg, &t->backend) < 0)
      return report_error (-1, "--backend=%s: one of auto, native, guestfs", arg);
    return 1;
  case TOOL_O_BUDGET:
    if (img_budget_parse (arg, &which, &v) < 0)
      return report_error (-1, "--budget=%s: NAME=SIZE, NAME one of inflate, inflate-total, file, file-total, entries, entries-total, members", arg);
    t->budget[which] = v;
    return 1;
  default:
    return 0;
  }
}

static const char *log_prog;
static bool log_quiet, log_verbose;

static void
log_fn (void *data, int prio, const char *msg)
{
  (void) data;
  if (prio <= IMG_LOG_ERR || (prio <= IMG_LOG_WARNING && !log_quiet))
    fprintf (stderr, "%s: %s%s\n", log_prog, prio > IMG_LOG_ERR ? "warning: " : "", msg);
  else if (log_verbose && prio >= IMG_LOG_DEBUG)
    fprintf (stderr, "%s: debug: %s\n", log_prog, msg);
}

/* ---- progress on stderr (base/progress.h) ---------------------------------
 * Step lines "[   3.1] text" (seconds since the start, as virt-customize),
 * traced operations "[   3.1] + text" with -x, and a byte bar: redrawn in
 * place with \r at most ten times a second on a TTY, else a plain line at
 * each tenth.  Only stderr: stdout is the report's. */
struct progress {
  bool steps, trace, tty;
  struct timespec start, last;
  int last_decile;
  bool bar_open;                /* a \r bar is on the line */
};
static struct progress prog_state;

static double
elapsed (const struct timespec *a, const struct timespec *b)
{
  return (double) (b->tv_sec - a->tv_sec) + (double) (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void
progress_step (void *data, enum img_progress_kind kind, const char *text)
{
  struct progress *p = data;
  struct timespec now;
  char *q;

  if (kind == IMG_PROGRESS_TRACE ? !p->trace : !p->steps)
    return;
  clock_gettime (CLOCK_MONOTONIC, &now);
  q = img_quote_term (text, 0);
  if (p->bar_open) {
    fputc ('\n', stderr);
    p->bar_open = false;
  }
  fprintf (stderr, "[%6.1f] %s%s\n", elapsed (&p->start, &now),
           kind == IMG_PROGRESS_TRACE ? "+ " : "", q ? q : "?");
  free (q);
}

static void
progress_bytes (void *data, uint64_t done, uint64_t total)
{
  struct progress *p = data;
  struct timespec now;
  double t, pct, rate;
  bool end = total && done >= total;
  int decile;

  if (!p->steps)
    return;
  clock_gettime (CLOCK_MONOTONIC, &now);
  pct = total ? 100.0 * (double) done / (double) total : 0;
  decile = (int) (pct / 10);
  if (p->tty) {
    if (!end && p->bar_open && elapsed (&p->last, &now) < 0.1)
      return;
  }
  else if (!end && decile <= p->last_decile)
    return;
  p->last_decile = end ? -1 : decile;
  t = elapsed (&p->start, &now);
  rate = t > 0 ? (double) done / t : 0;
  fprintf (stderr, "%s[%6.1f] %5.1f%% %" PRIu64 "/%" PRIu64 " bytes, %.1f MiB/s%s",
           p->tty ? "\r" : "", t, pct, done, total, rate / 1048576.0,
           p->tty && !end ? "" : "\n");
  p->bar_open = p->tty && !end;
  p->last = now;
}

static void
progress_init (struct tool *t)
{
  static const struct img_progress_ops ops = { progress_step, progress_bytes };
  bool tty = isatty (STDERR_FILENO);

  prog_state.tty = tty;
  prog_state.steps = t->progress == 1 || (t->progress == 0 && tty && !t->quiet);
  prog_state.trace = t->trace;
  prog_state.last_decile = -1;
  clock_gettime (CLOCK_MONOTONIC, &prog_state.start);
  img_progress_set_ops (t->ctx, &ops, &prog_state);
}

int
tool_start (struct tool *t)
{
  size_t i;
  int r;

  if ((r = img_ctx_new (&t->ctx)) < 0) {
    t->ctx = NULL;
    if (r == -ENOMEM) {         /* -EINVAL: a bad IMG_BUDGET_*, said */
      report_phase (REPORT_INTERNAL);
      return report_error (IMG_EXIT_ERROR, "out of memory");
    }
    report_record ("a bad IMG_BUDGET_* value in the environment");
    return IMG_EXIT_ERROR;
  }
  log_prog = t->prog;
  log_quiet = t->quiet;
  log_verbose = t->verbose;
  img_ctx_set_log_fn (t->ctx, log_fn, NULL);
  if (t->verbose)
    img_ctx_set_log_priority (t->ctx, IMG_LOG_DEBUG);
  progress_init (t);
  for (i = 0; i < IMG_BUDGET_N; i++)
    if (t->budget[i])
      img_ctx_set_budget (t->ctx, (enum img_budget) i, t->budget[i]);
  img_ctx_set_fs_backend (t->ctx, t->backend);
  for (i = 0; i < t->n_keys; i++)
    if (img_ctx_add_key (t->ctx, t->keys[i]) < 0) {
      report_error (IMG_EXIT_USAGE, "%s", img_ctx_error (t->ctx));
      tool_end (t);
      return IMG_EXIT_USAGE;
    }
  if (img_ctx_set_disk_opts (t->ctx, &t->dopts) < 0) {
    report_phase (REPORT_INTERNAL);
    report_error (IMG_EXIT_ERROR, "out of memory");
    tool_end (t);
    return IMG_EXIT_ERROR;
  }
  report_phase (REPORT_OPEN);
  return 0;
}

void
tool_end (struct tool *t)
{
  img_ctx_free (t->ctx);
  t->ctx = NULL;
}

int
tool_fail (struct img_ctx *ctx, const char *prog, const char *image)
{
  const char *msg = img_ctx_error (ctx);

  (void) prog;                  /* report_init's */
  if (image == NULL || strncmp (msg, image, strlen (image)) == 0)
    return report_error (IMG_EXIT_ERROR, "%s", msg);
  return report_error (IMG_EXIT_ERROR, "%s: %s", image, msg);
}

/* --rollback's report with --json: the envelope, the images, and
 * "rollback": {"undo", "rolled_back"}. */
static void
rollback_json (const char *undo, const char *const *images, size_t n_images, bool done)
{
  struct img_json j;
  size_t i;

  report_begin (&j, done ? 0 : IMG_EXIT_NOTHING, NULL, NULL, NULL);
  img_json_key (&j, "images");
  img_json_begin_array (&j);
  for (i = 0; i < n_images; i++)
    img_json_string (&j, images[i]);
  img_json_end_array (&j);
  img_json_key (&j, "rollback");
  img_json_begin_object (&j);
  img_json_kv_string (&j, "undo", undo);
  img_json_kv_bool (&j, "rolled_back", done);
  img_json_end_object (&j);
  report_end (&j);
}

int
tool_rollback (struct img_ctx *ctx, const char *prog, const char *undo,
               const char *const *images, size_t n_images, bool force)
{
  int r;

  report_phase (REPORT_ROLLBACK);
  img_progress_step (ctx, IMG_PROGRESS_STEP, "Rolling back with %s", undo);
  r = img_undo_rollback (ctx, undo, n_images ? images : NULL, n_images,
                         force ? IMG_UNDO_FORCE : 0);
  if (r < 0)
    return tool_fail (ctx, prog, NULL);
  if (report_json ())
    rollback_json (undo, images, n_images, r != 1);
  else if (r == 1)
    printf ("Nothing to roll back.\n");
  else
    printf ("Rolled back: the image is as it was before %s.\n", prog);
  return r == 1 ? IMG_EXIT_NOTHING : 0;
}

/* Renames UNDO to UNDO.WHY-STAMP: 0 or -errno. */
static int
set_aside (const char *undo, const char *why, char **aside)
{
  char stamp[32];
  time_t now = time (NULL);

  strftime (stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime (&now));
  *aside = tool_asprintf ("%s.%s-%s", undo, why, stamp);
  return rename (undo, *aside) < 0 ? -errno : 0;
}

int
tool_plan_open (struct img_ctx *ctx, const char *prog, const char *const *images,
                size_t n_images, unsigned flags, const char *undo_opt,
                struct img_plan **planp)
{
  bool keep = !(flags & (IMG_PLAN_DRY_RUN | IMG_PLAN_NO_UNDO));
  char *undo = undo_opt ? tool_strdup (undo_opt) : tool_asprintf ("%s" IMG_UNDO_SUFFIX, images[0]);
  char *aside = NULL;
  struct img_plan *plan = NULL;
  int st = 0, r;

  *planp = NULL;
  if (keep) {
    /* A record whose image was rolled back has done its job: a new run
     * starts a new one, the old one kept aside (the library would remove
     * it). */
    if (img_undo_state (ctx, undo, &st) == 0 && st == IMG_UNDO_ROLLED_BACK
        && (r = set_aside (undo, "rolled-back", &aside)) < 0) {
      img_err (ctx, r, "%s: %s: %s", images[0], undo, strerror (-r));
      goto out;
    }
    img_ctx_clear_error (ctx);
    free (aside);
    aside = NULL;
  }
  img_progress_step (ctx, IMG_PROGRESS_STEP, "Opening the image %s", images[0]);
  if ((r = img_plan_new (ctx, images, n_images, flags, undo_opt, &plan)) == 0
      && (r = img_plan_open (plan)) == -ESTALE && !(flags & IMG_PLAN_DRY_RUN)
      && set_aside (undo, "stale", &aside) == 0) {
    /* The record no longer matches the image (the guest has run since):
     * it can restore nothing now.  Kept aside, never deleted. */
    fprintf (stderr, "%s: warning: %s: the image changed since %s was written (the guest ran?); "
             "kept it as %s and started a new undo record\n", prog, images[0], undo, aside);
    img_plan_free (plan);
    plan = NULL;
    img_ctx_clear_error (ctx);
    if ((r = img_plan_new (ctx, images, n_images, flags, undo_opt, &plan)) == 0)
      r = img_plan_open (plan);
  }
 out:
  free (aside);
  free (undo);
  *planp = plan;
  return r < 0 ? r : 0;
}

void
tool_report (const struct img_plan *plan, bool json, int code)
{
  const char *layer = NULL, *msg = NULL, *edit = NULL;
  struct img_json j;

  if (!json) {
    img_plan_report_text (plan, stdout);
    return;
  }
  /* A failed plan says why; a plan that did its work and a run that
   * failed after it (the xl config, the copy's name) is the phase's. */
  if (img_plan_status (plan) == IMG_PLAN_FAILED || img_plan_status (plan) == IMG_PLAN_FAILED_DIRTY) {
    layer = img_plan_status (plan) == IMG_PLAN_FAILED ? REPORT_EDIT : REPORT_ROLLBACK;
    msg = img_plan_error (plan);
    edit = img_plan_failed_edit (plan);
  }
  report_begin (&j, code, layer, msg, edit);
  img_plan_report_json_fields (plan, &j);
  report_end (&j);
}

int
tool_finish (const struct img_plan *plan, bool json, int code)
{
  if (plan && json && !report_done () && code != 0 && code != IMG_EXIT_NOTHING)
    tool_report (plan, json, code);
  return report_finish (code);
}
