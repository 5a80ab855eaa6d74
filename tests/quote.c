/* Unit tests of the quoting functions (quote.c): a table of hostile
 * strings through every language, each result read back with a model of
 * that language's reader (the real readers are in tests/quote.sh), and
 * the values each language must refuse. TAP. */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-quote.h"
#include "tap.h"

static const char *const hostile[] = {
  "plain", "", "with space", "a\"b", "a'b", "it's \"quoted\"", "semi;colon",
  "\" ; bootloader=\"/bin/sh\" ;", "$HOME", "${x}", "`id`", "$(id)", "back\\slash",
  "trailing\\", "new\nline", "cr\rlf", "tab\there", "brace}", "{brace", "#hash",
  "comma,equals=", "esc\x1b[31mred", "bel\a", "del\x7f", "csi\xc2\x9b" "2J",
  "bad\xff\xfeutf8", "cut\xe2\x82", "utf8 \xc3\xa9\xe2\x82\xac", "\\x41",
  "'\\''", "; rm -rf / #", "a\"; bootloader_args=[\"x\"]; b=\"",
};
#define N_HOSTILE (sizeof hostile / sizeof hostile[0])

static bool
has_raw_control (const char *s, bool nl_ok)
{
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if ((c < 0x20 && !(nl_ok && c == '\n')) || c == 0x7f || c == 0x9b)
      return true;
  }
  return false;
}

/* libxlutil's dequoting (libxlu_cfg.c), for "..." strings. */
static char *
xl_unquote (const char *q)
{
  size_t n = strlen (q), i;
  char *out = malloc (n + 1), *o = out;

  if (n < 2 || q[0] != '"' || q[n - 1] != '"')
    return NULL;
  for (i = 1; i < n - 1; i++) {
    if (q[i] == '"' || q[i] == '\n') {
      free (out);
      return NULL;              /* the string would end here */
    }
    if (q[i] != '\\') {
      *o++ = q[i];
      continue;
    }
    i++;
    switch (q[i]) {
    case 'n': *o++ = '\n'; break;
    case 't': *o++ = '\t'; break;
    case 'r': *o++ = '\r'; break;
    case 'a': *o++ = '\a'; break;
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'v': *o++ = '\v'; break;
    case '"': case '\'': case '\\': *o++ = q[i]; break;
    default:
      free (out);
      return NULL;              /* libxlutil would refuse or mangle it */
    }
  }
  *o = '\0';
  return out;
}

/* POSIX sh: a word of "..." (without $ ` \ " inside) and '...' parts. */
static char *
sh_unquote (const char *q)
{
  char *out = malloc (strlen (q) + 1), *o = out;

  while (*q) {
    char c = *q++, end;
    if (c == '\\' && *q) {
      *o++ = *q++;
      continue;
    }
    if (c != '"' && c != '\'') {
      free (out);
      return NULL;              /* we never write a bare character */
    }
    end = c;
    while (*q && *q != end) {
      if (end == '"' && strchr ("$`\\", *q)) {
        free (out);
        return NULL;
      }
      *o++ = *q++;
    }
    if (*q++ != end) {
      free (out);
      return NULL;
    }
  }
  *o = '\0';
  return out;
}

/* GRUB 2 script: a bare word of plain characters or '...' parts joined
 * with \' (what grub-core/script/yylex.l reads). */
static char *
grub2_unquote (const char *q)
{
  char *out = malloc (strlen (q) + 1), *o = out;

  while (*q) {
    if (*q == '\\' && q[1]) {
      *o++ = q[1];
      q += 2;
    } else if (*q == '\'') {
      q++;
      while (*q && *q != '\'')
        *o++ = *q++;
      if (*q++ != '\'') {
        free (out);
        return NULL;
      }
    } else if (strchr (" \t\n;&|<>{}$\"#`", *q)) {
      free (out);
      return NULL;
    } else
      *o++ = *q++;
  }
  *o = '\0';
  return out;
}

static void
test_languages (void)
{
  size_t i;
  char name[200];

  for (i = 0; i < N_HOSTILE; i++) {
    const char *s = hostile[i], *why;
    char *q, *back;
    int r;
    bool printable = !has_raw_control (s, false) && !strpbrk (s, "\xff\xfe\xc2") && !strstr (s, "cut");

    snprintf (name, sizeof name, "xl #%zu: round trip, or refused for a byte without escape", i);
    r = img_quote_xl (s, &q, &why);
    back = r == 0 ? xl_unquote (q) : NULL;
    if (strpbrk (s, "\x1b\x7f\xff") || strstr (s, "\xc2\x9b") || strstr (s, "cut"))
      tap_ok (r == -EINVAL && q == NULL, name);
    else
      tap_ok (r == 0 && back && strcmp (back, s) == 0 && !has_raw_control (q, false), name);
    free (back);
    free (q);

    snprintf (name, sizeof name, "sh round trip #%zu", i);
    r = img_quote_sh (s, &q, &why);
    back = r == 0 ? sh_unquote (q) : NULL;
    tap_ok (r == 0 && back && strcmp (back, s) == 0, name);
    free (back);
    free (q);

    snprintf (name, sizeof name, "grub2 #%zu: round trip or refused", i);
    r = img_quote_grub2 (s, &q, &why);
    if (printable) {
      back = r == 0 ? grub2_unquote (q) : NULL;
      tap_ok (r == 0 && back && strcmp (back, s) == 0 && (*s || strcmp (q, "''") == 0), name);
      free (back);
    } else
      tap_ok (r == -EINVAL && q == NULL, name);
    free (q);

    snprintf (name, sizeof name, "grub legacy, BLS, extlinux #%zu: one line or refused", i);
    {
      char *a, *b, *c;
      int ra = img_quote_grub_legacy (s, &a, &why), rb = img_quote_bls (s, &b, &why),
        rc = img_quote_extlinux (s, &c, &why);
      if (printable)
        tap_ok (ra == 0 && rb == 0 && rc == 0 && strcmp (a, s) == 0 && strcmp (b, s) == 0
                && strcmp (c, s) == 0, name);
      else
        tap_ok (ra == -EINVAL && rb == -EINVAL && rc == -EINVAL, name);
      free (a);
      free (b);
      free (c);
    }

    snprintf (name, sizeof name, "json #%zu: no raw control byte", i);
    r = img_quote_json (s, &q, &why);
    tap_ok (r == 0 && q[0] == '"' && !has_raw_control (q, false), name);
    free (q);

    snprintf (name, sizeof name, "term #%zu: no control byte, newline kept only on request", i);
    {
      char *t = img_quote_term (s, 0), *tn = img_quote_term (s, 1);
      tap_ok (t && tn && !has_raw_control (t, false) && !has_raw_control (tn, true)
              && !strstr (t, "\xff") && (strchr (s, '\n') == NULL) == (strchr (tn, '\n') == NULL), name);
      free (t);
      free (tn);
    }
  }
}

static void
test_cmdline (void)
{
  static const struct { const char *param, *val, *want; } ok[] = {
    { "root", "UUID=1234-abcd", "root=UUID=1234-abcd" },
    { "quiet", NULL, "quiet" },
    { "console", "ttyS0,115200n8", "console=ttyS0,115200n8" },
    { "acpi_osi", "Windows 2009", "acpi_osi=\"Windows 2009\"" },
    { "crashkernel", "1G-4G:192M,4G-64G:256M", "crashkernel=1G-4G:192M,4G-64G:256M" },
    { "init", "", "init=" },
  };
  static const struct { const char *param, *val; } bad[] = {
    { "a", "b\"c" }, { "a", "b\nc" }, { "a", "b;c" }, { "a", "$x" }, { "a", "`id`" },
    { "a", "b'c" }, { "a", "b\\c" }, { "a", "}" }, { "a", "#c" }, { "a", "\x1b" },
    { "a", "\xc3\xa9" }, { "a b", NULL }, { "", "x" }, { "a", " lead" }, { "a", "b\tc" },
    { "a", "*" },
  };
  static const struct { const char *line, *want; } lines[] = {
    { "root=/dev/sda1 ro  quiet", "root=/dev/sda1 ro quiet" },
    { "  a=\"b c\" d", "a=\"b c\" d" },
    { "\"a=b c\" d", "a=\"b c\" d" },
    { "", "" },
  };
  static const char *const bad_lines[] = {
    "root=/dev/sda1 \" ; bootloader=\"/bin/sh\" ;", "a=b\"c d\"", "a=b\nbootloader=x", "x=$kernelopts",
    "a=b;c", "a=\xff",
  };
  size_t i;
  char name[200];

  for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char *q;
    const char *why;
    snprintf (name, sizeof name, "cmdline %s", ok[i].want);
    tap_ok (img_quote_cmdline (ok[i].param, ok[i].val, &q, &why) == 0 && strcmp (q, ok[i].want) == 0, name);
    free (q);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *q;
    const char *why = NULL;
    snprintf (name, sizeof name, "cmdline refuses bad #%zu", i);
    tap_ok (img_quote_cmdline (bad[i].param, bad[i].val, &q, &why) == -EINVAL && q == NULL && why, name);
  }
  for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    char *q, *b;
    const char *why;
    snprintf (name, sizeof name, "cmdline line #%zu", i);
    tap_ok (img_quote_cmdline_line (lines[i].line, &q, &b, &why) == 0 && strcmp (q, lines[i].want) == 0
            && b == NULL, name);
    free (q);
  }
  for (i = 0; i < sizeof bad_lines / sizeof bad_lines[0]; i++) {
    char *q, *b = NULL;
    const char *why;
    snprintf (name, sizeof name, "cmdline line refused #%zu", i);
    tap_ok (img_quote_cmdline_line (bad_lines[i], &q, &b, &why) == -EINVAL && q == NULL && b, name);
    free (b);
  }
}

static void
test_checks (void)
{
  const char *why;
  char *q;

  tap_ok (img_check_mac ("00:16:3e:AA:bb:0f", &why) == 0, "MAC accepted");
  tap_ok (img_check_mac ("00:11:22:33:44:55\", bootloader=\"x", &why) == -EINVAL, "MAC with a tail refused");
  tap_ok (img_check_mac ("00:11:22:33:44:5", &why) == -EINVAL, "short MAC refused");
  tap_ok (img_check_mac ("00-11-22-33-44-55", &why) == -EINVAL, "MAC with dashes refused");
  tap_ok (img_check_mac ("0g:11:22:33:44:55", &why) == -EINVAL, "MAC with a non-hex digit refused");
  tap_ok (img_check_ifname ("xenbr0", &why) == 0, "bridge name accepted");
  tap_ok (img_check_ifname ("br,mac=x", &why) == -EINVAL, "bridge with , = refused");
  tap_ok (img_check_ifname ("abcdefghijklmnop", &why) == -EINVAL, "bridge name of 16 refused");
  tap_ok (img_check_ifname ("", &why) == -EINVAL, "empty bridge name refused");
  tap_ok (img_quote_xl_spec ("qcow2", &q, &why) == 0 && strcmp (q, "qcow2") == 0, "xl spec value");
  free (q);
  tap_ok (img_quote_xl_spec ("a,b", &q, &why) == -EINVAL, "xl spec refuses ,");
  tap_ok (img_quote_xl_spec ("a=b", &q, &why) == -EINVAL, "xl spec refuses =");
  tap_ok (img_quote_xl_spec ("a'b", &q, &why) == -EINVAL, "xl spec refuses '");
  tap_ok (img_quote_xl_spec ("a b", &q, &why) == -EINVAL, "xl spec refuses a blank");
  tap_ok (img_quote_xl_spec ("a\"b", &q, &why) == -EINVAL, "xl spec refuses \"");
  tap_ok (img_quote_grub2_title ("plain", &q, &why) == 0 && strcmp (q, "'plain'") == 0,
          "GRUB 2 title: always quoted (pygrub's title match)");
  free (q);
  tap_ok (img_quote_grub2_title ("a\nb", &q, &why) == -EINVAL, "GRUB 2 title: newline refused");
  tap_ok (img_quote_grub2_path ("/boot/vmlinuz-6.1.0-50-amd64", &q, &why) == 0
          && strcmp (q, "/boot/vmlinuz-6.1.0-50-amd64") == 0, "GRUB 2 path: bare");
  free (q);
  tap_ok (img_quote_grub2_path ("/boot/vmlinuz 2", &q, &why) == -EINVAL, "GRUB 2 path: blank refused");
  tap_ok (img_quote_grub2_path ("/boot/$x", &q, &why) == -EINVAL, "GRUB 2 path: $ refused");
  tap_ok (img_quote_grub2_path ("boot/x", &q, &why) == -EINVAL, "GRUB 2 path: relative refused");
  tap_ok (img_quote_nash ("lib/xen-blkfront.ko", &q, &why) == 0, "nash: a module path");
  free (q);
  tap_ok (img_quote_nash ("x.ko\ninsmod /evil", &q, &why) == -EINVAL, "nash: newline refused");
  tap_ok (img_quote_nash ("x;reboot.ko", &q, &why) == -EINVAL, "nash: ; refused");
  tap_ok (img_quote_nash ("x\".ko", &q, &why) == -EINVAL, "nash: quote refused");
}

static char term_buf[64];
static size_t term_len;

static void
term_put (void *arg, const char *p, size_t n)
{
  (void) arg;
  if (term_len + n < sizeof term_buf) {
    memcpy (term_buf + term_len, p, n);
    term_len += n;
    term_buf[term_len] = '\0';
  }
}

static void
test_term_chunks (void)
{
  /* A UTF-8 sequence cut between two writes is kept whole. */
  const char *s = "a\xc3\xa9z\x1b";
  size_t used = img_quote_term_chunk (s, 2, 1, 0, term_put, NULL);

  tap_is_int (used, 1, "a cut sequence is left for the next write");
  used += img_quote_term_chunk (s + used, strlen (s) - used, 1, 1, term_put, NULL);
  tap_is_int (used, strlen (s), "the rest is consumed");
  tap_is_str (term_buf, "a\xc3\xa9z\\x1b", "valid UTF-8 kept, ESC escaped");
}

int
main (void)
{
  test_languages ();
  test_cmdline ();
  test_checks ();
  test_term_chunks ();
  printf ("1..%d\n", tap_n);
  return tap_failed ? 1 : 0;
}
