/* The native qcow2 header reader (src/libimg/disk/qcow2.c) on headers
 * built byte by byte: what a plain header names, and every way a header
 * must send the caller back to qemu-img (0) or be refused (-EINVAL). */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libimg.h"
#include "private.h"
#include "disk/disk-private.h"
#include "tap.h"

static unsigned char h[4096];
static size_t ext_at;

static void
be32 (size_t off, uint32_t v)
{
  h[off] = v >> 24; h[off + 1] = v >> 16; h[off + 2] = v >> 8; h[off + 3] = v;
}

static void
be64 (size_t off, uint64_t v)
{
  be32 (off, v >> 32);
  be32 (off + 4, (uint32_t) v);
}

/* A version 3 header as qemu-img create writes it: 64 KiB clusters,
 * 1 GiB, extensions from 112. */
static void
fresh (void)
{
  memset (h, 0, sizeof h);
  memcpy (h, "QFI\xfb", 4);
  be32 (4, 3);
  be32 (20, 16);
  be64 (24, (uint64_t) 1 << 30);
  be32 (36, 2);
  be64 (40, 0x30000);
  be32 (96, 4);
  be32 (100, 112);
  ext_at = 112;
}

static void
ext (uint32_t type, const void *data, uint32_t len)
{
  be32 (ext_at, type);
  be32 (ext_at + 4, len);
  memcpy (h + ext_at + 8, data, len);
  ext_at += 8 + ((len + 7) & ~7u);
}

static void
backing (size_t off, const char *name)
{
  be64 (8, off);
  be32 (16, strlen (name));
  memcpy (h + off, name, strlen (name));
}

/* img_internal_qcow2_names on h: its result, and "NAME|FORMAT" in OUT. */
static int
names (size_t len, char *out, size_t outlen)
{
  struct img_internal_qcow2 q;
  char why[160], *b = NULL, *f = NULL;
  int r;

  if (img_internal_qcow2_decode (h, len, len, &q, why, sizeof why) < 0)
    return -100;
  r = img_internal_qcow2_names (h, len, &q, &b, &f);
  snprintf (out, outlen, "%s|%s", b ? b : "-", f ? f : "-");
  free (b);
  free (f);
  return r;
}

/* A fresh header with the one extension TYPE (DATA, LEN bytes) before
 * the end marker and no backing name: names()'s result. */
static int
one_ext (uint32_t type, const void *data, uint32_t len)
{
  char out[64];

  fresh ();
  ext (type, data, len);
  ext (0, "", 0);
  return names (sizeof h, out, sizeof out);
}

static const char *
decode_why (size_t len, uint64_t file_size)
{
  static char why[160];
  struct img_internal_qcow2 q;

  if (img_internal_qcow2_decode (h, len, file_size, &q, why, sizeof why) == 0)
    return "ok";
  return why;
}

int
main (void)
{
  static const unsigned char feat[48] = { 0 };
  char out[2200], longname[1100];
  int r;

  tap_plan (26);

  /* ---- plain headers: answered ---- */
  fresh ();
  ext (0, "", 0);
  r = names (sizeof h, out, sizeof out);
  tap_is_int (r, 1, "v3, no backing: answered");
  tap_is_str (out, "-|-", "v3, no backing: no names");

  fresh ();
  ext (0xe2792aca, "qcow2", 5);
  ext (0x6803f857, feat, sizeof feat);
  ext (0, "", 0);
  backing (ext_at, "base.qcow2");
  r = names (sizeof h, out, sizeof out);
  tap_is_int (r, 1, "v3 with backing format and feature table: answered");
  tap_is_str (out, "base.qcow2|qcow2", "v3: backing name and format");

  fresh ();
  be32 (4, 2);                  /* version 2: extensions from 72 */
  memset (h + 72, 0, 40);
  ext_at = 72;
  ext (0, "", 0);
  backing (ext_at, "/srv/images/b.raw");
  r = names (sizeof h, out, sizeof out);
  tap_is_int (r, 1, "v2 with backing, no format: answered");
  tap_is_str (out, "/srv/images/b.raw|-", "v2: the name, no format");

  /* ---- anything beyond plain: back to qemu-img ---- */
  tap_is_int (one_ext (0x44415441, "data.raw", 8), 0, "a data file name extension: ask qemu-img");
  tap_is_int (one_ext (0x12345678, "x", 1), 0, "an unknown extension: ask qemu-img");

  fresh ();
  be64 (72, 4);                 /* incompatible: external data file */
  ext (0, "", 0);
  tap_is_int (names (sizeof h, out, sizeof out), 0, "an incompatible feature bit: ask qemu-img");

  fresh ();
  be64 (72, 1);                 /* dirty */
  ext (0, "", 0);
  tap_is_int (names (sizeof h, out, sizeof out), 0, "a dirty image: ask qemu-img");

  fresh ();
  be32 (32, 2);
  ext (0, "", 0);
  tap_is_int (names (sizeof h, out, sizeof out), 0, "encryption: ask qemu-img");

  fresh ();
  ext (0xe2792aca, "qcow2", 5);
  tap_is_int (names (ext_at + 4, out, sizeof out), 0, "no end marker in the bytes read: ask qemu-img");

  fresh ();
  be32 (ext_at, 0xe2792aca);
  be32 (ext_at + 4, 0xfffffff0);
  tap_is_int (names (sizeof h, out, sizeof out), 0, "an extension longer than the header: ask qemu-img");

  fresh ();
  ext (0xe2792aca, "qcow2-and-then-some", 19);
  ext (0, "", 0);
  backing (ext_at, "b");
  tap_is_int (names (sizeof h, out, sizeof out), 0, "a backing format of 19 bytes (qemu's limit is 15): ask qemu-img");

  fresh ();
  ext (0, "", 0);
  backing (ext_at, "a");
  h[ext_at] = '\0';
  be32 (16, 3);
  tap_is_int (names (sizeof h, out, sizeof out), 0, "a NUL inside the backing name: ask qemu-img");

  fresh ();
  ext (0, "", 0);
  memset (longname, 'a', 1024);
  longname[1024] = '\0';
  backing (ext_at, longname);
  tap_is_int (names (sizeof h, out, sizeof out), 0, "a backing name of 1024 bytes: ask qemu-img");

  fresh ();
  ext (0, "", 0);
  backing (4000, "base.qcow2");
  tap_is_int (names (4005, out, sizeof out), 0, "a backing name past the bytes read: ask qemu-img");

  fresh ();
  ext (0, "", 0);
  be64 (8, 0);
  be32 (16, 7);
  tap_is_int (names (sizeof h, out, sizeof out), 1, "a name size with no name offset: no backing (as qemu)");
  tap_is_str (out, "-|-", "  and no names");

  tap_is_int (one_ext (0xe2792aca, "raw", 3), 0, "a backing format with no backing file: ask qemu-img");

  /* ---- decode: refused ---- */
  fresh ();
  tap_is_str (decode_why (50, 50), "file is truncated (50 bytes, shorter than a qcow2 header)", "50 bytes");
  tap_is_str (decode_why (90, 90), "file is truncated (90 bytes, shorter than a version 3 header)", "v3 cut at 90 bytes");
  h[0] = 'X';
  tap_is_str (decode_why (sizeof h, sizeof h), "not a qcow2 file (bad magic)", "bad magic");
  fresh ();
  be32 (4, 4);
  tap_is_str (decode_why (sizeof h, sizeof h), "unsupported qcow2 version 4", "version 4");
  fresh ();
  be32 (20, 22);
  tap_is_str (decode_why (sizeof h, sizeof h), "cluster size 2^22 is out of range (2^9 to 2^21)", "cluster bits 22");
  fresh ();
  be32 (100, 108);
  tap_is_str (decode_why (sizeof h, sizeof h), "header length 108 is invalid", "header length not a multiple of 8");
  return tap_done ();
}
