/* --shard: which part of the image list this run takes, given on the
 * command line or by the job engine's index variables (Kubernetes
 * Indexed Jobs, Slurm array jobs), so one command line serves every
 * index. */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define SHARD_MAX 100000u

/* A decimal number 0..SHARD_MAX, nothing around it. */
static int
parse_num (const char *s, size_t len, unsigned *out)
{
  unsigned long v = 0;

  if (len == 0 || len > 6)
    return -EINVAL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -EINVAL;
    v = v * 10 + (unsigned) (s[i] - '0');
  }
  if (v > SHARD_MAX)
    return -EINVAL;
  *out = (unsigned) v;
  return 0;
}

static int
env_num (const char *var, unsigned *out)
{
  const char *s = getenv (var);

  if (!s)
    return -ENOENT;
  return parse_num (s, strlen (s), out);
}

/* The index from the engine: Kubernetes first, then Slurm (whose task
 * ids start at SLURM_ARRAY_TASK_MIN). */
static int
env_index (unsigned *index, const char **why)
{
  unsigned id, min = 0;

  if (getenv ("JOB_COMPLETION_INDEX")) {
    if (env_num ("JOB_COMPLETION_INDEX", index) < 0) {
      *why = "JOB_COMPLETION_INDEX is not a number";
      return -EINVAL;
    }
    return 0;
  }
  if (env_num ("SLURM_ARRAY_TASK_ID", &id) < 0) {
    *why = "--shard env needs JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (a number)";
    return -EINVAL;
  }
  if (getenv ("SLURM_ARRAY_TASK_MIN") && env_num ("SLURM_ARRAY_TASK_MIN", &min) < 0) {
    *why = "SLURM_ARRAY_TASK_MIN is not a number";
    return -EINVAL;
  }
  if (id < min) {
    *why = "SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN";
    return -EINVAL;
  }
  *index = id - min;
  return 0;
}

int
batch_shard_parse (const char *arg, unsigned *index, unsigned *count, const char **why)
{
  const char *slash = strchr (arg, '/');
  size_t ilen = slash ? (size_t) (slash - arg) : strlen (arg);
  int r;

  if (ilen == 3 && strncmp (arg, "env", 3) == 0)
    r = env_index (index, why);
  else if (!slash) {
    *why = "--shard wants I/N, env/N or env";
    return -EINVAL;
  }
  else if ((r = parse_num (arg, ilen, index)) < 0)
    *why = "--shard: the index is not a number";
  if (r < 0)
    return r;
  if (slash)
    r = parse_num (slash + 1, strlen (slash + 1), count);
  else if (env_num ("SLURM_ARRAY_TASK_COUNT", count) < 0) {
    *why = "--shard env needs SLURM_ARRAY_TASK_COUNT; elsewhere give the count: --shard env/N";
    return -EINVAL;
  }
  if (r < 0 || *count == 0) {
    *why = "--shard: the count is not a number above 0";
    return -EINVAL;
  }
  if (*index >= *count) {
    *why = "--shard: the index is not below the count";
    return -EINVAL;
  }
  return 0;
}
