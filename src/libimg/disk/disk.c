/* The disk layer: a byte-addressable image.  Raw files and block devices
 * are read and written with pread/pwrite; every other format qemu reads
 * goes through a qemu-nbd we start and libnbd (nbd.c).  The format is the
 * caller's; only when none is given is it guessed from magic bytes (our
 * table, never qemu's probing).  What a container names besides itself is
 * checked before qemu opens it (container.c). */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"
#include "disk/disk-private.h"

struct img_disk {
  struct img_ctx *ctx;
  char *name;
  const char *format;
  bool format_guessed;
  char *qemu_name;              /* pinned json: name for qemu tools */
  char *qemu_shared_name;       /* the same, unlocked, for a second reader */
  char **chain;                 /* resolved backing/data files */
  size_t n_chain;
  int fd;                       /* raw backend */
  int lock_fd;                  /* holds our run lock when fd is closed (nbd) */
  struct img_nbd *nbd;          /* every other format */
  uint64_t size;
  bool writable;
  bool blockdev;
  img_disk_write_hook write_hook;  /* called before each write (undo.c) */
  void *write_hook_data;
  img_internal_batch_hook batch_hook;  /* img_internal_disk_will_write's (undo.c) */
  void *batch_hook_data;
  bool written;                 /* a write has reached the image */
  bool unflushed;               /* ... and no flush since */
};

/* Magic numbers of the container formats qemu knows.  Everything else,
 * including LUKS (a volume inside a guest, not a container we open) and
 * fixed VHD (raw data with a footer), is treated as raw. */
const char *
img_disk_detect_format (const unsigned char *buf, size_t len)
{
  static const struct { size_t off; const char *magic; size_t mlen; const char *fmt; } tab[] = {
    { 0, "QED\0", 4, "qed" },
    { 0, "KDMV", 4, "vmdk" },
    { 0, "COWD", 4, "vmdk" },
    { 0, "# Disk DescriptorFile", 21, "vmdk" },
    { 0, "vhdxfile", 8, "vhdx" },
    { 0, "conectix", 8, "vpc" },
    { 0, "WithoutFreeSpace", 16, "parallels" },
    { 0, "WithouFreSpacExt", 16, "parallels" },
    { 0, "Bochs Virtual HD Image", 22, "bochs" },
    { 0, "#!/bin/sh\n#V2.0 Format\n", 23, "cloop" },
  };
  size_t i;

  if (len >= 8 && memcmp (buf, "QFI\xfb", 4) == 0)
    return get_be32 (buf + 4) == 1 ? "qcow" : "qcow2";
  for (i = 0; i < ARRAY_SIZE (tab); i++)
    if (len >= tab[i].off + tab[i].mlen
        && memcmp (buf + tab[i].off, tab[i].magic, tab[i].mlen) == 0)
      return tab[i].fmt;
  if (len >= 68 && get_le32 (buf + 64) == 0xbeda107fU)
    return "vdi";
  return "raw";
}

/* qemu's file-posix driver takes OFD locks on bytes 100+ (permissions
 * held) and 200+ (permissions not shared).  For a writer, any lock there
 * means a qemu process (a running VM, qemu-img, qemu-nbd, or one of our
 * readers, which take a reader's bytes) has the image open.  A reader
 * shares the image with other readers: it is refused only by one that
 * holds the write permission or does not share consistent reads. */
#define QEMU_LOCK_PERM_BASE 100
#define QEMU_LOCK_SHARED_BASE 200
#define QEMU_PERM_CONSISTENT_READ 0
#define QEMU_PERM_WRITE 1

/* Whether another open file description holds a lock on LEN bytes from
 * START (false where OFD locks do not work, e.g. some network fs). */
static bool
qemu_lock_held (int fd, off_t start, off_t len)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

  return fcntl (fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

static int
qemu_lock_check (struct img_disk *disk)
{
  bool busy;

  if (disk->writable)
    busy = qemu_lock_held (disk->fd, QEMU_LOCK_PERM_BASE, 200);
  else
    busy = qemu_lock_held (disk->fd, QEMU_LOCK_PERM_BASE + QEMU_PERM_WRITE, 1)
      || qemu_lock_held (disk->fd, QEMU_LOCK_SHARED_BASE + QEMU_PERM_CONSISTENT_READ, 1);
  if (busy)
    return img_err (disk->ctx, -EBUSY,
                    "%s: disk: image is in use by another process (a qemu lock is held); shut the VM down first",
                    disk->name);
  return 0;
}

/* Takes the locks a qemu reader (or writer) would, so that a VM started
 * while we work refuses the image instead of corrupting it. */
static void
qemu_lock_take (struct img_disk *disk)
{
  int bytes[4], n = 0, i;

  bytes[n++] = QEMU_LOCK_PERM_BASE + QEMU_PERM_CONSISTENT_READ;
  bytes[n++] = QEMU_LOCK_SHARED_BASE + QEMU_PERM_WRITE;
  if (disk->writable) {
    bytes[n++] = QEMU_LOCK_PERM_BASE + QEMU_PERM_WRITE;
    bytes[n++] = QEMU_LOCK_SHARED_BASE + QEMU_PERM_CONSISTENT_READ;
  }
  for (i = 0; i < n; i++) {
    struct flock fl = {
      .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = bytes[i], .l_len = 1,
    };
    if (fcntl (disk->fd, F_OFD_SETLK, &fl) == -1)
      img_dbg (disk->ctx, "%s: disk: could not take qemu lock byte %d: %m",
               disk->name, bytes[i]);
  }
}

/* Our own runs exclude each other with flock(2) on the image itself,
 * taken and tested in one step: exclusive for a writer, shared for a
 * reader.  (qemu's byte locks below are tested and taken in two steps,
 * which two of our runs started together could both pass.)  flock and
 * qemu's OFD locks do not interact on Linux. */
static int
run_lock (struct img_disk *disk)
{
  if (flock (disk->fd, (disk->writable ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
    return 0;
  if (errno == EWOULDBLOCK)
    return img_err (disk->ctx, -EBUSY,
                    "%s: disk: image is in use by another process (another img-tools run); wait for it to finish",
                    disk->name);
  img_dbg (disk->ctx, "%s: disk: cannot flock: %m", disk->name);
  return 0;                     /* e.g. a file system without flock */
}

/* A loop device whose backing file is this image: another writer the
 * qemu locks do not show.  /sys/block/loopN/loop/backing_file names the
 * file; we compare device and inode, not names. */
static int
loop_check (struct img_disk *disk, const struct stat *st)
{
  DIR *d = opendir ("/sys/block");
  struct dirent *de;
  int r = 0;

  if (d == NULL)
    return 0;
  while (r == 0 && (de = readdir (d)) != NULL) {
    char p[PATH_MAX], name[PATH_MAX];
    struct stat bst;
    FILE *fp;
    size_t len;

    if (strncmp (de->d_name, "loop", 4) != 0)
      continue;
    snprintf (p, sizeof p, "/sys/block/%s/loop/backing_file", de->d_name);
    if ((fp = fopen (p, "re")) == NULL)
      continue;
    len = fread (name, 1, sizeof name - 1, fp);
    fclose (fp);
    name[len] = '\0';
    while (len > 0 && name[len - 1] == '\n')
      name[--len] = '\0';
    /* A deleted backing file reads "NAME (deleted)": no match either way. */
    if (stat (name, &bst) == 0 && bst.st_dev == st->st_dev && bst.st_ino == st->st_ino)
      r = img_err (disk->ctx, -EBUSY,
                   "%s: disk: image is in use by another process (attached to /dev/%s); detach it first",
                   disk->name, de->d_name);
  }
  closedir (d);
  return r;
}

static void
disk_free (struct img_disk *disk)
{
  size_t i;

  for (i = 0; i < disk->n_chain; i++)
    free (disk->chain[i]);
  free (disk->chain);
  free (disk->qemu_name);
  free (disk->qemu_shared_name);
  free (disk->name);
  free (disk);
}

int
img_disk_open (struct img_ctx *ctx, const char *path, int flags,
               struct img_disk **diskp)
{
  return img_disk_open_opts (ctx, path, flags, NULL, diskp);
}

int
img_disk_open_opts (struct img_ctx *ctx, const char *path, int flags,
                    const struct img_disk_opts *opts, struct img_disk **diskp)
{
  struct img_disk *disk;
  struct stat st;
  unsigned char head[512];
  ssize_t n;
  int r;

  if (opts == NULL)
    opts = img_internal_ctx_disk_opts (ctx);
  if (opts->format && !img_internal_format_known (opts->format))
    return img_err (ctx, -EINVAL, "%s: disk: unknown image format '%.64s' (raw, qcow2, qcow, qed, vmdk, vhdx, vpc, vdi, parallels, bochs, cloop, dmg)",
                    path, opts->format);

  disk = calloc (1, sizeof *disk);
  if (disk == NULL)
    return img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
  disk->ctx = ctx;
  disk->fd = -1;
  disk->lock_fd = -1;
  disk->writable = (flags & IMG_DISK_RDWR) != 0;
  disk->name = strdup (path);
  if (disk->name == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
    goto err_free;
  }

  disk->fd = open (path, (disk->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  /* A block device: O_EXCL fails while anyone (a mount, device-mapper,
   * another exclusive opener) holds it; we keep it open exclusively. */
  if (disk->fd >= 0 && fstat (disk->fd, &st) == 0 && S_ISBLK (st.st_mode)) {
    int efd = open (path, (disk->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_EXCL);
    if (efd == -1 && errno == EBUSY) {
      r = img_err (ctx, -EBUSY, "%s: disk: image is in use by another process (the block device is held); refusing", path);
      goto err_close;
    }
    if (efd >= 0) {
      close (disk->fd);
      disk->fd = efd;
    }
  }
  if (disk->fd == -1) {
    r = -errno;
    img_err (ctx, r, "%s: disk: cannot open: %s", path, strerror (-r));
    goto err_free;
  }
  if (fstat (disk->fd, &st) == -1) {
    r = -errno;
    img_err (ctx, r, "%s: disk: cannot stat: %s", path, strerror (-r));
    goto err_close;
  }
  if (S_ISBLK (st.st_mode)) {
    disk->blockdev = true;
    if (ioctl (disk->fd, BLKGETSIZE64, &disk->size) == -1) {
      r = -errno;
      img_err (ctx, r, "%s: disk: cannot get the device size: %s", path,
               strerror (-r));
      goto err_close;
    }
  }
  else if (S_ISREG (st.st_mode))
    disk->size = st.st_size;
  else {
    r = img_err (ctx, -EINVAL, "%s: disk: not a file or a block device", path);
    goto err_close;
  }

  r = run_lock (disk);
  if (r < 0)
    goto err_close;
  r = qemu_lock_check (disk);
  if (r < 0)
    goto err_close;
  if (!disk->blockdev && (r = loop_check (disk, &st)) < 0)
    goto err_close;

  memset (head, 0, sizeof head);
  n = pread (disk->fd, head, sizeof head, 0);
  if (n == -1) {
    r = -errno;
    img_err (ctx, r, "%s: disk: cannot read: %s", path, strerror (-r));
    goto err_close;
  }
  if (opts->format)
    disk->format = opts->format;
  else {
    disk->format = img_disk_detect_format (head, n);
    disk->format_guessed = true;
  }
  img_dbg (ctx, "%s: disk: format %s (%s), %s", path, disk->format,
           disk->format_guessed ? "guessed from its magic bytes; use --format to set it" : "given",
           disk->blockdev ? "block device" : "file");
  /* FORMAT is the caller's string: keep a name from our own table. */
  {
    static const char *const names[] = {
      "raw", "qcow2", "qcow", "qed", "vmdk", "vhdx", "vpc", "vdi",
      "parallels", "bochs", "cloop", "dmg",
    };
    size_t i;
    for (i = 0; i < ARRAY_SIZE (names); i++)
      if (strcmp (disk->format, names[i]) == 0)
        disk->format = names[i];
  }

  if (strcmp (disk->format, "raw") == 0) {
    /* Taken, then tested again: a qemu that started since the first
     * test sees ours, or we see its (both may refuse, never both go on). */
    qemu_lock_take (disk);
    r = qemu_lock_check (disk);
    if (r < 0)
      goto err_close;
    *diskp = disk;
    return 0;
  }

  /* Before any qemu opens it: what the image names besides itself. */
  r = img_internal_container_check (ctx, path, disk->format, disk->blockdev,
                                    head, n, opts->allow_backing,
                                    &disk->qemu_name, &disk->qemu_shared_name,
                                    &disk->chain, &disk->n_chain);
  if (r < 0)
    goto err_close;

  /* qemu-nbd opens and locks the image itself; our descriptor stays
   * open only to hold the run lock. */
  disk->lock_fd = disk->fd;
  disk->fd = -1;
  r = img_internal_nbd_start (ctx, path, disk->format, disk->qemu_name,
                              disk->writable, &disk->nbd, &disk->size);
  if (r < 0)
    goto err_close;
  *diskp = disk;
  return 0;

 err_close:
  if (disk->fd >= 0)
    close (disk->fd);
  if (disk->lock_fd >= 0)
    close (disk->lock_fd);
 err_free:
  disk_free (disk);
  return r;
}

int
img_disk_flush (struct img_disk *disk)
{
  int r;

  /* Nothing written since the last flush: nothing for a barrier to order
   * (over qemu-nbd, each costs the format's fdatasyncs). */
  if (!disk->writable || !disk->unflushed)
    return 0;
  if (disk->nbd)
    r = img_internal_nbd_flush (disk->nbd);
  else if (fdatasync (disk->fd) == -1) {
    r = -errno;
    return img_err (disk->ctx, r, "%s: disk: flush failed: %s", disk->name,
                    strerror (-r));
  }
  else
    r = 0;
  if (r == 0)
    disk->unflushed = false;
  return r;
}

int
img_disk_close (struct img_disk *disk)
{
  int r = 0, r2;

  if (disk == NULL)
    return 0;
  if (disk->writable)
    r = img_disk_flush (disk);
  if (disk->nbd) {
    r2 = img_internal_nbd_stop (disk->nbd);
    if (r == 0)
      r = r2;
  }
  if (disk->fd >= 0 && close (disk->fd) == -1 && r == 0)
    r = img_err (disk->ctx, -errno, "%s: disk: close failed: %m", disk->name);
  if (disk->lock_fd >= 0)
    close (disk->lock_fd);
  disk_free (disk);
  return r;
}

static int
check_range (struct img_disk *disk, size_t len, uint64_t offset)
{
  uint64_t end;

  if (add_overflow_u64 (offset, len, &end) || end > disk->size)
    return img_err (disk->ctx, -EIO,
                    "%s: disk: image is truncated: read of %zu bytes at offset %" PRIu64 " is past its end (%" PRIu64 " bytes)",
                    disk->name, len, offset, disk->size);
  return 0;
}

int
img_disk_pread (struct img_disk *disk, void *buf, size_t len, uint64_t offset)
{
  unsigned char *p = buf;
  int r;

  r = check_range (disk, len, offset);
  if (r < 0)
    return r;
  if (disk->nbd)
    return img_internal_nbd_pread (disk->nbd, buf, len, offset);
  while (len > 0) {
    ssize_t n = pread (disk->fd, p, len, offset);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      r = -errno;
      return img_err (disk->ctx, r, "%s: disk: read at offset %" PRIu64 " failed: %s",
                      disk->name, offset, strerror (-r));
    }
    if (n == 0)                 /* shrank under us */
      return img_err (disk->ctx, -EIO,
                      "%s: disk: image is truncated at offset %" PRIu64,
                      disk->name, offset);
    p += n;
    len -= n;
    offset += n;
  }
  return 0;
}

int
img_disk_pwrite (struct img_disk *disk, const void *buf, size_t len,
                 uint64_t offset)
{
  const unsigned char *p = buf;
  int r;

  if (!disk->writable)
    return img_err (disk->ctx, -EROFS, "%s: disk: opened read-only",
                    disk->name);
  r = check_range (disk, len, offset);
  if (r < 0)
    return r;
  if (disk->write_hook) {
    r = disk->write_hook (disk->write_hook_data, disk, offset, len);
    if (r < 0)
      return r;
  }
  disk->written = true;
  disk->unflushed = true;
  if (disk->nbd)
    return img_internal_nbd_pwrite (disk->nbd, buf, len, offset);
  while (len > 0) {
    ssize_t n = pwrite (disk->fd, p, len, offset);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      r = -errno;
      return img_err (disk->ctx, r, "%s: disk: write at offset %" PRIu64 " failed: %s",
                      disk->name, offset, strerror (-r));
    }
    p += n;
    len -= n;
    offset += n;
  }
  return 0;
}

int
img_disk_set_write_hook (struct img_disk *disk, img_disk_write_hook fn,
                         void *data)
{
  if (fn && disk->written)
    return img_err (disk->ctx, -EBUSY,
                    "%s: disk: a write hook must be set before the first write",
                    disk->name);
  disk->write_hook = fn;
  disk->write_hook_data = data;
  return 0;
}

int
img_internal_disk_set_batch_hook (struct img_disk *disk, img_internal_batch_hook fn,
                         void *data)
{
  if (fn && disk->written)
    return img_err (disk->ctx, -EBUSY,
                    "%s: disk: a write hook must be set before the first write",
                    disk->name);
  disk->batch_hook = fn;
  disk->batch_hook_data = data;
  return 0;
}

int
img_internal_disk_will_write (struct img_disk *disk, const struct img_internal_range *ranges,
                     size_t n)
{
  size_t i;
  int r;

  if (n == 0)
    return 0;
  if (!disk->writable)
    return img_err (disk->ctx, -EROFS, "%s: disk: opened read-only",
                    disk->name);
  for (i = 0; i < n; i++) {
    if (ranges[i].len > SIZE_MAX)
      return img_err (disk->ctx, -EIO,
                      "%s: disk: a write of %" PRIu64 " bytes is too long",
                      disk->name, ranges[i].len);
    r = check_range (disk, ranges[i].len, ranges[i].offset);
    if (r < 0)
      return r;
  }
  return disk->batch_hook ? disk->batch_hook (disk->batch_hook_data, disk,
                                              ranges, n) : 0;
}

uint64_t
img_disk_size (const struct img_disk *disk)
{
  return disk->size;
}

const char *
img_disk_format (const struct img_disk *disk)
{
  return disk->format;
}

const char *
img_disk_name (const struct img_disk *disk)
{
  return disk->name;
}

bool
img_disk_is_block_device (const struct img_disk *disk)
{
  return disk->blockdev;
}

bool
img_disk_is_writable (const struct img_disk *disk)
{
  return disk->writable;
}

struct img_ctx *
img_disk_ctx (const struct img_disk *disk)
{
  return disk->ctx;
}

bool
img_disk_format_guessed (const struct img_disk *disk)
{
  return disk->format_guessed;
}

size_t
img_disk_n_backing (const struct img_disk *disk)
{
  return disk->n_chain;
}

const char *
img_disk_backing (const struct img_disk *disk, size_t i)
{
  return i < disk->n_chain ? disk->chain[i] : NULL;
}

const char *
img_disk_qemu_name (const struct img_disk *disk)
{
  return disk->qemu_name;
}

int
img_internal_disk_qemu_shared_name (struct img_disk *disk, const char **name)
{
  int r;

  if (disk->qemu_shared_name == NULL && strcmp (disk->format, "raw") == 0
      && (r = img_internal_container_shared_raw (disk->ctx, disk->name, disk->blockdev,
                                                 &disk->qemu_shared_name)) < 0)
    return r;
  if (disk->qemu_shared_name == NULL)
    return img_err (disk->ctx, -EINVAL, "%s: disk: no name a second qemu can read the image under (its name does not resolve)",
                    disk->name);
  *name = disk->qemu_shared_name;
  return 0;
}
