/* The image container as qemu would open it: which other files (backing
 * files, qcow2 external data files, VMDK extents) it names, checked before
 * any qemu process opens the image, and the one qemu file name ("json:"
 * with every child pinned) under which qemu can follow nothing else.
 * Nothing here trusts the image: names in it are refused unless the caller
 * allowed local backing files, and then only local regular files. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "img-json.h"
#include "private.h"
#include "base/fdio.h"
#include "disk/disk-private.h"

#define MAX_CHAIN 16

/* Formats we let qemu open.  Never protocol or filter drivers ("nbd",
 * "file", "quorum", "blkdebug", "vvfat", "luks"...), whatever the caller
 * typed. */
static const char *const formats[] = {
  "raw", "qcow2", "qcow", "qed", "vmdk", "vhdx", "vpc", "vdi",
  "parallels", "bochs", "cloop", "dmg",
};

bool
img_internal_format_known (const char *format)
{
  size_t i;

  for (i = 0; i < ARRAY_SIZE (formats); i++)
    if (strcmp (format, formats[i]) == 0)
      return true;
  return false;
}

/* Names from the image go into one-line messages: no control bytes. */
static void
scrub (char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s < 0x20 || *s == 0x7f)
      *s = '?';
}

/* ---- a bounded reader for qemu-img info's JSON ------------------------- */

struct jp {
  const char *p, *end;
  int depth;
};

static void
ws (struct jp *j)
{
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

/* Parses a string; if OUT, stores it (malloc'd, \u escapes above ASCII
 * become '?', which only matters for the report). */
static int
jstring (struct jp *j, char **out)
{
  char *s = NULL;
  size_t n = 0;

  if (j->p >= j->end || *j->p != '"')
    return -EINVAL;
  j->p++;
  if (out && (s = malloc (j->end - j->p + 1)) == NULL)
    return -ENOMEM;
  while (j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\') {
      if (j->p >= j->end)
        break;
      c = *j->p++;
      switch (c) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned v = 0;
        int k;
        for (k = 0; k < 4 && j->p < j->end; k++, j->p++) {
          char h = *j->p;
          v = v * 16 + (h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
        }
        c = v == 0 ? '\x01' : v < 0x80 ? (char) v : '?';   /* NUL never passes */
        break;
      }
      default: break;             /* \" \\ \/ */
      }
    }
    if (s)
      s[n++] = c;
  }
  if (j->p >= j->end) {
    free (s);
    return -EINVAL;
  }
  j->p++;
  if (out) {
    s[n] = '\0';
    *out = s;
  }
  return 0;
}

/* Skips one value, or, for an object, fills the wanted top-level string
 * keys.  KEYS/VALS: NULL-terminated key list and its output slots; a key
 * "a.b" names key b inside object a. */
static int jvalue (struct jp *j, const char *prefix, const char *const *keys, char **vals);

static int
jobject (struct jp *j, const char *prefix, const char *const *keys, char **vals)
{
  int r;

  j->p++;
  ws (j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    return 0;
  }
  for (;;) {
    char *key = NULL, path[256];
    size_t i;
    bool taken = false;

    ws (j);
    if ((r = jstring (j, &key)) < 0)
      return r;
    snprintf (path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
    free (key);
    ws (j);
    if (j->p >= j->end || *j->p != ':')
      return -EINVAL;
    j->p++;
    ws (j);
    for (i = 0; keys[i]; i++)
      if (strcmp (keys[i], path) == 0 && j->p < j->end && *j->p == '"' && vals[i] == NULL) {
        if ((r = jstring (j, &vals[i])) < 0)
          return r;
        taken = true;
        break;
      }
    if (!taken && (r = jvalue (j, path, keys, vals)) < 0)
      return r;
    ws (j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      continue;
    }
    if (j->p < j->end && *j->p == '}') {
      j->p++;
      return 0;
    }
    return -EINVAL;
  }
}

static int
jvalue (struct jp *j, const char *prefix, const char *const *keys, char **vals)
{
  int r;

  ws (j);
  if (j->p >= j->end)
    return -EINVAL;
  if (++j->depth > 32)
    return -EINVAL;
  if (*j->p == '{')
    r = jobject (j, prefix, keys, vals);
  else if (*j->p == '[') {
    j->p++;
    ws (j);
    if (j->p < j->end && *j->p == ']') {
      j->p++;
      r = 0;
    }
    else
      for (;;) {
        if ((r = jvalue (j, "[]", keys, vals)) < 0)
          break;
        ws (j);
        if (j->p < j->end && *j->p == ',') {
          j->p++;
          continue;
        }
        if (j->p < j->end && *j->p == ']') {
          j->p++;
          break;
        }
        r = -EINVAL;
        break;
      }
  }
  else if (*j->p == '"')
    r = jstring (j, NULL);
  else {
    while (j->p < j->end && strchr (",}] \n\r\t", *j->p) == NULL)
      j->p++;
    r = 0;
  }
  j->depth--;
  return r;
}

/* Fills VALS for KEYS from the JSON object in DOC; 0 or -EINVAL. */
static int
json_get_strings (const char *doc, const char *const *keys, char **vals)
{
  struct jp j = { .p = doc, .end = doc + strlen (doc) };

  ws (&j);
  if (j.p >= j.end || *j.p != '{')
    return -EINVAL;
  return jvalue (&j, "", keys, vals);
}

/* ---- the qemu file name ------------------------------------------------ */

/* One node of the chain: a file, its format, its data file (or NULL). */
struct node {
  char *path;
  char *format;
  char *data_file;
};

/* One protocol node: a host file (or the block device) by name.
 * UNLOCKED: qemu takes none of its image locks on it (the name a second
 * qemu reads the image under while our run holds it). */
static void
write_file_node (struct img_json *j, const char *driver, const char *path,
                 bool unlocked)
{
  img_json_begin_object (j);
  img_json_kv_string (j, "driver", driver);
  img_json_kv_string (j, "filename", path);
  if (unlocked)
    img_json_kv_string (j, "locking", "off");
  img_json_end_object (j);
}

/* The pinned "json:" name for NODES[I..]: every child named, backing null
 * at the end, so qemu opens exactly these files.  Strings go through the
 * JSON writer's one quoting function. */
static void
write_node (struct img_json *j, const struct node *nodes, size_t n, size_t i,
            bool blockdev, bool unlocked)
{
  img_json_begin_object (j);
  img_json_kv_string (j, "driver", nodes[i].format);
  img_json_key (j, "file");
  write_file_node (j, i == 0 && blockdev ? "host_device" : "file",
                   nodes[i].path, unlocked);
  if (strcmp (nodes[i].format, "raw") != 0) {
    if (nodes[i].data_file) {
      img_json_key (j, "data-file");
      write_file_node (j, "file", nodes[i].data_file, unlocked);
    }
    img_json_key (j, "backing");
    if (i + 1 < n)
      write_node (j, nodes, n, i + 1, blockdev, unlocked);
    else
      img_json_null (j);
  }
  img_json_end_object (j);
}

static char *
make_spec (const struct node *nodes, size_t n, bool blockdev, bool unlocked)
{
  struct img_json j;
  char *buf = NULL, *s, *d;
  size_t len = 0;
  FILE *fp = open_memstream (&buf, &len);

  if (fp == NULL)
    return NULL;
  fputs ("json:", fp);
  img_json_init (&j, fp);
  write_node (&j, nodes, n, 0, blockdev, unlocked);
  if (fclose (fp) != 0) {
    free (buf);
    return NULL;
  }
  /* One line: the pretty printer's newlines and indents go (they are
   * never inside a string, where the writer escapes them). */
  for (s = d = buf; *s; s++) {
    if (*s == '\n')
      while (s[1] == ' ')
        s++;
    else
      *d++ = *s;
  }
  *d = '\0';
  return buf;
}

/* ---- the check ---------------------------------------------------------- */

/* A name qemu would treat as a protocol or options ("nbd://", "json:{",
 * "http:", "file:...") rather than a plain local path. */
static bool
has_protocol (const char *name)
{
  const char *colon = strchr (name, ':'), *slash = strchr (name, '/');

  return colon != NULL && (slash == NULL || colon < slash);
}

static bool
name_ok (const char *name)
{
  const unsigned char *p;

  if (*name == '\0' || has_protocol (name))
    return false;
  for (p = (const unsigned char *) name; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

/* What a VMDK names besides itself: a descriptor file's extents, or a
 * sparse header that defers to its embedded descriptor (capacity 0). */
static int
vmdk_check (struct img_ctx *ctx, const char *path, const unsigned char *head,
            size_t len)
{
  if (len >= 21 && memcmp (head, "# Disk DescriptorFile", 21) == 0)
    return img_err (ctx, -EPERM, "%s: disk: vmdk image is a descriptor naming extent files; refusing (convert it to a single file first)", path);
  if (len >= 36 && memcmp (head, "KDMV", 4) == 0
      && get_le64 (head + 12) == 0 && get_le64 (head + 28) != 0)
    return img_err (ctx, -EPERM, "%s: disk: vmdk image defers to a descriptor naming extent files; refusing (convert it to a single file first)", path);
  return 0;
}

/* qemu-img info on one file, its backing and data file never opened. */
static int
qemu_info (struct img_ctx *ctx, const char *image, const struct node *nd,
           char **backing, char **backing_fmt, char **data_file)
{
  static const char *const keys[] = {
    "backing-filename", "backing-filename-format", "format-specific.data.data-file", NULL,
  };
  char *vals[4] = { NULL, NULL, NULL, NULL };
  struct node one = { .path = nd->path, .format = nd->format };
  char *spec = make_spec (&one, 1, false, false);
  char *out = NULL, err[2048];
  const size_t outlen = 65536;
  const char *argv[] = { QEMU_IMG, "info", "-U", "--output=json", "--", spec, NULL };
  int status, r;

  out = malloc (outlen);
  if (spec == NULL || out == NULL) {
    r = img_err (ctx, -ENOMEM, "%s: disk: out of memory", image);
    goto out;
  }
  status = img_internal_run_capture (argv, out, outlen, err, sizeof err);
  if (status < 0) {
    r = img_err (ctx, status, "%s: disk: cannot run qemu-img: %s", image, strerror (-status));
    goto out;
  }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127) {
    r = img_err (ctx, -ENOENT, "%s: disk: %s images need qemu-img (package qemu-utils)", image, nd->format);
    goto out;
  }
  if (!(WIFEXITED (status) && WEXITSTATUS (status) == 0)) {
    char *line = err, *nl = strchr (err, '\n'), *q;
    if (nl)
      *nl = '\0';
    if (strncmp (line, "qemu-img: ", 10) == 0)
      line += 10;
    if ((q = strstr (line, "': ")) != NULL && strncmp (line, "Could not open '", 16) == 0)
      line = q + 3;
    scrub (line);
    r = img_err (ctx, -EINVAL, "%s: %s: qemu-img cannot read the image: %.300s",
                 image, nd->format, *line ? line : "unknown error");
    goto out;
  }
  if (json_get_strings (out, keys, vals) < 0) {
    r = img_err (ctx, -EINVAL, "%s: disk: cannot parse qemu-img info's output", image);
    goto out;
  }
  *backing = vals[0];
  *backing_fmt = vals[1];
  *data_file = vals[2];
  vals[0] = vals[1] = vals[2] = NULL;
  r = 0;
 out:
  free (vals[0]);
  free (vals[1]);
  free (vals[2]);
  free (out);
  free (spec);
  return r;
}

/* What a plain qcow2 names (its backing file and format), read from its
 * header as qemu reads it, sparing a `qemu-img info` (an exec of qemu's
 * whole library stack per file of the chain).  1: answered; 0: ask
 * qemu-img (not qcow2, or anything beyond a plain header: a data file,
 * encryption, an unknown extension, a damaged header); -ENOMEM. */
static int
qcow2_names (const struct node *nd, char **backing, char **backing_fmt)
{
  unsigned char h[4096];
  struct img_internal_qcow2 q;
  struct stat st;
  size_t got = 0;
  char why[160];
  int fd, r;

  if (strcmp (nd->format, "qcow2") != 0)
    return 0;
  /* O_NONBLOCK: a FIFO swapped in for a checked file must not hang us. */
  fd = open (nd->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd == -1)
    return 0;
  r = fstat (fd, &st) == 0 && S_ISREG (st.st_mode)
      && img_internal_pread_all (fd, h, sizeof h, 0, &got) == 0
      && img_internal_qcow2_decode (h, got, st.st_size, &q, why, sizeof why) == 0;
  close (fd);
  return r ? img_internal_qcow2_names (h, got, &q, backing, backing_fmt) : 0;
}

/* Resolves NAME (relative names are relative to the directory of FROM,
 * as qemu does) to a local regular file; the result is malloc'd. */
static int
resolve_local (struct img_ctx *ctx, const char *image, const char *what,
               const char *from, const char *name, char **out)
{
  char *joined = NULL, *real;
  struct stat st;
  int r;

  if (!name_ok (name))
    return img_err (ctx, -EPERM, "%s: disk: %s is not a local file name; refusing", image, what);
  if (name[0] == '/')
    joined = strdup (name);
  else {
    const char *slash = strrchr (from, '/');
    if (asprintf (&joined, "%.*s%s", slash ? (int) (slash - from + 1) : 0, from, name) == -1)
      joined = NULL;
  }
  if (joined == NULL)
    return img_err (ctx, -ENOMEM, "%s: disk: out of memory", image);
  real = realpath (joined, NULL);
  if (real == NULL) {
    r = -errno;
    free (joined);
    return img_err (ctx, r, "%s: disk: %s cannot be resolved: %s", image, what, strerror (-r));
  }
  free (joined);
  if (stat (real, &st) == -1 || !S_ISREG (st.st_mode)) {
    free (real);
    return img_err (ctx, -EPERM, "%s: disk: %s is not a regular file; refusing", image, what);
  }
  *out = real;
  return 0;
}

/* The name under which a second qemu reads the chain of NODES while our
 * run holds it: the same pins, the top file by its absolute name (that
 * qemu need not share our working directory), and no image locks (our
 * run lock excludes every other writer; the lock bytes disk.c or our
 * qemu-nbd hold would refuse it).  0 or -errno, no message. */
static int
shared_spec (const char *path, struct node *nodes, size_t n, bool blockdev,
             char **out)
{
  char *top = nodes[0].path, *abs = realpath (path, NULL);

  if (abs == NULL)
    return -errno;
  nodes[0].path = abs;
  *out = make_spec (nodes, n, blockdev, true);
  nodes[0].path = top;
  free (abs);
  return *out ? 0 : -ENOMEM;
}

int
img_internal_container_shared_raw (struct img_ctx *ctx, const char *path,
                                   bool blockdev, char **out)
{
  struct node one = { .path = (char *) path, .format = (char *) "raw" };
  int r = shared_spec (path, &one, 1, blockdev, out);

  if (r < 0)
    return img_err (ctx, r, "%s: disk: no name a second qemu can read the image under: %s", path, strerror (-r));
  return 0;
}

static void
nodes_free (struct node *nodes, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    free (nodes[i].path);
    free (nodes[i].format);
    free (nodes[i].data_file);
  }
}

int
img_internal_container_check (struct img_ctx *ctx, const char *path,
                              const char *format, bool blockdev,
                              const unsigned char *head, size_t headlen,
                              bool allow_backing, char **specp,
                              char **sharedp, char ***chainp, size_t *n_chainp)
{
  struct node nodes[MAX_CHAIN + 1];
  struct stat seen[MAX_CHAIN + 1];
  char **chain = NULL;
  size_t n = 0, i;
  int r;

  memset (nodes, 0, sizeof nodes);
  if (strcmp (format, "vmdk") == 0 && (r = vmdk_check (ctx, path, head, headlen)) < 0)
    return r;

  /* qemu parses "proto:..." in a bare file name; not in the pinned
   * "filename" option, but a relative path stays relative to our cwd. */
  nodes[0].path = strdup (path);
  nodes[0].format = strdup (format);
  if (nodes[0].path == NULL || nodes[0].format == NULL || stat (path, &seen[0]) == -1) {
    r = img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
    goto err;
  }
  n = 1;
  for (i = 0; ; i++) {
    char *backing = NULL, *bfmt = NULL, *data = NULL, *what = NULL;
    size_t k;

    if (strcmp (nodes[i].format, "raw") == 0)
      break;
    if (i > 0 && strcmp (nodes[i].format, "vmdk") == 0) {
      unsigned char h[512];
      FILE *fp = fopen (nodes[i].path, "re");
      size_t got = fp ? fread (h, 1, sizeof h, fp) : 0;
      if (fp)
        fclose (fp);
      if ((r = vmdk_check (ctx, path, h, got)) < 0)
        goto err;
    }
    r = qcow2_names (&nodes[i], &backing, &bfmt);
    if (r == 0)
      r = qemu_info (ctx, path, &nodes[i], &backing, &bfmt, &data);
    else if (r < 0)
      r = img_err (ctx, r, "%s: disk: out of memory", path);
    if (r < 0)
      goto err;
    if (data) {
      if (!allow_backing) {
        r = img_err (ctx, -EPERM, "%s: disk: %s image has an external data file; refusing (use --allow-backing to follow local files)",
                     path, nodes[i].format);
        free (backing); free (bfmt); free (data);
        goto err;
      }
      r = resolve_local (ctx, path, "the external data file", nodes[i].path, data, &nodes[i].data_file);
      free (data);
      if (r < 0) {
        free (backing); free (bfmt);
        goto err;
      }
    }
    if (backing == NULL) {
      free (bfmt);
      break;
    }
    if (!allow_backing) {
      scrub (backing);
      r = img_err (ctx, -EPERM, "%s: disk: %s image has a backing file (%.200s); refusing (use --allow-backing to follow local files)",
                   path, nodes[i].format, backing);
      free (backing); free (bfmt);
      goto err;
    }
    if (n > MAX_CHAIN) {
      r = img_err (ctx, -ELOOP, "%s: disk: backing chain longer than %d files; refusing", path, MAX_CHAIN);
      free (backing); free (bfmt);
      goto err;
    }
    if (asprintf (&what, "backing file #%zu", n) == -1)
      what = NULL;
    r = resolve_local (ctx, path, what ? what : "a backing file", nodes[i].path, backing, &nodes[n].path);
    free (what);
    free (backing);
    if (r < 0) {
      free (bfmt);
      goto err;
    }
    n++;
    if (stat (nodes[n - 1].path, &seen[n - 1]) == -1) {
      r = img_err (ctx, -errno, "%s: disk: backing file vanished", path);
      free (bfmt);
      goto err;
    }
    for (k = 0; k + 1 < n; k++)
      if (seen[k].st_dev == seen[n - 1].st_dev && seen[k].st_ino == seen[n - 1].st_ino) {
        r = img_err (ctx, -ELOOP, "%s: disk: backing chain loops; refusing", path);
        free (bfmt);
        goto err;
      }
    /* The backing format as the header names it, else our own guess
     * from its magic (never qemu's probing). */
    if (bfmt == NULL || !img_internal_format_known (bfmt)) {
      unsigned char h[512];
      FILE *fp = fopen (nodes[n - 1].path, "re");
      size_t got = fp ? fread (h, 1, sizeof h, fp) : 0;
      if (fp)
        fclose (fp);
      free (bfmt);
      bfmt = strdup (img_disk_detect_format (h, got));
    }
    nodes[n - 1].format = bfmt;
    if (bfmt == NULL) {
      r = img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
      goto err;
    }
  }

  /* An image whose name does not resolve (a memfd) is still opened;
   * only an overlay over it cannot be made. */
  *sharedp = NULL;
  if ((r = shared_spec (path, nodes, n, blockdev, sharedp)) == -ENOMEM) {
    img_err (ctx, r, "%s: disk: out of memory", path);
    goto err;
  }
  *specp = make_spec (nodes, n, blockdev, false);
  if (*specp == NULL) {
    free (*sharedp);
    *sharedp = NULL;
    r = img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
    goto err;
  }
  /* The chain for the report: each file below the image, then data files. */
  chain = calloc (2 * n + 1, sizeof *chain);
  if (chain == NULL) {
    free (*specp);
    *specp = NULL;
    free (*sharedp);
    *sharedp = NULL;
    r = img_err (ctx, -ENOMEM, "%s: disk: out of memory", path);
    goto err;
  }
  *n_chainp = 0;
  for (i = 0; i < n; i++) {
    if (i > 0 && asprintf (&chain[(*n_chainp)++], "%s (%s)", nodes[i].path, nodes[i].format) == -1)
      chain[--(*n_chainp)] = NULL;
    if (nodes[i].data_file && asprintf (&chain[(*n_chainp)++], "%s (data file)", nodes[i].data_file) == -1)
      chain[--(*n_chainp)] = NULL;
  }
  *chainp = chain;
  nodes_free (nodes, n);
  return 0;

 err:
  nodes_free (nodes, n);
  return r;
}
