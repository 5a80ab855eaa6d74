#!/bin/bash
# Day two: a converted guest keeps booting under Xen PV after its own
# maintenance.  After img2pv, the guest's own tools run in a chroot of the
# converted image (test side only: the tools under test never mount or run
# anything of a guest): a newer kernel package is installed with dpkg,
# whose hooks rebuild the initrds (initramfs-tools or dracut) and run
# update-grub, and update-grub is run once more.  Then Xen's pygrub picks
# the default entry from the image: it must boot the newest kernel, with
# the PV console and a root that survives the move to xvd*, from an initrd
# that holds xen-blkfront and xen-netfront.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/chroot-maint.sh"
requires_root; requires e2fsck; requires lsinitramfs
IMG2PV=$top_builddir/src/img2pv
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

newer_kernel

for guest in mbr-plain-hvm mbr-plain-dracut; do
    unset INITRAMFS
    . "$dir/$guest.img.facts"
    t="$guest ($INITRAMFS)"
    cp --sparse=always "$dir/$guest.img" g.img
    "$IMG2PV" --no-xl-config g.img > conv.out 2>&1; ok $? "$t: converted"
    dpkg --compare-versions "${newver%%-amd64}" gt "${KERNEL_VERSION%%-amd64}"
    ok $? "$t: the archive's kernel $newver is newer than the guest's $KERNEL_VERSION"

    maintain g.img maint.log; ok $? "$t: in a chroot: dpkg -i $newpkg (its hooks rebuild the initrd), update-grub"
    [ -s maint.log ] && grep -E 'update-initramfs|dracut|Generating grub|Found linux' maint.log | sed 's/^/# /'
    e2fsck -fn "g.img?offset=$ROOT_OFFSET" > /dev/null 2>&1 && e2fsck -fn "g.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
    ok $? "$t: e2fsck clean after the maintenance"

    rm -rf pg; mkdir pg
    "$PYGRUB" -q --output-directory="$TMP/pg" --output-format=simple g.img > pg.out 2> pg.err < /dev/null
    ok $? "$t: pygrub picks a default entry"
    kernel=$(sed -n 's/^kernel //p' pg.out); initrd=$(sed -n 's/^ramdisk //p' pg.out); args=$(sed -n 's/^args //p' pg.out)
    "$PYGRUB" -l g.img 2> /dev/null | grep -m1 '^title:' | sed 's/^/# default: /'
    cmp -s "$kernel" "newk/boot/vmlinuz-$newver"; ok $? "$t: the default entry boots the newest kernel ($newver)"
    case " $args " in *" console=hvc0 "*) r=0 ;; *) r=1 ;; esac
    ok $r "$t: its arguments put the console on hvc0 ($args)"
    case " $args " in *" root=UUID=$ROOT_UUID "*) r=0 ;; *) r=1 ;; esac
    ok $r "$t: its root is the root's UUID, which survives the move to xvd*"
    case " $args " in *" root=/dev/sd"* | *" root=/dev/hd"* | *" root=/dev/loop"*) r=1 ;; *) r=0 ;; esac
    ok $r "$t: no root= by an HVM-era or host device name"
    lsinitramfs "$initrd" > initrd.list 2> /dev/null
    grep -q "lib/modules/$newver/.*/xen-blkfront\.ko" initrd.list; ok $? "$t: its initrd (rebuilt by the guest) has xen-blkfront for $newver"
    grep -q "lib/modules/$newver/.*/xen-netfront\.ko" initrd.list; ok $? "$t: ... and xen-netfront"
done

done_testing
