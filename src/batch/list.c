/* The image list img-batch works through: paths, per-image options, and
 * what became of each image. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

int
batch_list_add (struct batch_list *l, const char *path, const char *given,
                unsigned line, struct batch_image **out)
{
  struct batch_image *im;

  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct batch_image *v = reallocarray (l->v, cap, sizeof *v);
    if (!v)
      return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  im = &l->v[l->n];
  memset (im, 0, sizeof *im);
  im->path = strdup (path);
  im->given = strdup (given);
  l->n++;
  if (!im->path || !im->given)
    return -ENOMEM;
  im->line = line;
  im->status = -1;
  if (out)
    *out = im;
  return 0;
}

int
batch_image_add_opt (struct batch_image *im, const char *opt)
{
  char **v = reallocarray (im->opts, im->nopts + 1, sizeof *v);

  if (!v)
    return -ENOMEM;
  im->opts = v;
  v[im->nopts] = strdup (opt);
  if (!v[im->nopts])
    return -ENOMEM;
  im->nopts++;
  return 0;
}

static void
image_free (struct batch_image *im)
{
  free (im->path);
  free (im->given);
  free (im->name);
  for (size_t i = 0; i < im->nopts; i++)
    free (im->opts[i]);
  free (im->opts);
  free (im->reason);
}

void
batch_list_free (struct batch_list *l)
{
  for (size_t i = 0; i < l->n; i++)
    image_free (&l->v[i]);
  free (l->v);
  memset (l, 0, sizeof *l);
}

/* The same path twice would run two tools on one image at once. */
bool
batch_list_duplicate (const struct batch_list *l, size_t *first, size_t *second)
{
  for (size_t j = 1; j < l->n; j++)
    for (size_t i = 0; i < j; i++)
      if (strcmp (l->v[i].path, l->v[j].path) == 0) {
        *first = i;
        *second = j;
        return true;
      }
  return false;
}

/* After the names are given, so that a report's name does not depend on
 * the shard that converts it. */
void
batch_list_shard (struct batch_list *l, unsigned index, unsigned count)
{
  size_t kept = 0;

  for (size_t k = 0; k < l->n; k++) {
    if (k % count == index)
      l->v[kept++] = l->v[k];
    else
      image_free (&l->v[k]);
  }
  l->n = kept;
}
