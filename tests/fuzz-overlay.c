/* Fuzz target for the qcow2 overlay reader (disk/overlay.c): each input
 * is the overlay a hostile appliance's qemu left, applied to a raw disk in
 * memory of its virtual size (1 MiB when that is 0 or over 64 MiB).
 * Built as is, it is a replay program: each argument is an overlay file
 * and one summary line is printed ("ok changed=N" or "error: MESSAGE"),
 * so the seed corpus (tests/fuzz/overlay-corpus) runs under make check.
 * Built with -DIMG_FUZZ_LIBFUZZER and -fsanitize=fuzzer it is a libFuzzer
 * target (tests/fuzz/libfuzzer-overlay.sh).  Besides crashes, a broken
 * invariant aborts: an error that is not one -errno with one line, a dry
 * run and a real one that disagree, more bytes changed than the disk
 * holds, or a second apply that still finds something to change. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libimg.h"
#include "disk/disk-private.h"
#include "fuzz.h"

#define MAX_DISK ((uint64_t) 64 << 20)

/* A disk of SIZE bytes in a memfd, its first MiB a pattern (so that data
 * and zero clusters both differ from it); *FD to close. */
static int
make_disk (uint64_t size, int *fd, char *path, size_t pathlen)
{
  unsigned char buf[4096];
  uint64_t off;
  size_t i;

  *fd = memfd_create ("img-fuzz-disk", MFD_CLOEXEC);
  if (*fd == -1 || ftruncate (*fd, size) == -1)
    return -1;
  for (i = 0; i < sizeof buf; i++)
    buf[i] = (unsigned char) (i * 7 + 1);
  for (off = 0; off < size && off < ((uint64_t) 1 << 20); off += sizeof buf)
    if (pwrite (*fd, buf, size - off < sizeof buf ? size - off : sizeof buf, off) == -1)
      return -1;
  snprintf (path, pathlen, "/proc/self/fd/%d", *fd);
  return 0;
}

static void
run_overlay (const char *ovl, FILE *out)
{
  struct img_ctx *ctx = NULL;
  struct img_disk *disk = NULL;
  unsigned char h[8];
  uint64_t size = 0, dry = 0, real = 0, again = 1;
  char path[64];
  int fd = -1, ofd, r;

  ofd = open (ovl, O_RDONLY | O_CLOEXEC);
  if (ofd >= 0 && pread (ofd, h, sizeof h, 24) == (ssize_t) sizeof h)
    size = ((uint64_t) h[0] << 56) | ((uint64_t) h[1] << 48) | ((uint64_t) h[2] << 40)
      | ((uint64_t) h[3] << 32) | ((uint64_t) h[4] << 24) | ((uint64_t) h[5] << 16)
      | ((uint64_t) h[6] << 8) | h[7];
  if (ofd >= 0)
    close (ofd);
  if (size == 0 || size > MAX_DISK)
    size = (uint64_t) 1 << 20;
  if (make_disk (size, &fd, path, sizeof path) < 0 || img_ctx_new (&ctx) < 0)
    abort ();
  img_ctx_set_log_fn (ctx, quiet, NULL);
  r = img_disk_open (ctx, path, IMG_DISK_RDWR, &disk);
  CHECK (r == 0);
  r = img_internal_disk_overlay_apply (disk, ovl, true, &dry);
  if (r < 0) {
    check_error (ctx, r);
    if (out)
      fprintf (out, "error: %s\n", img_ctx_error (ctx));
    goto out;
  }
  CHECK (dry <= size);
  r = img_internal_disk_overlay_apply (disk, ovl, false, &real);
  CHECK (r == 0 && real == dry);
  r = img_internal_disk_overlay_apply (disk, ovl, true, &again);
  CHECK (r == 0 && again == 0);
  if (out)
    fprintf (out, "ok changed=%llu\n", (unsigned long long) real);
 out:
  img_disk_close (disk);
  img_ctx_free (ctx);
  close (fd);
}

#ifdef IMG_FUZZ_LIBFUZZER

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The overlay is opened by name with O_NOFOLLOW: a real file, not a
 * /proc/self/fd link. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char path[] = "/tmp/img-fuzz-overlay.XXXXXX";
  static int fd = -1;
  size_t done = 0;

  if (fd == -1 && (fd = mkstemp (path)) == -1)
    abort ();
  if (ftruncate (fd, 0) == -1)
    abort ();
  while (done < size) {
    ssize_t n = pwrite (fd, data + done, size - done, done);
    if (n <= 0)
      abort ();
    done += n;
  }
  run_overlay (path, NULL);
  return 0;
}

#else

int
main (int argc, char *argv[])
{
  return fuzz_replay_main (argc, argv, "OVERLAY", run_overlay);
}

#endif
