/* Extending a guest's initrd in place: read it through the guest, check
 * that it is an initramfs we understand (so we never extend garbage the
 * kernel would stop at), append a layer and write the result as a new
 * file beside it, atomically. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "private.h"
#include "initrd/initrd-private.h"

/* Debian and Fedora initrds are tens of MB; a firmware-heavy one a few
 * hundred. */
#define INITRD_MAX (1024u * 1024 * 1024)

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
