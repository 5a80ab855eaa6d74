#!/bin/bash
# Build (once) and cache a Debian 12 root tree for the test guests.
# The tree lives outside the source tree so that every clone and every CI
# run shares it; it is keyed by the package list so a change rebuilds it.
# Usage: debian-tree.sh [CACHE_DIR]   prints the tree's path on stdout.
set -euo pipefail

cache=${1:-${IMG_TOOLS_CACHE:-/var/cache/img-tools}}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
include=linux-image-amd64,initramfs-tools,grub-pc,lvm2,systemd-sysv,udev,kmod,e2fsprogs,ifupdown,iproute2,procps
key=$(printf '%s %s %s v2' "$suite" "$include" "$mirror" | sha1sum | cut -c1-12)
tree=$cache/debian-$suite-$key

if [ -f "$tree/.img-tools-complete" ]; then
    echo "$tree"
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "debian-tree.sh: building the guest tree needs root (debootstrap)" >&2; exit 1; }
mkdir -p "$cache"
# Two debootstraps into one place would wreck it: one builder at a time,
# and a second one finds the tree done.  (fd 7: callers hold 8 and 9.)
exec 7>"$cache/debian-tree.lock"
flock 7
if [ -f "$tree/.img-tools-complete" ]; then
    echo "$tree"
    exit 0
fi
rm -rf "$tree.tmp"
echo "debian-tree.sh: debootstrap $suite into $tree (once; takes a few minutes)" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$tree.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    echo "debian-tree.sh: debootstrap failed; see $cache/debootstrap.log" >&2
    tail -20 "$cache/debootstrap.log" >&2
    exit 1
}
# The apt caches are large and useless in a test image.
rm -rf "$tree.tmp"/var/cache/apt/archives/*.deb "$tree.tmp"/var/lib/apt/lists/*
# So are the drivers a VM never loads (sound, GPUs, cameras, radios,
# InfiniBand, sensors, staging) and the documentation: a third of the
# tree, which every guest build, RAM boot and archive test would copy.
# What boots a guest in qemu or Xen (ata, scsi, virtio, xen, e1000, dm,
# md, the filesystems) stays; the tree's initrd was built before this and
# is left as the distro made it.  modules.dep is remade to match (the
# guest's own depmod; this is our fixture tree, not a tenant's).
for kdir in "$tree.tmp"/usr/lib/modules/*/; do
    k=$kdir/kernel
    rm -rf "$k/sound" "$k/drivers/gpu" "$k/drivers/media" "$k/drivers/infiniband" \
        "$k/drivers/iio" "$k/drivers/staging" "$k/drivers/bluetooth" "$k/drivers/isdn" \
        "$k/drivers/net/wireless" "$k/drivers/net/can" "$k/drivers/usb/gadget" \
        "$k/net/wireless" "$k/net/mac80211" "$k/net/bluetooth"
    chroot "$tree.tmp" depmod -a "$(basename "$kdir")"
done
rm -rf "$tree.tmp"/usr/share/doc/* "$tree.tmp"/usr/share/man/* "$tree.tmp"/usr/share/info/* \
    "$tree.tmp"/usr/share/locale/*
echo root:root | chroot "$tree.tmp" chpasswd
touch "$tree.tmp/.img-tools-complete"
rm -rf "$tree"
mv "$tree.tmp" "$tree"
echo "$tree"
