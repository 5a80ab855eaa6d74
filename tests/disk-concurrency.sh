#!/bin/bash
# Two runs on one image at once (raw and qcow2, img2pv and img-ramify,
# started together or a little apart so the second lands in every phase
# of the first, the undo commit included): exactly one converts, the other
# exits 1 with one "in use" line, never 4, and the image is consistent
# after.  And a raw image attached to a loop device is refused.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires e2fsck; requires jq; requires losetup
IMG2PV=$top_builddir/src/img2pv
RAMIFY=$top_builddir/src/img-ramify

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

clean () {
    local f=$1
    if [ "${f##*.}" = qcow2 ]; then
        qemu-img convert -O raw "$f" check.raw && f=check.raw
    fi
    e2fsck -fn "$f?offset=$BOOT_OFFSET" > /dev/null 2>&1 && e2fsck -fn "$f?offset=$ROOT_OFFSET" > /dev/null 2>&1
}

# Calibration: how long one run takes, so the second start covers it.
cp --sparse=always "$dir/mbr-plain-hvm.img" c.img
t0=$(date +%s%N); "$IMG2PV" --no-xl-config c.img > /dev/null 2>&1; t1=$(date +%s%N)
run_ms=$(( (t1 - t0) / 1000000 ))
diag "one img2pv run takes $run_ms ms"

rounds=0 bad=0
for fmt in raw qcow2; do
    for tool in img2pv img-ramify; do
        guest=mbr-plain-hvm; [ "$tool" = img-ramify ] && guest=mbr-plain
        . <(grep -E '^(BOOT_OFFSET|ROOT_OFFSET)=' "$dir/$guest.img.facts")
        for frac in 0 1 3 6 9; do
            delay=$(( run_ms * frac / 10 ))
            rm -f c.img c.qcow2 c.*.img-tools-undo* c.cfg
            if [ "$fmt" = raw ]; then
                img=c.img; cp --sparse=always "$dir/$guest.img" "$img"; extra=()
            else
                img=c.qcow2; extra=(--allow-backing)
                qemu-img create -q -f qcow2 -F qcow2 -b "$dir/$guest.qcow2" "$img"
            fi
            args=("${extra[@]}")
            [ "$tool" = img2pv ] && args+=(--no-xl-config)
            bin=$top_builddir/src/$tool
            "$bin" "${args[@]}" "$img" > a.out 2> a.err & pa=$!
            sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
            "$bin" "${args[@]}" "$img" > b.out 2> b.err & pb=$!
            wait "$pa"; ra=$?
            wait "$pb"; rb=$?
            rounds=$((rounds + 1))
            id="$tool $fmt, second after ${delay} ms"
            why=""
            # One converts (0); the other is refused (1, one "in use" line),
            # or, started after the first finished, has nothing to do (3).
            case "$ra:$rb" in
                0:1) e=b.err ;;
                1:0) e=a.err ;;
                0:3) e="" ;;
                *) why="exits $ra and $rb" ;;
            esac
            if [ -n "${e:-}" ] && [ -z "$why" ]; then
                [ "$(grep -c . "$e")" = 1 ] && grep -q 'in use' "$e" || why="refusal: $(head -3 "$e" | tr '\n' '|')"
            fi
            clean "$img" || why="$why; e2fsck not clean"
            "$bin" "${args[@]}" "$img" > /dev/null 2>&1; r3=$?
            [ "$r3" = 3 ] || why="$why; a third run exits $r3, not 3"
            if [ -n "$why" ]; then
                bad=$((bad + 1))
                diag "$id: $why"
            fi
        done
    done
done
is "$bad" 0 "$rounds concurrent pairs: one converts, the other says in use (never 4), image consistent"

# A raw image attached to a loop device is refused.
cp --sparse=always "$dir/mbr-plain-hvm.img" l.img
dev=$(losetup -f --show l.img) || bail "losetup failed"
at_exit "loop_detach_if_ours $dev '$(realpath l.img)'"
fails_with "a raw image attached to a loop device is refused" \
    "^img2pv: l.img: disk: image is in use by another process \(attached to /dev/loop[0-9]+\); detach it first$" \
    "$IMG2PV" --no-xl-config --dry-run l.img
fails_with "... also for img-inspect" "^img-inspect: l.img: disk: image is in use by another process \(attached to" \
    "$top_builddir/src/img-inspect" l.img
# The block device while another process holds it with O_EXCL (hold-disk
# opens block devices exclusively, as the tools do).
coproc H { exec "$top_builddir/tests/hold-disk" "$dev"; }
read -r _ _ <&"${H[0]}"
fails_with "a block device another process opened with O_EXCL is refused" \
    "^img-inspect: $dev: disk: image is in use by another process \(the block device is held\); refusing$" \
    "$top_builddir/src/img-inspect" "$dev"
kill "$H_PID"; wait "$H_PID" 2>/dev/null
loop_detach_if_ours "$dev" "$(realpath l.img)"
"$IMG2PV" --no-xl-config --dry-run l.img > /dev/null 2>&1; ok $? "once detached, the image is accepted"

done_testing
