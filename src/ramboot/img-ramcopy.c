/* img-ramcopy: the small static helper img-ramify puts into a guest's
 * initramfs.  Debian's initramfs has no busybox (klibc tools only: no cp,
 * tar, du, find), so the RAM boot brings its own:
 *
 *   img-ramcopy size DIR...      bytes DIR's trees take on one filesystem
 *                                (allocated blocks, as tmpfs will need)
 *   img-ramcopy copy SRC DST     copy the tree SRC into the directory DST,
 *                                staying on SRC's filesystem, keeping
 *                                owners, modes, times, hard links,
 *                                symlinks, device nodes, fifos, sockets,
 *                                holes and extended attributes (file
 *                                capabilities, SELinux labels, ACLs)
 *   img-ramcopy unpack ARCHIVE DST
 *                                extract a pax tar (raw, gzip or zstd)
 *                                into the directory DST, keeping the same
 *                                (GNU tar's sparse 1.0 files as holes,
 *                                xattrs as SCHILY.xattr records), never
 *                                writing outside DST
 *   img-ramcopy archive-size ARCHIVE   bytes the tree in an img-ramify
 *                                archive takes in a tmpfs (its first header)
 *   img-ramcopy meminfo          MemTotal and MemAvailable, in bytes
 *
 * Output is one line of KEY=VALUE words for a shell to read; errors are
 * one line on stderr and exit status 1 (2 for usage).  Statically linked
 * and dependent on nothing in the initramfs.
 *
 * This file holds the commands and main; the copy is in ramcopy-copy.c,
 * the tar reader in ramcopy-stream.c (bytes, headers) and
 * ramcopy-unpack.c (members), with ramcopy.h between them.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fdio.h"
#include "ramcopy.h"

void
die (const char *fmt, ...)
{
  va_list ap;

  fputs (PROG ": ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

/* ---- meminfo ---------------------------------------------------------- */

static int
meminfo (void)
{
  FILE *f = fopen ("/proc/meminfo", "re");
  char line[256];
  unsigned long long total = 0, avail = 0, v;

  if (f == NULL)
    die ("/proc/meminfo: %s", strerror (errno));
  while (fgets (line, sizeof line, f)) {
    if (sscanf (line, "MemTotal: %llu kB", &v) == 1)
      total = v * 1024;
    else if (sscanf (line, "MemAvailable: %llu kB", &v) == 1)
      avail = v * 1024;
  }
  fclose (f);
  if (total == 0)
    die ("/proc/meminfo: no MemTotal");
  printf ("total=%llu available=%llu\n", total, avail);
  return 0;
}

/* What img-ramify recorded in the archive's first member, a pax global
 * header: "comment=img-ramify tmpfs-bytes=N".  Reads one or two blocks
 * only, so the boot can size its tmpfs before unpacking. */
static void
archive_size (const char *archive)
{
  static const char key[] = "img-ramify tmpfs-bytes=";
  struct unpack u = { .archive = archive, .cache_fd = -1, .dstfd = -1 };
  unsigned char blk[TAR_BLOCK];
  char *data, *p, *end;
  uint64_t size = 0;
  size_t i;

  stream_open (&u, archive);
  if (stream_read (&u, blk, TAR_BLOCK) < TAR_BLOCK || blk[156] != 'g')
    udie (&u, "no img-ramify global header (not made by img-ramify --archive)");
  for (i = 124; i < 136 && blk[i] >= '0' && blk[i] <= '7'; i++)
    size = size * 8 + (uint64_t) (blk[i] - '0');
  if (size == 0 || size > 65536)
    udie (&u, "corrupt global header");
  data = xmalloc ((size_t) size + 1);
  if (stream_read (&u, data, (size_t) size) < size)
    udie (&u, "truncated at byte %" PRIu64, u.pos);
  data[size] = '\0';
  for (p = data, end = data + size; p < end; p++)
    if (strncmp (p, key, sizeof key - 1) == 0) {
      uint64_t v = 0;
      for (p += sizeof key - 1; p < end && *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t) (*p - '0');
      printf ("bytes=%" PRIu64 "\n", v);
      free (data);
      unpack_free (&u);
      return;
    }
  udie (&u, "no img-ramify size in the global header");
}

static void
usage (void)
{
  fprintf (stderr, "usage: " PROG " size DIR...\n"
           "       " PROG " copy SRC DST\n"
           "       " PROG " unpack ARCHIVE DST\n"
           "       " PROG " archive-size ARCHIVE\n"
           "       " PROG " meminfo\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  struct totals t = { 0 };
  struct stat st;
  int i;

  if (argc < 2)
    usage ();
  if (strcmp (argv[1], "meminfo") == 0 && argc == 2)
    return meminfo ();
  if (strcmp (argv[1], "size") == 0 && argc >= 3) {
    for (i = 2; i < argc; i++) {
      if (lstat (argv[i], &st) < 0)
        die ("%s: %s", argv[i], strerror (errno));
      size_tree (argv[i], st.st_dev, 0, &t);
    }
    printf ("bytes=%" PRIu64 " apparent=%" PRIu64 " files=%" PRIu64 " dirs=%" PRIu64
            " symlinks=%" PRIu64 " others=%" PRIu64 " hardlinks=%" PRIu64 " mounts_skipped=%" PRIu64 "\n",
            t.bytes, t.apparent, t.files, t.dirs, t.links, t.others, t.hardlinks, t.skipped_mounts);
    return 0;
  }
  if (strcmp (argv[1], "copy") == 0 && argc == 4) {
    struct stat dst;
    if (lstat (argv[2], &st) < 0 || !S_ISDIR (st.st_mode))
      die ("%s: not a directory", argv[2]);
    if (lstat (argv[3], &dst) < 0 || !S_ISDIR (dst.st_mode))
      die ("%s: not a directory", argv[3]);
    umask (0);
    copy_tree (argv[2], argv[3], st.st_dev, 0, true, &t);
    printf ("bytes=%" PRIu64 " apparent=%" PRIu64 " files=%" PRIu64 " dirs=%" PRIu64
            " symlinks=%" PRIu64 " others=%" PRIu64 " hardlinks=%" PRIu64 " mounts_skipped=%" PRIu64
            " xattrs_skipped=%" PRIu64 "\n", t.bytes, t.apparent, t.files, t.dirs, t.links, t.others,
            t.hardlinks, t.skipped_mounts, xattrs_skipped);
    report_skipped ();
    return 0;
  }
  if (strcmp (argv[1], "archive-size") == 0 && argc == 3) {
    archive_size (argv[2]);
    return 0;
  }
  if (strcmp (argv[1], "unpack") == 0 && argc == 4) {
    unpack (argv[2], argv[3]);
    return 0;
  }
  usage ();
  return 2;
}
