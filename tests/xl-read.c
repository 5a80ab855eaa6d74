/* Reads an xl config with Xen's own parser (libxlutil, what `xl create`
 * uses) and prints what it found, for tests/quote.sh and
 * tests/img2pv-inject.sh:
 *   xl-read FILE s:KEY   "KEY HEX" (the string value's bytes in hex)
 *                l:KEY   "KEY N HEX..." (a list's items)
 *                n:KEY   "KEY NUMBER"
 *                a:KEY   nothing; exit 3 if KEY is set at all
 * Exit 0; 2 when libxlutil refuses the file (its report on stderr), 3 when
 * a key is missing, of the wrong type, or present when it must not be. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

static void
hex (const char *s)
{
  if (*s == '\0')
    fputs ("-", stdout);
  for (; *s; s++)
    printf ("%02x", (unsigned char) *s);
}

int
main (int argc, char **argv)
{
  XLU_Config *cfg;
  int i, rc = 0;

  if (argc < 2) {
    fprintf (stderr, "usage: xl-read FILE [s:|l:|n:|a:]KEY...\n");
    return 1;
  }
  cfg = xlu_cfg_init (stderr, argv[1]);
  if (cfg == NULL || xlu_cfg_readfile (cfg, argv[1]) != 0) {
    if (cfg)
      xlu_cfg_destroy (cfg);
    return 2;
  }
  for (i = 2; i < argc; i++) {
    const char *k = argv[i] + 2, *v;
    XLU_ConfigList *list;
    int n, j, e;
    long l;

    switch (argv[i][0]) {
    case 's':
      if (xlu_cfg_get_string (cfg, k, &v, 1) != 0) {
        fprintf (stderr, "xl-read: %s: no string\n", k);
        rc = 3;
        break;
      }
      printf ("%s ", k);
      hex (v);
      putchar ('\n');
      break;
    case 'l':
      if (xlu_cfg_get_list (cfg, k, &list, &n, 1) != 0) {
        fprintf (stderr, "xl-read: %s: no list\n", k);
        rc = 3;
        break;
      }
      printf ("%s %d", k, n);
      for (j = 0; j < n; j++) {
        putchar (' ');
        hex (xlu_cfg_get_listitem (list, j));
      }
      putchar ('\n');
      break;
    case 'n':
      if (xlu_cfg_get_long (cfg, k, &l, 1) != 0) {
        fprintf (stderr, "xl-read: %s: no number\n", k);
        rc = 3;
        break;
      }
      printf ("%s %ld\n", k, l);
      break;
    case 'a':
      e = xlu_cfg_get_string (cfg, k, &v, 1);
      if (e != ESRCH || xlu_cfg_get_list (cfg, k, &list, &n, 1) != ESRCH
          || xlu_cfg_get_long (cfg, k, &l, 1) != ESRCH) {
        fprintf (stderr, "xl-read: %s: set, and must not be\n", k);
        rc = 3;
      }
      break;
    default:
      fprintf (stderr, "xl-read: %s: s:, l:, n: or a:\n", argv[i]);
      rc = 1;
    }
  }
  xlu_cfg_destroy (cfg);
  return rc;
}
