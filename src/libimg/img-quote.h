/* Quoting per output language, one function each: every value that a tool
 * writes into an xl config, a GRUB 2 script, a GRUB legacy menu, a BLS
 * entry, an extlinux config, a shell script, a kernel command line, JSON,
 * XML or the terminal goes through the function for that language.  Values read
 * from an image are hostile: a value the language cannot carry so that its
 * own parser reads it back identically is refused (-EINVAL), with *why set
 * to a static reason, never passed through.
 *
 * Unless said otherwise each function returns 0 and a malloc'd *out (the
 * caller frees it), -EINVAL (*why says why, *out NULL) or -ENOMEM. */
#ifndef LIBIMG_IMG_QUOTE_H
#define LIBIMG_IMG_QUOTE_H

#include <stddef.h>
#include <stdio.h>

/* An xl config string as libxlutil reads it: "..." with \" \\ and the
 * named escapes \n \t \r \a \b \f \v; other control bytes, invalid UTF-8
 * and C1 controls are refused (libxlutil mangles \xNN and octal escapes). */
int img_quote_xl (const char *s, char **out, const char **why);

/* A value inside an xl disk or vif spec ("key=value, key=value" inside one
 * xl string, split by xl on ',' and '='): printable ASCII without ',', '=',
 * quotes, backslash or space.  *out is a copy. */
int img_quote_xl_spec (const char *s, char **out, const char **why);

/* 0 when S is exactly xx:xx:xx:xx:xx:xx in hex, else -EINVAL. */
int img_check_mac (const char *s, const char **why);

/* 0 when S is a Linux interface name (1-15 of [A-Za-z0-9_.-]). */
int img_check_ifname (const char *s, const char **why);

/* One GRUB 2 script word: bare when only plain characters, else in single
 * quotes ('\'' for a quote).  Refuses control bytes and invalid UTF-8
 * (a menu line must stay one line). */
int img_quote_grub2 (const char *s, char **out, const char **why);

/* A menuentry title: always in single quotes, which pygrub's title match
 * (^menuentry ["'](.*?)["'] ) needs to see the entry at all. */
int img_quote_grub2_title (const char *s, char **out, const char **why);

/* A kernel or initrd path on a linux/initrd line: a bare absolute path of
 * plain characters only, since pygrub splits that line at blanks and
 * never unquotes; anything else is refused. */
int img_quote_grub2_path (const char *s, char **out, const char **why);

/* A GRUB legacy menu.lst value (title text, kernel line words): the rest of
 * the line, unquoted, so no control byte, no invalid UTF-8, no leading or
 * trailing blank.  *out is a copy. */
int img_quote_grub_legacy (const char *s, char **out, const char **why);

/* A BLS entry value (title, version, linux, initrd, options): the rest of
 * the line after the key, unquoted; the same rules as GRUB legacy. */
int img_quote_bls (const char *s, char **out, const char **why);

/* An extlinux.conf value (MENU LABEL, KERNEL, APPEND): the same rules. */
int img_quote_extlinux (const char *s, char **out, const char **why);

/* A POSIX shell word: "..." when S holds nothing that double quotes
 * expand (no $ ` \ " and no control byte), else '...' with '\'' for a
 * quote.  Never refuses a C string. */
int img_quote_sh (const char *s, char **out, const char **why);

/* A word of a nash script (mkinitrd's /init): plain characters only
 * (A-Z a-z 0-9 - _ . + , /); *out is a copy. */
int img_quote_nash (const char *s, char **out, const char **why);

/* One kernel command line argument PARAM or PARAM=VAL (VAL may be NULL) as
 * the kernel's own parser (lib/cmdline.c next_arg) reads it back, and as
 * GRUB 2, GRUB legacy, pygrub, BLS and xl pass it on unchanged: printable
 * ASCII without " ' \ $ ` ; & | < > { } # * ? [ ]; VAL may hold spaces
 * (then written PARAM="VAL"), PARAM may not. */
int img_quote_cmdline (const char *param, const char *val, char **out, const char **why);

/* A whole kernel command line: split with the kernel's rules, each argument
 * through img_quote_cmdline, joined by one space.  On -EINVAL *bad is the
 * offending argument (malloc'd, the caller frees it). */
int img_quote_cmdline_line (const char *line, char **out, char **bad, const char **why);

/* XML 1.0 character data, for element text or an attribute value in
 * either quotes (the caller writes the quotes): & < > " ' as entities.
 * Refuses every C0 control (newline and tab too: an attribute would read
 * them back as blanks), DEL, C1 controls, U+FFFE, U+FFFF and invalid
 * UTF-8, which XML 1.0 cannot carry or a reader would not give back. */
int img_quote_xml (const char *s, char **out, const char **why);

/* A JSON string with its quotes: controls as \n \t \r or \u00XX, ", \
 * escaped, invalid UTF-8 bytes as U+FFFD (\ufffd). Never refuses. */
int img_quote_json (const char *s, char **out, const char **why);

/* Text for the terminal: control bytes (C0, DEL, C1 as UTF-8) and bytes of
 * invalid UTF-8 as \xNN, tab as \t; with KEEP_NL a newline passes, else it
 * is \n too.  Never refuses; returns NULL only without memory. */
char *img_quote_term (const char *s, int keep_nl);

/* Streaming form of img_quote_term over LEN bytes: hands the quoted text
 * to PUT and returns how many bytes of S it consumed (a UTF-8 sequence cut
 * by the end is left for the next call unless FINAL). */
size_t img_quote_term_chunk (const char *s, size_t len, int keep_nl, int final,
                             void (*put) (void *arg, const char *p, size_t n), void *arg);

/* A stream whose every byte reaches UNDER through img_quote_term (newlines
 * kept): the tools put their stdout and stderr through it, so nothing a
 * guest wrote reaches the terminal as a control byte.  NULL without
 * memory (then keep UNDER). */
FILE *img_quote_term_stream (FILE *under);

/* Puts stdout and stderr through img_quote_term_stream until exit (when
 * they are flushed and closed).  0 or -ENOMEM (then they are as they
 * were). */
int img_quote_term_stdio (void);

#endif
