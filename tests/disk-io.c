/* Test helper: reads or writes bytes of an image through libimg's disk
 * layer, so tests can compare the result with what qemu-img and dd see.
 *   disk-io IMAGE read OFFSET LENGTH    > bytes
 *   disk-io IMAGE write OFFSET          < bytes
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libimg.h"

int
main (int argc, char *argv[])
{
  struct img_ctx *ctx;
  struct img_disk *disk;
  bool write;
  unsigned long long off, len = 0;
  unsigned char *buf = NULL;
  size_t cap = 0;
  int r;

  if (argc < 4 || (strcmp (argv[2], "read") != 0 && strcmp (argv[2], "write") != 0)
      || (strcmp (argv[2], "read") == 0 && argc != 5)) {
    fprintf (stderr, "usage: disk-io IMAGE read OFFSET LENGTH | IMAGE write OFFSET < DATA\n");
    return 2;
  }
  write = strcmp (argv[2], "write") == 0;
  off = strtoull (argv[3], NULL, 0);
  if (write) {
    ssize_t n;
    cap = 1 << 20;
    buf = malloc (cap);
    while (buf && (n = read (0, buf + len, cap - len)) > 0) {
      len += n;
      if (len == cap)
        buf = realloc (buf, cap *= 2);
    }
  }
  else {
    len = strtoull (argv[4], NULL, 0);
    buf = malloc (len ? len : 1);
  }
  if (buf == NULL || img_ctx_new (&ctx) < 0)
    return 1;
  {
    /* Test fixtures are often qcow2 overlays over the cached guests. */
    static const struct img_disk_opts allow = { NULL, true };
    img_ctx_set_disk_opts (ctx, &allow);
  }
  r = img_disk_open (ctx, argv[1], write ? IMG_DISK_RDWR : IMG_DISK_RDONLY, &disk);
  if (r == 0)
    r = write ? img_disk_pwrite (disk, buf, len, off) : img_disk_pread (disk, buf, len, off);
  if (r == 0 && !write && fwrite (buf, 1, len, stdout) != len)
    r = -1;
  if (r == 0)
    r = img_disk_close (disk);
  else
    img_disk_close (disk);
  if (r < 0) {
    fprintf (stderr, "disk-io: %s\n", img_ctx_error (ctx));
    return 1;
  }
  free (buf);
  img_ctx_free (ctx);
  return 0;
}
