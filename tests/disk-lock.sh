#!/bin/bash
# qemu's image locks: an image a qemu process holds is refused (raw and
# qcow2); while we hold an image, a qemu that wants to write it is refused.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires qemu-img; requires qemu-nbd; requires qemu-io
plan 8

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
