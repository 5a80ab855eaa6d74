/* Where each worker runs.
 *
 * A worker is a tool and the qemu-nbd it starts, which hand every request
 * back and forth: one of the two runs while the other waits.  When every
 * CPU img-batch may use has a worker (-j N with N CPUs allowed), the
 * scheduler left to itself often wakes one of the pair on the CPU the
 * other worker is busy on, while its own CPU goes idle (bench/batch.sh:
 * -j 2 on 2 CPUs left them 9-18% idle).  So with --pin=auto (the
 * default) in that case, and with --pin=yes always, worker slot k is
 * pinned to the k-th CPU allowed (modulo their number): the tool and
 * whatever it starts inherit it.  With fewer workers than CPUs, other
 * work on the host (guests) is better placed by the scheduler. */
#include <config.h>

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

int
batch_pin_parse (const char *arg, enum batch_pin *pin)
{
  if (strcmp (arg, "auto") == 0)
    *pin = BATCH_PIN_AUTO;
  else if (strcmp (arg, "yes") == 0)
    *pin = BATCH_PIN_YES;
  else if (strcmp (arg, "no") == 0)
    *pin = BATCH_PIN_NO;
  else
    return -EINVAL;
  return 0;
}

int
batch_cpus_plan (enum batch_pin pin, unsigned jobs, int **cpus)
{
  cpu_set_t allowed;
  int *v, c;

  *cpus = NULL;
  if (pin == BATCH_PIN_NO || sched_getaffinity (0, sizeof allowed, &allowed) < 0)
    return 0;
  c = CPU_COUNT (&allowed);
  if (c < 1 || (pin == BATCH_PIN_AUTO && (jobs < 2 || (unsigned) c != jobs)))
    return 0;
  if ((v = calloc (jobs, sizeof *v)) == NULL)
    return -ENOMEM;
  for (unsigned k = 0; k < jobs; k++) {
    int want = (int) (k % (unsigned) c), seen = -1;

    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
      if (CPU_ISSET (cpu, &allowed) && ++seen == want) {
        v[k] = cpu;
        break;
      }
  }
  *cpus = v;
  return (int) jobs;
}

void
batch_cpus_pin (int cpu)
{
  cpu_set_t one;

  CPU_ZERO (&one);
  CPU_SET (cpu, &one);
  /* A hint: refused (a cpuset changed under us), the tool runs where the
   * scheduler puts it. */
  (void) sched_setaffinity (0, sizeof one, &one);
}
