/* A parser for LVM2's metadata text (the config syntax lvm2 writes into
 * a PV's metadata area): `name { ... }` sections, `key = value` with
 * integers, "strings" and [ lists ], `#` comments.  Input is hostile:
 * nesting, size and node count are bounded, nothing recurses. */
#ifndef LIBIMG_LVMCONF_H
#define LIBIMG_LVMCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"

/* Limits on what the parser accepts. */
#define IMG_LVMCONF_MAX_DEPTH 32                /* nested sections */
#define IMG_LVMCONF_MAX_SIZE (64u << 20)        /* bytes of text */
#define IMG_LVMCONF_MAX_NODES (1u << 20)        /* entries and list items */

enum img_lvmconf_type {
  IMG_LVMCONF_SECTION,
  IMG_LVMCONF_INT,
  IMG_LVMCONF_FLOAT,            /* kept as text; metadata has none */
  IMG_LVMCONF_STRING,
  IMG_LVMCONF_LIST,
};

/* A node of the tree.  Sections and lists hold their children (in file
 * order) from `child` through `next`; list items have no key. */
struct img_lvmconf_node {
  const char *key;              /* NULL for list items and the root */
  enum img_lvmconf_type type;
  unsigned line;                /* where it starts, for messages */
  int64_t i;                    /* IMG_LVMCONF_INT */
  const char *s;                /* IMG_LVMCONF_STRING and _FLOAT */
  size_t n_children;            /* sections and lists */
  struct img_lvmconf_node *child;
  struct img_lvmconf_node *next;
  /* Sections: the children sorted by key, for lookups that stay fast
   * on a section with many thousands of entries. */
  struct img_lvmconf_node **index;
};

struct img_lvmconf;

/* Parses LEN bytes of TEXT (trailing NUL bytes, as lvm2 stores them, are
 * ignored; any other NUL is an error).  NAME prefixes the error message:
 * "NAME: lvm: metadata line N: reason".  Keys must be unique within a
 * section.  The caller owns *conf (img_lvmconf_free). */
int img_lvmconf_parse (struct img_ctx *ctx, const char *name,
                       const char *text, size_t len,
                       struct img_lvmconf **conf);
void img_lvmconf_free (struct img_lvmconf *conf);
/* The top-level section; owned by CONF. */
const struct img_lvmconf_node *
img_lvmconf_root (const struct img_lvmconf *conf);

/* Lookups in SECTION.  They record no error message: a missing key is
 * often fine, and the caller knows which VG or LV to name.  They return
 * 0, -ENOENT when KEY is absent or -EINVAL when it has another type;
 * results point into the tree. */
const struct img_lvmconf_node *
img_lvmconf_find (const struct img_lvmconf_node *section, const char *key);
int img_lvmconf_section (const struct img_lvmconf_node *section,
                         const char *key,
                         const struct img_lvmconf_node **sub);
int img_lvmconf_int (const struct img_lvmconf_node *section, const char *key,
                     int64_t *v);
/* Like img_lvmconf_int, but negative values are -ERANGE. */
int img_lvmconf_u64 (const struct img_lvmconf_node *section, const char *key,
                     uint64_t *v);
int img_lvmconf_string (const struct img_lvmconf_node *section,
                        const char *key, const char **s);
int img_lvmconf_list (const struct img_lvmconf_node *section, const char *key,
                      const struct img_lvmconf_node **list);
/* Whether list KEY holds the string S (status and flags lists). */
bool img_lvmconf_list_has (const struct img_lvmconf_node *section,
                           const char *key, const char *s);

#endif /* LIBIMG_LVMCONF_H */
