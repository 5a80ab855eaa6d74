/* Rolling back from an undo file: the first record of each chunk is
 * written back, from the last run only or from every run, after checks
 * that the file is to be trusted and the image is as the run left it. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/fdio.h"
#include "disk/undo-private.h"

/* ---- rolling back ----------------------------------------------------- */

struct rb {
  struct img_ctx *ctx;
  const char *path;
  struct img_disk **disks;
  struct keyset done;
  uint32_t from_seg;
  unsigned char zero[IMG_UNDO_CHUNK];
  uint64_t bytes;
};

static int
apply_record (void *data, uint32_t seg, uint32_t disk, uint32_t flags,
              uint64_t offset, uint32_t length, const unsigned char *payload)
{
  struct rb *rb = data;
  uint64_t k = KEY (disk, offset / IMG_UNDO_CHUNK);
  int r;

  if (seg < rb->from_seg)
    return 0;
  /* Only the first record of a chunk holds its original bytes. */
  if (img_internal_undo_keyset_has (&rb->done, k))
    return 0;
  r = img_disk_pwrite (rb->disks[disk],
                       (flags & REC_FLAG_ZERO) ? rb->zero : payload,
                       length, offset);
  if (r < 0)
    return r;
  rb->bytes += length;
  if (img_internal_undo_keyset_add (&rb->done, k) < 0)
    return img_err (rb->ctx, -ENOMEM, "%s: undo: out of memory", rb->path);
  return 0;
}

/* `qemu-img check` on a non-raw image after we wrote it, under the
 * disk's pinned name (SPEC): it opens no file the open did not allow. */
static int
qemu_img_check (struct img_ctx *ctx, const char *image, const char *spec)
{
  const char *argv[] = { QEMU_IMG, "check", "-q", "--", spec, NULL };
  char out[1024], err[1024];
  int status;

  status = img_internal_run_capture (argv, out, sizeof out, err, sizeof err);
  if (status < 0 || (WIFEXITED (status) && WEXITSTATUS (status) == 127)) {
    img_warn (ctx, "%s: undo: cannot run qemu-img check", image);
    return 0;
  }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 3) {
    img_warn (ctx, "%s: undo: qemu-img check found leaked clusters (harmless; `qemu-img check -r leaks` reclaims them)", image);
    return 0;
  }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return img_err (ctx, -EIO, "%s: undo: qemu-img check reports errors after the rollback", image);
  return 0;
}

/* An undo file says what to write where: only one the caller (or root)
 * owns, that nobody else may write, is trusted with that. */
static int
check_undo_file (struct img_ctx *ctx, const char *path, int fd)
{
  struct stat st, lst;

  if (fstat (fd, &st) == -1)
    return img_err (ctx, -errno, "%s: undo: cannot stat: %m", path);
  if (lstat (path, &lst) == -1 || S_ISLNK (lst.st_mode))
    return img_err (ctx, -EPERM, "%s: undo: is a symlink; refusing it", path);
  if (!S_ISREG (st.st_mode))
    return img_err (ctx, -EPERM, "%s: undo: not a regular file; refusing it", path);
  if (st.st_uid != geteuid () && st.st_uid != 0)
    return img_err (ctx, -EPERM, "%s: undo: owned by uid %u, not by you; refusing it",
                    path, (unsigned) st.st_uid);
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return img_err (ctx, -EPERM, "%s: undo: group or world writable; refusing it", path);
  return 0;
}

int
img_undo_rollback (struct img_ctx *ctx, const char *path,
                   const char *const *images, size_t n_images,
                   unsigned flags)
{
  struct img_disk *disks[MAX_DISKS] = { NULL };
  char *specs[MAX_DISKS] = { NULL };
  struct ufile f;
  struct rb *rb = NULL;
  struct buf b = { 0 };
  uint32_t from_seg;
  size_t i;
  int r, r2;

  r = img_internal_undo_ufile_read (ctx, path, O_RDWR, &f, NULL, NULL);
  if (r == -ENOENT)
    return img_err (ctx, r, "%s: undo: no such undo file", path);
  if (r < 0)
    return r;
  if (f.state == 0) {
    img_info (ctx, "%s: undo: the run stopped before its first write; the image was never changed", path);
    r = 1;
    goto out;
  }
  if (f.state == IMG_UNDO_ROLLED_BACK) {
    img_info (ctx, "%s: undo: already rolled back", path);
    r = 1;
    goto out;
  }
  if ((flags & IMG_UNDO_LAST_RUN) && f.state != IMG_UNDO_RUNNING) {
    r = img_err (ctx, -EINVAL, "%s: undo: the last run completed; only a full rollback is possible", path);
    goto out;
  }
  from_seg = (flags & IMG_UNDO_LAST_RUN) ? f.n_segments - 1 : 0;
  if (images && n_images != f.n_disks) {
    r = img_err (ctx, -EINVAL, "%s: undo: the undo file records %zu images, %zu given",
                 path, f.n_disks, n_images);
    goto out;
  }
  r = check_undo_file (ctx, path, f.fd);
  if (r < 0)
    goto out;
  for (i = 0; i < f.n_disks; i++) {
    /* The image as the record names it: its recorded format, never a
     * guess, and a regular file or block device, never a symlink. */
    struct img_disk_opts o = *img_internal_ctx_disk_opts (ctx);
    const char *img = images ? images[i] : f.disks[i].path;
    struct stat lst;

    if (lstat (img, &lst) == -1) {
      r = img_err (ctx, -errno, "%s: undo: %s: %m", path, img);
      goto out;
    }
    if (!S_ISREG (lst.st_mode) && !S_ISBLK (lst.st_mode)) {
      r = img_err (ctx, -EPERM, "%s: undo: %s is not a regular file or block device (a symlink?); refusing to write to it",
                   path, img);
      goto out;
    }
    o.format = f.disks[i].format;
    if (!img_internal_format_known (o.format)) {
      r = img_err (ctx, -EINVAL, "%s: undo: corrupt header (format)", path);
      goto out;
    }
    r = img_disk_open_opts (ctx, img, IMG_DISK_RDWR, &o, &disks[i]);
    if (r < 0)
      goto out;
    if (img_disk_qemu_name (disks[i])
        && (specs[i] = strdup (img_disk_qemu_name (disks[i]))) == NULL) {
      r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
      goto out;
    }
    r = img_internal_undo_check_identity (ctx, path, &f.disks[i], disks[i]);
    if (r < 0)
      goto out;
  }
  if (f.state == IMG_UNDO_COMPLETE && f.post && !(flags & IMG_UNDO_FORCE)) {
    r = img_internal_undo_verify_post (ctx, path, disks, f.n_disks, f.post,
                                       f.post_len);
    if (r < 0)
      goto out;
  }
  img_internal_undo_ufile_free (&f);

  rb = calloc (1, sizeof *rb);
  if (rb == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto out;
  }
  rb->ctx = ctx;
  rb->path = path;
  rb->disks = disks;
  rb->from_seg = from_seg;
  r = img_internal_undo_ufile_read (ctx, path, O_RDWR, &f, apply_record, rb);
  if (r < 0)
    goto out;
  for (i = 0; i < f.n_disks; i++) {
    r2 = img_disk_close (disks[i]);
    disks[i] = NULL;
    if (r2 < 0 && r == 0)
      r = r2;
  }
  if (r < 0)
    goto out;
  img_dbg (ctx, "%s: undo: restored %" PRIu64 " bytes", path, rb->bytes);
  for (i = 0; i < f.n_disks; i++) {
    const char *img = images ? images[i] : f.disks[i].path;
    if (specs[i] && (r = qemu_img_check (ctx, img, specs[i])) < 0)
      goto out;
  }
  /* Only now is the image as it was: say so, durably, after the torn
   * tail if any (cut off so the record is found). */
  if ((f.end < f.file_size && ftruncate (f.fd, f.end) == -1)
      || lseek (f.fd, f.end, SEEK_SET) == -1) {
    r = img_err (ctx, -errno, "%s: undo: cannot update the undo file: %m", path);
    goto out;
  }
  /* Undoing the last of several runs leaves the image as the one before
   * left it, which the last POST record describes. */
  if (img_internal_undo_rec_add (&b, REC_STATE, 0, 0,
                                 from_seg > 0 ? IMG_UNDO_COMPLETE : IMG_UNDO_ROLLED_BACK,
                                 0, NULL, 0) < 0) {
    r = img_err (ctx, -ENOMEM, "%s: undo: out of memory", path);
    goto out;
  }
  r = img_internal_write_all (f.fd, b.p, b.len);
  if (r == 0 && fdatasync (f.fd) == -1)
    r = -errno;
  if (r < 0)
    img_err (ctx, r, "%s: undo: cannot update the undo file: %s", path,
             strerror (-r));

 out:
  for (i = 0; i < MAX_DISKS; i++) {
    img_disk_close (disks[i]);
    free (specs[i]);
  }
  if (rb)
    img_internal_undo_keyset_free (&rb->done);
  free (rb);
  free (b.p);
  img_internal_undo_ufile_free (&f);
  return r;
}
