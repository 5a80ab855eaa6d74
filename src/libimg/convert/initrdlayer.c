/* An initrd layer built from a list of entries and appended (see
 * initrdlayer.h). */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "private.h"
#include "initrd/initrd-private.h"
#include "convert/initrdlayer.h"

struct img_initrd_layer {
  struct img_ctx *ctx;
  struct img_cpio *cpio;
  uint64_t mtime;
  char **dirs;                  /* directories added so far */
  size_t n_dirs;
  bool any;
};

int
img_initrd_layer_new (struct img_ctx *ctx, uint64_t mtime, struct img_initrd_layer **layerp)
{
  struct img_initrd_layer *l = calloc (1, sizeof *l);
  int r;

  *layerp = NULL;
  if (l == NULL)
    return img_err (ctx, -ENOMEM, "initrd layer: out of memory");
  l->ctx = ctx;
  l->mtime = mtime;
  if ((r = img_cpio_new (ctx, &l->cpio)) < 0) {
    free (l);
    return r;
  }
  *layerp = l;
  return 0;
}

void
img_initrd_layer_free (struct img_initrd_layer *l)
{
  size_t i;

  if (l == NULL)
    return;
  for (i = 0; i < l->n_dirs; i++)
    free (l->dirs[i]);
  free (l->dirs);
  img_cpio_free (l->cpio);
  free (l);
}

static bool
have_dir (const struct img_initrd_layer *l, const char *p)
{
  size_t i;

  for (i = 0; i < l->n_dirs; i++)
    if (strcmp (l->dirs[i], p) == 0)
      return true;
  return false;
}

int
img_initrd_layer_dir (struct img_initrd_layer *l, const char *path)
{
  char *p = strdup (path), *s;
  int r = 0;

  if (p == NULL)
    return img_err (l->ctx, -ENOMEM, "initrd layer: out of memory");
  for (s = strchr (p, '/'); r == 0; s = strchr (s + 1, '/')) {
    if (s)
      *s = '\0';
    if (*p && !have_dir (l, p)) {
      char **nd = realloc (l->dirs, (l->n_dirs + 1) * sizeof *nd);
      if (nd == NULL || (nd[l->n_dirs] = strdup (p)) == NULL) {
        if (nd)
          l->dirs = nd;
        r = img_err (l->ctx, -ENOMEM, "initrd layer: out of memory");
        break;
      }
      l->dirs = nd;
      l->n_dirs++;
      r = img_cpio_add (l->cpio, p, S_IFDIR | 0755, 0, 0, l->mtime, 0, 0, NULL, 0);
      l->any = true;
    }
    if (s == NULL)
      break;
    *s = '/';
  }
  free (p);
  return r;
}

int
img_initrd_layer_file (struct img_initrd_layer *l, const char *path, uint32_t mode,
                       const void *data, size_t len)
{
  l->any = true;
  return img_cpio_add (l->cpio, path, S_IFREG | (mode & 07777), 0, 0, l->mtime, 0, 0, data, len);
}

int
img_initrd_layer_symlink (struct img_initrd_layer *l, const char *path, const char *target)
{
  l->any = true;
  return img_cpio_add (l->cpio, path, S_IFLNK | 0777, 0, 0, l->mtime, 0, 0, target, strlen (target));
}

bool
img_initrd_layer_empty (const struct img_initrd_layer *l)
{
  return !l->any;
}

/* The layer finished and compressed as IRD's last segment: after ORIG
 * (ORIG_LEN bytes), or with ALONE as a file of its own. */
static int
put (struct img_initrd_layer *l, const struct img_initrd *ird, bool alone, const void *orig,
     size_t orig_len, void **out, size_t *out_len, const char **compression)
{
  size_t n = img_initrd_n_segments (ird);
  const struct img_initrd_segment *last = n ? img_initrd_segment (ird, n - 1) : NULL;
  const char *comp = last ? last->compression : "none";
  void *buf = NULL;
  size_t len = 0;
  int r;

  *out = NULL;
  *out_len = 0;
  if ((r = img_cpio_finish (l->cpio, &buf, &len)) < 0)
    return r;
  if (alone)
    /* The boot loader starts this file on a 4-byte boundary after the
     * initrd: the tail that would follow an initrd of 4 bytes has just
     * the zero bytes an uncompressed or legacy lz4 segment needs after
     * it. */
    r = img_internal_initrd_append_tail (l->ctx, 4, buf, len, comp, out, out_len);
  else
    r = img_initrd_append (l->ctx, orig, orig_len, buf, len, comp, out, out_len);
  free (buf);
  if (r == 0 && compression)
    *compression = comp;
  return r;
}

int
img_initrd_layer_append (struct img_initrd_layer *l, const struct img_initrd *ird,
                         const void *orig, size_t orig_len, void **out, size_t *out_len,
                         const char **compression)
{
  return put (l, ird, false, orig, orig_len, out, out_len, compression);
}

int
img_initrd_layer_file_after (struct img_initrd_layer *l, const struct img_initrd *ird,
                             void **out, size_t *out_len, const char **compression)
{
  return put (l, ird, true, NULL, 0, out, out_len, compression);
}
