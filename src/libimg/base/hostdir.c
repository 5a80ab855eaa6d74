/* The host side of guest-derived names: a private mkdtemp directory and
 * every file operation below it through openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), after a check that refuses what could climb out.
 * See hostdir.h for the contract.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/hostdir.h"
#include "base/fdio.h"
#include "private.h"

#define REMOVE_DEPTH_MAX 256    /* our trees are a few levels deep */

struct img_hostdir {
  struct img_ctx *ctx;
  char *path;
  int fd;                       /* O_RDONLY | O_DIRECTORY */
  dev_t dev;
};

static int
sys_openat2 (int dirfd, const char *name, int flags, unsigned mode)
{
  struct open_how how;
  long fd;

  memset (&how, 0, sizeof how);
  how.flags = (unsigned) flags | O_CLOEXEC;
  how.mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  fd = syscall (SYS_openat2, dirfd, name, &how, sizeof how);
  return fd < 0 ? -errno : (int) fd;
}

char *
img_host_name_escape (const char *name, size_t len, char *out, size_t outsz)
{
  static const char hex[] = "0123456789abcdef";
  size_t i, o = 0;

  if (outsz == 0)
    return out;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) name[i];
    bool esc = c < 0x20 || c == 0x7f || c == '"' || c == '\\';
    size_t need = esc ? 4 : 1;
    if (o + need + 4 > outsz) {         /* room for "..." and the NUL */
      if (o + 4 <= outsz)
        memcpy (out + o, "...", 3), o += 3;
      break;
    }
    if (esc) {
      out[o++] = '\\';
      out[o++] = 'x';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    } else
      out[o++] = (char) c;
  }
  out[o] = '\0';
  return out;
}

static int
unsafe (struct img_ctx *ctx, const char *what, const char *kind, const char *name,
        size_t len, const char *why)
{
  char esc[256];

  img_host_name_escape (name ? name : "", name ? len : 0, esc, sizeof esc);
  return img_err (ctx, -EPERM, "%s: unsafe %s \"%s\": %s; refusing it", what, kind, esc, why);
}

int
img_host_path_check (struct img_ctx *ctx, const char *what, const char *name, size_t len)
{
  const char *kind = "name for a host file";
  size_t i, start = 0;

  if (name == NULL || len == 0)
    return unsafe (ctx, what, kind, name, len, "it is empty");
  if (len >= PATH_MAX)
    return unsafe (ctx, what, kind, name, len, "longer than PATH_MAX");
  if (name[0] == '/')
    return unsafe (ctx, what, kind, name, len, "an absolute path");
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) name[i];
    if (c == '\0')
      return unsafe (ctx, what, kind, name, len, "a NUL byte in it");
    if (c < 0x20 || c == 0x7f)
      return unsafe (ctx, what, kind, name, len, "a control byte in it");
  }
  for (i = 0; i <= len; i++) {
    size_t clen;
    if (i < len && name[i] != '/')
      continue;
    clen = i - start;
    if (clen == 0)
      return unsafe (ctx, what, kind, name, len, "an empty component");
    if (clen == 1 && name[start] == '.')
      return unsafe (ctx, what, kind, name, len, "a \".\" component");
    if (clen == 2 && name[start] == '.' && name[start + 1] == '.')
      return unsafe (ctx, what, kind, name, len, "a \"..\" component");
    if (clen > NAME_MAX)
      return unsafe (ctx, what, kind, name, len, "a component longer than NAME_MAX");
    start = i + 1;
  }
  return 0;
}

int
img_host_name_check (struct img_ctx *ctx, const char *what, const char *kind,
                     const char *name)
{
  size_t i, len = name ? strlen (name) : 0;

  if (len == 0)
    return unsafe (ctx, what, kind, name, len, "it is empty");
  if (len > 128)
    return unsafe (ctx, what, kind, name, len, "longer than 128 bytes");
  if (name[0] == '.' || name[0] == '-')
    return unsafe (ctx, what, kind, name, len, "it starts with \".\" or \"-\"");
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == '+' || c == '~' || c == '-'))
      return unsafe (ctx, what, kind, name, len,
                     "only letters, digits and \"._+~-\" are taken");
  }
  return 0;
}

int
img_hostdir_new (struct img_ctx *ctx, const char *prefix, struct img_hostdir **out)
{
  const char *tmp = getenv ("TMPDIR");
  struct img_hostdir *hd;
  struct stat st;
  int r;

  *out = NULL;
  if (tmp == NULL || tmp[0] != '/')
    tmp = "/tmp";
  hd = calloc (1, sizeof *hd);
  if (hd == NULL)
    return img_err (ctx, -ENOMEM, "out of memory");
  hd->ctx = ctx;
  hd->fd = -1;
  if (asprintf (&hd->path, "%s/%s.XXXXXX", tmp, prefix) < 0) {
    free (hd);
    return img_err (ctx, -ENOMEM, "out of memory");
  }
  if (mkdtemp (hd->path) == NULL) {
    r = -errno;
    img_err (ctx, r, "a private directory in %s: %s", tmp, strerror (-r));
    free (hd->path);
    free (hd);
    return r;
  }
  hd->fd = open (hd->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (hd->fd < 0 || fstat (hd->fd, &st) < 0) {
    r = -errno;
    img_err (ctx, r, "%s: %s", hd->path, strerror (-r));
    if (hd->fd >= 0)
      close (hd->fd);
    rmdir (hd->path);
    free (hd->path);
    free (hd);
    return r;
  }
  hd->dev = st.st_dev;
  *out = hd;
  return 0;
}

const char *
img_hostdir_path (const struct img_hostdir *hd)
{
  return hd->path;
}

/* Empties the directory DFD (which it closes), depth first, by dirfds:
 * a symlink is removed, never followed; another file system is left. */
static int
remove_below (int dfd, dev_t dev, unsigned depth)
{
  DIR *d;
  struct dirent *de;
  int r = 0;

  if (depth > REMOVE_DEPTH_MAX) {
    close (dfd);
    return -ELOOP;
  }
  d = fdopendir (dfd);
  if (d == NULL) {
    r = -errno;
    close (dfd);
    return r;
  }
  while ((de = readdir (d)) != NULL) {
    struct stat st;
    if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
      continue;
    if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      r = r ? r : -errno;
      continue;
    }
    if (S_ISDIR (st.st_mode)) {
      int sub;
      if (st.st_dev != dev) {
        r = r ? r : -EXDEV;
        continue;
      }
      sub = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0) {
        r = r ? r : -errno;
        continue;
      }
      /* depmod may leave a directory without write permission. */
      fchmod (sub, 0700);
      {
        int rr = remove_below (sub, dev, depth + 1);
        r = r ? r : rr;
      }
      if (unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR) < 0)
        r = r ? r : -errno;
    } else if (unlinkat (dirfd (d), de->d_name, 0) < 0)
      r = r ? r : -errno;
  }
  closedir (d);
  return r;
}

void
img_hostdir_free (struct img_hostdir *hd)
{
  int r, dfd;

  if (hd == NULL)
    return;
  dfd = openat (hd->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  r = dfd < 0 ? -errno : remove_below (dfd, hd->dev, 0);
  if (r == 0 && rmdir (hd->path) < 0)
    r = -errno;
  if (r < 0)
    img_warn (hd->ctx, "%s: cannot remove the private directory: %s", hd->path, strerror (-r));
  close (hd->fd);
  free (hd->path);
  free (hd);
}

int
img_hostdir_open (struct img_hostdir *hd, const char *what, const char *name, int flags,
                  unsigned mode)
{
  int r;

  if ((r = img_host_path_check (hd->ctx, what, name, name ? strlen (name) : 0)) < 0)
    return r;
  r = sys_openat2 (hd->fd, name, flags, mode);
  if (r == -ENOENT && !(flags & O_CREAT))
    return r;
  if (r < 0) {
    char esc[256];
    img_host_name_escape (name, strlen (name), esc, sizeof esc);
    return img_err (hd->ctx, r, "%s: \"%s\" in the private directory: %s", what, esc,
                    r == -ELOOP || r == -EXDEV ? "a symlink or an escape on the way" : strerror (-r));
  }
  return r;
}

int
img_hostdir_mkdir_p (struct img_hostdir *hd, const char *what, const char *name, unsigned mode)
{
  char comp[NAME_MAX + 1], esc[256];
  const char *p = name;
  int fd, r;

  if ((r = img_host_path_check (hd->ctx, what, name, name ? strlen (name) : 0)) < 0)
    return r;
  fd = dup (hd->fd);
  if (fd < 0)
    return img_err (hd->ctx, -errno, "%s: %s", hd->path, strerror (errno));
  while (*p) {
    size_t clen = strcspn (p, "/");
    int nfd;
    memcpy (comp, p, clen);     /* clen <= NAME_MAX: checked */
    comp[clen] = '\0';
    if (mkdirat (fd, comp, mode) < 0 && errno != EEXIST) {
      r = -errno;
      break;
    }
    nfd = sys_openat2 (fd, comp, O_PATH | O_DIRECTORY, 0);
    if (nfd < 0) {
      r = nfd;
      break;
    }
    close (fd);
    fd = nfd;
    p += clen;
    if (*p == '/')
      p++;
  }
  close (fd);
  if (r < 0) {
    img_host_name_escape (name, strlen (name), esc, sizeof esc);
    return img_err (hd->ctx, r, "%s: directory \"%s\" in the private directory: %s", what, esc,
                    r == -ELOOP || r == -ENOTDIR ? "a symlink or a file on the way" : strerror (-r));
  }
  return 0;
}

int
img_hostdir_create (struct img_hostdir *hd, const char *what, const char *name,
                    unsigned mode, bool replace)
{
  const char *slash;
  int r;

  if ((r = img_host_path_check (hd->ctx, what, name, name ? strlen (name) : 0)) < 0)
    return r;
  slash = strrchr (name, '/');
  if (slash) {
    char *parent = strndup (name, (size_t) (slash - name));
    if (parent == NULL)
      return img_err (hd->ctx, -ENOMEM, "out of memory");
    r = img_hostdir_mkdir_p (hd, what, parent, 0700);
    free (parent);
    if (r < 0)
      return r;
  }
  return img_hostdir_open (hd, what, name,
                           O_WRONLY | O_CREAT | O_NOFOLLOW | (replace ? O_TRUNC : O_EXCL),
                           mode & 0777);
}

int
img_hostdir_write (struct img_hostdir *hd, const char *what, const char *name,
                   const void *buf, size_t len, unsigned mode)
{
  int fd, r;

  fd = img_hostdir_create (hd, what, name, mode, false);
  if (fd < 0)
    return fd;
  r = img_internal_write_all (fd, buf, len);
  if (close (fd) < 0 && r == 0)
    r = -errno;
  if (r < 0) {
    char esc[256];
    img_host_name_escape (name, strlen (name), esc, sizeof esc);
    return img_err (hd->ctx, r, "%s: \"%s\" in the private directory: %s", what, esc,
                    strerror (-r));
  }
  return 0;
}

int
img_hostdir_read (struct img_hostdir *hd, const char *what, const char *name, size_t max,
                  void **bufp, size_t *lenp)
{
  struct stat st;
  char *buf = NULL, esc[256];
  size_t got = 0;
  int fd, r = 0;

  *bufp = NULL;
  *lenp = 0;
  fd = img_hostdir_open (hd, what, name, O_RDONLY | O_NOFOLLOW, 0);
  if (fd < 0)
    return fd;
  if (fstat (fd, &st) < 0)
    r = -errno;
  else if (!S_ISREG (st.st_mode))
    r = -EINVAL;
  else if ((uint64_t) st.st_size > max)
    r = -EFBIG;
  else if ((buf = malloc ((size_t) st.st_size + 1)) == NULL)
    r = -ENOMEM;
  while (r == 0 && got < (size_t) st.st_size) {
    ssize_t n = read (fd, buf + got, (size_t) st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      r = n < 0 ? -errno : -EIO;
    else
      got += (size_t) n;
  }
  close (fd);
  if (r < 0) {
    free (buf);
    img_host_name_escape (name, strlen (name), esc, sizeof esc);
    return img_err (hd->ctx, r, "%s: \"%s\" in the private directory: %s", what, esc,
                    r == -EINVAL ? "not a regular file" : strerror (-r));
  }
  buf[got] = '\0';
  *bufp = buf;
  *lenp = got;
  return 0;
}

int
img_hostdir_tmpfile (struct img_hostdir *hd, const char *what)
{
  int fd = sys_openat2 (hd->fd, ".", O_TMPFILE | O_RDWR, 0600);

  if (fd < 0)
    return img_err (hd->ctx, fd, "%s: a temporary file in %s: %s", what, hd->path,
                    strerror (-fd));
  return fd;
}

int
img_host_file_replace (struct img_ctx *ctx, const char *what, const char *dir,
                       const char *name, const void *buf, size_t len, unsigned mode)
{
  char tmp[NAME_MAX + 1], esc[256];
  struct stat st;
  int dfd, fd = -1, r = 0, i;

  if ((r = img_host_path_check (ctx, what, name, name ? strlen (name) : 0)) < 0)
    return r;
  img_host_name_escape (name, strlen (name), esc, sizeof esc);
  if (strchr (name, '/') || strlen (name) > NAME_MAX - 32)
    return img_err (ctx, -EPERM, "%s: host file name \"%s\" is not one short component; refusing it",
                    what, esc);
  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    r = -errno;
    return img_err (ctx, r, "%s: %s: %s", what, dir, strerror (-r));
  }
  for (i = 0; i < 100 && fd < 0; i++) {
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    snprintf (tmp, sizeof tmp, ".%s.%ld.%lx", name, (long) getpid (),
              (unsigned long) ts.tv_nsec ^ ((unsigned long) i << 20));
    fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    r = -errno;
    close (dfd);
    return img_err (ctx, r, "%s: a new file in %s: %s", what, dir, strerror (-r));
  }
  r = img_internal_write_all (fd, buf, len);
  if (r == 0 && (fchmod (fd, mode & 0777) < 0 || fsync (fd) < 0))
    r = -errno;
  if (close (fd) < 0 && r == 0)
    r = -errno;
  if (r == 0 && fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG (st.st_mode)) {
    unlinkat (dfd, tmp, 0);
    close (dfd);
    return img_err (ctx, -EEXIST, "%s: %s/%s exists and is not a regular file; not replaced",
                    what, dir, esc);
  }
  if (r == 0 && renameat (dfd, tmp, dfd, name) < 0)
    r = -errno;
  if (r < 0) {
    unlinkat (dfd, tmp, 0);
    close (dfd);
    return img_err (ctx, r, "%s: %s/%s: %s", what, dir, esc, strerror (-r));
  }
  fsync (dfd);
  close (dfd);
  return 0;
}
