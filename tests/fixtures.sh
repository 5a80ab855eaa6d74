# Helpers that build small synthetic images with the real tools (sfdisk,
# mke2fs -d, lvm2, qemu-img).  Source after functions.sh.

MiB=$((1024 * 1024))

# new_image FILE SIZE: a sparse file.
new_image () { rm -f "$1"; truncate -s "$2" "$1"; }

# partition FILE < sfdisk-script
partition () { sfdisk -q --no-reread --no-tell-kernel "$1" >/dev/null; }

# part_start FILE N / part_size FILE N: bytes, as sfdisk reads them.
part_start () { sfdisk --json "$1" | jq -r ".partitiontable.partitions[$(($2 - 1))].start * 512"; }
part_size () { sfdisk --json "$1" | jq -r ".partitiontable.partitions[$(($2 - 1))].size * 512"; }

# mk_ext FILE OFFSET BYTES TYPE UUID LABEL [DIR]: an ext2/3/4 filesystem
# written straight into the image at OFFSET (no loop device).
mk_ext () {
    local file=$1 off=$2 bytes=$3 type=$4 uuid=$5 label=$6 dir=${7:-}
    mke2fs -q -F -t "$type" -U "$uuid" -L "$label" -E offset="$off" \
        ${dir:+-d "$dir"} "$file" "$((bytes / 1024))k" >/dev/null
}

# lvm_begin SPEC...: SPEC is FILE:START:LENGTH (bytes).  Attaches each range
# to a loop device (a PV-to-be) and points lvm2 at a private configuration
# that sees only those devices and never activates anything, so the host's
# LVM is untouched.  Sets LVM_LOOPS (array) and exports LVM_SYSTEM_DIR.
lvm_begin () {
    requires_root
    local spec file start len dev filter=""
    LVM_LOOPS=()
    for spec in "$@"; do
        IFS=: read -r file start len <<<"$spec"
        dev=$(losetup -f --show -o "$start" --sizelimit "$len" "$file") || bail "losetup failed"
        at_exit "loop_detach_if_ours $dev '$(realpath "$file")'"
        LVM_LOOPS+=("$dev")
        filter="$filter\"a|^$dev\$|\", "
    done
    LVM_SYSTEM_DIR=$(mktemp -d "$TMP/lvm.XXXXXX")
    export LVM_SYSTEM_DIR LVM_SUPPRESS_FD_WARNINGS=1
    cat >"$LVM_SYSTEM_DIR/lvm.conf" <<EOC
global { activation = 0 use_lvmpolld = 0 event_activation = 0 }
devices { filter = [ $filter"r|.*|" ] global_filter = [ $filter"r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 scan = [ "/dev" ] }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
backup { backup = 0 archive = 0 }
EOC
}

# Detaches DEV only while it still shows FILE: once we let it go, the
# kernel may hand the same number to someone else's test.
loop_detach_if_ours () {
    local back
    back=$(losetup -n -O BACK-FILE -l "$1" 2>/dev/null | sed 's/ *$//')
    [ "$back" = "$2" ] && losetup -d "$1" 2>/dev/null
    return 0
}

# lvm_end: detach the loop devices now (the exit hook then finds them gone
# or reused by others, and leaves them alone).
lvm_end () {
    local dev back
    for dev in "${LVM_LOOPS[@]}"; do
        back=$(losetup -n -O BACK-FILE -l "$dev" 2>/dev/null | sed 's/ *$//')
        [ -n "$back" ] && losetup -d "$dev" 2>/dev/null
    done
    LVM_LOOPS=()
}

# Quiet lvm2 command runner (lvm2 warns about the missing udev/dm here).
lvm_q () { "$@" 2>"$TMP/lvm.err" >/dev/null || { cat "$TMP/lvm.err" >&2; return 1; }; }

# on_range IMG OFFSET SIZE CMD...: CMD with a read-only loop device over
# those bytes as its last argument, detached at once (img-inspect refuses
# an image a loop device holds).
on_range () {
    local img=$1 off=$2 size=$3 l r
    shift 3
    l=$(losetup -f --show -r -o "$off" --sizelimit "$size" "$img") || bail "losetup failed"
    "$@" "$l"; r=$?
    losetup -d "$l"
    return $r
}

# strip_modalias_rule IMG BOOT_OFFSET KVER: replaces the initrd of a test
# guest (/initrd.img-KVER on the ext /boot at BOOT_OFFSET) by the same
# initrd without udev's 80-drivers.rules (unmkinitramfs, cpio, gzip;
# debugfs writes it), so that img2pv has to extend it.  Leaves the new
# initrd in ./new.initrd.  gzip -1: -9 took 52 s of CPU over the 135 MB
# the guest's initrd unpacks to, -1 about 2 s.
strip_modalias_rule () {
    local img=$1 off=$2 kver=$3
    rm -rf unpacked.$$
    debugfs -R "cat /initrd.img-$kver" "$img?offset=$off" > guest.initrd.$$ 2>/dev/null || return 1
    unmkinitramfs guest.initrd.$$ unpacked.$$ 2>/dev/null || return 1
    [ -e unpacked.$$/usr/lib/udev/rules.d/80-drivers.rules ] || return 1
    rm -f unpacked.$$/usr/lib/udev/rules.d/80-drivers.rules
    (cd unpacked.$$ && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1n) > new.initrd || return 1
    rm -rf unpacked.$$ guest.initrd.$$
    debugfs -w -R "rm /initrd.img-$kver" "$img?offset=$off" > /dev/null 2>&1 || return 1
    debugfs -w -R "write new.initrd /initrd.img-$kver" "$img?offset=$off" > /dev/null 2>&1 || return 1
    cmp -s new.initrd <(debugfs -R "cat /initrd.img-$kver" "$img?offset=$off" 2>/dev/null)
}
