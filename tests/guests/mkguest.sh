#!/bin/bash
# Build one bootable Debian 12 test guest disk image (3 GiB, sparse raw) from
# the cached tree that debian-tree.sh makes.
#
# Usage: mkguest.sh [--hvm] [--dracut] [--rootfs FS] [--tree DIR] LAYOUT OUTPUT.img
#   LAYOUT  mbr-plain | mbr-lvm | gpt-lvm
#   --rootfs  ext4 (default) | xfs (/boot and / xfs) | btrfs (mbr-plain
#           only: one partition, subvolumes @ = / (default) and @home)
#   --hvm   add HVM-era traits (/dev/sdX names, 70-persistent-net.rules,
#           /lib/tls) for the conversion tool to find and fix
#   --dracut  replace initramfs-tools by Debian's dracut (the .debs are
#           fetched on the host) and build the initrd with it
#   --tree  use this Debian tree (default: IMG_TOOLS_GUEST_TREE, else
#           whatever debian-tree.sh prints)
# Writes OUTPUT.img and OUTPUT.img.facts (shell-sourceable KEY=VALUE lines
# describing what was built).  Needs root.
#
# This machine has no device-mapper, no nbd and no partition parsers in the
# kernel, so nothing here relies on them: partition tables are written to the
# file, filesystems are written at byte offsets with mke2fs -d, LVM metadata is
# written through an offset loop device with activation disabled, xfs and
# btrfs are made on an offset loop device and filled through a mount, and GRUB's
# tools see the partitions (and the root LV) as partx/addpart partitions of
# one loop device.
set -euo pipefail

prog=mkguest.sh
die() { echo "$prog: $*" >&2; exit 1; }
usage() { sed -n '4,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hvm=0
dracut=0
rootfs=ext4
tree=${IMG_TOOLS_GUEST_TREE:-}
while [ $# -gt 0 ]; do
    case $1 in
        --hvm) hvm=1; shift ;;
        --dracut) dracut=1; shift ;;
        --rootfs) [ $# -ge 2 ] || usage; rootfs=$2; shift 2 ;;
        --tree) [ $# -ge 2 ] || usage; tree=$2; shift 2 ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || usage
layout=$1
out=$2
case $layout in
    mbr-plain|mbr-lvm|gpt-lvm) ;;
    *) die "unknown layout '$layout' (mbr-plain, mbr-lvm, gpt-lvm)" ;;
esac
case $rootfs in
    ext4|xfs) ;;
    btrfs) [ "$layout" = mbr-plain ] || die "--rootfs btrfs: only with mbr-plain" ;;
    *) die "unknown --rootfs '$rootfs' (ext4, xfs, btrfs)" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (loop devices, mounts, chroot)"
[ -n "$tree" ] || tree=$(bash "$here/debian-tree.sh")
[ -f "$tree/.img-tools-complete" ] || die "$tree is not a complete Debian tree"

name=$layout
if [ "$rootfs" != ext4 ]; then name=$name-$rootfs; fi
if [ "$hvm" = 1 ]; then name=$name-hvm; fi
if [ "$dracut" = 1 ]; then name=$name-dracut; fi
case $layout in *-lvm) lvm=1 ;; *) lvm=0 ;; esac

MiB=$((1024 * 1024))
img_size=$((3 * 1024 * MiB))
boot_size=$((512 * MiB))
root_lv_size=$((2048 * MiB))
swap_lv_size=$((128 * MiB))
vg=guestvg
mac=52:54:00:12:34:56

# One builder at a time: concurrent runs would race for loop devices and
# partx/addpart partition numbers.  (fd 8: a caller's lock on fd 9, such as
# guests.sh's, stays held by us until we are done.)
lockdir=${IMG_TOOLS_LOCK_DIR:-/run/lock}
mkdir -p "$lockdir"
exec 8>"$lockdir/img-tools-mkguest.lock"
flock 8

# --- cleanup: whatever happens, leave no mount, loop device or temp dir ---
# Found afresh rather than tracked, so that a signal arriving between a
# mount/losetup and its bookkeeping cannot leak one: every loop device backed
# by our temporary image, every mount under our work dir.
work=
tmp_out=
# Partitions added by partx/addpart outlive a detach of their loop device, so
# drop them first; just after an unmount the kernel may still call them busy.
drop_parts() {  # drop_parts /dev/loopN
    local dev=$1 try p
    for try in 1 2 3 4 5 6 7 8 9 10; do
        set -- /sys/block/"${dev#/dev/}"/"${dev#/dev/}"p*
        [ -e "$1" ] || return 0
        for p; do delpart "$dev" "${p##*p}" 2>/dev/null || true; done
        sleep "0.$try"
    done
    echo "$prog: could not remove the partitions of $dev" >&2
    return 1
}
cleanup() {
    local rc=$? dev
    set +e
    trap - EXIT
    trap '' INT TERM HUP  # a second Ctrl-C must not cut the cleanup short
    if [ -n "$work" ] && mountpoint -q "$work/mnt"; then
        umount -R "$work/mnt" || umount -R -l "$work/mnt"
    fi
    if [ -n "$tmp_out" ] && [ -e "$tmp_out" ]; then
        for dev in $(losetup -n -O NAME -j "$tmp_out"); do
            drop_parts "$dev"
            losetup -d "$dev"
        done
    fi
    # --one-file-system: should an unmount have failed, never descend into
    # the image, let alone the host's /dev bound inside it.
    if [ -n "$work" ]; then rm -rf --one-file-system "$work"; fi
    if [ -n "${shared_initrd:-}" ]; then rm -f "$shared_initrd.tmp.$$"; fi
    if [ "$rc" != 0 ] && [ -n "$tmp_out" ]; then
        rm -f "$tmp_out" "$tmp_out.facts"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
trap 'echo "$prog: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# Stable UUIDs per image name: facts, fstab and grub.cfg stay the same from
# one rebuild to the next, and two layouts never share a UUID.
uuid_for() {
    local h
    h=$(printf 'img-tools guest %s %s' "$name" "$1" | sha1sum | cut -c1-32)
    printf '%s-%s-4%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" \
        $(((16#${h:16:1} & 3) | 8)) "${h:17:3}" "${h:20:12}"
}

facts=()
fact() {  # fact KEY VALUE: one shell-sourceable line of the facts file
    local v=$2
    [[ $v =~ ^[A-Za-z0-9_./:=+,@-]*$ ]] || v="'${v//\'/\'\\\'\'}'"
    facts+=("$1=$v")
}

# --- the staging tree ---------------------------------------------------------
# cp -al must stay on the cache's filesystem, hence the work dir beside it.
work=$(mktemp -d "$(dirname "$tree")/.mkguest.XXXXXX")
stage=$work/root
bootstage=$work/boot
# Absolute, so that losetup -j finds the loops over it whatever the cwd.
tmp_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out").tmp.$$

t0=$SECONDS
# A hardlink copy is quick, but every file in it is also a file of the cache:
# from here on files are only ever replaced (new inode), never written in place.
cp -al "$tree" "$stage"
rm -f "$stage/.img-tools-complete"
mv "$stage/boot" "$bootstage"
mkdir -m 755 "$stage/boot"
echo "$prog: staging copy of the tree: $((SECONDS - t0)) s" >&2

put() {  # put PATH_IN_GUEST < content  (replaces, never writes in place)
    rm -f "$stage$1"
    cat >"$stage$1"
}

kvers=()
for k in "$bootstage"/vmlinuz-*; do
    if [ -e "$k" ]; then kvers+=("${k##*/vmlinuz-}"); fi
done
[ ${#kvers[@]} = 1 ] || die "expected one kernel in $tree/boot, found ${#kvers[@]}"
kver=${kvers[0]}

boot_uuid=$(uuid_for boot)
root_uuid=$(uuid_for root)
swap_uuid=$(uuid_for swap)

# --- partition table ------------------------------------------------------------
truncate -s "$img_size" "$tmp_out"
case $layout in
    mbr-*)
        pttype=dos
        disk_id=0x$(uuid_for disk | cut -c1-8)
        [ $lvm = 1 ] && data_type=8e || data_type=83
        if [ "$rootfs" = btrfs ]; then
            # SUSE-style: one partition, /boot a directory of the root
            # subvolume (GRUB reads the kernels through btrfs paths).
            sfdisk --quiet --no-reread --no-tell-kernel "$tmp_out" <<EOF
label: dos
label-id: $disk_id
unit: sectors
start=2048, type=83, bootable
EOF
            boot_part= data_part=1
        else
            sfdisk --quiet --no-reread --no-tell-kernel "$tmp_out" <<EOF
label: dos
label-id: $disk_id
unit: sectors
start=2048, size=$((boot_size / 512)), type=83, bootable
start=$((2048 + boot_size / 512)), type=$data_type
EOF
            boot_part=1 data_part=2
        fi
        ;;
    gpt-*)
        pttype=gpt
        disk_id=$(uuid_for disk)
        sfdisk --quiet --no-reread --no-tell-kernel "$tmp_out" <<EOF
label: gpt
label-id: $disk_id
unit: sectors
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=$(uuid_for part1), name=bios
start=4096, size=$((boot_size / 512)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$(uuid_for part2), name=boot
start=$((4096 + boot_size / 512)), type=E6D6D379-F507-44C2-A23C-238F2A3DF928, uuid=$(uuid_for part3), name=lvm
EOF
        boot_part=2 data_part=3
        ;;
esac

fact LAYOUT "$layout"
fact NAME "$name"
fact HVM "$hvm"
fact IMAGE_SIZE "$img_size"
fact PTTYPE "$pttype"
fact DISK_ID "$disk_id"
# Read the table back rather than trusting the script: sfdisk rounds the last
# partition (and GPT keeps its backup header at the end).
declare -A pstart psize
nparts=0
while read -r nr start sectors type flags puuid; do
    pstart[$nr]=$((start * 512))
    psize[$nr]=$((sectors * 512))
    fact "PART${nr}_START" "${pstart[$nr]}"
    fact "PART${nr}_SIZE" "${psize[$nr]}"
    fact "PART${nr}_TYPE" "$type"
    fact "PART${nr}_FLAGS" "$flags"  # dos: 0x80 = bootable
    if [ "$pttype" = gpt ]; then fact "PART${nr}_UUID" "$puuid"; fi
    nparts=$nr
done < <(partx -g -r -o NR,START,SECTORS,TYPE,FLAGS,UUID "$tmp_out")
fact PART_COUNT "$nparts"
if [ -n "$boot_part" ]; then fact BOOT_PART "$boot_part"; fi
if [ $lvm = 1 ]; then fact PV_PART "$data_part"; else fact ROOT_PART "$data_part"; fi

# --- LVM ----------------------------------------------------------------------------
# Metadata only: no device-mapper here, so nothing is ever activated.  A
# private LVM_SYSTEM_DIR keeps the host's configuration, devices file, hints,
# backups and locks out of it, and the filter lets LVM see only our loop.
if [ $lvm = 1 ]; then
    pv=$(losetup -f --show -o "${pstart[$data_part]}" --sizelimit "${psize[$data_part]}" "$tmp_out")
    export LVM_SYSTEM_DIR=$work/lvm LVM_SUPPRESS_FD_WARNINGS=1
    mkdir -p "$LVM_SYSTEM_DIR/lock" "$LVM_SYSTEM_DIR/run"
    cat >"$LVM_SYSTEM_DIR/lvm.conf" <<EOF
devices {
    filter = [ "a|^$pv\$|", "r|.*|" ]
    global_filter = [ "a|^$pv\$|", "r|.*|" ]
    use_devicesfile = 0
    obtain_device_list_from_udev = 0
    external_device_info_source = "none"
    hints = "none"
}
global {
    activation = 0
    use_lvmlockd = 0
    event_activation = 0
    notify_dbus = 0
    system_id_source = "none"
    locking_dir = "$LVM_SYSTEM_DIR/lock"
}
activation {
    udev_sync = 0
    udev_rules = 0
    monitoring = 0
}
backup {
    backup = 0
    archive = 0
    backup_dir = "$LVM_SYSTEM_DIR/backup"
    archive_dir = "$LVM_SYSTEM_DIR/archive"
}
EOF
    # LVM warns that it activates nothing, zeroes nothing and backs nothing
    # up: all intended, so its chatter is shown only when a command fails.
    lvm_do() { "$@" >/dev/null 2>"$work/lvm.err" || { cat "$work/lvm.err" >&2; return 1; }; }
    lvm_do pvcreate --yes "$pv"
    lvm_do vgcreate --yes "$vg" "$pv"
    # contiguous: each LV is one byte range of the image, which is what the
    # facts (and the tests' offset tricks) describe.
    for lv in root:$root_lv_size swap:$swap_lv_size; do
        lvm_do lvcreate --yes --activate n --zero n --wipesignatures n \
            --alloc contiguous -n "${lv%%:*}" -L "${lv#*:}b" "$vg"
    done
    lvmq() { "$@" --noheadings --nosuffix --units b 2>/dev/null | sed 's/^ *//'; }
    pe_start=$(lvmq pvs -o pe_start "$pv")
    read -r pv_uuid < <(lvmq pvs -o pv_uuid "$pv")
    read -r vg_uuid extent < <(lvmq vgs -o vg_uuid,vg_extent_size "$vg")
    fact VG_NAME "$vg"
    fact VG_UUID "$vg_uuid"
    fact VG_EXTENT_SIZE "$extent"
    fact PV_UUID "$pv_uuid"
    fact PV_PE_START "$pe_start"
    declare -A lvoff lvlen
    lvnames=()
    while read -r lvname segs pestart pecount lvuuid; do
        [ "$segs" = 1 ] || die "LV $lvname is not contiguous"
        lvoff[$lvname]=$((pstart[$data_part] + pe_start + pestart * extent))
        lvlen[$lvname]=$((pecount * extent))
        lvnames+=("$lvname")
        up=${lvname^^}
        fact "LV_${up}_OFFSET" "${lvoff[$lvname]}"
        fact "LV_${up}_SIZE" "${lvlen[$lvname]}"
        fact "LV_${up}_UUID" "$lvuuid"
        fact "LV_${up}_PATH" "/dev/mapper/$vg-$lvname"
    done < <(lvmq pvs --segments -o lv_name,seg_count,pvseg_start,pvseg_size,lv_uuid \
                 --select 'lv_name!=""' "$pv")
    fact LVS "${lvnames[*]}"
    if [ -z "${lvoff[root]:-}" ] || [ -z "${lvoff[swap]:-}" ]; then
        die "LVs not found after lvcreate"
    fi
    losetup -d "$pv"
    unset LVM_SYSTEM_DIR

    root_off=${lvoff[root]} root_len=${lvlen[root]}
    swap_off=${lvoff[swap]} swap_len=${lvlen[swap]}
else
    root_off=${pstart[$data_part]} root_len=${psize[$data_part]}
fi
if [ -n "$boot_part" ]; then
    boot_off=${pstart[$boot_part]} boot_len=${psize[$boot_part]}
fi

# --- guest configuration ------------------------------------------------------------
# What the guest calls its devices: UUIDs normally; --hvm mimics an old HVM
# guest with /dev/sdX names for plain partitions (an LVM root has a stable
# name of its own and keeps it).
if [ "$hvm" = 1 ]; then
    boot_spec=/dev/sda$boot_part
    if [ $lvm = 1 ]; then
        root_spec=/dev/mapper/$vg-root swap_spec=/dev/mapper/$vg-swap
    else
        root_spec=/dev/sda$data_part
    fi
    kernel_root=$root_spec
else
    boot_spec=UUID=$boot_uuid root_spec=UUID=$root_uuid swap_spec=UUID=$swap_uuid
    if [ $lvm = 1 ]; then kernel_root=/dev/mapper/$vg-root; else kernel_root=UUID=$root_uuid; fi
fi

{
    echo "# <file system> <mount point> <type> <options> <dump> <pass>"
    case $rootfs in
        ext4)
            echo "$root_spec / ext4 errors=remount-ro 0 1"
            echo "$boot_spec /boot ext4 defaults 0 2" ;;
        xfs)  # as anaconda writes them: xfs is never fsck'ed at boot
            echo "$root_spec / xfs defaults 0 0"
            echo "$boot_spec /boot xfs defaults 0 0" ;;
        btrfs)  # as Debian's installer (and SUSE's) write them
            echo "$root_spec / btrfs defaults,subvol=@ 0 0"
            echo "$root_spec /home btrfs defaults,subvol=@home 0 0" ;;
    esac
    if [ $lvm = 1 ]; then echo "$swap_spec none swap sw 0 0"; fi
} | put /etc/fstab

echo "$name" | put /etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$name" \
    | put /etc/hosts
printf 'auto lo\niface lo inet loopback\n' | put /etc/network/interfaces
# No hibernation: keeps the initramfs from ever waiting for a resume device.
echo RESUME=none | put /etc/initramfs-tools/conf.d/resume

# The test suite talks to the guest over the serial console.
sed -e '/^GRUB_TIMEOUT=/d' -e '/^GRUB_CMDLINE_LINUX_DEFAULT=/d' \
    -e '/^GRUB_TERMINAL=/d' -e '/^GRUB_SERIAL_COMMAND=/d' \
    "$stage/etc/default/grub" >"$work/grub.default"
cat >>"$work/grub.default" <<'EOF'

# img-tools test guest: boot fast, console on the first serial port.
GRUB_TIMEOUT=1
GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
EOF
put /etc/default/grub <"$work/grub.default"

if [ "$rootfs" = btrfs ]; then
    # SUSE keeps the initrd's extra modules here; Debian ignores the file.
    mkdir -p "$stage/etc/sysconfig"
    put /etc/sysconfig/kernel <<'EOF'
## Path:	System/Kernel
## Description:	Modules for the initrd (SUSE convention; img-tools test guest)
## Type:	string
#
# The list of modules to be added to the initial ramdisk by mkinitrd/dracut.
#
INITRD_MODULES=""
EOF
fi

if [ "$hvm" = 1 ]; then
    mkdir -p "$stage/etc/udev/rules.d"
    put /etc/udev/rules.d/70-persistent-net.rules <<EOF
# This file was automatically generated by the /lib/udev/write_net_rules
# program, run by the persistent-net-generator.rules rules file.
#
# You can modify it, as long as you keep each rule on a single
# line, and change only the value of the NAME= key.

# PCI device 0x8086:0x100e (e1000)
SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="$mac", ATTR{dev_id}=="0x0", ATTR{type}=="1", KERNEL=="eth*", NAME="eth0"
EOF
    # /lib is a symlink to usr/lib in bookworm; mkdir follows it in the
    # staging tree, whose directories are its own (cp -al links only files).
    mkdir -p "$stage/lib/tls"
    echo "img-tools test guest: dummy file in an HVM-era /lib/tls" | put /lib/tls/dummy
    fact NET_MAC "$mac"
fi

# --- filesystems ----------------------------------------------------------------------
mkext4() {  # mkext4 UUID LABEL OFFSET LENGTH SRCDIR
    # nodiscard: never punch holes outside the range in the image file.
    mke2fs -q -F -t ext4 -U "$1" -L "$2" -E "offset=$3,nodiscard" -d "$5" \
        "$tmp_out" "$(($4 / 1024))k"
}
# xfs and btrfs have no -d: made on an offset loop device, mounted and
# filled with cp -a (which keeps hardlinks, xattrs and sparseness).
mnt=$work/mnt
mkdir "$mnt"
mkxfs() {  # mkxfs UUID LABEL OFFSET LENGTH SRCDIR
    local dev
    dev=$(losetup -f --show -o "$3" --sizelimit "$4" "$tmp_out")
    mkfs.xfs -q -f -K -m uuid="$1" -L "$2" "$dev"
    mount "$dev" "$mnt"
    cp -a "$5/." "$mnt/"
    umount "$mnt"
    losetup -d "$dev"
}
mkbtrfs() {  # mkbtrfs UUID LABEL OFFSET LENGTH SRCDIR BOOTDIR
    local dev sv
    dev=$(losetup -f --show -o "$3" --sizelimit "$4" "$tmp_out")
    mkfs.btrfs -q -f -K -U "$1" -L "$2" "$dev" >/dev/null
    mount "$dev" "$mnt"
    for sv in @ @home; do btrfs subvolume create "$mnt/$sv" >/dev/null; done
    cp -a "$5/." "$mnt/@/"
    cp -a "$6/." "$mnt/@/boot/"
    # /home's contents live in @home; @/home stays as its mount point.
    find "$mnt/@/home" -mindepth 1 -maxdepth 1 -exec mv -t "$mnt/@home/" {} +
    btrfs subvolume set-default "$mnt/@"
    # The facts, from btrfs-progs: "ID 256 gen 9 top level 5 path @"
    btrfs_subvols=$(btrfs subvolume list "$mnt" | awk '{ printf "%s%s", sep, $NF; sep = " " }')
    btrfs_default=$(btrfs subvolume get-default "$mnt" | awk '{ print $NF }')
    btrfs_root_id=$(btrfs inspect-internal rootid "$mnt/@")
    btrfs_home_id=$(btrfs inspect-internal rootid "$mnt/@home")
    umount "$mnt"
    losetup -d "$dev"
}
t0=$SECONDS
case $rootfs in
    ext4)
        mkext4 "$boot_uuid" boot "$boot_off" "$boot_len" "$bootstage"
        mkext4 "$root_uuid" root "$root_off" "$root_len" "$stage" ;;
    xfs)
        mkxfs "$boot_uuid" boot "$boot_off" "$boot_len" "$bootstage"
        mkxfs "$root_uuid" root "$root_off" "$root_len" "$stage" ;;
    btrfs)
        mkbtrfs "$root_uuid" root "$root_off" "$root_len" "$stage" "$bootstage" ;;
esac
echo "$prog: filesystems written: $((SECONDS - t0)) s" >&2
rm -rf "$stage" "$bootstage"

if [ -n "$boot_part" ]; then
    fact BOOT_FSTYPE "$rootfs"
    fact BOOT_UUID "$boot_uuid"
    fact BOOT_LABEL boot
    fact BOOT_OFFSET "$boot_off"
    fact BOOT_SIZE "$boot_len"
    fact BOOT_DEVICE "$boot_spec"
fi
fact ROOT_FSTYPE "$rootfs"
fact ROOT_UUID "$root_uuid"
fact ROOT_LABEL root
fact ROOT_OFFSET "$root_off"
fact ROOT_SIZE "$root_len"
fact ROOT_DEVICE "$root_spec"
if [ "$rootfs" = btrfs ]; then
    [ "$btrfs_subvols" = "@ @home" ] || die "btrfs subvolumes are '$btrfs_subvols', not '@ @home'"
    [ "$btrfs_default" = @ ] || die "btrfs default subvolume is '$btrfs_default', not @"
    fact BTRFS_SUBVOLS "$btrfs_subvols"
    fact BTRFS_DEFAULT_SUBVOL "$btrfs_default"
    fact BTRFS_ROOT_SUBVOL @
    fact BTRFS_ROOT_SUBVOLID "$btrfs_root_id"
    fact BTRFS_HOME_SUBVOL @home
    fact BTRFS_HOME_SUBVOLID "$btrfs_home_id"
    fact HOME_DEVICE "$root_spec"
    # where /boot is inside the filesystem GRUB reads the kernels from
    fact BOOT_FS_PATH /@/boot
fi
if [ $lvm = 1 ]; then
    sw=$(losetup -f --show -o "$swap_off" --sizelimit "$swap_len" "$tmp_out")
    mkswap -q -U "$swap_uuid" -L swap "$sw"
    losetup -d "$sw"
    fact SWAP_UUID "$swap_uuid"
    fact SWAP_LABEL swap
    fact SWAP_OFFSET "$swap_off"
    fact SWAP_SIZE "$swap_len"
    fact SWAP_DEVICE "$swap_spec"
fi

# --- bootloader ---------------------------------------------------------------------
# grub-install and grub-mkconfig need real block devices: the whole disk as a
# loop device, its partitions via partx (the kernel here does not parse
# partition tables), and an LVM root as an extra partition over the LV's
# bytes (10_linux gives up on a root that is a whole loop device).
t0=$SECONDS
disk=$(losetup -f --show "$tmp_out")
# Drop any partitions that a careless earlier user of this loop device left
# behind, or adding ours fails with EBUSY.
drop_parts "$disk"
if [ $lvm = 1 ]; then
    # The kernel refuses overlapping partitions, so the PV partition itself
    # stays hidden and only the LV inside it is added.
    partx -a --nr "1:$boot_part" "$disk"
    addpart "$disk" 9 $((root_off / 512)) $((root_len / 512))
    rootdev=${disk}p9
else
    partx -a "$disk"
    rootdev=${disk}p$data_part
fi
if [ "$rootfs" = btrfs ]; then
    mount -o subvol=@ "$rootdev" "$mnt"
else
    mount "$rootdev" "$mnt"
    mount "${disk}p$boot_part" "$mnt/boot"
fi
mount --bind /dev "$mnt/dev"
mount -t proc proc "$mnt/proc"
mount -t sysfs sysfs "$mnt/sys"
in_guest() { chroot "$mnt" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }

if [ "$dracut" = 1 ]; then
    # Debian's dracut in place of initramfs-tools, as an admin would switch:
    # the packages come from the host's apt (the guest tree has no lists),
    # and the initrd is dracut's generic one (no host-only guessing inside
    # a chroot), systemd in it as dracut chooses by default.
    mkdir "$mnt/tmp/debs"
    # (The host's package lists may be missing or old: update once if so.)
    get_debs() { (cd "$mnt/tmp/debs" && apt-get download -q dracut dracut-core kpartx >/dev/null 2>"$work/apt.err"); }
    get_debs || { apt-get update -q >/dev/null 2>&1; get_debs; } \
        || { cat "$work/apt.err" >&2; die "apt-get download dracut failed"; }
    in_guest dpkg --purge --force-depends initramfs-tools initramfs-tools-core >/dev/null
    # INITRD=No: dracut's postinst would otherwise run its kernel hook
    # (/etc/kernel/postinst.d/dracut) for every kernel, a full dracut run
    # (~100 s) whose initrd is replaced just below by the shared one.
    in_guest INITRD=No sh -c 'dpkg -i /tmp/debs/*.deb' >"$work/dpkg.log" 2>&1 \
        || { tail -20 "$work/dpkg.log" >&2; die "dpkg -i dracut failed"; }
    # The generic initrd does not depend on the guest's layout (it has
    # every module and dracut module; nothing host-only: no fstab, no
    # crypttab, no hostname), only on the tree, the kernel and dracut
    # itself.  Each build takes minutes of emulation-free CPU, so the
    # dracut guests share one, kept beside the tree under that key.
    dracut_args=(-q -f --no-hostonly --no-hostonly-cmdline "/boot/initrd.img-$kver" "$kver")
    initrd_key=$({ echo "$tree $kver ${dracut_args[*]}"; (cd "$mnt/tmp/debs" && ls); } \
                 | sha1sum | cut -c1-12)
    shared_initrd=$(dirname "$tree")/dracut-initrd-$initrd_key.img
    rm -rf "$mnt/tmp/debs"
    rm -f "$mnt/boot/initrd.img-$kver"
    if [ -f "$shared_initrd" ]; then
        cp "$shared_initrd" "$mnt/boot/initrd.img-$kver"
        echo "$prog: dracut's generic initrd from $shared_initrd" >&2
    else
        in_guest dracut "${dracut_args[@]}" >"$work/dracut.log" 2>&1 \
            || { tail -20 "$work/dracut.log" >&2; die "dracut failed"; }
        cp "$mnt/boot/initrd.img-$kver" "$shared_initrd.tmp.$$"
        mv -f "$shared_initrd.tmp.$$" "$shared_initrd"
    fi
    in_guest lsinitrd "/boot/initrd.img-$kver" >"$work/lsinitrd" 2>/dev/null || true
    if [ $lvm = 1 ]; then
        grep -E ' (usr/)?s?bin/lvm$' "$work/lsinitrd" >/dev/null || die "dracut's initrd has no lvm"
    fi
    if [ "$rootfs" != ext4 ]; then
        grep -E "/kernel/fs/$rootfs/$rootfs\.ko" "$work/lsinitrd" >/dev/null \
            || die "dracut's initrd has no $rootfs module"
    fi
    fact INITRAMFS dracut
elif [ $lvm = 1 ]; then
    # The initramfs must bring up the LVM root: Debian's lvm2 hook copies lvm
    # and its udev rules in, which activate the VG at boot.  bookworm's hook
    # is unconditional, so the tree's initrd normally has it already and the
    # slow (~80 s) rebuild is only done when it does not.
    has_lvm() {
        # not grep -q: with pipefail, its early exit would fail lsinitramfs
        in_guest lsinitramfs "/boot/initrd.img-$kver" | grep -E '(^|/)sbin/lvm$' >/dev/null
    }
    if ! has_lvm; then
        in_guest update-initramfs -u -k all >/dev/null
        has_lvm || die "initramfs has no lvm: the LVM root would not boot"
    fi
fi
if [ "$dracut" != 1 ] && [ "$rootfs" != ext4 ]; then
    # MODULES=most puts every filesystem in; make sure the root's is there.
    in_guest lsinitramfs "/boot/initrd.img-$kver" | grep -E "/kernel/fs/$rootfs/$rootfs\.ko" >/dev/null \
        || die "initramfs has no $rootfs module: the root would not mount"
fi
[ "$dracut" = 1 ] || fact INITRAMFS initramfs-tools
in_guest grub-install --target=i386-pc "$disk" 2>&1 | sed "s/^/$prog: grub-install: /" >&2
in_guest update-grub 2>&1 | sed "s/^/$prog: update-grub: /" >&2
# Without udev there is no /dev/disk/by-uuid, so 10_linux wrote the loop
# partition it saw; put in what the guest will really have.  For the LV
# partition grub-probe finds no fs UUID either (it lies inside another
# partition), so the menu entry ids name the loop too: give them the root
# UUID as on a real install.
cfg=$mnt/boot/grub/grub.cfg
grep -q 'root=/dev/loop' "$cfg" || die "no root=/dev/loop... in grub.cfg to rewrite"
sed -i -E -e "s#root=/dev/loop[0-9]+p[0-9]+#root=$kernel_root#g" \
    -e "s#(gnulinux-[a-z0-9.-]*)/dev/loop[0-9]+p[0-9]+'#\\1$root_uuid'#g" "$cfg"
! grep -n '/dev/loop' "$cfg" || die "grub.cfg still names a loop device"
grep -q "root=$kernel_root " "$cfg" || die "grub.cfg has no kernel line with root=$kernel_root"
if [ "$rootfs" = btrfs ]; then
    # 10_linux's own conventions for a subvolume root
    grep -Eq "^[[:space:]]*linux[[:space:]]+/@/boot/vmlinuz-$kver .*rootflags=subvol=@ " "$cfg" \
        || die "grub.cfg has no /@/boot/vmlinuz-$kver ... rootflags=subvol=@ line"
    fact KERNEL_ROOTFLAGS subvol=@
fi
fact KERNEL_VERSION "$kver"
fact KERNEL_ROOT "$kernel_root"
fact HOSTNAME "$name"
fact ROOT_PASSWORD root
fact SERIAL_CONSOLE ttyS0

umount -R "$mnt"
drop_parts "$disk"
losetup -d "$disk"
echo "$prog: bootloader installed: $((SECONDS - t0)) s" >&2

printf '%s\n' "# img-tools test guest, written by tests/guests/mkguest.sh" "${facts[@]}" \
    >"$tmp_out.facts"
mv -f "$tmp_out.facts" "$out.facts"
mv -f "$tmp_out" "$out"
tmp_out=
echo "$prog: built $out ($name)" >&2
