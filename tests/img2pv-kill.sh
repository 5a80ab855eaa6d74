#!/bin/bash
# img2pv killed with SIGKILL at random points: the next run (which rolls
# the interrupted one back first) or an explicit rollback brings the image
# to a clean state.  And a sparse 100 GiB image converts touching only
# what changes (its allocated size grows by about what was written).
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires debugfs; requires e2fsck; requires sha256sum
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
IMG2PV=$top_builddir/src/img2pv

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
. <(grep -E '^(BOOT_OFFSET|ROOT_OFFSET|KERNEL_VERSION)=' "$dir/mbr-plain-hvm.img.facts")
# The kills need a run that writes for a while: a guest whose initrd
# img2pv extends (its udev does not load drivers by modalias), so that
# the new initrd (about 40 MiB) is written.
cp --sparse=always "$dir/mbr-plain-hvm.img" base.img
strip_modalias_rule base.img "$BOOT_OFFSET" "$KERNEL_VERSION" || bail "could not strip the initrd's modalias rule"
orig=$(imgsum base.img)

# clean IMAGE WHAT: both filesystems check clean.
clean () {
    e2fsck -fn "$1?offset=$BOOT_OFFSET" > /dev/null 2>&1 && e2fsck -fn "$1?offset=$ROOT_OFFSET" > /dev/null 2>&1
}
converted () {
    "$PYGRUB" -l "$1" 2>/dev/null | grep -m1 '^title:' | grep -q 'Xen PV'
}

# Calibration: when a run starts writing (its undo record appears) and
# when it ends; kills land in between, plus a few before and after.
now () { date +%s%N; }
cp --sparse=always base.img k.img; rm -f k.img.img-tools-undo
t0=$(now)
"$IMG2PV" --no-xl-config k.img > /dev/null 2>&1 &
pid=$!
until [ -e k.img.img-tools-undo ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
t1=$(now); wait "$pid"; t2=$(now)
first_ms=$(( (t1 - t0) / 1000000 )); write_ms=$(( (t2 - t1) / 1000000 ))
diag "a run starts writing after $first_ms ms and writes for $write_ms ms"
RANDOM=4242
killed_mid=0
# Eight kills; more (up to 16) while fewer than three landed mid-write:
# a run that ended before its kill (the machine got faster than in the
# calibration) shortens the window the next delays are drawn from.
i=0
while [ "$i" -lt 8 ] || { [ "$killed_mid" -lt 3 ] && [ "$i" -lt 16 ]; }; do
    i=$((i + 1))
    cp --sparse=always base.img k.img
    rm -f k.img.img-tools-undo k.cfg
    "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1 &
    pid=$!
    case $i in
        1) ms=$(( RANDOM % (first_ms + 1) )); sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" ;;
        *) until [ -e k.img.img-tools-undo ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.005; done
           ms=$(( RANDOM % (write_ms * 2 / 5 + 1) ))
           [ "$i" = 8 ] && ms=$(( write_ms + 500 ))
           sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))" ;;
    esac
    delay="${ms}ms"
    kill -9 "$pid" 2>/dev/null && killed=yes || killed=no
    if [ "$killed" = no ] && [ "$i" != 1 ] && [ "$i" != 8 ] && [ "$ms" -lt "$write_ms" ]; then
        write_ms=$ms
    fi
    wait "$pid" 2>/dev/null
    state=none
    [ -e k.img.img-tools-undo ] && state=$("$top_builddir/tests/edits-tool" --state k.img.img-tools-undo 2>/dev/null)
    [ "$state" = running ] && killed_mid=$((killed_mid + 1))
    if [ $((i % 2)) = 1 ]; then
        # Recovery by the next run.
        "$IMG2PV" --no-xl-config k.img > next.out 2>&1; rc=$?
        ok "$([ "$rc" = 0 ] || [ "$rc" = 3 ]; echo $?)" "kill $i after ${delay} (killed: $killed, undo: $state): next run ends converted (exit $rc)"
        clean k.img; ok $? "kill $i: e2fsck -fn clean after the next run"
        converted k.img; ok $? "kill $i: pygrub lists the PV entry first"
        "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1
        is $? 3 "kill $i: a further run has nothing to do"
    else
        # Recovery by rollback.
        if [ -e k.img.img-tools-undo ]; then
            "$IMG2PV" --rollback k.img.img-tools-undo > rb.out 2>&1; rc=$?
            ok "$([ "$rc" = 0 ] || [ "$rc" = 3 ]; echo $?)" "kill $i after ${delay} (killed: $killed, undo: $state): rollback (exit $rc)"
        else
            ok 0 "kill $i after ${delay} (killed: $killed): no undo record, so nothing was written"
        fi
        is "$(imgsum k.img)" "$orig" "kill $i: the image is byte-identical to the original"
    fi
done
diag "$killed_mid of $i kills landed while the run was writing"
ok "$([ "$killed_mid" -ge 3 ]; echo $?)" "at least three kills landed mid-write ($killed_mid)"

# ---- sparse 100 GiB -------------------------------------------------------
cp --sparse=always "$dir/mbr-plain-hvm.img" big.img
truncate -s 100G big.img
alloc0=$(( $(stat -c %b big.img) * 512 ))
"$IMG2PV" --no-xl-config big.img > big.out 2>&1; ok $? "a sparse 100 GiB image converts"
alloc1=$(( $(stat -c %b big.img) * 512 ))
grow=$(( (alloc1 - alloc0) >> 10 ))
diag "allocated: $((alloc0 >> 20)) MiB before, $((alloc1 >> 20)) MiB after"
# The guest's initrd already loads the PV drivers (udev, modalias): it is
# not rewritten, and what changes is a few text files and directories.
ok "$([ "$grow" -lt 1024 ]; echo $?)" "100 GiB image: allocation grew by $grow KiB only, under 1 MiB (touches what it changes)"
is "$(stat -c %s big.img)" $((100 << 30)) "100 GiB image: size unchanged"
ulen=$(stat -c %s big.img.img-tools-undo)
ok "$([ "$ulen" -lt $((256 << 20)) ]; echo $?)" "100 GiB image: undo record of $((ulen >> 20)) MiB"
clean big.img; ok $? "100 GiB image: e2fsck -fn clean"
converted big.img; ok $? "100 GiB image: pygrub lists the PV entry first"
done_testing
