/* Volume mapping: linear and striped segments over real files, reads and
 * writes crossing segment and chunk boundaries, and out-of-range access. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libimg.h"
#include "tap.h"

#define CHUNK 4096
#define DISKSZ (64 * 1024)

static char *
make_file (const char *tmpl, unsigned char seed)
{
  char *path = strdup (tmpl);
  unsigned char buf[DISKSZ];
  int fd, i;

  fd = mkstemp (path);
  for (i = 0; i < DISKSZ; i++)
    buf[i] = (unsigned char) (seed + i / 512);
  if (fd < 0 || write (fd, buf, sizeof buf) != (ssize_t) sizeof buf)
    abort ();
  close (fd);
  return path;
}

int
main (void)
{
  struct img_ctx *ctx;
  struct img_disk *a, *b;
  struct img_volume *vol;
  char *pa, *pb;
  unsigned char buf[3 * CHUNK], want[3 * CHUNK], file[DISKSZ];
  struct img_stripe st[2];
  int r, fd;

  tap_plan (13);
  pa = make_file ("/tmp/img-test-vol-a.XXXXXX", 0x10);
  pb = make_file ("/tmp/img-test-vol-b.XXXXXX", 0x80);
  img_ctx_new (&ctx);
  img_ctx_set_log_priority (ctx, 0);
  tap_is_int (img_disk_open (ctx, pa, IMG_DISK_RDWR, &a), 0, "open disk a");
  tap_is_int (img_disk_open (ctx, pb, IMG_DISK_RDWR, &b), 0, "open disk b");
  tap_is_str (img_disk_format (a), "raw", "plain file is raw");

  /* Segment 1: linear, 8 KiB of a from 4 KiB.  Segment 2: 2 stripes of
   * 4 KiB chunks, 16 KiB in all: a from 32 KiB, b from 8 KiB. */
  img_volume_new (ctx, "test/vol", &vol);
  st[0].disk = a; st[0].offset = 4096;
  tap_is_int (img_volume_add_segment (ctx, vol, 8192, 0, 1, st), 0, "linear segment");
  st[0].disk = a; st[0].offset = 32768;
  st[1].disk = b; st[1].offset = 8192;
  tap_is_int (img_volume_add_segment (ctx, vol, 16384, CHUNK, 2, st), 0, "striped segment");
  tap_is_int (vol->size, 24576, "volume size");

  /* Volume bytes 6 KiB .. 18 KiB: a[10K..12K), then striped chunk 0
   * (a[32K..36K)), chunk 1 (b[8K..12K)), chunk 2 (a[36K..38K)). */
  r = img_volume_pread (ctx, vol, buf, 12288, 6144);
  tap_is_int (r, 0, "read across segments and chunks");
  {
    unsigned char fa[DISKSZ], fb[DISKSZ];
    img_disk_pread (a, fa, DISKSZ, 0);
    img_disk_pread (b, fb, DISKSZ, 0);
    memcpy (want, fa + 10240, 2048);
    memcpy (want + 2048, fa + 32768, 4096);
    memcpy (want + 6144, fb + 8192, 4096);
    memcpy (want + 10240, fa + 36864, 2048);
  }
  tap_ok (memcmp (buf, want, 12288) == 0, "bytes come from the right places");

  memset (buf, 0xee, sizeof buf);
  tap_is_int (img_volume_pwrite (ctx, vol, buf, 4096, 12288), 0, "write into chunk 1");
  img_disk_close (b);
  fd = open (pb, O_RDONLY);
  r = pread (fd, file, DISKSZ, 0);
  close (fd);
  tap_ok (r == DISKSZ && file[8192] == 0xee && file[12287] == 0xee && file[12288] != 0xee
          && file[8191] != 0xee, "write landed on b at 8 KiB");
  b = NULL;

  tap_is_int (img_volume_pread (ctx, vol, buf, 2, vol->size - 1), -EIO, "read past the end fails");
  tap_is_int (img_volume_pread (ctx, vol, buf, 1, UINT64_MAX), -EIO, "offset overflow fails");
  st[0].disk = a; st[0].offset = DISKSZ - 100;
  tap_is_int (img_volume_add_segment (ctx, vol, 4096, 0, 1, st), -EIO,
              "segment past the end of its disk is refused");

  img_volume_free (vol);
  img_disk_close (a);
  img_ctx_free (ctx);
  unlink (pa);
  unlink (pb);
  free (pa);
  free (pb);
  return tap_done ();
}
