/* The manifest: one image a line with its own options, e.g.
 *   disk1.qcow2 --memory 2048 --name web1
 * '#' starts a comment line; blank lines are skipped.  Words are split as
 * a shell would split them, quotes included, but nothing is expanded and
 * no shell ever sees a line: every word becomes one argv element.  Only
 * the options of batch_manifest_allowed pass (none that names a host file,
 * rolls back or forces), and each is handed on as one "--opt=VALUE"
 * element, so a value can never turn into another option. */
#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define LINE_MAX_BYTES 4096
#define WORDS_MAX 64

/* Per-image options a manifest may give, per tool; "=" after the name:
 * the option takes a value. */
static const char *const img2pv_opts[] = {
  "name=", "memory=", "vcpus=", "bridge=", "mac=", "kernel=", "format=",
  "backend=", "xvd", "keep-tls", "extract-kernel", "no-xl-config",
  NULL,
};
static const char *const ramify_opts[] = {
  "kernel=", "copy=", "memory=", "headroom=", "margin=", "vm=", "format=",
  "backend=", "archive=", "archive", "default", "detach-helper",
  NULL,
};
static const char *const inspect_opts[] = {
  "format=", "backend=", "modules=", NULL,
};

bool
batch_manifest_allowed (const char *tool, const char *opt, bool *has_value)
{
  const char *const *list = NULL;
  size_t len = strlen (opt);

  if (strcmp (tool, "img2pv") == 0)
    list = img2pv_opts;
  else if (strcmp (tool, "img-ramify") == 0)
    list = ramify_opts;
  else if (strcmp (tool, "img-inspect") == 0)
    list = inspect_opts;
  for (; list && *list; list++) {
    size_t n = strcspn (*list, "=");
    if (n == len && strncmp (*list, opt, len) == 0) {
      *has_value = (*list)[n] == '=';
      return true;
    }
  }
  return false;
}

static int
push_word (char ***words, size_t *n, const char *s, size_t len)
{
  char **v;

  if (*n >= WORDS_MAX)
    return -E2BIG;
  v = reallocarray (*words, *n + 1, sizeof *v);
  if (!v)
    return -ENOMEM;
  *words = v;
  v[*n] = strndup (s, len);
  if (!v[*n])
    return -ENOMEM;
  (*n)++;
  return 0;
}

static void
free_words (char **words, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (words[i]);
  free (words);
}

/* Shell-like words: blanks separate, '...' is literal, "..." takes \" and
 * \\, a backslash outside quotes takes the next byte.  No expansion. */
int
batch_manifest_split (const char *line, char ***words, size_t *n, const char **why)
{
  size_t len = strlen (line);
  char *buf = malloc (len + 1);
  size_t b = 0;
  bool in_word = false;
  int r = 0;

  *words = NULL;
  *n = 0;
  if (!buf)
    return -ENOMEM;
  for (const char *p = line; ; p++) {
    if (*p == '\0' || *p == ' ' || *p == '\t') {
      if (in_word && (r = push_word (words, n, buf, b)) < 0) {
        *why = r == -E2BIG ? "too many words" : "out of memory";
        break;
      }
      in_word = false;
      b = 0;
      if (*p == '\0')
        break;
      continue;
    }
    in_word = true;
    if (*p == '\'') {
      const char *end = strchr (p + 1, '\'');
      if (!end) {
        *why = "unterminated ' quote";
        r = -EINVAL;
        break;
      }
      memcpy (buf + b, p + 1, (size_t) (end - p - 1));
      b += (size_t) (end - p - 1);
      p = end;
    }
    else if (*p == '"') {
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
          p++;
        buf[b++] = *p;
      }
      if (!*p) {
        *why = "unterminated \" quote";
        r = -EINVAL;
        break;
      }
    }
    else if (*p == '\\' && p[1])
      buf[b++] = *++p;
    else
      buf[b++] = *p;
  }
  free (buf);
  if (r < 0) {
    free_words (*words, *n);
    *words = NULL;
    *n = 0;
  }
  return r;
}

static bool
has_control (const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      return true;
  return false;
}

/* The options after the image: "--opt VALUE" or "--opt=VALUE". */
static int
add_options (struct batch_image *im, const char *tool, char **w, size_t n,
             const char **why)
{
  for (size_t i = 1; i < n; i++) {
    char *eq, *opt, *name = w[i];
    bool has_value;
    const char *value = NULL;
    int r;

    if (strncmp (w[i], "--", 2) != 0 || w[i][2] == '\0') {
      *why = "expected a --option after the image";
      return -EINVAL;
    }
    eq = strchr (w[i], '=');
    if (eq)
      *eq = '\0';
    if (!batch_manifest_allowed (tool, w[i] + 2, &has_value)) {
      *why = "option not allowed in a manifest (see img-batch(1))";
      return -EINVAL;
    }
    if (eq)
      value = eq + 1;
    else if (has_value) {
      if (i + 1 >= n) {
        *why = "option needs a value";
        return -EINVAL;
      }
      value = w[++i];
    }
    if (value && !has_value) {
      *why = "option takes no value";
      return -EINVAL;
    }
    if (value && (value[0] == '\0' || has_control (value))) {
      *why = "empty value or control character in a value";
      return -EINVAL;
    }
    if (asprintf (&opt, "%s%s%s", name, value ? "=" : "", value ? value : "") < 0)
      return -ENOMEM;
    r = batch_image_add_opt (im, opt);
    free (opt);
    if (r < 0)
      return r;
  }
  return 0;
}

/* One line that is neither blank nor a comment. */
static int
parse_line (const char *line, unsigned lineno, const char *dir, const char *tool,
            struct batch_list *l, const char **why)
{
  char **w;
  size_t n;
  struct batch_image *im;
  char *path = NULL;
  int r = batch_manifest_split (line, &w, &n, why);

  if (r < 0)
    return r;
  if (n == 0)
    goto out;
  r = -EINVAL;
  if (w[0][0] == '-')
    *why = "the line must start with the image, not an option";
  else if (has_control (w[0]))
    *why = "control character in the image path";
  else if (w[0][0] != '/' && strcmp (dir, ".") != 0
           && asprintf (&path, "%s/%s", dir, w[0]) < 0)
    r = -ENOMEM;
  else if ((r = batch_list_add (l, path ? path : w[0], w[0], lineno, &im)) == 0)
    r = add_options (im, tool, w, n, why);
 out:
  free (path);
  free_words (w, n);
  return r;
}

int
batch_manifest_read (const char *file, const char *tool, struct batch_list *l)
{
  FILE *fp = fopen (file, "re");
  char *line = NULL, *copy = NULL, *dir;
  size_t cap = 0;
  ssize_t len;
  unsigned lineno = 0;
  const char *why = NULL;
  int r = 0;

  if (!fp)
    return -errno;
  copy = strdup (file);
  if (!copy) {
    fclose (fp);
    return -ENOMEM;
  }
  dir = dirname (copy);
  while ((len = getline (&line, &cap, fp)) >= 0) {
    const char *p;
    lineno++;
    if (len > 0 && line[len - 1] == '\n')
      line[--len] = '\0';
    if (len > LINE_MAX_BYTES) {
      why = "line longer than 4096 bytes";
      r = -EINVAL;
    }
    else if (strlen (line) != (size_t) len) {
      why = "NUL byte in the line";
      r = -EINVAL;
    }
    if (r < 0)
      break;
    for (p = line; *p == ' ' || *p == '\t'; p++)
      ;
    if (*p == '\0' || *p == '#')
      continue;
    if ((r = parse_line (p, lineno, dir, tool, l, &why)) < 0)
      break;
  }
  if (r == 0 && ferror (fp))
    r = -EIO;
  if (r == -EINVAL || r == -E2BIG)
    fprintf (stderr, "%s: %s:%u: %s\n", BATCH_PROG, file, lineno, why ? why : "bad line");
  free (line);
  free (copy);
  fclose (fp);
  return r == -E2BIG ? -EINVAL : r;
}
