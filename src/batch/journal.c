/* The journal: one line per finished image, appended as the image ends
 * and fsync'ed once the freed slot runs its next image (an fsync waits
 * for the other images' writes too: made first, it kept the slot idle),
 * so a re-run knows what is done:
 *   2026-12-05T07:30:00Z converted 0 img2pv NAME
 * (time, result, the tool's exit status, tool, report name).  A run killed
 * mid-write leaves a torn last line: it is ignored on reading, and the
 * next run marks it torn before it appends. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"

#define JOURNAL_LINE_MAX 512
#define TORN " #torn\n"

struct batch_journal {
  int fd;
  bool dirty;                   /* lines written since the last fsync */
};

static const char *const words[] = {
  [BATCH_PENDING] = "pending",
  [BATCH_CONVERTED] = "converted",
  [BATCH_NOTHING] = "nothing-to-do",
  [BATCH_FAILED] = "failed",
  [BATCH_INTERRUPTED] = "interrupted",
};

/* Also the summary's words: img-inspect converts nothing. */
const char *
batch_result_word (enum batch_result r, const char *tool)
{
  if (r == BATCH_CONVERTED && tool && strcmp (tool, "img-inspect") == 0)
    return "inspected";
  if (r == BATCH_PENDING)
    return "not-started";
  return words[r];
}

int
batch_journal_open (int dirfd, const char *file, struct batch_journal **out)
{
  struct batch_journal *j = calloc (1, sizeof *j);
  char last;
  off_t end;
  int r;

  if (!j)
    return -ENOMEM;
  j->fd = openat (dirfd, file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (j->fd < 0) {
    r = -errno;
    free (j);
    return r;
  }
  /* One run a journal: two would start the same images. */
  if (flock (j->fd, LOCK_EX | LOCK_NB) < 0) {
    r = errno == EWOULDBLOCK ? -EBUSY : -errno;
    batch_journal_close (j);
    return r;
  }
  /* A torn last line: end it with a field no line has (names never hold
   * '#'), so that it stays one bad line even if only its newline was
   * lost. */
  end = lseek (j->fd, 0, SEEK_END);
  if (end > 0) {
    int rfd = openat (dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    r = 0;
    if (rfd < 0)
      r = -errno;
    else if (pread (rfd, &last, 1, end - 1) == 1 && last != '\n'
             && write (j->fd, TORN, sizeof TORN - 1) != sizeof TORN - 1)
      r = -errno;
    if (rfd >= 0)
      close (rfd);
    if (r < 0) {
      batch_journal_close (j);
      return r;
    }
  }
  *out = j;
  return 0;
}

int
batch_journal_append (struct batch_journal *j, const char *tool,
                      const struct batch_image *im)
{
  char line[JOURNAL_LINE_MAX], stamp[32];
  time_t now = time (NULL);
  struct tm tm;
  int n;

  gmtime_r (&now, &tm);
  strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  n = snprintf (line, sizeof line, "%s %s %d %s %s\n", stamp, words[im->result],
                im->status, tool, im->name);
  if (n < 0 || (size_t) n >= sizeof line)
    return -ENAMETOOLONG;
  if (write (j->fd, line, (size_t) n) != n)
    return errno ? -errno : -EIO;
  j->dirty = true;
  return 0;
}

int
batch_journal_sync (struct batch_journal *j)
{
  if (!j || !j->dirty)
    return 0;
  if (fsync (j->fd) < 0)
    return -errno;
  j->dirty = false;
  return 0;
}

void
batch_journal_close (struct batch_journal *j)
{
  if (!j)
    return;
  batch_journal_sync (j);
  close (j->fd);
  free (j);
}

static struct batch_image *
find (struct batch_list *l, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (strcmp (l->v[i].name, name) == 0)
      return &l->v[i];
  return NULL;
}

/* One complete line; anything malformed is skipped (a torn line, or a
 * journal of another version). */
static void
apply_line (char *line, const char *tool, struct batch_list *l)
{
  char *save = NULL, *f[5];
  struct batch_image *im;
  int status;
  size_t n = 0;

  for (char *t = strtok_r (line, " ", &save); t; t = strtok_r (NULL, " ", &save))
    if (n++ < 5)
      f[n - 1] = t;
  if (n != 5 || strcmp (f[3], tool) != 0)
    return;
  if (!(im = find (l, f[4])))
    return;
  status = atoi (f[2]);
  im->skipped = false;
  im->result = BATCH_PENDING;
  if (strcmp (f[1], words[BATCH_CONVERTED]) == 0)
    im->result = BATCH_CONVERTED;
  else if (strcmp (f[1], words[BATCH_NOTHING]) == 0)
    im->result = BATCH_NOTHING;
  else
    return;
  im->skipped = true;
  im->status = status;
}

static int
apply_file (int dirfd, const char *file, const char *tool, struct batch_list *l)
{
  int fd = openat (dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  FILE *fp;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;

  if (fd < 0)
    return errno == ENOENT ? 0 : -errno;
  fp = fdopen (fd, "r");
  if (!fp) {
    close (fd);
    return -ENOMEM;
  }
  while ((len = getline (&line, &cap, fp)) > 0)
    if (line[len - 1] == '\n' && len < JOURNAL_LINE_MAX) {
      line[len - 1] = '\0';
      apply_line (line, tool, l);
    }
  free (line);
  fclose (fp);
  return 0;
}

/* Every journal of OUTDIR ("journal", and "journal.I-of-N" of shards), in
 * name order; within one file the last line about an image wins. */
int
batch_journal_apply (int dirfd, const char *tool, struct batch_list *l)
{
  struct dirent **ents;
  int n, r = 0;

  n = scandirat (dirfd, ".", &ents, NULL, alphasort);
  if (n < 0)
    return -errno;
  for (int i = 0; i < n; i++) {
    const char *name = ents[i]->d_name;
    if (r == 0 && (strcmp (name, "journal") == 0 || strncmp (name, "journal.", 8) == 0))
      r = apply_file (dirfd, name, tool, l);
    free (ents[i]);
  }
  free (ents);
  return r;
}
