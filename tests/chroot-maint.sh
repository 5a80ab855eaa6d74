# Day two, test side only: a guest's own maintenance in a chroot of its
# image (sourced by tests/*-daytwo.sh after tests/functions.sh; the
# tools under test never mount or run anything of a guest).
#   newer_kernel      sets newpkg, newver and deb: the newest kernel
#                     package the archive has for the guests' release (the
#                     host is the same Debian release), cached under
#                     $IMG_TOOLS_CACHE/debs (one download a machine), and
#                     extracts it into ./newk
#   maintain IMG LOG  on loop devices with partx (ROOT_PART, BOOT_PART,
#                     ROOT_UUID, BOOT_UUID from the guest's facts):
#                     dpkg -i the newer kernel (its hooks rebuild the
#                     initrds and run update-grub), update-grub once more
#   in_image IMG LOG FUNCTION   FUNCTION LOG in the same setting (the
#                     chroot at $mnt: in_guest CMD..., install_kernel LOG)
requires losetup; requires partx; requires chroot; requires apt-get; requires dpkg-deb

newer_kernel () {
    local cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools}/debs
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
}

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

# IMG's root at $mnt, its /boot on $mnt/boot, /dev, /proc and /sys bound
# in: 0 when it is.
attach () {
    local img=$1 u
    disk=$(losetup -f --show "$img") || return 1
    # Partitions a killed run added to this loop device outlive its
    # detach; partx -a would fail on them.
    partx -d "$disk" 2>/dev/null
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
}

# dpkg -i the newer kernel in the chroot (its hooks rebuild the initrds
# and run update-grub), its output to LOG.
# A dracut guest's kernel hook builds the new kernel's generic initrd
# (~130 MB of cpio) with dracut's default gzip -9: 50 s of CPU, where
# -1 takes 2 s.  The level is the only change (a dracut.conf.d file
# there for the install only: the guest's own compressor, gzip; nothing
# checked depends on the level).
install_kernel () {
    local rc=0 fast=$mnt/etc/dracut.conf.d/zz-img-tools-test-gzip1.conf
    cp "$deb" "$mnt/tmp/newkernel.deb" || return 1
    if [ -d "$mnt/etc/dracut.conf.d" ] && [ -x "$mnt/usr/bin/dracut" ]; then
        echo 'compress="gzip -n -1"' > "$fast" || return 1
    fi
    in_guest dpkg -i /tmp/newkernel.deb > "$1" 2>&1 || rc=1
    rm -f "$mnt/tmp/newkernel.deb" "$fast"
    return $rc
}

# in_image IMG LOG FUNCTION: FUNCTION LOG run with IMG attached (and the
# lock held), then detached: its status, LOG's tail shown on failure.
in_image () {
    local rc=0
    flock 8
    attach "$1" && "$3" "$2" || rc=1
    detach
    [ $rc = 0 ] || tail -15 "$2" | sed 's/^/# /'
    return $rc
}

# The maintenance, in a chroot of IMG: 0 when every step worked.
maintain () {
    in_image "$1" "$2" maint_default
}
maint_default () {
    install_kernel "$1" || return 1
    in_guest update-grub >> "$1" 2>&1
}
