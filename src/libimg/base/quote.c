/* Quoting per output language (see quote.h).  Each language has its one
 * function here, round-trip tested against its real parser in
 * tests/quote.sh (libxlutil, grub-script-check, pygrub, dash and bash, jq,
 * python3's expat). */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-quote.h"

/* A growing output buffer; a failed allocation sticks. */
struct qb {
  char *s;
  size_t len, cap;
  bool oom;
};

static void
qb_add (struct qb *b, const char *p, size_t n)
{
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    char *s;
    while (cap < b->len + n + 1)
      cap *= 2;
    if ((s = realloc (b->s, cap)) == NULL) {
      b->oom = true;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  memcpy (b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void
qb_addc (struct qb *b, char c)
{
  qb_add (b, &c, 1);
}

static int
qb_done (struct qb *b, char **out)
{
  if (b->oom) {
    free (b->s);
    return -ENOMEM;
  }
  if (b->s == NULL && (b->s = strdup ("")) == NULL)
    return -ENOMEM;
  *out = b->s;
  return 0;
}

static int
refuse (char **out, const char **why, const char *reason)
{
  *out = NULL;
  if (why)
    *why = reason;
  return -EINVAL;
}

/* Length of a valid UTF-8 sequence at S (N bytes available), 0 when invalid,
 * and -1 when S may be a valid sequence cut by the end of the buffer. */
static int
utf8_len (const unsigned char *s, size_t n)
{
  size_t need, i;
  uint32_t c;

  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xe0) == 0xc0) { need = 2; c = s[0] & 0x1f; }
  else if ((s[0] & 0xf0) == 0xe0) { need = 3; c = s[0] & 0x0f; }
  else if ((s[0] & 0xf8) == 0xf0) { need = 4; c = s[0] & 0x07; }
  else
    return 0;
  for (i = 1; i < need; i++) {
    if (i >= n)
      return -1;
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3f);
  }
  if ((need == 2 && c < 0x80) || (need == 3 && c < 0x800) || (need == 4 && c < 0x10000)
      || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  /* C1 controls (U+0080..U+009F: CSI is U+009B) act on terminals too. */
  if (need == 2 && c < 0xa0)
    return 0;
  return (int) need;
}

/* True when S is one line of printable text: no C0/C1 control, no DEL, valid
 * UTF-8. */
static bool
printable_utf8 (const char *str)
{
  const unsigned char *s = (const unsigned char *) str;
  size_t n = strlen (str);

  while (n) {
    int l;
    if (*s < 0x20 || *s == 0x7f)
      return false;
    l = utf8_len (s, n);
    if (l <= 0)
      return false;
    s += l;
    n -= (size_t) l;
  }
  return true;
}

/* ---- xl ---------------------------------------------------------------- */

/* libxlutil (4.17) reads \n \t \r \a \b \f \v \\ \" \' right, but not \xNN
 * (a parse error) nor octal escapes (the byte is dropped): other control
 * bytes cannot be written so that it reads them back, and are refused. */
int
img_quote_xl (const char *str, char **out, const char **why)
{
  static const char named[] = "\n\t\r\a\b\f\v", letter[] = "ntrabfv";
  struct qb b = { 0 };
  const unsigned char *s = (const unsigned char *) str;
  size_t left = strlen (str);

  qb_addc (&b, '"');
  while (left) {
    const char *e;
    int n;
    if (*s == '"' || *s == '\\') {
      qb_addc (&b, '\\');
      qb_addc (&b, (char) *s);
    } else if (*s && (e = strchr (named, *s)) != NULL) {
      qb_addc (&b, '\\');
      qb_addc (&b, letter[e - named]);
    } else if (*s < 0x20 || *s == 0x7f) {
      free (b.s);
      return refuse (out, why, "a control byte that libxlutil cannot read back from an xl string");
    } else if (*s >= 0x80) {
      if ((n = utf8_len (s, left)) <= 0) {
        free (b.s);
        return refuse (out, why, "invalid UTF-8 or a C1 control, which the xl config does not carry");
      }
      qb_add (&b, (const char *) s, (size_t) n);
      s += n;
      left -= (size_t) n;
      continue;
    } else
      qb_addc (&b, (char) *s);
    s++;
    left--;
  }
  qb_addc (&b, '"');
  return qb_done (&b, out);
}

int
img_quote_xl_spec (const char *s, char **out, const char **why)
{
  const unsigned char *p;

  if (*s == '\0')
    return refuse (out, why, "empty");
  for (p = (const unsigned char *) s; *p; p++) {
    if (*p <= 0x20 || *p >= 0x7f)
      return refuse (out, why, "a blank, control or non-ASCII byte, which an xl device spec cannot carry");
    if (*p == ',' || *p == '=' || *p == '\'' || *p == '"' || *p == '\\')
      return refuse (out, why, "a ',', '=', quote or backslash, which would split or end the xl device spec");
  }
  *out = strdup (s);
  return *out ? 0 : -ENOMEM;
}

static bool
is_hex (char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int
img_check_mac (const char *s, const char **why)
{
  size_t i;

  for (i = 0; i < 17; i++)
    if (s[i] == '\0' || (i % 3 == 2 ? s[i] != ':' : !is_hex (s[i])))
      break;
  if (i != 17 || s[17] != '\0') {
    if (why)
      *why = "not a MAC address (xx:xx:xx:xx:xx:xx)";
    return -EINVAL;
  }
  return 0;
}

int
img_check_ifname (const char *s, const char **why)
{
  size_t i;

  for (i = 0; s[i]; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
          || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.' || s[i] == '-'))
      break;
  if (i == 0 || s[i] != '\0' || i > 15 || strcmp (s, ".") == 0 || strcmp (s, "..") == 0) {
    if (why)
      *why = "not a network interface name (1 to 15 of A-Z a-z 0-9 _ . -)";
    return -EINVAL;
  }
  return 0;
}

/* ---- GRUB 2, GRUB legacy, BLS, extlinux ----------------------------------- */

static bool
grub2_plain (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
         || strchr ("-_./:=,+@%^~!()", c) != NULL;
}

static int
grub2_quote (const char *s, bool may_be_bare, char **out, const char **why)
{
  struct qb b = { 0 };
  const char *p;
  bool bare = may_be_bare && *s != '\0';

  if (!printable_utf8 (s))
    return refuse (out, why, "a control byte or invalid UTF-8, which a GRUB 2 menu line cannot carry");
  for (p = s; *p && bare; p++)
    bare = grub2_plain (*p);
  if (bare) {
    *out = strdup (s);
    return *out ? 0 : -ENOMEM;
  }
  /* In single quotes nothing is special but the closing quote. */
  qb_addc (&b, '\'');
  for (p = s; *p; p++)
    if (*p == '\'')
      qb_add (&b, "'\\''", 4);
    else
      qb_addc (&b, *p);
  qb_addc (&b, '\'');
  return qb_done (&b, out);
}

int
img_quote_grub2 (const char *s, char **out, const char **why)
{
  return grub2_quote (s, true, out, why);
}

int
img_quote_grub2_title (const char *s, char **out, const char **why)
{
  return grub2_quote (s, false, out, why);
}

int
img_quote_grub2_path (const char *s, char **out, const char **why)
{
  const char *p;

  for (p = s; *p; p++)
    if (!grub2_plain (*p))
      return refuse (out, why, "a character other than A-Z a-z 0-9 - _ . / : = , + @ % ^ ~ ! ( ): pygrub takes the kernel line apart at blanks and never unquotes");
  if (*s != '/')
    return refuse (out, why, "not an absolute path");
  *out = strdup (s);
  return *out ? 0 : -ENOMEM;
}

/* The line formats without quoting: the value is the rest of the line. */
static int
rest_of_line (const char *s, char **out, const char **why)
{
  size_t n = strlen (s);

  if (!printable_utf8 (s))
    return refuse (out, why, "a control byte or invalid UTF-8, which this line format cannot carry");
  if (n && (s[0] == ' ' || s[n - 1] == ' '))
    return refuse (out, why, "a leading or trailing blank, which this line format drops");
  *out = strdup (s);
  return *out ? 0 : -ENOMEM;
}

int
img_quote_grub_legacy (const char *s, char **out, const char **why)
{
  return rest_of_line (s, out, why);
}

int
img_quote_bls (const char *s, char **out, const char **why)
{
  return rest_of_line (s, out, why);
}

int
img_quote_extlinux (const char *s, char **out, const char **why)
{
  return rest_of_line (s, out, why);
}

/* ---- shell ---------------------------------------------------------------- */

int
img_quote_sh (const char *s, char **out, const char **why)
{
  struct qb b = { 0 };
  const unsigned char *p;
  bool dq = true;

  (void) why;
  for (p = (const unsigned char *) s; *p && dq; p++)
    dq = !(*p < 0x20 || *p == 0x7f || *p == '$' || *p == '`' || *p == '\\' || *p == '"'
           || *p == '!' || *p >= 0x80);
  if (dq) {
    qb_addc (&b, '"');
    qb_add (&b, s, strlen (s));
    qb_addc (&b, '"');
    return qb_done (&b, out);
  }
  qb_addc (&b, '\'');
  for (p = (const unsigned char *) s; *p; p++)
    if (*p == '\'')
      qb_add (&b, "'\\''", 4);
    else
      qb_addc (&b, (char) *p);
  qb_addc (&b, '\'');
  return qb_done (&b, out);
}

/* nash, the init interpreter of mkinitrd-era initrds, splits at blanks and
 * has its own idea of quotes: only plain words are written to it. */
int
img_quote_nash (const char *s, char **out, const char **why)
{
  const char *p;

  for (p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
          || strchr ("-_.+,/", *p)))
      return refuse (out, why, "a character other than A-Z a-z 0-9 - _ . + , /, which a nash script line cannot carry");
  if (*s == '\0')
    return refuse (out, why, "empty");
  *out = strdup (s);
  return *out ? 0 : -ENOMEM;
}

/* ---- kernel command line -------------------------------------------------- */

static bool
cmdline_ok (char c)
{
  return c > 0x20 && c < 0x7f && strchr ("\"'\\$`;&|<>{}#*?[]", c) == NULL;
}

int
img_quote_cmdline (const char *param, const char *val, char **out, const char **why)
{
  struct qb b = { 0 };
  const char *p;
  bool space = false;

  if (*param == '\0')
    return refuse (out, why, "an empty parameter name");
  for (p = param; *p; p++)
    if (!cmdline_ok (*p))
      return refuse (out, why, *p == ' ' ? "a blank in a parameter name"
                     : "a byte the kernel command line cannot carry through the boot loaders (only printable ASCII without \" ' \\ $ ` ; & | < > { } # * ? [ ])");
  for (p = val; p && *p; p++) {
    if (*p == ' ')
      space = true;
    else if (!cmdline_ok (*p))
      return refuse (out, why, "a byte the kernel command line cannot carry through the boot loaders (only printable ASCII without \" ' \\ $ ` ; & | < > { } # * ? [ ])");
  }
  if (val && space && (val[0] == ' ' || val[strlen (val) - 1] == ' '))
    return refuse (out, why, "a value with a leading or trailing blank");
  qb_add (&b, param, strlen (param));
  if (val) {
    qb_addc (&b, '=');
    if (space)
      qb_addc (&b, '"');
    qb_add (&b, val, strlen (val));
    if (space)
      qb_addc (&b, '"');
  }
  return qb_done (&b, out);
}

static bool
k_space (char c)
{
  /* The kernel's isspace(): also \v \f \r \n. */
  return c == ' ' || (c >= '\t' && c <= '\r');
}

int
img_quote_cmdline_line (const char *line, char **out, char **bad, const char **why)
{
  struct qb b = { 0 };
  const char *p = line;
  int r = 0;

  *bad = NULL;
  *out = NULL;
  /* A line break is a separator to the kernel, but the end of the line in
   * every file that carries a command line: never passed on. */
  for (const char *c = line; *c; c++)
    if ((unsigned char) *c < 0x20 && *c != '\t') {
      /* The offending word: from the blank before to the blank after. */
      const char *ws = c, *we = c;
      while (ws > line && ws[-1] != ' ' && ws[-1] != '\t')
        ws--;
      while (*we && *we != ' ' && *we != '\t')
        we++;
      if (why)
        *why = "a line break or control byte in the kernel command line";
      *bad = strndup (ws, (size_t) (we - ws));
      return *bad ? -EINVAL : -ENOMEM;
    }
  while (k_space (*p))
    p++;
  while (*p && r == 0) {
    /* lib/cmdline.c next_arg(): quotes toggle, blanks outside end it. */
    const char *start = p, *eq = NULL;
    bool in_quote = false, quoted = false;
    size_t i, n;
    char *param, *val = NULL, *q;

    if (*p == '"') {
      p++;
      start = p;
      in_quote = quoted = true;
    }
    for (i = 0; p[i]; i++) {
      if (k_space (p[i]) && !in_quote)
        break;
      if (eq == NULL && p[i] == '=')
        eq = p + i;
      if (p[i] == '"')
        in_quote = !in_quote;
    }
    n = i;
    if ((param = strndup (start, n)) == NULL) {
      r = -ENOMEM;
      break;
    }
    if (eq) {
      param[eq - start] = '\0';
      val = param + (eq - start) + 1;
      if (*val == '"') {
        val++;
        if (n && param[n - 1] == '"')
          param[n - 1] = '\0';
      }
    }
    if (quoted && n && param[n - 1] == '"')
      param[n - 1] = '\0';
    r = img_quote_cmdline (param, val, &q, why);
    if (r == 0) {
      if (b.len)
        qb_addc (&b, ' ');
      qb_add (&b, q, strlen (q));
      free (q);
    } else if (r == -EINVAL) {
      *bad = strndup (quoted ? start - 1 : start, n + quoted);
      if (*bad == NULL)
        r = -ENOMEM;
    }
    free (param);
    p += n;
    while (k_space (*p))
      p++;
  }
  if (r < 0) {
    free (b.s);
    return r;
  }
  return qb_done (&b, out);
}

/* ---- XML ------------------------------------------------------------------ */

/* Entities for the five markup characters, so the text is safe between
 * tags and inside an attribute in either quotes ("]]>" loses its '>').
 * What XML 1.0 has no character for is refused rather than replaced: a
 * path or name that reads back differently names another thing. */
int
img_quote_xml (const char *str, char **out, const char **why)
{
  struct qb b = { 0 };
  const unsigned char *s = (const unsigned char *) str;
  size_t left = strlen (str);

  while (left) {
    int n;
    switch (*s) {
    case '&': qb_add (&b, "&amp;", 5); s++; left--; continue;
    case '<': qb_add (&b, "&lt;", 4); s++; left--; continue;
    case '>': qb_add (&b, "&gt;", 4); s++; left--; continue;
    case '"': qb_add (&b, "&quot;", 6); s++; left--; continue;
    case '\'': qb_add (&b, "&apos;", 6); s++; left--; continue;
    }
    if (*s < 0x20 || *s == 0x7f) {
      free (b.s);
      return refuse (out, why, "a control byte (newline and tab too), which XML 1.0 cannot carry as it is");
    }
    if ((n = utf8_len (s, left)) <= 0) {
      free (b.s);
      return refuse (out, why, "invalid UTF-8 or a C1 control, which the XML does not carry");
    }
    /* U+FFFE and U+FFFF (EF BF BE, EF BF BF) are no XML characters. */
    if (n == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe) {
      free (b.s);
      return refuse (out, why, "U+FFFE or U+FFFF, which are not XML characters");
    }
    qb_add (&b, (const char *) s, (size_t) n);
    s += n;
    left -= (size_t) n;
  }
  return qb_done (&b, out);
}

/* ---- JSON ----------------------------------------------------------------- */

int
img_quote_json (const char *str, char **out, const char **why)
{
  struct qb b = { 0 };
  const unsigned char *s = (const unsigned char *) str;
  size_t left = strlen (str);

  (void) why;
  qb_addc (&b, '"');
  while (left) {
    int n;
    switch (*s) {
    case '"': qb_add (&b, "\\\"", 2); s++; left--; continue;
    case '\\': qb_add (&b, "\\\\", 2); s++; left--; continue;
    case '\n': qb_add (&b, "\\n", 2); s++; left--; continue;
    case '\t': qb_add (&b, "\\t", 2); s++; left--; continue;
    case '\r': qb_add (&b, "\\r", 2); s++; left--; continue;
    }
    if (*s < 0x20 || *s == 0x7f) {
      char t[7];
      snprintf (t, sizeof t, "\\u%04x", *s);
      qb_add (&b, t, 6);
      s++;
      left--;
      continue;
    }
    n = utf8_len (s, left);
    if (n <= 0) {
      /* C1 controls are valid JSON; only invalid bytes are replaced. */
      if (left >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0) {
        char t[7];
        snprintf (t, sizeof t, "\\u%04x", s[1]);
        qb_add (&b, t, 6);
        s += 2;
        left -= 2;
        continue;
      }
      qb_add (&b, "\\ufffd", 6);
      s++;
      left--;
      continue;
    }
    qb_add (&b, (const char *) s, (size_t) n);
    s += n;
    left -= (size_t) n;
  }
  qb_addc (&b, '"');
  return qb_done (&b, out);
}

/* ---- the terminal --------------------------------------------------------- */

size_t
img_quote_term_chunk (const char *str, size_t len, int keep_nl, int final,
                      void (*put) (void *arg, const char *p, size_t n), void *arg)
{
  const unsigned char *s = (const unsigned char *) str;
  size_t i = 0, run = 0;

  while (i < len) {
    int n;
    char t[5];
    if (s[i] == '\n' && keep_nl) {
      i++;
      continue;
    }
    if (s[i] >= 0x20 && s[i] < 0x7f) {
      i++;
      continue;
    }
    n = s[i] < 0x80 ? 0 : utf8_len (s + i, len - i);
    if (n < 0 && !final)
      break;
    if (n > 0) {
      i += (size_t) n;
      continue;
    }
    /* Flush the plain run, then the escape of this byte. */
    if (i > run)
      put (arg, str + run, i - run);
    if (s[i] == '\t')
      put (arg, "\\t", 2);
    else if (s[i] == '\n')
      put (arg, "\\n", 2);
    else {
      snprintf (t, sizeof t, "\\x%02x", s[i]);
      put (arg, t, 4);
    }
    i++;
    run = i;
  }
  if (i > run)
    put (arg, str + run, i - run);
  return i;
}

static void
put_qb (void *arg, const char *p, size_t n)
{
  qb_add (arg, p, n);
}

char *
img_quote_term (const char *s, int keep_nl)
{
  struct qb b = { 0 };
  char *out;

  img_quote_term_chunk (s, strlen (s), keep_nl, 1, put_qb, &b);
  return qb_done (&b, &out) == 0 ? out : NULL;
}

/* A stdio stream that quotes for the terminal on its way to another. */
struct term_stream {
  FILE *under;
  char carry[4];                /* a UTF-8 sequence cut by the last write */
  size_t n_carry;
};

static void
put_file (void *arg, const char *p, size_t n)
{
  fwrite (p, 1, n, arg);
}

static ssize_t
term_write (void *cookie, const char *buf, size_t size)
{
  struct term_stream *t = cookie;
  size_t used = 0;

  /* Finish a cut sequence with the first bytes of this write. */
  while (t->n_carry && used < size) {
    size_t c;
    t->carry[t->n_carry++] = buf[used++];
    c = img_quote_term_chunk (t->carry, t->n_carry, 1, t->n_carry == sizeof t->carry, put_file, t->under);
    memmove (t->carry, t->carry + c, t->n_carry - c);
    t->n_carry -= c;
  }
  if (used < size) {
    size_t c = img_quote_term_chunk (buf + used, size - used, 1, 0, put_file, t->under);
    used += c;
    /* At most 3 bytes are left: the start of a sequence. */
    memcpy (t->carry, buf + used, size - used);
    t->n_carry = size - used;
  }
  fflush (t->under);
  return (ssize_t) size;
}

static int
term_close (void *cookie)
{
  struct term_stream *t = cookie;

  img_quote_term_chunk (t->carry, t->n_carry, 1, 1, put_file, t->under);
  fflush (t->under);
  free (t);
  return 0;
}

FILE *
img_quote_term_stream (FILE *under)
{
  static const cookie_io_functions_t io = { .write = term_write, .close = term_close };
  struct term_stream *t = calloc (1, sizeof *t);
  FILE *fp;

  if (t == NULL)
    return NULL;
  t->under = under;
  if ((fp = fopencookie (t, "w", io)) == NULL)
    free (t);
  else
    setvbuf (fp, NULL, under == stderr ? _IOLBF : _IOFBF, 0);
  return fp;
}

/* The process's stdout and stderr before img_quote_term_stdio(). */
static FILE *real_stdout, *real_stderr;

static void
restore_stdio (void)
{
  if (real_stdout) {
    fclose (stdout);
    stdout = real_stdout;
    real_stdout = NULL;
  }
  if (real_stderr) {
    fclose (stderr);
    stderr = real_stderr;
    real_stderr = NULL;
  }
  fflush (stdout);
}

int
img_quote_term_stdio (void)
{
  FILE *o, *e;

  if (real_stdout || real_stderr)
    return 0;
  o = img_quote_term_stream (stdout);
  e = img_quote_term_stream (stderr);
  if (o == NULL || e == NULL || atexit (restore_stdio) != 0) {
    if (o)
      fclose (o);
    if (e)
      fclose (e);
    return -ENOMEM;
  }
  real_stdout = stdout;
  real_stderr = stderr;
  stdout = o;
  stderr = e;
  return 0;
}
