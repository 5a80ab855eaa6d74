#!/bin/bash
# qemu-nbd (and every qemu-img we run) never outlives the tool, whatever
# kills it: SIGKILL at many moments (during qemu-img check, just after the
# fork, while connected, while writing).  After each kill no qemu process
# is left with the image open, and the next run removes the socket
# directory the killed one left behind (and only that).
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires sfdisk; requires strace
INSPECT=$top_builddir/src/img-inspect
IMG2PV=$top_builddir/src/img2pv
HOLD=$top_builddir/tests/hold-disk

cd "$TMP"
export TMPDIR=$TMP/tmp
mkdir -m 0700 "$TMPDIR"
new_image base.img 64M
printf 'label: dos\ntype=83\n' | partition base.img
# Many clusters: qemu-img check and the open take a few ms.
qemu-img convert -O qcow2 -o cluster_size=4096 base.img k.qcow2

# holders FILE [here]: pids of processes with FILE open (any fd); with
# "here", only those that also hold a file of this test's directory, as
# the tool and the qemu processes it starts do (qemu-nbd serving an
# overlay of ours holds it beside the backing file; the test runs beside
# others, which may hold a shared cached guest through overlays of theirs).
holders () {
    local real here
    real=$(realpath "$1")
    here=$(realpath "$TMP")
    # One find over every process's fds (a loop of ls and grep per
    # process took most of this test's CPU); a link's target starts with
    # the file's path ("PATH (deleted)" counts too).
    find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l -printf '%h %l\n' 2>/dev/null |
        awk -v self="/proc/$$/fd" -v real="$real" -v here="$here/" -v mode="${2-}" '
            $1 == self { next }
            { t = substr($0, length($1) + 2) }
            index(t, real) == 1 { hold[$1] = 1 }
            index(t, here) == 1 { mine[$1] = 1 }
            END {
                for (p in hold)
                    if (mode != "here" || p in mine) { sub(/^\/proc\//, "", p); sub(/\/fd$/, "", p); print p }
            }'
}
gone () {
    local i
    for i in $(seq 30); do
        [ -z "$(holders "$@")" ] && return 0
        sleep 0.1
    done
    diag "still held by: $(for p in $(holders "$@"); do tr '\0' ' ' < /proc/$p/cmdline; echo " (ppid $(awk '{print $4}' /proc/$p/stat))"; done)"
    return 1
}

# Calibration: how long a run takes.
t0=$(date +%s%N); "$INSPECT" k.qcow2 > /dev/null 2>&1; t1=$(date +%s%N)
run_ms=$(( (t1 - t0) / 1000000 ))
diag "img-inspect on k.qcow2 takes $run_ms ms"

# At the end the tool waits for qemu-nbd's exit woken by the exit itself
# (a pidfd), never in steps of a sleep.  (qemu-nbd often exits before
# the tool first looks, and then no pidfd is needed: reported, not
# asserted.)  Only the tool's own calls count: its process is the one
# whose execve strace shows first (the libtool wrapper execs it in place).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -o reap.st \
    -e trace=execve,pidfd_open,nanosleep,clock_nanosleep "$INSPECT" k.qcow2 > /dev/null 2>&1
ok $? "img-inspect on k.qcow2 under strace"
main=$(awk '$2 ~ /^execve\(/ { print $1; exit }' reap.st)
awk -v p="$main" '$1 == p' reap.st > reap.main
diag "pidfd_open calls of the tool: $(grep -c ' pidfd_open(' reap.main)"
is "$(grep -c 'nanosleep(' reap.main)" 0 "the tool never sleeps waiting for qemu-nbd's exit"

bad=0 n=0 stale=0
for ms in 0 1 2 3 5 8 12 16 20 30 40 60 80 100 150 200 $((run_ms / 2)) $((run_ms * 3 / 4)); do
    "$INSPECT" k.qcow2 > /dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' "$ms")"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    n=$((n + 1))
    gone k.qcow2 || { bad=$((bad + 1)); diag "kill after $ms ms: a process still holds the image"; }
    ls -d "$TMPDIR"/img-nbd-"$pid"-* > /dev/null 2>&1 && stale=$((stale + 1))
done
is "$bad" 0 "img-inspect killed at $n moments: no qemu process left with the image open"

# Right after each child starts: qemu-img info, qemu-img check, and
# qemu-nbd while it is still opening the image (a SIGTERM there is lost:
# qemu-nbd then waits for a client forever, the image locked).
bad=0 n=0
for child in qemu-img qemu-nbd; do
    for d in 0 0.001 0.002 0.003 0.005 0.008 0.012 0.02; do
        "$INSPECT" k.qcow2 > /dev/null 2>&1 &
        pid=$!
        for _ in $(seq 20000); do
            pgrep -P "$pid" -x "$child" > /dev/null && break
            kill -0 "$pid" 2>/dev/null || break
        done
        sleep "$d"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        n=$((n + 1))
        gone k.qcow2 || { bad=$((bad + 1)); diag "kill $d s after $child started: a process still holds the image"; }
    done
done
is "$bad" 0 "img-inspect killed $n times just after a qemu child started: nothing left holding the image"
diag "$stale of $n kills left a socket directory behind"

# While connected, and while writing (hold-disk keeps the disk open).
for mode in ro rw; do
    hargs=(); [ "$mode" = rw ] && hargs=(--rw)
    coproc H { exec "$HOLD" "${hargs[@]}" k.qcow2; }
    read -r _ _ <&"${H[0]}"
    hpid=$H_PID
    [ -n "$(holders k.qcow2)" ]; ok $? "hold-disk ($mode): qemu-nbd holds the image"
    kill -9 "$hpid"; wait "$hpid" 2>/dev/null
    gone k.qcow2; ok $? "hold-disk ($mode) killed while connected: qemu-nbd is gone"
done

# While converting (writes through qemu-nbd): a qcow2 overlay of a guest.
dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
bad=0
for ms in 300 800 1500 2500 4000; do
    rm -f w.qcow2 w.qcow2.img-tools-undo
    qemu-img create -q -f qcow2 -F qcow2 -b "$dir/mbr-plain-hvm.qcow2" w.qcow2
    "$IMG2PV" --allow-backing --no-xl-config w.qcow2 > /dev/null 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    gone w.qcow2 || { bad=$((bad + 1)); diag "img2pv killed after $ms ms: the image is still held"; }
    gone "$dir/mbr-plain-hvm.qcow2" here || bad=$((bad + 1))
done
is "$bad" 0 "img2pv killed while converting: no qemu process left with the image or its backing file"
"$IMG2PV" --allow-backing --no-xl-config w.qcow2 > next.out 2>&1; rc=$?
ok "$([ "$rc" = 0 ] || [ "$rc" = 3 ]; echo $?)" "the next run recovers and converts (exit $rc)"
# The count of the backing file's holders sees ours: qemu-nbd serving the
# overlay, started from this directory, holds it.
coproc H { exec "$HOLD" w.qcow2; }
read -r _ _ <&"${H[0]}"
hpid=$H_PID
[ -n "$(holders "$dir/mbr-plain-hvm.qcow2" here)" ]; ok $? "hold-disk on the overlay: its qemu-nbd, counted here, holds the backing file"
kill -9 "$hpid"; wait "$hpid" 2>/dev/null
gone "$dir/mbr-plain-hvm.qcow2" here; ok $? "... and, killed, no longer does"

# Stale socket directories: only dead runs' own, mode 0700, are removed.
mkdir -m 0700 "$TMPDIR/img-nbd-999999999-aaaaaa"; : > "$TMPDIR/img-nbd-999999999-aaaaaa/sock"
mkdir -m 0755 "$TMPDIR/img-nbd-999999998-bbbbbb"
mkdir -m 0700 "$TMPDIR/img-nbd-$$-cccccc"
mkdir -m 0700 "$TMPDIR/img-nbd-999999997-dddddd"; chown nobody "$TMPDIR/img-nbd-999999997-dddddd"
ln -s /etc "$TMPDIR/img-nbd-999999996-eeeeee"
"$INSPECT" k.qcow2 > /dev/null 2>&1; ok $? "a run with stale directories around"
[ ! -e "$TMPDIR/img-nbd-999999999-aaaaaa" ]; ok $? "a dead run's directory (and socket) is removed"
[ -d "$TMPDIR/img-nbd-999999998-bbbbbb" ]; ok $? "a directory not mode 0700 is left alone"
[ -d "$TMPDIR/img-nbd-$$-cccccc" ]; ok $? "a live process's directory is left alone"
[ -d "$TMPDIR/img-nbd-999999997-dddddd" ]; ok $? "another user's directory is left alone"
[ -L "$TMPDIR/img-nbd-999999996-eeeeee" ] && [ -d /etc ]; ok $? "a symlink is left alone (and not followed)"
is "$(ls "$TMPDIR" | grep -c '^img-nbd-' )" 4 "no other socket directory left"

done_testing
