/* Boot-entry writers: one description of a boot entry (struct
 * img_bootentry), written for GRUB 2 (a grub.cfg block, an /etc/grub.d
 * custom file), GRUB legacy (menu.lst, grub.conf), BLS (loader/entries)
 * and extlinux.  Every guest value goes through its language's quoting
 * (img-quote.h) before anything is written; a value a language cannot carry
 * is refused with one line "WHERE: boot-entry: WHAT VALUE: reason".
 *
 * Two levels: text (build a block, place it in a file's text, point the
 * default at it), pure and testable; and edits of the guest through a plan
 * (img-edit.h) for the common cases. */
#ifndef LIBIMG_CONVERT_BOOTENTRY_H
#define LIBIMG_CONVERT_BOOTENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"
#include "img-edit.h"

/* One boot entry.  Paths are as the boot loader sees them (relative to the
 * root of the filesystem it loads from).  NULL fields are left out. */
struct img_bootentry {
  const char *id;               /* GRUB 2 menuentry id, BLS file name, extlinux
                                 * LABEL: [A-Za-z0-9._-], not quoted */
  const char *title;
  const char *kernel;
  const char *const *initrds;   /* N_INITRDS of them, loaded in order */
  size_t n_initrds;
  const char *args;             /* the kernel command line, checked and
                                 * normalised by img_quote_cmdline_line */
  const char *marker;           /* what fences our blocks: "### BEGIN MARKER ###"
                                 * ... "### END MARKER ###" */
  const char *root_uuid;        /* GRUB 2: search --fs-uuid for the kernel's filesystem */
  const char *legacy_root;      /* GRUB legacy: the root line's device, e.g. (hd0,0) */
  const char *grub2_fs_module;  /* GRUB 2: insmod for that filesystem (NULL: ext2) */
  const char *echo;             /* GRUB 2: a line shown while loading */
  const char *version;          /* BLS: the version key */
  const char *comment;          /* BLS: a comment line at the top of the file */
};

/* ---- text ------------------------------------------------------------------ */

/* The entry as a fenced block (or, for BLS, a whole entry file) for KIND, in
 * *OUT (malloc'd, the caller frees it).  0, -EINVAL (a value the language
 * cannot carry: message "WHERE: boot-entry: ..." in CTX) or -ENOMEM.
 *   GRUB 2:       ### BEGIN M ###, menuentry 'T' ... $menuentry_id_option 'ID' {...}, ### END M ###
 *   GRUB legacy:  # ### BEGIN M ###, title, root, kernel K ARGS, initrd, # ### END M ###
 *   BLS:          [# COMMENT], title, version, linux, initrd (one line each), options, grub_class
 *   extlinux:     # ### BEGIN M ###, LABEL ID, MENU LABEL T, LINUX, INITRD A,B, APPEND, # ### END M ### */
int img_bootentry_text (struct img_ctx *ctx, const char *where, enum img_boot_kind kind,
                        const struct img_bootentry *e, char **out);

/* Where a block goes in a file that holds other entries. */
enum img_bootentry_place {
  /* Replace our earlier block where it is, else append. */
  IMG_BOOTENTRY_REPLACE,
  /* Remove our earlier block(s), append at the end (the last entry). */
  IMG_BOOTENTRY_LAST,
  /* Before the first entry (GRUB 2: before the 10_linux section or the
   * first menuentry/submenu/blscfg line; GRUB legacy: before Debian's
   * AUTOMAGIC KERNELS LIST or the first title), so that it is entry 0; an
   * identical block already there is kept, any other of ours removed. */
  IMG_BOOTENTRY_FIRST,
  /* Remove our block(s) only; BLOCK is not used. */
  IMG_BOOTENTRY_REMOVE,
};

/* TEXT (LEN bytes) with BLOCK (from img_bootentry_text; MARKER its
 * fence) put in as WHERE says, into *OUT (malloc'd, NUL-terminated; the
 * caller frees it); *CHANGED whether it differs from TEXT.  KIND is
 * IMG_BOOT_GRUB2, IMG_BOOT_GRUB_LEGACY or IMG_BOOT_EXTLINUX.  0 or
 * -ENOMEM. */
int img_bootentry_place (enum img_boot_kind kind, const char *text, size_t len,
                         const char *marker, const char *block,
                         enum img_bootentry_place where, char **out, bool *changed);

/* Whether the line at LINE (up to a newline) lies inside a block fenced by
 * MARKER in TEXT: for edits that rewrite other entries and must leave ours
 * alone. */
bool img_bootentry_in_block (const char *text, const char *line, const char *marker);

/* GRUB 2: every "set default=" line (at the start or indented, as
 * grub-mkconfig writes them; not the ${next_entry} one) names ID. */
int img_bootentry_grub2_default (const char *text, size_t len, const char *id,
                                 char **out, bool *changed);
/* GRUB legacy: "default" names our entry, the last title (as
 * IMG_BOOTENTRY_LAST leaves it): every default line becomes default=N, or
 * one is put first. */
int img_bootentry_legacy_default (const char *text, size_t len, const char *marker,
                                  char **out, bool *changed);
/* /etc/default/grub: GRUB_DEFAULT=ID (every such line, or one appended). */
int img_bootentry_default_grub (const char *text, size_t len, const char *id,
                                char **out, bool *changed);
/* A GRUB environment block (1024 bytes, '#'-padded) from OLD (NULL: none)
 * with KEY=VALUE set; -EFBIG (message in CTX, WHERE first) when it does
 * not fit.  *OUT is 1024 bytes, malloc'd. */
int img_bootentry_grubenv_set (struct img_ctx *ctx, const char *where, const char *old,
                               size_t len, const char *key, const char *value,
                               char **out, size_t *out_len);

/* ---- edits through a plan ----------------------------------------------- */

/* The start of an /etc/grub.d custom file written from nothing. */
#define IMG_BOOTENTRY_GRUBD_HEAD "#!/bin/sh\nexec tail -n +3 $0\n"

/* Puts BLOCK (fenced by MARKER) into the guest file PATH as WHERE says
 * (a link followed inside the guest: menu.lst is often grub.conf), and
 * with DEFAULT_ID points the default at it (GRUB 2: set default=ID; GRUB
 * legacy: default=N, our entry last), writing it (mode MODE for a new
 * file; an existing one keeps its own) only when that changes it.  A
 * missing file is left alone (0) unless CREATE_HEAD, which then starts
 * it. */
int img_bootentry_edit_file (struct img_plan *plan, const char *path, enum img_boot_kind kind,
                             const char *marker, const char *block,
                             enum img_bootentry_place where, const char *default_id,
                             const char *create_head, uint32_t mode);

/* ---- an entry of our own, added -------------------------------------------- */

/* A title for an entry of ours: OS (the guest's name; any byte but
 * printable ASCII becomes '?', at most 80 of them) and then FMT.
 * Malloc'd; NULL without memory. */
char *img_bootentry_title (const char *os, const char *fmt, ...)
  __attribute__((format (printf, 2, 3)));

/* The entry as img_bootentry_text wrote it for each boot loader; and,
 * optionally, an /etc/grub.d generator that writes it (GRUBD_SCRIPT,
 * installed as GRUBD_PATH) instead of the static block in 40_custom, and
 * a kernel-install plugin that keeps the BLS entry on the newest kernel
 * (BLS_KEEPER_SCRIPT, installed as BLS_KEEPER_PATH). */
struct img_bootentry_texts {
  const char *grub2, *legacy, *bls;
  const char *grubd_path, *grubd_script;
  const char *bls_keeper_path, *bls_keeper_script;
};

/* Where img_bootentry_install puts the BLS entry ID on the guest INSP
 * describes: ID.conf beside the entries grub.cfg lists.  Malloc'd; NULL
 * when INSP's boot loader lists no BLS entries (or without memory:
 * *OOM set). */
char *img_bootentry_bls_path (const struct img_inspection *insp, const char *id, bool *oom);
/* Adds the entry ID (blocks fenced by MARKER) where the guest's boot
 * loader looks, by INSP's boot configurations: where grub.cfg lists BLS
 * entries, a file ID.conf beside them (and T's bls_keeper_script, mode
 * 0755); else the GRUB 2 block in each
 * grub.cfg (replacing ours where it is, else at the end) and, so that
 * update-grub keeps it, in /etc/grub.d/40_custom, or with T's
 * grubd_script that generator (mode 0755; our block then leaves
 * 40_custom: an earlier run's); else the GRUB legacy
 * block at the end of each menu.lst/grub.conf.  With DEFAULT_ID the
 * default names it (GRUB 2: set default and GRUB_DEFAULT in
 * /etc/default/grub; BLS: saved_entry in the grubenv; legacy: default=N).
 * -ENOTSUP (message "WHERE: no GRUB configuration ...") when there is
 * none. */
int img_bootentry_install (struct img_plan *plan, const char *where,
                           const struct img_inspection *insp, const char *id,
                           const char *marker, const struct img_bootentry_texts *t,
                           const char *default_id);

#endif
