/* /usr on a filesystem of its own that no fstab names.  CoreOS Container
 * Linux and Flatcar keep /usr on the USR-A or USR-B partition (A/B
 * updates) and have no /etc/fstab: the initramfs mounts it from the
 * kernel command line (mount.usr=), and /etc/os-release is a link into
 * it.  Without that /usr the guest has no os-release, kernel or shell.
 *
 * The rule, strict so that an ordinary guest is never touched: only when
 * the mount map has no /usr and the root's own /usr is missing or an empty
 * directory; a candidate is any other readable filesystem whose top holds
 * lib/os-release and a bin/ directory but no etc/ (a /usr tree, not a
 * root).  Of the candidates the one whose GPT partition or filesystem is
 * named USR-A or USR-B wins, the higher GPT priority first (the ChromeOS
 * attribute bits 48-51 that CoreOS's update engine sets to pick the slot
 * to boot), USR-A on a tie; else a single candidate; else none (more than
 * one unnamed /usr tree: ambiguous, said at debug level). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/guest-private.h"

/* An empty or missing /usr in the root filesystem (mkfs puts nothing in
 * a mount point; readdir may list "." and ".."). */
static bool
usr_is_mount_point (struct img_guest *g, long root)
{
  struct img_fs *fs;
  struct img_dirent *ents = NULL;
  struct img_stat st;
  size_t n = 0, i, real = 0;
  bool r = false;

  if (img_fs_open (g->ctx, g->volumes[root].vol, IMG_FS_RDONLY, &fs) < 0)
    return false;
  if (img_fs_lstat (fs, "/usr", &st) < 0)
    r = true;
  else if (S_ISDIR (st.mode) && img_fs_readdir (fs, "/usr", &ents, &n) == 0) {
    for (i = 0; i < n; i++)
      if (strcmp (ents[i].name, ".") != 0 && strcmp (ents[i].name, "..") != 0)
        real++;
    img_dirents_free (ents, n);
    r = real == 0;
  }
  img_fs_close (fs);
  img_ctx_clear_error (g->ctx);
  return r;
}

static bool
looks_like_usr (struct img_guest *g, size_t v)
{
  struct img_fs *fs;
  struct img_stat st;
  bool r;

  if (img_fs_open (g->ctx, g->volumes[v].vol, IMG_FS_RDONLY, &fs) < 0) {
    img_ctx_clear_error (g->ctx);
    return false;
  }
  r = img_fs_lstat (fs, "/lib/os-release", &st) == 0
      && (S_ISREG (st.mode) || S_ISLNK (st.mode))
      && img_fs_lstat (fs, "/bin", &st) == 0 && S_ISDIR (st.mode)
      && img_fs_lstat (fs, "/etc", &st) < 0;
  img_fs_close (fs);
  img_ctx_clear_error (g->ctx);
  return r;
}

/* 2 for USR-A, 1 for USR-B (partition name first, then label); 0. */
static int
usr_slot (const struct gvolume *v)
{
  const char *name = v->part && v->part->name[0] ? v->part->name : v->info.label;

  return strcmp (name, "USR-A") == 0 ? 2 : strcmp (name, "USR-B") == 0 ? 1 : 0;
}

static unsigned
gpt_priority (const struct gvolume *v)
{
  return v->part ? (unsigned) (v->part->attrs >> 48) & 0xf : 0;
}

long
img_internal_guest_find_usr (struct img_guest *g, long root)
{
  long best = -1, single = -1;
  size_t i, n = 0;

  if (!usr_is_mount_point (g, root))
    return -1;
  for (i = 0; i < g->n_volumes; i++) {
    const struct gvolume *v = &g->volumes[i];
    if ((long) i == root || !img_internal_guest_is_ext (v->info.type) || !looks_like_usr (g, i))
      continue;
    n++;
    single = i;
    if (usr_slot (v) == 0)
      continue;
    if (best < 0 || gpt_priority (v) > gpt_priority (&g->volumes[best])
        || (gpt_priority (v) == gpt_priority (&g->volumes[best])
            && usr_slot (v) > usr_slot (&g->volumes[best])))
      best = i;
  }
  if (best >= 0)
    return best;
  if (n > 1)
    img_dbg (g->ctx, "guest: %zu filesystems look like /usr and none is USR-A/USR-B: none mounted", n);
  return n == 1 ? single : -1;
}
