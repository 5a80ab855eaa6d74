/* Fuzz target for the block-layout parsers: partition tables (MBR with its
 * EBR chain, GPT), signature probing, and the LVM scan over what they find.
 * Built as is, it is a replay program: each argument is read as a raw disk
 * image and a one-line summary printed, so the seed corpus (tests/fuzz/
 * corpus) runs under make check.  Built with -DIMG_FUZZ_LIBFUZZER and
 * -fsanitize=fuzzer it is a libFuzzer target: the input goes into a memfd
 * opened through /proc/self/fd, so it is read exactly as an image file is.
 * Besides crashes, a broken invariant (an error without a message, a
 * partition outside the disk, an unterminated string) aborts. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libimg.h"
#include "fuzz.h"

#define TERMINATED(field) CHECK (memchr ((field), '\0', sizeof (field)) != NULL)

/* A failure must be a plain -errno with its one message recorded. */
static void
check_ptable (const struct img_disk *disk, const struct img_ptable *pt)
{
  uint64_t end;
  size_t i;

  CHECK (pt->type == IMG_PTABLE_NONE || pt->type == IMG_PTABLE_MBR
         || pt->type == IMG_PTABLE_GPT);
  CHECK (pt->sector_size == 512 || pt->sector_size == 4096);
  CHECK (pt->type != IMG_PTABLE_NONE || pt->n_parts == 0);
  TERMINATED (pt->id);
  CHECK (img_ptable_type_name (pt->type) != NULL);
  for (i = 0; i < pt->n_parts; i++) {
    const struct img_part *p = &pt->parts[i];
    const char *type_name = img_part_type_name (p);

    CHECK (p->number >= 1);
    CHECK (i == 0 || pt->parts[i - 1].number < p->number);
    CHECK (p->size > 0);
    CHECK (p->start % 512 == 0 && p->size % 512 == 0);
    TERMINATED (p->type_guid);
    TERMINATED (p->uuid);
    TERMINATED (p->name);
    CHECK (type_name == NULL || type_name[0] != '\0');
    if (p->kind == IMG_PART_EXTENDED)
      continue;
    CHECK (!__builtin_add_overflow (p->start, p->size, &end));
    CHECK (end <= img_disk_size (disk));
  }
}

static void
check_fsinfo (const struct img_fsinfo *fs)
{
  TERMINATED (fs->type);
  TERMINATED (fs->uuid);
  TERMINATED (fs->label);
}

/* Appends VOL to *VOLS (growing it) and probes it. */
static int
add_volume (struct img_ctx *ctx, struct img_volume ***vols, size_t *n,
            struct img_volume *vol, FILE *out)
{
  struct img_volume **v;
  struct img_fsinfo fs;
  int r;

  v = realloc (*vols, (*n + 1) * sizeof *v);
  if (v == NULL)
    abort ();
  *vols = v;
  v[(*n)++] = vol;

  r = img_probe (ctx, vol, &fs);
  if (r < 0) {
    check_error (ctx, r);
    return r;
  }
  check_fsinfo (&fs);
  if (out)
    fprintf (out, " %s", fs.type[0] ? fs.type : "-");
  return 0;
}

/* md RAID over the volumes probed so far; each array read becomes one
 * more volume (owned by *MD, counted in *N_MD) for the LVM scan.  Says
 * "; md N: NAME=LEVEL SIGNATURE..." when there are arrays. */
static int
scan_md (struct img_ctx *ctx, struct img_md **md, struct img_volume ***vols,
         size_t *n_vols, size_t *n_md, FILE *out)
{
  size_t i;
  int r;

  r = img_md_scan (ctx, *vols, *n_vols, md);
  if (r < 0)
    return r;
  if (out && img_md_n_arrays (*md) > 0)
    fprintf (out, "; md %zu:", img_md_n_arrays (*md));
  for (i = 0; i < img_md_n_arrays (*md); i++) {
    const struct img_md_array *a = img_md_array (*md, i);

    CHECK (a != NULL);
    TERMINATED (a->devname);
    TERMINATED (a->name);
    CHECK ((a->vol == NULL) != (a->error == NULL));
    if (out)
      fprintf (out, " %s=%s", a->devname, img_md_level_name (a->level));
    if (a->vol == NULL)
      continue;
    CHECK (a->vol->size == a->size && a->vol->no_write != NULL);
    r = add_volume (ctx, vols, n_vols, a->vol, out);
    (*n_md)++;                  /* appended even when its probe failed */
    if (r < 0)
      return r;
  }
  return 0;
}

/* Reads PATH as a raw image: table, volumes, probes, md, LVM.  Prints a
 * summary line to OUT (if not NULL).  Errors in the image are results, not
 * failures: only broken invariants (abort) and crashes count. */
static void
run_image (const char *path, FILE *out)
{
  struct img_ctx *ctx;
  struct img_disk *disk = NULL;
  struct img_ptable *pt = NULL;
  struct img_volume **vols = NULL;
  struct img_lvm *lvm = NULL;
  struct img_md *md = NULL;
  size_t n_vols = 0, n_md = 0, i, j;
  int r;

  if (img_ctx_new (&ctx) < 0)
    abort ();
  img_ctx_set_log_fn (ctx, quiet, NULL);
  /* Every message gets formatted, warnings and debug ones included. */
  img_ctx_set_log_priority (ctx, IMG_LOG_DEBUG);

  r = img_disk_open (ctx, path, IMG_DISK_RDONLY, &disk);
  if (r < 0)
    goto error;
  CHECK (strcmp (img_disk_format (disk), "raw") == 0);

  r = img_ptable_read (ctx, disk, &pt);
  if (r < 0)
    goto error;
  check_ptable (disk, pt);
  if (out)
    fprintf (out, "%s %zu:", img_ptable_type_name (pt->type), pt->n_parts);

  if (pt->type == IMG_PTABLE_NONE) {
    struct img_volume *vol;

    r = img_volume_new_linear (ctx, "whole", disk, 0, img_disk_size (disk), &vol);
    CHECK (r == 0);
    r = add_volume (ctx, &vols, &n_vols, vol, out);
    if (r < 0)
      goto error;
  }
  for (i = 0; i < pt->n_parts; i++) {
    const struct img_part *p = &pt->parts[i];
    struct img_volume *vol;
    char name[32];

    if (p->kind == IMG_PART_EXTENDED)
      continue;
    snprintf (name, sizeof name, "p%u", p->number);
    r = img_volume_new_linear (ctx, name, disk, p->start, p->size, &vol);
    CHECK (r == 0);             /* check_ptable says it fits */
    r = add_volume (ctx, &vols, &n_vols, vol, out);
    if (r < 0)
      goto error;
  }

  r = scan_md (ctx, &md, &vols, &n_vols, &n_md, out);
  if (r < 0)
    goto error;
  r = img_lvm_scan (ctx, vols, n_vols, &lvm);
  if (r < 0)
    goto error;
  if (out)
    fprintf (out, "; lvm %zu:", img_lvm_n_vgs (lvm));
  for (i = 0; i < img_lvm_n_vgs (lvm); i++) {
    const struct img_lvm_vg *vg = img_lvm_vg (lvm, i);

    CHECK (vg != NULL);
    TERMINATED (vg->name);
    for (j = 0; j < vg->n_lvs; j++) {
      const struct img_lvm_lv *lv = &vg->lvs[j];
      struct img_fsinfo fs;

      TERMINATED (lv->name);
      if (lv->vol == NULL)
        continue;
      r = img_probe (ctx, lv->vol, &fs);
      if (r < 0)
        goto error;
      check_fsinfo (&fs);
      if (out)
        fprintf (out, " %s/%s=%s", vg->name, lv->name, fs.type[0] ? fs.type : "-");
    }
  }
  if (out)
    fprintf (out, "\n");
  goto out;

 error:
  check_error (ctx, r);
  if (out)
    fprintf (out, "%serror: %s\n", disk ? " " : "", img_ctx_error (ctx));
 out:
  img_lvm_free (lvm);
  for (i = 0; i < n_vols - n_md; i++)     /* the md arrays' are md's */
    img_volume_free (vols[i]);
  img_md_free (md);
  free (vols);
  img_ptable_free (pt);
  img_disk_close (disk);
  img_ctx_free (ctx);
}

/* Inputs whose magic names another container format would start a
 * qemu-nbd: that is not what this target is about. */
static bool
is_raw (const unsigned char *head, size_t len)
{
  return strcmp (img_disk_detect_format (head, len), "raw") == 0;
}

#ifdef IMG_FUZZ_LIBFUZZER

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char path[64];
  size_t done = 0;
  int fd;

  if (!is_raw (data, size < 512 ? size : 512))
    return 0;
  fd = memfd_create ("img-fuzz", MFD_CLOEXEC);
  if (fd == -1)
    abort ();
  while (done < size) {
    ssize_t n = write (fd, data + done, size - done);
    if (n <= 0)
      abort ();
    done += n;
  }
  snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  run_image (path, NULL);
  close (fd);
  return 0;
}

#else

/* One file: skipped when its magic names a container format. */
static void
replay_file (const char *path, FILE *out)
{
  unsigned char head[512];
  ssize_t n;
  int fd;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  n = fd == -1 ? -1 : pread (fd, head, sizeof head, 0);
  if (fd != -1)
    close (fd);
  if (n >= 0 && !is_raw (head, n)) {
    fprintf (out, "skipped: %s magic\n", img_disk_detect_format (head, n));
    return;
  }
  run_image (path, out);
}

int
main (int argc, char *argv[])
{
  return fuzz_replay_main (argc, argv, "IMAGE", replay_file);
}

#endif
