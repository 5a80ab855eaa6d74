/* The libguestfs backend: a filesystem mounted in the run's appliance
 * (appliance/appliance.h), behind the same img_fs_ops as the native ones.
 * It is mounted read-only and made writable at its first write, so a run
 * that changes nothing through it changes no byte of the image. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "appliance/appliance.h"
#include "fs/fs-private.h"

/* pread/pwrite per call: well under libguestfs's 4 MiB message limit. */
#define GFS_CHUNK (2u << 20)

struct gfs_fs {
  struct img_fs base;
  struct img_appliance *ap;
  char *device;                 /* in the appliance: "/dev/sda2", "/dev/vg/lv" */
  char *options;                /* "subvol=@" or NULL */
  char *mp;                     /* where it is mounted in the appliance */
  bool rw;                      /* remounted read-write already */
};

#define GFS(fs) ((struct gfs_fs *) (fs))

/* The appliance path of P, or NULL (no memory: recorded). */
static char *
apath (struct img_fs *fs, const struct img_fs_path *p)
{
  struct gfs_fs *g = GFS (fs);
  size_t len = strlen (g->mp) + 2, i, o;
  char *s;

  for (i = 0; i < p->n; i++)
    len += strlen (p->comp[i]) + 1;
  s = malloc (len);
  if (s == NULL) {
    img_err (fs->ctx, -ENOMEM, "%s: out of memory", fs->name);
    return NULL;
  }
  o = (size_t) snprintf (s, len, "%s", g->mp);
  for (i = 0; i < p->n; i++)
    o += (size_t) snprintf (s + o, len - o, "/%s", p->comp[i]);
  if (p->n == 0)
    snprintf (s + o, len - o, "/");
  return s;
}

/* The error of the call that just failed on P. */
static int
fail (struct img_fs *fs, const struct img_fs_path *p, const char *what)
{
  struct gfs_fs *g = GFS (fs);
  const struct img_gfs_api *api = img_internal_appliance_api (g->ap);
  int e = api->last_errno (img_internal_appliance_handle (g->ap));

  if (e > 0)
    return img_internal_fs_errno (fs, p ? p->path : "/", -e);
  return img_internal_appliance_fail (g->ap, what);
}

#define API(fs) img_internal_appliance_api (GFS (fs)->ap)
#define H(fs) img_internal_appliance_handle (GFS (fs)->ap)

static int
writable (struct img_fs *fs)
{
  struct gfs_fs *g = GFS (fs);
  int r;

  if (g->rw)
    return 0;
  r = img_internal_appliance_make_writable (g->ap, g->device, g->options, g->mp);
  if (r == 0)
    g->rw = true;
  return r;
}

static int
gfs_close (struct img_fs *fs)
{
  struct gfs_fs *g = GFS (fs);

  free (g->device);
  free (g->options);
  free (g->mp);
  free (fs->name);
  free (g);
  return 0;
}

static int
gfs_sync (struct img_fs *fs)
{
  if (GFS (fs)->rw && API (fs)->sync (H (fs)) == -1)
    return fail (fs, NULL, "sync");
  return 0;
}

static int
gfs_lstat (struct img_fs *fs, const struct img_fs_path *p, struct img_stat *st)
{
  char *a = apath (fs, p);
  struct guestfs_statns *s;

  if (a == NULL)
    return -ENOMEM;
  s = API (fs)->lstatns (H (fs), a);
  free (a);
  if (s == NULL)
    return fail (fs, p, "lstat");
  memset (st, 0, sizeof *st);
  st->ino = (uint64_t) s->st_ino;
  st->mode = (uint32_t) s->st_mode;
  st->uid = (uint32_t) s->st_uid;
  st->gid = (uint32_t) s->st_gid;
  st->nlink = (uint32_t) s->st_nlink;
  st->size = s->st_size > 0 ? (uint64_t) s->st_size : 0;
  st->blocks = s->st_blocks > 0 ? (uint64_t) s->st_blocks : 0;
  st->rdev_major = major ((dev_t) s->st_rdev);
  st->rdev_minor = minor ((dev_t) s->st_rdev);
  st->atime = s->st_atime_sec;
  st->mtime = s->st_mtime_sec;
  st->ctime = s->st_ctime_sec;
  st->atime_ns = (uint32_t) s->st_atime_nsec;
  st->mtime_ns = (uint32_t) s->st_mtime_nsec;
  st->ctime_ns = (uint32_t) s->st_ctime_nsec;
  API (fs)->free_statns (s);
  return 0;
}

static int
gfs_readlink (struct img_fs *fs, const struct img_fs_path *p, char **target)
{
  char *a = apath (fs, p);

  if (a == NULL)
    return -ENOMEM;
  *target = API (fs)->readlink (H (fs), a);
  free (a);
  if (*target == NULL)
    return fail (fs, p, "readlink");
  return 0;
}

static unsigned char
dtype_of (char ftyp)
{
  switch (ftyp) {
  case 'b': return DT_BLK;
  case 'c': return DT_CHR;
  case 'd': return DT_DIR;
  case 'f': return DT_FIFO;
  case 'l': return DT_LNK;
  case 'r': return DT_REG;
  case 's': return DT_SOCK;
  default: return DT_UNKNOWN;
  }
}

static int
gfs_readdir (struct img_fs *fs, const struct img_fs_path *p,
             struct img_dirent **ents, size_t *n)
{
  char *a = apath (fs, p);
  struct guestfs_dirent_list *l;
  size_t i, k = 0;

  if (a == NULL)
    return -ENOMEM;
  l = API (fs)->readdir (H (fs), a);
  free (a);
  if (l == NULL)
    return fail (fs, p, "readdir");
  *ents = calloc (l->len + 1, sizeof **ents);
  if (*ents == NULL) {
    API (fs)->free_dirent_list (l);
    return img_err (fs->ctx, -ENOMEM, "%s: out of memory", fs->name);
  }
  for (i = 0; i < l->len; i++) {
    const char *nm = l->val[i].name;
    if (strcmp (nm, ".") == 0 || strcmp (nm, "..") == 0)
      continue;
    (*ents)[k].name = strdup (nm);
    if ((*ents)[k].name == NULL) {
      img_dirents_free (*ents, k);
      API (fs)->free_dirent_list (l);
      return img_err (fs->ctx, -ENOMEM, "%s: out of memory", fs->name);
    }
    (*ents)[k].ino = (uint64_t) l->val[i].ino;
    (*ents)[k].type = dtype_of (l->val[i].ftyp);
    k++;
  }
  *n = k;
  API (fs)->free_dirent_list (l);
  return 0;
}

static int
gfs_pread (struct img_fs *fs, const struct img_fs_path *p, void *buf,
           size_t len, uint64_t off, size_t *got)
{
  char *a = apath (fs, p);
  size_t total = 0;

  if (a == NULL)
    return -ENOMEM;
  while (total < len) {
    size_t want = len - total < GFS_CHUNK ? len - total : GFS_CHUNK, n = 0;
    char *data = API (fs)->pread (H (fs), a, (int) want, (int64_t) (off + total), &n);
    if (data == NULL) {
      free (a);
      return fail (fs, p, "pread");
    }
    if (n > want)
      n = want;               /* never trust a reply's length */
    memcpy ((char *) buf + total, data, n);
    free (data);
    total += n;
    if (n < want)
      break;                  /* end of file */
  }
  free (a);
  *got = total;
  return 0;
}

static int
gfs_create (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
            uint32_t uid, uint32_t gid)
{
  char *a;
  int r = writable (fs);

  if (r < 0)
    return r;
  if ((a = apath (fs, p)) == NULL)
    return -ENOMEM;
  if (API (fs)->mknod (H (fs), (int) (S_IFREG | (mode & 07777)), 0, 0, a) == -1
      || API (fs)->lchown (H (fs), (int) uid, (int) gid, a) == -1)
    r = fail (fs, p, "create");
  free (a);
  return r;
}

static int
gfs_pwrite (struct img_fs *fs, const struct img_fs_path *p, const void *buf,
            size_t len, uint64_t off)
{
  char *a;
  size_t done = 0;
  int r = writable (fs);

  if (r < 0)
    return r;
  if ((a = apath (fs, p)) == NULL)
    return -ENOMEM;
  while (done < len) {
    size_t n = len - done < GFS_CHUNK ? len - done : GFS_CHUNK;
    int w = API (fs)->pwrite (H (fs), a, (const char *) buf + done, n,
                              (int64_t) (off + done));
    if (w <= 0) {
      r = w == 0 ? img_internal_fs_errno (fs, p->path, -EIO) : fail (fs, p, "pwrite");
      break;
    }
    done += (size_t) w;
  }
  free (a);
  return r;
}

/* The one-path writing calls: CALL runs with A the appliance path. */
#define ONE_PATH_WRITE(fs, p, what, call)       \
  do {                                          \
    char *a;                                    \
    int r_ = writable (fs);                     \
    if (r_ < 0)                                 \
      return r_;                                \
    if ((a = apath ((fs), (p))) == NULL)        \
      return -ENOMEM;                           \
    if ((call) == -1)                           \
      r_ = fail ((fs), (p), (what));            \
    free (a);                                   \
    return r_;                                  \
  } while (0)

static int
gfs_truncate (struct img_fs *fs, const struct img_fs_path *p, uint64_t size)
{
  ONE_PATH_WRITE (fs, p, "truncate", API (fs)->truncate_size (H (fs), a, (int64_t) size));
}

static int
gfs_mkdir (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t uid, uint32_t gid)
{
  ONE_PATH_WRITE (fs, p, "mkdir",
                  API (fs)->mkdir_mode (H (fs), a, (int) (mode & 07777)) == -1
                  ? -1 : API (fs)->lchown (H (fs), (int) uid, (int) gid, a));
}

static int
gfs_symlink (struct img_fs *fs, const char *target, const struct img_fs_path *p,
             uint32_t uid, uint32_t gid)
{
  ONE_PATH_WRITE (fs, p, "symlink",
                  API (fs)->ln_s (H (fs), target, a) == -1
                  ? -1 : API (fs)->lchown (H (fs), (int) uid, (int) gid, a));
}

static int
gfs_mknod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t maj, uint32_t min, uint32_t uid, uint32_t gid)
{
  ONE_PATH_WRITE (fs, p, "mknod",
                  API (fs)->mknod (H (fs), (int) mode, (int) maj, (int) min, a) == -1
                  ? -1 : API (fs)->lchown (H (fs), (int) uid, (int) gid, a));
}

static int
gfs_unlink (struct img_fs *fs, const struct img_fs_path *p)
{
  ONE_PATH_WRITE (fs, p, "unlink", API (fs)->rm (H (fs), a));
}

static int
gfs_rmdir (struct img_fs *fs, const struct img_fs_path *p)
{
  ONE_PATH_WRITE (fs, p, "rmdir", API (fs)->rmdir (H (fs), a));
}

static int
gfs_chmod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode)
{
  ONE_PATH_WRITE (fs, p, "chmod", API (fs)->chmod (H (fs), (int) (mode & 07777), a));
}

static int
gfs_chown (struct img_fs *fs, const struct img_fs_path *p, uint32_t uid,
           uint32_t gid)
{
  ONE_PATH_WRITE (fs, p, "chown", API (fs)->lchown (H (fs), (int) uid, (int) gid, a));
}

static int
gfs_utimes (struct img_fs *fs, const struct img_fs_path *p, int64_t atime,
            uint32_t atime_ns, int64_t mtime, uint32_t mtime_ns)
{
  ONE_PATH_WRITE (fs, p, "utimes",
                  API (fs)->utimens (H (fs), a, atime, atime_ns, mtime, mtime_ns));
}

/* Two-path calls. */
static int
two_paths (struct img_fs *fs, const struct img_fs_path *oldp,
           const struct img_fs_path *newp, bool link)
{
  char *a, *b;
  int r = writable (fs);

  if (r < 0)
    return r;
  a = apath (fs, oldp);
  b = a ? apath (fs, newp) : NULL;
  if (a && b) {
    int c = link ? API (fs)->ln (H (fs), a, b) : API (fs)->rename (H (fs), a, b);
    if (c == -1)
      r = fail (fs, newp, link ? "link" : "rename");
  } else
    r = -ENOMEM;
  free (a);
  free (b);
  return r;
}

static int
gfs_link (struct img_fs *fs, const struct img_fs_path *oldp,
          const struct img_fs_path *newp)
{
  return two_paths (fs, oldp, newp, true);
}

static int
gfs_rename (struct img_fs *fs, const struct img_fs_path *oldp,
            const struct img_fs_path *newp)
{
  return two_paths (fs, oldp, newp, false);
}

static int
gfs_xattrs (struct img_fs *fs, const struct img_fs_path *p, img_xattr_fn fn,
            void *data)
{
  char *a = apath (fs, p);
  struct guestfs_xattr_list *l;
  size_t i;
  int r = 0;

  if (a == NULL)
    return -ENOMEM;
  l = API (fs)->lgetxattrs (H (fs), a);
  free (a);
  if (l == NULL)
    return fail (fs, p, "getxattrs");
  for (i = 0; i < l->len && r == 0; i++)
    r = fn (l->val[i].attrname, l->val[i].attrval, l->val[i].attrval_len, data);
  API (fs)->free_xattr_list (l);
  return r;
}

static int
gfs_space (struct img_fs *fs, uint64_t *total, uint64_t *avail)
{
  struct gfs_fs *g = GFS (fs);
  struct guestfs_statvfs *s = API (fs)->statvfs (H (fs), g->mp);

  if (s == NULL)
    return fail (fs, NULL, "statvfs");
  *total = (uint64_t) s->blocks * (uint64_t) s->frsize;
  *avail = (uint64_t) s->bavail * (uint64_t) s->frsize;
  API (fs)->free_statvfs (s);
  return 0;
}

/* The bytes the filesystem's files take, hard links once: du(1) in the
 * appliance, one call, where a walk makes a call per directory and per
 * name (img-ramify's sizing of a Debian root on xfs: 97 s of its run).
 * Directories and symbolic links count their own blocks here, not the
 * walk's page each.  -ENOTSUP (no message) when du fails: then the tree
 * is walked, which reports what it finds. */
static int
gfs_usage (struct img_fs *fs, uint64_t *bytes)
{
  int64_t kib = API (fs)->du (H (fs), GFS (fs)->mp);

  if (kib < 0)
    return -ENOTSUP;
  *bytes = (uint64_t) kib * 1024;
  return 0;
}

static const struct img_fs_ops gfs_ops = {
  .close = gfs_close, .sync = gfs_sync, .lstat = gfs_lstat,
  .readlink = gfs_readlink, .readdir = gfs_readdir, .pread = gfs_pread,
  .create = gfs_create, .pwrite = gfs_pwrite, .truncate = gfs_truncate,
  .mkdir = gfs_mkdir, .symlink = gfs_symlink, .mknod = gfs_mknod,
  .link = gfs_link, .unlink = gfs_unlink, .rmdir = gfs_rmdir,
  .rename = gfs_rename, .chmod = gfs_chmod, .chown = gfs_chown,
  .utimes = gfs_utimes, .xattrs = gfs_xattrs, .space = gfs_space,
  .usage = gfs_usage,
};

int
img_internal_gfs_btrfs_subvolumes (struct img_fs *fs,
                                   struct img_subvolume **subs, size_t *n)
{
  struct gfs_fs *g = GFS (fs);
  struct guestfs_btrfssubvolume_list *l;
  size_t i;

  *subs = NULL;
  *n = 0;
  if (fs->ops != &gfs_ops)
    return img_err (fs->ctx, -EINVAL, "%s: not read through the appliance", fs->name);
  l = API (fs)->btrfs_subvolume_list (H (fs), g->mp);
  if (l == NULL)
    return fail (fs, NULL, "listing btrfs subvolumes");
  *subs = calloc (l->len + 1, sizeof **subs);
  if (*subs == NULL) {
    API (fs)->free_btrfssubvolume_list (l);
    return img_err (fs->ctx, -ENOMEM, "%s: out of memory", fs->name);
  }
  for (i = 0; i < l->len; i++) {
    (*subs)[i].id = l->val[i].btrfssubvolume_id;
    (*subs)[i].path = strdup (l->val[i].btrfssubvolume_path);
    if ((*subs)[i].path == NULL) {
      img_subvolumes_free (*subs, i);
      API (fs)->free_btrfssubvolume_list (l);
      *subs = NULL;
      return img_err (fs->ctx, -ENOMEM, "%s: out of memory", fs->name);
    }
  }
  *n = l->len;
  API (fs)->free_btrfssubvolume_list (l);
  return 0;
}

void
img_subvolumes_free (struct img_subvolume *subs, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    free (subs[i].path);
  free (subs);
}

/* The filesystem types this backend names (fs->type is a static string). */
static const char *
static_type (const char *t)
{
  static const char *const known[] = {
    "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs",
    "vfat", "ntfs", "hfsplus", "ufs", "zfs", "nilfs2", "minix",
  };
  size_t i;

  for (i = 0; i < ARRAY_SIZE (known); i++)
    if (strcmp (t, known[i]) == 0)
      return known[i];
  return "guestfs";
}

int
img_internal_gfs_open (struct img_ctx *ctx, struct img_appliance *ap,
                       const char *name, const char *device, const char *type,
                       const char *options, int flags, struct img_fs **fsp)
{
  struct gfs_fs *g;
  int r;

  g = calloc (1, sizeof *g);
  if (g == NULL)
    return img_err (ctx, -ENOMEM, "%s: out of memory", name);
  g->base.ctx = ctx;
  g->base.ops = &gfs_ops;
  g->base.type = static_type (type);
  g->base.writable = (flags & IMG_FS_RDWR) != 0;
  g->ap = ap;
  g->base.name = strdup (name);
  g->device = strdup (device);
  g->options = options && *options ? strdup (options) : NULL;
  if (g->base.name == NULL || g->device == NULL || (options && *options && g->options == NULL)) {
    gfs_close (&g->base);
    return img_err (ctx, -ENOMEM, "%s: out of memory", name);
  }
  r = img_internal_appliance_mount (ap, device, g->options, &g->mp);
  if (r < 0) {
    gfs_close (&g->base);
    return r;
  }
  *fsp = &g->base;
  return 0;
}

int
img_internal_gfs_hive_open (struct img_fs *fs, const char *path)
{
  struct img_fs_path p;
  char *a;
  int r;

  if (fs->ops != &gfs_ops)
    return img_err (fs->ctx, -ENOTSUP, "%s: registry hives are read by the appliance only",
                    fs->name);
  r = img_internal_fs_path_parse (fs, path, &p);
  if (r < 0)
    return r;
  a = apath (fs, &p);
  img_internal_fs_path_free (&p);
  if (a == NULL)
    return -ENOMEM;
  r = img_internal_appliance_hive_open (GFS (fs)->ap, a);
  free (a);
  return r;
}
