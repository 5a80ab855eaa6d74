/* Driver for tests/quote.sh: quotes the bytes of stdin (to EOF) for one
 * language and writes the result to stdout, no newline added.
 *   quote-tool xl|xl-spec|grub2|grub2-title|grub2-path|grub-legacy|bls|extlinux|sh|json|xml|term|term-nl
 *   quote-tool cmdline PARAM     (stdin: the value; "-" alone: no value)
 *   quote-tool cmdline-line      (stdin: a whole command line)
 *   quote-tool mac|ifname
 * Exit 0, or 1 with the reason on stderr when the value is refused. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "img-quote.h"

int
main (int argc, char **argv)
{
  static char in[1 << 20];
  size_t n = fread (in, 1, sizeof in - 1, stdin);
  const char *lang = argc > 1 ? argv[1] : "", *why = "unknown language";
  char *out = NULL, *bad = NULL;
  int r = -1;

  in[n] = '\0';
  if (strlen (in) != n) {
    fprintf (stderr, "quote-tool: a NUL byte in the input\n");
    return 2;
  }
  if (strcmp (lang, "xl") == 0) r = img_quote_xl (in, &out, &why);
  else if (strcmp (lang, "xl-spec") == 0) r = img_quote_xl_spec (in, &out, &why);
  else if (strcmp (lang, "grub2") == 0) r = img_quote_grub2 (in, &out, &why);
  else if (strcmp (lang, "grub2-title") == 0) r = img_quote_grub2_title (in, &out, &why);
  else if (strcmp (lang, "grub2-path") == 0) r = img_quote_grub2_path (in, &out, &why);
  else if (strcmp (lang, "grub-legacy") == 0) r = img_quote_grub_legacy (in, &out, &why);
  else if (strcmp (lang, "bls") == 0) r = img_quote_bls (in, &out, &why);
  else if (strcmp (lang, "extlinux") == 0) r = img_quote_extlinux (in, &out, &why);
  else if (strcmp (lang, "sh") == 0) r = img_quote_sh (in, &out, &why);
  else if (strcmp (lang, "json") == 0) r = img_quote_json (in, &out, &why);
  else if (strcmp (lang, "xml") == 0) r = img_quote_xml (in, &out, &why);
  else if (strcmp (lang, "term") == 0 || strcmp (lang, "term-nl") == 0) {
    out = img_quote_term (in, strcmp (lang, "term-nl") == 0);
    r = out ? 0 : -1;
  }
  else if (strcmp (lang, "cmdline") == 0 && argc > 2)
    r = img_quote_cmdline (argv[2], strcmp (in, "-") == 0 ? NULL : in, &out, &why);
  else if (strcmp (lang, "cmdline-line") == 0) {
    r = img_quote_cmdline_line (in, &out, &bad, &why);
    free (bad);
  }
  else if (strcmp (lang, "mac") == 0) {
    r = img_check_mac (in, &why);
    out = strdup (in);
  }
  else if (strcmp (lang, "ifname") == 0) {
    r = img_check_ifname (in, &why);
    out = strdup (in);
  }
  if (r < 0) {
    fprintf (stderr, "quote-tool: %s: %s\n", lang, why);
    free (out);
    return 1;
  }
  fputs (out, stdout);
  free (out);
  return 0;
}
