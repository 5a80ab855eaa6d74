/* The text floor's insides: small helpers of the guest text parsers,
 * shared with the floors above (inspection). */
#ifndef LIBIMG_TEXT_PRIVATE_H
#define LIBIMG_TEXT_PRIVATE_H

#include "private.h"

/* release.c: small text helpers that inspection shares with the release
 * file parsers.  The caller owns what they return (NULL: absent/empty). */
char *img_internal_text_value (const char *text, const char *key);
char *img_internal_first_line (const char *text);

/* osrelease.c: the value of KEY in os-release text (LEN bytes), shell
 * quoting undone, the last assignment winning; NULL if absent, empty or
 * malformed (open quote).  The caller owns the result. */
char *img_internal_osrelease_value (const char *text, size_t len, const char *key);

/* distro.c: IN->distro (virt-inspector's name) and major/minor version
 * from IN's os_id and os_version_id; FILE is the release file they came
 * from.  0 or -ENOMEM. */
int img_internal_release_distro (struct img_inspection *in, const char *file);
/* distro.c: "7.9.2009" -> 7, 9; "12" -> 12, 0; -1, -1 if VERSION does
 * not start with a number. */
void img_internal_release_version (const char *version, int *major, int *minor);

/* fstab.c: the "subvol=PATH" or "subvolid=N" option of fstab OPTIONS
 * into OUT ("" when there is none); false when its value holds a
 * control byte or does not fit. */
bool img_internal_fstab_subvol (const char *options, char *out, size_t outlen);

/* grubenv.c: the value of KEY in grubenv TEXT (LEN bytes; backslash
 * escapes undone, a NUL ends it); 0, -ENOENT, -ENOMEM.  And S with every
 * $NAME / ${NAME} replaced by that variable (unset: empty; blanks then
 * squeezed), as GRUB's blscfg expands a BLS entry's lines; 0, -ENOMEM,
 * -E2BIG (longer than a command line).  The caller owns *value, *out. */
int img_internal_grubenv_get (const char *text, size_t len, const char *key, char **value);
int img_internal_grubenv_expand (const char *env, size_t env_len, const char *s, char **out);

#endif /* LIBIMG_TEXT_PRIVATE_H */
