#!/bin/bash
# disk/overlay.c: the libguestfs appliance's private qcow2 overlay.  A
# qemu (qemu-io here) writes into an overlay we created over the image
# while we hold the image as a run does; what it wrote is applied through
# our disk layer: only the bytes that differ are counted, the image ends
# equal to what qemu reads through the overlay, a second apply changes
# nothing, a dry run writes nothing, an undo record rolls it back bit for
# bit; for a raw and a qcow2 image.  Overlays damaged by hand are refused
# with one line and the image untouched.
. "$top_srcdir/tests/functions.sh"

requires qemu-img
requires qemu-io
requires cmp
requires python3

OT=$top_builddir/tests/overlay-tool
[ -x "$OT" ] || bail "tests/overlay-tool is not built"
cd "$TMP" || bail "no scratch directory"

MiB=1048576
sha () { imgsum "$1"; }
# Raw bytes of any image, as qemu reads them.
as_raw () { qemu-img convert -O raw "$1" "$2"; }
changed_of () { sed -n 's/^changed //p' <<<"$1"; }

# The writes: 64 KiB of 0xab over random bytes (1M), 8 KiB of zeros at
# 4M (its second 4 KiB block is zero already), 64 KiB equal to the base
# (6M), 1000 bytes in the middle of a cluster (7M + 300).
QEMU_WRITES=(-c 'write -P 0xab 1M 64k' -c 'write -z 4M 8k' -c 'write -P 0x5a 6M 64k'
             -c 'write -P 0xcd 7340332 1000')
mkbase () {   # mkbase FILE: 8 MiB of random bytes with a zero block and a 0x5a run
    head -c $((8 * MiB)) /dev/urandom > "$1"
    dd if=/dev/zero of="$1" bs=4096 seek=$((4 * MiB / 4096 + 1)) count=1 conv=notrunc status=none
    head -c 65536 /dev/zero | tr '\0' '\132' | dd of="$1" bs=4096 seek=$((6 * MiB / 4096)) conv=notrunc status=none
}

# ---- imgsum, the oracle of the checks below (and of every "not a byte
# changed" check on an image): a byte changed in a hole, in data, or past
# a 64 KiB boundary changes it; a hole and written zeros hash alike.
truncate -s 3M s.img
printf 'data' | dd of=s.img bs=1 seek=70000 conv=notrunc status=none
s0=$(imgsum s.img)
cp --sparse=never s.img s.full
is "$(imgsum s.full)" "$s0" "imgsum: holes and written zeros hash alike"
for at in 5 65535 65536 69999 2097152 3145727; do
    cp --sparse=always s.img s.mod
    printf 'x' | dd of=s.mod bs=1 seek=$at conv=notrunc status=none
    [ "$(imgsum s.mod)" != "$s0" ]; ok $? "imgsum: one byte changed at $at changes it"
done
cp s.img s.mod; truncate -s $((3 * MiB + 1)) s.mod
[ "$(imgsum s.mod)" != "$s0" ]; ok $? "imgsum: one more (zero) byte at the end changes it"
rm -f s.img s.full s.mod

# ---- a raw image ------------------------------------------------------
mkbase base.raw
cp base.raw orig.raw
orig=$(sha orig.raw)
cat > writer.sh <<EOF
set -u
qemu-io -f qcow2 ${QEMU_WRITES[*]@Q} "\$1" >/dev/null || exit 1
# Run time: a second qemu reads the image under the overlay's backing name
# while our run holds it; without that name our lock bytes refuse it.
qemu-io -r -c 'read 0 4096' "\$OVL_BACKING" >/dev/null 2>&1 && echo shared-read-ok > locks
qemu-io -r -f raw -c 'read 0 4096' "\$2" >/dev/null 2>locked-err || echo plain-read-refused >> locks
qemu-img info --output=json "\$1" > info.json && echo overlay-info-ok >> locks
exit 0
EOF
# One run as the backend makes it: create, qemu writes while the image is
# held read-write, apply under an undo record, commit.
out=$("$OT" base.raw ov.qcow2 run --undo base.undo -- bash writer.sh ov.qcow2 base.raw 2>&1); rc=$?
is "$rc" 0 "raw: overlay created, written by qemu-io while the image is held, applied"
[ $rc -eq 0 ] || diag "$out"
is "$(cat locks 2>/dev/null | tr '\n' ' ')" "shared-read-ok plain-read-refused overlay-info-ok " \
   "raw: qemu reads the image under the backing name (locking off) while our locks refuse a plain reader, and opens the overlay"
grep -q 'lock' locked-err; ok $? "raw: ... the plain reader was refused by a lock"
grep -q '"cluster-size": 4096' info.json && grep -q '"backing-filename-format": "raw"' info.json \
    && grep -q '\\"locking\\": \\"off\\"' info.json && grep -q "\"virtual-size\": $((8 * MiB))" info.json
ok $? "raw: the overlay is qcow2, 4 KiB clusters, backed by the pinned raw name with locking off, of the image's size"
grep -qF "\\\"filename\\\": \\\"$(realpath "$TMP")/base.raw\\\"" info.json
ok $? "raw: ... naming the image by its absolute path"

as_raw ov.qcow2 want.raw
diff_bytes=$(cmp -l orig.raw want.raw | wc -l)
[ "$diff_bytes" -gt 60000 ] && [ "$diff_bytes" -lt 80000 ]
ok $? "raw: the overlay differs from the image by $diff_bytes bytes (64 KiB of 0xab, 4 KiB of zeros, 1000 bytes)"
is "$(changed_of "$out")" "$diff_bytes" "raw: the run changed exactly the bytes that differ"
# Written: the 16 blocks of 0xab, the one zero block that was not zero,
# the one block with the 1000 bytes; not the 16 blocks equal to the base.
is "$(sed -n 's/^saved //p' <<<"$out")" $((18 * 4096)) "raw: ... writing only the 18 blocks that differ (the undo record saved those)"
cmp -s base.raw want.raw; ok $? "raw: the image now equals qemu's view of the overlay (cmp)"
qemu-img compare -q -f raw -F qcow2 base.raw ov.qcow2; ok $? "raw: ... and qemu-img compare agrees"
run_ok "raw: rollback of the run's undo record" "$OT" base.raw base.undo rollback
is "$(sha base.raw)" "$orig" "raw: the rollback restores the image bit for bit"

# The same overlay applied again, step by step.
out=$("$OT" base.raw ov.qcow2 apply --dry 2>&1)
is "$(changed_of "$out")" "$diff_bytes" "raw: apply --dry counts exactly the bytes that differ"
is "$(sha base.raw)" "$orig" "raw: ... and writes nothing"
rm -f base.undo
out=$("$OT" base.raw ov.qcow2 apply --undo base.undo 2>&1); rc=$?
is "$rc:$(changed_of "$out")" "0:$diff_bytes" "raw: apply under an undo record changes exactly those bytes"
cmp -s base.raw want.raw; ok $? "raw: ... and the image equals the overlay's view"
out=$("$OT" base.raw ov.qcow2 apply 2>&1)
is "$(changed_of "$out")" "0" "raw: a second apply changes nothing"
is "$(sha base.raw)" "$(sha want.raw)" "raw: ... and the image is as the first left it"
run_ok "raw: rollback of the undo record" "$OT" base.raw base.undo rollback
is "$(sha base.raw)" "$orig" "raw: the rollback restores the image bit for bit"

fails_with "raw: an overlay path that exists is refused" 'ov.qcow2: qcow2 overlay: cannot create: File exists' \
    "$OT" base.raw ov.qcow2 create
truncate -s 1000 odd.raw
fails_with "raw: an image qcow2 cannot match in size is refused" 'odd.qcow2: qcow2 overlay: virtual size 1024 bytes differs from the image.s 1000' \
    "$OT" odd.raw odd.qcow2 create
[ ! -e odd.qcow2 ]; ok $? "raw: ... and the half-made overlay is removed"

# ---- a qcow2 image, served by our qemu-nbd -----------------------------
qemu-img convert -f raw -O qcow2 orig.raw base.qcow2
as_raw base.qcow2 qorig.raw
qorig=$(sha qorig.raw)
cat > qwriter.sh <<EOF
qemu-io -f qcow2 ${QEMU_WRITES[*]@Q} "\$1" >/dev/null || exit 1
qemu-io -r -c 'read 0 4096' "\$OVL_BACKING" >/dev/null 2>&1 && echo shared-read-ok > qlocks
qemu-io -r -f qcow2 -c 'read 0 4096' "\$2" >/dev/null 2>&1 || echo plain-read-refused >> qlocks
exit 0
EOF
out=$("$OT" base.qcow2 qov.qcow2 run --undo base.qcow2.undo -- bash qwriter.sh qov.qcow2 base.qcow2 2>&1); rc=$?
is "$(cat qlocks 2>/dev/null | tr '\n' ' ')" "shared-read-ok plain-read-refused " \
   "qcow2: qemu reads the image under the backing name while our qemu-nbd holds it read-write (a plain reader is refused)"
is "$rc:$(changed_of "$out")" "0:$diff_bytes" "qcow2: one run through our qemu-nbd changes exactly the bytes that differ"
[ $rc -eq 0 ] || diag "$out"
as_raw base.qcow2 qnow.raw
cmp -s qnow.raw want.raw; ok $? "qcow2: the image now reads as the overlay did"
qemu-img check -q base.qcow2; ok $? "qcow2: qemu-img check finds the image clean"
out=$("$OT" base.qcow2 qov.qcow2 apply --dry 2>&1)
is "$(changed_of "$out")" "0" "qcow2: a second (dry) apply finds nothing to change"
run_ok "qcow2: rollback of the undo record" "$OT" base.qcow2 base.qcow2.undo rollback
as_raw base.qcow2 qback.raw
is "$(sha qback.raw)" "$qorig" "qcow2: the rollback restores the image's bytes"

# ---- hostile overlays ---------------------------------------------------
# A good overlay, then one field changed with printf | dd.
rm -f good.qcow2
"$OT" base.raw good.qcow2 create >/dev/null 2>&1 || bail "cannot create an overlay"
qemu-io -f qcow2 "${QEMU_WRITES[@]}" good.qcow2 >/dev/null || bail "qemu-io cannot write the overlay"
be64 () { od -An -tx1 -j "$2" -N 8 "$1" | tr -d ' \n'; }
put_be64 () {   # put_be64 FILE OFFSET VALUE
    local hex i s=
    hex=$(printf '%016x' "$3")
    for ((i = 0; i < 16; i += 2)); do s+="\\x${hex:i:2}"; done
    printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
l1=$((16#$(be64 good.qcow2 40)))
l2=$((16#$(be64 good.qcow2 "$l1") & 16#00fffffffffffe00))
e1m=$((l2 + (MiB / 4096) * 8))                # the L2 entry of guest 1M
data1m=$((16#$(be64 good.qcow2 "$e1m")))
fsize=$(stat -c %s good.qcow2)
[ "$l2" -gt 0 ] && [ $((data1m & 16#00fffffffffffe00)) -gt 0 ]
ok $? "hostile: the good overlay maps guest 1M (L1 at $l1, L2 at $l2)"

hostile () {   # hostile NAME REGEX: apply ./h.qcow2, dry and real
    local name=$1 re=$2
    fails_with "hostile: $name (dry)" "h.qcow2: qcow2 overlay: $re" "$OT" base.raw h.qcow2 apply --dry
    fails_with "hostile: $name" "h.qcow2: qcow2 overlay: $re" "$OT" base.raw h.qcow2 apply
    is "$(sha base.raw)" "$orig" "hostile: $name: the image is unchanged"
}
cp good.qcow2 h.qcow2; put_be64 h.qcow2 40 $((16#100000000))
hostile "L1 table offset past the end of the file" 'L1 table offset 4294967296 is unaligned or past the end of the file'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 "$l1" $((16#8000000100000000))
hostile "L1 entry past the end of the file" 'L1 entry 0 points at offset 4294967296, unaligned or past the end'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 "$e1m" $((16#8000000100000000))
hostile "L2 entry past the end of the file" 'L2 entry for guest offset 1048576 points at offset 4294967296, unaligned or past the end'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 "$e1m" $((data1m + 512))
hostile "L2 entry not on a cluster boundary" 'L2 entry for guest offset 1048576 points at offset [0-9]+, unaligned'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 "$e1m" $((data1m | (1 << 62)))
hostile "compressed cluster" 'compressed cluster at guest offset 1048576; refusing'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 "$e1m" $((data1m | 16#100))
hostile "reserved bits in an L2 entry" 'L2 entry for guest offset 1048576 has reserved bits set'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 24 $((16 * MiB))
hostile "wrong virtual size" 'virtual size 16777216 bytes differs from the image.s 8388608; refusing'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 72 2
hostile "incompatible feature: corrupt" 'has marked corrupt; refusing'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 72 4
hostile "incompatible feature: external data file" 'has an external data file; refusing'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 72 16
hostile "incompatible feature: extended L2 entries" 'has extended L2 entries; refusing'
cp good.qcow2 h.qcow2; put_be64 h.qcow2 72 $((1 << 40))
hostile "unknown incompatible feature" 'unknown incompatible feature bit 40; refusing'
cp good.qcow2 h.qcow2; printf '\0\0\0\1' | dd of=h.qcow2 bs=1 seek=32 conv=notrunc status=none
hostile "encryption" 'is encrypted; refusing'
cp good.qcow2 h.qcow2; printf '\0\0\0\4' | dd of=h.qcow2 bs=1 seek=4 conv=notrunc status=none
hostile "version 4" 'unsupported qcow2 version 4'
cp good.qcow2 h.qcow2; printf '\0\0\0\100' | dd of=h.qcow2 bs=1 seek=20 conv=notrunc status=none
hostile "cluster bits 64" 'cluster size 2\^64 is out of range'
cp good.qcow2 h.qcow2; printf '\377\377\377\377' | dd of=h.qcow2 bs=1 seek=36 conv=notrunc status=none
hostile "L1 table of 2^32-1 entries" 'L1 table of 4294967295 entries is too large'
cp good.qcow2 h.qcow2; truncate -s $((fsize - 4096)) h.qcow2
hostile "truncated (last data cluster cut)" 'L2 entry for guest offset [0-9]+ points at offset [0-9]+, unaligned or past the end of the file'
cp good.qcow2 h.qcow2; truncate -s 50 h.qcow2
hostile "truncated (inside the header)" 'file is truncated \(50 bytes, shorter than a qcow2 header\)'
cp base.raw h.qcow2
hostile "not qcow2 at all" 'not a qcow2 file \(bad magic\)'

# The good one still applies (the cases above were refused for their damage).
out=$("$OT" base.raw good.qcow2 apply --dry 2>&1)
is "$(changed_of "$out")" "$diff_bytes" "hostile: the undamaged overlay still applies (dry)"

done_testing
