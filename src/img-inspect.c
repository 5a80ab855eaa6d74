/* img-inspect: what is inside disk images: the block layout (container
 * format, partition table, LVM, filesystems) and the guest (OS, mount map,
 * kernels, initrds, bootloader entries).  A thin front end over libimg:
 * options, text or JSON output, exit status. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "libimg.h"

#define PROG "img-inspect"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

struct volume_info {
  struct img_volume *vol;
  struct img_fsinfo fs;
  const struct img_part *part;  /* NULL for a whole disk */
};

struct image {
  const char *path;
  struct img_disk *disk;
  struct img_ptable *pt;
  size_t n_vols;
  struct volume_info *vols;
};

struct state {
  struct img_ctx *ctx;
  size_t n_images;
  struct image *images;
  struct img_lvm *lvm;
  struct img_fsinfo **lv_fs;    /* [vg][lv] */
};

static void
usage (FILE *fp)
{
  fprintf (fp,
           "Usage: %s [OPTION]... IMAGE...\n"
           "Show what is inside powered-off VM disk images: container format,\n"
           "partition table, LVM volume groups and logical volumes, filesystems.\n"
           "Several images are read together (a volume group may span them).\n"
           "\n"
           "  -j, --json      machine-readable output (see img-inspect(1))\n"
           "  -v, --verbose   debug messages on stderr (as IMG_DEBUG=1)\n"
           "  -h, --help      this help\n"
           "  -V, --version   version\n", PROG);
}

static int
fail (struct state *st)
{
  const char *msg = img_ctx_error (st->ctx);

  fprintf (stderr, "%s: %s\n", PROG, *msg ? msg : "out of memory");
  return EXIT_ERROR;
}

static int
add_volume (struct state *st, struct image *im, struct img_volume *vol,
            const struct img_part *part)
{
  struct volume_info *v;

  v = realloc (im->vols, (im->n_vols + 1) * sizeof *v);
  if (v == NULL) {
    img_volume_free (vol);
    return -ENOMEM;
  }
  im->vols = v;
  v += im->n_vols++;
  memset (v, 0, sizeof *v);
  v->vol = vol;
  v->part = part;
  return img_probe (st->ctx, vol, &v->fs);
}

static int
open_image (struct state *st, struct image *im)
{
  struct img_volume *vol;
  char name[4096];
  size_t i;
  int r;

  r = img_disk_open (st->ctx, im->path, IMG_DISK_RDONLY, &im->disk);
  if (r < 0)
    return r;
  r = img_ptable_read (st->ctx, im->disk, &im->pt);
  if (r < 0)
    return r;
  if (im->pt->type == IMG_PTABLE_NONE) {
    r = img_volume_new_linear (st->ctx, im->path, im->disk, 0,
                               img_disk_size (im->disk), &vol);
    if (r < 0)
      return r;
    return add_volume (st, im, vol, NULL);
  }
  for (i = 0; i < im->pt->n_parts; i++) {
    const struct img_part *p = &im->pt->parts[i];
    if (p->kind == IMG_PART_EXTENDED)
      continue;
    snprintf (name, sizeof name, "%s:p%u", im->path, p->number);
    r = img_volume_new_linear (st->ctx, name, im->disk, p->start, p->size, &vol);
    if (r < 0)
      return r;
    r = add_volume (st, im, vol, p);
    if (r < 0)
      return r;
  }
  return 0;
}

static int
scan_lvm (struct state *st)
{
  struct img_volume **vols = NULL;
  size_t n = 0, i, j, k;
  int r;

  for (i = 0; i < st->n_images; i++)
    n += st->images[i].n_vols;
  vols = calloc (n ? n : 1, sizeof *vols);
  if (vols == NULL)
    return -ENOMEM;
  n = 0;
  for (i = 0; i < st->n_images; i++)
    for (j = 0; j < st->images[i].n_vols; j++)
      if (strcmp (st->images[i].vols[j].fs.type, "LVM2_member") == 0)
        vols[n++] = st->images[i].vols[j].vol;
  r = img_lvm_scan (st->ctx, vols, n, &st->lvm);
  free (vols);
  if (r < 0)
    return r;

  st->lv_fs = calloc (img_lvm_n_vgs (st->lvm) + 1, sizeof *st->lv_fs);
  if (st->lv_fs == NULL)
    return -ENOMEM;
  for (i = 0; i < img_lvm_n_vgs (st->lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (st->lvm, i);
    st->lv_fs[i] = calloc (vg->n_lvs + 1, sizeof **st->lv_fs);
    if (st->lv_fs[i] == NULL)
      return -ENOMEM;
    for (k = 0; k < vg->n_lvs; k++) {
      if (vg->lvs[k].vol == NULL)
        continue;
      r = img_probe (st->ctx, vg->lvs[k].vol, &st->lv_fs[i][k]);
      if (r < 0)
        return r;
    }
  }
  return 0;
}

/* Where a PV-relative byte lands in its image. */
static bool
pv_location (const struct img_lvm_pv *pv, uint64_t rel, const char **image,
             uint64_t *offset)
{
  const struct img_volume *dev = pv->dev;

  if (dev == NULL || dev->n_segments != 1 || dev->segments[0].n_stripes != 1)
    return false;
  *image = img_disk_name (dev->segments[0].stripes[0].disk);
  *offset = dev->segments[0].stripes[0].offset + rel;
  return true;
}

static const char *
kind_name (enum img_part_kind k)
{
  return k == IMG_PART_EXTENDED ? "extended" : k == IMG_PART_LOGICAL ? "logical" : "primary";
}

static void
part_type (const struct img_part *p, char *buf, size_t len)
{
  if (p->type_guid[0])
    snprintf (buf, len, "%s", p->type_guid);
  else
    snprintf (buf, len, "%x", p->mbr_type);
}

/* ---- JSON -------------------------------------------------------------- */

static void
json_fs (struct img_json *j, const struct img_fsinfo *fs)
{
  img_json_key (j, "filesystem");
  if (fs == NULL || fs->type[0] == '\0') {
    img_json_null (j);
    return;
  }
  img_json_begin_object (j);
  img_json_kv_string (j, "type", fs->type);
  img_json_kv_string (j, "uuid", fs->uuid[0] ? fs->uuid : NULL);
  img_json_kv_string (j, "label", fs->label[0] ? fs->label : NULL);
  img_json_end_object (j);
}

static const struct img_fsinfo *
find_part_fs (const struct image *im, const struct img_part *p)
{
  size_t i;

  for (i = 0; i < im->n_vols; i++)
    if (im->vols[i].part == p)
      return &im->vols[i].fs;
  return NULL;
}

static const char *
pv_device_name (const struct img_lvm_pv *pv)
{
  return pv->dev ? pv->dev->name : NULL;
}

static void
print_json (struct state *st)
{
  struct img_json j;
  size_t i, k, l, s, t;
  char buf[64];

  img_json_init (&j, stdout);
  img_json_begin_object (&j);
  img_json_kv_uint (&j, "version", 1);
  img_json_key (&j, "images");
  img_json_begin_array (&j);
  for (i = 0; i < st->n_images; i++) {
    const struct image *im = &st->images[i];
    img_json_begin_object (&j);
    img_json_kv_string (&j, "path", im->path);
    img_json_kv_string (&j, "format", img_disk_format (im->disk));
    img_json_kv_uint (&j, "size", img_disk_size (im->disk));
    img_json_key (&j, "partition_table");
    if (im->pt->type == IMG_PTABLE_NONE)
      img_json_null (&j);
    else {
      img_json_begin_object (&j);
      img_json_kv_string (&j, "type", img_ptable_type_name (im->pt->type));
      img_json_kv_string (&j, "id", im->pt->id);
      img_json_kv_uint (&j, "sector_size", im->pt->sector_size);
      if (im->pt->type == IMG_PTABLE_GPT) {
        img_json_kv_uint (&j, "first_lba", im->pt->first_lba);
        img_json_kv_uint (&j, "last_lba", im->pt->last_lba);
        img_json_kv_bool (&j, "used_backup", im->pt->used_backup);
      }
      img_json_end_object (&j);
    }
    img_json_key (&j, "partitions");
    img_json_begin_array (&j);
    for (k = 0; k < im->pt->n_parts; k++) {
      const struct img_part *p = &im->pt->parts[k];
      img_json_begin_object (&j);
      img_json_kv_uint (&j, "number", p->number);
      img_json_kv_string (&j, "kind", kind_name (p->kind));
      img_json_kv_uint (&j, "start", p->start);
      img_json_kv_uint (&j, "size", p->size);
      part_type (p, buf, sizeof buf);
      img_json_kv_string (&j, "type", buf);
      img_json_kv_string (&j, "type_name", img_part_type_name (p));
      img_json_kv_string (&j, "uuid", p->uuid);
      if (im->pt->type == IMG_PTABLE_GPT) {
        img_json_kv_string (&j, "name", p->name);
        img_json_kv_uint (&j, "attributes", p->attrs);
      }
      else
        img_json_kv_bool (&j, "bootable", p->bootable);
      json_fs (&j, find_part_fs (im, p));
      img_json_end_object (&j);
    }
    img_json_end_array (&j);
    json_fs (&j, im->pt->type == IMG_PTABLE_NONE && im->n_vols ? &im->vols[0].fs : NULL);
    img_json_end_object (&j);
  }
  img_json_end_array (&j);

  img_json_key (&j, "volume_groups");
  img_json_begin_array (&j);
  for (i = 0; i < img_lvm_n_vgs (st->lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (st->lvm, i);
    img_json_begin_object (&j);
    img_json_kv_string (&j, "name", vg->name);
    img_json_kv_string (&j, "uuid", vg->uuid);
    img_json_kv_uint (&j, "seqno", vg->seqno);
    img_json_kv_uint (&j, "extent_size", vg->extent_size);
    img_json_kv_bool (&j, "partial", vg->partial);
    img_json_key (&j, "pvs");
    img_json_begin_array (&j);
    for (k = 0; k < vg->n_pvs; k++) {
      const struct img_lvm_pv *pv = &vg->pvs[k];
      img_json_begin_object (&j);
      img_json_kv_string (&j, "name", pv->name);
      img_json_kv_string (&j, "uuid", pv->uuid);
      img_json_kv_string (&j, "device", pv_device_name (pv));
      img_json_kv_uint (&j, "pe_start", pv->pe_start);
      img_json_kv_uint (&j, "pe_count", pv->pe_count);
      img_json_end_object (&j);
    }
    img_json_end_array (&j);
    img_json_key (&j, "lvs");
    img_json_begin_array (&j);
    for (k = 0; k < vg->n_lvs; k++) {
      const struct img_lvm_lv *lv = &vg->lvs[k];
      img_json_begin_object (&j);
      img_json_kv_string (&j, "name", lv->name);
      img_json_kv_string (&j, "uuid", lv->uuid);
      img_json_kv_uint (&j, "size", lv->size);
      img_json_kv_bool (&j, "visible", lv->visible);
      img_json_kv_string (&j, "error", lv->error);
      img_json_key (&j, "segments");
      img_json_begin_array (&j);
      for (l = 0; l < lv->n_segs; l++) {
        const struct img_lvm_seg *sg = &lv->segs[l];
        img_json_begin_object (&j);
        img_json_kv_uint (&j, "start_extent", sg->start_extent);
        img_json_kv_uint (&j, "extent_count", sg->extent_count);
        img_json_kv_string (&j, "type", sg->type);
        img_json_kv_uint (&j, "stripe_size", sg->stripe_size);
        img_json_key (&j, "stripes");
        img_json_begin_array (&j);
        for (s = 0; s < sg->n_stripes; s++) {
          const struct img_lvm_stripe *stp = &sg->stripes[s];
          const struct img_lvm_pv *pv = stp->pv < vg->n_pvs ? &vg->pvs[stp->pv] : NULL;
          const char *image;
          uint64_t off;
          img_json_begin_object (&j);
          img_json_kv_string (&j, "pv", pv ? pv->name : NULL);
          img_json_kv_uint (&j, "first_pe", stp->first_pe);
          if (pv && pv_location (pv, pv->pe_start + stp->first_pe * vg->extent_size,
                                 &image, &off)) {
            img_json_kv_string (&j, "image", image);
            img_json_kv_uint (&j, "offset", off);
          }
          else {
            img_json_kv_string (&j, "image", NULL);
            img_json_key (&j, "offset");
            img_json_null (&j);
          }
          img_json_end_object (&j);
        }
        (void) t;
        img_json_end_array (&j);
        img_json_end_object (&j);
      }
      img_json_end_array (&j);
      json_fs (&j, lv->vol ? &st->lv_fs[i][k] : NULL);
      img_json_end_object (&j);
    }
    img_json_end_array (&j);
    img_json_end_object (&j);
  }
  img_json_end_array (&j);
  img_json_end_object (&j);
  img_json_finish (&j);
}

/* ---- text -------------------------------------------------------------- */

static const char *
human (uint64_t v, char *buf, size_t len)
{
  static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
  double d = v;
  int u = 0;

  while (d >= 1024 && u < 5) {
    d /= 1024;
    u++;
  }
  if (u == 0)
    snprintf (buf, len, "%" PRIu64 " B", v);
  else
    snprintf (buf, len, "%.1f %s", d, units[u]);
  return buf;
}

static void
text_fs (const struct img_fsinfo *fs)
{
  if (fs == NULL || fs->type[0] == '\0') {
    printf ("-");
    return;
  }
  printf ("%s", fs->type);
  if (fs->uuid[0])
    printf (" UUID=%s", fs->uuid);
  if (fs->label[0])
    printf (" LABEL=\"%s\"", fs->label);
}

static void
print_text (struct state *st)
{
  size_t i, k, l, s;
  char h[32], buf[64];

  for (i = 0; i < st->n_images; i++) {
    const struct image *im = &st->images[i];
    printf ("%s: %s, %s (%" PRIu64 " bytes)\n", im->path,
            img_disk_format (im->disk), human (img_disk_size (im->disk), h, sizeof h),
            img_disk_size (im->disk));
    if (im->pt->type == IMG_PTABLE_NONE) {
      printf ("  no partition table; whole disk: ");
      text_fs (im->n_vols ? &im->vols[0].fs : NULL);
      printf ("\n");
      continue;
    }
    printf ("  partition table: %s, id %s%s\n", img_ptable_type_name (im->pt->type),
            im->pt->id, im->pt->used_backup ? " (backup GPT header)" : "");
    printf ("  %-3s %-8s %14s %14s %10s  %-22s %s\n", "#", "kind", "start", "size", "",
            "type", "filesystem");
    for (k = 0; k < im->pt->n_parts; k++) {
      const struct img_part *p = &im->pt->parts[k];
      const char *tn = img_part_type_name (p);
      part_type (p, buf, sizeof buf);
      printf ("  %-3u %-8s %14" PRIu64 " %14" PRIu64 " %10s  %-22s ", p->number,
              kind_name (p->kind), p->start, p->size, human (p->size, h, sizeof h),
              tn ? tn : buf);
      text_fs (p->kind == IMG_PART_EXTENDED ? NULL : find_part_fs (im, p));
      printf ("\n");
    }
  }
  for (i = 0; i < img_lvm_n_vgs (st->lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (st->lvm, i);
    printf ("volume group %s: uuid %s, extent size %s, seqno %" PRIu64 "%s\n",
            vg->name, vg->uuid, human (vg->extent_size, h, sizeof h), vg->seqno,
            vg->partial ? ", PARTIAL (PVs missing)" : "");
    for (k = 0; k < vg->n_pvs; k++) {
      const struct img_lvm_pv *pv = &vg->pvs[k];
      printf ("  pv %-6s %-30s uuid %s, pe_start %" PRIu64 ", %" PRIu64 " extents\n",
              pv->name, pv->dev ? pv->dev->name : "MISSING", pv->uuid, pv->pe_start,
              pv->pe_count);
    }
    for (k = 0; k < vg->n_lvs; k++) {
      const struct img_lvm_lv *lv = &vg->lvs[k];
      printf ("  lv %-20s %10s  ", lv->name, human (lv->size, h, sizeof h));
      if (lv->error)
        printf ("unreadable: %s", lv->error);
      else
        text_fs (&st->lv_fs[i][k]);
      printf ("%s\n", lv->visible ? "" : " (hidden)");
      for (l = 0; l < lv->n_segs; l++) {
        const struct img_lvm_seg *sg = &lv->segs[l];
        printf ("     extents %" PRIu64 "-%" PRIu64 " %s", sg->start_extent,
                sg->start_extent + sg->extent_count - 1, sg->type);
        for (s = 0; s < sg->n_stripes; s++) {
          const struct img_lvm_stripe *stp = &sg->stripes[s];
          const struct img_lvm_pv *pv = stp->pv < vg->n_pvs ? &vg->pvs[stp->pv] : NULL;
          const char *image;
          uint64_t off;
          printf ("%s %s:%" PRIu64, s ? "," : "", pv ? pv->name : "?", stp->first_pe);
          if (pv && pv_location (pv, pv->pe_start + stp->first_pe * vg->extent_size,
                                 &image, &off))
            printf (" (%s @%" PRIu64 ")", image, off);
        }
        printf ("\n");
      }
    }
  }
}

static void
free_state (struct state *st)
{
  size_t i, j;

  if (st->lv_fs) {
    for (i = 0; i < img_lvm_n_vgs (st->lvm); i++)
      free (st->lv_fs[i]);
    free (st->lv_fs);
  }
  img_lvm_free (st->lvm);
  for (i = 0; i < st->n_images; i++) {
    struct image *im = &st->images[i];
    for (j = 0; j < im->n_vols; j++)
      img_volume_free (im->vols[j].vol);
    free (im->vols);
    img_ptable_free (im->pt);
    img_disk_close (im->disk);
  }
  free (st->images);
  img_ctx_free (st->ctx);
}

int
main (int argc, char *argv[])
{
  static const struct option opts[] = {
    { "json", no_argument, NULL, 'j' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  struct state st = { 0 };
  bool json = false;
  int c, i, rc = EXIT_OK;

  while ((c = getopt_long (argc, argv, "jvhV", opts, NULL)) != -1) {
    switch (c) {
    case 'j': json = true; break;
    case 'v': setenv ("IMG_DEBUG", "1", 1); break;
    case 'h': usage (stdout); return EXIT_OK;
    case 'V': printf ("%s %s\n", PROG, PACKAGE_VERSION); return EXIT_OK;
    default: usage (stderr); return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fprintf (stderr, "%s: no image given\n", PROG);
    usage (stderr);
    return EXIT_USAGE;
  }
  if (img_ctx_new (&st.ctx) < 0) {
    fprintf (stderr, "%s: out of memory\n", PROG);
    return EXIT_ERROR;
  }
  img_ctx_set_log_fn (st.ctx, NULL, (void *) PROG);

  st.n_images = argc - optind;
  st.images = calloc (st.n_images, sizeof *st.images);
  if (st.images == NULL) {
    fprintf (stderr, "%s: out of memory\n", PROG);
    img_ctx_free (st.ctx);
    return EXIT_ERROR;
  }
  for (i = 0; i < (int) st.n_images; i++)
    st.images[i].path = argv[optind + i];

  for (i = 0; i < (int) st.n_images; i++)
    if (open_image (&st, &st.images[i]) < 0) {
      rc = fail (&st);
      goto out;
    }
  if (scan_lvm (&st) < 0) {
    rc = fail (&st);
    goto out;
  }
  if (json)
    print_json (&st);
  else
    print_text (&st);
  if (fflush (stdout) != 0 || ferror (stdout)) {
    fprintf (stderr, "%s: write error on standard output\n", PROG);
    rc = EXIT_ERROR;
  }
 out:
  free_state (&st);
  return rc;
}
