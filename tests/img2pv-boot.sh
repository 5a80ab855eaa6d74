#!/bin/bash
# img2pv, proved by booting in qemu (software emulation):
#  1. after the conversion, the guest's original GRUB entry still boots
#     from the disk to a login prompt (chosen once through grubenv's
#     next_entry, as `grub-reboot` would);
#  2. a guest whose initrd lacks the PV drivers gets them in an appended
#     layer, with a module index from depmod: the PV kernel and initrd as
#     pygrub extracts them, booted with the PV entry's arguments, load
#     xen-blkfront and xen-netfront from that layer (outside Xen their
#     init says "No such device": found and inserted, not "not found").
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-system-x86_64; requires qemu-img; requires debugfs; requires e2fsck
requires jq; requires cpio; requires zcat; requires unmkinitramfs; requires depmod; requires grub-editenv
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
IMG2PV=$top_builddir/src/img2pv

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

# boot LOG PATTERN SECONDS QEMU-ARGS...: runs qemu until PATTERN shows on
# the serial console (or SECONDS pass); the console goes to LOG.
boot () {
    local log=$1 pat=$2 secs=$3 start qpid; shift 3
    : > "$log"
    qemu-system-x86_64 -m 1024 -display none -monitor none -no-reboot \
        -serial "file:$log" "$@" &
    qpid=$!
    start=$(date +%s)
    while kill -0 "$qpid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt "$secs" ]; do
        grep -aq "$pat" "$log" 2>/dev/null && break
        sleep 1
    done
    diag "qemu ran $(( $(date +%s) - start )) s"
    kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null
    return 0
}

# ---- 1. the original entry still boots (LVM guest, raw) -------------------
. <(grep -E '^(ROOT_UUID|BOOT_OFFSET|ROOT_OFFSET|KERNEL_VERSION)=' "$dir/mbr-lvm-hvm.img.facts")
cp --sparse=always "$dir/mbr-lvm-hvm.img" orig.img
"$IMG2PV" orig.img > conv.out 2>&1; ok $? "LVM guest converted"
"$PYGRUB" -l orig.img 2>/dev/null | grep -m1 '^title:' | grep -q 'Xen PV'; ok $? "pygrub: PV entry first"
id=gnulinux-simple-$ROOT_UUID
debugfs -R "cat /grub/grub.cfg" "orig.img?offset=$BOOT_OFFSET" 2>/dev/null | grep -q "'$id'"
ok $? "the original entry ($id) is still in grub.cfg"
# grubenv with next_entry, as grub-reboot writes it, put in with debugfs.
grub-editenv grubenv create && grub-editenv grubenv set "next_entry=$id"
debugfs -w -R "rm /grub/grubenv" "orig.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
debugfs -w -R "write grubenv /grub/grubenv" "orig.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
e2fsck -fn "orig.img?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "e2fsck clean after putting grubenv in"
boot console1.log 'login:' 420 -drive file=orig.img,format=raw
grep -aq "Loading Linux $KERNEL_VERSION" console1.log; ok $? "GRUB booted the original entry (it echoes 'Loading Linux')"
grep -aq 'login:' console1.log; ok $? "the original entry reached a login prompt after the conversion"
grep -aq 'login:' console1.log || { tail -20 console1.log | sed 's/^/# /'; echo; }

# ---- 2. drivers missing from the initrd -----------------------------------
. <(grep -E '^(ROOT_UUID|BOOT_OFFSET|ROOT_OFFSET|KERNEL_VERSION)=' "$dir/mbr-plain-hvm.img.facts")
v=$KERNEL_VERSION
cp --sparse=always "$dir/mbr-plain-hvm.img" nomod.img
debugfs -R "dump /initrd.img-$v initrd.orig" "nomod.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
unmkinitramfs initrd.orig x > /dev/null 2>&1; ok $? "unmkinitramfs the guest's initrd"
[ -d x/main ] && x=x/main || x=x
rm -f "$x"/usr/lib/modules/"$v"/kernel/drivers/block/xen-blkfront.ko* \
      "$x"/usr/lib/modules/"$v"/kernel/drivers/net/xen-netfront.ko*
depmod -b "$x" "$v"
(cd "$x" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > initrd.nomod
debugfs -w -R "rm /initrd.img-$v" "nomod.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
debugfs -w -R "write initrd.nomod /initrd.img-$v" "nomod.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
zcat initrd.nomod | cpio -t --quiet 2>/dev/null | grep -c 'xen-\(blk\|net\)front' > count
is "$(cat count)" 0 "fixture: the guest's initrd no longer has xen-blkfront or xen-netfront"

"$IMG2PV" --json nomod.img > nomod.json 2> nomod.err; ok $? "converted the guest whose initrd lacks the drivers"
jq -r '.changes[] | select(.edit == "initrd-drivers") | .detail // empty' nomod.json | grep -q '(2 module files, conf/modules)'
ok $? "the report says two module files and conf/modules were added"
rm -rf pg; mkdir pg
"$PYGRUB" -q --output-directory="$TMP/pg" --output-format=simple nomod.img > pyx.out 2>/dev/null < /dev/null
kernel=$(sed -n 's/^kernel //p' pyx.out); initrd=$(sed -n 's/^ramdisk //p' pyx.out); args=$(sed -n 's/^args //p' pyx.out)
ok "$([ -s "$kernel" ] && [ -s "$initrd" ]; echo $?)" "pygrub extracted the PV kernel and initrd"
olen=$(stat -c %s initrd.nomod)
is "$(head -c "$olen" "$initrd" | cmp -s - initrd.nomod && echo same)" same "the original initrd is the untouched prefix"
lstart=$(tail -c +$((olen + 1)) "$initrd" | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | grep -n -m1 -v '^0$' | cut -d: -f1)
tail -c +$((olen + lstart)) "$initrd" | zcat 2>/dev/null > layer.cpio
cpio -t --quiet < layer.cpio > layer.list 2>/dev/null
grep -q "usr/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko" layer.list \
    && grep -q "usr/lib/modules/$v/kernel/drivers/net/xen-netfront.ko" layer.list
ok $? "cpio -t: the layer carries both module files"
cpio -i --quiet --to-stdout "usr/lib/modules/$v/modules.dep" < layer.cpio 2>/dev/null | grep -q '^kernel/drivers/block/xen-blkfront.ko'
ok $? "the layer's modules.dep (from depmod) knows xen-blkfront"
grep -q "usr/lib/modules/$v/modules.dep.bin" layer.list; ok $? "the layer carries modules.dep.bin for modprobe"
e2fsck -fn "nomod.img?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "e2fsck clean on /boot"

# Booted with the PV entry's own arguments (plus a serial console and
# break=premount), the initramfs stops after load_modules: its shell shows
# what the kernel unpacked and what modprobe resolves.
mkfifo in.fifo
qemu-system-x86_64 -m 1024 -display none -monitor none -no-reboot -serial stdio \
    -kernel "$kernel" -initrd "$initrd" -append "$args console=ttyS0,115200n8 break=premount" \
    -drive file=nomod.img,format=raw,snapshot=on < in.fifo > console2.log 2>&1 &
qpid=$!
at_exit "kill $qpid 2>/dev/null"
exec 7> in.fifo
start=$(date +%s)
while kill -0 "$qpid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt 300 ]; do
    grep -aq '(initramfs)' console2.log && break
    sleep 1
done
m=/usr/lib/modules/$v/kernel/drivers
# The commands go as one line, typed at the shell's prompt (the console
# echoes what is typed: one line at a time, the echo of the next could land
# in the middle of an output line); the markers print differently from how
# they are typed.
printf '%s\n' "echo BEGIN-\$((6*7)); cat /conf/modules; \
modprobe --show-depends xen-blkfront; modprobe --show-depends xen-netfront; \
insmod $m/block/xen-blkfront.ko; insmod $m/net/xen-netfront.ko; echo END-\$((6*7))" >&7
while kill -0 "$qpid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt 360 ]; do
    grep -aq '^END-42' <(tr -d '\r' < console2.log) && break
    sleep 1
done
diag "initramfs shell reached and checked in $(( $(date +%s) - start )) s"
exec 7>&-
kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null
tr -d '\r' < console2.log | sed -n '/^BEGIN-42/,/^END-42/p' > checks.out
is "$(grep -xE 'xen-(blk|net)front' checks.out | tr '\n' ' ')" "xen-blkfront xen-netfront " \
   "the booted initramfs has our /conf/modules (load_modules modprobes each line)"
grep -q "insmod /lib/modules/$v/kernel/drivers/block/xen-blkfront.ko" checks.out
ok $? "its modprobe resolves xen-blkfront through the layer's index"
grep -q "insmod /lib/modules/$v/kernel/drivers/net/xen-netfront.ko" checks.out
ok $? "its modprobe resolves xen-netfront through the layer's index"
is "$(grep -c "xen-\(blk\|net\)front.ko': -1 No such device" checks.out)" 2 \
   "both module files load and run their init (No such device: not under Xen)"
grep -q '^END-42' checks.out || { tail -20 console2.log | sed 's/^/# /'; echo; }
done_testing
