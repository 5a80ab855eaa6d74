/* img-ramcopy unpack: pax records, names and directories below DST,
 * metadata, and each member made with *at() calls below DST. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "base/fdio.h"
#include "ramcopy.h"

/* ---- pax records ---- */

static bool
pax_decimal (const char *v, size_t len, uint64_t max, uint64_t *out)
{
  uint64_t n = 0;
  size_t i;

  if (len == 0)
    return false;
  for (i = 0; i < len; i++) {
    if (v[i] < '0' || v[i] > '9' || n > (max - (uint64_t) (v[i] - '0')) / 10)
      return false;
    n = n * 10 + (uint64_t) (v[i] - '0');
  }
  *out = n;
  return true;
}

/* "SECONDS[.FRACTION]", possibly negative: -1.5 is 1.5 s before the
 * epoch, that is { -2, 500000000 }. */
static bool
pax_time (const char *v, size_t len, struct timespec *ts)
{
  bool neg = len > 0 && v[0] == '-';
  size_t i = neg, int_end;
  uint64_t sec;
  long nsec = 0, scale = 100000000;

  for (int_end = i; int_end < len && v[int_end] != '.'; int_end++)
    ;
  if (!pax_decimal (v + i, int_end - i, INT64_MAX - 1, &sec))
    return false;
  if (int_end < len) {
    if (int_end + 1 == len)
      return false;
    for (i = int_end + 1; i < len; i++) {
      if (v[i] < '0' || v[i] > '9')
        return false;
      nsec += (v[i] - '0') * scale;   /* digits past nanoseconds drop out */
      scale /= 10;
    }
  }
  if (!neg) {
    ts->tv_sec = (time_t) sec;
    ts->tv_nsec = nsec;
  } else if (nsec) {
    ts->tv_sec = -(time_t) sec - 1;
    ts->tv_nsec = 1000000000L - nsec;
  } else {
    ts->tv_sec = -(time_t) sec;
    ts->tv_nsec = 0;
  }
  return true;
}

static void
pax_clear (struct pax *p)
{
  size_t i;

  free (p->path);
  free (p->linkpath);
  free (p->sparse_name);
  for (i = 0; i < p->n_xattrs; i++) {
    free (p->xattrs[i].name);
    free (p->xattrs[i].value);
  }
  free (p->xattrs);
  memset (p, 0, sizeof *p);
}

/* A pax string that becomes a C string: a NUL in it would cut it. */
static char *
pax_string (struct unpack *u, uint64_t at, const char *key, const char *v, size_t len)
{
  if (memchr (v, '\0', len))
    udie (u, "corrupt pax header at byte %" PRIu64 ": %s has a NUL byte", at, key);
  return xstrndup (v, len);
}

/* Parses the LEN KEY=VALUE\n records of an extended header at tar byte
 * AT; a global header (P NULL) is checked and otherwise ignored. */
static void
pax_parse (struct unpack *u, uint64_t at, const char *d, size_t n, struct pax *p)
{
  size_t i = 0;

  while (i < n) {
    size_t j = i, reclen = 0, keylen, vlen;
    const char *key, *eq, *v;
    char *k;
    uint64_t num;

    /* Some writers pad the header's data with NULs. */
    if (img_internal_all_zero ((const unsigned char *) d + i, n - i))
      break;
    while (j < n && d[j] >= '0' && d[j] <= '9' && j - i < 12)
      reclen = reclen * 10 + (size_t) (d[j++] - '0');
    if (j == i || j >= n || d[j] != ' ' || reclen <= j + 1 - i || reclen > n - i
        || d[i + reclen - 1] != '\n')
      udie (u, "corrupt pax header at byte %" PRIu64, at);
    key = d + j + 1;
    eq = memchr (key, '=', (size_t) (d + i + reclen - 1 - key));
    if (eq == NULL || eq == key || memchr (key, '\0', (size_t) (eq - key)))
      udie (u, "corrupt pax header at byte %" PRIu64, at);
    keylen = (size_t) (eq - key);
    v = eq + 1;
    vlen = (size_t) (d + i + reclen - 1 - v);
    i += reclen;
    if (p == NULL)
      continue;
    k = xstrndup (key, keylen);

#define BAD() udie (u, "corrupt pax header at byte %" PRIu64 ": bad %s", at, shown (k, 0))
    if (strcmp (k, "path") == 0) {
      free (p->path);
      p->path = pax_string (u, at, k, v, vlen);
    } else if (strcmp (k, "linkpath") == 0) {
      free (p->linkpath);
      p->linkpath = pax_string (u, at, k, v, vlen);
    } else if (strcmp (k, "size") == 0) {
      if (!pax_decimal (v, vlen, INT64_MAX, &p->size))
        BAD ();
      p->has_size = true;
    } else if (strcmp (k, "uid") == 0 || strcmp (k, "gid") == 0) {
      /* (uid_t) -1 means "unchanged" to chown: not an owner. */
      if (!pax_decimal (v, vlen, UINT32_MAX - 1, &num))
        BAD ();
      if (k[0] == 'u')
        p->uid = (uint32_t) num, p->has_uid = true;
      else
        p->gid = (uint32_t) num, p->has_gid = true;
    } else if (strcmp (k, "mtime") == 0) {
      if (!pax_time (v, vlen, &p->mtime))
        BAD ();
      p->has_mtime = true;
    } else if (strcmp (k, "atime") == 0) {
      if (!pax_time (v, vlen, &p->atime))
        BAD ();
      p->has_atime = true;
    } else if (strncmp (k, "SCHILY.xattr.", 13) == 0) {
      struct xattr *x;
      if (k[13] == '\0')
        BAD ();
      p->xattrs = realloc (p->xattrs, (p->n_xattrs + 1) * sizeof *p->xattrs);
      if (p->xattrs == NULL)
        die ("out of memory");
      x = &p->xattrs[p->n_xattrs++];
      x->name = xstrndup (k + 13, keylen - 13);
      x->value = xmalloc (vlen);
      memcpy (x->value, v, vlen);
      x->len = vlen;
    } else if (strcmp (k, "GNU.sparse.major") == 0) {
      if (!pax_decimal (v, vlen, UINT32_MAX, &p->sparse_major))
        BAD ();
      p->sparse = true;
    } else if (strcmp (k, "GNU.sparse.minor") == 0) {
      if (!pax_decimal (v, vlen, UINT32_MAX, &p->sparse_minor))
        BAD ();
      p->sparse = true;
    } else if (strcmp (k, "GNU.sparse.name") == 0) {
      free (p->sparse_name);
      p->sparse_name = pax_string (u, at, k, v, vlen);
    } else if (strcmp (k, "GNU.sparse.realsize") == 0) {
      if (!pax_decimal (v, vlen, INT64_MAX, &p->realsize))
        BAD ();
      p->has_realsize = true;
    } else if (strcmp (k, "GNU.sparse.size") == 0 || strcmp (k, "GNU.sparse.map") == 0
               || strcmp (k, "GNU.sparse.numblocks") == 0
               || strcmp (k, "GNU.sparse.offset") == 0
               || strcmp (k, "GNU.sparse.numbytes") == 0)
      /* Sparse 0.0 / 0.1: ignoring them would write the wrong bytes. */
      p->old_sparse = true;
#undef BAD
    free (k);
  }
}

/* ---- names and directories below DST ---- */

/* The member's path relative to DST: no leading "/", no "." or empty
 * components; "" is DST itself.  A ".." anywhere is refused: with
 * leading "/" stripped and symlinks never followed, that is the only
 * way a name could leave DST.  Returns a new string. */
static char *
clean_name (struct unpack *u, const char *name, const char *what)
{
  size_t len = strlen (name), o = 0;
  char *r = xmalloc (len + 1);
  const char *s = name;

  while (*s) {
    const char *e = strchr (s, '/');
    size_t cl = e ? (size_t) (e - s) : strlen (s);
    if (cl == 2 && s[0] == '.' && s[1] == '.') {
      if (what)
        udie (u, "member %s: %s refused, it leaves the target", what, shown (name, 1));
      udie (u, "member %s: refused, it leaves the target", shown (name, 0));
    }
    if (cl > 0 && !(cl == 1 && s[0] == '.')) {
      if (o)
        r[o++] = '/';
      memcpy (r + o, s, cl);
      o += cl;
    }
    s += cl;
    if (*s == '/')
      s++;
  }
  r[o] = '\0';
  return r;
}

static void
cache_drop (struct unpack *u)
{
  if (u->cache_rel) {
    close (u->cache_fd);
    free (u->cache_rel);
    u->cache_rel = NULL;
  }
}

/* Opens the directory REL (a clean relative path, "" for DST) one
 * component at a time with O_NOFOLLOW, so a symlink anywhere on the way
 * (one the archive made, say) stops us instead of leading out of DST.
 * Missing directories are made if CREATE (archives need not list
 * parents).  Returns a new fd; FOR_MEMBER names the member, for errors. */
static int
open_dir (struct unpack *u, const char *rel, size_t rel_len, bool create, const char *for_member)
{
  int fd = dup (u->dstfd);
  size_t i = 0;

  if (fd < 0)
    udie (u, "%s", strerror (errno));
  while (i < rel_len) {
    char comp[NAME_MAX + 1];
    size_t cl = 0;
    int nfd;
    struct stat st;
    while (i + cl < rel_len && rel[i + cl] != '/')
      cl++;
    if (cl > NAME_MAX)
      udie (u, "cannot create %s: %s", shown (for_member, 0), strerror (ENAMETOOLONG));
    memcpy (comp, rel + i, cl);
    comp[cl] = '\0';
    nfd = openat (fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (nfd < 0 && errno == ENOENT && create) {
      if (mkdirat (fd, comp, 0755) < 0 && errno != EEXIST)
        udie (u, "cannot create %s: %s", shown (for_member, 0), strerror (errno));
      nfd = openat (fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (nfd < 0) {
      int e = errno;
      if ((e == ELOOP || e == ENOTDIR)
          && fstatat (fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
        udie (u, "cannot create %s: %.*s is a symlink, refused to follow it",
              shown (for_member, 0), (int) (i + cl), shown (rel, 1));
      udie (u, "cannot create %s: %.*s: %s", shown (for_member, 0), (int) (i + cl),
            shown (rel, 1), strerror (e));
    }
    close (fd);
    fd = nfd;
    i += cl + 1;
  }
  return fd;
}

/* The fd of REL's parent directory, kept open for the next member
 * (archives list a directory's entries together); *BASE is REL's last
 * component.  The fd stays ours (callers never close it).  REL must
 * not be "" (DST itself has no parent below DST). */
static int
open_parent (struct unpack *u, const char *rel, const char **base)
{
  const char *slash = strrchr (rel, '/');
  size_t plen = slash ? (size_t) (slash - rel) : 0;

  *base = slash ? slash + 1 : rel;
  if (plen == 0)
    return u->dstfd;
  if (u->cache_rel && strlen (u->cache_rel) == plen && memcmp (u->cache_rel, rel, plen) == 0)
    return u->cache_fd;
  cache_drop (u);
  u->cache_fd = open_dir (u, rel, plen, true, rel);
  u->cache_rel = xstrndup (rel, plen);
  return u->cache_fd;
}

/* Clears the way for a new entry as tar does: an existing non-directory
 * goes, a directory goes if empty (for a non-directory member).  True
 * if an existing directory is to be reused. */
static bool
make_room (struct unpack *u, int pfd, const char *base, const char *rel, bool want_dir)
{
  struct stat st;

  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT)
      return false;
    udie (u, "cannot create %s: %s", shown (rel, 0), strerror (errno));
  }
  if (S_ISDIR (st.st_mode) && want_dir)
    return true;
  if (unlinkat (pfd, base, S_ISDIR (st.st_mode) ? AT_REMOVEDIR : 0) < 0)
    udie (u, "cannot create %s: %s", shown (rel, 0), strerror (errno));
  /* A directory that went may have been the cached parent of an
   * earlier member: forget it (PFD may go too; callers open the
   * parent again). */
  if (S_ISDIR (st.st_mode))
    cache_drop (u);
  return false;
}

/* ---- metadata ---- */

static void
set_xattrs (struct unpack *u, const struct pax *p, int fd, int pfd, const char *base,
            const char *rel)
{
  size_t pass, i;

  /* chown clears security.capability, and it was done already; still
   * set it last, so nothing after it can clear it. */
  for (pass = 0; pass < 2; pass++)
    for (i = 0; i < p->n_xattrs; i++) {
      const struct xattr *x = &p->xattrs[i];
      int r;
      if ((strcmp (x->name, "security.capability") == 0) != (pass == 1))
        continue;
      if (fd >= 0)
        r = fsetxattr (fd, x->name, x->value, x->len, 0);
      else {
        /* No fd (symlinks, devices, fifos) and no lsetxattrat: stand in
         * the parent so the path is one component, never followed. */
        if (fchdir (pfd) < 0)
          udie (u, "cannot set %s on %s: %s", shown (x->name, 1), shown (rel, 0), strerror (errno));
        r = lsetxattr (base, x->name, x->value, x->len, 0);
      }
      if (r < 0 && !xattr_skippable (x->name, errno))
        udie (u, "cannot set %s on %s: %s", shown (x->name, 1), shown (rel, 0), strerror (errno));
    }
}

static void
dirtime_add (struct unpack *u, const char *rel, const struct timespec ts[2])
{
  if (u->n_dirtimes == u->cap_dirtimes) {
    u->cap_dirtimes = u->cap_dirtimes ? u->cap_dirtimes * 2 : 256;
    u->dirtimes = realloc (u->dirtimes, u->cap_dirtimes * sizeof *u->dirtimes);
    if (u->dirtimes == NULL)
      die ("out of memory");
  }
  u->dirtimes[u->n_dirtimes].rel = xstrndup (rel, strlen (rel));
  u->dirtimes[u->n_dirtimes].ts[0] = ts[0];
  u->dirtimes[u->n_dirtimes].ts[1] = ts[1];
  u->n_dirtimes++;
}

/* Directories' times last: making their entries changed them.  A
 * directory that a later member replaced is left alone. */
static void
dirtimes_apply (struct unpack *u)
{
  size_t i;

  for (i = 0; i < u->n_dirtimes; i++) {
    const struct dirtime *d = &u->dirtimes[i];
    const char *base;
    int pfd;
    struct stat st;
    if (d->rel[0] == '\0') {
      if (futimens (u->dstfd, d->ts) < 0)
        udie (u, "cannot set times on .: %s", strerror (errno));
      continue;
    }
    pfd = open_parent (u, d->rel, &base);
    if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (st.st_mode))
      continue;
    if (utimensat (pfd, base, d->ts, AT_SYMLINK_NOFOLLOW) < 0)
      udie (u, "cannot set times on %s: %s", shown (d->rel, 0), strerror (errno));
  }
}

/* ---- members ---- */

struct member {
  char type;
  char *rel;                    /* clean path below DST */
  char *link;                   /* symlink target, or clean hard link target */
  uint64_t size;                /* data in the archive */
  uint32_t uid, gid;
  mode_t mode;
  dev_t rdev;
  struct timespec ts[2];        /* atime, mtime */
};

static void
write_all (struct unpack *u, int fd, const char *buf, size_t n, off_t at, const char *rel)
{
  int r = img_internal_pwrite_all (fd, buf, n, (uint64_t) at);

  if (r < 0)
    udie (u, "cannot create %s: %s", shown (rel, 0), strerror (-r));
}
/* Copies N archive bytes to FD at offset AT. */
static void
copy_out (struct unpack *u, int fd, uint64_t n, uint64_t at, const char *rel)
{
  static char buf[1 << 20];

  while (n > 0) {
    size_t k = n < sizeof buf ? (size_t) n : sizeof buf;
    stream_need (u, buf, k);
    write_all (u, fd, buf, k, (off_t) at, rel);
    at += k;
    n -= k;
    u->bytes += k;
  }
}

struct region {
  uint64_t off, len;
};

/* One decimal line of a sparse 1.0 map, taken block by block from the
 * member's data (*LEFT counts what remains of it). */
static uint64_t
map_number (struct unpack *u, unsigned char *blk, size_t *pos, uint64_t *left, const char *rel)
{
  uint64_t v = 0;
  int digits = 0;

  for (;;) {
    unsigned char c;
    if (*pos == TAR_BLOCK) {
      if (*left < TAR_BLOCK)
        udie (u, "member %s: corrupt sparse map", shown (rel, 0));
      stream_need (u, blk, TAR_BLOCK);
      *left -= TAR_BLOCK;
      *pos = 0;
    }
    c = blk[(*pos)++];
    if (c == '\n')
      break;
    if (c < '0' || c > '9' || digits++ > 19 || v > (INT64_MAX - (c - '0')) / 10)
      udie (u, "member %s: corrupt sparse map", shown (rel, 0));
    v = v * 10 + (c - '0');
  }
  if (digits == 0)
    udie (u, "member %s: corrupt sparse map", shown (rel, 0));
  return v;
}

/* Sparse 1.0: the map, padded to a block, then the regions' data back
 * to back; the holes between are never written. */
static void
write_sparse (struct unpack *u, int fd, const struct member *m, uint64_t realsize)
{
  unsigned char blk[TAR_BLOCK];
  size_t pos = TAR_BLOCK;
  uint64_t left = m->size, n, i, total = 0, end = 0;
  struct region *r = NULL;
  size_t cap = 0;

  n = map_number (u, blk, &pos, &left, m->rel);
  if (n > SPARSE_MAX_REGIONS)
    udie (u, "member %s: corrupt sparse map", shown (m->rel, 0));
  for (i = 0; i < n; i++) {
    if (i == cap) {
      cap = cap ? cap * 2 : 16;
      r = realloc (r, cap * sizeof *r);
      if (r == NULL)
        die ("out of memory");
    }
    r[i].off = map_number (u, blk, &pos, &left, m->rel);
    r[i].len = map_number (u, blk, &pos, &left, m->rel);
    /* In order, apart, inside the file, and adding up to the data. */
    if (r[i].off < end || r[i].len > realsize || r[i].off > realsize - r[i].len
        || total > left || r[i].len > left - total)
      udie (u, "member %s: corrupt sparse map", shown (m->rel, 0));
    end = r[i].off + r[i].len;
    total += r[i].len;
  }
  if (total != left)
    udie (u, "member %s: corrupt sparse map", shown (m->rel, 0));
  for (i = 0; i < n; i++)
    copy_out (u, fd, r[i].len, r[i].off, m->rel);
  free (r);
  if (ftruncate (fd, (off_t) realsize) < 0)
    udie (u, "cannot create %s: %s", shown (m->rel, 0), strerror (errno));
}

/* Owner, then mode (chown clears setuid), then xattrs (chown clears
 * security.capability), then times (not for directories: later). */
static void
member_meta (struct unpack *u, const struct member *m, const struct pax *p, int fd, int pfd,
          const char *base)
{
  const char *rel = m->rel[0] ? m->rel : ".";
  int r;

  r = fd >= 0 ? fchown (fd, m->uid, m->gid)
    : fchownat (pfd, base, m->uid, m->gid, AT_SYMLINK_NOFOLLOW);
  if (r < 0)
    udie (u, "cannot set owner of %s: %s", shown (rel, 0), strerror (errno));
  if (m->type != '2') {
    /* Not a symlink, and made just now by us: fchmodat following the
     * last component cannot leave it. */
    r = fd >= 0 ? fchmod (fd, m->mode) : fchmodat (pfd, base, m->mode, 0);
    if (r < 0)
      udie (u, "cannot set mode of %s: %s", shown (rel, 0), strerror (errno));
  }
  set_xattrs (u, p, fd, pfd, base, rel);
  if (m->type == '5')
    dirtime_add (u, m->rel, m->ts);
  else {
    r = fd >= 0 ? futimens (fd, m->ts) : utimensat (pfd, base, m->ts, AT_SYMLINK_NOFOLLOW);
    if (r < 0)
      udie (u, "cannot set times on %s: %s", shown (rel, 0), strerror (errno));
  }
}

/* Makes the entry itself (no metadata); 0 or -errno.  *FD is set for
 * directories and regular files. */
static int
create_entry (struct unpack *u, const struct member *m, int pfd, const char *base, int *fd)
{
  switch (m->type) {
  case '5':
    if (mkdirat (pfd, base, 0700) < 0)
      return -errno;
    *fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    break;
  case '0':
    *fd = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    break;
  case '1': {
    /* The target's directory gets its own fd: the cache holds ours. */
    const char *slash = strrchr (m->link, '/');
    int tfd = slash ? open_dir (u, m->link, (size_t) (slash - m->link), false, m->rel) : -1, r;
    r = linkat (slash ? tfd : u->dstfd, slash ? slash + 1 : m->link, pfd, base, 0);
    if (r < 0)
      r = -errno;
    if (tfd >= 0)
      close (tfd);
    return r;
  }
  case '2':
    return symlinkat (m->link, pfd, base) < 0 ? -errno : 0;
  default:                      /* '3', '4', '6' */
    return mknodat (pfd, base, (m->type == '3' ? S_IFCHR : m->type == '4' ? S_IFBLK : S_IFIFO) | 0600,
                    m->rdev) < 0 ? -errno : 0;
  }
  return *fd < 0 ? -errno : 0;
}

static void
extract (struct unpack *u, const struct member *m, const struct pax *p)
{
  const char *base;
  int pfd, fd = -1, r;

  if (m->rel[0] == '\0') {
    if (m->type != '5')
      udie (u, "member .: refused, it would replace the target");
    member_meta (u, m, p, u->dstfd, -1, NULL);
    stream_skip (u, m->size + padding (m->size));
    u->files++;
    return;
  }
  if (m->type == '1' && strcmp (m->link, m->rel) == 0) {
    /* A link to itself: it is there already. */
    stream_skip (u, m->size + padding (m->size));
    u->files++;
    return;
  }
  pfd = open_parent (u, m->rel, &base);
  r = create_entry (u, m, pfd, base, &fd);
  if (r == -EEXIST) {
    if (make_room (u, pfd, base, m->rel, m->type == '5')) {
      /* A directory already there (DST's own, or listed twice). */
      fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      r = fd < 0 ? -errno : 0;
    } else {
      pfd = open_parent (u, m->rel, &base);
      r = create_entry (u, m, pfd, base, &fd);
    }
  }
  if (r < 0 && m->type == '1')
    udie (u, "cannot create %s: link to %s: %s", shown (m->rel, 0), shown (m->link, 1),
          strerror (-r));
  if (r < 0)
    udie (u, "cannot create %s: %s", shown (m->rel, 0), strerror (-r));

  if (m->type == '0') {
    if (p->sparse)
      write_sparse (u, fd, m, p->realsize);
    else
      copy_out (u, fd, m->size, 0, m->rel);
    stream_skip (u, padding (m->size));
  } else
    /* Links and nodes have no data; skip what a writer put there. */
    stream_skip (u, m->size + padding (m->size));
  /* A hard link is an inode made already, metadata and all. */
  if (m->type != '1')
    member_meta (u, m, p, fd, pfd, base);
  if (fd >= 0 && close (fd) < 0)
    udie (u, "cannot create %s: %s", shown (m->rel, 0), strerror (errno));
  u->files++;
}

/* Errors exit at once; this is for a clean leak check after success. */
void
unpack_free (struct unpack *u)
{
  size_t i;

  cache_drop (u);
  for (i = 0; i < u->n_dirtimes; i++)
    free (u->dirtimes[i].rel);
  free (u->dirtimes);
  if (u->codec == CODEC_ZSTD)
    ZSTD_freeDStream (u->zd);
  else if (u->codec == CODEC_GZIP)
    inflateEnd (&u->z);
  free (u->raw);
  free (u->out);
  close (u->fd);
  close (u->dstfd);
}

/* A header's name field: up to its length, NUL-terminated or not. */
static char *
field_str (const char *f, size_t len)
{
  return xstrndup (f, strnlen (f, len));
}

void
unpack (const char *archive, const char *dst)
{
  struct unpack u = { .archive = archive, .cache_fd = -1 };
  struct pax pax = { 0 };
  unsigned char blk[TAR_BLOCK];
  uint64_t headers = 0;

  u.dstfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (u.dstfd < 0)
    udie (&u, "%s: %s", dst, strerror (errno));
  stream_open (&u, archive);
  umask (0);

  for (;;) {
    struct ustar h;
    struct member m = { 0 };
    uint64_t at = u.pos;
    size_t got = stream_read (&u, blk, TAR_BLOCK);
    int64_t mode, uid, gid, size, mtime, major, minor;
    bool gnu;
    char *name;

    /* Short input with no ustar magic where it would be is not ours
     * (unless the compressed stream was cut before it). */
    if (headers == 0 && got < TAR_BLOCK && !u.cut
        && (got < 265 || (memcmp (blk + 257, "ustar\0" "00", 8) != 0
                          && memcmp (blk + 257, "ustar  \0", 8) != 0)))
      udie (&u, "not a tar archive");
    if (got < TAR_BLOCK)
      udie (&u, "truncated at byte %" PRIu64, u.pos);
    if (img_internal_all_zero (blk, TAR_BLOCK))
      break;                    /* the end (a second zero block may follow) */
    memcpy (&h, blk, sizeof h);
    gnu = memcmp (h.magic, "ustar  \0", 8) == 0;
    if (!gnu && memcmp (h.magic, "ustar\0" "00", 8) != 0) {
      if (headers == 0)
        udie (&u, "not a tar archive");
      udie (&u, "corrupt header at byte %" PRIu64, at);
    }
    if (!checksum_ok (blk, &h))
      udie (&u, "corrupt header at byte %" PRIu64, at);
    headers++;
    if (!parse_num (h.mode, sizeof h.mode, &mode) || !parse_num (h.uid, sizeof h.uid, &uid)
        || !parse_num (h.gid, sizeof h.gid, &gid) || !parse_num (h.size, sizeof h.size, &size)
        || !parse_num (h.mtime, sizeof h.mtime, &mtime)
        || !parse_num (h.devmajor, sizeof h.devmajor, &major)
        || !parse_num (h.devminor, sizeof h.devminor, &minor)
        || size < 0 || uid < 0 || uid > (int64_t) UINT32_MAX - 1 || gid < 0
        || gid > (int64_t) UINT32_MAX - 1 || major < 0 || major > UINT32_MAX
        || minor < 0 || minor > UINT32_MAX)
      udie (&u, "corrupt header at byte %" PRIu64, at);

    if (h.typeflag == 'x' || h.typeflag == 'g') {
      char *d;
      if (size > PAX_MAX)
        udie (&u, "pax header at byte %" PRIu64 " too large", at);
      d = xmalloc ((size_t) size);
      stream_need (&u, d, (size_t) size);
      stream_skip (&u, padding ((uint64_t) size));
      pax_parse (&u, at, d, (size_t) size, h.typeflag == 'x' ? &pax : NULL);
      free (d);
      continue;
    }

    /* The name: pax's, else ustar's prefix/name (GNU's old header has
     * other things where the prefix would be). */
    if (pax.sparse_name)
      name = xstrndup (pax.sparse_name, strlen (pax.sparse_name));
    else if (pax.path)
      name = xstrndup (pax.path, strlen (pax.path));
    else {
      char *n = field_str (h.name, sizeof h.name), *pre = field_str (h.prefix, sizeof h.prefix);
      if (!gnu && pre[0]) {
        if (asprintf (&name, "%s/%s", pre, n) < 0)
          die ("out of memory");
      } else
        name = xstrndup (n, strlen (n));
      free (n);
      free (pre);
    }

    m.type = h.typeflag == '\0' ? '0' : h.typeflag;
    if (!strchr ("0123456", m.type))
      udie (&u, "member %s: unsupported type '%s'", shown (name, 0),
            (unsigned char) m.type >= 0x21 && (unsigned char) m.type < 0x7f
            ? (char[]) { m.type, '\0' } : "?");
    m.rel = clean_name (&u, name, NULL);
    if (m.type == '1' || m.type == '2') {
      char *ln = pax.linkpath ? xstrndup (pax.linkpath, strlen (pax.linkpath))
        : field_str (h.linkname, sizeof h.linkname);
      if (ln[0] == '\0')
        udie (&u, "member %s: empty link target", shown (name, 0));
      if (m.type == '1') {
        m.link = clean_name (&u, ln, shown (name, 0));
        free (ln);
      } else
        m.link = ln;
    }
    m.size = pax.has_size ? pax.size : (uint64_t) size;
    m.uid = pax.has_uid ? pax.uid : (uint32_t) uid;
    m.gid = pax.has_gid ? pax.gid : (uint32_t) gid;
    m.mode = (mode_t) (mode & 07777);
    m.rdev = makedev ((unsigned int) major, (unsigned int) minor);
    if (pax.has_mtime)
      m.ts[1] = pax.mtime;
    else {
      m.ts[1].tv_sec = (time_t) mtime;
      m.ts[1].tv_nsec = 0;
    }
    m.ts[0] = pax.has_atime ? pax.atime : m.ts[1];
    if (pax.old_sparse)
      udie (&u, "member %s: GNU sparse format 0.x is not supported (only 1.0)", shown (name, 0));
    if (pax.sparse) {
      if (pax.sparse_major != 1 || pax.sparse_minor != 0)
        udie (&u, "member %s: GNU sparse format %" PRIu64 ".%" PRIu64 " is not supported (only 1.0)",
              shown (name, 0), pax.sparse_major, pax.sparse_minor);
      if (m.type != '0' || !pax.has_realsize)
        udie (&u, "member %s: corrupt sparse header", shown (name, 0));
    }

    extract (&u, &m, &pax);
    free (name);
    free (m.rel);
    free (m.link);
    pax_clear (&pax);
  }

  dirtimes_apply (&u);
  printf ("files=%" PRIu64 " bytes=%" PRIu64 " xattrs_skipped=%" PRIu64 "\n", u.files, u.bytes,
          xattrs_skipped);
  report_skipped ();
  pax_clear (&pax);
  unpack_free (&u);
}
