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
  return run_command_fn (argv, out, NULL, NULL);
}

int
run_command_fn (const char *const *argv, char **out,
                void (*fn) (void *data, const char *buf, size_t len), void *data)
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
    if (fn)
      fn (data, chunk, (size_t) n);
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

/* qemu-img convert -p's progress, "    (12.34/100%)\r" on its stdout,
 * relayed as a byte bar over the image's virtual size. */
struct qemu_progress {
  struct img_ctx *ctx;
  uint64_t size;
  char seg[64];
  size_t len;
  bool overflow;
};

/* Whether TEXT (LEN bytes, up to a \r or \n) is one progress report;
 * its percent in *PCT. */
static bool
qemu_progress_parse (const char *text, size_t len, double *pct)
{
  char seg[64], close;

  if (len >= sizeof seg)
    return false;
  memcpy (seg, text, len);
  seg[len] = '\0';
  return sscanf (seg, " (%lf/100%%%c", pct, &close) == 2 && close == ')'
    && *pct >= 0 && *pct <= 100;
}

static void
qemu_progress_feed (void *data, const char *buf, size_t len)
{
  struct qemu_progress *q = data;
  double pct;

  for (size_t i = 0; i < len; i++) {
    if (buf[i] != '\r' && buf[i] != '\n') {
      if (q->len < sizeof q->seg)
        q->seg[q->len++] = buf[i];
      else
        q->overflow = true;
      continue;
    }
    /* Short of the end: the bar ends once, when qemu-img has exited. */
    if (!q->overflow && qemu_progress_parse (q->seg, q->len, &pct) && q->size)
      img_progress_bytes (q->ctx, (uint64_t) ((long double) (q->size - 1) * pct / 100.0L), q->size);
    q->len = 0;
    q->overflow = false;
  }
}

/* qemu-img's output without its progress reports (a failure's message). */
static const char *
qemu_skip_progress (const char *msg)
{
  double pct;

  for (;;) {
    size_t n = strcspn (msg, "\r\n");
    if (msg[n] == '\0' || !qemu_progress_parse (msg, n, &pct))
      return msg;
    msg += n + 1;
  }
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
    /* With progress shown, -p (its reports relayed as our byte bar)
     * instead of -q. */
    struct qemu_progress qp = { .ctx = ctx, .size = img_disk_size (disk) };
    const char *argv[] = { QEMU_IMG, "convert", cli_progress_on () ? "-p" : "-q", "-U",
                           "-O", fmt, "--", src, target, NULL };
    r = run_command_fn (argv, &msg, cli_progress_on () ? qemu_progress_feed : NULL, &qp);
    if (r == 0 && cli_progress_on ())
      img_progress_bytes (ctx, qp.size, qp.size);
    if (r != 0) {
      const char *why = msg ? qemu_skip_progress (msg) : NULL;
      char *nl = why ? strchr (why, '\n') : NULL;
      if (nl)
        *nl = '\0';
      r = img_err (ctx, -EIO, "%s: qemu-img convert failed: %s", out,
                   why && *why ? why : r < 0 ? strerror (-r) : "non-zero exit");
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

  if (cli_option (&t->cli, c))
    return 1;
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
  log_quiet = t->cli.quiet;
  log_verbose = t->cli.verbose;
  img_ctx_set_log_fn (t->ctx, log_fn, NULL);
  if (t->cli.verbose)
    img_ctx_set_log_priority (t->ctx, IMG_LOG_DEBUG);
  cli_progress_start (&t->cli);
  cli_progress_attach (t->ctx);
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
