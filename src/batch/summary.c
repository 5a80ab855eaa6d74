/* The summary of a run: OUTDIR/summary.json for programs, a table on
 * stdout for people.  Both list every image of this shard, the ones the
 * journal had finished earlier included. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "img-json.h"
#include "img-quote.h"

#define NRESULTS (BATCH_INTERRUPTED + 1)

static void
count (const struct batch_list *l, size_t counts[NRESULTS], size_t *skipped)
{
  memset (counts, 0, NRESULTS * sizeof *counts);
  *skipped = 0;
  for (size_t i = 0; i < l->n; i++) {
    counts[l->v[i].result]++;
    *skipped += l->v[i].skipped;
  }
}

static void
write_image (struct img_json *j, const char *tool, const struct batch_image *im)
{
  char report[300];

  snprintf (report, sizeof report, "%s.json", im->name);
  img_json_begin_object (j);
  img_json_kv_string (j, "image", im->path);
  img_json_kv_string (j, "name", im->name);
  if (im->line)
    img_json_kv_uint (j, "manifest_line", im->line);
  img_json_kv_string (j, "result", batch_result_word (im->result, tool));
  img_json_key (j, "exit_status");
  if (im->status >= 0)
    img_json_uint (j, (unsigned) im->status);
  else
    img_json_null (j);
  img_json_kv_string (j, "reason", im->reason);
  img_json_kv_bool (j, "from_journal", im->skipped);
  img_json_kv_string (j, "report", im->result == BATCH_PENDING || im->skipped ? NULL : report);
  img_json_end_object (j);
}

static void
write_json (FILE *fp, const char *tool, unsigned index, unsigned n, int sig,
            const struct batch_list *l)
{
  struct img_json j;
  size_t counts[NRESULTS], skipped;

  count (l, counts, &skipped);
  img_json_init (&j, fp);
  img_json_begin_object (&j);
  img_json_kv_string (&j, "tool", tool);
  img_json_key (&j, "shard");
  img_json_begin_object (&j);
  img_json_kv_uint (&j, "index", index);
  img_json_kv_uint (&j, "count", n);
  img_json_end_object (&j);
  img_json_kv_string (&j, "interrupted_by", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : NULL);
  img_json_key (&j, "counts");
  img_json_begin_object (&j);
  for (int r = BATCH_PENDING; r < NRESULTS; r++)
    img_json_kv_uint (&j, batch_result_word ((enum batch_result) r, tool), counts[r]);
  img_json_kv_uint (&j, "from_journal", skipped);
  img_json_end_object (&j);
  img_json_key (&j, "images");
  img_json_begin_array (&j);
  for (size_t i = 0; i < l->n; i++)
    write_image (&j, tool, &l->v[i]);
  img_json_end_array (&j);
  img_json_end_object (&j);
  img_json_finish (&j);
}

/* Written beside, then renamed: a reader never sees half a summary. */
int
batch_summary_write (int dirfd, const char *file, const char *tool,
                     unsigned index, unsigned n, int sig, const struct batch_list *l)
{
  char tmp[256];
  int fd, r = 0;
  FILE *fp;

  if ((size_t) snprintf (tmp, sizeof tmp, "%s.tmp", file) >= sizeof tmp)
    return -ENAMETOOLONG;
  unlinkat (dirfd, tmp, 0);
  fd = openat (dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  fp = fdopen (fd, "w");
  if (!fp) {
    close (fd);
    return -ENOMEM;
  }
  write_json (fp, tool, index, n, sig, l);
  if (fflush (fp) != 0 || fsync (fd) < 0)
    r = -errno;
  if (fclose (fp) != 0 && r == 0)
    r = -errno;
  if (r == 0 && renameat (dirfd, tmp, dirfd, file) < 0)
    r = -errno;
  return r;
}

void
batch_summary_print (const char *tool, const struct batch_list *l)
{
  size_t counts[NRESULTS], skipped;

  printf ("%-14s %-40s %s\n", "RESULT", "IMAGE", "REASON");
  for (size_t i = 0; i < l->n; i++) {
    const struct batch_image *im = &l->v[i];
    char *path = img_quote_term (im->path, 0);
    char *reason = im->reason ? img_quote_term (im->reason, 0) : NULL;
    printf ("%-14s %-40s %s%s\n", batch_result_word (im->result, tool), path ? path : "?",
            im->skipped ? "(earlier run)" : "", reason ? reason : "");
    free (path);
    free (reason);
  }
  count (l, counts, &skipped);
  printf ("%zu %s, %zu nothing to do, %zu failed, %zu interrupted, %zu not started"
          " (%zu finished in an earlier run)\n",
          counts[BATCH_CONVERTED], batch_result_word (BATCH_CONVERTED, tool),
          counts[BATCH_NOTHING], counts[BATCH_FAILED], counts[BATCH_INTERRUPTED],
          counts[BATCH_PENDING], skipped);
  fflush (stdout);
}
