/* Non-raw images: a qemu-nbd of our own on a private unix socket, spoken
 * to with libnbd.  We hand qemu-nbd an already listening socket (systemd
 * socket activation), so there is no start-up race, and the server:
 *   - runs in its own process group, so a Ctrl-C reaches only us and we can
 *     still finish (or roll back) our writes;
 *   - gets SIGKILL from the kernel when we die, however we die
 *     (PR_SET_PDEATHSIG; not SIGTERM, which qemu-nbd loses while it is
 *     still opening the image, and then waits forever for a client with
 *     the image locked), and exits on its own when we disconnect;
 *   - has its socket in a private directory named for our pid, so a
 *     later run removes the directories of runs that were killed;
 *   - has its stderr captured, so its complaint becomes our one error line.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libnbd.h>

#include "private.h"
#include "disk/disk-private.h"

/* glibc's malloc in qemu-nbd: requests' buffers (up to 32 MiB) from the
 * heap, and up to 64 MiB of free heap kept rather than trimmed. */
#define NBD_MALLOC_TUNABLES \
  "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"

/* qemu-nbd refuses requests above 32 MiB. */
#define NBD_MAX_REQUEST (8u << 20)

struct img_nbd {
  struct img_ctx *ctx;
  char *path;
  struct nbd_handle *h;
  pid_t pid;
  int errfd;                    /* read end of the server's stderr */
  uint64_t align;               /* the server's minimum block size */
};

/* Reads what the server wrote to stderr (non-blocking, bounded) and
 * returns its last non-empty line without the "qemu-nbd: " prefix. */
static void
server_message (struct img_nbd *nbd, char *out, size_t outlen)
{
  char buf[8192];
  size_t len = 0;
  char *line, *end;

  out[0] = '\0';
  if (nbd->errfd < 0)
    return;
  for (;;) {
    struct pollfd pfd = { .fd = nbd->errfd, .events = POLLIN };
    ssize_t n;

    if (poll (&pfd, 1, 2000) <= 0)
      break;
    n = read (nbd->errfd, buf + len, sizeof buf - 1 - len);
    if (n <= 0)
      break;
    len += n;
    if (len == sizeof buf - 1)
      break;
  }
  buf[len] = '\0';
  img_dbg (nbd->ctx, "%s: qemu-nbd said: %s", nbd->path, buf);

  /* Last non-empty line. */
  end = buf + len;
  while (end > buf && (end[-1] == '\n' || end[-1] == ' '))
    *--end = '\0';
  line = strrchr (buf, '\n');
  line = line ? line + 1 : buf;
  /* qemu's lock failure spans two lines; the first says what. */
  if (strstr (buf, "lock") && strncmp (line, "Is another process", 18) == 0) {
    snprintf (out, outlen, "image is in use by another process (a qemu lock is held); shut the VM down first");
    return;
  }
  if (strncmp (line, "qemu-nbd: ", 10) == 0)
    line += 10;
  /* "Failed to blk_new_open './x.qcow2': REASON": the image is named
   * already; keep the reason. */
  if (strncmp (line, "Failed to blk_new_open '", 24) == 0) {
    char *reason = strstr (line + 24, "': ");
    if (reason)
      line = reason + 3;
  }
  snprintf (out, outlen, "%.900s", line);
}

/* Waits up to MS milliseconds for child PID to end (without reaping it):
 * woken by its exit through a pidfd, else (a kernel before 5.3) in steps
 * of 10 ms. */
static void
wait_exit (pid_t pid, int ms)
{
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);

  if (fd >= 0) {
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    while (poll (&pfd, 1, ms) == -1 && errno == EINTR)
      ;
    close (fd);
    return;
  }
  for (; ms > 0; ms -= 10) {
    siginfo_t si = { .si_pid = 0 };

    if (waitid (P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1 || si.si_pid == pid)
      return;
    usleep (10000);
  }
}

static int
reap (struct img_nbd *nbd, bool force)
{
  int status = 0;
  pid_t p;

  if (nbd->pid <= 0)
    return 0;
  /* The server exits when we disconnect; give it 3 s to flush. */
  p = waitpid (nbd->pid, &status, WNOHANG);
  if (p == 0) {
    if (force)
      kill (nbd->pid, SIGTERM);
    wait_exit (nbd->pid, 3000);
    p = waitpid (nbd->pid, &status, WNOHANG);
  }
  if (p == 0) {
    kill (nbd->pid, SIGKILL);
    waitpid (nbd->pid, &status, 0);
  }
  nbd->pid = 0;
  return status;
}

static void
nbd_free (struct img_nbd *nbd)
{
  if (nbd->h)
    nbd_close (nbd->h);
  reap (nbd, true);
  if (nbd->errfd >= 0)
    close (nbd->errfd);
  free (nbd->path);
  free (nbd);
}

/* In a child after fork: SIGKILL when PARENT dies (however it dies),
 * or exit now if it is already gone. */
static void
die_with_parent (pid_t parent)
{
  /* The parent may have died between fork and prctl: then the signal
   * never comes, and getppid already shows the reaper. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != parent)
    _exit (1);
}

/* Removes socket directories left by runs that were killed: only ours
 * (owner, mode 0700, a real directory), named img-nbd-PID-*, whose PID is
 * gone.  A reused PID only keeps a directory a little longer. */
static void
clean_stale (const char *base)
{
  DIR *d = opendir (base);
  struct dirent *de;

  if (d == NULL)
    return;
  while ((de = readdir (d)) != NULL) {
    struct stat st;
    char *end;
    long pid;
    int dfd;

    if (strncmp (de->d_name, "img-nbd-", 8) != 0)
      continue;
    pid = strtol (de->d_name + 8, &end, 10);
    if (end == de->d_name + 8 || *end != '-' || pid <= 0 || pid > INT_MAX)
      continue;
    if (kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
      continue;
    if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1
        || !S_ISDIR (st.st_mode) || st.st_uid != geteuid ()
        || (st.st_mode & 07777) != 0700)
      continue;
    dfd = openat (dirfd (d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd == -1)
      continue;
    unlinkat (dfd, "sock", 0);
    close (dfd);
    unlinkat (dirfd (d), de->d_name, AT_REMOVEDIR);
  }
  closedir (d);
}

/* Runs ARGV with stdout and stderr captured (each bounded to OUTLEN-1
 * bytes) and returns its wait status, or -errno. */
int
img_internal_run_capture (const char *const *argv, char *out, size_t outlen, char *err,
             size_t errlen)
{
  int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, status = 0, r = 0;
  size_t no = 0, ne = 0;
  pid_t pid, parent = getpid ();

  if (pipe2 (po, O_CLOEXEC) == -1 || pipe2 (pe, O_CLOEXEC) == -1) {
    r = -errno;
    goto out;
  }
  pid = fork ();
  if (pid == -1) {
    r = -errno;
    goto out;
  }
  if (pid == 0) {
    int fd = open ("/dev/null", O_RDONLY);
    if (fd >= 0)
      dup2 (fd, 0);
    dup2 (po[1], 1);
    dup2 (pe[1], 2);
    die_with_parent (parent);
    execvp (argv[0], (char **) argv);
    fprintf (stderr, "cannot run %s: %s\n", argv[0], strerror (errno));
    _exit (127);
  }
  close (po[1]);
  close (pe[1]);
  po[1] = pe[1] = -1;
  for (;;) {
    struct pollfd pfd[2] = { { .fd = po[0], .events = POLLIN }, { .fd = pe[0], .events = POLLIN } };
    char junk[4096];
    int i, open_fds = 0;

    for (i = 0; i < 2; i++)
      if (pfd[i].fd >= 0)
        open_fds++;
    if (open_fds == 0)
      break;
    if (poll (pfd, 2, -1) == -1) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (i = 0; i < 2; i++) {
      char *buf = i == 0 ? out : err;
      size_t *n = i == 0 ? &no : &ne, len = i == 0 ? outlen : errlen;
      ssize_t got;
      int *fdp = i == 0 ? &po[0] : &pe[0];
      if (*fdp < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (*n + 1 < len)
        got = read (*fdp, buf + *n, len - 1 - *n);
      else
        got = read (*fdp, junk, sizeof junk);   /* keep draining */
      if (got <= 0) {
        close (*fdp);
        *fdp = -1;
      }
      else if (*n + 1 < len)
        *n += got;
    }
  }
  while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
    ;
  r = status;
 out:
  if (outlen)
    out[no] = '\0';
  if (errlen)
    err[ne] = '\0';
  if (po[0] >= 0) close (po[0]);
  if (po[1] >= 0) close (po[1]);
  if (pe[0] >= 0) close (pe[0]);
  if (pe[1] >= 0) close (pe[1]);
  return r;
}

/* qemu pads reads past the end of a truncated qcow2 with zeros, so a
 * damaged image would look like a disk with empty partitions (and would
 * be written as one).  qemu-img check walks the format's metadata (a few
 * MB even for a large image) and catches that first. */
static int
check_image (struct img_ctx *ctx, const char *path, const char *spec,
             const char *format)
{
  static const char *const checkable[] = { "qcow2", "qed", "vdi", "vhdx", "parallels" };
  /* SPEC pins every file qemu may open (container.c). */
  const char *argv[] = { QEMU_IMG, "check", "-q", "--", spec, NULL };
  char out[4096], err[4096], *line, *end;
  size_t i;
  int status;

  for (i = 0; i < ARRAY_SIZE (checkable); i++)
    if (strcmp (format, checkable[i]) == 0)
      break;
  if (i == ARRAY_SIZE (checkable))
    return 0;
  status = img_internal_run_capture (argv, out, sizeof out, err, sizeof err);
  if (status < 0)
    return img_err (ctx, status, "%s: disk: cannot run qemu-img: %s", path, strerror (-status));
  img_dbg (ctx, "%s: qemu-img check: status %d: %s%s", path, status, out, err);
  if (WIFEXITED (status) && (WEXITSTATUS (status) == 0 || WEXITSTATUS (status) == 3
                             || WEXITSTATUS (status) == 63))
    return 0;                   /* clean, only leaked clusters, or unsupported */
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
    return img_err (ctx, -ENOENT, "%s: disk: %s images need qemu-img (package qemu-utils)", path, format);
  /* The first line that says what is wrong. */
  line = err[0] ? err : out;
  if (strstr (line, "lock") && strstr (line, "Is another process"))
    return img_err (ctx, -EBUSY, "%s: disk: image is in use by another process (a qemu lock is held); shut the VM down first", path);
  if ((end = strchr (line, '\n')) != NULL)
    *end = '\0';
  if (strncmp (line, "qemu-img: ", 10) == 0)
    line += 10;
  if (strncmp (line, "ERROR ", 6) == 0)
    line += 6;
  else if (strncmp (line, "ERROR: ", 7) == 0)
    line += 7;
  if (strncmp (line, "Could not open '", 16) == 0 && (end = strstr (line, "': ")) != NULL)
    line = end + 3;
  return img_err (ctx, -EINVAL, "%s: %s: image is damaged (qemu-img check): %.300s",
                  path, format, *line ? line : "errors found");
}

int
img_internal_nbd_start (struct img_ctx *ctx, const char *path,
                        const char *format, const char *spec, int writable,
                        struct img_nbd **nbdp, uint64_t *sizep)
{
  struct img_nbd *nbd;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int lfd = -1, errpipe[2] = { -1, -1 };
  const char *tmpdir = getenv ("TMPDIR");
  char dirbuf[PATH_MAX];
  pid_t parent = getpid ();
  int64_t size;
  int r;

  nbd = calloc (1, sizeof *nbd);
  if (nbd == NULL)
    return img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
  nbd->ctx = ctx;
  nbd->errfd = -1;
  nbd->path = strdup (path);

  /* A private directory for the socket: nobody else can connect. */
  if (!(tmpdir && *tmpdir && tmpdir[0] == '/' && strlen (tmpdir) + 40 < sizeof addr.sun_path))
    tmpdir = "/tmp";
  clean_stale (tmpdir);
  snprintf (dirbuf, sizeof dirbuf, "%s/img-nbd-%d-XXXXXX", tmpdir, (int) parent);
  if (mkdtemp (dirbuf) == NULL) {
    r = -errno;
    img_err (ctx, r, "%s: disk: cannot create a private socket directory: %s",
             path, strerror (-r));
    goto err;
  }
  if (snprintf (addr.sun_path, sizeof addr.sun_path, "%s/sock", dirbuf)
      >= (int) sizeof addr.sun_path) {
    r = img_err (ctx, -ENAMETOOLONG, "%s: disk: socket path too long", path);
    goto err_rmdir;
  }
  lfd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd == -1 || bind (lfd, (struct sockaddr *) &addr, sizeof addr) == -1
      || listen (lfd, 1) == -1) {
    r = -errno;
    img_err (ctx, r, "%s: disk: cannot create the NBD socket: %s", path,
             strerror (-r));
    goto err_rmdir;
  }
  if (pipe2 (errpipe, O_CLOEXEC) == -1) {
    r = -errno;
    img_err (ctx, r, "%s: disk: pipe: %s", path, strerror (-r));
    goto err_unlink;
  }

  r = check_image (ctx, path, spec, format);
  if (r < 0)
    goto err_unlink;

  nbd->pid = fork ();
  if (nbd->pid == -1) {
    r = -errno;
    img_err (ctx, r, "%s: disk: fork: %s", path, strerror (-r));
    goto err_unlink;
  }
  if (nbd->pid == 0) {
    char pidstr[32];
    const char *argv[16];
    int i = 0;

    setpgid (0, 0);
    die_with_parent (parent);
    /* Socket activation: the listening socket is fd 3. */
    if (lfd == 3)
      fcntl (3, F_SETFD, 0);
    else if (dup2 (lfd, 3) == -1)
      _exit (1);
    dup2 (errpipe[1], 2);
    i = open ("/dev/null", O_RDWR);
    if (i >= 0) {
      dup2 (i, 0);
      dup2 (i, 1);
    }
    snprintf (pidstr, sizeof pidstr, "%d", (int) getpid ());
    setenv ("LISTEN_PID", pidstr, 1);
    setenv ("LISTEN_FDS", "1", 1);
    /* qemu-nbd takes a buffer for each request and frees it after the
     * reply; glibc gives a freed buffer of a MiB back to the kernel at
     * once, so every read paid the page faults of a new one (0.3 s of
     * system time for a 40 MB initrd, half of a qcow2 conversion's CPU).
     * Kept in the heap, a buffer is reused.  A setting of the caller's
     * own is left alone. */
    setenv ("GLIBC_TUNABLES", NBD_MALLOC_TUNABLES, 0);
    signal (SIGPIPE, SIG_DFL);
    i = 0;
    argv[i++] = QEMU_NBD;
    if (!writable)
      argv[i++] = "--read-only";
    argv[i++] = "--";
    argv[i++] = spec;
    argv[i] = NULL;
    execvp (argv[0], (char **) argv);
    fprintf (stderr, "cannot run %s: %s\n", argv[0], strerror (errno));
    _exit (127);
  }

  /* Only the server may hold the listening socket: if it dies, our
   * connection attempt fails instead of waiting forever. */
  close (lfd);
  lfd = -1;
  close (errpipe[1]);
  errpipe[1] = -1;
  nbd->errfd = errpipe[0];

  nbd->h = nbd_create ();
  if (nbd->h == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: disk: libnbd: %s", path, nbd_get_error ());
    goto err_unlink;
  }
  if (nbd_connect_unix (nbd->h, addr.sun_path) == -1) {
    char msg[1024];
    int status;

    nbd_close (nbd->h);
    nbd->h = NULL;
    status = reap (nbd, false);
    server_message (nbd, msg, sizeof msg);
    if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
      r = img_err (ctx, -ENOENT, "%s: disk: %s images need qemu-nbd: %s",
                   path, format, msg);
    else if (strstr (msg, "in use by another process"))
      r = img_err (ctx, -EBUSY, "%s: disk: %s", path, msg);
    else
      r = img_err (ctx, -EINVAL, "%s: %s: %s", path, format,
                   msg[0] ? msg : "qemu-nbd could not open the image");
    goto err_unlink;
  }
  /* Connected: the socket's name is no longer needed. */
  unlink (addr.sun_path);
  rmdir (dirbuf);

  size = nbd_get_size (nbd->h);
  if (size < 0) {
    r = img_err (ctx, -EIO, "%s: disk: libnbd: %s", path, nbd_get_error ());
    nbd_free (nbd);
    return r;
  }
  /* Some formats (qed, vhdx) make qemu-nbd demand 512-byte alignment. */
  {
    int64_t min = nbd_get_block_size (nbd->h, LIBNBD_SIZE_MINIMUM);
    nbd->align = min > 0 && min <= 65536 && (min & (min - 1)) == 0 ? min : 1;
  }
  img_dbg (ctx, "%s: disk: qemu-nbd pid %d serves %" PRId64 " bytes (alignment %" PRIu64 ")",
           path, (int) nbd->pid, size, nbd->align);
  *sizep = size;
  *nbdp = nbd;
  return 0;

 err_unlink:
  unlink (addr.sun_path);
 err_rmdir:
  rmdir (dirbuf);
 err:
  if (lfd >= 0)
    close (lfd);
  if (errpipe[1] >= 0)
    close (errpipe[1]);
  if (errpipe[0] >= 0 && nbd->errfd != errpipe[0])
    close (errpipe[0]);
  nbd_free (nbd);
  return r;
}

static int
raw_io (struct img_nbd *nbd, void *buf, size_t len, uint64_t offset,
        bool write)
{
  unsigned char *p = buf;

  while (len > 0) {
    size_t n = len > NBD_MAX_REQUEST ? NBD_MAX_REQUEST : len;
    int r = write ? nbd_pwrite (nbd->h, p, n, offset, 0)
                  : nbd_pread (nbd->h, p, n, offset, 0);
    if (r == -1)
      return img_err (nbd->ctx, -EIO, "%s: disk: %s at offset %" PRIu64 " failed: %s",
                      nbd->path, write ? "write" : "read", offset,
                      nbd_get_error ());
    p += n;
    len -= n;
    offset += n;
  }
  return 0;
}

/* Unaligned head and tail go through a bounce block (read-modify-write
 * for writes); the aligned middle goes straight through. */
static int
aligned_io (struct img_nbd *nbd, unsigned char *p, size_t len,
            uint64_t offset, bool write)
{
  uint64_t a = nbd->align;
  unsigned char *bounce = NULL;
  int r = 0;

  if (a <= 1)
    return raw_io (nbd, p, len, offset, write);
  while (len > 0 && r == 0) {
    uint64_t head = offset % a;
    if (head == 0 && len >= a) {
      size_t n = len - len % a;
      r = raw_io (nbd, p, n, offset, write);
      p += n;
      len -= n;
      offset += n;
      continue;
    }
    if (bounce == NULL && (bounce = malloc (a)) == NULL)
      return img_err (nbd->ctx, -ENOMEM, "%s: disk: out of memory", nbd->path);
    {
      size_t n = a - head < len ? a - head : len;
      r = raw_io (nbd, bounce, a, offset - head, false);
      if (r == 0 && write) {
        memcpy (bounce + head, p, n);
        r = raw_io (nbd, bounce, a, offset - head, true);
      }
      else if (r == 0)
        memcpy (p, bounce + head, n);
      p += n;
      len -= n;
      offset += n;
    }
  }
  free (bounce);
  return r;
}

int
img_internal_nbd_pread (struct img_nbd *nbd, void *buf, size_t len,
                        uint64_t offset)
{
  return aligned_io (nbd, buf, len, offset, false);
}

int
img_internal_nbd_pwrite (struct img_nbd *nbd, const void *buf, size_t len,
                         uint64_t offset)
{
  return aligned_io (nbd, (void *) buf, len, offset, true);
}

int
img_internal_nbd_flush (struct img_nbd *nbd)
{
  if (nbd_flush (nbd->h, 0) == -1)
    return img_err (nbd->ctx, -EIO, "%s: disk: flush failed: %s", nbd->path,
                    nbd_get_error ());
  return 0;
}

int
img_internal_nbd_stop (struct img_nbd *nbd)
{
  int r = 0, status;

  if (nbd->h) {
    /* A clean NBD disconnect lets qemu-nbd flush and exit by itself. */
    nbd_shutdown (nbd->h, 0);
    nbd_close (nbd->h);
    nbd->h = NULL;
  }
  status = reap (nbd, false);
  if (!(WIFEXITED (status) && WEXITSTATUS (status) == 0))
    r = img_err (nbd->ctx, -EIO, "%s: disk: qemu-nbd did not exit cleanly (status %d)",
                 nbd->path, status);
  nbd_free (nbd);
  return r;
}
