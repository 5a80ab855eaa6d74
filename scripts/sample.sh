#!/bin/bash
# The main job on the built-in sample guest: install what is needed, build,
# lay out the guest of data/sample as a qcow2 image (MBR, /boot, LVM root,
# swap), run img-inspect on it, then img2pv and img-ramify, each on a copy.
# Run as root (lvm2 needs a loop device to create the sample's volume
# group; the tools themselves need neither).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" --sample
"$top/scripts/build.sh"

out=${SAMPLE_DIR:-$top/sample}
mkdir -p "$out"
raw=$out/sample.img
img=$out/sample.qcow2
MiB=$((1024 * 1024))

# Rebuilt whenever data/sample changes.
key=$( (cd "$top/data/sample" && find . -type f -o -type l | LC_ALL=C sort | xargs -d '\n' sha1sum) | sha1sum | cut -c1-12)
[ "$(cat "$out/.key" 2>/dev/null)" = "$key" ] || rm -f "$img" "$out/.key"
if [ ! -f "$img" ]; then
    work=$(mktemp -d)
    loop=
    cleanup () { [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null; rm -rf "$work"; }
    trap cleanup EXIT
    rm -f "$raw"
    truncate -s 96M "$raw"
    sfdisk -q --no-reread --no-tell-kernel "$raw" <<EOS >/dev/null
label: dos
label-id: 0x5a5a0001
start=2048, size=32M, type=83, bootable
size=48M, type=8e
type=82
EOS
    p() { sfdisk --json "$raw" | jq -r ".partitiontable.partitions[$1].$2 * 512"; }
    # /boot: the sample's files plus an initrd packed from data/sample/initrd.
    cp -r "$top/data/sample/boot" "$work/boot"
    (cd "$top/data/sample/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -9n) \
        > "$work/boot/initrd.img-6.1.0-28-amd64"
    mke2fs -q -F -t ext4 -U 5a5a0001-0000-4000-8000-000000000001 -L boot \
        -E offset="$(p 0 start)" -d "$work/boot" "$raw" "$(( $(p 0 size) / 1024 ))k"
    mkswap -U 5a5a0003-0000-4000-8000-000000000003 -L swap --offset "$(p 2 start)" "$raw" \
        "$(( $(p 2 size) / 1024 ))" >/dev/null 2>&1 ||
        { # older mkswap without --offset: write the signature through a loop device
          l=$(losetup -f --show -o "$(p 2 start)" --sizelimit "$(p 2 size)" "$raw")
          mkswap -U 5a5a0003-0000-4000-8000-000000000003 -L swap "$l" >/dev/null; losetup -d "$l"; }
    # The PV: lvm2 with a private configuration that sees only our loop
    # device and never activates anything.
    loop=$(losetup -f --show -o "$(p 1 start)" --sizelimit "$(p 1 size)" "$raw")
    export LVM_SYSTEM_DIR=$work/lvm
    mkdir -p "$LVM_SYSTEM_DIR"
    cat > "$LVM_SYSTEM_DIR/lvm.conf" <<EOC
global { activation = 0 use_lvmpolld = 0 event_activation = 0 }
devices { filter = [ "a|^$loop\$|", "r|.*|" ] global_filter = [ "a|^$loop\$|", "r|.*|" ] use_devicesfile = 0 obtain_device_list_from_udev = 0 }
backup { backup = 0 archive = 0 }
EOC
    lvm_q () { "$@" >/dev/null 2>"$work/lvm.err" || { cat "$work/lvm.err" >&2; exit 1; }; }
    lvm_q pvcreate -u 5a5a00-0000-0000-0000-0000-0000-000001 --norestorefile "$loop"
    lvm_q vgcreate -s 4M samplevg "$loop"
    lvm_q lvcreate --activate n --zero n -y -L 40M -n root samplevg
    pe_start=$(pvs --noheadings --units b --nosuffix -o pe_start "$loop" 2>/dev/null | tr -d ' ')
    losetup -d "$loop"; loop=
    # root is the VG's first LV, from extent 0.
    mke2fs -q -F -t ext4 -U 5a5a0002-0000-4000-8000-000000000002 -L root \
        -E offset="$(( $(p 1 start) + pe_start ))" -d "$top/data/sample/root" "$raw" 40960k
    qemu-img convert -O qcow2 "$raw" "$img"
    rm -f "$raw"
    echo "$key" > "$out/.key"
fi

build=${BUILD_DIR:-$top}
echo "\$ img-inspect $img"
"$build/src/img-inspect" "$img"
echo
echo "\$ img-inspect --json $img"
"$build/src/img-inspect" --json "$img"
echo

# The main job: the sample, an HVM-era guest (/dev/sda swap, udev
# persistent-net rules, /lib/tls, console on tty0), converted to Xen PV.
# The conversion goes to a copy, so the sample stays as built.
pv=$out/sample-pv.qcow2
rm -f "$pv" "$out/sample-pv.cfg"
echo "\$ img2pv --dry-run $img"
"$build/src/img2pv" --dry-run --no-xl-config "$img"
echo
echo "\$ img2pv --output $pv $img"
"$build/src/img2pv" --output "$pv" "$img"
echo
echo "\$ img2pv $pv      # again: nothing left to do (exit 3)"
rc=0; "$build/src/img2pv" "$pv" || rc=$?
[ "$rc" = 3 ] || { echo "sample.sh: expected exit 3 from the second run, got $rc" >&2; exit 1; }
echo
echo "\$ img-inspect $pv"
"$build/src/img-inspect" "$pv"
echo

# The second job: the same sample made able to boot with its root in RAM
# (a copy again), with the root as an archive in /boot.
ram=$out/sample-ram.qcow2
rm -f "$ram" "$ram.img-tools-undo"*
cp "$img" "$ram"
echo "\$ img-ramify --default --archive $ram"
"$build/src/img-ramify" --default --archive "$ram"
echo
echo "\$ img-ramify --default --archive $ram      # again: nothing left to do (exit 3)"
rc=0; "$build/src/img-ramify" --default --archive "$ram" || rc=$?
[ "$rc" = 3 ] || { echo "sample.sh: expected exit 3 from the second img-ramify run, got $rc" >&2; exit 1; }
