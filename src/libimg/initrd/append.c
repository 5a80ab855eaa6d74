/* Appending a layer to an initrd: the layer checked as the kernel would
 * read it, compressed as the initrd's last segment is, and put after the
 * initrd with the padding the kernel and the distributions' tools need. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "initrd/initrd-private.h"

int
img_internal_initrd_append_tail (struct img_ctx *ctx, size_t orig_len,
                                 const void *layer, size_t layer_len,
                                 const char *compression, void **tail,
                                 size_t *tail_len)
{
  struct img_cpio_entries ents = { NULL, 0, 0, (size_t) img_ctx_budget (ctx, IMG_BUDGET_MEMBERS) };
  struct img_internal_arena arena = { NULL, 0 };
  struct img_cpio_stream s;
  unsigned char *packed = NULL, *res;
  size_t packed_len, pad, total;
  int comp, r;

  comp = compression ? img_internal_comp_from_name (compression) : IMG_COMP_NONE;
  if (comp < 0 || comp == IMG_COMP_LZO || comp == IMG_COMP_LZ4_FRAME)
    return img_err (ctx, -EINVAL,
                    "layer: initrd: unknown compression \"%s\" (none, gzip, zstd, xz, lzma, lz4, bzip2)",
                    compression);
  /* Only a well-formed newc archive goes in: the kernel would stop at
   * anything else, and the guest with it. */
  if (layer_len < 4 || memcmp (layer, "070701", 6 < layer_len ? 6 : layer_len) != 0)
    return img_err (ctx, -EINVAL, "layer: initrd: the layer is not a newc archive");
  img_internal_cpio_stream_init (&s, ctx, "layer: initrd", 0, false, false, 0,
                                 &ents, &arena, 0, layer_len);
  r = img_internal_cpio_stream_feed (&s, layer, layer_len, NULL);
  if (r == 0)
    r = img_internal_cpio_stream_end (&s);
  free (ents.v);
  img_internal_arena_free (&arena);
  if (r < 0)
    return r;

  r = img_internal_compress (ctx, "layer: initrd", comp, layer, layer_len,
                             &packed, &packed_len);
  if (r < 0)
    return r;
  /* The kernel finds an appended uncompressed cpio only at a 4-byte
   * boundary; a compressed stream it finds right after the previous one,
   * and so do the distributions' tools (unmkinitramfs, lsinitrd), whose
   * decompressors take concatenated streams but stop at zero bytes.  A
   * legacy lz4 stream has no end marker of its own: at least four zero
   * bytes end it, so they come before an uncompressed or lz4 layer
   * (either may follow one; a layer is otherwise compressed as the
   * initrd's last segment is). */
  if (orig_len == 0 || (comp != IMG_COMP_NONE && comp != IMG_COMP_LZ4))
    pad = 0;
  else
    pad = 4 + ((4 - (orig_len & 3)) & 3);
  if (__builtin_add_overflow (pad, packed_len, &total)) {
    free (packed);
    return img_err (ctx, -EFBIG, "layer: initrd: result too large");
  }
  res = malloc (total);
  if (res == NULL) {
    free (packed);
    return img_err (ctx, -ENOMEM, "layer: initrd: out of memory");
  }
  memset (res, 0, pad);
  memcpy (res + pad, packed, packed_len);
  free (packed);
  *tail = res;
  *tail_len = total;
  return 0;
}

int
img_initrd_append (struct img_ctx *ctx, const void *orig, size_t orig_len,
                   const void *layer, size_t layer_len,
                   const char *compression, void **out, size_t *out_len)
{
  unsigned char *res;
  void *tail;
  size_t tail_len, total;
  int r;

  r = img_internal_initrd_append_tail (ctx, orig_len, layer, layer_len,
                                       compression, &tail, &tail_len);
  if (r < 0)
    return r;
  if (__builtin_add_overflow (orig_len, tail_len, &total)) {
    free (tail);
    return img_err (ctx, -EFBIG, "layer: initrd: result too large");
  }
  res = malloc (total ? total : 1);
  if (res == NULL) {
    free (tail);
    return img_err (ctx, -ENOMEM, "layer: initrd: out of memory");
  }
  if (orig_len)
    memcpy (res, orig, orig_len);
  memcpy (res + orig_len, tail, tail_len);
  free (tail);
  *out = res;
  *out_len = total;
  return 0;
}
