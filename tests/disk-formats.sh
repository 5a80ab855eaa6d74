#!/bin/bash
# The disk layer: every container format qemu writes is read through our
# qemu-nbd and gives the same layout as the raw image; the format comes
# from magic bytes, never from the name; the server never outlives us.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires qemu-img; requires qemu-nbd; requires jq; requires sfdisk
plan 33

cd "$TMP"
new_image base.img 48M
partition base.img <<EOS
label: dos
start=2048, size=16M, type=83
type=8e
EOS
mk_ext base.img "$(part_start base.img 1)" "$(part_size base.img 1)" ext4 \
    11111111-2222-4333-8444-555555555555 fmt-test

layout () { img-inspect --json "$1" | jq -c '[.images[0].size, .images[0].partition_table.id, .images[0].partitions]'; }
want=$(layout base.img)
[ -n "$want" ] && ok 0 "raw image inspected" || ok 1 "raw image inspected"

for fmt in qcow2 qed vmdk vdi vhdx vpc; do
    opts=
    [ "$fmt" = vpc ] && opts="-o force_size=on"
    qemu-img convert -O "$fmt" $opts base.img "img.$fmt"
    is "$(img-inspect --json "img.$fmt" | jq -r '.images[0].format')" "$fmt" "$fmt detected"
    is "$(layout "img.$fmt")" "$want" "$fmt gives the raw image's layout"
done

# Writes through our layer land where dd would put them, including
# unaligned ones that need read-modify-write on 512-byte-aligned servers.
head -c 70000 /dev/urandom > blob
for fmt in qcow2 qed vmdk vdi vhdx vpc; do
    cp base.img want.img
    dd if=blob of=want.img bs=1 seek=1000003 conv=notrunc status=none
    dd if=blob of=want.img bs=1 count=77 seek=17 conv=notrunc status=none
    "$top_builddir/tests/disk-io" "img.$fmt" write 1000003 < blob &&
        head -c 77 blob | "$top_builddir/tests/disk-io" "img.$fmt" write 17
    qemu-img convert -O raw "img.$fmt" got.img
    cmp -s want.img got.img; ok $? "$fmt: unaligned writes land where dd puts them"
    cmp -s <("$top_builddir/tests/disk-io" "img.$fmt" read 999999 70010) \
        <(dd if=want.img bs=1 skip=999999 count=70010 status=none); ok $? "$fmt: reads back the same bytes"
done

# The name means nothing.
cp img.qcow2 disguised.img
is "$(img-inspect --json disguised.img | jq -r '.images[0].format')" qcow2 "a qcow2 named .img is qcow2"
cp base.img disguised.qcow2
is "$(img-inspect --json disguised.qcow2 | jq -r '.images[0].format')" raw "a raw image named .qcow2 is raw"
# qemu would read "nbd:..." as a protocol, not a file.
qemu-img convert -O qcow2 base.img './nbd:localhost:1'
is "$(layout 'nbd:localhost:1')" "$want" "a relative name with a colon is a file"

# Server lifetime: after a normal run nothing is left.
# (A private TMPDIR and the image's own path keep other work on the
# machine out of the count.)
mkdir -p "$TMP/sock"
TMPDIR=$TMP/sock img-inspect img.qcow2 >/dev/null
is "$(pgrep -c -f -- "qemu-nbd.*img.qcow2" || true)" 0 "no qemu-nbd left after a run"
is "$(ls -A "$TMP/sock" | wc -l)" 0 "no socket directory left"

# ... and it dies with us, whatever kills us.
for sig in KILL TERM INT; do
    coproc HOLD { exec "$top_builddir/tests/hold-disk" img.qcow2; }
    read -r _ spid <&"${HOLD[0]}"
    if [ -n "${spid:-}" ] && [ "$spid" -gt 0 ] && kill -0 "$spid" 2>/dev/null; then
        kill -s "$sig" "$HOLD_PID"
        wait "$HOLD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$spid" 2>/dev/null && { ok 1 "qemu-nbd dies when we get SIG$sig"; kill -9 "$spid"; } \
            || ok 0 "qemu-nbd dies when we get SIG$sig"
    else
        ok 1 "qemu-nbd dies when we get SIG$sig (server not seen)"
    fi
done

done_testing
