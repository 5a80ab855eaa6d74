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

#include "base/hostdir.h"
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

static int
stage (struct drivers *d, struct img_hostdir *hd, const char *what)
{
  size_t i, n = img_initrd_n_entries (d->ird) + d->n_added;
  uint64_t total = 0;
  int r = 0;

  for (i = 0; i < n && r == 0; i++) {
    const char *rel;
    const void *data;
    size_t size;
    char *name = NULL;
    if (!tree_file (d, i, &rel, &data, &size))
      continue;
    total += size;
    if (size > DEPMOD_FILE_MAX || total > DEPMOD_TOTAL_MAX) {
      char esc[256];
      img_host_name_escape (rel, strlen (rel), esc, sizeof esc);
      return img_err (d->ctx, -EFBIG, "%s: module files past %u MiB (at \"%s\"): not indexed",
                      what, (size > DEPMOD_FILE_MAX ? DEPMOD_FILE_MAX : DEPMOD_TOTAL_MAX) >> 20, esc);
    }
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

int
img_internal_drivers_index (struct drivers *d)
{
  struct img_hostdir *hd = NULL;
  char *what = NULL;
  int r;

  if (asprintf (&what, "%s: initrd %s", d->k->image, d->k->initrd) < 0)
    return img_conv_oom (d->plan);
  if ((r = img_host_name_check (d->ctx, what, "kernel version", d->k->kver)) == 0
      && (r = img_internal_drivers_full_initrd (d)) == 0
      && (r = img_hostdir_new (d->ctx, "img2pv-depmod", &hd)) == 0
      && (r = stage (d, hd, what)) == 0 && (r = run_depmod (d, hd, what)) == 0)
    r = take_index (d, hd, what);
  img_hostdir_free (hd);
  free (what);
  return r;
}
