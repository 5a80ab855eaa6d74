/* What the fuzz targets that link libimg share: the invariant check that
 * aborts (so libFuzzer and the replay both stop on it), a silent log, and
 * the shape every error must have: one -errno, its one-line message
 * recorded on the context. */
#ifndef IMG_TESTS_FUZZ_H
#define IMG_TESTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libimg.h"

#define CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf (stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      abort (); \
    } \
  } while (0)

static inline void
quiet (void *data, int priority, const char *msg)
{
  (void) data;
  (void) priority;
  (void) msg;
}

static inline void
check_error (struct img_ctx *ctx, int r)
{
  CHECK (r < 0 && r > -4096);
  CHECK (img_ctx_error (ctx)[0] != '\0');
  CHECK (strchr (img_ctx_error (ctx), '\n') == NULL);
}

/* The replay build's main: "FILE: " then FN (FILE, stdout), which
 * prints the rest of the line, for each file argument. */
static inline int
fuzz_replay_main (int argc, char *argv[], const char *what,
                  void (*fn) (const char *path, FILE *out))
{
  int i;

  if (argc < 2) {
    fprintf (stderr, "usage: %s %s...\n", argv[0], what);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    printf ("%s: ", argv[i]);
    fflush (stdout);
    fn (argv[i], stdout);
    fflush (stdout);
  }
  return 0;
}

#endif /* IMG_TESTS_FUZZ_H */
