/* Extending a guest's initrd in place: read it through the guest, check
 * that it is an initramfs we understand (so we never extend garbage the
 * kernel would stop at), append a layer and write the result as a new
 * file beside it, atomically. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "guest/guest-private.h"

/* Debian and Fedora initrds are tens of MB; a firmware-heavy one a few
 * hundred. */
#define INITRD_MAX (1024u * 1024 * 1024)

/* Reads go to the filesystem directly, the path resolved once: a
 * decompressor still inflating after the cpio reader's error must not
 * clear that error by a read (each img_guest_* call starts afresh). */
struct reader {
  struct img_fs *fs;
  const char *rel;
};

static int
read_fs (void *opaque, void *buf, size_t len, uint64_t off, size_t *got)
{
  struct reader *rd = opaque;

  return img_fs_pread (rd->fs, rd->rel, buf, len, off, got);
}

int
img_guest_initrd_parse (struct img_guest *g, const char *path, uint64_t max,
                        const char *name, uint64_t max_uncompressed,
                        uint64_t keep_data, img_initrd_keep_fn keep_also,
                        const struct img_initrd_sink *sink,
                        struct img_initrd **initrd, uint64_t *size)
{
  CLEANUP_FREE char *canon = NULL;
  struct reader rd;
  uint64_t n;
  int r;

  *initrd = NULL;
  if ((r = img_internal_guest_read_admit (g, path, max, &n)) < 0)
    return r;
  if (size)
    *size = n;
  if ((r = img_internal_guest_resolve (g, path, true, &canon, &rd.fs, &rd.rel)) < 0)
    return r;
  return img_initrd_parse_read (img_guest_ctx (g), name, read_fs, &rd, n, 0,
                                max_uncompressed, keep_data, keep_also, sink, initrd);
}

int
img_guest_extend_initrd (struct img_guest *g, const char *initrd,
                         const char *newpath, const void *layer,
                         size_t layer_len, const char *compression)
{
  struct img_ctx *ctx = img_guest_ctx (g);
  struct img_initrd *parsed = NULL;
  struct img_stat st;
  void *orig = NULL, *out = NULL;
  size_t orig_len = 0, out_len = 0;
  int r;

  r = img_guest_stat (g, initrd, &st);
  if (r < 0)
    return r;
  r = img_guest_read_file (g, initrd, INITRD_MAX, &orig, &orig_len);
  if (r < 0)
    return r;
  r = img_initrd_parse_keep (ctx, initrd, orig, orig_len, 0, 0, &parsed);
  if (r < 0)
    goto out;
  img_initrd_free (parsed);
  r = img_initrd_append (ctx, orig, orig_len, layer, layer_len, compression,
                         &out, &out_len);
  if (r < 0)
    goto out;
  r = img_guest_write_file (g, newpath, out, out_len, st.mode & 07777);
 out:
  free (orig);
  free (out);
  return r;
}
