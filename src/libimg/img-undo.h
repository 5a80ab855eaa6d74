/* libimg undo records: a block-level write-ahead log of the bytes a run
 * overwrites, kept through the disk write hook (disk floor), and the
 * rollback that puts them back.  Conventions as in libimg.h: 0 or
 * -errno, one error message recorded in the context, destructors accept
 * NULL.
 */
#ifndef LIBIMG_IMG_UNDO_H
#define LIBIMG_IMG_UNDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The undo file keeps, for every 4 KiB chunk of the image's (virtual)
 * disk that a run writes, the chunk's bytes before the first write,
 * appended and fdatasync'd before that write is let through (write-ahead).
 * Format, all integers little-endian:
 *
 *   header   "IMGUNDO1" u32 version(1) u32 header_len u32 chunk_size
 *            u32 n_disks u64 created(unix seconds), then per disk:
 *            u64 size, char format[16] (NUL padded), u32 path_len, path
 *            bytes; then u32 CRC-32 of everything before it.
 *   records  u32 magic "UREC", u32 type, u32 disk, u32 flags, u64 offset,
 *            u32 length, u32 payload_len, u32 payload_crc, u32 head_crc
 *            (CRC-32 of the 36 bytes before it), then the payload.
 *     type 1 DATA: LENGTH original bytes at OFFSET of disk DISK; flag 1
 *            (ZERO) means they were all zeros and there is no payload.
 *     type 2 STATE: OFFSET holds enum img_undo_state.
 *     type 3 POST: payload = entries {u32 disk, u64 offset, u32 crc} of
 *            every chunk as the run left it (checked by a rollback).
 *
 * Records are only appended.  A record that is cut short or fails its
 * CRCs (a run killed while appending) ends the log: its image write never
 * happened, so ignoring it is right.  The state is the last STATE record
 * (RUNNING if none).  A rollback writes back the DATA records (the first
 * write to each chunk only, so their order does not matter), flushes and
 * appends STATE rolled-back.  For raw images the result is byte-identical;
 * for qcow2 and other formats the virtual disk is identical, though the
 * container may keep clusters it allocated (qemu-img compare says equal).
 */
enum img_undo_state {
  IMG_UNDO_RUNNING = 1,         /* a run is writing, or died doing so */
  IMG_UNDO_COMPLETE = 2,        /* the last run finished */
  IMG_UNDO_ROLLED_BACK = 3,     /* the image was restored */
};

#define IMG_UNDO_CHUNK 4096
#define IMG_UNDO_SUFFIX ".img-tools-undo"

struct img_undo;

/* Starts recording the writes to DISKS (as opened by img_guest_open; they
 * must not have been written yet) into the undo file PATH.  The file is
 * created lazily, at the first write (it appears under its name whole
 * and locked by this run), so a run that writes
 * nothing leaves no file.  With APPEND, an existing file in state
 * complete whose disks match continues to be used: this run's records
 * follow a STATE running record (one "run" per such record), and a full
 * rollback undoes every run since the file was created.  The image must
 * still be as the last run left it (checked against the POST record,
 * -ESTALE otherwise).  An existing file in any other case is refused
 * (-EEXIST).
 * The caller owns *undo and must keep it until the disks are closed. */
int img_undo_begin (struct img_ctx *ctx, const char *path,
                    struct img_disk *const *disks, size_t n_disks,
                    bool append, struct img_undo **undo);
/* On DISKS, still open (and flushed): records the state of the written
 * chunks (POST) and marks the file complete.  The images stay locked
 * from the first read to the commit, with no window for another writer. */
int img_undo_commit_disks (struct img_undo *undo, struct img_disk *const *disks,
                           size_t n_disks);
/* Frees; the file stays as it is. */
void img_undo_free (struct img_undo *undo);
/* Bytes of the image saved by this run; whether this run wrote at all. */
uint64_t img_undo_bytes (const struct img_undo *undo);
bool img_undo_written (const struct img_undo *undo);
const char *img_undo_path (const struct img_undo *undo);

/* Reads the state of the undo file PATH: *state gets the state; -ENOENT
 * if there is none.  A file cut short while its header was being written
 * gives *state 0 (no image byte was written under it). */
int img_undo_state (struct img_ctx *ctx, const char *path, int *state);
const char *img_undo_state_name (int state);

/* Removes the undo file PATH once it is no longer needed: one rolled
 * back, or one whose run stopped before its first write.  Under the
 * file's lock, so that a run still going keeps its record: -EBUSY then.
 * -EEXIST (nothing removed) for a record that still restores something
 * (running or complete); 0 when removed or when there was none. */
int img_undo_discard (struct img_ctx *ctx, const char *path);

enum {
  /* Roll back even when the image changed after the run completed
   * (without it: -ESTALE, nothing written). */
  IMG_UNDO_FORCE = 1,
  /* Undo only the last run, which must be one that did not complete (a
   * failure, a kill): the image goes back to how the run before left it
   * and the file to state complete (or rolled-back if it was the first). */
  IMG_UNDO_LAST_RUN = 2,
};
/* Restores the image(s) recorded in the undo file PATH.  IMAGES (N_IMAGES
 * of them) override the paths stored in the file, for an image that was
 * moved; NULL uses those.  Each disk must have the recorded size and
 * format (-EINVAL otherwise).  An undo file already rolled back is left
 * alone (returns 1), as is one whose run stopped before its first write;
 * 0 after a rollback.  Non-raw images are checked with
 * `qemu-img check` afterwards. */
int img_undo_rollback (struct img_ctx *ctx, const char *path,
                       const char *const *images, size_t n_images,
                       unsigned flags);

#ifdef __cplusplus
}
#endif

#endif /* LIBIMG_IMG_UNDO_H */
