/* Whole host files, bounded: see hostfile.h. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "base/hostfile.h"

int
img_host_read_file (struct img_ctx *ctx, const char *path, size_t max,
                    char **bufp, size_t *lenp)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char *buf;
  size_t len = 0;

  *bufp = NULL;
  *lenp = 0;
  if (fd < 0)
    return img_err (ctx, -errno, "%s: %s", path, strerror (errno));
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (uint64_t) st.st_size > max) {
    int e = errno;
    bool big = S_ISREG (st.st_mode) && (uint64_t) st.st_size > max;
    close (fd);
    return img_err (ctx, big ? -EFBIG : S_ISREG (st.st_mode) ? -e : -EINVAL,
                    "%s: %s", path, big ? "file too big" :
                    S_ISREG (st.st_mode) ? strerror (e) : "not a regular file");
  }
  buf = malloc ((size_t) st.st_size + 1);
  if (buf == NULL) {
    close (fd);
    return img_err (ctx, -ENOMEM, "%s: out of memory", path);
  }
  while (len < (size_t) st.st_size) {
    ssize_t n = read (fd, buf + len, (size_t) st.st_size - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t) n;
  }
  close (fd);
  buf[len] = '\0';
  *bufp = buf;
  *lenp = len;
  return 0;
}
