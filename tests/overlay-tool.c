/* Test helper for disk/overlay.c: a private qcow2 overlay over an image,
 * written by a qemu of the test's, applied back through the disk layer.
 *   overlay-tool IMAGE OVERLAY create
 *   overlay-tool IMAGE OVERLAY apply [--dry] [--undo FILE]
 *   overlay-tool IMAGE OVERLAY run [--dry] [--undo FILE] -- CMD ARG...
 *       (create, run CMD while the image is held as a run holds it, with
 *       OVL_BACKING set to the overlay's backing name, then apply)
 *   overlay-tool IMAGE UNDOFILE rollback
 * apply and run print "changed N" (bytes that differ(ed)) and, with an
 * undo record, "saved N" (bytes of the image it saved: the blocks
 * written); an error is one line on stderr, exit 1. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libimg.h"
#include "img-undo.h"
#include "disk/disk-private.h"

static int
run_cmd (struct img_disk *disk, char **cmd)
{
  const char *backing;
  pid_t pid;
  int status;

  if (img_internal_disk_qemu_shared_name (disk, &backing) < 0
      || setenv ("OVL_BACKING", backing, 1) == -1)
    return -1;
  fflush (stdout);
  pid = fork ();
  if (pid == -1)
    return -1;
  if (pid == 0) {
    execvp (cmd[0], cmd);
    perror (cmd[0]);
    _exit (127);
  }
  if (waitpid (pid, &status, 0) == -1 || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
    fprintf (stderr, "overlay-tool: %s failed\n", cmd[0]);
    return -1;
  }
  return 0;
}

static int
apply (struct img_ctx *ctx, struct img_disk *disk, const char *ovl, bool dry,
       const char *undofile)
{
  struct img_undo *undo = NULL;
  uint64_t changed = 0;
  int r = 0;

  if (undofile)
    r = img_undo_begin (ctx, undofile, &disk, 1, false, &undo);
  if (r == 0)
    r = img_internal_disk_overlay_apply (disk, ovl, dry, &changed);
  if (r == 0 && undo)
    r = img_undo_commit_disks (undo, &disk, 1);
  if (r == 0)
    printf ("changed %llu\n", (unsigned long long) changed);
  if (r == 0 && undo)
    printf ("saved %llu\n", (unsigned long long) img_undo_bytes (undo));
  img_undo_free (undo);
  return r;
}

int
main (int argc, char *argv[])
{
  static const struct img_disk_opts opts = { NULL, false };
  struct img_ctx *ctx;
  struct img_disk *disk = NULL;
  const char *mode, *undofile = NULL;
  char **cmd = NULL;
  bool dry = false;
  int i, r;

  if (argc < 4) {
    fprintf (stderr, "usage: overlay-tool IMAGE OVERLAY create|apply|run [--dry] [--undo FILE] [-- CMD...] | IMAGE UNDO rollback\n");
    return 2;
  }
  mode = argv[3];
  for (i = 4; i < argc; i++) {
    if (strcmp (argv[i], "--dry") == 0)
      dry = true;
    else if (strcmp (argv[i], "--undo") == 0 && i + 1 < argc)
      undofile = argv[++i];
    else if (strcmp (argv[i], "--") == 0 && i + 1 < argc) {
      cmd = &argv[i + 1];
      break;
    }
    else {
      fprintf (stderr, "overlay-tool: bad argument %s\n", argv[i]);
      return 2;
    }
  }
  if (img_ctx_new (&ctx) < 0)
    return 1;
  img_ctx_set_disk_opts (ctx, &opts);
  if (strcmp (mode, "rollback") == 0) {
    const char *images[] = { argv[1] };
    r = img_undo_rollback (ctx, argv[2], images, 1, 0);
  }
  else {
    r = img_disk_open (ctx, argv[1], dry ? IMG_DISK_RDONLY : IMG_DISK_RDWR, &disk);
    if (r == 0 && (strcmp (mode, "create") == 0 || strcmp (mode, "run") == 0))
      r = img_internal_disk_overlay_create (disk, argv[2]);
    if (r == 0 && strcmp (mode, "run") == 0 && (cmd == NULL || run_cmd (disk, cmd) < 0)) {
      img_disk_close (disk);
      img_ctx_free (ctx);
      return 1;
    }
    if (r == 0 && strcmp (mode, "create") != 0)
      r = apply (ctx, disk, argv[2], dry, undofile);
    if (r == 0)
      r = img_disk_close (disk);
    else
      img_disk_close (disk);
  }
  if (r < 0) {
    fprintf (stderr, "overlay-tool: %s\n", img_ctx_error (ctx));
    img_ctx_free (ctx);
    return 1;
  }
  img_ctx_free (ctx);
  return 0;
}
