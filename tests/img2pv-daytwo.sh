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
requires_root; requires e2fsck; requires losetup; requires partx; requires chroot
requires apt-get; requires dpkg-deb; requires lsinitramfs
IMG2PV=$top_builddir/src/img2pv
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

# The newest kernel package the archive has for the guests' release (the
# host is the same Debian release).  Cached: one download a machine.
cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools}/debs
mkdir -p "$cache"
newpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
if [ -z "$newpkg" ]; then
    apt-get update -q > /dev/null 2>&1
    newpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
fi
[ -n "$newpkg" ] || bail "apt knows no linux-image-amd64 dependency"
newver=${newpkg#linux-image-}
deb=$(ls "$cache/${newpkg}_"*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
    (cd "$cache" && apt-get download -q "$newpkg" > /dev/null 2> "$TMP/apt.err") \
        || bail "apt-get download $newpkg failed: $(head -3 "$TMP/apt.err")"
    deb=$(ls "$cache/${newpkg}_"*.deb | head -1)
fi
dpkg-deb -x "$deb" newk || bail "dpkg-deb -x $deb failed"
[ -s "newk/boot/vmlinuz-$newver" ] || bail "$deb holds no /boot/vmlinuz-$newver"

# Loop devices and partx partitions: one user at a time (the guest builder
# takes the same lock).
lockdir=${IMG_TOOLS_LOCK_DIR:-/run/lock}
mkdir -p "$lockdir"
exec 8> "$lockdir/img-tools-mkguest.lock"

mnt=$TMP/mnt
links=()
disk=
detach () {
    local p
    if mountpoint -q "$mnt"; then umount -R "$mnt" || umount -R -l "$mnt"; fi
    for p in "${links[@]}"; do rm -f "$p"; done
    links=()
    if [ -n "$disk" ]; then
        for p in /sys/block/"${disk#/dev/}"/"${disk#/dev/}"p*; do
            [ -e "$p" ] && delpart "$disk" "${p##*p}" 2>/dev/null
        done
        losetup -d "$disk"
        disk=
    fi
    flock -u 8
}
at_exit detach

in_guest () { chroot "$mnt" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

# The maintenance, in a chroot of IMG: 0 when every step worked.
maintain_steps () {
    local img=$1 log=$2 rc=0 u
    disk=$(losetup -f --show "$img") || return 1
    partx -a "$disk" || return 1
    mkdir -p "$mnt"
    mount "${disk}p$ROOT_PART" "$mnt" && mount "${disk}p$BOOT_PART" "$mnt/boot" \
        && mount --bind /dev "$mnt/dev" && mount -t proc proc "$mnt/proc" \
        && mount -t sysfs sysfs "$mnt/sys" || return 1
    # What udev makes on a running guest: update-grub names the root by
    # UUID only when /dev/disk/by-uuid has it.
    mkdir -p /dev/disk/by-uuid
    for u in "$ROOT_UUID:$ROOT_PART" "$BOOT_UUID:$BOOT_PART"; do
        [ -e "/dev/disk/by-uuid/${u%%:*}" ] && continue
        ln -s "../../${disk#/dev/}p${u##*:}" "/dev/disk/by-uuid/${u%%:*}" && links+=("/dev/disk/by-uuid/${u%%:*}")
    done
    cp "$deb" "$mnt/tmp/newkernel.deb" || return 1
    in_guest dpkg -i /tmp/newkernel.deb > "$log" 2>&1 || rc=1
    rm -f "$mnt/tmp/newkernel.deb"
    in_guest update-grub >> "$log" 2>&1 || rc=1
    return $rc
}
maintain () {
    local rc=0
    flock 8
    maintain_steps "$@" || rc=1
    detach
    [ $rc = 0 ] || tail -15 "$2" | sed 's/^/# /'
    return $rc
}

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
