#!/bin/bash
# img-ramify, proved by booting in qemu (software emulation) and logging
# in on the serial console, on initramfs-tools and dracut guests:
#  - the RAM entry (LVM guests as qcow2 copying file by file, plain guests
#    as raw unpacking an --archive) comes up with / on tmpfs, the disk
#    root's files there, the disk neither mounted nor held (no LVM volume
#    active on it);
#  - with too little memory the RAM entry says why and boots from the disk;
#  - without --default, the default entry is still the original one, byte
#    for byte (pygrub; the cached guests' disk boots are proved elsewhere).
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
. "$top_srcdir/tests/qemu-session.sh"
requires_root; requires qemu-system-x86_64; requires qemu-img; requires e2fsck
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
# The test images are qcow2 overlays over the cached guests: local
# backing files, which the tools follow only when allowed.
img_ramify_allow () { "$top_builddir/src/img-ramify" --allow-backing "$@"; }
RAMIFY=img_ramify_allow
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

# ---- the RAM entry: LVM guest, qcow2 -----------------------------------------
# With a user.* xattr, which the guest's 6.1 kernel cannot keep on a tmpfs
# (user xattrs came to tmpfs in 6.6): left out with a warning, not a
# failed RAM boot.
cp --sparse=always "$dir/mbr-lvm.img" lvm.raw
printf 'img-tools' > xval
debugfs -w -R "ea_set -f xval /etc/hostname user.img_tools" \
    "lvm.raw?offset=$(sed -n 's/^ROOT_OFFSET=//p' "$dir/mbr-lvm.img.facts")" > /dev/null 2>&1
qemu-img convert -O qcow2 lvm.raw lvm.qcow2 && rm -f lvm.raw
"$RAMIFY" --default lvm.qcow2 > lvm.ramify 2>&1; ok $? "LVM qcow2: ramified with --default"
session lvm-ram 2048 "file=lvm.qcow2,format=qcow2,snapshot=on"
grep -aq 'ramboot: the root is in RAM; the disk is released' lvm-ram.log; ok $? "LVM: the boot script copied the root into RAM"
grep -aq 'img-ramcopy: warning: 1 user.\* extended attribute left out' lvm-ram.log
ok $? "LVM: the user xattr the guest's tmpfs cannot hold is left out with a warning"
is "$(val lvm-ram rootfs)" tmpfs "LVM: / is a tmpfs"
is "$(val lvm-ram hostname)" mbr-lvm "LVM: the disk root's files are there"
is "$(val lvm-ram kernel_ok)" yes "LVM: /boot was copied too"
is "$(val lvm-ram disk_mounts) $(val lvm-ram dm_devices)" "0 0" "LVM: nothing of the disk mounted, no LVM volume active"
is "$(val lvm-ram sda) $(val lvm-ram sda_holders)" "present 0" "LVM: the disk is there and nothing holds it"

# ---- too little memory: the RAM entry falls back to the disk --------------------
session lvm-small 1024 "file=lvm.qcow2,format=qcow2,snapshot=on"
grep -aq 'ramboot: not enough memory' lvm-small.log; ok $? "1 GiB: the RAM entry says there is not enough memory"
grep -aq 'ramboot: booting from the disk instead' lvm-small.log; ok $? "1 GiB: ... and boots from the disk"
is "$(val lvm-small rootfs)" ext4 "1 GiB: / is the disk's ext4"

# ---- the RAM entry: plain guest, raw, from an archive -----------------------------
cp --sparse=always "$dir/mbr-plain.img" plain.img
"$RAMIFY" --default --detach-helper --archive plain.img > plain.ramify 2>&1; ok $? "plain raw: ramified with --default --detach-helper --archive"
session plain-ram 2048 "file=plain.img,format=raw,snapshot=on"
grep -aq 'ramboot: unpacking /boot/ramboot-root.tar.zst' plain-ram.log; ok $? "plain: the boot script unpacked the archive"
is "$(val plain-ram rootfs)" tmpfs "plain: / is a tmpfs"
is "$(val plain-ram hostname) $(val plain-ram disk_mounts)" "mbr-plain 0" "plain: the files are there, nothing of the disk mounted"
is "$(val plain-ram detach_rc) $(val plain-ram sda_after)" "0 gone" "plain: img-ramify-detach released the disk (/sys/block/sda is gone)"
grep -aq 'sda: released; detach it on the host now' plain-ram.log; ok $? "plain: the helper says so"
is "$(val lvm-ram sda_after)" present "LVM: without the helper the disk stays visible"

# ---- dracut: LVM guest as qcow2 (copy), plain guest as raw (archive) ------------------
qemu-img create -q -f qcow2 -b "$dir/mbr-lvm-dracut.qcow2" -F qcow2 dlvm.qcow2
"$RAMIFY" --default dlvm.qcow2 > dlvm.ramify 2>&1; ok $? "dracut LVM qcow2: ramified with --default"
session dlvm-ram 2048 "file=dlvm.qcow2,format=qcow2,snapshot=on"
grep -aq 'dracut-pre-pivot.*ramboot: copying' dlvm-ram.log; ok $? "dracut LVM: the pre-pivot hook copied the root"
grep -aq 'ramboot: the disk is released (volume groups guestvg deactivated)' dlvm-ram.log
ok $? "dracut LVM: the RAM system deactivated the volume group"
is "$(val dlvm-ram rootfs)" tmpfs "dracut LVM: / is a tmpfs"
is "$(val dlvm-ram hostname) $(val dlvm-ram kernel_ok)" "mbr-lvm-dracut yes" "dracut LVM: the disk root's files and /boot are there"
is "$(val dlvm-ram disk_mounts) $(val dlvm-ram dm_devices) $(val dlvm-ram sda_holders)" "0 0 0" \
   "dracut LVM: nothing of the disk mounted, no LVM volume active, nothing holds sda"

session dlvm-small 1024 "file=dlvm.qcow2,format=qcow2,snapshot=on"
grep -aq 'ramboot: not enough memory' dlvm-small.log; ok $? "dracut, 1 GiB: the RAM entry says there is not enough memory"
grep -aq 'ramboot: booting from the disk instead' dlvm-small.log; ok $? "dracut, 1 GiB: ... and boots from the disk"
is "$(val dlvm-small rootfs)" ext4 "dracut, 1 GiB: / is the disk's ext4"

cp --sparse=always "$dir/mbr-plain-dracut.img" dplain.img
"$RAMIFY" --default --archive=gzip dplain.img > dplain.ramify 2>&1; ok $? "dracut plain raw: ramified with --default --archive=gzip"
session dplain-ram 2048 "file=dplain.img,format=raw,snapshot=on"
grep -aq 'ramboot: unpacking /boot/ramboot-root.tar.gz' dplain-ram.log; ok $? "dracut plain: the hook unpacked the gzip archive"
is "$(val dplain-ram rootfs) $(val dplain-ram hostname)" "tmpfs mbr-plain-dracut" "dracut plain: / is a tmpfs with the disk root's files"
is "$(val dplain-ram disk_mounts) $(val dplain-ram sda_holders)" "0 0" "dracut plain: nothing of the disk mounted or held"

# ---- without --default the original entry is still the one that boots -----------------
# No boot needed: the default entry GRUB (and pygrub, which follows GRUB's
# default) picks is byte for byte the one the cached guest boots from the
# disk in the other boot tests (kernel, initrd, arguments), and has no
# ramboot in it.
cp --sparse=always "$dir/mbr-plain.img" orig.img
pick () {  # pick IMAGE DIR: the default entry's kernel, initrd and arguments
    rm -rf "$2"; mkdir "$2"
    "$PYGRUB" -q --output-directory="$TMP/$2" --output-format=simple "$1" > "$2.out" 2>/dev/null < /dev/null
}
pick orig.img before
"$RAMIFY" orig.img > orig.ramify 2>&1; ok $? "plain raw: ramified without --default"
pick orig.img after
is "$(sed -n 's/^args //p' after.out)" "$(sed -n 's/^args //p' before.out)" "the default entry's kernel arguments are unchanged"
for f in kernel ramdisk; do
    cmp -s "$(sed -n "s/^$f //p" before.out)" "$(sed -n "s/^$f //p" after.out)"
    ok $? "the default entry's $f is the original one, byte for byte"
done
grep -q ramboot after.out; is $? 1 "the default entry does not run the RAM boot"
"$PYGRUB" -l orig.img 2>/dev/null | grep -c '^title:.*RAM' > ramtitles
is "$(cat ramtitles)" 1 "... and the RAM entry is there beside it"
for f in ROOT_OFFSET BOOT_OFFSET; do
    e2fsck -fn "plain.img?offset=$(sed -n "s/^$f=//p" "$dir/mbr-plain.img.facts")" > /dev/null 2>&1
    ok $? "e2fsck -fn clean on the ramified image (${f%_OFFSET}, the archive in /boot)"
    e2fsck -fn "dplain.img?offset=$(sed -n "s/^$f=//p" "$dir/mbr-plain-dracut.img.facts")" > /dev/null 2>&1
    ok $? "e2fsck -fn clean on the ramified dracut image (${f%_OFFSET})"
done
done_testing
