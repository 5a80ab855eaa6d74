#!/bin/bash
# img2pv and img-ramify on the guests the libguestfs backend reads: the
# RHEL-style guest (xfs /boot, xfs root on LVM, dracut) and the SUSE-style
# guest (one btrfs, root in subvolume @, /home in @home, GRUB reading
# /@/boot), as qcow2 overlays over the cached guests.  Checked with tools
# that are not ours: xfs_repair -n and btrfs check on the results, Xen's
# pygrub, and qemu booting the RAM entries to a login prompt with / on a
# tmpfs.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
. "$top_srcdir/tests/qemu-session.sh"
requires_root; requires qemu-img; requires xfs_repair; requires btrfs; requires guestfish
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

overlay () { qemu-img create -q -f qcow2 -b "$dir/$1.qcow2" -F qcow2 "$2"; }
# fsck_range IMAGE.qcow2 OFFSET SIZE CMD...: CMD on a read-only loop
# device over that range of a raw copy.
fsck_range () {
    local img=$1 off=$2 size=$3 dev rc; shift 3
    [ -f "${img%.qcow2}.raw" ] || qemu-img convert -O raw "$img" "${img%.qcow2}.raw"
    dev=$(losetup -f --show -r -o "$off" --sizelimit "$size" "${img%.qcow2}.raw") || return 1
    "$@" "$dev" > fsck.out 2>&1; rc=$?
    losetup -d "$dev"
    [ "$rc" = 0 ] || sed 's/^/# /' fsck.out | head -5
    return "$rc"
}

# ---- RHEL-style: xfs on LVM, dracut ---------------------------------------------
# shellcheck disable=SC1090
. "$dir/mbr-lvm-xfs-dracut.img.facts"
overlay mbr-lvm-xfs-dracut xfs.qcow2
img2pv --allow-backing xfs.qcow2 > xfs.pv 2>&1; ok $? "xfs: img2pv converts the guest"
grep -q '^boot: direct-kernel' xfs.pv; ok $? "xfs: a direct-kernel domU (pygrub cannot read a v5 xfs)"
grep -q '^direct_kernel_reason: .*version 5 (CRC) xfs' xfs.pv; ok $? "xfs: ... and the report says why"
"$PYGRUB" -l "$dir/mbr-lvm-xfs-dracut.img" 2>/dev/null | grep -q '^title:'; is "$?" 1 "xfs: pygrub indeed reads no entry from this xfs /boot"
[ -s xfs.vmlinuz-$KERNEL_VERSION ] && [ -s xfs.initrd.img-$KERNEL_VERSION ]; ok $? "xfs: kernel and initrd beside the image"
grep -q "^kernel = \"$TMP/xfs.vmlinuz-$KERNEL_VERSION\"" xfs.cfg; ok $? "xfs: the xl config boots them"
grep -q 'console=hvc0' xfs.cfg; ok $? "xfs: console on hvc0"
fsck_range xfs.qcow2 "$LV_ROOT_OFFSET" "$LV_ROOT_SIZE" xfs_repair -n; ok $? "xfs: xfs_repair -n: root LV clean"
fsck_range xfs.qcow2 "$BOOT_OFFSET" "$BOOT_SIZE" xfs_repair -n; ok $? "xfs: xfs_repair -n: /boot clean"
rm -f xfs.raw
sum=$(qemu-img convert -O raw xfs.qcow2 /dev/stdout | sha256sum)
img2pv --allow-backing xfs.qcow2 > xfs.pv2 2>&1; is "$?" 3 "xfs: a second run has nothing to do"
is "$(qemu-img convert -O raw xfs.qcow2 /dev/stdout | sha256sum)" "$sum" "xfs: ... and changes no byte"

overlay mbr-lvm-xfs-dracut xfsram.qcow2
img-ramify --allow-backing --default xfsram.qcow2 > xfsram.out 2>&1; ok $? "xfs: img-ramify"
session xfs-ram 2048 "file=xfsram.qcow2,format=qcow2,snapshot=on"
grep -aq 'ramboot: copying' xfs-ram.log; ok $? "xfs: the dracut hook copied the xfs root into RAM"
is "$(val xfs-ram rootfs)" tmpfs "xfs: / is a tmpfs"
is "$(val xfs-ram hostname) $(val xfs-ram kernel_ok)" "mbr-lvm-xfs-dracut yes" "xfs: the root's files and /boot are there"
is "$(val xfs-ram disk_mounts) $(val xfs-ram dm_devices)" "0 0" "xfs: nothing of the disk mounted, no LVM volume active"

# ---- SUSE-style: btrfs subvolumes ----------------------------------------------------
# shellcheck disable=SC1090
. "$dir/mbr-plain-btrfs.img.facts"
overlay mbr-plain-btrfs bt.qcow2
img2pv --allow-backing bt.qcow2 > bt.pv 2>&1; ok $? "btrfs: img2pv converts the guest"
grep -q '^boot: direct-kernel' bt.pv; ok $? "btrfs: a direct-kernel domU (pygrub has no btrfs reader)"
grep -q "rootflags=subvol=@ " bt.cfg; ok $? "btrfs: the domU's command line keeps rootflags=subvol=@"
qemu-img convert -O raw bt.qcow2 bt.raw
grep -q "linux.*/@/boot/vmlinuz-$KERNEL_VERSION .*console=hvc0" <(guestfish --ro -a bt.raw -i cat /boot/grub/grub.cfg 2>/dev/null)
ok $? "btrfs: the PV GRUB entry names the kernel as GRUB reads btrfs (/@/boot/...)"
fsck_range bt.qcow2 "$ROOT_OFFSET" "$ROOT_SIZE" btrfs check --readonly; ok $? "btrfs: btrfs check --readonly clean"
rm -f bt.raw
sum=$(qemu-img convert -O raw bt.qcow2 /dev/stdout | sha256sum)
img2pv --allow-backing bt.qcow2 > bt.pv2 2>&1; is "$?" 3 "btrfs: a second run has nothing to do"
is "$(qemu-img convert -O raw bt.qcow2 /dev/stdout | sha256sum)" "$sum" "btrfs: ... and changes no byte"

overlay mbr-plain-btrfs btram.qcow2
img-ramify --allow-backing --default btram.qcow2 > btram.out 2>&1; ok $? "btrfs: img-ramify"
grep -q 'RAMBOOT_MOUNTS=".*/home:.*:btrfs:subvol=@home' btram.out; ok $? "btrfs: /home is copied from subvolume @home"
session bt-ram 2048 "file=btram.qcow2,format=qcow2,snapshot=on"
grep -aq 'ramboot: the root is in RAM; the disk is released' bt-ram.log; ok $? "btrfs: the boot script copied the root into RAM"
is "$(val bt-ram rootfs)" tmpfs "btrfs: / is a tmpfs"
is "$(val bt-ram hostname) $(val bt-ram kernel_ok)" "mbr-plain-btrfs yes" "btrfs: the root's files and /boot are there"
is "$(val bt-ram disk_mounts)" 0 "btrfs: nothing of the disk mounted"

# ---- LUKS roots: LVM on LUKS2, xfs on LUKS1 (crypttab, rd.luks.uuid) -------------------
L=$(bash "$top_srcdir/tests/luks-fixtures.sh") || bail "could not build the LUKS fixtures"
for name in luks2-lvm luks1-plain; do
    # shellcheck disable=SC1090
    . "$L/$name.img.facts"
    qemu-img create -q -f qcow2 -b "$L/$name.img" -F raw "$name.qcow2"
    fails_with "$name: no key: one line naming the --key to give" "--key $LUKS_UUID:key:PASSPHRASE" \
        img2pv --allow-backing "$name.qcow2"
    img2pv --allow-backing --key "$LUKS_UUID:key:$KEY" "$name.qcow2" > "$name.pv" 2>&1
    ok $? "$name: img2pv converts the guest, its root opened in the appliance with --key"
    grep -q "^pv_args: .*rd.luks.uuid=$RD_LUKS_UUID.* console=hvc0" "$name.pv"
    ok $? "$name: the PV entry keeps rd.luks.uuid (the guest's initrd opens its root)"
    qemu-img convert -O raw "$name.qcow2" "$name.raw"
    "$PYGRUB" -l "$name.raw" > "$name.pygrub" 2>/dev/null
    grep -A3 '^title: .*Xen PV' "$name.pygrub" | grep -q "args: .*rd.luks.uuid=$RD_LUKS_UUID.*console=hvc0"
    ok $? "$name: pygrub reads the PV entry from the ext4 /boot"
    rm -f "$name.raw"
done

done_testing
