/* Copying a host tree into the guest, as `cp -a` would into a mounted
 * filesystem: contents with their holes, directories, symlinks (copied,
 * never followed), device nodes, fifos, hard links, modes, owners and
 * times.  The host side is read with *at() calls and O_NOFOLLOW. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "private.h"
#include "guest/guest-private.h"

#define COPY_CHUNK (1 << 20)
#define COPY_MAX_DEPTH 256

struct hardlink {
  dev_t dev;
  ino_t ino;
  struct img_fs *fs;
  char *rel;                    /* first copy's path in fs */
};

struct copy {
  struct img_guest *g;
  struct img_ctx *ctx;
  unsigned char *buf;
  size_t n_links;
  struct hardlink *links;
};

static int
host_err (struct copy *c, int r, const char *what, const char *path)
{
  return img_err (c->ctx, r, "copy-in: %s %s: %s", what, path, strerror (-r));
}

/* Data runs only: holes stay holes. */
static int
copy_data (struct copy *c, int fd, const char *hostpath, struct img_fs *fs,
           const char *rel, off_t size)
{
  off_t data = 0, hole;
  int r;

  while (data < size) {
    data = lseek (fd, data, SEEK_DATA);
    if (data == -1) {
      if (errno == ENXIO)
        break;                  /* only a hole remains */
      return host_err (c, -errno, "seek", hostpath);
    }
    hole = lseek (fd, data, SEEK_HOLE);
    if (hole == -1)
      return host_err (c, -errno, "seek", hostpath);
    while (data < hole) {
      size_t want = hole - data > COPY_CHUNK ? COPY_CHUNK : (size_t) (hole - data);
      ssize_t n = pread (fd, c->buf, want, data);
      if (n == -1) {
        if (errno == EINTR)
          continue;
        return host_err (c, -errno, "read", hostpath);
      }
      if (n == 0)
        break;
      r = img_fs_pwrite (fs, rel, c->buf, n, data);
      if (r < 0)
        return r;
      data += n;
    }
  }
  return img_fs_truncate (fs, rel, size);
}

static int
set_attrs (struct copy *c, struct img_fs *fs, const char *rel,
           const struct stat *st, bool is_link)
{
  int r = img_fs_chown (fs, rel, st->st_uid, st->st_gid);

  if (r == 0 && !is_link)
    r = img_fs_chmod (fs, rel, st->st_mode & 07777);
  if (r == 0)
    r = img_fs_utimes (fs, rel, st->st_atim.tv_sec, st->st_atim.tv_nsec,
                       st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  return r;
}

/* Removes whatever non-directory is in the way of a new entry. */
static int
clear_path (struct img_fs *fs, const char *rel, bool want_dir, bool *is_dir)
{
  struct img_stat gst;
  int r = img_fs_lstat (fs, rel, &gst);

  *is_dir = false;
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return r;
  if (S_ISDIR (gst.mode)) {
    *is_dir = true;
    return want_dir ? 0 : -EISDIR;
  }
  return img_fs_unlink (fs, rel);
}

static int copy_dir (struct copy *c, int dirfd, const char *hostpath,
                     char *gpath, size_t glen, int depth);

static int
copy_entry (struct copy *c, int dirfd, const char *name, const char *hostpath,
            char *gpath, size_t glen, int depth)
{
  struct stat st;
  struct img_fs *fs;
  CLEANUP_FREE char *canon = NULL;
  const char *rel;
  bool is_dir;
  int r, fd;

  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
    return host_err (c, -errno, "stat", hostpath);
  r = img_internal_guest_resolve (c->g, gpath, false, &canon, &fs, &rel);
  if (r < 0)
    return r;
  r = clear_path (fs, rel, S_ISDIR (st.st_mode), &is_dir);
  if (r < 0)
    return img_err (c->ctx, r, "copy-in: %s: cannot replace what is there: %s",
                    gpath, strerror (-r));

  if (S_ISDIR (st.st_mode)) {
    if (!is_dir && (r = img_fs_mkdir (fs, rel, st.st_mode & 07777, st.st_uid, st.st_gid)) < 0)
      return r;
    fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
      return host_err (c, -errno, "open", hostpath);
    r = copy_dir (c, fd, hostpath, gpath, glen, depth + 1);
    close (fd);
    if (r < 0)
      return r;
    /* Children changed the directory's times; set them last. */
    return set_attrs (c, fs, rel, &st, false);
  }
  if (S_ISLNK (st.st_mode)) {
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat (dirfd, name, target, PATH_MAX);
    if (n == -1)
      return host_err (c, -errno, "readlink", hostpath);
    target[n] = '\0';
    r = img_fs_symlink (fs, target, rel, st.st_uid, st.st_gid);
    return r < 0 ? r : set_attrs (c, fs, rel, &st, true);
  }
  if (S_ISREG (st.st_mode) && st.st_nlink > 1) {
    size_t i;
    for (i = 0; i < c->n_links; i++)
      if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino
          && c->links[i].fs == fs)
        return img_fs_link (fs, c->links[i].rel, rel);
  }
  if (S_ISREG (st.st_mode)) {
    r = img_fs_create (fs, rel, S_IFREG | (st.st_mode & 07777), st.st_uid, st.st_gid);
    if (r < 0)
      return r;
    fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1)
      return host_err (c, -errno, "open", hostpath);
    r = copy_data (c, fd, hostpath, fs, rel, st.st_size);
    close (fd);
    if (r < 0)
      return r;
    if (st.st_nlink > 1) {
      struct hardlink *l = realloc (c->links, (c->n_links + 1) * sizeof *l);
      if (l == NULL)
        return img_err (c->ctx, -ENOMEM, "copy-in: out of memory");
      c->links = l;
      l[c->n_links].dev = st.st_dev;
      l[c->n_links].ino = st.st_ino;
      l[c->n_links].fs = fs;
      l[c->n_links].rel = strdup (rel);
      if (l[c->n_links].rel == NULL)
        return img_err (c->ctx, -ENOMEM, "copy-in: out of memory");
      c->n_links++;
    }
    return set_attrs (c, fs, rel, &st, false);
  }
  if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode) || S_ISFIFO (st.st_mode)
      || S_ISSOCK (st.st_mode)) {
    r = img_fs_mknod (fs, rel, st.st_mode, major (st.st_rdev), minor (st.st_rdev),
                      st.st_uid, st.st_gid);
    return r < 0 ? r : set_attrs (c, fs, rel, &st, false);
  }
  return img_err (c->ctx, -EINVAL, "copy-in: %s: unsupported file type", hostpath);
}

static int
copy_dir (struct copy *c, int fd, const char *hostpath, char *gpath,
          size_t glen, int depth)
{
  DIR *d;
  struct dirent *e;
  int dfd, r = 0;

  if (depth > COPY_MAX_DEPTH)
    return img_err (c->ctx, -ELOOP, "copy-in: %s: directories nested too deep", hostpath);
  dfd = dup (fd);
  if (dfd == -1 || (d = fdopendir (dfd)) == NULL) {
    r = -errno;
    if (dfd != -1)
      close (dfd);
    return host_err (c, r, "opendir", hostpath);
  }
  while (r == 0 && (errno = 0, e = readdir (d)) != NULL) {
    size_t l = strlen (e->d_name);
    CLEANUP_FREE char *hp = NULL;

    if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
      continue;
    if (glen + 1 + l > PATH_MAX) {
      r = img_err (c->ctx, -ENAMETOOLONG, "copy-in: %s/%s: path too long", gpath, e->d_name);
      break;
    }
    if (asprintf (&hp, "%s/%s", hostpath, e->d_name) < 0) {
      r = img_err (c->ctx, -ENOMEM, "copy-in: out of memory");
      break;
    }
    gpath[glen] = '/';
    memcpy (gpath + glen + 1, e->d_name, l + 1);
    r = copy_entry (c, fd, e->d_name, hp, gpath, glen + 1 + l, depth);
    gpath[glen] = '\0';
  }
  if (r == 0 && errno != 0)
    r = host_err (c, -errno, "readdir", hostpath);
  closedir (d);
  return r;
}

int
img_guest_copy_in (struct img_guest *g, const char *hostdir,
                   const char *guestdir)
{
  struct copy c = { .g = g, .ctx = img_guest_ctx (g) };
  CLEANUP_FREE char *canon = NULL;
  char *gpath = NULL;
  struct stat st;
  size_t i;
  int fd, r;

  img_ctx_clear_error (c.ctx);
  fd = open (hostdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1)
    return host_err (&c, -errno, "open", hostdir);
  r = img_guest_mkdir_p (g, guestdir, 0755);
  if (r == 0)
    r = img_guest_realpath (g, guestdir, true, &canon);
  c.buf = malloc (COPY_CHUNK);
  gpath = malloc (PATH_MAX + 2);
  if (r == 0 && (c.buf == NULL || gpath == NULL))
    r = img_err (c.ctx, -ENOMEM, "copy-in: out of memory");
  if (r == 0) {
    strcpy (gpath, canon);
    /* "/" as the target: children go to "/name", not "//name". */
    r = copy_dir (&c, fd, hostdir, gpath, strcmp (gpath, "/") == 0 ? 0 : strlen (gpath), 0);
  }
  if (r == 0 && fstat (fd, &st) == 0) {
    struct img_fs *fs;
    const char *rel;
    CLEANUP_FREE char *c2 = NULL;
    r = img_internal_guest_resolve (g, canon, true, &c2, &fs, &rel);
    if (r == 0)
      r = set_attrs (&c, fs, rel, &st, false);
  }
  close (fd);
  for (i = 0; i < c.n_links; i++)
    free (c.links[i].rel);
  free (c.links);
  free (c.buf);
  free (gpath);
  return r;
}
