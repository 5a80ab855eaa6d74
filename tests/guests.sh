#!/bin/bash
# Real Debian 12 guests (tests/guests/: debootstrap, kernel, initramfs,
# GRUB) in the layouts the issue names — MBR /boot+root, MBR /boot+LVM
# root, GPT (BIOS boot) /boot+LVM root — raw and qcow2.  img-inspect, run
# as an unprivileged user, must agree with independent oracles: sfdisk and
# libparted on partitions, lvm2's own lvs on LV extents, blkid on
# filesystem UUIDs; and it must create no loop device, mount or dm node.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires sfdisk; requires parted; requires blkid
requires setpriv; requires qemu-img; requires lvs; requires strace

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
diag "guests in $dir"

# What of the images the host sees: loop devices over them, mounts from
# their directory, device-mapper nodes.  (Counted per image, not globally,
# so other work on the machine cannot disturb the test.)
host_state () {
    { losetup -j "$1"; losetup -j "$2"; ls /dev/mapper 2>/dev/null | grep -v '^control$';
      grep -F "$dir" /proc/self/mountinfo; } | wc -l
}

# img-inspect as nobody (the images are world-readable in the cache).
inspect_as_nobody () {
    setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR=/tmp \
        "$(command -v img-inspect)" --json "$@"
}

# Oracle views, in one line per item, sorted.
sfdisk_parts () {   # number start size type
    sfdisk --json "$1" | jq -r '.partitiontable.partitions[] |
        "\(.node | capture("(?<n>[0-9]+)$").n) \(.start * 512) \(.size * 512) \(.type | ascii_downcase)"' | sort
}
parted_parts () {   # number start size
    parted -s -m "$1" unit B print | awk -F: 'NR > 2 { sub("B","",$2); sub("B","",$4); print $1, $2, $4 }' | sort
}
our_parts () {
    jq -r '.images[0].partitions[] | "\(.number) \(.start) \(.size) \(.type)"' "$1" | sort
}
our_fs () {         # offset uuid for partitions that have a filesystem
    jq -r '.images[0].partitions[] | select(.filesystem != null and .filesystem.type != "LVM2_member") |
        "\(.start) \(.filesystem.type) \(.filesystem.uuid)"' "$1" | sort
}
blkid_fs () {       # same, from blkid probing the raw image at each offset
    local img=$1 start
    for start in $(jq -r '.images[0].partitions[] | select(.filesystem != null and .filesystem.type != "LVM2_member") | .start' "$2"); do
        eval "$(blkid -p -O "$start" -o export "$img" | grep -E '^(TYPE|UUID)=')"
        echo "$start $TYPE $UUID"
    done | sort
}

for layout in mbr-plain mbr-lvm gpt-lvm; do
    raw=$dir/$layout.img
    qcow=$dir/$layout.qcow2
    [ -f "$raw" ] && [ -f "$qcow" ] || bail "guest $layout missing in $dir"
    # shellcheck disable=SC1090
    . "$raw.facts"

    before=$(host_state "$raw" "$qcow")
    inspect_as_nobody "$raw" > "$TMP/raw.json"; ok $? "$layout raw: inspected as nobody"
    inspect_as_nobody "$qcow" > "$TMP/qcow.json"; ok $? "$layout qcow2: inspected as nobody"
    is "$(host_state "$raw" "$qcow")" "$before" "$layout: no loop device, mount or dm node created"
    is "$(pgrep -c -f -- "qemu-nbd.*$qcow" || true)" 0 "$layout: no qemu-nbd left behind"
    # And nothing transient either: no mount call, no loop or dm device
    # touched, by us or the qemu-nbd we start.
    strace -f -qq -o "$TMP/trace" -e trace=mount,umount2,ioctl,open,openat \
        setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR=/tmp \
        "$(command -v img-inspect)" --json "$qcow" >/dev/null 2>&1
    grep -E 'mount\(|LOOP_|/dev/loop|/dev/mapper|/dev/dm-|DM_' "$TMP/trace" | head -3 > "$TMP/bad"
    [ -s "$TMP/trace" ] && [ ! -s "$TMP/bad" ]; ok $? "$layout: strace shows no mount, loop or device-mapper use"
    [ -s "$TMP/bad" ] && diag "$(cat "$TMP/bad")"

    is "$(jq -r '.images[0].format' "$TMP/qcow.json")" qcow2 "$layout qcow2: format"
    is "$(jq -c '[.images[0].partition_table, .images[0].partitions, .volume_groups]' "$TMP/qcow.json" | sed "s|$qcow|IMG|g")" \
       "$(jq -c '[.images[0].partition_table, .images[0].partitions, .volume_groups]' "$TMP/raw.json" | sed "s|$raw|IMG|g")" \
       "$layout: qcow2 and raw give the same layout"

    is "$(our_parts "$TMP/raw.json")" "$(sfdisk_parts "$raw")" "$layout: partitions agree with sfdisk --json"
    is "$(our_parts "$TMP/raw.json" | cut -d' ' -f1-3)" "$(parted_parts "$raw")" "$layout: partitions agree with libparted"
    is "$(our_fs "$TMP/raw.json")" "$(blkid_fs "$raw" "$TMP/raw.json")" "$layout: filesystem UUIDs agree with blkid"
    jq -r '.images[0].partitions[].filesystem.uuid // empty' "$TMP/raw.json" | grep -qx "$BOOT_UUID"
    ok $? "$layout: /boot UUID is the one the builder gave ($BOOT_UUID)"

    case $layout in
    *lvm*)
        pvpart=$(jq -r '.images[0].partitions[] | select(.filesystem.type == "LVM2_member") | .number' "$TMP/raw.json")
        pstart=$(part_start "$raw" "$pvpart"); psize=$(part_size "$raw" "$pvpart")
        lvm_begin "$raw:$pstart:$psize"
        pe_start=$(pvs --noheadings --units b --nosuffix -o pe_start 2>/dev/null | tr -d ' ')
        esize=$(vgs --noheadings --units b --nosuffix -o vg_extent_size 2>/dev/null | tr -d ' ')
        # name start_extent extent_count type image-offset, from lvm2 itself
        want=$(lvs --segments --units b --nosuffix --reportformat json \
                   -o lv_name,seg_start_pe,seg_size_pe,segtype,seg_pe_ranges 2>/dev/null |
               jq -r '.report[0].seg[] | "\(.lv_name) \(.seg_start_pe) \(.seg_size_pe) \(.segtype) \(.seg_pe_ranges | capture(":(?<pe>[0-9]+)-").pe)"' |
               while read -r n s c t pe; do echo "$n $s $c $t $((pstart + pe_start + pe * esize))"; done | sort)
        vgname=$(vgs --noheadings -o vg_name 2>/dev/null | tr -d ' ')
        lvm_end
        got=$(jq -r '.volume_groups[0].lvs[] | .name as $n | .segments[] |
                 "\($n) \(.start_extent) \(.extent_count) \(.type) \(.stripes[0].offset)"' "$TMP/raw.json" | sort)
        is "$got" "$want" "$layout: LV extents and byte offsets agree with lvs --segments"
        is "$(jq -r '.volume_groups[0].name' "$TMP/raw.json")" "$vgname" "$layout: VG name"
        # The root LV's filesystem, probed by blkid at the byte offset we report.
        off=$(jq -r '.volume_groups[0].lvs[] | select(.name == "root") | .segments[0].stripes[0].offset' "$TMP/raw.json")
        eval "$(blkid -p -O "$off" -o export "$raw" | grep -E '^UUID=')"
        is "$(jq -r '.volume_groups[0].lvs[] | select(.name == "root") | .filesystem.uuid' "$TMP/raw.json")" \
           "$UUID" "$layout: root LV filesystem UUID agrees with blkid at our offset"
        is "$UUID" "$ROOT_UUID" "$layout: root LV UUID is the builder's"
        ;;
    *)
        jq -r '.images[0].partitions[].filesystem.uuid // empty' "$TMP/raw.json" | grep -qx "$ROOT_UUID"
        ok $? "$layout: root UUID is the builder's ($ROOT_UUID)"
        ;;
    esac
done
done_testing
