/* Test helper: drives the guest path API, so tests can edit a guest inside
 * its images and check the result with independent tools.
 *   guest-tool [--rw] [--dir] IMAGE... -- COMMAND ARGS...
 *   guest-tool [--rw] [--dir] IMAGE... -- -      (commands from stdin,
 *                                                 one per line, one open)
 * Commands: cat PATH | write PATH (stdin, or FILE with write-from) |
 *   write-from HOSTFILE PATH | ls PATH | stat PATH | lstat PATH |
 *   realpath PATH | readlink PATH | mkdir PATH | mkdir-p PATH | rm PATH |
 *   rmdir PATH | mv OLD NEW | symlink TARGET PATH | chmod OCTAL PATH |
 *   chown UID GID PATH | touch MTIME PATH | copy-in HOSTDIR PATH |
 *   walk PATH | roots | mounts |
 *   extend-initrd INITRD NEWPATH LAYER.cpio COMPRESSION
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libimg.h"

static char *
slurp (FILE *fp, size_t *len)
{
  size_t cap = 65536, n = 0;
  char *buf = malloc (cap);
  size_t got;

  while (buf && (got = fread (buf + n, 1, cap - n, fp)) > 0) {
    n += got;
    if (n == cap)
      buf = realloc (buf, cap *= 2);
  }
  *len = n;
  return buf;
}

static int
print_walk (struct img_guest *g, const char *path, const struct img_stat *st, void *data)
{
  printf ("%06o %u %u %" PRIu64 " %s\n", st->mode, st->uid, st->gid,
          S_ISDIR (st->mode) ? 0 : st->size, path);
  return 0;
}

static int
run (struct img_guest *g, int argc, char **argv)
{
  const char *cmd = argv[0];
  struct img_stat st;
  int r = -EINVAL;

#define NEED(n) if (argc != (n) + 1) { fprintf (stderr, "guest-tool: %s needs %d arguments\n", cmd, n); return -EINVAL; }
  if (strcmp (cmd, "cat") == 0) {
    void *buf; size_t len;
    NEED (1);
    r = img_guest_read_file (g, argv[1], 1u << 30, &buf, &len);
    if (r == 0) { fwrite (buf, 1, len, stdout); free (buf); }
  }
  else if (strcmp (cmd, "write") == 0 || strcmp (cmd, "write-from") == 0) {
    size_t len;
    char *buf;
    FILE *fp = stdin;
    if (strcmp (cmd, "write-from") == 0) {
      NEED (2);
      fp = fopen (argv[1], "r");
      if (fp == NULL) return -errno;
    }
    else
      NEED (1);
    buf = slurp (fp, &len);
    if (fp != stdin) fclose (fp);
    r = buf ? img_guest_write_file (g, argv[argc - 1], buf, len, 0644) : -ENOMEM;
    free (buf);
  }
  else if (strcmp (cmd, "ls") == 0) {
    struct img_dirent *e; size_t n, i;
    NEED (1);
    r = img_guest_readdir (g, argv[1], &e, &n);
    for (i = 0; r == 0 && i < n; i++) printf ("%s\n", e[i].name);
    if (r == 0) img_dirents_free (e, n);
  }
  else if (strcmp (cmd, "stat") == 0 || strcmp (cmd, "lstat") == 0) {
    NEED (1);
    r = cmd[0] == 's' ? img_guest_stat (g, argv[1], &st) : img_guest_lstat (g, argv[1], &st);
    if (r == 0)
      printf ("mode=%o uid=%u gid=%u size=%" PRIu64 " nlink=%u mtime=%" PRId64 "\n",
              st.mode, st.uid, st.gid, st.size, st.nlink, st.mtime);
  }
  else if (strcmp (cmd, "realpath") == 0) {
    char *c;
    NEED (1);
    r = img_guest_realpath (g, argv[1], true, &c);
    if (r == 0) { printf ("%s\n", c); free (c); }
  }
  else if (strcmp (cmd, "readlink") == 0) {
    char *t;
    NEED (1);
    r = img_guest_readlink (g, argv[1], &t);
    if (r == 0) { printf ("%s\n", t); free (t); }
  }
  else if (strcmp (cmd, "mkdir") == 0) { NEED (1); r = img_guest_mkdir (g, argv[1], 0755); }
  else if (strcmp (cmd, "mkdir-p") == 0) { NEED (1); r = img_guest_mkdir_p (g, argv[1], 0755); }
  else if (strcmp (cmd, "rm") == 0) { NEED (1); r = img_guest_unlink (g, argv[1]); }
  else if (strcmp (cmd, "rmdir") == 0) { NEED (1); r = img_guest_rmdir (g, argv[1]); }
  else if (strcmp (cmd, "mv") == 0) { NEED (2); r = img_guest_rename (g, argv[1], argv[2]); }
  else if (strcmp (cmd, "symlink") == 0) { NEED (2); r = img_guest_symlink (g, argv[1], argv[2]); }
  else if (strcmp (cmd, "chmod") == 0) { NEED (2); r = img_guest_chmod (g, argv[2], strtoul (argv[1], NULL, 8)); }
  else if (strcmp (cmd, "chown") == 0) {
    NEED (3);
    r = img_guest_chown (g, argv[3], strtoul (argv[1], NULL, 10), strtoul (argv[2], NULL, 10));
  }
  else if (strcmp (cmd, "touch") == 0) {
    NEED (2);
    r = img_guest_utimes (g, argv[2], strtoll (argv[1], NULL, 10), strtoll (argv[1], NULL, 10));
  }
  else if (strcmp (cmd, "copy-in") == 0) { NEED (2); r = img_guest_copy_in (g, argv[1], argv[2]); }
  else if (strcmp (cmd, "extend-initrd") == 0) {
    /* extend-initrd INITRD NEWPATH LAYER.cpio COMPRESSION */
    size_t len;
    char *buf;
    FILE *fp;
    NEED (4);
    if ((fp = fopen (argv[3], "r")) == NULL)
      return -errno;
    buf = slurp (fp, &len);
    fclose (fp);
    r = buf ? img_guest_extend_initrd (g, argv[1], argv[2], buf, len, argv[4]) : -ENOMEM;
    free (buf);
  }
  else if (strcmp (cmd, "walk") == 0) { NEED (1); r = img_guest_walk (g, argv[1], print_walk, NULL); }
  else if (strcmp (cmd, "roots") == 0) {
    size_t i;
    for (i = 0; i < img_guest_n_roots (g); i++) printf ("%s\n", img_guest_root (g, i));
    r = 0;
  }
  else if (strcmp (cmd, "mounts") == 0) {
    size_t i;
    for (i = 0; i < img_guest_n_mounts (g); i++) {
      const struct img_guest_mount *m = img_guest_mount (g, i);
      printf ("%s %s %s %d\n", m->mountpoint, m->device ? m->device : "-",
              m->spec ? m->spec : "-", m->mounted);
    }
    r = 0;
  }
  else
    fprintf (stderr, "guest-tool: unknown command %s\n", cmd);
  return r;
}

int
main (int argc, char *argv[])
{
  struct img_ctx *ctx;
  struct img_guest *g;
  int i, sep = -1, flags = IMG_FS_RDONLY, dir = 0, first = 1, r, rc = 0;

  while (first < argc && argv[first][0] == '-' && strcmp (argv[first], "--") != 0) {
    if (strcmp (argv[first], "--rw") == 0) flags = IMG_FS_RDWR;
    else if (strcmp (argv[first], "--dir") == 0) dir = 1;
    first++;
  }
  for (i = first; i < argc; i++)
    if (strcmp (argv[i], "--") == 0) { sep = i; break; }
  if (sep < 0 || sep == first || sep + 1 >= argc) {
    fprintf (stderr, "usage: guest-tool [--rw] [--dir] IMAGE... -- COMMAND ARGS... | -\n");
    return 2;
  }
  if (img_ctx_new (&ctx) < 0)
    return 1;
  {
    /* Test fixtures are often qcow2 overlays over the cached guests. */
    static const struct img_disk_opts allow = { NULL, true };
    img_ctx_set_disk_opts (ctx, &allow);
  }
  r = dir ? img_guest_open_dir (ctx, argv[first], flags, &g)
          : img_guest_open (ctx, (const char *const *) argv + first, sep - first, flags, &g);
  if (r < 0) {
    fprintf (stderr, "guest-tool: %s\n", img_ctx_error (ctx));
    img_ctx_free (ctx);
    return 1;
  }
  if (strcmp (argv[sep + 1], "-") == 0) {
    char line[8192];
    while (rc == 0 && fgets (line, sizeof line, stdin)) {
      char *words[8], *save = NULL, *w;
      int n = 0;
      for (w = strtok_r (line, " \t\n", &save); w && n < 8; w = strtok_r (NULL, " \t\n", &save))
        words[n++] = w;
      if (n == 0 || words[0][0] == '#')
        continue;
      if (run (g, n, words) < 0) {
        fprintf (stderr, "guest-tool: %s: %s\n", words[0], img_ctx_error (ctx));
        rc = 1;
      }
    }
  }
  else if (run (g, argc - sep - 1, argv + sep + 1) < 0) {
    fprintf (stderr, "guest-tool: %s\n", img_ctx_error (ctx));
    rc = 1;
  }
  if (img_guest_close (g) < 0) {
    fprintf (stderr, "guest-tool: %s\n", img_ctx_error (ctx));
    rc = 1;
  }
  img_ctx_free (ctx);
  return rc;
}
