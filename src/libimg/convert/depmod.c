/* The module index of the layer "initrd-drivers" appends: the modules the
 * initrd will hold (its own module files plus those added), run through
 * the host's depmod in a private directory (host code on copies of files;
 * nothing of the guest runs).  Every name staged there comes from the
 * guest, so each goes through the hostdir checks and openat2 below the
 * private directory; only depmod's inputs are staged, each and all
 * bounded in size. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/hostdir.h"
#include "base/fdio.h"
#include "guest/guest-private.h"
#include "disk/disk-private.h"
#include "convert/drivers-private.h"

#define DEPMOD_FILE_MAX (64u << 20)
#define DEPMOD_TOTAL_MAX (512u << 20)
#define INDEX_MAX (256u << 20)

static const char *const kmod_index[] = {
  "modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
  "modules.softdep", "modules.symbols", "modules.symbols.bin",
  "modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname", NULL
};

/* What depmod reads of a module tree: the module files and the lists it
 * takes as input.  Nothing else of the guest's initrd is staged. */
static bool
depmod_input (const char *rel)
{
  static const char *const lists[] = { "modules.order", "modules.builtin",
                                       "modules.builtin.modinfo", NULL };
  static const char *const sfx[] = { ".ko", ".ko.xz", ".ko.zst", ".ko.gz", NULL };
  size_t i, n = strlen (rel), m;

  for (i = 0; lists[i]; i++)
    if (strcmp (rel, lists[i]) == 0)
      return true;
  for (i = 0; sfx[i]; i++)
    if (n > (m = strlen (sfx[i])) && strcmp (rel + n - m, sfx[i]) == 0)
      return true;
  return false;
}

/* The I-th file of the tree to index: the initrd's (the kernel's view:
 * the last entry for a name wins), then the added ones.  False: skip it. */
static bool
tree_file (const struct drivers *d, size_t i, const char **rel, const void **data, size_t *size)
{
  size_t n = img_initrd_n_entries (d->ird), plen = strlen (d->modroot);

  if (i < n) {
    const struct img_cpio_entry *e = img_initrd_entry (d->ird, i);
    if (!S_ISREG (e->mode) || strncmp (e->name, d->modroot, plen) != 0 || e->name[plen] != '/'
        || img_initrd_lookup (d->ird, e->name) != e)
      return false;
    *rel = e->name + plen + 1;
    *data = e->data;
    *size = e->size;
  } else {
    *rel = d->added[i - n];
    *data = d->added_buf[i - n];
    *size = d->added_len[i - n];
  }
  return depmod_input (*rel);
}

/* depmod's bounds: one file, all of them. */
static int
over_bounds (struct drivers *d, const char *what, const char *rel, uint64_t size,
             uint64_t total)
{
  char esc[256];

  if (size <= DEPMOD_FILE_MAX && total <= DEPMOD_TOTAL_MAX)
    return 0;
  img_host_name_escape (rel, strlen (rel), esc, sizeof esc);
  return img_err (d->ctx, -EFBIG, "%s: module files past %u MiB (at \"%s\"): not indexed",
                  what, (size > DEPMOD_FILE_MAX ? DEPMOD_FILE_MAX : DEPMOD_TOTAL_MAX) >> 20, esc);
}

/* Stages the tree's files from FIRST on (0: the initrd's and the added
 * ones; the number of the initrd's entries: the added ones only). */
static int
stage (struct drivers *d, struct img_hostdir *hd, const char *what, size_t first,
       uint64_t total)
{
  size_t i, n = img_initrd_n_entries (d->ird) + d->n_added;
  int r = 0;

  for (i = first; i < n && r == 0; i++) {
    const char *rel;
    const void *data;
    size_t size;
    char *name = NULL;
    if (!tree_file (d, i, &rel, &data, &size))
      continue;
    total += size;
    if ((r = over_bounds (d, what, rel, size, total)) < 0)
      return r;
    if (asprintf (&name, "lib/modules/%s/%s", d->k->kver, rel) < 0)
      return img_conv_oom (d->plan);
    r = img_hostdir_write (hd, what, name, data, size, 0644);
    free (name);
  }
  return r;
}

static int
run_depmod (struct drivers *d, struct img_hostdir *hd, const char *what)
{
  /* The version was checked: one component, no leading "-". */
  const char *argv[] = { "depmod", "-b", img_hostdir_path (hd), d->k->kver, NULL };
  char out[1024], err[1024], *nl;
  const char *msg;
  int st = img_internal_run_capture (argv, out, sizeof out, err, sizeof err);

  if (st >= 0 && WIFEXITED (st) && WEXITSTATUS (st) == 0)
    return 0;
  msg = *err ? err : out;
  if ((nl = strchr (msg, '\n')) != NULL)
    *nl = '\0';
  return img_err (d->ctx, -EIO, "%s: host depmod failed: %s", what,
                  *msg ? msg : st < 0 ? strerror (-st) : "non-zero exit");
}

/* depmod's index files into the layer. */
static int
take_index (struct drivers *d, struct img_hostdir *hd, const char *what)
{
  size_t i;
  int r = 0, rc;

  for (i = 0; kmod_index[i] && r == 0; i++) {
    char *p = NULL, *name = NULL;
    void *buf;
    size_t len;
    if (asprintf (&p, "lib/modules/%s/%s", d->k->kver, kmod_index[i]) < 0)
      return img_conv_oom (d->plan);
    rc = img_hostdir_read (hd, what, p, INDEX_MAX, &buf, &len);
    free (p);
    if (rc == -ENOENT)
      continue;
    if (rc < 0)
      return rc;
    if (asprintf (&name, "%s/%s", d->modroot, kmod_index[i]) < 0)
      r = img_conv_oom (d->plan);
    else
      r = img_cpio_add (d->cpio, name, S_IFREG | 0644, 0, 0, (uint64_t) time (NULL), 0, 0, buf, len);
    free (name);
    free (buf);
  }
  return r;
}

/* ---- staging the initrd's module files as they stream by -------------- */

/* The initrd is walked once more with no data kept: each module file
 * under modroot goes straight to the private directory (a later member
 * of the same name replaces it, as in the kernel's unpacking), so memory
 * does not grow with the modules.  Whatever that cannot decide alone (a
 * hard link, a name that a later non-file member takes over) falls back
 * to the parse that keeps every member's data. */
struct spill {
  struct drivers *d;
  struct img_hostdir *hd;
  const char *what;
  int fd;
  const char *rel;              /* of the member being written */
  char **names;                 /* staged, below modroot */
  size_t n, cap;
  uint64_t total;
  bool fallback;
};

/* NAME names one place as stored: no empty, "." or ".." component, so the
 * kernel's view of it is itself (others are left to the full parse). */
static bool
canonical (const char *name)
{
  const char *p = name, *slash;
  size_t n;

  for (;;) {
    slash = strchr (p, '/');
    n = slash ? (size_t) (slash - p) : strlen (p);
    if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
      return false;
    if (slash == NULL)
      return true;
    p = slash + 1;
  }
}

static int
spill_begin (void *opaque, const char *name, uint32_t mode, uint32_t nlink,
             uint64_t size, bool *want)
{
  struct spill *sp = opaque;
  struct drivers *d = sp->d;
  size_t plen = strlen (d->modroot);
  const char *rel;
  char *path = NULL, *copy;
  int r;

  *want = false;
  if (!S_ISREG (mode) || strncmp (name, d->modroot, plen) != 0 || name[plen] != '/'
      || !depmod_input (rel = name + plen + 1))
    return 0;
  if (nlink >= 2 || !canonical (name)) {
    /* Its data may be another member's, or its name not its place. */
    sp->fallback = true;
    return 0;
  }
  sp->total += size;
  if ((r = over_bounds (d, sp->what, rel, size, sp->total)) < 0)
    return r;
  if (sp->n == sp->cap) {
    size_t cap = sp->cap ? sp->cap * 2 : 256;
    char **v = realloc (sp->names, cap * sizeof *v);
    if (v == NULL)
      return img_conv_oom (d->plan);
    sp->names = v;
    sp->cap = cap;
  }
  if ((copy = strdup (rel)) == NULL || asprintf (&path, "lib/modules/%s/%s", d->k->kver, rel) < 0) {
    free (copy);
    return img_conv_oom (d->plan);
  }
  sp->names[sp->n++] = copy;
  sp->fd = img_hostdir_create (sp->hd, sp->what, path, 0644, true);
  free (path);
  if (sp->fd < 0)
    return sp->fd;
  sp->rel = copy;
  *want = true;
  return 0;
}

static int
spill_data (void *opaque, const unsigned char *p, size_t n)
{
  struct spill *sp = opaque;
  int r = img_internal_write_all (sp->fd, p, n);

  if (r < 0) {
    char esc[256];
    img_host_name_escape (sp->rel, strlen (sp->rel), esc, sizeof esc);
    return img_err (sp->d->ctx, r, "%s: \"%s\" in the private directory: %s", sp->what, esc,
                    strerror (-r));
  }
  return 0;
}

static int
spill_end (void *opaque)
{
  struct spill *sp = opaque;
  int r = close (sp->fd) < 0 ? -errno : 0;

  sp->fd = -1;
  if (r < 0)
    return img_err (sp->d->ctx, r, "%s: the private directory: %s", sp->what, strerror (-r));
  return 0;
}

static int
name_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Whether what streamed by is the tree that stage() would have staged:
 * each file it would take staged (an empty one, never streamed, made
 * now), and nothing else.  1: yes; 0: fall back; -errno. */
static int
spill_check (struct spill *sp, const struct img_initrd *ird)
{
  struct drivers *d = sp->d;
  size_t i, n = 0, distinct = 0, plen = strlen (d->modroot);
  char *path;
  int r;

  if (sp->fallback)
    return 0;
  if (sp->n)
    qsort (sp->names, sp->n, sizeof *sp->names, name_cmp);
  for (i = 0; i < sp->n; i++)
    if (i == 0 || strcmp (sp->names[i], sp->names[i - 1]) != 0)
      distinct++;
  for (i = 0; i < img_initrd_n_entries (ird); i++) {
    const struct img_cpio_entry *e = img_initrd_entry (ird, i);
    const char *rel = e->name + plen + 1;
    if (strncmp (e->name, d->modroot, plen) != 0 || e->name[plen] != '/' || !depmod_input (rel)
        || img_initrd_lookup (ird, e->name) != e)
      continue;
    if (!S_ISREG (e->mode))
      continue;
    if (e->size > 0) {
      if (sp->n == 0 || bsearch (&rel, sp->names, sp->n, sizeof *sp->names, name_cmp) == NULL)
        return 0;
      n++;
      continue;
    }
    if (asprintf (&path, "lib/modules/%s/%s", d->k->kver, rel) < 0)
      return img_conv_oom (d->plan);
    r = img_hostdir_write (sp->hd, sp->what, path, "", 0, 0644);
    free (path);
    if (r < 0)
      return r;
  }
  return n == distinct;
}

/* 1: staged; 0: the caller falls back; -errno. */
static int
stage_streamed (struct drivers *d, struct img_hostdir *hd, const char *what)
{
  struct spill sp = { .d = d, .hd = hd, .what = what, .fd = -1 };
  struct img_initrd_sink sink = { spill_begin, spill_data, spill_end, &sp };
  struct img_initrd *ird = NULL;
  size_t i;
  int r, rc;

  r = img_guest_initrd_parse (img_plan_guest (d->plan), d->k->initrd, IMG_CONV_MAX_INITRD,
                              d->what, 4ull << 30, 0, NULL, &sink, &ird, NULL);
  if (sp.fd >= 0)
    close (sp.fd);
  if (r == 0)
    r = spill_check (&sp, ird);
  if (r == 1 && (rc = stage (d, hd, what, img_initrd_n_entries (d->ird), sp.total)) < 0)
    r = rc;
  for (i = 0; i < sp.n; i++)
    free (sp.names[i]);
  free (sp.names);
  img_initrd_free (ird);
  return r;
}

int
img_internal_drivers_index (struct drivers *d)
{
  struct img_hostdir *hd = NULL;
  char *what = NULL;
  int r;

  if (asprintf (&what, "%s: initrd %s", d->k->image, d->k->initrd) < 0)
    return img_conv_oom (d->plan);
  if ((r = img_host_name_check (d->ctx, what, "kernel version", d->k->kver)) < 0
      || (r = img_hostdir_new (d->ctx, "img2pv-depmod", &hd)) < 0)
    goto out;
  if (!d->ird_full && (r = stage_streamed (d, hd, what)) != 0) {
    if (r < 0)
      goto out;
  }
  else {
    /* A fresh directory for the tree held whole. */
    img_hostdir_free (hd);
    hd = NULL;
    if ((r = img_internal_drivers_full_initrd (d)) < 0
        || (r = img_hostdir_new (d->ctx, "img2pv-depmod", &hd)) < 0
        || (r = stage (d, hd, what, 0, 0)) < 0)
      goto out;
  }
  if ((r = run_depmod (d, hd, what)) == 0)
    r = take_index (d, hd, what);
 out:
  img_hostdir_free (hd);
  free (what);
  return r;
}
