/* Two runs on one image: the run lock is taken and tested in one step
 * (two openers released together never both hold the image), and an undo
 * record is never removed from under the run that is writing it. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libimg.h"
#include "img-undo.h"
#include "tap.h"

#define ROUNDS 200

/* Child: waits on GO, opens IMAGE read-write, reports 'y' (holding it),
 * 'n' (refused: in use) or 'e' on OUT, then holds it until RELEASE. */
static void
opener (const char *image, int go, int out, int release)
{
  struct img_ctx *ctx;
  struct img_disk *disk = NULL;
  char c, res;
  int r;

  if (img_ctx_new (&ctx) < 0)
    _exit (2);
  if (read (go, &c, 1) < 0)
    _exit (2);
  r = img_disk_open (ctx, image, IMG_DISK_RDWR, &disk);
  res = r == 0 ? 'y' : r == -EBUSY && strstr (img_ctx_error (ctx), "in use") ? 'n' : 'e';
  if (write (out, &res, 1) != 1 || read (release, &c, 1) < 0)
    _exit (2);
  img_disk_close (disk);
  img_ctx_free (ctx);
  _exit (0);
}

/* One round: 0 when exactly one of two openers got the image, 1 when
 * both did, 2 when neither did, 3 on an error. */
static int
race (const char *image)
{
  int go[2], out[2], rel[2], i, held = 0, refused = 0;
  pid_t pid[2];
  char c;

  if (pipe (go) || pipe (out) || pipe (rel))
    return 3;
  for (i = 0; i < 2; i++) {
    pid[i] = fork ();
    if (pid[i] == 0) {
      close (go[1]);
      close (out[0]);
      close (rel[1]);
      opener (image, go[0], out[1], rel[0]);
    }
  }
  close (go[0]);
  close (out[1]);
  close (rel[0]);
  close (go[1]);                /* both read EOF at once: go */
  for (i = 0; i < 2; i++)
    if (read (out[0], &c, 1) == 1) {
      held += c == 'y';
      refused += c == 'n';
    }
  close (rel[1]);               /* both hold (or not) until now */
  close (out[0]);
  for (i = 0; i < 2; i++)
    waitpid (pid[i], NULL, 0);
  if (held == 1 && refused == 1)
    return 0;
  return held == 2 ? 1 : held == 0 && refused == 2 ? 2 : 3;
}

static int
state_of (struct img_ctx *ctx, const char *path)
{
  int st = -1;
  return img_undo_state (ctx, path, &st) < 0 ? -1 : st;
}

int
main (void)
{
  char dir[] = "/tmp/test-runlock.XXXXXX", image[256], undo[256];
  struct img_ctx *ctx;
  struct img_disk *disk;
  struct img_undo *u;
  int fd, i, both = 0, neither = 0, errs = 0, r;
  char buf[4096];

  signal (SIGPIPE, SIG_IGN);
  tap_plan (10);
  if (mkdtemp (dir) == NULL || img_ctx_new (&ctx) < 0)
    return 99;
  snprintf (image, sizeof image, "%s/r.img", dir);
  snprintf (undo, sizeof undo, "%s/r.img.img-tools-undo", dir);
  fd = open (image, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1 || ftruncate (fd, 1 << 20) == -1)
    return 99;
  close (fd);

  for (i = 0; i < ROUNDS; i++)
    switch (race (image)) {
    case 0: break;
    case 1: both++; break;
    case 2: neither++; break;
    default: errs++; break;
    }
  tap_is_int (both, 0, "200 rounds of two writers released together: never both hold the image");
  tap_is_int (neither + errs, 0, "... and one of the two always does (the other says in use)");

  /* A run that has written: its record is running and locked. */
  r = img_disk_open (ctx, image, IMG_DISK_RDWR, &disk);
  if (r == 0)
    r = img_undo_begin (ctx, undo, &disk, 1, true, &u);
  memset (buf, 0xa5, sizeof buf);
  if (r == 0)
    r = img_disk_pwrite (disk, buf, sizeof buf, 8192);
  tap_is_int (r, 0, "a run writes under an undo record");
  tap_is_int (img_undo_discard (ctx, undo), -EBUSY, "its record is not removed while it runs (in use)");
  tap_ok (access (undo, F_OK) == 0 && state_of (ctx, undo) == IMG_UNDO_RUNNING,
          "... and is still there, running");
  /* The run dies without committing: the record restores the image. */
  img_undo_free (u);
  img_disk_close (disk);
  tap_is_int (img_undo_discard (ctx, undo), -EEXIST, "an interrupted run's record is not removed");
  tap_is_int (img_undo_rollback (ctx, undo, NULL, 0, IMG_UNDO_LAST_RUN), 0, "it rolls back");
  tap_is_int (state_of (ctx, undo), IMG_UNDO_ROLLED_BACK, "... to state rolled-back");
  tap_ok (img_undo_discard (ctx, undo) == 0 && access (undo, F_OK) == -1,
          "a rolled-back record is removed");
  tap_is_int (img_undo_discard (ctx, undo), 0, "removing none is not an error");

  unlink (image);
  rmdir (dir);
  img_ctx_free (ctx);
  return tap_done ();
}
