/* Edit "kernel-extract": see kextract.h. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hostdir.h"
#include "convert/beside.h"
#include "convert/convert-private.h"
#include "convert/kextract.h"
#include "convert/xlconfig.h"

int
img_kernel_extract_init (struct img_ctx *ctx, struct img_kernel_extract *ke,
                         const char *image, const char *msg_image, const char *kver,
                         const char *vmlinuz, const char *initrd, char *reason)
{
  const char *ib = strrchr (initrd, '/') + 1;
  char *what = NULL, *b;
  int r;

  *ke = (struct img_kernel_extract) { .image = msg_image, .reason = reason };
  /* Host file names: the image's (the admin's) and checked guest parts. */
  if (asprintf (&what, "%s: kernel-extract", image) < 0)
    return img_err (ctx, -ENOMEM, "out of memory");
  r = img_host_name_check (ctx, what, "initrd file name", ib);
  free (what);
  if (r < 0)
    return r;
  ke->out_dir = img_beside_dir (image);
  b = img_beside_base (image, true);
  ke->vmlinuz = strdup (vmlinuz);
  ke->initrd = strdup (initrd);
  if (ke->out_dir == NULL || b == NULL || ke->vmlinuz == NULL || ke->initrd == NULL
      || asprintf (&ke->kernel_name, "%s.vmlinuz-%s", b, kver) < 0
      || asprintf (&ke->initrd_name, "%s.%s", b, ib) < 0
      || asprintf (&ke->kernel_out, "%s/%s", strcmp (ke->out_dir, "/") ? ke->out_dir : "",
                   ke->kernel_name) < 0
      || asprintf (&ke->initrd_out, "%s/%s", strcmp (ke->out_dir, "/") ? ke->out_dir : "",
                   ke->initrd_name) < 0) {
    free (b);
    return img_err (ctx, -ENOMEM, "out of memory");
  }
  free (b);
  /* What goes into the xl config is refused now, before any change. */
  if (img_xl_check_file (ctx, msg_image, "kernel", ke->kernel_out) < 0)
    return -EINVAL;
  return img_xl_check_file (ctx, msg_image, "ramdisk", ke->initrd_out);
}

void
img_kernel_extract_clear (struct img_kernel_extract *ke)
{
  free (ke->vmlinuz);
  free (ke->initrd);
  free (ke->reason);
  free (ke->out_dir);
  free (ke->kernel_name);
  free (ke->initrd_name);
  free (ke->kernel_out);
  free (ke->initrd_out);
  *ke = (struct img_kernel_extract) { 0 };
}

static int
extract (struct img_plan *plan, const struct img_kernel_extract *ke, const char *what,
         const char *guest, size_t max, const char *name)
{
  void *buf;
  size_t len;
  int r = img_guest_read_file (img_plan_guest (plan), guest, max, &buf, &len);

  if (r < 0)
    return r;
  r = img_host_file_replace (img_conv_ctx (plan), what, ke->out_dir, name, buf, len, 0644);
  free (buf);
  return r;
}

static int
apply (struct img_plan *plan, void *data)
{
  const struct img_kernel_extract *ke = data;
  char *what = NULL;
  int r;

  if (img_plan_is_dry_run (plan))
    return img_plan_note (plan, "would extract %s and %s to %s and %s (%s)", ke->vmlinuz,
                          ke->initrd, ke->kernel_out, ke->initrd_out, ke->reason);
  if (asprintf (&what, "%s: kernel-extract", ke->image) < 0)
    return img_conv_oom (plan);
  r = extract (plan, ke, what, ke->vmlinuz, IMG_CONV_MAX_KERNEL, ke->kernel_name);
  if (r == 0)
    r = extract (plan, ke, what, ke->initrd, IMG_CONV_MAX_INITRD, ke->initrd_name);
  free (what);
  if (r == 0)
    r = img_plan_note (plan, "extracted %s and %s to %s and %s (%s)", ke->vmlinuz, ke->initrd,
                       ke->kernel_out, ke->initrd_out, ke->reason);
  return r;
}

const struct img_edit img_edit_kernel_extract = {
  "kernel-extract", "kernel and initrd beside the image for a direct-kernel domU", apply
};
