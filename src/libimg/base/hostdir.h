/* libimg hostdir: where a guest-derived name meets the host file system.
 *
 * Names read from an image (modules.dep entries, initrd members, kernel
 * versions, boot file names) are hostile.  On the host they are only ever
 * used below a private directory made with mkdtemp (mode 0700), through
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
 * relative to that directory's fd, after a check that refuses empty and
 * absolute names, `.` and `..` components, NUL and control bytes and
 * overlong names.  The directory is removed by walking it with dirfds,
 * never following a symlink.
 *
 * Conventions as in libimg.h: 0 or -errno, one error message recorded in
 * the context ("WHAT: reason", WHAT naming the image and the layer, the
 * offending name terminal-escaped), destructors accept NULL.
 */
#ifndef LIBIMG_HOSTDIR_H
#define LIBIMG_HOSTDIR_H

#include <stddef.h>

#include "libimg.h"

#ifdef __cplusplus
extern "C" {
#endif

struct img_hostdir;

/* Checks NAME (LEN bytes) as a relative path below a host directory:
 * non-empty, not absolute, at most PATH_MAX - 1 bytes, no empty, `.` or
 * `..` component, no component longer than NAME_MAX, no NUL, no byte
 * below 0x20 nor 0x7f.  0, or -EPERM with the message
 * "WHAT: unsafe name \"NAME\" for a host file: REASON". */
int img_host_path_check (struct img_ctx *ctx, const char *what,
                         const char *name, size_t len);

/* Checks NAME as one file-name component from a conservative set
 * ([A-Za-z0-9._+~-], at most 128 bytes, not starting with `.` or `-`):
 * for a kernel version that becomes a path component and a program
 * argument, or a guest file name that becomes part of a host file name.
 * KIND says what it is ("kernel version").  0 or -EPERM (message
 * "WHAT: unsafe KIND \"NAME\": REASON"). */
int img_host_name_check (struct img_ctx *ctx, const char *what,
                         const char *kind, const char *name);

/* Writes NAME escaped for a terminal into OUT (OUTSZ bytes, NUL-ended):
 * control bytes, 0x7f, `"` and `\` as \xNN, longer names cut with "...".
 * Returns OUT. */
char *img_host_name_escape (const char *name, size_t len, char *out, size_t outsz);

/* Makes a private directory (mode 0700) under $TMPDIR or /tmp, named
 * PREFIX.XXXXXX.  The caller owns *OUT and frees it with
 * img_hostdir_free, which removes the directory and all in it. */
int img_hostdir_new (struct img_ctx *ctx, const char *prefix, struct img_hostdir **out);

/* Removes the directory and everything below it (never following a
 * symlink, never leaving its file system), then frees HD. */
void img_hostdir_free (struct img_hostdir *hd);

/* The directory's path (owned by HD), for a host program to work in. */
const char *img_hostdir_path (const struct img_hostdir *hd);

/* Opens NAME below HD with openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
 * | RESOLVE_NO_MAGICLINKS) after img_host_path_check.  Returns the fd
 * (the caller closes it) or -errno; the message names WHAT and NAME,
 * except for -ENOENT on an open without O_CREAT, which is silent. */
int img_hostdir_open (struct img_hostdir *hd, const char *what, const char *name,
                      int flags, unsigned mode);

/* mkdir -p NAME below HD, component by component (mkdirat relative to
 * dirfds that openat2 opened); an existing directory is fine, a symlink
 * or another file on the way is an error. */
int img_hostdir_mkdir_p (struct img_hostdir *hd, const char *what, const char *name,
                         unsigned mode);

/* Opens the regular file NAME below HD for writing (parents made as
 * needed), new (O_EXCL), or emptied if REPLACE and it is a regular file
 * there already.  Returns the fd (the caller closes it) or -errno. */
int img_hostdir_create (struct img_hostdir *hd, const char *what, const char *name,
                        unsigned mode, bool replace);

/* Creates the new regular file NAME below HD (parents made as needed,
 * O_CREAT | O_EXCL: never replaces anything) holding LEN bytes of BUF. */
int img_hostdir_write (struct img_hostdir *hd, const char *what, const char *name,
                       const void *buf, size_t len, unsigned mode);

/* Reads the regular file NAME below HD, at most MAX bytes (larger is
 * -EFBIG).  -ENOENT (silently) if it is not there.  The caller frees
 * *BUF (NUL-ended, for text). */
int img_hostdir_read (struct img_hostdir *hd, const char *what, const char *name,
                      size_t max, void **buf, size_t *len);

/* An unnamed file in HD (O_TMPFILE, read-write), gone when closed.
 * Returns the fd or -errno. */
int img_hostdir_tmpfile (struct img_hostdir *hd, const char *what);

/* Writes LEN bytes of BUF to the file NAME in the admin's directory DIR
 * (opened once; NAME is one checked component, no `/`): a new file made
 * with O_EXCL | O_NOFOLLOW there, fsynced, then renamed over NAME.  An
 * existing NAME that is not a regular file (symlink, directory, device)
 * is refused and left alone. */
int img_host_file_replace (struct img_ctx *ctx, const char *what, const char *dir,
                           const char *name, const void *buf, size_t len, unsigned mode);

#ifdef __cplusplus
}
#endif

#endif /* LIBIMG_HOSTDIR_H */
