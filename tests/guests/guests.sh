#!/bin/bash
# needs: debootstrap e2fsprogs xfsprogs btrfs-progs fdisk util-linux mount lvm2 qemu-utils
#
# Build (once) and cache every test guest image, raw and qcow2.
# Usage: guests.sh [DIR]   prints the directory holding the images.
#   DIR defaults to $IMG_TOOLS_CACHE/guests-<key> (IMG_TOOLS_CACHE defaults
#   to /var/cache/img-tools), where <key> hashes the guest scripts and the
#   Debian tree's path: change a script and the next run builds a new set.
# In DIR, for each NAME (mbr-plain mbr-lvm gpt-lvm mbr-plain-hvm mbr-lvm-hvm
#   mbr-plain-dracut mbr-lvm-dracut mbr-lvm-xfs-dracut mbr-plain-btrfs):
#   NAME.img  NAME.img.facts  NAME.qcow2  NAME.qcow2.facts (a copy)
# and .complete once the whole set is there.  Needs root.
#
# Safe to run twice at once (flock), and again after an interrupted run:
# every file is built under a temporary name and renamed when done, images
# already finished for the same key are kept.
set -euo pipefail

prog=guests.sh
die() { echo "$prog: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools}
[ $# -le 1 ] || die "usage: guests.sh [DIR]"
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, loop devices, mounts)"

# NAME is LAYOUT[-ROOTFS][-hvm][-dracut]: mkguest.sh LAYOUT with --rootfs
# ROOTFS (xfs, btrfs), --hvm, --dracut.
guests=(mbr-plain mbr-lvm gpt-lvm mbr-plain-hvm mbr-lvm-hvm mbr-plain-dracut mbr-lvm-dracut
        mbr-lvm-xfs-dracut mbr-plain-btrfs)

# One lock for the whole set (debian-tree.sh has its own as well, for the
# fixture builders that share the tree).
mkdir -p "$cache"
exec 9>"$cache/guests.lock"
flock 9

tree=$(bash "$here/debian-tree.sh" "$cache")
key=$({ cat "$here/mkguest.sh" "$here/guests.sh" "$here/debian-tree.sh"; echo "$tree"; } \
      | sha1sum | cut -c1-12)
dir=${1:-$cache/guests-$key}

if [ "$(cat "$dir/.complete" 2>/dev/null)" = "$key" ]; then
    echo "$dir"
    exit 0
fi

mkdir -p "$dir"
outputs() {
    local g
    for g in "${guests[@]}"; do
        printf '%s\n' "$dir/$g".{img,img.facts,qcow2,qcow2.facts}
    done
}
# Leftovers of an interrupted run; finished images of another key (a DIR
# given by hand and reused after the scripts changed) are stale too.
rm -f "$dir"/.*.tmp.* "$dir/.complete"
if [ "$(cat "$dir/.key" 2>/dev/null)" != "$key" ]; then
    outputs | xargs -d '\n' rm -f
    echo "$key" >"$dir/.key"
fi
trap 'rm -f "$dir"/.*.tmp.*' EXIT

for name in "${guests[@]}"; do
    args=() base=$name
    case $base in *-dracut) args+=(--dracut); base=${base%-dracut} ;; esac
    case $base in *-hvm) args+=(--hvm); base=${base%-hvm} ;; esac
    case $base in *-xfs|*-btrfs) args+=(--rootfs "${base##*-}"); base=${base%-*} ;; esac
    args+=("$base")
    if [ -f "$dir/$name.qcow2" ]; then
        continue  # renamed last, so everything of $name is there
    fi
    tmp=$dir/.$name.tmp
    t0=$SECONDS
    bash "$here/mkguest.sh" --tree "$tree" "${args[@]}" "$tmp.img"
    t1=$SECONDS
    qemu-img convert -O qcow2 "$tmp.img" "$tmp.qcow2"
    cp "$tmp.img.facts" "$tmp.qcow2.facts"
    echo "$prog: $name: raw image $((t1 - t0)) s, qcow2 convert $((SECONDS - t1)) s" >&2
    mv -f "$tmp.img.facts" "$dir/$name.img.facts"
    mv -f "$tmp.img" "$dir/$name.img"
    mv -f "$tmp.qcow2.facts" "$dir/$name.qcow2.facts"
    mv -f "$tmp.qcow2" "$dir/$name.qcow2"
done

echo "$key" >"$dir/.complete.tmp.$$"
mv -f "$dir/.complete.tmp.$$" "$dir/.complete"
echo "$dir"
