/* A dry run's writes, kept in memory over a read-only lower fs: a node
 * for every path that differs from the lower one (new or changed file,
 * directory, symlink, device node; or a whiteout for a removed path).  A
 * path without a node is looked up in the lower fs, under the lower path
 * of its nearest ancestor node, so a renamed directory still shows its
 * lower contents.  File data is copied from the lower fs at the first
 * write (copy-on-write), charged to the run's IMG_BUDGET_FILE_TOTAL. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/overlay-private.h"

struct ov_node {
  struct ov_node *next;         /* hash chain */
  char *path;
  bool whiteout;                /* removed: hides the lower path */
  bool opaque;                  /* directory: the lower entries are hidden */
  struct img_stat st;
  char *lower;                  /* contents from this lower path, or NULL */
  unsigned char *data;          /* regular file, once LOADED */
  size_t len;
  bool loaded;
  char *link;                   /* symlink target */
};

char *
img_internal_ov_join (const struct img_fs_path *p)
{
  size_t i, len = 1;
  char *s, *q;

  for (i = 0; i < p->n; i++)
    len += 1 + strlen (p->comp[i]);
  s = q = malloc (len + 1);
  if (s == NULL)
    return NULL;
  for (i = 0; i < p->n; i++)
    q += sprintf (q, "/%s", p->comp[i]);
  if (p->n == 0)
    *q++ = '/';
  *q = '\0';
  return s;
}

static size_t
hash (const char *s, size_t n)
{
  uint64_t h = 1469598103934665603u;

  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211u;
  return h % n;
}

static struct ov_node *
lookup (struct img_overlay *o, const char *path)
{
  struct ov_node *n;

  if (o->n_buckets == 0)
    return NULL;
  for (n = o->buckets[hash (path, o->n_buckets)]; n; n = n->next)
    if (strcmp (n->path, path) == 0)
      return n;
  return NULL;
}

static void
node_clear (struct ov_node *n)
{
  free (n->lower);
  free (n->data);
  free (n->link);
  n->lower = NULL;
  n->data = NULL;
  n->link = NULL;
  n->len = 0;
  n->loaded = n->whiteout = n->opaque = false;
  memset (&n->st, 0, sizeof n->st);
}

static void
node_free (struct ov_node *n)
{
  node_clear (n);
  free (n->path);
  free (n);
}

static void
unhash (struct img_overlay *o, struct ov_node *n)
{
  struct ov_node **pp = &o->buckets[hash (n->path, o->n_buckets)];

  while (*pp != n)
    pp = &(*pp)->next;
  *pp = n->next;
  o->n_nodes--;
}

static int
rehash (struct img_overlay *o)
{
  size_t nb = o->n_buckets ? 2 * o->n_buckets : 256, i;
  struct ov_node **b = calloc (nb, sizeof *b);

  if (b == NULL)
    return -ENOMEM;
  for (i = 0; i < o->n_buckets; i++)
    while (o->buckets[i]) {
      struct ov_node *n = o->buckets[i];
      size_t h = hash (n->path, nb);
      o->buckets[i] = n->next;
      n->next = b[h];
      b[h] = n;
    }
  free (o->buckets);
  o->buckets = b;
  o->n_buckets = nb;
  return 0;
}

static void
insert (struct img_overlay *o, struct ov_node *n)
{
  size_t h = hash (n->path, o->n_buckets);

  n->next = o->buckets[h];
  o->buckets[h] = n;
  o->n_nodes++;
}

/* The node at PATH, emptied, made if there is none.  NULL on no memory. */
static struct ov_node *
node_at (struct img_overlay *o, const char *path)
{
  struct ov_node *n = lookup (o, path);

  if (n) {
    node_clear (n);
    return n;
  }
  if (o->n_nodes >= o->n_buckets && rehash (o) < 0)
    return NULL;
  n = calloc (1, sizeof *n);
  if (n == NULL || (n->path = strdup (path)) == NULL) {
    free (n);
    return NULL;
  }
  insert (o, n);
  return n;
}

void
img_internal_ov_free_nodes (struct img_overlay *o)
{
  size_t i;

  for (i = 0; i < o->n_buckets; i++)
    while (o->buckets[i]) {
      struct ov_node *n = o->buckets[i];
      o->buckets[i] = n->next;
      node_free (n);
    }
  free (o->buckets);
  o->buckets = NULL;
  o->n_buckets = o->n_nodes = 0;
}

/* Where PATH stands: its node (*np, NULL if none) or else the lower path
 * its contents come from (*lowerp, malloc'd).  -ENOENT / -ENOTDIR when
 * a node above or at PATH says it is not there. */
static int
resolve (struct img_overlay *o, const char *path, struct ov_node **np,
         char **lowerp)
{
  struct ov_node *n = lookup (o, path);
  size_t l;
  char *anc;

  *np = NULL;
  *lowerp = NULL;
  if (n) {
    if (n->whiteout)
      return -ENOENT;
    *np = n;
    return 0;
  }
  anc = strdup (path);
  if (anc == NULL)
    return -ENOMEM;
  for (l = strlen (anc); l > 1; ) {
    char *slash;

    anc[l] = '\0';
    slash = strrchr (anc, '/');
    l = slash == anc ? 1 : (size_t) (slash - anc);
    anc[l] = '\0';
    if (l == 1)
      anc[0] = '/';
    n = lookup (o, anc);
    if (n == NULL)
      continue;
    free (anc);
    if (n->whiteout)
      return -ENOENT;
    if (!S_ISDIR (n->st.mode))
      return -ENOTDIR;
    if (n->opaque || n->lower == NULL)
      return -ENOENT;
    if (asprintf (lowerp, "%s%s", strcmp (n->lower, "/") ? n->lower : "",
                  path + (strcmp (n->path, "/") ? strlen (n->path) : 0)) < 0) {
      *lowerp = NULL;
      return -ENOMEM;
    }
    return 0;
  }
  free (anc);
  *lowerp = strdup (path);
  return *lowerp ? 0 : -ENOMEM;
}

/* Calls OP of the lower fs on the lower path PATH. */
#define LOWER(o, path, call)                                            \
  ({ struct img_fs_path lp_;                                            \
     struct img_fs *lfs_ = (o)->lower;                                  \
     int lr_ = img_internal_fs_path_parse (lfs_, (path), &lp_);         \
     if (lr_ == 0) {                                                    \
       const struct img_fs_path *lpp_ = &lp_;                           \
       lr_ = lfs_->ops->call;                                           \
       img_internal_fs_path_free (&lp_);                                \
     }                                                                  \
     lr_; })

static int
node_stat (struct img_overlay *o, const char *path, struct ov_node *n,
           const char *lower, struct img_stat *st)
{
  if (n) {
    *st = n->st;
    if (S_ISREG (n->st.mode) && n->loaded) {
      st->size = n->len;
      st->blocks = (n->len + 511) / 512;
    }
    return 0;
  }
  memset (st, 0, sizeof *st);
  return LOWER (o, lower, lstat (lfs_, lpp_, st));
}

int
img_internal_ov_lstat (struct img_overlay *o, const char *path,
                       struct img_stat *st)
{
  struct ov_node *n;
  char *lower;
  int r = resolve (o, path, &n, &lower);

  if (r == 0)
    r = node_stat (o, path, n, lower, st);
  free (lower);
  return r;
}

int
img_internal_ov_readlink (struct img_overlay *o, const char *path,
                          char **target)
{
  struct ov_node *n;
  char *lower;
  int r = resolve (o, path, &n, &lower);

  if (r == 0 && n && n->link)
    r = (*target = strdup (n->link)) ? 0 : -ENOMEM;
  else if (r == 0 && n && n->lower && S_ISLNK (n->st.mode))
    r = LOWER (o, n->lower, readlink (lfs_, lpp_, target));
  else if (r == 0 && n)
    r = -EINVAL;
  else if (r == 0)
    r = LOWER (o, lower, readlink (lfs_, lpp_, target));
  free (lower);
  return r;
}

/* The node at PATH, made from the lower fs if there is none yet. */
static int
materialize (struct img_overlay *o, const char *path, struct ov_node **np)
{
  struct img_stat st;
  struct ov_node *n;
  char *lower;
  int r = resolve (o, path, &n, &lower);

  if (r == 0 && n == NULL) {
    memset (&st, 0, sizeof st);
    r = LOWER (o, lower, lstat (lfs_, lpp_, &st));
    if (r == 0 && (n = node_at (o, path)) == NULL)
      r = -ENOMEM;
    if (r == 0) {
      n->st = st;
      n->lower = lower;
      lower = NULL;
    }
  }
  free (lower);
  *np = n;
  return r;
}

/* Copies a regular file's lower contents into memory, within budget. */
static int
load (struct img_overlay *o, struct ov_node *n)
{
  struct img_ctx *ctx = o->fs.ctx;
  uint64_t size = n->st.size;
  size_t got, len = 0;
  char where[1200];
  int r;

  if (n->loaded)
    return 0;
  if (!S_ISREG (n->st.mode))
    return S_ISDIR (n->st.mode) ? -EISDIR : -EINVAL;
  if (size > img_ctx_budget (ctx, IMG_BUDGET_FILE) || size >= SIZE_MAX) {
    char lim[32];
    img_internal_budget_format (img_ctx_budget (ctx, IMG_BUDGET_FILE), true, lim);
    return img_err (ctx, -EFBIG,
                    "%s: %s: %s: dry run: file of %" PRIu64 " bytes is past the budget of %s for one file (IMG_BUDGET_FILE)",
                    o->fs.name, o->fs.type, n->path, size, lim);
  }
  snprintf (where, sizeof where, "%s: %s: %s: dry run", o->fs.name,
            o->fs.type, n->path);
  r = img_internal_budget_charge (ctx, IMG_BUDGET_FILE_TOTAL, size, where);
  if (r < 0)
    return r;
  free (n->data);
  n->data = malloc (size ? size : 1);
  if (n->data == NULL)
    return -ENOMEM;
  while (len < size) {
    r = LOWER (o, n->lower, pread (lfs_, lpp_, n->data + len, size - len,
                                   len, &got));
    if (r < 0)
      return r;
    if (got == 0)
      break;
    len += got;
  }
  n->len = len;
  n->loaded = true;
  return 0;
}

int
img_internal_ov_pread (struct img_overlay *o, const char *path, void *buf,
                       size_t len, uint64_t off, size_t *got)
{
  struct ov_node *n;
  char *lower;
  int r = resolve (o, path, &n, &lower);

  *got = 0;
  if (r == 0 && n && !S_ISREG (n->st.mode))
    r = S_ISDIR (n->st.mode) ? -EISDIR : -EINVAL;
  else if (r == 0 && n && n->loaded) {
    if (off < n->len) {
      *got = n->len - off < len ? n->len - off : len;
      memcpy (buf, n->data + off, *got);
    }
  }
  else if (r == 0)
    r = LOWER (o, n ? n->lower : lower, pread (lfs_, lpp_, buf, len, off, got));
  free (lower);
  return r;
}

static int
parent_is_dir (struct img_overlay *o, const char *path)
{
  char *parent = strdup (path), *slash;
  struct img_stat st;
  int r;

  if (parent == NULL)
    return -ENOMEM;
  slash = strrchr (parent, '/');
  slash[slash == parent ? 1 : 0] = '\0';
  r = img_internal_ov_lstat (o, parent, &st);
  free (parent);
  if (r == 0 && !S_ISDIR (st.mode))
    r = -ENOTDIR;
  return r;
}

int
img_internal_ov_make (struct img_overlay *o, const char *path, uint32_t mode,
                      uint32_t uid, uint32_t gid, const char *link,
                      uint32_t major, uint32_t minor)
{
  struct img_stat st;
  struct ov_node *n;
  int r;

  r = parent_is_dir (o, path);
  if (r < 0)
    return r;
  r = img_internal_ov_lstat (o, path, &st);
  if (r == 0)
    return -EEXIST;
  if (r != -ENOENT)
    return r;
  n = node_at (o, path);
  if (n == NULL)
    return -ENOMEM;
  n->st.ino = o->next_ino++;
  n->st.mode = mode;
  n->st.uid = uid;
  n->st.gid = gid;
  n->st.nlink = S_ISDIR (mode) ? 2 : 1;
  n->st.rdev_major = major;
  n->st.rdev_minor = minor;
  n->opaque = S_ISDIR (mode);
  n->loaded = S_ISREG (mode);
  if (link) {
    n->link = strdup (link);
    if (n->link == NULL)
      return -ENOMEM;
    n->st.size = strlen (link);
  }
  return 0;
}

/* Makes the file of node N LEN bytes long (zeros past the old end),
 * charging what it grows by. */
static int
resize (struct img_overlay *o, struct ov_node *n, uint64_t len)
{
  unsigned char *d;
  char where[1200];
  int r;

  if (len >= SIZE_MAX)
    return -EFBIG;
  if (len > n->len) {
    snprintf (where, sizeof where, "%s: %s: %s: dry run", o->fs.name,
              o->fs.type, n->path);
    r = img_internal_budget_charge (o->fs.ctx, IMG_BUDGET_FILE_TOTAL,
                                    len - n->len, where);
    if (r < 0)
      return r;
    d = realloc (n->data, len);
    if (d == NULL)
      return -ENOMEM;
    memset (d + n->len, 0, len - n->len);
    n->data = d;
  }
  n->len = len;
  n->st.size = len;
  n->st.blocks = (len + 511) / 512;
  return 0;
}

int
img_internal_ov_pwrite (struct img_overlay *o, const char *path,
                        const void *buf, size_t len, uint64_t off)
{
  struct ov_node *n;
  int r = materialize (o, path, &n);

  if (r == 0)
    r = load (o, n);
  if (r == 0 && off + len > n->len)
    r = resize (o, n, off + len);
  if (r == 0 && len)
    memcpy (n->data + off, buf, len);
  return r;
}

int
img_internal_ov_truncate (struct img_overlay *o, const char *path,
                          uint64_t size)
{
  struct ov_node *n;
  int r = materialize (o, path, &n);

  if (r == 0)
    r = load (o, n);
  if (r == 0)
    r = resize (o, n, size);
  return r;
}

int
img_internal_ov_link (struct img_overlay *o, const char *oldpath,
                      const char *newpath)
{
  struct ov_node *src, *n;
  struct img_stat st;
  int r;

  r = materialize (o, oldpath, &src);
  if (r < 0)
    return r;
  if (S_ISDIR (src->st.mode))
    return -EPERM;
  r = parent_is_dir (o, newpath);
  if (r < 0)
    return r;
  r = img_internal_ov_lstat (o, newpath, &st);
  if (r == 0)
    return -EEXIST;
  if (r != -ENOENT)
    return r;
  /* Two copies rather than one shared inode: enough for a dry run,
   * whose writes through one name are not read through the other. */
  src->st.nlink++;
  n = node_at (o, newpath);
  if (n == NULL)
    return -ENOMEM;
  n->st = src->st;
  if ((src->lower && (n->lower = strdup (src->lower)) == NULL)
      || (src->link && (n->link = strdup (src->link)) == NULL))
    return -ENOMEM;
  if (src->loaded) {
    n->loaded = true;
    r = resize (o, n, src->len);
    if (r == 0 && src->len)
      memcpy (n->data, src->data, src->len);
  }
  return r;
}

static bool
under (const char *path, const char *dir, size_t dl)
{
  if (strcmp (dir, "/") == 0)
    return path[0] == '/' && path[1] != '\0';
  return strncmp (path, dir, dl) == 0 && path[dl] == '/';
}

/* The nodes strictly below DIR, taken out of the table. */
static void
take_below (struct img_overlay *o, const char *dir, struct ov_node **list)
{
  size_t dl = strlen (dir), i;

  *list = NULL;
  for (i = 0; i < o->n_buckets; i++) {
    struct ov_node **pp = &o->buckets[i];
    while (*pp) {
      struct ov_node *n = *pp;
      if (under (n->path, dir, dl)) {
        *pp = n->next;
        o->n_nodes--;
        n->next = *list;
        *list = n;
      }
      else
        pp = &n->next;
    }
  }
}

static void
free_list (struct ov_node *l)
{
  while (l) {
    struct ov_node *n = l;
    l = n->next;
    node_free (n);
  }
}

int
img_internal_ov_remove (struct img_overlay *o, const char *path, bool dir)
{
  struct img_dirent *ents;
  struct img_stat st;
  struct ov_node *n, *below;
  size_t k;
  int r;

  r = img_internal_ov_lstat (o, path, &st);
  if (r < 0)
    return r;
  if (dir && !S_ISDIR (st.mode))
    return -ENOTDIR;
  if (!dir && S_ISDIR (st.mode))
    return -EISDIR;
  if (dir) {
    r = img_internal_ov_readdir (o, path, &ents, &k);
    if (r < 0)
      return r;
    img_dirents_free (ents, k);
    if (k)
      return -ENOTEMPTY;
    take_below (o, path, &below);
    free_list (below);          /* whiteouts only: the whiteout above hides */
  }
  n = node_at (o, path);
  if (n == NULL)
    return -ENOMEM;
  n->whiteout = true;
  return 0;
}

int
img_internal_ov_rename (struct img_overlay *o, const char *oldpath,
                        const char *newpath)
{
  struct img_stat ost, nst;
  struct ov_node *n, *below, *l;
  size_t ol = strlen (oldpath);
  int r;

  r = img_internal_ov_lstat (o, oldpath, &ost);
  if (r < 0)
    return r;
  if (strcmp (oldpath, newpath) == 0)
    return 0;
  r = parent_is_dir (o, newpath);
  if (r < 0)
    return r;
  r = img_internal_ov_lstat (o, newpath, &nst);
  if (r == 0 && S_ISDIR (ost.mode) != S_ISDIR (nst.mode))
    return S_ISDIR (nst.mode) ? -EISDIR : -ENOTDIR;
  if (r == 0 && S_ISDIR (nst.mode))
    r = img_internal_ov_remove (o, newpath, true);
  else if (r == -ENOENT)
    r = 0;
  if (r < 0)
    return r;
  /* The old node (made from the lower fs if need be) and everything
   * below it change names; the old name becomes a whiteout. */
  r = materialize (o, oldpath, &n);
  if (r < 0)
    return r;
  unhash (o, n);
  take_below (o, oldpath, &below);
  take_below (o, newpath, &l);
  free_list (l);
  l = lookup (o, newpath);
  if (l) {
    unhash (o, l);
    node_free (l);
  }
  for (l = below; l; l = below) {
    char *np;
    below = l->next;
    if (asprintf (&np, "%s%s", newpath, l->path + ol) < 0)
      np = NULL;
    if (np == NULL) {
      node_free (l);
      r = -ENOMEM;
      continue;
    }
    free (l->path);
    l->path = np;
    insert (o, l);
  }
  free (n->path);
  n->path = strdup (newpath);
  if (n->path == NULL) {
    node_free (n);
    return -ENOMEM;
  }
  insert (o, n);
  n = node_at (o, oldpath);
  if (n == NULL)
    return -ENOMEM;
  n->whiteout = true;
  return r;
}

int
img_internal_ov_setattr (struct img_overlay *o, const char *path,
                         enum ov_attr what, const struct img_stat *v)
{
  struct ov_node *n;
  int r = materialize (o, path, &n);

  if (r < 0)
    return r;
  switch (what) {
  case OV_ATTR_MODE:
    n->st.mode = (n->st.mode & S_IFMT) | (v->mode & 07777);
    break;
  case OV_ATTR_OWNER:
    n->st.uid = v->uid;
    n->st.gid = v->gid;
    break;
  case OV_ATTR_TIMES:
    n->st.atime = v->atime;
    n->st.atime_ns = v->atime_ns;
    n->st.mtime = v->mtime;
    n->st.mtime_ns = v->mtime_ns;
    break;
  }
  return 0;
}

int
img_internal_ov_xattrs (struct img_overlay *o, const char *path,
                        img_xattr_fn fn, void *data)
{
  struct ov_node *n;
  char *lower;
  int r = resolve (o, path, &n, &lower);
  const char *from = n ? n->lower : lower;

  if (r == 0 && from && o->lower->ops->xattrs)
    r = LOWER (o, from, xattrs (lfs_, lpp_, fn, data));
  free (lower);
  return r;
}

int
img_internal_ov_space (struct img_overlay *o, uint64_t *total,
                       uint64_t *avail)
{
  uint64_t held = 0;
  size_t i;
  int r;

  if (o->lower->ops->space == NULL)
    return -EOPNOTSUPP;
  r = o->lower->ops->space (o->lower, total, avail);
  if (r < 0)
    return r;
  for (i = 0; i < o->n_buckets; i++) {
    struct ov_node *n;
    for (n = o->buckets[i]; n; n = n->next)
      if (n->loaded)
        held += n->len;
  }
  *avail = *avail > held ? *avail - held : 0;
  return 0;
}

/* ---- readdir: the lower entries, less whiteouts, plus new names ---- */

static int
merge_entry (struct img_dirent **ents, size_t *n, size_t *cap,
             const struct ov_node *node, const char *name)
{
  size_t i;

  for (i = 0; i < *n; i++)
    if (strcmp ((*ents)[i].name, name) == 0)
      break;
  if (node->whiteout) {
    if (i < *n) {
      free ((*ents)[i].name);
      (*ents)[i] = (*ents)[--*n];
    }
    return 0;
  }
  if (i == *n) {
    if (img_internal_grow ((void **) ents, cap, *n, sizeof **ents) < 0)
      return -ENOMEM;
    (*ents)[i].name = strdup (name);
    if ((*ents)[i].name == NULL)
      return -ENOMEM;
    (*n)++;
  }
  (*ents)[i].ino = node->st.ino;
  (*ents)[i].type = img_internal_fs_dtype (node->st.mode);
  return 0;
}

int
img_internal_ov_readdir (struct img_overlay *o, const char *path,
                         struct img_dirent **ents, size_t *n)
{
  struct ov_node *node;
  struct img_stat st;
  char *lower;
  size_t cap, i, pl = strlen (path);
  int r = resolve (o, path, &node, &lower);

  *ents = NULL;
  *n = 0;
  if (r == 0)
    r = node_stat (o, path, node, lower, &st);
  if (r == 0 && !S_ISDIR (st.mode))
    r = -ENOTDIR;
  if (r == 0 && (node == NULL || (!node->opaque && node->lower)))
    r = LOWER (o, node ? node->lower : lower, readdir (lfs_, lpp_, ents, n));
  free (lower);
  cap = *n;
  for (i = 0; r == 0 && i < o->n_buckets; i++) {
    struct ov_node *c;
    for (c = o->buckets[i]; c && r == 0; c = c->next) {
      const char *name = c->path + (pl == 1 ? 1 : pl + 1);
      if (under (c->path, path, pl) && strchr (name, '/') == NULL)
        r = merge_entry (ents, n, &cap, c, name);
    }
  }
  if (r < 0) {
    img_dirents_free (*ents, *n);
    *ents = NULL;
    *n = 0;
  }
  return r;
}
