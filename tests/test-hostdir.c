/* The hostdir module: hostile names refused with one escaped line, every
 * operation confined below the private directory (a planted symlink is
 * never followed), and the directory removed without following links. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libimg.h"
#include "base/hostdir.h"
#include "tap.h"

static struct img_ctx *ctx;

static void
quiet (void *data, int prio, const char *msg)
{
  (void) data; (void) prio; (void) msg;
}

static int
check (const char *name, size_t len)
{
  img_ctx_clear_error (ctx);
  return img_host_path_check (ctx, "img.qcow2: initrd /boot/x", name, len);
}

int
main (void)
{
  static const struct { const char *name; size_t len; const char *why; } bad[] = {
    { "../x", 4, "\"..\" component" },
    { "a/../../x", 9, "\"..\" component" },
    { "a/..", 4, "\"..\" component" },
    { "..", 2, "\"..\" component" },
    { "/etc/x", 6, "absolute path" },
    { "./x", 3, "\".\" component" },
    { "a//b", 4, "empty component" },
    { "a/", 2, "empty component" },
    { "", 0, "empty" },
    { "a\nb", 3, "control byte" },
    { "a\x1b[2Jb", 6, "control byte" },
    { "a\x7f", 2, "control byte" },
    { "a\0b", 3, "NUL byte" },
  };
  char cwd_canary[PATH_MAX / 2], esc[64], *long_name, *long_comp;
  struct img_hostdir *hd;
  struct stat st;
  void *buf;
  size_t i, len;
  int fd, r;

  tap_plan (60);
  if (img_ctx_new (&ctx) < 0)
    return 99;
  img_ctx_set_log_fn (ctx, quiet, NULL);

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char t[128];
    img_host_name_escape (bad[i].name, bad[i].len, esc, sizeof esc);
    snprintf (t, sizeof t, "\"%s\" refused (%s)", esc, bad[i].why);
    r = check (bad[i].name, bad[i].len);
    if (!tap_ok (r == -EPERM && strstr (img_ctx_error (ctx), bad[i].why)
                 && strncmp (img_ctx_error (ctx), "img.qcow2: initrd /boot/x: unsafe name", 38) == 0
                 && !strpbrk (img_ctx_error (ctx), "\n\x1b\x7f"), t))
      printf ("# r=%d: %s\n", r, img_ctx_error (ctx));
  }
  /* The message escapes the control bytes. */
  check ("a\x1b[2Jb", 6);
  tap_ok (strstr (img_ctx_error (ctx), "\"a\\x1b[2Jb\"") != NULL, "ESC printed as \\x1b");
  long_name = malloc (PATH_MAX + 1);
  memset (long_name, 'a', PATH_MAX);
  for (i = 100; i < PATH_MAX; i += 101)
    long_name[i] = '/';
  long_name[PATH_MAX] = '\0';
  tap_is_int (check (long_name, PATH_MAX), -EPERM, "a name of PATH_MAX bytes refused");
  long_comp = strndup (long_name, NAME_MAX + 1);
  memset (long_comp, 'b', NAME_MAX + 1);
  tap_is_int (check (long_comp, NAME_MAX + 1), -EPERM, "a component over NAME_MAX refused");
  tap_is_int (check ("kernel/drivers/xen-blkfront.ko", 30), 0, "a module path is fine");
  tap_is_int (check ("a..b/..c/.d", 11), 0, "dots inside components are fine");

  /* One-component names from a conservative set. */
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "6.1.0-28-amd64"), 0, "6.1.0-28-amd64");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "2.6.18-419.el5xen"), 0, "2.6.18-419.el5xen");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "5.14.21-150500.55.39-default"), 0, "SLES version");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", ".."), -EPERM, "kernel version ..");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "."), -EPERM, "kernel version .");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "a/b"), -EPERM, "kernel version with /");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "-b/etc"), -EPERM, "kernel version like an option");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "6.1\x1b[2J"), -EPERM, "kernel version with ESC");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", "6.1 x"), -EPERM, "kernel version with a space");
  tap_is_int (img_host_name_check (ctx, "x", "kernel version", ""), -EPERM, "empty kernel version");
  tap_ok (strstr (img_ctx_error (ctx), "x: unsafe kernel version \"\"") != NULL, "message names the kind");

  /* The private directory. */
  setenv ("TMPDIR", "/tmp", 1);
  r = img_hostdir_new (ctx, "test-hostdir", &hd);
  tap_is_int (r, 0, "img_hostdir_new");
  if (r < 0)
    return tap_done ();
  tap_ok (stat (img_hostdir_path (hd), &st) == 0 && S_ISDIR (st.st_mode)
          && (st.st_mode & 0777) == 0700, "private directory, mode 0700");
  tap_ok (strncmp (img_hostdir_path (hd), "/tmp/test-hostdir.", 18) == 0, "under $TMPDIR");
  tap_is_int (img_hostdir_write (hd, "t", "lib/modules/6.1/kernel/a.ko", "abc", 3, 0644), 0,
              "a file in new directories");
  tap_is_int (img_hostdir_read (hd, "t", "lib/modules/6.1/kernel/a.ko", 16, &buf, &len), 0, "read back");
  tap_ok (len == 3 && memcmp (buf, "abc", 3) == 0, "same bytes");
  free (buf);
  tap_is_int (img_hostdir_read (hd, "t", "lib/modules/6.1/kernel/a.ko", 2, &buf, &len), -EFBIG,
              "read over the bound refused");
  tap_is_int (img_hostdir_read (hd, "t", "nothing", 16, &buf, &len), -ENOENT, "missing: -ENOENT");
  tap_is_int (img_hostdir_write (hd, "t", "lib/modules/6.1/kernel/a.ko", "x", 1, 0644), -EEXIST,
              "O_EXCL: an existing file is not replaced");
  tap_is_int (img_hostdir_write (hd, "t", "../escape", "x", 1, 0644), -EPERM, "write ../escape refused");
  tap_is_int (img_hostdir_write (hd, "t", "/tmp/escape", "x", 1, 0644), -EPERM, "write /tmp/escape refused");
  tap_is_int (img_hostdir_mkdir_p (hd, "t", "a/../../x", 0755), -EPERM, "mkdir -p a/../../x refused");

  /* A symlink planted in the private directory is never followed. */
  snprintf (cwd_canary, sizeof cwd_canary, "%s.canary", img_hostdir_path (hd));
  mkdir (cwd_canary, 0700);
  {
    char link[PATH_MAX];
    snprintf (link, sizeof link, "%s/lib/evil", img_hostdir_path (hd));
    tap_is_int (symlink (cwd_canary, link), 0, "plant lib/evil -> a directory outside");
    snprintf (link, sizeof link, "%s/lib/evilfile", img_hostdir_path (hd));
    symlink ("/etc/passwd", link);
  }
  r = img_hostdir_write (hd, "t", "lib/evil/pwned", "x", 1, 0644);
  tap_ok (r == -ELOOP || r == -ENOTDIR, "write through a planted dir symlink refused");
  r = img_hostdir_mkdir_p (hd, "t", "lib/evil/sub", 0755);
  tap_ok (r == -ELOOP || r == -ENOTDIR, "mkdir -p through a planted symlink refused");
  {
    char p[PATH_MAX];
    snprintf (p, sizeof p, "%s/pwned", cwd_canary);
    tap_ok (access (p, F_OK) < 0, "nothing written outside");
    snprintf (p, sizeof p, "%s/sub", cwd_canary);
    tap_ok (access (p, F_OK) < 0, "no directory made outside");
  }
  fd = img_hostdir_open (hd, "t", "lib/evilfile", O_RDONLY, 0);
  tap_ok (fd == -ELOOP, "open of a planted file symlink refused");
  r = img_hostdir_write (hd, "t", "lib/evilfile", "x", 1, 0644);
  tap_is_int (r, -EEXIST, "O_EXCL write over a planted symlink refused");
  fd = img_hostdir_tmpfile (hd, "t");
  tap_ok (fd >= 0, "an unnamed temporary file");
  if (fd >= 0)
    close (fd);

  /* Removal: everything below goes, the symlinks' targets stay. */
  {
    char *p = strdup (img_hostdir_path (hd)), q[PATH_MAX];
    snprintf (q, sizeof q, "%s/keep", cwd_canary);
    close (open (q, O_WRONLY | O_CREAT, 0600));
    img_hostdir_free (hd);
    tap_ok (access (p, F_OK) < 0 && errno == ENOENT, "private directory removed");
    tap_ok (access (q, F_OK) == 0, "a symlink's target is not followed on removal");
    tap_ok (access ("/etc/passwd", F_OK) == 0, "/etc/passwd still there");
    unlink (q);
    rmdir (cwd_canary);
    free (p);
  }

  /* Replacing a file in the admin's directory. */
  {
    char d[] = "/tmp/test-hostdir-out.XXXXXX", p[PATH_MAX], *b;
    int dfd;
    mkdtemp (d);
    tap_is_int (img_host_file_replace (ctx, "t", d, "img.vmlinuz-6.1", "k1", 2, 0644), 0, "a new file");
    tap_is_int (img_host_file_replace (ctx, "t", d, "img.vmlinuz-6.1", "k2", 2, 0644), 0, "replaced");
    snprintf (p, sizeof p, "%s/img.vmlinuz-6.1", d);
    b = calloc (1, 8);
    dfd = open (p, O_RDONLY);
    tap_ok (dfd >= 0 && read (dfd, b, 8) == 2 && strcmp (b, "k2") == 0, "holds the new bytes");
    close (dfd);
    free (b);
    snprintf (p, sizeof p, "%s/img.initrd", d);
    symlink ("/etc/passwd", p);
    tap_is_int (img_host_file_replace (ctx, "t", d, "img.initrd", "i", 1, 0644), -EEXIST,
                "a symlink is not replaced");
    tap_ok (lstat (p, &st) == 0 && S_ISLNK (st.st_mode), "the symlink is left alone");
    tap_is_int (img_host_file_replace (ctx, "t", d, "../img.initrd", "i", 1, 0644), -EPERM,
                "../ refused");
    tap_is_int (img_host_file_replace (ctx, "t", d, "a/b", "i", 1, 0644), -EPERM, "a / refused");
    unlink (p);
    snprintf (p, sizeof p, "%s/img.vmlinuz-6.1", d);
    unlink (p);
    tap_is_int (rmdir (d), 0, "no temporary file left behind");
  }
  free (long_name);
  free (long_comp);
  img_ctx_free (ctx);
  return tap_done ();
}
