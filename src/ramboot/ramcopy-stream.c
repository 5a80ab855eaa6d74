/* img-ramcopy's tar reader, bytes and headers: the archive as a stream
 * (raw, gzip or zstd), ustar numbers and checksums, and the error line
 * that names the archive. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fdio.h"
#include "ramcopy.h"

/* ---- unpack ----------------------------------------------------------- */

void
udie (struct unpack *u, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, PROG ": unpack %s: ", u->archive);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  exit (1);
}

/* Names come from the archive: control bytes (a newline above all)
 * would break the one-line error, so show them as '?'.  Returns a
 * static buffer, good until the next call with the same slot. */
const char *
shown (const char *name, int slot)
{
  static char buf[2][512];
  size_t i;

  for (i = 0; name[i] && i < sizeof buf[0] - 4; i++)
    buf[slot][i] = (unsigned char) name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
  if (name[i]) {
    memcpy (buf[slot] + i, "...", 3);
    i += 3;
  }
  buf[slot][i] = '\0';
  return buf[slot];
}

void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);

  if (p == NULL)
    die ("out of memory");
  return p;
}

char *
xstrndup (const char *s, size_t n)
{
  char *p = strndup (s, n);

  if (p == NULL)
    die ("out of memory");
  return p;
}

/* ---- the byte stream: raw, gzip or zstd ---- */

/* Reads more compressed bytes; false at the end of the file. */
static bool
raw_fill (struct unpack *u)
{
  ssize_t n;

  do
    n = read (u->fd, u->raw, STREAM_BUF);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    udie (u, "%s", strerror (errno));
  u->raw_len = (size_t) n;
  u->raw_pos = 0;
  return n > 0;
}

/* Makes u->out hold some more tar bytes; false at the end of the
 * stream (which may be early: the tar layer tells a truncation). */
static bool
stream_refill (struct unpack *u)
{
  u->out_pos = u->out_len = 0;
  if (u->codec == CODEC_NONE) {
    if (u->raw_pos == u->raw_len && !raw_fill (u))
      return false;
    memcpy (u->out, u->raw + u->raw_pos, u->raw_len - u->raw_pos);
    u->out_len = u->raw_len - u->raw_pos;
    u->raw_pos = u->raw_len;
    return true;
  }
  for (;;) {
    /* A decompressor that filled the whole output may hold more:
     * ask it again before reading more input. */
    if (u->raw_pos == u->raw_len && !u->out_full && !raw_fill (u)) {
      u->cut = u->codec == CODEC_ZSTD ? u->zret != 0 : !u->gz_end;
      return false;
    }
    if (u->codec == CODEC_ZSTD) {
      ZSTD_inBuffer in = { u->raw, u->raw_len, u->raw_pos };
      ZSTD_outBuffer o = { u->out, STREAM_BUF, 0 };
      size_t r = ZSTD_decompressStream (u->zd, &o, &in);
      if (ZSTD_isError (r))
        udie (u, "zstd: %s", ZSTD_getErrorName (r));
      u->raw_pos = in.pos;
      u->zret = r;
      u->out_len = o.pos;
      u->out_full = o.pos == o.size;
    } else {
      int r;
      if (u->gz_end) {
        /* Concatenated gzip members make one stream, as gzip -d says. */
        if (inflateReset (&u->z) != Z_OK)
          udie (u, "gzip: %s", u->z.msg ? u->z.msg : "cannot reset");
        u->gz_end = false;
      }
      u->z.next_in = u->raw + u->raw_pos;
      u->z.avail_in = (uInt) (u->raw_len - u->raw_pos);
      u->z.next_out = u->out;
      u->z.avail_out = STREAM_BUF;
      r = inflate (&u->z, Z_NO_FLUSH);
      if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
        udie (u, "gzip: %s", u->z.msg ? u->z.msg : zError (r));
      u->raw_pos = u->raw_len - u->z.avail_in;
      u->out_len = STREAM_BUF - u->z.avail_out;
      u->out_full = u->z.avail_out == 0;
      u->gz_end = r == Z_STREAM_END;
    }
    if (u->out_len > 0)
      return true;
  }
}

/* Takes up to N tar bytes; fewer only at the end of the stream. */
size_t
stream_read (struct unpack *u, void *buf, size_t n)
{
  size_t got = 0;

  while (got < n) {
    size_t k;
    if (u->out_pos == u->out_len && !stream_refill (u))
      break;
    k = u->out_len - u->out_pos < n - got ? u->out_len - u->out_pos : n - got;
    memcpy ((char *) buf + got, u->out + u->out_pos, k);
    u->out_pos += k;
    got += k;
  }
  u->pos += got;
  return got;
}

void
stream_need (struct unpack *u, void *buf, size_t n)
{
  if (stream_read (u, buf, n) != n)
    udie (u, "truncated at byte %" PRIu64, u->pos);
}

void
stream_skip (struct unpack *u, uint64_t n)
{
  static char buf[64 * 1024];

  while (n > 0) {
    size_t k = n < sizeof buf ? (size_t) n : sizeof buf;
    stream_need (u, buf, k);
    n -= k;
  }
}

uint64_t
padding (uint64_t size)
{
  return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}

void
stream_open (struct unpack *u, const char *path)
{
  static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
  size_t have = 0;
  ssize_t n;

  u->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (u->fd < 0)
    udie (u, "%s", strerror (errno));
  u->raw = xmalloc (STREAM_BUF);
  u->out = xmalloc (STREAM_BUF);
  /* The magic may come in pieces from a pipe. */
  while (have < 4) {
    n = read (u->fd, u->raw + have, STREAM_BUF - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      udie (u, "%s", strerror (errno));
    if (n == 0)
      break;
    have += (size_t) n;
  }
  u->raw_len = have;
  if (have >= 4 && memcmp (u->raw, zstd_magic, 4) == 0) {
    u->codec = CODEC_ZSTD;
    u->zret = 1;
    u->zd = ZSTD_createDStream ();
    if (u->zd == NULL || ZSTD_isError (ZSTD_initDStream (u->zd)))
      die ("out of memory");
  } else if (have >= 2 && u->raw[0] == 0x1f && u->raw[1] == 0x8b) {
    u->codec = CODEC_GZIP;
    if (inflateInit2 (&u->z, 16 + MAX_WBITS) != Z_OK)
      die ("out of memory");
  } else
    u->codec = CODEC_NONE;
}

/* ---- headers ---- */

/* A numeric header field: octal digits, NUL- or space-terminated, or
 * GNU's base-256 (first byte 0x80, or 0xff for a negative number). */
bool
parse_num (const char *field, size_t len, int64_t *out)
{
  const unsigned char *f = (const unsigned char *) field;
  uint64_t v = 0;
  size_t i = 0;

  if (f[0] == 0x80 || f[0] == 0xff) {
    bool neg = f[0] == 0xff;
    v = neg ? UINT64_MAX : 0;
    for (i = 1; i < len; i++) {
      if ((v >> 56) != (neg ? 0xff : 0))
        return false;
      v = (v << 8) | f[i];
    }
    if ((v >> 63) != neg)
      return false;
    *out = (int64_t) v;
    return true;
  }
  while (i < len && f[i] == ' ')
    i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 60)
      return false;
    v = v * 8 + (f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return false;
  *out = (int64_t) v;
  return true;
}

/* Fuzzing builds take every checksum as good, so that mutated headers
 * reach the checks behind it. */
bool
checksum_ok (const unsigned char *blk, const struct ustar *h)
{
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  (void) blk;
  (void) h;
  return true;
#else
  int64_t want;
  uint64_t usum = 0;
  int64_t ssum = 0;
  size_t i;

  if (!parse_num (h->chksum, sizeof h->chksum, &want))
    return false;
  for (i = 0; i < TAR_BLOCK; i++) {
    unsigned char c = i >= offsetof (struct ustar, chksum)
      && i < offsetof (struct ustar, chksum) + sizeof h->chksum ? ' ' : blk[i];
    usum += c;
    ssum += (signed char) c;
  }
  /* Some old tars summed signed chars; accept either. */
  return (int64_t) usum == want || ssum == want;
#endif
}
