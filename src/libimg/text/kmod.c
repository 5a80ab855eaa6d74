/* Kernel module trees: modules.dep and modules.builtin read as text, the
 * way depmod writes them (kmod and module-init-tools alike), to find a
 * module's file and its dependency closure without running anything.
 *
 * modules.dep lines are "PATH: DEP DEP ...", with paths relative to the
 * tree (kmod) or absolute (module-init-tools writes /lib/modules/VER/...).
 * Module names compare with '-' and '_' as the same character, as the
 * kernel does; the file may be compressed (.ko.xz, .ko.zst, .ko.gz).
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libimg.h"
#include "private.h"

struct kmod_mod {
  char *path;                   /* relative to the tree */
  size_t *deps;                 /* indexes into mods */
  size_t n_deps, cap_deps;
};

struct img_kmod {
  struct img_ctx *ctx;
  struct kmod_mod *mods;
  size_t n_mods, cap_mods;
  char **builtin;               /* module names */
  size_t n_builtin, cap_builtin;
  /* Open-addressing index of mods by path (slot: mod index + 1, 0 empty),
   * so that reading modules.dep stays linear in its size. */
  size_t *slots;
  size_t n_slots;               /* a power of 2, > 2 * n_mods */
};

/* The module name of a path: basename up to ".ko". */
static size_t
name_of (const char *path, const char **name)
{
  const char *b = strrchr (path, '/'), *ko;

  b = b ? b + 1 : path;
  ko = strstr (b, ".ko");
  *name = b;
  return ko ? (size_t) (ko - b) : strlen (b);
}

static bool
name_eq (const char *a, size_t alen, const char *b, size_t blen)
{
  size_t i;

  if (alen != blen)
    return false;
  for (i = 0; i < alen; i++) {
    char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
    if (x != y)
      return false;
  }
  return true;
}

/* "/lib/modules/VER/kernel/x.ko" -> "kernel/x.ko". */
static const char *
relative (const char *p)
{
  if (strncmp (p, "/lib/modules/", 13) == 0 || strncmp (p, "/usr/lib/modules/", 17) == 0) {
    const char *s = strchr (p + (p[1] == 'u' ? 17 : 13), '/');
    return s ? s + 1 : p;
  }
  return p;
}

static size_t
hash_path (const char *s)
{
  size_t h = 14695981039346656037u;

  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211u;
  return h;
}

/* The slot of PATH: where it is, or the empty one where it would go. */
static size_t
slot_of (const struct img_kmod *km, const char *path)
{
  size_t s = hash_path (path) & (km->n_slots - 1);

  while (km->slots[s] != 0 && strcmp (km->mods[km->slots[s] - 1].path, path) != 0)
    s = (s + 1) & (km->n_slots - 1);
  return s;
}

static ssize_t
find_path (const struct img_kmod *km, const char *path)
{
  size_t s;

  if (km->n_slots == 0)
    return -1;
  s = slot_of (km, path);
  return km->slots[s] ? (ssize_t) km->slots[s] - 1 : -1;
}

/* Keeps the index more than half empty. */
static int
index_grow (struct img_kmod *km)
{
  size_t n = km->n_slots ? km->n_slots : 64, i;
  size_t *old = km->slots, old_n = km->n_slots;

  if (km->n_slots > 2 * (km->n_mods + 1))
    return 0;
  while (n <= 2 * (km->n_mods + 1))
    if (__builtin_mul_overflow (n, 2, &n))
      return -ENOMEM;
  if ((km->slots = calloc (n, sizeof *km->slots)) == NULL) {
    km->slots = old;
    return -ENOMEM;
  }
  km->n_slots = n;
  for (i = 0; i < old_n; i++)
    if (old[i])
      km->slots[slot_of (km, km->mods[old[i] - 1].path)] = old[i];
  free (old);
  return 0;
}

static ssize_t
add_mod (struct img_kmod *km, const char *path, size_t len)
{
  struct kmod_mod *m;
  char *p = strndup (path, len);
  ssize_t i;

  if (p == NULL)
    return -ENOMEM;
  if ((i = find_path (km, relative (p))) >= 0) {
    free (p);
    return i;
  }
  if (img_internal_grow ((void **) &km->mods, &km->cap_mods, km->n_mods, sizeof *m) < 0
      || index_grow (km) < 0) {
    free (p);
    return -ENOMEM;
  }
  m = km->mods;
  memmove (p, relative (p), strlen (relative (p)) + 1);
  m[km->n_mods] = (struct kmod_mod) { .path = p };
  km->slots[slot_of (km, p)] = km->n_mods + 1;
  return (ssize_t) km->n_mods++;
}

int
img_kmod_parse (struct img_ctx *ctx, const char *name, const char *dep,
                size_t dep_len, const char *builtin, size_t builtin_len,
                struct img_kmod **out)
{
  struct img_kmod *km = calloc (1, sizeof *km);
  const char *p = dep, *end = dep + dep_len;
  unsigned lineno = 0;
  int r = 0;

  *out = NULL;
  if (km == NULL)
    return -ENOMEM;
  km->ctx = ctx;
  while (p < end && r == 0) {
    const char *nl = memchr (p, '\n', end - p), *eol = nl ? nl : end, *colon, *q;
    ssize_t self;

    lineno++;
    if (eol == p || *p == '#') {
      p = eol + 1;
      continue;
    }
    colon = memchr (p, ':', eol - p);
    if (colon == NULL || colon == p) {
      r = img_err (ctx, -EINVAL, "%s: line %u: not \"module: dependencies\"", name, lineno);
      break;
    }
    self = add_mod (km, p, colon - p);
    if (self < 0) {
      r = (int) self;
      break;
    }
    for (q = colon + 1; q < eol && r == 0;) {
      const char *w;
      ssize_t d;
      size_t *nd;

      while (q < eol && (*q == ' ' || *q == '\t'))
        q++;
      w = q;
      while (q < eol && *q != ' ' && *q != '\t')
        q++;
      if (q == w)
        break;
      d = add_mod (km, w, q - w);
      if (d < 0) {
        r = (int) d;
        break;
      }
      if (img_internal_grow ((void **) &km->mods[self].deps, &km->mods[self].cap_deps,
                             km->mods[self].n_deps, sizeof *nd) < 0) {
        r = -ENOMEM;
        break;
      }
      nd = km->mods[self].deps;
      nd[km->mods[self].n_deps++] = (size_t) d;
    }
    p = eol + 1;
  }
  for (p = builtin, end = builtin ? builtin + builtin_len : NULL; r == 0 && p && p < end;) {
    const char *nl = memchr (p, '\n', end - p), *eol = nl ? nl : end, *n;
    size_t nlen;
    char **nb;
    char *line = strndup (p, eol - p);

    if (line == NULL) {
      r = -ENOMEM;
      break;
    }
    nlen = name_of (line, &n);
    if (nlen && img_internal_grow ((void **) &km->builtin, &km->cap_builtin, km->n_builtin,
                                   sizeof *nb) == 0) {
      nb = km->builtin;
      nb[km->n_builtin] = strndup (n, nlen);
      if (nb[km->n_builtin])
        km->n_builtin++;
      else
        r = -ENOMEM;
    } else if (nlen)
      r = -ENOMEM;
    free (line);
    p = eol + 1;
  }
  if (r < 0) {
    img_kmod_free (km);
    return r == -ENOMEM ? img_err (ctx, r, "%s: out of memory", name) : r;
  }
  *out = km;
  return 0;
}

void
img_kmod_free (struct img_kmod *km)
{
  size_t i;

  if (km == NULL)
    return;
  for (i = 0; i < km->n_mods; i++) {
    free (km->mods[i].path);
    free (km->mods[i].deps);
  }
  for (i = 0; i < km->n_builtin; i++)
    free (km->builtin[i]);
  free (km->mods);
  free (km->builtin);
  free (km->slots);
  free (km);
}

static ssize_t
find_name (const struct img_kmod *km, const char *module)
{
  size_t i, mlen = strlen (module);

  for (i = 0; i < km->n_mods; i++) {
    const char *n;
    size_t nlen = name_of (km->mods[i].path, &n);
    if (name_eq (n, nlen, module, mlen))
      return (ssize_t) i;
  }
  return -1;
}

const char *
img_kmod_find (const struct img_kmod *km, const char *module)
{
  ssize_t i = find_name (km, module);

  return i < 0 ? NULL : km->mods[i].path;
}

bool
img_kmod_builtin (const struct img_kmod *km, const char *module)
{
  size_t i, mlen = strlen (module);

  for (i = 0; i < km->n_builtin; i++)
    if (name_eq (km->builtin[i], strlen (km->builtin[i]), module, mlen))
      return true;
  return false;
}

/* Depth-first, dependencies first; STATE 1 = on the stack, 2 = done. */
static int
visit (const struct img_kmod *km, size_t i, unsigned char *state,
       const char ***list, size_t *n, unsigned depth)
{
  size_t d;
  const char **nl;
  int r;

  if (state[i] == 2)
    return 0;
  if (state[i] == 1 || depth > 256)
    return -ELOOP;
  state[i] = 1;
  for (d = 0; d < km->mods[i].n_deps; d++)
    if ((r = visit (km, km->mods[i].deps[d], state, list, n, depth + 1)) < 0)
      return r;
  state[i] = 2;
  /* Each module is listed once: *list has room for all (closure). */
  nl = *list;
  nl[(*n)++] = km->mods[i].path;
  return 0;
}

int
img_kmod_closure (const struct img_kmod *km, const char *const *modules,
                  size_t n_modules, const char ***paths, size_t *n_paths)
{
  unsigned char *state = calloc (km->n_mods + 1, 1);
  const char **list = malloc ((km->n_mods + 1) * sizeof *list);
  size_t n = 0, m;
  int r = 0;

  *paths = NULL;
  *n_paths = 0;
  if (state == NULL || list == NULL) {
    free (state);
    free (list);
    return img_err (km->ctx, -ENOMEM, "modules.dep: out of memory");
  }
  for (m = 0; m < n_modules && r == 0; m++) {
    ssize_t i = find_name (km, modules[m]);
    if (i < 0)
      r = img_err (km->ctx, -ENOENT, "modules.dep: no module %s", modules[m]);
    else if ((r = visit (km, (size_t) i, state, &list, &n, 0)) == -ELOOP)
      r = img_err (km->ctx, r, "modules.dep: dependency loop through %s", modules[m]);
    else if (r < 0)
      r = img_err (km->ctx, r, "modules.dep: out of memory");
  }
  free (state);
  if (r < 0) {
    free (list);
    return r;
  }
  *paths = list;
  *n_paths = n;
  return 0;
}
