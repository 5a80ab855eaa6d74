/* The "dir" backend: a host directory treated as a filesystem root (a
 * chroot, a mounted image, a test tree).  Its content is as hostile as a
 * guest's: every parent directory is opened with openat2() beneath the
 * root with no symlinks allowed, and the last component is only ever used
 * through *at() calls that do not follow it, so nothing escapes the
 * directory, whatever symlinks it holds. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs-private.h"

/* fchmodat2 (Linux 6.6) is the one chmod that refuses to follow a final
 * symlink; its number is the same on every architecture. */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

struct dir_fs {
  struct img_fs base;
  int rootfd;
};

static const uint64_t resolve_flags =
  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

static int
sys_openat2 (int dirfd, const char *path, uint64_t flags, mode_t mode)
{
  struct open_how how = {
    .flags = flags | O_CLOEXEC | O_NOFOLLOW,
    .mode = (flags & O_CREAT) ? mode : 0,
    .resolve = resolve_flags,
  };

  return syscall (SYS_openat2, dirfd, path, &how, sizeof how);
}

static int
dir_errno (struct dir_fs *d, const char *path, int err)
{
  return img_internal_fs_errno (&d->base, path, err);
}

/* Opens the directory holding P's last component.  A symlink anywhere on
 * the way makes openat2 fail with ELOOP (RESOLVE_NO_SYMLINKS), which the
 * fs API reports as a non-directory in the path.  *pfd is d->rootfd for
 * names directly under the root: release it with put_parent(). */
static int
get_parent (struct dir_fs *d, const struct img_fs_path *p, int *pfd)
{
  char rel[IMG_FS_PATH_MAX];
  size_t i, len = 0;
  int fd, r;

  if (p->n <= 1) {
    *pfd = d->rootfd;
    return 0;
  }
  for (i = 0; i + 1 < p->n; i++) {
    size_t n = strlen (p->comp[i]);
    if (len + n + 2 > sizeof rel)
      return dir_errno (d, p->path, -ENAMETOOLONG);
    if (len)
      rel[len++] = '/';
    memcpy (rel + len, p->comp[i], n);
    len += n;
  }
  rel[len] = '\0';
  fd = sys_openat2 (d->rootfd, rel, O_PATH | O_DIRECTORY, 0);
  if (fd == -1) {
    r = -errno;
    if (r == -ELOOP)
      r = -ENOTDIR;
    return dir_errno (d, p->path, r);
  }
  *pfd = fd;
  return 0;
}

static void
put_parent (struct dir_fs *d, int pfd)
{
  if (pfd >= 0 && pfd != d->rootfd)
    close (pfd);
}

static const char *
last_name (const struct img_fs_path *p)
{
  return p->comp[p->n - 1];
}

/* Opens P's last component itself (FLAGS as for openat2), for the root a
 * new descriptor of it.  The last component must not be a symlink either:
 * for a directory wanted, that reads as "not a directory". */
static int
open_last (struct dir_fs *d, const struct img_fs_path *p, int flags,
           int *fdp)
{
  int pfd, fd, r;

  if (p->n == 0)
    pfd = d->rootfd;
  else {
    r = get_parent (d, p, &pfd);
    if (r < 0)
      return r;
  }
  fd = sys_openat2 (pfd, p->n ? last_name (p) : ".", flags, 0);
  r = fd == -1 ? -errno : 0;
  put_parent (d, pfd);
  if (r == -ELOOP && (flags & O_DIRECTORY))
    r = -ENOTDIR;
  if (r < 0)
    return dir_errno (d, p->path, r);
  *fdp = fd;
  return 0;
}

static void
fill_stat (const struct stat *s, struct img_stat *st)
{
  st->ino = s->st_ino;
  st->mode = s->st_mode;
  st->uid = s->st_uid;
  st->gid = s->st_gid;
  st->nlink = s->st_nlink;
  st->size = s->st_size;
  st->blocks = s->st_blocks;
  st->rdev_major = major (s->st_rdev);
  st->rdev_minor = minor (s->st_rdev);
  st->atime = s->st_atim.tv_sec;
  st->atime_ns = s->st_atim.tv_nsec;
  st->mtime = s->st_mtim.tv_sec;
  st->mtime_ns = s->st_mtim.tv_nsec;
  st->ctime = s->st_ctim.tv_sec;
  st->ctime_ns = s->st_ctim.tv_nsec;
}

/* lstat of P into *s (the root itself for "/"). */
static int
stat_path (struct dir_fs *d, const struct img_fs_path *p, struct stat *s)
{
  int pfd, r;

  if (p->n == 0) {
    if (fstat (d->rootfd, s) == -1)
      return dir_errno (d, p->path, -errno);
    return 0;
  }
  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  r = fstatat (pfd, last_name (p), s, AT_SYMLINK_NOFOLLOW) == -1 ? -errno : 0;
  put_parent (d, pfd);
  if (r < 0)
    return dir_errno (d, p->path, r);
  return 0;
}

static int
dir_lstat (struct img_fs *fs, const struct img_fs_path *p, struct img_stat *st)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  struct stat s;
  int r;

  r = stat_path (d, p, &s);
  if (r < 0)
    return r;
  fill_stat (&s, st);
  return 0;
}

static int
dir_readlink (struct img_fs *fs, const struct img_fs_path *p, char **target)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  char buf[IMG_FS_PATH_MAX];
  ssize_t n;
  int pfd, r;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  n = readlinkat (pfd, last_name (p), buf, sizeof buf);
  r = n == -1 ? -errno : 0;
  put_parent (d, pfd);
  if (r == -EINVAL)
    return img_err (d->base.ctx, -EINVAL, "%s: %s: %s: not a symbolic link",
                    d->base.name, d->base.type, p->path);
  if (r < 0)
    return dir_errno (d, p->path, r);
  if ((size_t) n >= sizeof buf)
    return dir_errno (d, p->path, -ENAMETOOLONG);
  *target = strndup (buf, n);
  if (*target == NULL)
    return dir_errno (d, p->path, -ENOMEM);
  return 0;
}

static int
dir_readdir (struct img_fs *fs, const struct img_fs_path *p,
             struct img_dirent **entsp, size_t *np)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  struct img_dirent *ents = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  DIR *dir;
  int fd, r;

  r = open_last (d, p, O_RDONLY | O_DIRECTORY, &fd);
  if (r < 0)
    return r;
  dir = fdopendir (fd);
  if (dir == NULL) {
    r = -errno;
    close (fd);
    return dir_errno (d, p->path, r);
  }
  for (;;) {
    errno = 0;
    de = readdir (dir);
    if (de == NULL) {
      r = -errno;
      break;
    }
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (n >= img_ctx_budget (fs->ctx, IMG_BUDGET_ENTRIES)) {
      r = -E2BIG;
      break;
    }
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      struct img_dirent *ne = realloc (ents, ncap * sizeof *ne);
      if (ne == NULL) {
        r = -ENOMEM;
        break;
      }
      ents = ne;
      cap = ncap;
    }
    ents[n].name = strdup (de->d_name);
    if (ents[n].name == NULL) {
      r = -ENOMEM;
      break;
    }
    ents[n].ino = de->d_ino;
    ents[n].type = de->d_type;
    n++;
  }
  closedir (dir);
  if (r < 0) {
    img_dirents_free (ents, n);
    return r == -E2BIG ? r : dir_errno (d, p->path, r);
  }
  *entsp = ents;
  *np = n;
  return 0;
}

/* Opens P's last component, which must be a regular file, for I/O.  The
 * type is checked before opening (so a fifo or a device is never opened)
 * and again after, against a swap in between. */
static int
open_regular (struct dir_fs *d, const struct img_fs_path *p, int flags,
              int *fdp)
{
  struct stat s, s2;
  int fd, r;

  r = stat_path (d, p, &s);
  if (r < 0)
    return r;
  if (S_ISDIR (s.st_mode))
    return dir_errno (d, p->path, -EISDIR);
  if (!S_ISREG (s.st_mode))
    return img_err (d->base.ctx, -EINVAL, "%s: %s: %s: not a regular file",
                    d->base.name, d->base.type, p->path);
  r = open_last (d, p, flags | O_NONBLOCK | O_NOCTTY, &fd);
  if (r < 0)
    return r;
  if (fstat (fd, &s2) == -1 || !S_ISREG (s2.st_mode)
      || s2.st_ino != s.st_ino || s2.st_dev != s.st_dev) {
    close (fd);
    return img_err (d->base.ctx, -EAGAIN,
                    "%s: %s: %s: the file changed while being opened",
                    d->base.name, d->base.type, p->path);
  }
  *fdp = fd;
  return 0;
}

static int
dir_pread (struct img_fs *fs, const struct img_fs_path *p, void *buf,
           size_t len, uint64_t off, size_t *got)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  size_t done = 0;
  int fd, r = 0;

  if (off > INT64_MAX)
    return 0;
  r = open_regular (d, p, O_RDONLY, &fd);
  if (r < 0)
    return r;
  while (done < len) {
    ssize_t n = pread (fd, (char *) buf + done, len - done, off + done);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      r = dir_errno (d, p->path, -errno);
      break;
    }
    if (n == 0)
      break;
    done += n;
  }
  close (fd);
  *got = done;
  return r;
}

static int
dir_pwrite (struct img_fs *fs, const struct img_fs_path *p, const void *buf,
            size_t len, uint64_t off)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  size_t done = 0;
  int fd, r = 0;

  r = open_regular (d, p, O_WRONLY, &fd);
  if (r < 0)
    return r;
  while (done < len) {
    ssize_t n = pwrite (fd, (const char *) buf + done, len - done,
                        off + done);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      r = dir_errno (d, p->path, -errno);
      break;
    }
    done += n;
  }
  if (close (fd) == -1 && r == 0)
    r = dir_errno (d, p->path, -errno);
  return r;
}

static int
dir_truncate (struct img_fs *fs, const struct img_fs_path *p, uint64_t size)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int fd, r = 0;

  r = open_regular (d, p, O_WRONLY, &fd);
  if (r < 0)
    return r;
  if (ftruncate (fd, size) == -1)
    r = dir_errno (d, p->path, -errno);
  close (fd);
  return r;
}

/* Owner only when it differs from what we created the file with: chown
 * needs privileges on the host (its error is returned otherwise). */
static bool
need_chown (uint32_t uid, uint32_t gid)
{
  return (uid != (uint32_t) -1 && uid != geteuid ())
    || (gid != (uint32_t) -1 && gid != getegid ());
}

/* chmod of a name in PFD that is not a symlink, without following one
 * that got there in the meantime. */
static int
chmod_nofollow (int pfd, const char *name, mode_t mode)
{
  char proc[64];
  struct stat s;
  int fd, r;

  if (syscall (SYS_fchmodat2, pfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
    return 0;
  if (errno != ENOSYS)
    return -errno;
  /* Older kernels: chmod the very inode an O_PATH descriptor holds. */
  fd = sys_openat2 (pfd, name, O_PATH, 0);
  if (fd == -1)
    return -errno;
  if (fstat (fd, &s) == -1)
    r = -errno;
  else if (S_ISLNK (s.st_mode))
    r = -EOPNOTSUPP;
  else {
    snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
    r = chmod (proc, mode) == -1 ? -errno : 0;
  }
  close (fd);
  return r;
}

static int
dir_create (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
            uint32_t uid, uint32_t gid)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, fd, r;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  fd = sys_openat2 (pfd, last_name (p), O_WRONLY | O_CREAT | O_EXCL,
                    mode & 07777);
  if (fd == -1) {
    r = dir_errno (d, p->path, -errno);
    goto out;
  }
  /* chown first: it clears set-id bits, which fchmod then sets. */
  if (need_chown (uid, gid) && fchown (fd, uid, gid) == -1)
    r = -errno;
  else if (fchmod (fd, mode & 07777) == -1)
    r = -errno;
  close (fd);
  if (r < 0) {
    unlinkat (pfd, last_name (p), 0);
    r = dir_errno (d, p->path, r);
  }
 out:
  put_parent (d, pfd);
  return r;
}

static int
dir_mkdir (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t uid, uint32_t gid)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, fd, r;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (mkdirat (pfd, last_name (p), 0700) == -1) {
    r = dir_errno (d, p->path, -errno);
    goto out;
  }
  fd = sys_openat2 (pfd, last_name (p), O_RDONLY | O_DIRECTORY, 0);
  if (fd == -1)
    r = -errno;
  else {
    if (need_chown (uid, gid) && fchown (fd, uid, gid) == -1)
      r = -errno;
    else if (fchmod (fd, mode & 07777) == -1)
      r = -errno;
    close (fd);
  }
  if (r < 0) {
    unlinkat (pfd, last_name (p), AT_REMOVEDIR);
    r = dir_errno (d, p->path, r);
  }
 out:
  put_parent (d, pfd);
  return r;
}

static int
dir_symlink (struct img_fs *fs, const char *target,
             const struct img_fs_path *p, uint32_t uid, uint32_t gid)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, r = 0;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (symlinkat (target, pfd, last_name (p)) == -1) {
    r = dir_errno (d, p->path, -errno);
    goto out;
  }
  if (need_chown (uid, gid)
      && fchownat (pfd, last_name (p), uid, gid, AT_SYMLINK_NOFOLLOW) == -1) {
    r = -errno;
    unlinkat (pfd, last_name (p), 0);
    r = dir_errno (d, p->path, r);
  }
 out:
  put_parent (d, pfd);
  return r;
}

static int
dir_mknod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode,
           uint32_t maj, uint32_t min, uint32_t uid, uint32_t gid)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, r = 0;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (mknodat (pfd, last_name (p), (mode & S_IFMT) | 0600,
               makedev (maj, min)) == -1) {
    r = dir_errno (d, p->path, -errno);
    goto out;
  }
  if (need_chown (uid, gid)
      && fchownat (pfd, last_name (p), uid, gid, AT_SYMLINK_NOFOLLOW) == -1)
    r = -errno;
  else
    r = chmod_nofollow (pfd, last_name (p), mode & 07777);
  if (r < 0) {
    unlinkat (pfd, last_name (p), 0);
    r = dir_errno (d, p->path, r);
  }
 out:
  put_parent (d, pfd);
  return r;
}

static int
dir_link (struct img_fs *fs, const struct img_fs_path *op,
          const struct img_fs_path *np)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int opfd, npfd, r;

  r = get_parent (d, op, &opfd);
  if (r < 0)
    return r;
  r = get_parent (d, np, &npfd);
  if (r < 0) {
    put_parent (d, opfd);
    return r;
  }
  /* flags 0: a symlink source is linked itself, never followed. */
  if (linkat (opfd, last_name (op), npfd, last_name (np), 0) == -1) {
    r = -errno;
    r = dir_errno (d, r == -EEXIST ? np->path : op->path, r);
  }
  put_parent (d, npfd);
  put_parent (d, opfd);
  return r;
}

static int
dir_unlink (struct img_fs *fs, const struct img_fs_path *p)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, r;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (unlinkat (pfd, last_name (p), 0) == -1)
    r = dir_errno (d, p->path, -errno);
  put_parent (d, pfd);
  return r;
}

static int
dir_rmdir (struct img_fs *fs, const struct img_fs_path *p)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, r;

  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (unlinkat (pfd, last_name (p), AT_REMOVEDIR) == -1)
    r = dir_errno (d, p->path, -errno);
  put_parent (d, pfd);
  return r;
}

static int
dir_rename (struct img_fs *fs, const struct img_fs_path *op,
            const struct img_fs_path *np)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int opfd, npfd, r;

  r = get_parent (d, op, &opfd);
  if (r < 0)
    return r;
  r = get_parent (d, np, &npfd);
  if (r < 0) {
    put_parent (d, opfd);
    return r;
  }
  if (renameat (opfd, last_name (op), npfd, last_name (np)) == -1)
    r = dir_errno (d, op->path, -errno);
  put_parent (d, npfd);
  put_parent (d, opfd);
  return r;
}

static int
dir_chmod (struct img_fs *fs, const struct img_fs_path *p, uint32_t mode)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int pfd, r;

  if (p->n == 0) {
    if (fchmod (d->rootfd, mode) == -1)
      return dir_errno (d, p->path, -errno);
    return 0;
  }
  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  r = chmod_nofollow (pfd, last_name (p), mode);
  put_parent (d, pfd);
  if (r == -EOPNOTSUPP)
    return img_err (d->base.ctx, r,
                    "%s: %s: %s: a symlink has no mode to change",
                    d->base.name, d->base.type, p->path);
  if (r < 0)
    return dir_errno (d, p->path, r);
  return 0;
}

static int
dir_chown (struct img_fs *fs, const struct img_fs_path *p, uint32_t uid,
           uint32_t gid)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  struct stat s;
  int pfd, r;

  /* The kernel drops set-id bits on chown; this API changes the owner
   * only, like the ext backend, so put them back. */
  r = stat_path (d, p, &s);
  if (r < 0)
    return r;
  if (p->n == 0) {
    if (fchown (d->rootfd, uid, gid) == -1)
      return dir_errno (d, p->path, -errno);
    if (fchmod (d->rootfd, s.st_mode & 07777) == -1)
      return dir_errno (d, p->path, -errno);
    return 0;
  }
  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (fchownat (pfd, last_name (p), uid, gid, AT_SYMLINK_NOFOLLOW) == -1)
    r = -errno;
  else if (!S_ISLNK (s.st_mode) && (s.st_mode & (S_ISUID | S_ISGID)))
    r = chmod_nofollow (pfd, last_name (p), s.st_mode & 07777);
  put_parent (d, pfd);
  if (r < 0)
    return dir_errno (d, p->path, r);
  return 0;
}

static int
dir_utimes (struct img_fs *fs, const struct img_fs_path *p, int64_t atime,
            uint32_t atime_ns, int64_t mtime, uint32_t mtime_ns)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  struct timespec ts[2] = {
    { .tv_sec = atime, .tv_nsec = atime_ns },
    { .tv_sec = mtime, .tv_nsec = mtime_ns },
  };
  int pfd, r;

  if (p->n == 0) {
    if (futimens (d->rootfd, ts) == -1)
      return dir_errno (d, p->path, -errno);
    return 0;
  }
  r = get_parent (d, p, &pfd);
  if (r < 0)
    return r;
  if (utimensat (pfd, last_name (p), ts, AT_SYMLINK_NOFOLLOW) == -1)
    r = dir_errno (d, p->path, -errno);
  put_parent (d, pfd);
  return r;
}

static int
dir_sync (struct img_fs *fs)
{
  struct dir_fs *d = (struct dir_fs *) fs;

  if (syncfs (d->rootfd) == -1)
    return img_err (d->base.ctx, -errno, "%s: %s: sync failed: %m",
                    d->base.name, d->base.type);
  return 0;
}

static int
dir_close (struct img_fs *fs)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  int r = 0;

  if (d->base.writable)
    r = dir_sync (fs);
  close (d->rootfd);
  free (d->base.name);
  free (d);
  return r;
}

/* Regular files and directories only: there is no *at() for xattrs, and
 * opening a device node to ask could have effects. */
static int
dir_xattrs (struct img_fs *fs, const struct img_fs_path *p, img_xattr_fn fn,
            void *data)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  struct stat s;
  char *names = NULL, *val = NULL, *n;
  ssize_t nl, vl;
  int fd, pfd, r;

  r = stat_path (d, p, &s);
  if (r < 0 || !(S_ISREG (s.st_mode) || S_ISDIR (s.st_mode)))
    return r;
  if (p->n == 0)
    fd = dup (d->rootfd);
  else {
    r = get_parent (d, p, &pfd);
    if (r < 0)
      return r;
    fd = openat (pfd, last_name (p), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    put_parent (d, pfd);
  }
  if (fd == -1)
    return dir_errno (d, p->path, -errno);
  nl = flistxattr (fd, NULL, 0);
  if (nl > 0 && (names = malloc (nl)) != NULL)
    nl = flistxattr (fd, names, nl);
  for (n = names; r == 0 && names && nl > 0 && n < names + nl; n += strlen (n) + 1) {
    vl = fgetxattr (fd, n, NULL, 0);
    if (vl < 0)
      continue;
    free (val);
    val = malloc (vl + 1);
    if (val == NULL) {
      r = dir_errno (d, p->path, -ENOMEM);
      break;
    }
    vl = fgetxattr (fd, n, val, vl);
    if (vl >= 0)
      r = fn (n, val, (size_t) vl, data);
  }
  free (val);
  free (names);
  close (fd);
  return r;
}

static int
dir_space (struct img_fs *fs, uint64_t *total, uint64_t *avail)
{
  struct dir_fs *d = (struct dir_fs *) fs;
  struct statvfs v;

  if (fstatvfs (d->rootfd, &v) < 0)
    return dir_errno (d, "/", -errno);
  *total = (uint64_t) v.f_blocks * v.f_frsize;
  *avail = (uint64_t) v.f_bfree * v.f_frsize;
  return 0;
}

static const struct img_fs_ops dir_ops = {
  .space = dir_space,
  .xattrs = dir_xattrs,
  .close = dir_close,
  .sync = dir_sync,
  .lstat = dir_lstat,
  .readlink = dir_readlink,
  .readdir = dir_readdir,
  .pread = dir_pread,
  .create = dir_create,
  .pwrite = dir_pwrite,
  .truncate = dir_truncate,
  .mkdir = dir_mkdir,
  .symlink = dir_symlink,
  .mknod = dir_mknod,
  .link = dir_link,
  .unlink = dir_unlink,
  .rmdir = dir_rmdir,
  .rename = dir_rename,
  .chmod = dir_chmod,
  .chown = dir_chown,
  .utimes = dir_utimes,
};

int
img_internal_dir_open (struct img_ctx *ctx, const char *dir, int flags,
                       struct img_fs **fsp)
{
  struct dir_fs *d;
  int r;

  d = calloc (1, sizeof *d);
  if (d == NULL || (d->base.name = strdup (dir)) == NULL) {
    free (d);
    return img_err (ctx, -ENOMEM, "%s: dir: out of memory", dir);
  }
  d->base.ctx = ctx;
  d->base.ops = &dir_ops;
  d->base.type = "dir";
  d->base.writable = (flags & IMG_FS_RDWR) != 0;
  /* The root itself may be reached through symlinks: it is the caller's
   * choice, not the content's. */
  d->rootfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d->rootfd == -1) {
    r = -errno;
    img_err (ctx, r, "%s: dir: cannot open: %s", dir, strerror (-r));
    free (d->base.name);
    free (d);
    return r;
  }
  /* openat2 is Linux 5.6; without it nothing here is safe. */
  r = sys_openat2 (d->rootfd, ".", O_PATH | O_DIRECTORY, 0);
  if (r == -1) {
    r = -errno;
    img_err (ctx, r, "%s: dir: openat2 is not available (Linux >= 5.6 needed): %s",
             dir, strerror (-r));
    close (d->rootfd);
    free (d->base.name);
    free (d);
    return r;
  }
  close (r);
  *fsp = &d->base;
  return 0;
}
