/* img-inspect's report of md RAID arrays: each array (UUID, name, level,
 * metadata version), its members and what the array holds (a filesystem
 * or PV, or a partition table and its partitions), or why it is not
 * read; as JSON ("md_arrays") and as text. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>

#include "img-inspect.h"

void
json_md (const struct img_guest *g, struct img_json *j)
{
  const struct img_md *md = img_guest_md (g);
  size_t i, k;
  char buf[16];

  img_json_key (j, "md_arrays");
  img_json_begin_array (j);
  for (i = 0; i < img_md_n_arrays (md); i++) {
    const struct img_md_array *a = img_md_array (md, i);
    img_json_begin_object (j);
    img_json_kv_string (j, "device", a->devname);
    img_json_kv_string (j, "uuid", a->uuid);
    img_json_kv_string (j, "name", a->name[0] ? a->name : NULL);
    img_json_kv_string (j, "level", img_md_level_name (a->level));
    img_json_kv_string (j, "metadata", a->metadata);
    img_json_kv_uint (j, "raid_disks", a->raid_disks);
    img_json_kv_uint (j, "size", a->size);
    img_json_kv_bool (j, "degraded", a->degraded);
    img_json_kv_string (j, "error", a->error);
    img_json_key (j, "members");
    img_json_begin_array (j);
    for (k = 0; k < a->n_members; k++) {
      const struct img_md_member *m = &a->members[k];
      img_json_begin_object (j);
      img_json_kv_string (j, "device", m->dev->name);
      img_json_kv_string (j, "uuid_sub", m->dev_uuid[0] ? m->dev_uuid : NULL);
      img_json_kv_string (j, "role", img_md_role_name (m->role, buf, sizeof buf));
      img_json_kv_bool (j, "in_sync", m->in_sync);
      img_json_kv_uint (j, "events", m->events);
      img_json_kv_uint (j, "data_offset", m->data_offset);
      img_json_kv_uint (j, "data_size", m->data_size);
      img_json_kv_bool (j, "used", m->used);
      img_json_end_object (j);
    }
    img_json_end_array (j);
    /* A partitioned array: its table and partitions, as a disk's. */
    if (a->pt != NULL) {
      json_ptable (j, g, a->pt, true);
      json_fs (j, NULL);
    }
    else {
      img_json_key (j, "partition_table");
      img_json_null (j);
      img_json_key (j, "partitions");
      img_json_begin_array (j);
      img_json_end_array (j);
      json_fs (j, vol_fs (g, a->vol));
    }
    img_json_end_object (j);
  }
  img_json_end_array (j);
}

void
text_md (const struct img_guest *g)
{
  const struct img_md *md = img_guest_md (g);
  size_t i, k;
  char h[32], buf[16];

  for (i = 0; i < img_md_n_arrays (md); i++) {
    const struct img_md_array *a = img_md_array (md, i);
    printf ("md array %s: uuid %s, name \"%s\", %s, metadata %s, %u disks, %s per member\n",
            a->devname, a->uuid, esc (a->name), img_md_level_name (a->level),
            a->metadata, a->raid_disks, human (a->size, h, sizeof h));
    for (k = 0; k < a->n_members; k++) {
      const struct img_md_member *m = &a->members[k];
      printf ("  member %-24s role %s, %s, events %" PRIu64 ", data at %" PRIu64 "%s\n",
              m->dev->name, img_md_role_name (m->role, buf, sizeof buf),
              m->in_sync ? "in sync" : "not in sync", m->events, m->data_offset,
              m->used ? " (read from)" : "");
    }
    printf ("  %s%s", a->error ? "not read: " : a->degraded ? "DEGRADED (members missing), read: " : "read: ",
            a->error ? a->error : "");
    if (a->error == NULL && a->pt != NULL)
      printf ("partition table\n");
    else if (a->error == NULL)
      text_fs (vol_fs (g, a->vol));
    if (a->pt == NULL)
      printf ("\n");
    if (a->error == NULL && a->pt != NULL)
      text_ptable (g, a->pt);
  }
}

