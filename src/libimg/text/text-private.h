/* The text floor's insides: small helpers of the guest text parsers,
 * shared with the floors above (inspection). */
#ifndef LIBIMG_TEXT_PRIVATE_H
#define LIBIMG_TEXT_PRIVATE_H

#include "private.h"

/* release.c: small text helpers that inspection shares with the release
 * file parsers.  The caller owns what they return (NULL: absent/empty). */
char *img_internal_text_value (const char *text, const char *key);
char *img_internal_first_line (const char *text);

#endif /* LIBIMG_TEXT_PRIVATE_H */
