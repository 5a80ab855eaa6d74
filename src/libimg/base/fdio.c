/* Whole reads and writes on host file descriptors: retried on EINTR and
 * on short counts, so that no caller writes its own loop.  Self-contained
 * (no context, no other libimg file), so that the static guest-side
 * helper (src/ramboot) links it too. */
#include <config.h>

#include <errno.h>
#include <unistd.h>

#include "base/fdio.h"

int
img_internal_write_all (int fd, const void *buf, size_t len)
{
  const unsigned char *p = buf;

  while (len > 0) {
    ssize_t n = write (fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -(n < 0 ? errno : EIO);
    p += n;
    len -= (size_t) n;
  }
  return 0;
}

int
img_internal_pwrite_all (int fd, const void *buf, size_t len, uint64_t off)
{
  const unsigned char *p = buf;
  size_t done = 0;

  while (done < len) {
    ssize_t n = pwrite (fd, p + done, len - done, (off_t) (off + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -(n < 0 ? errno : EIO);
    done += (size_t) n;
  }
  return 0;
}

int
img_internal_pread_all (int fd, void *buf, size_t len, uint64_t off,
                        size_t *got)
{
  unsigned char *p = buf;
  size_t done = 0;

  while (done < len) {
    ssize_t n = pread (fd, p + done, len - done, (off_t) (off + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      *got = done;
      return -errno;
    }
    if (n == 0)
      break;
    done += (size_t) n;
  }
  *got = done;
  return 0;
}

bool
img_internal_all_zero (const void *buf, size_t len)
{
  const unsigned char *p = buf;
  size_t i;

  for (i = 0; i < len; i++)
    if (p[i])
      return false;
  return true;
}
