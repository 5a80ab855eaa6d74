/* Unit tests of the unified diff (udiff.c): edge cases against known
 * `diff -u` output, then many random text pairs checked against GNU diff
 * itself: the same hunks where the alignment is unambiguous, always the
 * same number of changed lines as `diff -d` (both minimal), and `patch`
 * turning the old file into the new one with our diff.
 *   test-diff               run the tests (TAP)
 *   test-diff OLD NEW       print our diff of two files (driver)
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "img-edit.h"
#include "tap.h"

static char *
slurp (const char *path, size_t *len)
{
  FILE *fp = fopen (path, "rb");
  size_t cap = 4096, n = 0, got;
  char *buf = malloc (cap);

  if (fp == NULL || buf == NULL) {
    if (fp)
      fclose (fp);
    free (buf);
    return NULL;
  }
  while ((got = fread (buf + n, 1, cap - n, fp)) > 0) {
    n += got;
    if (n == cap)
      buf = realloc (buf, cap *= 2);
  }
  fclose (fp);
  *len = n;
  return buf;
}

static char *
diff_str (const char *a, const char *b)
{
  char *out = NULL;

  if (img_udiff (a, strlen (a), b, strlen (b), 3, NULL, NULL, &out) < 0)
    return NULL;
  return out;
}

static void
check (const char *a, const char *b, const char *want, const char *name)
{
  char *got = diff_str (a, b);
  tap_is_str (got, want, name);
  free (got);
}

static void
write_file (const char *path, const char *s, size_t len)
{
  FILE *fp = fopen (path, "wb");
  if (fp) {
    fwrite (s, 1, len, fp);
    fclose (fp);
  }
}

/* Counts lines starting with '+' or '-' in hunks (headers excluded). */
static size_t
count_changes (const char *d)
{
  size_t n = 0;
  const char *p = d;

  while (*p) {
    const char *e = strchr (p, '\n');
    if ((p[0] == '+' && strncmp (p, "+++ ", 4) != 0)
        || (p[0] == '-' && strncmp (p, "--- ", 4) != 0))
      n++;
    if (e == NULL)
      break;
    p = e + 1;
  }
  return n;
}

/* diff's output without its two header lines. */
static char *
run_diff (const char *opts, const char *a, const char *b)
{
  char cmd[512];
  FILE *fp;
  size_t cap = 4096, n = 0, got;
  char *buf = malloc (cap), *p;

  snprintf (cmd, sizeof cmd, "diff %s '%s' '%s'", opts, a, b);
  fp = popen (cmd, "r");
  while ((got = fread (buf + n, 1, cap - n - 1, fp)) > 0) {
    n += got;
    if (n == cap - 1)
      buf = realloc (buf, cap *= 2);
  }
  pclose (fp);
  buf[n] = '\0';
  p = buf;
  if (strncmp (p, "--- ", 4) == 0) {
    p = strchr (p, '\n') + 1;
    p = strchr (p, '\n') + 1;
  }
  memmove (buf, p, strlen (p) + 1);
  return buf;
}

static size_t
random_text (char *buf, unsigned *seed, size_t lines, unsigned alphabet,
             bool final_nl)
{
  size_t i, n = 0;

  for (i = 0; i < lines; i++) {
    n += sprintf (buf + n, "line %u", (unsigned) (rand_r (seed) % alphabet));
    if (i + 1 < lines || final_nl)
      buf[n++] = '\n';
  }
  buf[n] = '\0';
  return n;
}

/* B: A with random edits (so that the two share most lines, as real
 * config file changes do). */
static size_t
mutate (const char *a, char *b, unsigned *seed, unsigned alphabet,
        bool final_nl)
{
  const char *p = a;
  size_t n = 0;

  while (*p) {
    const char *e = strchr (p, '\n');
    size_t l = e ? (size_t) (e - p) : strlen (p);
    unsigned x = rand_r (seed) % 10;
    if (x == 0)
      ;                         /* delete */
    else if (x == 1)
      n += sprintf (b + n, "new %u\n", (unsigned) (rand_r (seed) % alphabet));
    else {
      if (x == 2)
        n += sprintf (b + n, "ins %u\n", (unsigned) (rand_r (seed) % alphabet));
      memcpy (b + n, p, l);
      n += l;
      b[n++] = '\n';
    }
    p = e ? e + 1 : p + l;
  }
  if (rand_r (seed) % 4 == 0)
    n += sprintf (b + n, "tail %u\n", (unsigned) (rand_r (seed) % alphabet));
  if (!final_nl && n > 0)
    n--;
  b[n] = '\0';
  return n;
}

static void
random_tests (void)
{
  char dir[] = "/tmp/test-diff.XXXXXX", fa[64], fb[64], fd[64], cmd[1024];
  static char a[65536], b[65536];
  unsigned seed = 12345;
  int i, exact_by[3] = { 0 }, same_count = 0, patched = 0, total = 240;

  if (mkdtemp (dir) == NULL) {
    tap_ok (0, "mkdtemp");
    return;
  }
  snprintf (fa, sizeof fa, "%s/a", dir);
  snprintf (fb, sizeof fb, "%s/b", dir);
  snprintf (fd, sizeof fd, "%s/d", dir);
  for (i = 0; i < total; i++) {
    unsigned alphabet = i % 3 == 0 ? 4 : i % 3 == 1 ? 50 : 100000;
    size_t lines = rand_r (&seed) % (i < 100 ? 12 : 200);
    size_t la = random_text (a, &seed, lines, alphabet, rand_r (&seed) % 5);
    size_t lb = i % 7 == 0
      ? random_text (b, &seed, rand_r (&seed) % 40, alphabet, rand_r (&seed) % 5)
      : mutate (a, b, &seed, alphabet, rand_r (&seed) % 5);
    char *ours = NULL, *gnu, *min, *got;
    size_t glen;

    write_file (fa, a, la);
    write_file (fb, b, lb);
    if (img_udiff (a, la, b, lb, 3, "a", "b", &ours) < 0)
      break;
    gnu = run_diff ("-u", fa, fb);
    min = run_diff ("-u -d", fa, fb);
    /* Our output without its header, compared with diff's. */
    {
      const char *h = ours;
      if (strncmp (h, "--- ", 4) == 0) {
        h = strchr (h, '\n') + 1;
        h = strchr (h, '\n') + 1;
      }
      if (strcmp (h, gnu) == 0)
        exact_by[i % 3]++;
    }
    if (count_changes (ours) == count_changes (min))
      same_count++;
    else
      printf ("# case %d: %zu changed lines, diff -d has %zu\n", i,
              count_changes (ours), count_changes (min));
    write_file (fd, ours, strlen (ours));
    snprintf (cmd, sizeof cmd, "cp %s %s.p && patch -s -o %s.out %s.p < %s >/dev/null 2>&1 && cmp -s %s.out %s",
              fa, fa, fa, fa, fd, fa, fb);
    if (ours[0] == '\0' ? la == lb && memcmp (a, b, la) == 0 : system (cmd) == 0)
      patched++;
    else {
      printf ("# case %d: patch did not give the new file\n", i);
      got = slurp (fd, &glen);
      printf ("# ours:\n%s\n# gnu:\n%s\n", got ? got : "", gnu);
      free (got);
    }
    free (ours);
    free (gnu);
    free (min);
  }
  printf ("# byte-identical to diff -u: %d of %d pairs with 4 distinct lines, %d of %d with 50, %d of %d with (nearly) unique lines\n",
          exact_by[0], total / 3, exact_by[1], total / 3, exact_by[2], total / 3);
  tap_is_int (patched, total, "random pairs: patch applies our diff exactly");
  tap_is_int (same_count, total, "random pairs: as many changed lines as diff -d (minimal)");
  /* Where lines repeat, several minimal diffs exist and GNU diff's choice
   * (its own heuristics and boundary shifting) may differ from ours; with
   * distinct lines there is one. */
  tap_is_int (exact_by[2], total / 3, "random pairs of distinct lines: byte-identical to diff -u");
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system (cmd) != 0)
    printf ("# could not remove %s\n", dir);
}

int
main (int argc, char **argv)
{
  if (argc == 3) {
    size_t la, lb;
    char *a = slurp (argv[1], &la), *b = slurp (argv[2], &lb), *out;
    if (a == NULL || b == NULL
        || img_udiff (a, la, b, lb, 3, argv[1], argv[2], &out) < 0)
      return 2;
    fputs (out, stdout);
    return out[0] ? 1 : 0;
  }

  check ("", "", "", "empty, empty");
  check ("a\nb\n", "a\nb\n", "", "identical");
  check ("", "a\nb\n", "@@ -0,0 +1,2 @@\n+a\n+b\n", "from empty");
  check ("a\nb\n", "", "@@ -1,2 +0,0 @@\n-a\n-b\n", "to empty");
  check ("a\n", "b\n", "@@ -1 +1 @@\n-a\n+b\n", "one line changed");
  check ("a", "a\n",
         "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n",
         "newline added at the end");
  check ("a\nb\n", "a\nb",
         "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n",
         "newline removed at the end");
  check ("x", "y",
         "@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n",
         "neither has a final newline");
  check ("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\n3\n4\n5\nX\n7\n8\n9\n10\n",
         "@@ -3,7 +3,7 @@\n 3\n 4\n 5\n-6\n+X\n 7\n 8\n 9\n",
         "three lines of context");
  /* Six equal lines between two changes: one hunk; seven: two. */
  check ("a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n",
         "@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-b\n+B\n",
         "changes 6 lines apart share a hunk");
  check ("a\n1\n2\n3\n4\n5\n6\n7\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\nB\n",
         "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-b\n+B\n",
         "changes 7 lines apart get two hunks");
  check ("a\nb\nc\n", "a\nc\n", "@@ -1,3 +1,2 @@\n a\n-b\n c\n", "deletion");
  check ("a\nc\n", "a\nb\nc\n", "@@ -1,2 +1,3 @@\n a\n+b\n c\n", "insertion");
  {
    char *d = NULL;
    img_udiff ("a\n", 2, "b\n", 2, 3, "a/etc/x", "b/etc/x", &d);
    tap_is_str (d, "--- a/etc/x\n+++ b/etc/x\n@@ -1 +1 @@\n-a\n+b\n", "labels");
    free (d);
    img_udiff ("a\n", 2, "a\n", 2, 3, "a/etc/x", "b/etc/x", &d);
    tap_is_str (d, "", "identical: no header either");
    free (d);
  }
  tap_ok (img_is_text ("abc\n", 4) && !img_is_text ("a\0b", 3), "img_is_text");
  {
    /* Big inputs: many differences fall back to a whole replacement,
     * still a correct diff. */
    size_t n = 20000, i, la = 0, lb = 0;
    char *a = malloc (n * 16), *b = malloc (n * 16), *d = NULL;
    for (i = 0; i < n; i++) {
      la += sprintf (a + la, "a%zu\n", i);
      lb += sprintf (b + lb, "b%zu\n", i);
    }
    tap_ok (img_udiff (a, la, b, lb, 3, NULL, NULL, &d) == 0
            && count_changes (d) == 2 * n, "20000 lines, all different");
    free (a); free (b); free (d);
  }
  random_tests ();
  printf ("1..%d\n", tap_n);
  return tap_done ();
}
