#!/bin/bash
# needs: libguestfs-tools libguestfs-xfs linux-image-amd64 fdisk debootstrap
#
# Build (once) and cache the LUKS fixture disks.  This host has no
# device-mapper, so the real cryptsetup, lvm2 and mkfs run inside a
# libguestfs appliance, in one launch.
# Usage: luks-fixtures.sh   prints the directory holding the images.
#   The directory is $IMG_TOOLS_CACHE/luks-<key> (IMG_TOOLS_CACHE defaults
#   to /var/cache/img-tools), <key> a hash of this script and the Debian
#   tree's path: change either and the next run builds a new set.  Needs
#   root (the tree is root's).
# The images (2 GiB sparse raw, MBR, not bootable: no GRUB in the MBR) and
# their NAME.img.facts (shell-sourceable KEY=VALUE lines):
#   luks2-lvm.img    p1 ext4 /boot (kernel, initrd, grub/grub.cfg of the
#                    cached Debian tree); p2 LUKS2 (argon2id) -> LVM PV,
#                    VG vgluks, LV root ext4: the Debian tree
#   luks1-plain.img  p1 ext4 /boot as above; p2 LUKS1 (pbkdf2) -> xfs root
# The root trees are the cached Debian 12 tree (tests/guests/debian-tree.sh)
# without the kernel modules no disk guest needs (sound, GPU, wireless,
# media, InfiniBand, staging) and without docs, man pages and locales; their
# /etc has the guest's own fstab (/dev/mapper names), crypttab (the mapping
# named luks-<UUID>, as Debian's installer and anaconda name it), hostname.
# The kernel line carries root=/dev/mapper/... and rd.luks.uuid=luks-<UUID>.
# Fixed secrets and UUIDs (also in the facts files):
#   luks2-lvm:   KEY=img-tools-luks2-passphrase
#                LUKS_UUID=2c2c2c2c-1111-4222-8333-444444444444
#   luks1-plain: KEY=img-tools-luks1-passphrase
#                LUKS_UUID=1c1c1c1c-1111-4222-8333-444444444444
# The key derivation is made cheap (argon2id 32 MiB x 4, pbkdf2 x 1000) so
# that opening them under software emulation takes a second, not minutes.
set -euo pipefail

prog=luks-fixtures.sh
die() { echo "$prog: $*" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools}
[ $# -eq 0 ] || die "usage: luks-fixtures.sh"
[ "$(id -u)" = 0 ] || die "needs root (the Debian tree is root's)"
command -v guestfish >/dev/null || die "guestfish not found (scripts/setup.sh installs libguestfs-tools)"

mkdir -p "$cache"
tree=$(bash "$here/guests/debian-tree.sh" "$cache")
key=$({ cat "${BASH_SOURCE[0]}"; echo "$tree"; } | sha1sum | cut -c1-12)
. "$(dirname "${BASH_SOURCE[0]}")/fixture-cache.sh"
fixture_dir luks "$key"
t0=$SECONDS

work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

kvers=()
for k in "$tree"/boot/vmlinuz-*; do
    if [ -e "$k" ]; then kvers+=("${k##*/vmlinuz-}"); fi
done
[ ${#kvers[@]} = 1 ] || die "expected one kernel in $tree/boot, found ${#kvers[@]}"
kver=${kvers[0]}

# The trees, as tarballs for tar-in (numeric owners, xattrs: file
# capabilities survive).
mods=./usr/lib/modules/$kver/kernel
tar -C "$tree" --numeric-owner --xattrs --xattrs-include='*' -cf "$work/root.tar" \
    --exclude=./.img-tools-complete --exclude='./boot/*' \
    --exclude="$mods/sound" --exclude="$mods/drivers/gpu" --exclude="$mods/drivers/media" \
    --exclude="$mods/drivers/net/wireless" --exclude="$mods/drivers/infiniband" \
    --exclude="$mods/drivers/staging" --exclude="$mods/net/wireless" \
    --exclude=./usr/share/doc --exclude=./usr/share/man --exclude=./usr/share/locale .
tar -C "$tree/boot" --numeric-owner -cf "$work/boot.tar" --exclude=./grub .

MiB=$((1024 * 1024))
# name version key luks-uuid boot-uuid root-uuid root-fstype
images=(
    "luks2-lvm 2 img-tools-luks2-passphrase 2c2c2c2c-1111-4222-8333-444444444444 2b2b2b2b-1111-4222-8333-444444444444 2e2e2e2e-1111-4222-8333-444444444444 ext4"
    "luks1-plain 1 img-tools-luks1-passphrase 1c1c1c1c-1111-4222-8333-444444444444 1b1b1b1b-1111-4222-8333-444444444444 1e1e1e1e-1111-4222-8333-444444444444 xfs"
)
gf=$work/script
echo run >"$gf"
dev=a
for spec in "${images[@]}"; do
    read -r name ver pass luuid buuid ruuid rfs <<<"$spec"
    img=$work/$name.img
    truncate -s $((2048 * MiB)) "$img"
    sfdisk -q --no-reread --no-tell-kernel "$img" >/dev/null <<EOF
label: dos
label-id: 0x${luuid:0:8}
unit: sectors
start=2048, size=$((256 * MiB / 512)), type=83, bootable
start=$((2048 + 256 * MiB / 512)), type=83
EOF
    mapping=luks-$luuid
    if [ "$ver" = 2 ]; then
        kdf="--type luks2 --pbkdf argon2id --pbkdf-memory 32768 --pbkdf-parallel 1 --pbkdf-force-iterations 4"
        rootdev=/dev/mapper/vgluks-root
        rdargs="rd.luks.uuid=$mapping rd.lvm.lv=vgluks/root"
    else
        kdf="--type luks1 --pbkdf pbkdf2 --pbkdf-force-iterations 1000"
        rootdev=/dev/mapper/$mapping
        rdargs="rd.luks.uuid=$mapping"
    fi
    part=/dev/sd${dev}2
    cmdline="root=$rootdev ro $rdargs console=tty0 console=ttyS0,115200n8"
    {
        echo "debug sh \"printf %s '$pass' >/tmp/key && cryptsetup luksFormat -q $kdf --uuid $luuid --key-file /tmp/key $part 2>&1 && cryptsetup open --key-file /tmp/key $part $mapping 2>&1\""
        if [ "$ver" = 2 ]; then
            echo "debug sh \"lvm pvcreate -q /dev/mapper/$mapping 2>&1 && lvm vgcreate -q vgluks /dev/mapper/$mapping 2>&1 && lvm lvcreate -q -y -n root -L 1536M vgluks 2>&1\""
        fi
        echo "debug sh \"mkfs.ext4 -q -F -U $buuid -L boot /dev/sd${dev}1 2>&1\""
        if [ "$rfs" = xfs ]; then
            echo "debug sh \"mkfs.xfs -q -f -m uuid=$ruuid -L root $rootdev 2>&1\""
        else
            echo "debug sh \"mkfs.ext4 -q -F -U $ruuid -L root $rootdev 2>&1\""
        fi
        echo "mount $rootdev /"
        echo "tar-in $work/root.tar / xattrs:true"
        echo "mkdir-p /boot"
        echo "mount /dev/sd${dev}1 /boot"
        echo "tar-in $work/boot.tar /boot"
        echo "mkdir-p /boot/grub"
        echo "write /boot/grub/grub.cfg \"# img-tools LUKS fixture $name (written by tests/luks-fixtures.sh; no GRUB installed)\\nset default=0\\nset timeout=1\\nmenuentry 'Debian GNU/Linux' {\\n\\tinsmod part_msdos\\n\\tinsmod ext2\\n\\tsearch --no-floppy --fs-uuid --set=root $buuid\\n\\tlinux /vmlinuz-$kver $cmdline\\n\\tinitrd /initrd.img-$kver\\n}\\n\""
        echo "write /etc/fstab \"# <file system> <mount point> <type> <options> <dump> <pass>\\n$rootdev / $rfs defaults 0 $([ "$rfs" = xfs ] && echo 0 || echo 1)\\nUUID=$buuid /boot ext4 defaults 0 2\\n\""
        echo "write /etc/crypttab \"# <target name> <source device> <key file> <options>\\n$mapping UUID=$luuid none luks,discard\\n\""
        echo "write /etc/hostname \"$name\\n\""
        echo "write /etc/hosts \"127.0.0.1\\tlocalhost\\n127.0.1.1\\t$name\\n\""
        echo "umount-all"
        if [ "$ver" = 2 ]; then echo "debug sh \"lvm vgchange -q -an vgluks 2>&1\""; fi
        echo "debug sh \"sync; cryptsetup close $mapping 2>&1\""
    } >>"$gf"

    # The facts: the partition table read back, the rest as given.
    {
        echo "# img-tools LUKS fixture, written by tests/luks-fixtures.sh"
        echo "NAME=$name"
        echo "IMAGE_SIZE=$((2048 * MiB))"
        echo "PTTYPE=dos"
        partx -g -r -o NR,START,SECTORS "$img" | while read -r nr start sectors; do
            echo "PART${nr}_START=$((start * 512))"
            echo "PART${nr}_SIZE=$((sectors * 512))"
        done
        echo "PART_COUNT=2"
        echo "BOOT_PART=1"
        echo "BOOT_FSTYPE=ext4"
        echo "BOOT_UUID=$buuid"
        echo "LUKS_PART=2"
        echo "LUKS_OFFSET=$(($(partx -g -n 2 -o START "$img") * 512))"
        echo "LUKS_VERSION=$ver"
        echo "LUKS_UUID=$luuid"
        echo "KEY=$pass"
        echo "KEY_SLOT=0"
        echo "CRYPTTAB_NAME=$mapping"
        if [ "$ver" = 2 ]; then
            echo "VG_NAME=vgluks"
            echo "LVS=root"
            echo "LV_ROOT_PATH=/dev/mapper/vgluks-root"
        fi
        echo "ROOT_FSTYPE=$rfs"
        echo "ROOT_UUID=$ruuid"
        echo "ROOT_LABEL=root"
        echo "ROOT_DEVICE=$rootdev"
        echo "KERNEL_VERSION=$kver"
        echo "KERNEL_ROOT=$rootdev"
        echo "KERNEL_CMDLINE='$cmdline'"
        echo "RD_LUKS_UUID=$mapping"
        echo "HOSTNAME=$name"
    } >"$work/$name.img.facts"
    dev=b
done

export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
# /dev/kvm may exist where KVM does not work (nested): TCG always works.
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
guestfish --rw --format=raw -a "$work/luks2-lvm.img" -a "$work/luks1-plain.img" \
    -f "$gf" >"$work/log" 2>&1 || { cat "$work/log" >&2; die "guestfish failed"; }
for spec in "${images[@]}"; do
    name=${spec%% *}
    mv "$work/$name.img.facts" "$dir/$name.img.facts"
    mv "$work/$name.img" "$dir/$name.img"
done
echo "$prog: built in $((SECONDS - t0)) s" >&2
echo "$key" >"$dir/.complete"
echo "$dir"
