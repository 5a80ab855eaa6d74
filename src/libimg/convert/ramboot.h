/* The RAM boot (img-ramify): what is copied into RAM and what it takes,
 * the RAM copy's fstab, the boot script's configuration, the ramboot initrd
 * (the guest's own plus a layer with our boot logic), and the root as one
 * archive.  Each is an edit or a step of one, through the plan.  WHERE
 * (the image's name) starts every message. */
#ifndef LIBIMG_CONVERT_RAMBOOT_H
#define LIBIMG_CONVERT_RAMBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libimg.h"
#include "img-edit.h"

/* The filesystems copied besides /: those LIST names (comma-separated
 * mount points, each one the guest mounts from its disk), or without LIST
 * every filesystem the guest mounts from its disk(s) (an OS spread over
 * /boot, /usr, /var ...; one that cannot be read here is an error naming
 * --copy).  *copy is the caller's (img_ramboot_copy_free). */
int img_ramboot_copy_list (struct img_guest *g, const char *where, const char *list,
                           char ***copy, size_t *n_copy);
void img_ramboot_copy_free (char **copy, size_t n_copy);
/* Whether MOUNTPOINT is copied: "/" or one of COPY. */
bool img_ramboot_copied (const char *const *copy, size_t n_copy, const char *mountpoint);

/* What the copy of / and COPY takes in a tmpfs (whole pages for data, a
 * page for each directory and link, hard links once). */
int img_ramboot_measure (struct img_guest *g, const char *const *copy, size_t n_copy,
                         uint64_t *bytes);
/* The VM memory to give for a copy of BYTES: it, the tmpfs headroom, the
 * margin left to the system and 256 MiB for the kernel and the
 * initramfs, rounded up to 64 MiB. */
uint64_t img_ramboot_memory (uint64_t bytes, uint64_t headroom, uint64_t margin);

/* The RAM copy's /etc/fstab from the guest's: / on the tmpfs, the disk's
 * filesystems and swap commented out, the rest kept.  *out malloc'd. */
int img_ramboot_fstab (struct img_plan *plan, const char *where, char **out);

/* The boot script's configuration (shell assignments: the mounts to
 * copy, headroom and margin, the archive, the volume groups to let go)
 * and, for a root on LVM, the RAM copy's lvmlocal.conf (*lvmlocal NULL
 * otherwise).  Values the script could not read back are refused.  Both
 * malloc'd. */
int img_ramboot_conf (struct img_guest *g, const char *where, const char *const *copy,
                      size_t n_copy, uint64_t headroom, uint64_t margin,
                      const char *archive_path, char **conf, char **lvmlocal);

/* What goes into the ramboot initrd's layer. */
struct img_ramboot_layer {
  bool dracut;                  /* else initramfs-tools */
  const void *script;           /* initramfs-tools' scripts/ramboot, or dracut's
                                 * pre-pivot hook */
  size_t script_len;
  const void *helper;           /* the static img-ramcopy */
  size_t helper_len;
  const char *conf, *fstab, *lvmlocal;  /* lvmlocal may be NULL */
};
/* The two ways the RAM entry gets the layer, and the file each writes
 * beside the guest's initrd INITRD:
 *   INITRD.ramboot-layer  the layer alone, loaded after INITRD (GRUB 2
 *                         "initrd A B", BLS repeated initrd lines): the
 *                         guest's initrd is not copied;
 *   INITRD.ramboot        a copy of INITRD with the layer appended, for
 *                         boot loaders that load one initrd (GRUB legacy,
 *                         and Xen's pygrub, which reads an initrd line as
 *                         one path). */
#define IMG_RAMBOOT_LAYER_SUFFIX ".ramboot-layer"
#define IMG_RAMBOOT_COPY_SUFFIX ".ramboot"
/* Whether the RAM entry on the guest INSP describes can load the layer as
 * a file of its own: the entry goes to BLS or GRUB 2 (see
 * img_bootentry_install), and no boot configuration holds img2pv's Xen PV
 * entry (pygrub boots that guest).  *WHY (static text) says why not, or
 * which boot loader loads two files. */
bool img_ramboot_split (const struct img_inspection *insp, const char **why);
/* Writes INITRD's RAM boot file: with SPLIT, INITRD.ramboot-layer (the
 * layer alone, compressed as INITRD's last segment), removing an
 * INITRD.ramboot an earlier run left; without, INITRD.ramboot (INITRD with
 * the layer appended), removing an INITRD.ramboot-layer.  INITRD is read
 * through the plan (an initramfs-tools or dracut initrd as L says, else
 * an error); the layer's entries get INITRD's mtime, the file its mode. */
int img_ramboot_initrd (struct img_plan *plan, const char *where, const char *initrd,
                        bool split, const struct img_ramboot_layer *l);

/* Adds KEY=VALUE and a newline to B, VALUE through img_quote_sh (a shell
 * assignment the boot script or a generator sources); B->oom on failure. */
struct img_sb;
void img_internal_ramboot_assign (struct img_sb *b, const char *key, const char *value);

/* ---- kept through the guest's own maintenance (ramboot-persist.c) ------------ */

/* Where the guest keeps the layer's files for its initrd hook. */
#define IMG_RAMBOOT_PERSIST_DIR "/usr/local/lib/img-ramify"
/* The GRUB 2 generator that keeps the RAM entry on the newest kernel. */
#define IMG_RAMBOOT_GRUBD "/etc/grub.d/41_img-ramify"

/* The ramboot-hook edit: L's files (the script, ramboot.conf, fstab,
 * lvmlocal.conf when L has one, the helper) in IMG_RAMBOOT_PERSIST_DIR,
 * and HOOK (HOOK_LEN bytes) where the guest's initrd tooling runs it
 * (initramfs-tools: /etc/initramfs-tools/hooks/img-ramify; dracut: the
 * module /usr/lib/dracut/modules.d/90img-ramify/module-setup.sh, added by
 * /etc/dracut.conf.d/img-ramify.conf), which puts those files where L's
 * layer puts them: every initrd the guest builds from then on has the RAM
 * boot, run only with boot=ramboot or rd.ramboot. */
int img_ramboot_persist (struct img_plan *plan, const struct img_ramboot_layer *l,
                         const void *hook, size_t hook_len);

/* The kernel-install plugin that keeps a BLS RAM entry on the newest kernel. */
#define IMG_RAMBOOT_KERNEL_INSTALL "/etc/kernel/install.d/95-img-ramify.install"

/* A script that keeps the RAM entry on the newest kernel whose initrd has
 * the RAM boot (its INITRD.ramboot, or one built after every file of the
 * hook that img_ramboot_persist writes for LAYER): a shebang, the
 * settings below as shell words, LIB (data/ramboot/select.sh: which
 * initrd has the RAM boot), then BODY.  Without ENTRY, the GRUB 2
 * generator IMG_RAMBOOT_GRUBD (BODY data/ramboot/grub/41_img-ramify.body),
 * which emits one entry ID fenced by MARKER, titled "OS, root in RAM,
 * Linux VERSION", with ARGS; with ENTRY (a BLS entry file in the guest),
 * the kernel-install plugin IMG_RAMBOOT_KERNEL_INSTALL (BODY
 * data/ramboot/bls/95-img-ramify.install.body), which rewrites that
 * entry, and with MAKE_DEFAULT keeps it grubenv's saved_entry. */
struct img_ramboot_keeper {
  const char *lib, *body;
  size_t lib_len, body_len;
  const char *id, *marker;      /* as img_bootentry_text accepted them */
  const char *os;               /* from img_bootentry_title: printable ASCII */
  const char *args;             /* the kernel command line, boot argument included:
                                 * checked and normalised by img_quote_cmdline_line */
  const struct img_ramboot_layer *layer;  /* dracut, lvmlocal: which files */
  const char *entry;            /* BLS: our entry file */
  bool make_default;
};
/* *OUT malloc'd; 0, -EINVAL (an argument the command line cannot carry:
 * message "WHERE: grub.d: ..." in CTX) or -ENOMEM. */
int img_ramboot_keeper (struct img_ctx *ctx, const char *where, const struct img_ramboot_keeper *k,
                        char **out);

/* The root-archive edit: with ARCHIVE_PATH, / and COPY as one archive
 * (COMPRESSION "zstd" or "gzip") there, replacing a changed one (facts:
 * archive, archive_bytes, archive_members, archive_tmpfs_bytes); without,
 * an archive an earlier --archive run left is removed. */
int img_ramboot_archive (struct img_plan *plan, const char *where, const char *archive_path,
                         const char *compression, const char *const *copy, size_t n_copy);
/* The archive's file name in the guest: /boot/ramboot-root.tar.zst (or
 * .gz) when the guest has a /boot, else at /.  Malloc'd; NULL without
 * memory. */
char *img_ramboot_archive_path (struct img_guest *g, const char *compression);

/* The boot entry the RAM entry starts from: the first for kernel VMLINUZ
 * (by file name) with arguments that is not a recovery or single-user
 * entry, not extlinux, and not ours (OWN_ID, or a RAM boot's arguments).
 * NULL when none; it points into INSP. */
const struct img_boot_entry *img_ramboot_base_entry (const struct img_inspection *insp,
                                                     const char *vmlinuz, const char *own_id);

#endif
