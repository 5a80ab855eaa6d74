#!/bin/bash
# img2pv killed with SIGKILL on its write calls (strace) and by timer:
# the next run (which rolls the interrupted one back first) or an
# explicit rollback brings the image to a clean state.  And a sparse
# 100 GiB image converts touching only what changes (its allocated size
# grows by about what was written).
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires debugfs; requires e2fsck; requires sha256sum; requires strace
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
IMG2PV=$top_builddir/src/img2pv

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
. <(grep -E '^(BOOT_OFFSET|ROOT_OFFSET|KERNEL_VERSION)=' "$dir/mbr-plain-hvm.img.facts")
# A guest whose initrd img2pv extends (its udev does not load drivers by
# modalias): the run writes the initrd's new layer besides the text files.
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
# st ARGS...: strace (LeakSanitizer cannot run under a tracer).
st () { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -qq "$@"; }

# The writes of a run come in a few bursts of a few milliseconds (the
# undo record's barriers are batched), too short to hit with a timer: the
# kills land on the write calls themselves.  strace delivers SIGKILL on
# entry to the Nth call of a kind (pwrite64 on the image, write and
# fdatasync on the undo record, linkat making the record visible).
# Calibration: the calls of one run, and when it starts writing.
cp --sparse=always base.img k.img; rm -f k.img.img-tools-undo
st -o cal.st -e trace=pwrite64,write,fdatasync,linkat "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1
# The record's descriptor is the one linkat makes visible; write calls
# are counted among all of the run's (the Nth undo record write is call
# uw_at[N] of the kind).
ufd=$(sed -n 's|^linkat([^"]*"/proc/self/fd/\([0-9]*\)".*|\1|p' cal.st)
n_ln=$(grep -c '^linkat(' cal.st); n_fs=$(grep -c '^fdatasync(' cal.st)
n_pw=$(grep -c '^pwrite64(' cal.st)
ifd=$(sed -n 's/^pwrite64(\([0-9]*\),.*/\1/p' cal.st | sort -u)
uw_at=(0 $(grep '^write(' cal.st | grep -n "^write($ufd," | cut -d: -f1))
n_uw=$(( ${#uw_at[@]} - 1 ))
diag "a run makes $n_pw image writes (fd $ifd), $n_uw undo record writes (fd $ufd), $n_fs fdatasyncs, $n_ln linkat"
ok "$([ "$n_pw" -ge 8 ] && [ "$n_fs" -ge 3 ] && [ "$n_uw" -ge 3 ] && [ "$n_ln" = 1 ] && [ "$(echo "$ifd" | wc -w)" = 1 ] && [ "$ifd" != "$ufd" ]; echo $?)" \
    "calibration: the run writes the image (one descriptor) behind an undo record (another)" \
    || bail "the calibration run did not write as expected"
# The undo record is written before the first write to the image.
is "$(grep -m1 -E "^(pwrite64\\($ifd|write\\($ufd)," cal.st | cut -d'(' -f1)" "write" "calibration: the undo record is written before the image"
now () { date +%s%N; }
cp --sparse=always base.img k.img; rm -f k.img.img-tools-undo
t0=$(now)
"$IMG2PV" --no-xl-config k.img > /dev/null 2>&1 &
pid=$!
until [ -e k.img.img-tools-undo ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
t1=$(now); wait "$pid"
first_ms=$(( (t1 - t0) / 1000000 ))
diag "a run starts writing after $first_ms ms"

# The kills: by timer before the writes start and after the run ended;
# the others on calls spread over the run, each image write's stratum
# drawn at random.
RANDOM=4242
kills="time linkat:1 write:${uw_at[2]} fdatasync:2"
for j in 0 1 2 3 4 5; do
    kills="$kills pwrite64:$(( 1 + j * n_pw / 6 + RANDOM % (n_pw / 6) ))"
done
kills="$kills pwrite64:$n_pw write:${uw_at[$(( n_uw > 3 ? 3 + RANDOM % (n_uw - 3) : n_uw ))]} fdatasync:$(( 3 + RANDOM % (n_fs - 2) )) pwrite64:1 fdatasync:$n_fs write:${uw_at[$n_uw]} after"
killed_mid=0 pw_kills=0 pw_mid=0
i=0
for k in $kills; do
    i=$((i + 1))
    cp --sparse=always base.img k.img
    rm -f k.img.img-tools-undo k.cfg
    case $k in
        time)
            ms=$(( RANDOM % (first_ms + 1) ))
            "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1 &
            pid=$!
            sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
            kill -9 "$pid" 2>/dev/null && killed=yes || killed=no
            wait "$pid" 2>/dev/null
            what="after ${ms}ms" ;;
        after)
            "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1
            killed=no what="after the run ended" ;;
        *)
            call=${k%:*} nth=${k#*:}
            ( st -o /dev/null -e trace="$call" -e inject="$call:signal=KILL:when=$nth" \
                "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1 ) 2> /dev/null
            rc=$?
            is "$rc" 137 "kill $i: SIGKILL on entry to $call call $nth"
            [ "$rc" = 137 ] && killed=yes || killed=no
            what="at $call call $nth" ;;
    esac
    state=none
    [ -e k.img.img-tools-undo ] && state=$("$top_builddir/tests/edits-tool" --state k.img.img-tools-undo 2>/dev/null)
    [ "$state" = running ] && killed_mid=$((killed_mid + 1))
    case $k in pwrite64:*)
        pw_kills=$((pw_kills + 1)); [ "$state" = running ] && pw_mid=$((pw_mid + 1)) ;;
    esac
    if [ $((i % 2)) = 1 ]; then
        # Recovery by the next run.
        "$IMG2PV" --no-xl-config k.img > next.out 2>&1; rc=$?
        ok "$([ "$rc" = 0 ] || [ "$rc" = 3 ]; echo $?)" "kill $i $what (killed: $killed, undo: $state): next run ends converted (exit $rc)"
        clean k.img; ok $? "kill $i: e2fsck -fn clean after the next run"
        converted k.img; ok $? "kill $i: pygrub lists the PV entry first"
        "$IMG2PV" --no-xl-config k.img > /dev/null 2>&1
        is $? 3 "kill $i: a further run has nothing to do"
    else
        # Recovery by rollback.
        if [ -e k.img.img-tools-undo ]; then
            "$IMG2PV" --rollback k.img.img-tools-undo > rb.out 2>&1; rc=$?
            ok "$([ "$rc" = 0 ] || [ "$rc" = 3 ]; echo $?)" "kill $i $what (killed: $killed, undo: $state): rollback (exit $rc)"
        else
            ok 0 "kill $i $what (killed: $killed): no undo record, so nothing was written"
        fi
        is "$(imgsum k.img)" "$orig" "kill $i: the image is byte-identical to the original"
    fi
done
diag "$killed_mid of $i kills landed while the run was writing"
ok "$([ "$killed_mid" -ge 8 ]; echo $?)" "at least eight kills landed mid-write ($killed_mid)"
is "$pw_mid" "$pw_kills" "every kill on an image write found the undo record running"

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
