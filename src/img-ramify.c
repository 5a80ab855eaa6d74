/* img-ramify: make a guest able to boot with its whole root in RAM, so
 * that its disk can be detached and the VM moved freely.  Offline: a
 * ramboot initrd (the guest's own initrd plus an appended layer with our
 * boot logic and static helper) and a GRUB entry that boots it; the
 * disk's own boot entries and files stay as they were, so the disk still
 * boots normally.
 *
 * Edits (edits.h: dry run with diffs, undo record, rollback, idempotent):
 *   ramboot-initrd   INITRD.ramboot next to the kernel's initrd: for
 *                    initramfs-tools a boot=ramboot script, for dracut a
 *                    pre-pivot hook run with rd.ramboot
 *   grub-entry       the RAM entry: GRUB 2 (live grub.cfg and 40_custom),
 *                    BLS (an entry file), GRUB legacy (a title block)
 *   detach-helper    img-ramify-detach in the guest (--detach-helper)
 *   root-archive     --archive: the tree as /boot/ramboot-root.tar.zst,
 *                    unpacked at boot instead of copied file by file
 */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "img-quote.h"
#include "img-edit.h"
#include "rootarchive.h"
#include "tool.h"
#include "convert/bootentry.h"
#include "base/hostdir.h"

#define PROG "img-ramify"
#define MARKER "img-ramify RAM boot entry"
#define ENTRY_ID "img-ramify-ramboot"
#define MAX_INITRD (1024u << 20)
#define MiB ((uint64_t) 1024 * 1024)

struct opts {
  bool force, make_default, detach_helper;
  const char *kernel, *copy, *vm;
  const char *archive;          /* "zstd", "gzip" or NULL */
  uint64_t headroom, margin;
};

struct ram {
  struct img_ctx *ctx;
  struct img_plan *plan;
  struct img_guest *g;
  struct img_inspection *insp;
  const struct opts *o;
  const char *image;
  char *kver, *vmlinuz, *initrd, *ram_initrd;
  char *entry_kernel, *entry_initrd, *ram_entry_initrd, *boot_uuid, *args, *title;
  char *legacy_root;            /* GRUB legacy "root (hdN,M)" of the base entry */
  bool dracut;                  /* else initramfs-tools */
  const char *boot_arg;         /* what selects our boot logic */
  char *archive_path;           /* --archive: where it goes in the guest */
  char *archive_dir;
  int64_t archive_dir_mtime;
  uint32_t archive_dir_mtime_ns;
  struct sb conf, fstab, lvmlocal;
  char **copy;                  /* mount points copied besides / */
  size_t n_copy;
  uint64_t bytes;               /* what the copy takes in a tmpfs */
  uint64_t recommended;         /* VM memory to give */
  const char *datadir, *ramcopy;
  /* Our boot entry, quoted and written out for each boot loader. */
  char *grub2_block, *legacy_block, *bls_text;
};

/* ---- where our files are --------------------------------------------- */

/* The data directory and the static helper: IMG_TOOLS_DATADIR and
 * IMG_RAMCOPY if set, else beside an uninstalled build, else installed. */
static void
find_files (struct ram *r)
{
  static char data[PATH_MAX + 32], helper[PATH_MAX + 32];
  char exe[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  char *slash;

  r->datadir = getenv ("IMG_TOOLS_DATADIR");
  r->ramcopy = getenv ("IMG_RAMCOPY");
  if (n > 0) {
    exe[n] = '\0';
    slash = strrchr (exe, '/');
    if (slash)
      *slash = '\0';
    snprintf (data, sizeof data, "%s/../data", exe);
    snprintf (helper, sizeof helper, "%s/ramboot/img-ramcopy", exe);
    if (r->datadir == NULL && access (data, R_OK) == 0
        && access (helper, X_OK) == 0)
      r->datadir = data;
    if (r->ramcopy == NULL && access (helper, X_OK) == 0)
      r->ramcopy = helper;
  }
  if (r->datadir == NULL)
    r->datadir = PKGDATADIR "/data";
  if (r->ramcopy == NULL)
    r->ramcopy = PKGLIBEXECDIR "/img-ramcopy";
}

/* ---- sizing ------------------------------------------------------------ */

struct sizing {
  struct ram *r;
  uint64_t bytes;
  struct { uint64_t dev_ino; } *hard;
  size_t n_hard;
};

static const struct img_guest_mount *
mount_of (struct img_guest *g, const char *path)
{
  const struct img_guest_mount *best = NULL;
  size_t i, bl = 0;

  for (i = 0; i < img_guest_n_mounts (g); i++) {
    const struct img_guest_mount *m = img_guest_mount (g, i);
    size_t l = strlen (m->mountpoint);
    if (m->mountpoint[0] != '/' || !m->mounted)
      continue;
    if (strcmp (m->mountpoint, "/") == 0)
      l = 0;
    else if (strncmp (path, m->mountpoint, l) != 0 || (path[l] != '/' && path[l] != '\0'))
      continue;
    if (best == NULL || l >= bl) {
      best = m;
      bl = l;
    }
  }
  return best;
}

static bool
copied (const struct ram *r, const char *mountpoint)
{
  size_t i;

  if (strcmp (mountpoint, "/") == 0)
    return true;
  for (i = 0; i < r->n_copy; i++)
    if (strcmp (r->copy[i], mountpoint) == 0)
      return true;
  return false;
}

static int
size_fn (struct img_guest *g, const char *path, const struct img_stat *st, void *data)
{
  struct sizing *s = data;
  const struct img_guest_mount *m = mount_of (g, path);

  if (m == NULL || !copied (s->r, m->mountpoint))
    return 0;
  if (!S_ISDIR (st->mode) && st->nlink > 1) {
    void *n = realloc (s->hard, (s->n_hard + 1) * sizeof *s->hard);
    if (n == NULL)
      return -ENOMEM;
    s->hard = n;
    /* Mount index in the top bits: inode numbers repeat across filesystems. */
    s->hard[s->n_hard++].dev_ino = ((uint64_t) (m - img_guest_mount (g, 0)) << 56) ^ st->ino;
  }
  /* tmpfs takes whole pages for data; directories and links a little. */
  if (S_ISREG (st->mode))
    s->bytes += st->blocks * 512;
  else
    s->bytes += 4096;
  return 0;
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return x < y ? -1 : x > y;
}

static int
measure (struct ram *r)
{
  struct sizing s = { r, 0, NULL, 0 };
  size_t i;
  int rc;

  rc = img_guest_walk (r->g, "/", size_fn, &s);
  if (rc < 0) {
    free (s.hard);
    return rc;
  }
  /* A hard-linked file counted once per name; take the extra names off
   * roughly (their blocks are unknown here, so a page each). */
  if (s.n_hard > 1) {
    qsort (s.hard, s.n_hard, sizeof *s.hard, cmp_u64);
    for (i = 1; i < s.n_hard; i++)
      if (s.hard[i].dev_ino == s.hard[i - 1].dev_ino && s.bytes >= 4096)
        s.bytes -= 4096;
  }
  free (s.hard);
  r->bytes = s.bytes;
  /* Memory for the VM: the copy, the tmpfs headroom, what the system
   * needs besides, and 256 MiB for the kernel and the initramfs. */
  r->recommended = r->bytes + r->o->headroom + r->o->margin + 256 * MiB;
  r->recommended = (r->recommended + 64 * MiB - 1) / (64 * MiB) * (64 * MiB);
  return 0;
}

/* ---- what the layer says ------------------------------------------------ */

static bool
is_on_disk (const struct img_guest_mount *m)
{
  return m->device != NULL;
}

/* Which filesystems to copy: --copy, else every filesystem the guest mounts
 * from its disk(s) besides / (an OS spread over /boot, /usr, /var ...). */
static int
choose_copy (struct ram *r)
{
  size_t i;

  if (r->o->copy) {
    char *list = tool_strdup (r->o->copy), *tok, *save;
    for (tok = strtok_r (list, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
      bool found = false;
      if (strcmp (tok, "/") == 0 || *tok == '\0')
        continue;
      for (i = 0; i < img_guest_n_mounts (r->g); i++) {
        const struct img_guest_mount *m = img_guest_mount (r->g, i);
        if (strcmp (m->mountpoint, tok) == 0 && is_on_disk (m) && m->mounted)
          found = true;
      }
      if (!found) {
        img_ctx_set_error (r->ctx, -EINVAL, "%s: --copy %s: not a filesystem the guest mounts from its disk",
                           r->image, tok);
        free (list);
        return -EINVAL;
      }
      r->copy = realloc (r->copy, (r->n_copy + 1) * sizeof *r->copy);
      r->copy[r->n_copy++] = tool_strdup (tok);
    }
    free (list);
    return 0;
  }
  for (i = 0; i < img_guest_n_mounts (r->g); i++) {
    const struct img_guest_mount *m = img_guest_mount (r->g, i);
    if (m->mountpoint[0] != '/' || strcmp (m->mountpoint, "/") == 0 || !is_on_disk (m))
      continue;
    if (!m->mounted)
      return img_ctx_set_error (r->ctx, -ENOTSUP, "%s: %s (%s) cannot be read here (%s); "
                                "name the filesystems to copy with --copy", r->image,
                                m->mountpoint, m->vfstype ? m->vfstype : "?",
                                m->why_not ? m->why_not : "not mounted");
    r->copy = realloc (r->copy, (r->n_copy + 1) * sizeof *r->copy);
    r->copy[r->n_copy++] = tool_strdup (m->mountpoint);
  }
  return 0;
}

/* The RAM copy's fstab: / on the tmpfs, the disk's filesystems and swap
 * commented out, everything else (network, tmpfs) kept. */
static int
ram_fstab (struct ram *r)
{
  void *buf;
  size_t len, i, n;
  struct img_fstab_entry *ents;
  const char *p, *end;
  unsigned lineno = 0;
  int rc;

  rc = img_plan_read_file (r->plan, "/etc/fstab", 1u << 20, &buf, &len);
  if (rc < 0)
    return rc;
  rc = img_fstab_parse (r->ctx, buf, len, &ents, &n);
  if (rc < 0) {
    free (buf);
    return rc;
  }
  sb_adds (&r->fstab, "# The RAM copy's fstab, written at boot by img-ramify's ramboot:\n"
           "# the root is a tmpfs; filesystems and swap on the disk are not used.\n");
  for (p = buf, end = (char *) buf + len; p < end;) {
    const char *nl = memchr (p, '\n', end - p);
    size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
    const struct img_fstab_entry *e = NULL;
    lineno++;
    for (i = 0; i < n; i++)
      if (ents[i].line == lineno)
        e = &ents[i];
    if (e && strcmp (e->file, "/") == 0)
      sb_adds (&r->fstab, "ramroot / tmpfs defaults 0 0\n");
    else if (e) {
      bool disk = false;
      size_t k;
      for (k = 0; k < img_guest_n_mounts (r->g); k++) {
        const struct img_guest_mount *m = img_guest_mount (r->g, k);
        if (m->fstab_line == lineno && is_on_disk (m))
          disk = true;
      }
      if (disk) {
        sb_adds (&r->fstab, "# on the disk: ");
        sb_add (&r->fstab, p, l);
        sb_adds (&r->fstab, "\n");
      } else {
        sb_add (&r->fstab, p, l);
        sb_adds (&r->fstab, "\n");
      }
    } else {
      sb_add (&r->fstab, p, l);
      sb_adds (&r->fstab, "\n");
    }
    p += l + (nl != NULL);
  }
  img_fstab_free (ents, n);
  free (buf);
  return r->fstab.oom ? -ENOMEM : 0;
}

/* One field of a list the boot script splits at blanks and ':' and leaves
 * unquoted (so globbed): plain characters only. */
static int
script_word (struct ram *r, const char *what, const char *v)
{
  const char *p;

  for (p = v; *p; p++)
    if (!isalnum ((unsigned char) *p) && !strchr ("-_./=+,@%", *p)) {
      char *t = img_quote_term (v, 0);
      int rc = img_ctx_set_error (r->ctx, -EINVAL, "%s: ramboot: %s %s: only A-Z a-z 0-9 - _ . / = + , @ %% "
                                  "can go into the boot script's lists", r->image, what, t ? t : "");
      free (t);
      return rc;
    }
  return *v ? 0 : img_ctx_set_error (r->ctx, -EINVAL, "%s: ramboot: an empty %s", r->image, what);
}

/* KEY=VALUE for the boot script's configuration, VALUE through
 * img_quote_sh. */
static void
conf_set (struct sb *conf, const char *key, const char *value)
{
  char *q = NULL;

  if (img_quote_sh (value, &q, NULL) < 0)
    conf->oom = true;
  else
    sb_addf (conf, "%s=%s\n", key, q);
  free (q);
}

static int
ram_conf (struct ram *r)
{
  size_t i, k;
  const struct img_lvm *lvm = img_guest_lvm (r->g);
  const struct img_guest_mount *root = mount_of (r->g, "/");
  struct sb list = { 0 };
  int rc = 0;

  sb_adds (&r->conf, "# img-ramify ramboot configuration\n");
  for (i = 0; i < r->n_copy && rc == 0; i++)
    for (k = 0; k < img_guest_n_mounts (r->g); k++) {
      const struct img_guest_mount *m = img_guest_mount (r->g, k);
      const char *type = m->vfstype ? m->vfstype : "auto";
      if (strcmp (m->mountpoint, r->copy[i]) == 0 && m->spec) {
        if ((rc = script_word (r, "mount point", m->mountpoint)) < 0
            || (rc = script_word (r, "device name", m->spec)) < 0
            || (rc = script_word (r, "filesystem type", type)) < 0)
          break;
        if (strchr (m->spec, ':') || strchr (m->mountpoint, ':') || strchr (type, ':')) {
          rc = img_ctx_set_error (r->ctx, -EINVAL, "%s: ramboot: %s: a ':' in the device, mount point or "
                                  "type, which the boot script's list splits at", r->image, m->mountpoint);
          break;
        }
        sb_addf (&list, "%s%s:%s:%s", i ? " " : "", m->mountpoint, m->spec, type);
        break;
      }
    }
  if (rc < 0) {
    sb_free (&list);
    return rc;
  }
  conf_set (&r->conf, "RAMBOOT_MOUNTS", list.s ? list.s : "");
  sb_free (&list);
  sb_addf (&r->conf, "RAMBOOT_HEADROOM_KB=%" PRIu64 "\nRAMBOOT_MARGIN_KB=%" PRIu64 "\n",
           r->o->headroom / 1024, r->o->margin / 1024);
  conf_set (&r->conf, "RAMBOOT_ARCHIVE", r->archive_path ? r->archive_path : "");
  /* Volume groups to deactivate once the disk is let go: the root's. */
  if (lvm && root && root->device && strchr (root->device, '/') && !strchr (root->device, ':')) {
    const char *slash = strchr (root->device, '/');
    char *vg = strndup (root->device, (size_t) (slash - root->device));
    if (vg == NULL)
      return -ENOMEM;
    if ((rc = script_word (r, "volume group", vg)) < 0) {
      free (vg);
      return rc;
    }
    conf_set (&r->conf, "RAMBOOT_VGS", vg);
    free (vg);
    /* And no LVM autoactivation in the RAM copy, which would take the
     * disk again when udev sees it. */
    sb_adds (&r->lvmlocal, "# img-ramify: the RAM copy leaves the disk's volume groups alone\n"
             "global {\n\tevent_activation = 0\n}\nactivation {\n\tauto_activation_volume_list = []\n}\n");
  } else
    conf_set (&r->conf, "RAMBOOT_VGS", "");
  return r->conf.oom ? -ENOMEM : 0;
}

/* ---- edit: ramboot-initrd ---------------------------------------------- */

static int
edit_ramboot_initrd (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  void *orig = NULL, *out = NULL, *layer = NULL;
  size_t orig_len, out_len, layer_len;
  struct img_initrd *ird = NULL;
  struct img_cpio *cpio = NULL;
  char *script = NULL, *helper = NULL, *p;
  size_t script_len, helper_len;
  const char *comp, *hookdir = NULL;
  uint32_t mode = 0600;
  uint64_t t = (uint64_t) time (NULL);
  int rc;

  if ((rc = img_plan_read_file (plan, r->initrd, MAX_INITRD, &orig, &orig_len)) < 0)
    return rc;
  {
    /* The layer's times are the original initrd's, so the same guest
     * always gets the same bytes (and a second run has nothing to do). */
    struct img_stat st;
    if (img_guest_stat (r->g, r->initrd, &st) == 0 && st.mtime > 0 && st.mtime < UINT32_MAX)
      t = (uint64_t) st.mtime;
    else
      t = 0;
    /* And its permissions: dracut's are 0600 (an initrd can hold keys). */
    if (img_guest_stat (r->g, r->initrd, &st) == 0)
      mode = st.mode & 0777;
  }
  p = tool_asprintf ("%s: %s", r->image, r->initrd);
  rc = img_initrd_parse (r->ctx, p, orig, orig_len, 4ull << 30, &ird);
  free (p);
  if (rc < 0)
    goto out;
  if (r->dracut) {
    /* Where this dracut sources its hooks: /lib/dracut/hooks (lib a
     * link to usr/lib in merged-/usr initrds), or the top-level hook
     * directories of old dracut (RHEL 6). */
    if (img_initrd_lookup (ird, "usr/lib/dracut/hooks/pre-pivot"))
      hookdir = "usr/lib/dracut/hooks/pre-pivot";
    else if (img_initrd_lookup (ird, "lib/dracut/hooks/pre-pivot"))
      hookdir = "lib/dracut/hooks/pre-pivot";
    else if (img_initrd_lookup (ird, "pre-pivot"))
      hookdir = "pre-pivot";
    else {
      rc = img_ctx_set_error (r->ctx, -ENOTSUP, "%s: %s: a dracut initrd without a pre-pivot hook "
                              "directory", r->image, r->initrd);
      goto out;
    }
  } else if (!img_initrd_lookup (ird, "scripts/local") || !img_initrd_lookup (ird, "scripts/functions")) {
    rc = img_ctx_set_error (r->ctx, -ENOTSUP, "%s: %s is not an initramfs-tools initrd "
                            "(no scripts/local)", r->image, r->initrd);
    goto out;
  }
  p = r->dracut ? tool_asprintf ("%s/ramboot/dracut/90-img-ramify.sh", r->datadir)
    : tool_asprintf ("%s/ramboot/initramfs-tools/ramboot", r->datadir);
  rc = host_read_file (r->ctx, p, 1u << 20, &script, &script_len);
  free (p);
  if (rc < 0)
    goto out;
  if ((rc = host_read_file (r->ctx, r->ramcopy, 64u << 20, &helper, &helper_len)) < 0)
    goto out;
  if ((rc = img_cpio_new (r->ctx, &cpio)) < 0)
    goto out;
  if (r->dracut) {
    p = tool_asprintf ("%s/90-img-ramify.sh", hookdir);
    rc = img_cpio_add (cpio, p, S_IFREG | 0755, 0, 0, t, 0, 0, script, script_len);
    free (p);
    if (rc < 0
        || (rc = img_cpio_add (cpio, "ramboot", S_IFDIR | 0755, 0, 0, t, 0, 0, NULL, 0)) < 0
        || (rc = img_cpio_add (cpio, "ramboot/ramboot.conf", S_IFREG | 0644, 0, 0, t, 0, 0,
                               r->conf.s, r->conf.len)) < 0
        || (rc = img_cpio_add (cpio, "ramboot/fstab", S_IFREG | 0644, 0, 0, t, 0, 0, r->fstab.s, r->fstab.len)) < 0)
      goto out;
  } else if ((rc = img_cpio_add (cpio, "scripts", S_IFDIR | 0755, 0, 0, t, 0, 0, NULL, 0)) < 0
      || (rc = img_cpio_add (cpio, "scripts/ramboot", S_IFREG | 0644, 0, 0, t, 0, 0, script, script_len)) < 0
      || (rc = img_cpio_add (cpio, "conf", S_IFDIR | 0755, 0, 0, t, 0, 0, NULL, 0)) < 0
      || (rc = img_cpio_add (cpio, "conf/ramboot.conf", S_IFREG | 0644, 0, 0, t, 0, 0, r->conf.s, r->conf.len)) < 0
      || (rc = img_cpio_add (cpio, "ramboot", S_IFDIR | 0755, 0, 0, t, 0, 0, NULL, 0)) < 0
      || (rc = img_cpio_add (cpio, "ramboot/fstab", S_IFREG | 0644, 0, 0, t, 0, 0, r->fstab.s, r->fstab.len)) < 0)
    goto out;
  if (r->lvmlocal.len
      && (rc = img_cpio_add (cpio, "ramboot/lvmlocal.conf", S_IFREG | 0644, 0, 0, t, 0, 0,
                             r->lvmlocal.s, r->lvmlocal.len)) < 0)
    goto out;
  /* bin/ is usually a link to usr/bin in merged-/usr initrds: use its
   * real place. */
  {
    const struct img_cpio_entry *bin = img_initrd_lookup (ird, "bin");
    const char *dir = bin && S_ISLNK (bin->mode) ? "usr/bin" : "bin";
    p = tool_asprintf ("%s/img-ramcopy", dir);
    rc = img_cpio_add (cpio, p, S_IFREG | 0755, 0, 0, t, 0, 0, helper, helper_len);
    free (p);
    if (rc < 0)
      goto out;
  }
  if ((rc = img_cpio_finish (cpio, &layer, &layer_len)) < 0)
    goto out;
  {
    const struct img_initrd_segment *last = img_initrd_segment (ird, img_initrd_n_segments (ird) - 1);
    comp = last ? last->compression : "none";
  }
  if ((rc = img_initrd_append (r->ctx, orig, orig_len, layer, layer_len, comp, &out, &out_len)) < 0)
    goto out;
  rc = img_plan_write_file (plan, r->ram_initrd, out, out_len, mode);
 out:
  img_cpio_free (cpio);
  img_initrd_free (ird);
  free (orig);
  free (out);
  free (layer);
  free (script);
  free (helper);
  return rc;
}

/* ---- the boot entry ------------------------------------------------------- */

/* Our entry for each boot loader, built (every value checked and quoted)
 * before anything is changed. */
static int
build_entry (struct ram *r)
{
  const char *initrds[] = { r->ram_entry_initrd };
  char *args = tool_asprintf ("%s %s", r->args, r->boot_arg);
  char *echo = tool_asprintf ("Loading Linux %s with its root in RAM ...", r->kver);
  struct img_bootentry e = {
    .id = ENTRY_ID, .title = r->title, .kernel = r->entry_kernel, .initrds = initrds,
    .n_initrds = 1, .args = args, .marker = MARKER, .root_uuid = r->boot_uuid,
    .legacy_root = r->legacy_root, .echo = echo, .version = r->kver,
    .comment = MARKER ": the root is copied into RAM at boot",
  };
  int rc;

  if ((rc = img_bootentry_text (r->ctx, r->image, IMG_BOOT_GRUB2, &e, &r->grub2_block)) == 0
      && (rc = img_bootentry_text (r->ctx, r->image, IMG_BOOT_GRUB_LEGACY, &e, &r->legacy_block)) == 0)
    rc = img_bootentry_text (r->ctx, r->image, IMG_BOOT_BLS, &e, &r->bls_text);
  free (args);
  free (echo);
  return rc;
}

/* BLS: an entry file of our own beside the others, which GRUB's blscfg
 * (and the distribution's kernel-install) leave alone; --default sets
 * saved_entry in the grubenv next to grub.cfg. */
static int
edit_bls (struct ram *r, const char *entry_path)
{
  char *dir = tool_strdup (entry_path), *path, *slash = strrchr (dir, '/');
  size_t i;
  int rc;

  if (slash)
    *slash = '\0';
  path = tool_asprintf ("%s/%s.conf", dir, ENTRY_ID);
  rc = img_plan_write_file (r->plan, path, r->bls_text, strlen (r->bls_text), 0644);
  free (path);
  free (dir);
  for (i = 0; i < r->insp->n_bootcfgs && rc == 0 && r->o->make_default; i++)
    if (r->insp->bootcfgs[i].kind == IMG_BOOT_GRUB2) {
      char *env = tool_strdup (r->insp->bootcfgs[i].path), *sl = strrchr (env, '/');
      char *envpath, *where, *old = NULL, *text = NULL;
      size_t len = 0, tlen;
      if (sl)
        *sl = '\0';
      envpath = tool_asprintf ("%s/grubenv", env);
      where = tool_asprintf ("%s: %s", r->image, envpath);
      if (img_plan_exists (r->plan, envpath))
        rc = img_plan_read_file (r->plan, envpath, 1u << 20, (void **) &old, &len);
      if (rc == 0)
        rc = img_bootentry_grubenv_set (r->ctx, where, old, len, "saved_entry", ENTRY_ID, &text, &tlen);
      if (rc == 0)
        rc = img_plan_write_file (r->plan, envpath, text, tlen, 0644);
      free (text);
      free (old);
      free (where);
      free (envpath);
      free (env);
    }
  return rc;
}

/* /etc/default/grub: GRUB_DEFAULT names our entry (--default). */
static int
edit_default_grub (struct ram *r)
{
  const char *path = "/etc/default/grub";
  char *text, *out;
  size_t len;
  int rc;

  if (!img_plan_exists (r->plan, path))
    return 0;
  if ((rc = img_plan_read_file (r->plan, path, 1u << 20, (void **) &text, &len)) < 0)
    return rc;
  rc = img_bootentry_default_grub (text, len, ENTRY_ID, &out, NULL);
  if (rc == 0)
    rc = img_plan_write_file (r->plan, path, out, strlen (out), 0644);
  free (out);
  free (text);
  return rc;
}

/* The RAM entry: a BLS file where grub.cfg runs blscfg; else a block at the
 * end of each GRUB 2 grub.cfg (and in 40_custom, so update-grub keeps it);
 * else a title block at the end of GRUB legacy's menu, after Debian's
 * AUTOMAGIC list, with the base entry's root (legacy GRUB has no search by
 * UUID). */
static int
edit_grub_entry (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  const char *def = r->o->make_default ? ENTRY_ID : NULL;
  size_t i, n = 0;
  int rc = 0;

  for (i = 0; i < r->insp->n_bootcfgs; i++)
    if (r->insp->bootcfgs[i].kind == IMG_BOOT_BLS && r->insp->bootcfgs[i].n_entries)
      return edit_bls (r, r->insp->bootcfgs[i].path);
  for (i = 0; i < r->insp->n_bootcfgs && rc == 0; i++)
    if (r->insp->bootcfgs[i].kind == IMG_BOOT_GRUB2) {
      rc = img_bootentry_edit_file (plan, r->insp->bootcfgs[i].path, IMG_BOOT_GRUB2, MARKER,
                                    r->grub2_block, IMG_BOOTENTRY_REPLACE, def, NULL, 0644);
      n++;
    }
  if (n && rc == 0 && img_plan_exists (plan, "/etc/grub.d"))
    rc = img_bootentry_edit_file (plan, "/etc/grub.d/40_custom", IMG_BOOT_GRUB2, MARKER, r->grub2_block,
                                  IMG_BOOTENTRY_REPLACE, NULL, IMG_BOOTENTRY_GRUBD_HEAD, 0755);
  if (n && rc == 0 && def)
    rc = edit_default_grub (r);
  if (n)
    return rc;
  /* GRUB legacy; menu.lst and grub.conf are often one file (edited once:
   * the second time changes nothing). */
  for (i = 0; i < r->insp->n_bootcfgs && rc == 0; i++)
    if (r->insp->bootcfgs[i].kind == IMG_BOOT_GRUB_LEGACY) {
      rc = img_bootentry_edit_file (plan, r->insp->bootcfgs[i].path, IMG_BOOT_GRUB_LEGACY, MARKER,
                                    r->legacy_block, IMG_BOOTENTRY_LAST, def, NULL, 0600);
      n++;
    }
  if (rc == 0 && n == 0)
    return img_ctx_set_error (r->ctx, -ENOTSUP, "%s: no GRUB configuration (GRUB 2, BLS or GRUB "
                              "legacy; extlinux guests are not handled)", r->image);
  return rc;
}

/* ---- edit: detach-helper ----------------------------------------------------- */

static int
edit_detach_helper (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  char *p = tool_asprintf ("%s/ramboot/img-ramify-detach", r->datadir), *text;
  size_t len;
  int rc;

  rc = host_read_file (r->ctx, p, 1u << 20, &text, &len);
  free (p);
  if (rc < 0)
    return rc;
  rc = img_plan_mkdir_p (plan, "/usr/local/sbin", 0755);
  if (rc == 0)
    rc = img_plan_write_file (plan, "/usr/local/sbin/img-ramify-detach", text, len, 0755);
  free (text);
  return rc;
}

/* ---- edit: root-archive ------------------------------------------------------ */

#define ARCHIVE_BASE "ramboot-root.tar"

/* The mtime the archive's directory would have without the archive: the
 * newest of its other entries (writing the archive moves the real one,
 * and the next run must produce the same bytes). */
static void
archive_dir_mtime (struct ram *r)
{
  char *dir = tool_strdup (r->archive_path), *slash = strrchr (dir, '/');
  struct img_dirent *ents = NULL;
  size_t n = 0, i;

  *slash = '\0';
  r->archive_dir = tool_strdup (*dir ? dir : "/");
  r->archive_dir_mtime = 0;
  r->archive_dir_mtime_ns = 0;
  if (img_guest_readdir (r->g, r->archive_dir, &ents, &n) == 0)
    for (i = 0; i < n; i++) {
      struct img_stat st;
      char *p = tool_asprintf ("%s/%s", *dir ? dir : "", ents[i].name);
      if (strcmp (p, r->archive_path) != 0 && img_guest_lstat (r->g, p, &st) == 0
          && (st.mtime > r->archive_dir_mtime
              || (st.mtime == r->archive_dir_mtime && st.mtime_ns > r->archive_dir_mtime_ns))) {
        r->archive_dir_mtime = st.mtime;
        r->archive_dir_mtime_ns = st.mtime_ns;
      }
      free (p);
    }
  img_dirents_free (ents, n);
  free (dir);
}

static int
archive_filter (const char *path, struct img_stat *st, uint64_t *key, void *data)
{
  struct ram *r = data;
  const struct img_guest_mount *m = mount_of (r->g, path);

  if (m == NULL || (r->archive_path && strcmp (path, r->archive_path) == 0))
    return 0;
  if (strcmp (path, r->archive_dir) == 0) {
    st->mtime = r->archive_dir_mtime;
    st->mtime_ns = r->archive_dir_mtime_ns;
  }
  if (!copied (r, m->mountpoint))
    /* Another filesystem, not copied: its mount point only. */
    return strcmp (path, m->mountpoint) == 0;
  *key = ((uint64_t) (m - img_guest_mount (r->g, 0)) << 56) ^ st->ino;
  return 1;
}

static bool
same_contents (struct ram *r, const unsigned char *buf, uint64_t len)
{
  struct img_stat st;
  unsigned char *chunk;
  uint64_t off = 0;
  bool same;

  if (img_guest_stat (r->g, r->archive_path, &st) < 0 || st.size != len)
    return false;
  chunk = malloc (1u << 20);
  same = chunk != NULL;
  while (same && off < len) {
    size_t got = 0;
    if (img_guest_pread (r->g, r->archive_path, chunk, 1u << 20, off, &got) < 0 || got == 0
        || memcmp (chunk, buf + off, got) != 0)
      same = false;
    off += got;
  }
  free (chunk);
  return same;
}

static int
edit_root_archive (struct img_plan *plan, void *data)
{
  struct ram *r = data;
  struct root_archive_info info = { 0 };
  struct img_hostdir *hd = NULL;
  char *where;
  void *map = MAP_FAILED;
  int fd, rc;

  if (r->archive_path == NULL) {
    /* Copy mode: an archive of an earlier --archive run is stale. */
    static const char *const old[] = { "/boot/" ARCHIVE_BASE ".zst", "/boot/" ARCHIVE_BASE ".gz",
                                       "/" ARCHIVE_BASE ".zst", "/" ARCHIVE_BASE ".gz" };
    size_t i;
    for (i = 0, rc = 0; i < sizeof old / sizeof old[0] && rc == 0; i++)
      if (img_plan_exists (plan, old[i]))
        rc = img_plan_remove (plan, old[i]);
    return rc;
  }
  /* The archive is built in an unnamed file of a private directory: a
   * dry run too writes nothing else on the host. */
  where = tool_asprintf ("%s: archive", r->image);
  if ((rc = img_hostdir_new (r->ctx, "img-ramify", &hd)) < 0
      || (fd = rc = img_hostdir_tmpfile (hd, where)) < 0) {
    free (where);
    img_hostdir_free (hd);
    return rc;
  }
  free (where);
  where = tool_asprintf ("%s: %s", r->image, r->archive_path);
  archive_dir_mtime (r);
  rc = root_archive_write (r->ctx, r->g, where, r->o->archive, archive_filter, r,
                           (const char *const *) r->copy, r->n_copy, fd, &info);
  free (where);
  if (rc == 0 && info.archive_bytes) {
    map = mmap (NULL, info.archive_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
      rc = img_ctx_set_error (r->ctx, -errno, "%s: archive: mmap: %s", r->image, strerror (errno));
  }
  if (rc == 0 && !img_plan_is_dry_run (plan)) {
    /* Room for it, where it goes (less what an old one frees). */
    uint64_t total, avail, old = 0;
    struct img_stat ost;
    if (img_guest_stat (r->g, r->archive_path, &ost) == 0)
      old = ost.blocks * 512;
    if (img_guest_space (r->g, r->archive_dir, &total, &avail) == 0
        && avail + old < info.archive_bytes + info.archive_bytes / 64 + MiB)
      rc = img_ctx_set_error (r->ctx, -ENOSPC, "%s: %s: no room for the archive: it takes %" PRIu64
                              " MiB, the filesystem has %" PRIu64 " MiB free; make room there, or "
                              "run without --archive (the RAM boot then copies file by file)",
                              r->image, r->archive_dir, info.archive_bytes / MiB + 1,
                              (avail + old) / MiB);
  }
  /* A changed archive replaces the old one, which goes first: /boot
   * seldom has room for both.  (Should this stop half-way, the RAM boot
   * finds no archive, says so and boots from the disk; the undo record
   * has the old one.) */
  if (rc == 0 && img_plan_exists (plan, r->archive_path) && !same_contents (r, map, info.archive_bytes))
    rc = img_plan_remove (plan, r->archive_path);
  /* Mode 0600: it holds /etc/shadow and every other secret of the root. */
  if (rc == 0)
    rc = img_plan_write_file (plan, r->archive_path, map, info.archive_bytes, 0600);
  if (rc == 0) {
    img_plan_fact (plan, "archive", "%s", r->archive_path);
    img_plan_fact (plan, "archive_bytes", "%" PRIu64, info.archive_bytes);
    img_plan_fact (plan, "archive_members", "%" PRIu64, info.members);
    img_plan_fact (plan, "archive_tmpfs_bytes", "%" PRIu64, info.tmpfs_bytes);
  }
  if (map != MAP_FAILED)
    munmap (map, info.archive_bytes);
  close (fd);
  img_hostdir_free (hd);
  return rc;
}

/* ---- preparing ------------------------------------------------------------ */

static const char *
entry_file (const struct img_boot_entry *e)
{
  const char *b = e->kernel ? strrchr (e->kernel, '/') : NULL;
  return b ? b + 1 : e->kernel;
}

static int
prepare (struct ram *r)
{
  const struct img_kernel_info *k = NULL;
  const struct img_boot_entry *base = NULL;
  const struct img_guest_mount *bm;
  size_t i, j;
  int rc;

  if (r->insp->n_kernels == 0)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: no kernel in /boot", r->image);
  for (i = 0; i < r->insp->n_kernels; i++)
    if (r->o->kernel ? strcmp (r->insp->kernels[i].version, r->o->kernel) == 0 : true) {
      k = &r->insp->kernels[i];
      break;
    }
  if (k == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: no kernel %s in the guest", r->image, r->o->kernel);
  if (k->initrd == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: kernel %s has no initrd", r->image, k->version);
  r->kver = tool_strdup (k->version);
  r->vmlinuz = tool_strdup (k->vmlinuz);
  r->initrd = tool_strdup (k->initrd);
  r->ram_initrd = tool_asprintf ("%s.ramboot", k->initrd);
  if (r->insp->initramfs && strcmp (r->insp->initramfs, "dracut") == 0)
    r->dracut = true;
  else if (!r->insp->initramfs || strcmp (r->insp->initramfs, "initramfs-tools") != 0)
    return img_ctx_set_error (r->ctx, -ENOTSUP, "%s: the guest builds its initrds with %s; "
                              "img-ramify knows initramfs-tools and dracut", r->image,
                              r->insp->initramfs ? r->insp->initramfs : "unknown tooling");
  r->boot_arg = r->dracut ? "rd.ramboot" : "boot=ramboot";

  /* The boot entry to copy: the first non-recovery one for this kernel. */
  for (i = 0; i < r->insp->n_bootcfgs && base == NULL; i++)
    for (j = 0; j < r->insp->bootcfgs[i].n_entries && base == NULL; j++) {
      const struct img_boot_entry *e = &r->insp->bootcfgs[i].entries[j];
      const char *vb = strrchr (r->vmlinuz, '/') + 1;
      if (e->kernel && strcmp (entry_file (e), vb) == 0 && e->args
          && !(e->id && strcmp (e->id, ENTRY_ID) == 0)
          && !strstr (e->args, "boot=ramboot") && !strstr (e->args, "rd.ramboot")
          && !strstr (e->args, "single") && e->kind != IMG_BOOT_EXTLINUX
          && !(e->title && strstr (e->title, "recovery")))
        base = e;
    }
  if (base == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: no boot entry for kernel %s to start from",
                              r->image, r->kver);
  r->args = tool_strdup (base->args);
  {
    const char *kslash = strrchr (base->kernel, '/');
    r->entry_kernel = tool_strdup (base->kernel);
    r->entry_initrd = base->initrd ? tool_strdup (base->initrd) : NULL;
    (void) kslash;
    if (base->kind == IMG_BOOT_GRUB_LEGACY && base->root)
      r->legacy_root = tool_strdup (base->root);
  }
  if (r->entry_initrd == NULL)
    return img_ctx_set_error (r->ctx, -ENOENT, "%s: the boot entry for %s has no initrd", r->image, r->kver);
  r->ram_entry_initrd = tool_asprintf ("%s.ramboot", r->entry_initrd);
  bm = mount_of (r->g, r->vmlinuz);
  r->boot_uuid = bm && bm->fs_uuid ? tool_strdup (bm->fs_uuid) : NULL;
  {
    /* The title is ours: the guest's OS name in printable ASCII only. */
    const char *os = r->insp->os_pretty_name ? r->insp->os_pretty_name : "Linux";
    struct sb t = { 0 };
    for (i = 0; os[i] && i < 80; i++)
      sb_add (&t, (unsigned char) os[i] >= 0x20 && (unsigned char) os[i] < 0x7f ? os + i : "?", 1);
    sb_addf (&t, ", root in RAM, Linux %s", r->kver);
    r->title = t.s;
  }
  if ((rc = build_entry (r)) < 0)
    return rc;
  if (r->o->archive) {
    struct img_stat st;
    bool boot = img_guest_stat (r->g, "/boot", &st) == 0 && S_ISDIR (st.mode);
    r->archive_path = tool_asprintf ("%s/" ARCHIVE_BASE ".%s", boot ? "/boot" : "",
                                 strcmp (r->o->archive, "gzip") == 0 ? "gz" : "zst");
  }
  if ((rc = choose_copy (r)) < 0 || (rc = measure (r)) < 0
      || (rc = ram_fstab (r)) < 0 || (rc = ram_conf (r)) < 0)
    return rc;
  return 0;
}

/* ---- main ------------------------------------------------------------------ */

static const struct img_edit edits[] = {
  { "ramboot-initrd", "an initrd that boots with the root in RAM, beside the kernel's", edit_ramboot_initrd },
  { "grub-entry", "a GRUB entry for the RAM boot, kept by update-grub", edit_grub_entry },
  { "detach-helper", "img-ramify-detach in the guest, to release the disk after a RAM boot", edit_detach_helper },
  { "root-archive", "the root as one archive in /boot, unpacked at boot (--archive)", edit_root_archive },
};

static void
usage (FILE *fp)
{
  fprintf (fp,
           "usage: img-ramify [OPTION]... IMAGE...\n"
           "       img-ramify --rollback UNDO-FILE [--force] [IMAGE...]\n"
           "Make a guest able to boot with its whole root in RAM, offline.\n\n"
           "  -n, --dry-run        show what would change (with diffs); write nothing\n"
           "      --json           report as JSON\n"
           "      --format FMT     the image's container format (raw, qcow2, vmdk, ...);\n"
           "                       without it, it is guessed from the image's bytes\n"
           "      --allow-backing  follow backing/data files that are local regular files\n"
           "                       (refused otherwise)\n"
           "      --undo FILE      undo record (default: IMAGE" IMG_UNDO_SUFFIX ")\n"
           "      --no-undo        keep no undo record\n"
           "      --rollback FILE  restore the image(s) from an undo record\n"
           "      --kernel VER     the kernel to boot (default: the newest)\n"
           "      --copy LIST      filesystems copied besides / (default: all the guest mounts from its disk)\n"
           "      --memory SIZE    the VM's planned memory: refused if the copy will not fit\n"
           "      --force          only warn when it will not fit; roll back a changed image\n"
           "      --headroom SIZE  free space in the RAM root (default 256M)\n"
           "      --margin SIZE    memory left for the system at boot (default 256M)\n"
           "      --default        make the RAM entry GRUB's default\n"
           "      --detach-helper  install /usr/local/sbin/img-ramify-detach in the guest\n"
           "      --vm NAME        the VM's name in the host-side detach steps\n"
           "      --archive[=zstd|gzip]  keep the root as one archive in /boot, unpacked at boot\n"
           "      --budget=NAME=SIZE  raise or lower a resource budget (IMG_BUDGET_*)\n"
           "  -h, --help\n\n"
           "Exit status: 0 changed, 3 nothing to do, 1 error (image unchanged),\n"
           "4 error and the image could not be restored, 2 usage.\n");
}

int
main (int argc, char **argv)
{
  /* Reports carry names and text from images: every byte printed goes
   * through img_quote_term on its way to the terminal. */
  img_quote_term_stdio ();
  enum { O_KERNEL = TOOL_O_OWN, O_COPY, O_MEMORY, O_HEADROOM, O_MARGIN, O_DEFAULT, O_DETACH, O_VM,
         O_ARCHIVE };
  static const struct option lopts[] = {
    TOOL_LONG_OPTIONS,
    { "kernel", required_argument, NULL, O_KERNEL }, { "copy", required_argument, NULL, O_COPY },
    { "memory", required_argument, NULL, O_MEMORY }, { "headroom", required_argument, NULL, O_HEADROOM },
    { "margin", required_argument, NULL, O_MARGIN }, { "default", no_argument, NULL, O_DEFAULT },
    { "detach-helper", no_argument, NULL, O_DETACH }, { "vm", required_argument, NULL, O_VM },
    { "archive", optional_argument, NULL, O_ARCHIVE },
    { NULL, 0, NULL, 0 },
  };
  struct tool t = { .prog = PROG };
  struct opts o = { .headroom = 256 * MiB, .margin = 256 * MiB };
  struct ram r = { 0 };
  struct img_ctx *ctx;
  struct img_plan *plan = NULL;
  uint64_t memory = 0;
  unsigned flags = 0;
  size_t i;
  int c, rc, code;

  while ((c = getopt_long (argc, argv, "nh", lopts, NULL)) != -1) {
    if ((rc = tool_option (&t, c, optarg)) != 0) {
      if (rc < 0)
        return IMG_EXIT_USAGE;
      continue;
    }
    switch (c) {
    case O_KERNEL: o.kernel = optarg; break;
    case O_COPY: o.copy = optarg; break;
    case O_DEFAULT: o.make_default = true; break;
    case O_DETACH: o.detach_helper = true; break;
    case O_VM: o.vm = optarg; break;
    case O_ARCHIVE:
      if (optarg && strcmp (optarg, "zstd") != 0 && strcmp (optarg, "gzip") != 0) {
        fprintf (stderr, PROG ": --archive=%s: zstd or gzip\n", optarg);
        return IMG_EXIT_USAGE;
      }
      o.archive = optarg ? optarg : "zstd";
      break;
    case O_MEMORY: case O_HEADROOM: case O_MARGIN: {
      uint64_t v;
      if (parse_size (optarg, true, &v) < 0) {
        fprintf (stderr, PROG ": %s: not a size (512M, 2G, or MiB)\n", optarg);
        return IMG_EXIT_USAGE;
      }
      if (c == O_MEMORY)
        memory = v;
      else if (c == O_HEADROOM)
        o.headroom = v;
      else
        o.margin = v;
      break;
    }
    case 'h': usage (stdout); return 0;
    default: usage (stderr); return IMG_EXIT_USAGE;
    }
  }
  o.force = t.force;
  if ((code = tool_start (&t)) != 0)
    return code;
  ctx = t.ctx;
  if (t.rollback) {
    code = tool_rollback (ctx, PROG, t.rollback, (const char *const *) argv + optind,
                          (size_t) (argc - optind), t.force);
    tool_end (&t);
    return code;
  }
  if (optind >= argc) {
    usage (stderr);
    tool_end (&t);
    return IMG_EXIT_USAGE;
  }
  r.ctx = ctx;
  r.o = &o;
  r.image = argv[optind];
  find_files (&r);
  if (t.dry_run)
    flags |= IMG_PLAN_DRY_RUN;
  if (t.no_undo)
    flags |= IMG_PLAN_NO_UNDO;
  if ((rc = tool_plan_open (ctx, PROG, (const char *const *) argv + optind, (size_t) (argc - optind),
                            flags, t.undo, &plan)) < 0) {
    code = tool_fail (ctx, PROG, NULL);
    goto out;
  }
  r.plan = plan;
  r.g = img_plan_guest (plan);
  plan_disk_facts (plan);
  if ((rc = img_guest_inspect (r.g, &r.insp)) < 0 || (rc = prepare (&r)) < 0) {
    code = tool_fail (ctx, PROG, r.image);
    goto out;
  }
  img_plan_fact (plan, "kernel", "%s", r.kver);
  img_plan_fact (plan, "ramboot_initrd", "%s", r.ram_initrd);
  {
    struct sb l = { 0 };
    sb_adds (&l, "/");
    for (i = 0; i < r.n_copy; i++)
      sb_addf (&l, " %s", r.copy[i]);
    img_plan_fact (plan, "copy", "%s", l.s ? l.s : "/");
    sb_free (&l);
  }
  img_plan_fact (plan, "copy_bytes", "%" PRIu64, r.bytes);
  img_plan_fact (plan, "memory_recommended", "%" PRIu64 " MiB", r.recommended / MiB);
  img_plan_fact (plan, "entry", "%s (id %s)%s", r.title, ENTRY_ID, o.make_default ? ", default" : "");
  if (memory) {
    img_plan_fact (plan, "memory_planned", "%" PRIu64 " MiB", memory / MiB);
    if (memory < r.recommended) {
      if (!o.force) {
        fprintf (stderr, PROG ": %s: the copy (%" PRIu64 " MiB) will not fit in %" PRIu64 " MiB of memory "
                 "with %" PRIu64 " MiB of headroom and margins: give the VM %" PRIu64 " MiB (or --force)\n",
                 r.image, r.bytes / MiB, memory / MiB, (o.headroom + o.margin + 256 * MiB) / MiB,
                 r.recommended / MiB);
        code = IMG_EXIT_ERROR;
        goto out;
      }
      fprintf (stderr, PROG ": warning: %s: %" PRIu64 " MiB of memory is below the %" PRIu64
               " MiB recommended; the RAM entry will boot from the disk when it does not fit\n",
               r.image, memory / MiB, r.recommended / MiB);
    }
  }
  {
    /* What the host does once the guest runs from RAM. */
    char *vm = o.vm ? tool_strdup (o.vm) : NULL;
    if (vm == NULL) {
      const char *b = strrchr (r.image, '/');
      char *dot;
      vm = tool_strdup (b ? b + 1 : r.image);
      if ((dot = strrchr (vm, '.')) && dot != vm)
        *dot = '\0';
    }
    img_plan_fact (plan, "detach_guest", "%s", o.detach_helper
                   ? "img-ramify-detach (in the guest, after a RAM boot: releases the disk once nothing uses it)"
                   : "echo 1 > /sys/block/sda/device/delete (in the guest, after a RAM boot; or --detach-helper)");
    img_plan_fact (plan, "detach_proxmox", "qm set %s --delete scsi0   (VMID; the disk's slot as qm config shows it; it becomes unused0)", vm);
    img_plan_fact (plan, "detach_libvirt", "virsh detach-disk %s sda --live --config   (the target as virsh domblklist %s shows it)", vm, vm);
    img_plan_fact (plan, "detach_deckhouse", "kubectl -n NAMESPACE delete virtualmachineblockdeviceattachment ATTACHMENT   "
                   "(hot-plugged disk), or remove the VirtualDisk from spec.blockDeviceRefs of VirtualMachine %s", vm);
    free (vm);
  }
  for (i = 0; i < sizeof edits / sizeof edits[0]; i++)
    if (strcmp (edits[i].name, "detach-helper") != 0 || o.detach_helper)
      img_plan_add (plan, &edits[i], &r);
  rc = img_plan_run (plan);
  tool_report (plan, t.json);
  if (rc < 0 && img_plan_status (plan) != IMG_PLAN_CHANGED && img_plan_status (plan) != IMG_PLAN_NOTHING)
    tool_fail (ctx, PROG, NULL);
  code = tool_exit_code (plan);
 out:
  img_plan_free (plan);
  img_inspection_free (r.insp);
  free (r.kver);
  free (r.vmlinuz);
  free (r.initrd);
  free (r.ram_initrd);
  free (r.entry_kernel);
  free (r.entry_initrd);
  free (r.ram_entry_initrd);
  free (r.boot_uuid);
  free (r.args);
  free (r.title);
  free (r.legacy_root);
  free (r.grub2_block);
  free (r.legacy_block);
  free (r.bls_text);
  free (r.archive_path);
  free (r.archive_dir);
  sb_free (&r.conf);
  sb_free (&r.fstab);
  sb_free (&r.lvmlocal);
  for (i = 0; i < r.n_copy; i++)
    free (r.copy[i]);
  free (r.copy);
  tool_end (&t);
  return code;
}
