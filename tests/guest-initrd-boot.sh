#!/bin/bash
# An initrd extended by us, inside a real guest (LVM root, qcow2): the new
# initrd lists the original members plus ours (lsinitramfs, and cpio -t
# over the appended segment), and the guest, booted in qemu from its own
# disk with that initrd, runs our overriding conf/initramfs.conf and our
# new conf.d file, then reaches a login prompt on its LVM root.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-system-x86_64; requires qemu-img; requires cpio
requires lsinitramfs; requires zstd; requires jq
GT=$top_builddir/tests/guest-tool

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
qemu-img create -q -f qcow2 -b "$dir/mbr-lvm.qcow2" -F qcow2 disk.qcow2
ver=$(img-inspect --allow-backing --json disk.qcow2 | jq -r '.guest.kernels[0].version')
initrd=/boot/initrd.img-$ver
"$GT" disk.qcow2 -- cat "$initrd" > orig.img; ok $? "original initrd read from the guest"

# The layer: conf/initramfs.conf as the guest has it plus a marker line
# (overrides the original member), and a new conf.d file.
mkdir -p layer/conf/conf.d
"$GT" disk.qcow2 -- cat /etc/initramfs-tools/initramfs.conf > layer/conf/initramfs.conf
echo 'echo "IMG-TOOLS-OVERRIDE-MARKER"' >> layer/conf/initramfs.conf
echo 'echo "IMG-TOOLS-NEW-FILE-MARKER"' > layer/conf/conf.d/zz-img-tools
(cd layer && find . | cpio -o -H newc --quiet) > layer.cpio

"$GT" --rw disk.qcow2 -- extend-initrd "$initrd" "$initrd" layer.cpio zstd
ok $? "initrd extended in place through the guest API"
"$GT" disk.qcow2 -- cat "$initrd" > new.img

# Listing.  unmkinitramfs (lsinitramfs) stops after the first compressed
# segment -- the kernel does not -- so each segment is listed on its own:
# the original bytes are untouched (so lsinitramfs lists the same members
# there), and cpio -t lists ours in the appended segment.
lsinitramfs orig.img | sort -u > orig.list
olen=$(stat -c %s orig.img)
head -c "$olen" new.img > head.img
lsinitramfs head.img | sort -u > head.list
is "$(comm -3 orig.list head.list | wc -l) $(grep -c . orig.list)" "0 $(grep -c . orig.list)" \
   "lsinitramfs lists every original member ($(grep -c . orig.list)) in the new initrd's first segments"
lsinitramfs new.img 2> new.err | sort -u > new.list
is "$(comm -23 orig.list new.list | wc -l) $(wc -c < new.err)" "0 0" \
   "lsinitramfs on the whole extended initrd: every original member, nothing on stderr"
# img-inspect (our reader) sees both: the original entries plus our five.
before=$(img-inspect --json "$dir/mbr-lvm.qcow2" | jq '.guest.kernels[0].initrd_contents.entries')
is "$(img-inspect --allow-backing --json disk.qcow2 | jq '.guest.kernels[0].initrd_contents | "\(.entries) \(.segments | length) \(.segments[-1].compression)"')" \
   "\"$((before + 5)) 2 zstd\"" "img-inspect reads the original entries plus ours, in a zstd segment"
# The appended segment on its own: zstd, right after the original's
# zstd stream (no padding: the distribution's tools read it).
pad=0
is "$(cmp -s <(head -c "$olen" new.img) orig.img && echo same)" same "the original bytes are untouched"
is "$(tail -c +$((olen + 1)) new.img | head -c 4 | od -An -tx1 | tr -d ' \n')" "28b52ffd" \
   "the zstd layer starts right after the original (no zero padding)"
tail -c +$((olen + pad + 1)) new.img | zstd -dc | cpio -t --quiet 2>/dev/null | sort > seg.list
is "$(cat seg.list | tr '\n' ' ')" ". conf conf/conf.d conf/conf.d/zz-img-tools conf/initramfs.conf " \
   "cpio -t over the appended zstd segment"

# Boot the guest from its disk; GRUB's default entry uses this initrd.
qemu-system-x86_64 -m 1024 -display none -monitor none -no-reboot \
    -drive file=disk.qcow2,format=qcow2,snapshot=on -serial file:console.log &
qpid=$!
at_exit "kill $qpid 2>/dev/null"
start=$(date +%s)
while kill -0 "$qpid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt 420 ]; do
    grep -q 'login:' console.log 2>/dev/null && break
    sleep 2
done
diag "boot took $(( $(date +%s) - start )) s"
kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null
grep -q 'IMG-TOOLS-OVERRIDE-MARKER' console.log; ok $? "the guest ran our overriding conf/initramfs.conf"
grep -q 'IMG-TOOLS-NEW-FILE-MARKER' console.log; ok $? "the guest ran our new conf.d file"
grep -q 'login:' console.log; ok $? "the guest reached a login prompt"
grep -q 'login:' console.log || tail -30 console.log | sed 's/^/# /'
done_testing
