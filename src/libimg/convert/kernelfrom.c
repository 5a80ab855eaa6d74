/* Edit "kernel-from": the kernel files and module tree given on the host
 * go into the guest (see kernel.h).  The boot files are written through
 * the plan; the module tree is copied with img_guest_copy_in, which keeps
 * holes and hard links, unless the guest already holds the same tree.
 * A dry run cannot write the guest, so there the tree is recorded file by
 * file through the plan, whose overlay later edits (initrd-drivers) read. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/hostfile.h"
#include "convert/convert-private.h"
#include "convert/kernel.h"

#define TREE_MAX_DEPTH 64

struct tree {
  struct img_plan *plan;
  struct img_ctx *ctx;
  bool record;                  /* write through the plan; else compare */
  bool differs;                 /* compare: the guest lacks something */
};

/* Whether the guest's regular file GUEST holds the LEN bytes of BUF. */
static bool
same_file (struct tree *t, const char *guest, const char *buf, size_t len)
{
  void *gbuf = NULL;
  size_t glen;
  bool same = img_guest_read_file (img_plan_guest (t->plan), guest, IMG_CONV_MAX_INITRD,
                                   &gbuf, &glen) == 0
              && glen == len && memcmp (gbuf, buf, len) == 0;

  free (gbuf);
  img_ctx_clear_error (t->ctx);
  return same;
}

static int
tree_file (struct tree *t, const char *host, const char *guest, const struct stat *st)
{
  char *buf;
  size_t len;
  int r;

  if ((r = img_host_read_file (t->ctx, host, IMG_CONV_MAX_INITRD, &buf, &len)) < 0)
    return r;
  if (t->record)
    r = img_guest_write_file (img_plan_guest (t->plan), guest, buf, len, st->st_mode & 07777);
  else if (!same_file (t, guest, buf, len))
    t->differs = true;
  free (buf);
  return r;
}

static int
tree_link (struct tree *t, const char *host, const char *guest)
{
  char target[PATH_MAX], *gt = NULL;
  ssize_t n = readlink (host, target, sizeof target - 1);
  int r = 0;

  if (n < 0)
    return img_err (t->ctx, -errno, "%s: %s", host, strerror (errno));
  target[n] = '\0';
  if (t->record)
    return img_guest_symlink (img_plan_guest (t->plan), target, guest);
  if (img_guest_readlink (img_plan_guest (t->plan), guest, &gt) < 0 || strcmp (gt, target) != 0)
    t->differs = true;
  img_ctx_clear_error (t->ctx);
  free (gt);
  return r;
}

static int tree_walk (struct tree *t, const char *host, const char *guest, unsigned depth);

static int
tree_dir (struct tree *t, const char *host, const char *guest, const struct stat *st,
          unsigned depth)
{
  struct img_stat gst;
  struct dirent *e;
  DIR *d;
  int r = 0;

  if (t->record)
    r = img_guest_mkdir_p (img_plan_guest (t->plan), guest, st->st_mode & 07777);
  else if (img_guest_lstat (img_plan_guest (t->plan), guest, &gst) < 0 || !S_ISDIR (gst.mode))
    t->differs = true;
  img_ctx_clear_error (t->ctx);
  if (r < 0 || t->differs)
    return r;
  if ((d = opendir (host)) == NULL)
    return img_err (t->ctx, -EIO, "%s: cannot list the directory", host);
  while (r == 0 && !t->differs && (e = readdir (d)) != NULL) {
    char *h = NULL, *g = NULL;
    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    if (asprintf (&h, "%s/%s", host, e->d_name) < 0 || asprintf (&g, "%s/%s", guest, e->d_name) < 0) {
      free (h);
      r = img_err (t->ctx, -ENOMEM, "out of memory");
      break;
    }
    r = tree_walk (t, h, g, depth + 1);
    free (h);
    free (g);
  }
  closedir (d);
  return r;
}

/* Records the host tree HOST as the guest's GUEST, or compares them. */
static int
tree_walk (struct tree *t, const char *host, const char *guest, unsigned depth)
{
  struct stat st;

  if (depth > TREE_MAX_DEPTH)
    return img_err (t->ctx, -ELOOP, "%s: too deep", host);
  if (lstat (host, &st) < 0)
    return img_err (t->ctx, -errno, "%s: %s", host, strerror (errno));
  if (S_ISDIR (st.st_mode))
    return tree_dir (t, host, guest, &st, depth);
  if (S_ISREG (st.st_mode))
    return tree_file (t, host, guest, &st);
  if (S_ISLNK (st.st_mode))
    return tree_link (t, host, guest);
  return img_err (t->ctx, -EINVAL, "%s: not a file, directory or symlink; not copied", host);
}

/* The module tree: copied in (real run) when the guest's differs. */
static int
module_tree (struct img_plan *plan, const struct img_pv_kernel *k)
{
  struct tree t = { plan, img_conv_ctx (plan), img_plan_is_dry_run (plan), false };
  int r;

  /* /lib/modules/VER (on merged-/usr guests /lib is a link: the same). */
  if ((r = tree_walk (&t, k->host_modules, k->moddir, 0)) < 0 || t.record || !t.differs)
    return r;
  if ((r = img_guest_mkdir_p (img_plan_guest (plan), k->moddir, 0755)) < 0
      || (r = img_guest_copy_in (img_plan_guest (plan), k->host_modules, k->moddir)) < 0)
    return r;
  return img_plan_note (plan, "copied %s into %s (holes and hard links kept)", k->host_modules,
                        k->moddir);
}

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_pv_kernel *k = data;
  const char *files[] = { k->host_vmlinuz, k->host_initrd, k->host_config, k->host_sysmap };
  struct tree t = { plan, img_conv_ctx (plan), true, false };
  size_t i;
  int r = 0;

  for (i = 0; i < 4 && r == 0; i++) {
    char *gp = NULL;
    if (files[i] == NULL)
      continue;
    if (asprintf (&gp, "/boot/%s", strrchr (files[i], '/') + 1) < 0)
      return img_conv_oom (plan);
    r = tree_walk (&t, files[i], gp, 0);
    free (gp);
  }
  if (r == 0 && k->host_modules)
    r = module_tree (plan, k);
  return r;
}

const struct img_edit img_edit_kernel_from = {
  "kernel-from", "install the kernel or modules given on the host", apply
};
