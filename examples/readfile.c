/* readfile: print one file of a powered-off VM's disk image, a short
 * example of libimg from outside the tree:
 *   cc readfile.c $(pkg-config --cflags --libs img-tools) -o readfile
 *   ./readfile disk.qcow2 /etc/os-release [FORMAT]
 * Read-only from start to end: the image is opened, its partitions and
 * LVM read, the guest's root found and its fstab mounts followed, all in
 * memory; nothing is mounted on the host. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libimg.h>

int
main (int argc, char **argv)
{
  struct img_ctx *ctx = NULL;
  struct img_guest *g = NULL;
  struct img_disk_opts opts = { .format = argc > 3 ? argv[3] : NULL };
  char buf[65536];
  uint64_t off = 0;
  size_t got;
  int r;

  if (argc < 3 || argc > 4) {
    fprintf (stderr, "usage: %s IMAGE GUEST-PATH [FORMAT]\n", argv[0]);
    return 2;
  }
  r = img_ctx_new (&ctx);
  if (r < 0) {
    fprintf (stderr, "readfile: %s\n", strerror (-r));
    return 1;
  }
  /* The image's format as given, or guessed from its magic when NULL. */
  r = img_ctx_set_disk_opts (ctx, &opts);
  if (r == 0)
    r = img_guest_open (ctx, (const char *const *) &argv[1], 1,
                        IMG_DISK_RDONLY, &g);
  if (r == 0 && img_guest_n_roots (g) == 0) {
    img_ctx_set_error (ctx, -ENOENT, "%s: no guest root filesystem", argv[1]);
    r = -ENOENT;
  }
  /* Symlinks in PATH resolve inside the guest, never on the host. */
  while (r == 0) {
    r = img_guest_pread (g, argv[2], buf, sizeof buf, off, &got);
    if (r < 0 || got == 0)
      break;
    if (fwrite (buf, 1, got, stdout) != got) {
      r = img_ctx_set_error (ctx, -EIO, "stdout: %s", strerror (errno));
      break;
    }
    off += got;
  }
  if (r < 0)
    fprintf (stderr, "readfile: %s\n", img_ctx_error (ctx));
  if (img_guest_close (g) < 0 && r == 0) {
    fprintf (stderr, "readfile: %s\n", img_ctx_error (ctx));
    r = -EIO;
  }
  img_ctx_free (ctx);
  return r < 0 ? 1 : 0;
}
