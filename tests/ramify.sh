#!/bin/bash
# img-ramify on the real Debian 12 guests, without booting: the ramboot
# initrd (the original, untouched, plus our layer, read with zcat/cpio),
# the RAM fstab, the GRUB entry found by UUID, sizing and --memory, dry
# run, second run, rollback, e2fsck.  (tests/ramify-boot.sh boots them.)
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires debugfs; requires e2fsck; requires jq; requires cpio; requires zcat
# The test images are qcow2 overlays over the cached guests: local
# backing files, which the tools follow only when allowed.
img_ramify_allow () { "$top_builddir/src/img-ramify" --allow-backing "$@"; }
RAMIFY=img_ramify_allow
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
dfs () { debugfs -R "$3" "$1?offset=$2" 2>/dev/null; }

for name in mbr-plain mbr-lvm; do
  for fmt in img qcow2; do
    t=$name.$fmt
    . <(grep -E '^(ROOT_UUID|BOOT_UUID|ROOT_OFFSET|BOOT_OFFSET|KERNEL_VERSION|SWAP_UUID)=' "$dir/$name.img.facts")
    if [ "$fmt" = qcow2 ]; then
        qemu-img create -q -f qcow2 -b "$dir/$name.qcow2" -F qcow2 "$t"
    else
        cp --sparse=always "$dir/$name.img" "$t"
    fi
    before=$(imgsum "$t")
    "$RAMIFY" --dry-run "$t" > dry.out 2>&1; ok $? "$t: dry run"
    is "$(imgsum "$t")" "$before" "$t: dry run changed no byte"
    "$RAMIFY" --json "$t" > run.json 2> run.err; ok $? "$t: ramified"
    [ -s run.err ] && sed 's/^/# /' run.err
    is "$(jq -r .facts.copy run.json)" "/ /boot" "$t: copies / and /boot"
    mem=$(( $(jq -r '.facts.memory_recommended_bytes | numbers' run.json) >> 20 ))
    bytes=$(jq -r '.facts.copy_bytes | numbers' run.json)
    ok "$([ "$bytes" -gt $((300 << 20)) ] && [ "$mem" -gt $((bytes >> 20)) ]; echo $?)" \
       "$t: sizing: $((bytes >> 20)) MiB to copy, $mem MiB of memory recommended"
    raw=$t; [ "$fmt" = qcow2 ] && { qemu-img convert -O raw "$t" "$t.raw"; raw=$t.raw; }
    v=$KERNEL_VERSION
    # GRUB 2 loads the guest's initrd and our layer as two files: the
    # initrd is neither changed nor copied.
    is "$(jq -r '.facts.ramboot_initrd + " " + .facts.ramboot_initrd_kind' run.json)" \
       "/boot/initrd.img-$v.ramboot-layer layer" "$t: GRUB 2: the layer is a file of its own (report)"
    dfs "$raw" "$BOOT_OFFSET" "cat /initrd.img-$v" > orig.initrd
    dfs "$dir/$name.img" "$BOOT_OFFSET" "cat /initrd.img-$v" | cmp -s - orig.initrd
    ok $? "$t: the guest's initrd is untouched"
    [ -z "$(dfs "$raw" "$BOOT_OFFSET" "stat /initrd.img-$v.ramboot" | grep Inode)" ]
    ok $? "$t: ... and not copied (no .ramboot)"
    dfs "$raw" "$BOOT_OFFSET" "cat /initrd.img-$v.ramboot-layer" > ram.layer
    llen=$(stat -c %s ram.layer)
    ok "$([ "$llen" -gt 0 ] && [ "$llen" -lt $((2 << 20)) ]; echo $?)" "$t: the layer file is small ($llen bytes)"
    zcat < ram.layer > layer.cpio 2>/dev/null; ok $? "$t: the layer is gzip, as the initrd's last segment"
    is "$(cpio -t --quiet < layer.cpio 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')" \
       "conf conf/ramboot.conf ramboot ramboot/fstab $([ "$name" = mbr-lvm ] && echo 'ramboot/lvmlocal.conf ')scripts scripts/ramboot usr/bin/img-ramcopy " \
       "$t: cpio -t: the layer holds the boot script, its config, the RAM fstab and the helper"
    cpio -i --quiet --to-stdout usr/bin/img-ramcopy < layer.cpio > helper 2>/dev/null
    cmp -s helper "$IMG_RAMCOPY"; ok $? "$t: the helper in the layer is our static img-ramcopy"
    cpio -i --quiet --to-stdout ramboot/fstab < layer.cpio > ram.fstab 2>/dev/null
    grep -qx 'ramroot / tmpfs defaults 0 0' ram.fstab && grep -q '^# on the disk: UUID='"$BOOT_UUID"' /boot' ram.fstab \
        && ! grep -v '^#' ram.fstab | grep -q "$BOOT_UUID"
    ok $? "$t: the RAM fstab: / on tmpfs, /boot (on the disk) commented out"
    if [ "$name" = mbr-lvm ]; then
        grep -q '^# on the disk: .* swap ' ram.fstab; ok $? "$t: the RAM fstab: swap on the disk commented out"
    fi
    dfs "$raw" "$ROOT_OFFSET" "cat /etc/fstab" | grep -q '^UUID=\|^/dev/mapper' ; ok $? "$t: the disk's own fstab is untouched"
    dfs "$raw" "$BOOT_OFFSET" "cat /grub/grub.cfg" > grub.cfg
    sed -n '/img-ramify RAM boot entry/,/END img-ramify/p' grub.cfg > entry
    grep -q "search --no-floppy --fs-uuid --set=root $BOOT_UUID" entry && ! grep -q 'hd0' entry
    ok $? "$t: the RAM entry finds /boot by filesystem UUID"
    grep -q "linux	/vmlinuz-$v .* boot=ramboot" entry && grep -q "initrd	/initrd.img-$v /initrd.img-$v.ramboot-layer\$" entry
    ok $? "$t: the RAM entry boots the initrd and the layer after it with boot=ramboot"
    is "$(grep -c '^set default="img-ramify' grub.cfg)" 0 "$t: not the default without --default"
    dfs "$raw" "$ROOT_OFFSET" "cat /etc/grub.d/41_img-ramify" > gen
    sh -n gen && grep -q '^RAMIFY_ARGS=.* boot=ramboot"$' gen \
        && dfs "$raw" "$ROOT_OFFSET" "stat /etc/grub.d/41_img-ramify" | grep -q 'Mode:  0755'
    ok $? "$t: /etc/grub.d/41_img-ramify (0755, sh -n clean) keeps the entry for update-grub"
    dfs "$raw" "$ROOT_OFFSET" "cat /etc/grub.d/40_custom" | grep -q 'img-ramify'; is $? 1 "$t: no static copy in 40_custom"
    dfs "$raw" "$ROOT_OFFSET" "stat /etc/initramfs-tools/hooks/img-ramify" | grep -q 'Mode:  0755' \
        && dfs "$raw" "$ROOT_OFFSET" "cat /usr/local/lib/img-ramify/img-ramcopy" | cmp -s - "$IMG_RAMCOPY"
    ok $? "$t: the initramfs-tools hook and its files (the helper: cmp) for the initrds the guest builds"
    e2fsck -fn "$raw?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "$t: e2fsck -fn clean on /boot"
    e2fsck -fn "$raw?offset=$ROOT_OFFSET" > /dev/null 2>&1; ok $? "$t: e2fsck -fn clean on /"
    mid=$(imgsum "$t")
    "$RAMIFY" "$t" > again.out 2>&1; is $? 3 "$t: second run: nothing to do"
    is "$(imgsum "$t")" "$mid" "$t: second run changed no byte"
    "$RAMIFY" --default "$t" > def.out 2>&1; ok $? "$t: --default"
    grep -q '^+   set default="img-ramify-ramboot"' def.out && grep -q '^+GRUB_DEFAULT=img-ramify-ramboot' def.out
    ok $? "$t: --default: grub.cfg and /etc/default/grub name the RAM entry"
    "$RAMIFY" --rollback "$t.img-tools-undo" > /dev/null 2>&1; ok $? "$t: rollback"
    if [ "$fmt" = qcow2 ]; then
        qemu-img compare -q "$t" "$dir/$name.qcow2"; ok $? "$t: rolled back (qemu-img compare)"
    else
        is "$(imgsum "$t")" "$before" "$t: rolled back byte-identical"
    fi
    rm -f "$t" "$t.raw" "$t".img-tools-undo*
  done
done

# --memory: refused when the copy will not fit, a warning with --force.
qemu-img create -q -f qcow2 -b "$dir/mbr-plain.qcow2" -F qcow2 m.qcow2
sum=$(imgsum m.qcow2)
"$RAMIFY" --memory 512M m.qcow2 > /dev/null 2> m.err; rc=$?
is "$rc:$(wc -l < m.err)" "1:1" "--memory 512M: refused, one error line ($(head -c 150 m.err))"
is "$(imgsum m.qcow2)" "$sum" "--memory 512M: image untouched"
"$RAMIFY" --memory 512M --force m.qcow2 > /dev/null 2> m.err; ok $? "--memory 512M --force: done"
grep -q 'warning: .*below the' m.err; ok $? "--memory 512M --force: with a warning"
"$RAMIFY" --memory 8G m.qcow2 > /dev/null 2>&1; is $? 3 "--memory 8G: fits (and nothing left to do)"
"$RAMIFY" --dry-run --detach-helper --vm web1 m.qcow2 > d.out 2>&1; ok $? "--detach-helper (dry run)"
grep -q '^\[detach-helper\] add /usr/local/sbin/img-ramify-detach' d.out; ok $? "--detach-helper: installs img-ramify-detach"
grep -q '^detach_proxmox: qm set web1 --delete scsi0' d.out && grep -q '^detach_libvirt: virsh detach-disk web1 sda --live --config' d.out \
    && grep -q '^detach_deckhouse: kubectl .*virtualmachineblockdeviceattachment' d.out
ok $? "host-side detach steps for Proxmox, libvirt and Deckhouse"
"$RAMIFY" --copy /nonexistent m.qcow2 > /dev/null 2> c.err; is "$?:$(wc -l < c.err)" "1:1" "--copy of a filesystem the guest does not mount: one error line"

# Sizing from the inode tables, against the kernel's view: find over
# read-only loop mounts of / and /boot, each inode once, a regular file
# its blocks, anything else a page.
. <(grep -E '^(ROOT_OFFSET|ROOT_SIZE|BOOT_OFFSET|BOOT_SIZE)=' "$dir/mbr-plain.img.facts")
cp --sparse=always "$dir/mbr-plain.img" s.img
"$RAMIFY" --dry-run --json s.img > s.json 2>/dev/null
got=$(jq -r '.facts.copy_bytes' s.json)
want=0
mkdir -p mnt
for part in "$ROOT_OFFSET $ROOT_SIZE" "$BOOT_OFFSET $BOOT_SIZE"; do
    set -- $part
    loop=$(losetup -f --show -r -o "$1" --sizelimit "$2" s.img) || bail "losetup failed"
    mount -o ro,noload "$loop" mnt || { losetup -d "$loop"; bail "mount failed"; }
    n=$(find mnt -xdev -printf '%i %y %b\n' | sort -u -k1,1n | awk '{ s += ($2 == "f") ? $3 * 512 : 4096 } END { printf "%d", s }')
    umount mnt; losetup -d "$loop"
    want=$((want + n))
done
is "$got" "$want" "sizing: copy_bytes is what find counts over read-only mounts of / and /boot ($want)"
# An inode slot the scan cannot vouch for: group 1's inode table made to
# cover 8 more (free) inodes, the first of them garbage with a wrong
# checksum.  The walk, which reads only inodes with names, sizes instead
# (it counts a hard-linked file once per name, less a page: more than the
# scan on these guests, whose perl is hard-linked), and the run goes on.
ipg=$(dfs s.img "$ROOT_OFFSET" "stats" | sed -n 's/^Inodes per group: *//p')
unused=$(dfs s.img "$ROOT_OFFSET" "stats" | sed -n '/^ Group  1:/,/^ Group  2:/s/.* \([0-9]*\) unused inodes.*/\1/p')
[ -n "$ipg" ] && [ -n "$unused" ] && [ "$unused" -gt 8 ] || bail "no unused inodes in group 1"
debugfs -w -R "set_bg 1 itable_unused $((unused - 8))" "s.img?offset=$ROOT_OFFSET" >/dev/null 2>&1
ino=$((ipg + (ipg - unused) + 1))
loc=$(dfs s.img "$ROOT_OFFSET" "imap <$ino>" | sed -n 's/.*located at block \([0-9]*\), offset \(0x[0-9a-f]*\).*/\1 \2/p')
set -- $loc
[ -n "${2:-}" ] || bail "debugfs imap found no inode $ino"
head -c 256 /dev/urandom | dd of=s.img bs=1 seek=$((ROOT_OFFSET + $1 * 4096 + $2)) conv=notrunc status=none
"$RAMIFY" -v --dry-run --json s.img > s2.json 2> s2.err; ok $? "sizing: inode $ino garbage in the table: the run goes on"
grep -q "inode $ino: .*sizing by a walk" s2.err; ok $? "sizing: ... the scan gives way to the walk (-v says why)"
walked=$(jq -r '.facts.copy_bytes' s2.json)
ok "$([ "$walked" -gt "$want" ] && [ "$walked" -lt $((want + (16 << 20))) ]; echo $?)" \
   "sizing: ... the walk's figure ($walked bytes; the scan's $want)"
rm -f s.img
done_testing
