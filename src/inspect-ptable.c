/* img-inspect's report of a partition table, a disk's or an md array's
 * (one written on the array): the table and its partitions with what
 * each holds, as JSON ("partition_table", "partitions") and as text. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "img-inspect.h"

/* The signature on partition P (of a disk's or an md array's table),
 * and its volume's name in *NAME if NAME is not NULL (NULL if none). */
static const struct img_fsinfo *
part_fs (const struct img_guest *g, const struct img_part *p, const char **name)
{
  size_t i;

  if (name)
    *name = NULL;
  for (i = 0; p != NULL && i < img_guest_n_volumes (g); i++) {
    const struct img_fsinfo *info;
    const struct img_part *vp;
    const struct img_volume *v = img_guest_volume (g, i, &info, &vp, NULL);
    if (vp == p) {
      if (name)
        *name = v->name;
      return info;
    }
  }
  return NULL;
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

void
json_ptable (struct img_json *j, const struct img_guest *g,
             const struct img_ptable *pt, bool named)
{
  const struct img_fsinfo *fs;
  const char *name;
  size_t k;
  char buf[64];

  img_json_key (j, "partition_table");
  if (pt->type == IMG_PTABLE_NONE)
    img_json_null (j);
  else {
    img_json_begin_object (j);
    img_json_kv_string (j, "type", img_ptable_type_name (pt->type));
    img_json_kv_string (j, "id", pt->id);
    img_json_kv_uint (j, "sector_size", pt->sector_size);
    if (pt->type == IMG_PTABLE_GPT) {
      img_json_kv_uint (j, "first_lba", pt->first_lba);
      img_json_kv_uint (j, "last_lba", pt->last_lba);
      img_json_kv_bool (j, "used_backup", pt->used_backup);
    }
    img_json_end_object (j);
  }
  img_json_key (j, "partitions");
  img_json_begin_array (j);
  for (k = 0; k < pt->n_parts; k++) {
    const struct img_part *p = &pt->parts[k];
    img_json_begin_object (j);
    img_json_kv_uint (j, "number", p->number);
    img_json_kv_string (j, "kind", kind_name (p->kind));
    img_json_kv_uint (j, "start", p->start);
    img_json_kv_uint (j, "size", p->size);
    part_type (p, buf, sizeof buf);
    img_json_kv_string (j, "type", buf);
    img_json_kv_string (j, "type_name", img_part_type_name (p));
    img_json_kv_string (j, "uuid", p->uuid);
    if (pt->type == IMG_PTABLE_GPT) {
      img_json_kv_string (j, "name", p->name);
      img_json_kv_uint (j, "attributes", p->attrs);
      /* JSON numbers lose precision above 2^53; the high GPT attribute
       * bits live there. */
      snprintf (buf, sizeof buf, "0x%016" PRIx64, p->attrs);
      img_json_kv_string (j, "attributes_hex", buf);
    }
    else
      img_json_kv_bool (j, "bootable", p->bootable);
    fs = part_fs (g, p, &name);
    if (named)
      img_json_kv_string (j, "device", name);
    json_fs (j, fs);
    img_json_end_object (j);
  }
  img_json_end_array (j);
}

void
text_ptable (const struct img_guest *g, const struct img_ptable *pt)
{
  size_t k;
  char buf[64], h[32];

  printf ("  partition table: %s, id %s%s\n", img_ptable_type_name (pt->type),
          pt->id, pt->used_backup ? " (backup GPT header)" : "");
  printf ("  %-3s %-8s %14s %14s %10s  %-22s %s\n", "#", "kind", "start", "size", "",
          "type", "filesystem");
  for (k = 0; k < pt->n_parts; k++) {
    const struct img_part *p = &pt->parts[k];
    const char *tn = img_part_type_name (p);
    part_type (p, buf, sizeof buf);
    printf ("  %-3u %-8s %14" PRIu64 " %14" PRIu64 " %10s  %-22s ", p->number,
            kind_name (p->kind), p->start, p->size, human (p->size, h, sizeof h),
            tn ? tn : buf);
    text_fs (p->kind == IMG_PART_EXTENDED ? NULL : part_fs (g, p, NULL));
    printf ("\n");
  }
}

