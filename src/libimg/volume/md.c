/* md RAID read in user space: members found by their superblocks
 * (md-super.c) are grouped by array UUID; a RAID1 array becomes a volume
 * over the data area of one in-sync member, the freshest, so partitions,
 * LVM and filesystems on it are found as on any volume.  Other levels are
 * listed, not read.  Nothing is assembled on the host; writes to an
 * array are refused (one mirror written alone would split it). */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volume/volume-private.h"

struct img_md {
  size_t n_arrays;
  struct img_md_array *arrays;
};

struct found {
  struct img_md_super sb;
  const struct img_volume *vol;
  bool used;
};

static const char md_no_write[] =
  "md: an md RAID array is not written natively (it would reach one mirror only); "
  "--backend auto writes it through the appliance";

const char *
img_md_level_name (int level)
{
  switch (level) {
  case -5: return "faulty";
  case -4: return "multipath";
  case -1: return "linear";
  case 0: return "raid0";
  case 1: return "raid1";
  case 4: return "raid4";
  case 5: return "raid5";
  case 6: return "raid6";
  case 10: return "raid10";
  default: return "unknown";
  }
}

const char *
img_md_role_name (int role, char *buf, size_t len)
{
  if (role == IMG_MD_ROLE_SPARE)
    return "spare";
  if (role == IMG_MD_ROLE_FAULTY)
    return "faulty";
  if (role < 0)
    return "unknown";
  snprintf (buf, len, "%d", role);
  return buf;
}

/* "md/NAME" from a 1.x "host:NAME", "mdN" for 0.90.  Guest bytes: only
 * [A-Za-z0-9._-] are kept, anything else becomes '_'. */
static void
make_devname (const struct img_md_super *sb, char *out, size_t outlen)
{
  const char *n = strchr (sb->name, ':');
  size_t o;

  if (strcmp (sb->metadata, "0.90") == 0 || sb->name[0] == '\0') {
    snprintf (out, outlen, "md%" PRIu32, sb->md_minor);
    return;
  }
  n = n ? n + 1 : sb->name;
  o = (size_t) snprintf (out, outlen, "md/");
  for (; *n && o + 1 < outlen; n++) {
    unsigned char c = (unsigned char) *n;
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
      || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    out[o++] = keep ? (char) c : '_';
  }
  out[o] = '\0';
}

static int
set_error (struct img_ctx *ctx, struct img_md_array *a, const char *fmt, ...)
  __attribute__((format (printf, 3, 4)));

static int
set_error (struct img_ctx *ctx, struct img_md_array *a, const char *fmt, ...)
{
  char reason[512];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (reason, sizeof reason, fmt, ap);
  va_end (ap);
  if (asprintf (&a->error, "%s: md: %s", a->devname, reason) < 0) {
    a->error = NULL;
    return img_err (ctx, -ENOMEM, "%s: md: out of memory", a->devname);
  }
  img_dbg (ctx, "%s", a->error);
  return 0;
}

/* Members that disagree on what the array is: said, and not read. */
static const struct found *
disagreeing (struct found *const *g, size_t n)
{
  size_t i;

  for (i = 1; i < n; i++)
    if (g[i]->sb.level != g[0]->sb.level
        || g[i]->sb.raid_disks != g[0]->sb.raid_disks
        || strcmp (g[i]->sb.metadata, g[0]->sb.metadata) != 0)
      return g[i];
  return NULL;
}

/* A partition of array A as the kernel and udev name it: "md0p1" (the
 * kernel's mdNpM), "md/root1" or "md/0p1" (udev's md/NAME[p]M). */
static void
make_partname (const struct img_md_array *a, unsigned number, char *out,
               size_t outlen)
{
  size_t n = strlen (a->devname);
  bool digit = n > 0 && a->devname[n - 1] >= '0' && a->devname[n - 1] <= '9';

  snprintf (out, outlen, "%s%s%u", a->devname, digit ? "p" : "", number);
}

/* A partition table on array A (read from member MEMBER): its partitions
 * become volumes.  A corrupt table is an error, as on a disk. */
static int
read_parts (struct img_ctx *ctx, struct img_md_array *a, const char *member)
{
  char where[sizeof a->devname + 300], name[sizeof a->devname + 16];
  size_t i;
  int r;

  if (a->vol->size < IMG_SECTOR_SIZE)
    return 0;
  snprintf (where, sizeof where, "%s (md array on %s)", a->devname, member);
  r = img_internal_ptable_read_volume (ctx, a->vol, where, &a->pt);
  if (r < 0)
    return r;
  if (a->pt->type == IMG_PTABLE_NONE) {
    img_ptable_free (a->pt);
    a->pt = NULL;
    return 0;
  }
  a->part_vols = calloc (a->pt->n_parts + 1, sizeof *a->part_vols);
  if (a->part_vols == NULL)
    return img_err (ctx, -ENOMEM, "%s: md: out of memory", a->devname);
  for (i = 0; i < a->pt->n_parts; i++) {
    const struct img_part *p = &a->pt->parts[i];
    if (p->kind == IMG_PART_EXTENDED || p->size == 0)
      continue;
    make_partname (a, p->number, name, sizeof name);
    r = img_internal_volume_slice (ctx, name, a->vol, p->start, p->size,
                                   &a->part_vols[i]);
    if (r < 0)
      return r;
  }
  return 0;
}

/* RAID1: the in-sync member with the most events; stale ones are said. */
static int
read_raid1 (struct img_ctx *ctx, struct img_md_array *a,
            struct found *const *g, size_t n)
{
  const struct found *best = NULL;
  size_t i, in_sync = 0;
  int r;

  for (i = 0; i < n; i++)
    if (g[i]->sb.in_sync && (best == NULL || g[i]->sb.events > best->sb.events))
      best = g[i];
  if (best == NULL)
    return set_error (ctx, a, "none of the %zu members found is in sync; not read", n);
  for (i = 0; i < n; i++) {
    if (!g[i]->sb.in_sync)
      continue;
    if (g[i]->sb.events == best->sb.events)
      in_sync++;
    else
      img_dbg (ctx, "%s: md: %s has events %" PRIu64 ", %s has %" PRIu64 "; reading the fresher %s",
               a->devname, g[i]->vol->name, g[i]->sb.events, best->vol->name,
               best->sb.events, best->vol->name);
    if (g[i] == best)
      a->members[i].used = true;
  }
  a->degraded = in_sync < a->raid_disks;
  if (a->size == 0)
    return set_error (ctx, a, "the array is empty (size 0); not read");
  r = img_internal_volume_slice (ctx, a->devname, best->vol, best->sb.data_offset,
                                 a->size, &a->vol);
  if (r < 0)
    return r;
  a->vol->no_write = md_no_write;
  return read_parts (ctx, a, best->vol->name);
}

/* Builds array A from the N members in G (same UUID). */
static int
build_array (struct img_ctx *ctx, struct img_md_array *a,
             struct found *const *g, size_t n)
{
  const struct found *fresh = g[0], *other;
  size_t i;

  for (i = 1; i < n; i++)
    if (g[i]->sb.events > fresh->sb.events)
      fresh = g[i];
  img_internal_uuid_to_string (fresh->sb.uuid, a->uuid);
  memcpy (a->name, fresh->sb.name, sizeof a->name);
  make_devname (&fresh->sb, a->devname, sizeof a->devname);
  memcpy (a->metadata, fresh->sb.metadata, sizeof a->metadata);
  a->level = fresh->sb.level;
  a->raid_disks = fresh->sb.raid_disks;
  /* RAID1 says how much of each member it uses; raid0 leaves it 0. */
  a->size = fresh->sb.size ? fresh->sb.size : fresh->sb.data_size;
  a->members = calloc (n, sizeof *a->members);
  if (a->members == NULL)
    return img_err (ctx, -ENOMEM, "%s: md: out of memory", a->devname);
  a->n_members = n;
  for (i = 0; i < n; i++) {
    struct img_md_member *m = &a->members[i];
    m->dev = g[i]->vol;
    if (g[i]->sb.has_dev_uuid)
      img_internal_uuid_to_string (g[i]->sb.dev_uuid, m->dev_uuid);
    m->role = g[i]->sb.role;
    m->in_sync = g[i]->sb.in_sync;
    m->events = g[i]->sb.events;
    m->data_offset = g[i]->sb.data_offset;
    m->data_size = g[i]->sb.data_size;
  }
  other = disagreeing (g, n);
  if (other != NULL) {
    int r = set_error (ctx, a,
                       "members with one UUID disagree (%s %s with %" PRIu32 " disks on %s, %s %s with %" PRIu32 " on %s); not read",
                       g[0]->sb.metadata, img_md_level_name (g[0]->sb.level),
                       g[0]->sb.raid_disks, g[0]->vol->name, other->sb.metadata,
                       img_md_level_name (other->sb.level), other->sb.raid_disks,
                       other->vol->name);
    if (r == 0)
      img_warn (ctx, "%s", a->error);
    return r;
  }
  if (a->level != 1)
    return set_error (ctx, a, "%s arrays are not read (only RAID1 is, from one member)",
                      img_md_level_name (a->level));
  return read_raid1 (ctx, a, g, n);
}

static int
assemble (struct img_ctx *ctx, struct found *f, size_t n, struct img_md *md)
{
  struct found **g;
  size_t i, k, ng;
  int r = 0;

  g = calloc (n, sizeof *g);
  md->arrays = calloc (n, sizeof *md->arrays);
  if (g == NULL || md->arrays == NULL) {
    free (g);
    return img_err (ctx, -ENOMEM, "md: out of memory");
  }
  for (i = 0; i < n && r == 0; i++) {
    if (f[i].used)
      continue;
    for (ng = 0, k = i; k < n; k++)
      if (!f[k].used && memcmp (f[k].sb.uuid, f[i].sb.uuid, 16) == 0) {
        f[k].used = true;
        g[ng++] = &f[k];
      }
    r = build_array (ctx, &md->arrays[md->n_arrays++], g, ng);
  }
  free (g);
  return r;
}

int
img_md_scan (struct img_ctx *ctx, struct img_volume *const *vols,
             size_t n_vols, struct img_md **mdp)
{
  struct found *f;
  struct img_md *md;
  size_t i, n = 0;
  int r = 0;

  md = calloc (1, sizeof *md);
  f = calloc (n_vols + 1, sizeof *f);
  if (md == NULL || f == NULL) {
    free (md);
    free (f);
    return img_err (ctx, -ENOMEM, "md: out of memory");
  }
  for (i = 0; i < n_vols && r >= 0; i++) {
    r = img_internal_md_read_super (ctx, vols[i], &f[n].sb);
    if (r <= 0)
      continue;
    if (f[n].sb.bad[0]) {
      img_warn (ctx, "%s: md: %s superblock: %s; member ignored", vols[i]->name,
                f[n].sb.metadata, f[n].sb.bad);
      continue;
    }
    f[n++].vol = vols[i];
  }
  if (r >= 0)
    r = assemble (ctx, f, n, md);
  free (f);
  if (r < 0) {
    img_md_free (md);
    return r;
  }
  *mdp = md;
  return 0;
}

void
img_md_free (struct img_md *md)
{
  size_t i, k;

  if (md == NULL)
    return;
  for (i = 0; i < md->n_arrays; i++) {
    free (md->arrays[i].members);
    free (md->arrays[i].error);
    if (md->arrays[i].pt != NULL && md->arrays[i].part_vols != NULL)
      for (k = 0; k < md->arrays[i].pt->n_parts; k++)
        img_volume_free (md->arrays[i].part_vols[k]);
    free (md->arrays[i].part_vols);
    img_ptable_free (md->arrays[i].pt);
    img_volume_free (md->arrays[i].vol);
  }
  free (md->arrays);
  free (md);
}

size_t
img_md_n_arrays (const struct img_md *md)
{
  return md ? md->n_arrays : 0;
}

const struct img_md_array *
img_md_array (const struct img_md *md, size_t i)
{
  return md && i < md->n_arrays ? &md->arrays[i] : NULL;
}
