/* Test helper: opens an image through libimg (read-only, or read-write
 * with --rw), prints "ready SERVER_PID" (the qemu-nbd serving it, 0 for a
 * raw image) and waits to be killed, so tests can check what happens to
 * the server and to qemu's locks while we hold the image and after we die.
 */
#include <config.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libimg.h"

/* Our child, if any: the qemu-nbd that libimg started. */
static long
child_pid (void)
{
  DIR *d = opendir ("/proc");
  struct dirent *e;
  long found = 0;

  while (d && (e = readdir (d)) != NULL) {
    char path[300], buf[512], *p;
    FILE *fp;
    long ppid;

    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
    fp = fopen (path, "r");
    if (fp == NULL)
      continue;
    if (fgets (buf, sizeof buf, fp) && (p = strrchr (buf, ')')) != NULL
        && sscanf (p + 2, "%*c %ld", &ppid) == 1 && ppid == (long) getpid ())
      found = atol (e->d_name);
    fclose (fp);
  }
  if (d)
    closedir (d);
  return found;
}

int
main (int argc, char *argv[])
{
  struct img_ctx *ctx;
  struct img_disk *disk;
  int rw = argc > 2 && strcmp (argv[1], "--rw") == 0;
  const char *path = argv[argc - 1];

  if (argc < 2) {
    fprintf (stderr, "usage: hold-disk [--rw] IMAGE\n");
    return 2;
  }
  /* The tests kill us with SIGINT and SIGTERM and expect us to die: a
   * shell without job control starts background commands with SIGINT
   * ignored, and that would be inherited. */
  signal (SIGINT, SIG_DFL);
  signal (SIGTERM, SIG_DFL);
  if (img_ctx_new (&ctx) < 0)
    return 1;
  {
    /* Test fixtures are often qcow2 overlays over the cached guests. */
    static const struct img_disk_opts allow = { NULL, true };
    img_ctx_set_disk_opts (ctx, &allow);
  }
  if (img_disk_open (ctx, path, rw ? IMG_DISK_RDWR : IMG_DISK_RDONLY, &disk) < 0) {
    fprintf (stderr, "hold-disk: %s\n", img_ctx_error (ctx));
    img_ctx_free (ctx);
    return 1;
  }
  printf ("ready %ld\n", child_pid ());
  fflush (stdout);
  for (;;)
    pause ();
}
