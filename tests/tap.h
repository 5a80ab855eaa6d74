/* A minimal TAP producer for the C unit tests (automake's tap-driver
 * reads it). */
#ifndef IMG_TESTS_TAP_H
#define IMG_TESTS_TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void
tap_plan (int n)
{
  printf ("1..%d\n", n);
}

static inline int
tap_ok (int cond, const char *name)
{
  tap_n++;
  printf ("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
  if (!cond)
    tap_failed++;
  return cond;
}

#define tap_is_int(got, want, name) do { \
    long long g_ = (long long) (got), w_ = (long long) (want); \
    if (!tap_ok (g_ == w_, name)) \
      printf ("# got %lld, want %lld\n", g_, w_); \
  } while (0)

#define tap_is_str(got, want, name) do { \
    const char *g_ = (got), *w_ = (want); \
    if (!tap_ok (g_ && w_ && strcmp (g_, w_) == 0, name)) \
      printf ("# got '%s', want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
  } while (0)

static inline int
tap_done (void)
{
  return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
