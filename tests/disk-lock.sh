#!/bin/bash
# qemu's image locks: an image a qemu process holds for writing is refused
# (raw and qcow2); one it only reads is refused to a writer and shared with
# a reader, as qemu shares it; while we hold an image, a qemu that wants to
# write it is refused.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires qemu-img; requires qemu-nbd; requires qemu-io
plan 20

cd "$TMP"
new_image d.img 16M
printf 'label: dos\ntype=83\n' | partition d.img
qemu-img convert -O qcow2 d.img d.qcow2

for f in d.img d.qcow2; do
    fmt=raw; [ "$f" = d.qcow2 ] && fmt=qcow2
    qemu-nbd -f "$fmt" -k "$TMP/holder.sock" "$f" & holder=$!
    for _ in $(seq 50); do [ -S "$TMP/holder.sock" ] && break; sleep 0.1; done
    fails_with "$f held by a running qemu is refused" \
        "^img-inspect: $f: disk: image is in use by another process" img-inspect "$f"
    kill "$holder"; wait "$holder" 2>/dev/null
    run_ok "$f readable once released" img-inspect "$f"
done

# A read-only holder (a VM's read-only disk, qemu-nbd -r, another
# img-inspect): readers share the image, a writer is refused.
for f in d.img d.qcow2; do
    fmt=raw; [ "$f" = d.qcow2 ] && fmt=qcow2
    rm -f "$TMP/holder.sock"
    qemu-nbd -r -f "$fmt" -k "$TMP/holder.sock" "$f" & holder=$!
    for _ in $(seq 50); do [ -S "$TMP/holder.sock" ] && break; sleep 0.1; done
    run_ok "$f read by qemu-nbd -r: img-inspect reads it too" img-inspect "$f"
    fails_with "$f read by qemu-nbd -r: a writer is refused" \
        "^hold-disk: $f: disk: image is in use by another process \(a qemu lock is held\)" "$top_builddir/tests/hold-disk" --rw "$f"
    kill "$holder"; wait "$holder" 2>/dev/null
    coproc HOLD { exec "$top_builddir/tests/hold-disk" "$f"; }
    read -r _ _ <&"${HOLD[0]}"
    run_ok "$f held by another of our readers: img-inspect reads it too" img-inspect "$f"
    fails_with "$f held by another of our readers: a writer is refused" \
        "^hold-disk: $f: disk: image is in use by another process" "$top_builddir/tests/hold-disk" --rw "$f"
    qemu-img info -U "$f" > /dev/null 2>&1 && qemu-io -r -f "$fmt" -c 'read 0 512' "$f" > /dev/null 2>&1
    ok $? "$f held by our reader: qemu reads it too"
    if qemu-io -f "$fmt" -c 'write 0 512' "$f" > /dev/null 2>&1; then
        ok 1 "$f held by our reader: qemu cannot write it"
    else
        ok 0 "$f held by our reader: qemu cannot write it"
    fi
    kill "$HOLD_PID"; wait "$HOLD_PID" 2>/dev/null
    sleep 0.3
done

# While we hold the image read-write, qemu may not write it.
for f in d.img d.qcow2; do
    fmt=raw; [ "$f" = d.qcow2 ] && fmt=qcow2
    coproc HOLD { exec "$top_builddir/tests/hold-disk" --rw "$f"; }
    read -r _ _ <&"${HOLD[0]}"
    if qemu-io -f "$fmt" -c 'write 0 512' "$f" >/dev/null 2>&1; then
        ok 1 "qemu cannot write $f while we hold it"
    else
        ok 0 "qemu cannot write $f while we hold it"
    fi
    kill "$HOLD_PID"; wait "$HOLD_PID" 2>/dev/null
    sleep 0.3
    qemu-io -f "$fmt" -c 'write 0 512' "$f" >/dev/null 2>&1
    ok $? "qemu can write $f once we let go"
done
done_testing
