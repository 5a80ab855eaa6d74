#!/bin/bash
# Budgets (issue E, item 6): guests built by tests/hostile/mk-bombs.sh,
# whose initrds inflate past the budget in every format, split over
# segments, with a million members, 200 of them, and sparse 100 GiB text
# files.  Checked: the one line (exact), the exit status, the image
# untouched, peak RSS under 512 MiB, a generous time bound (a hang
# detector, not a benchmark), and the IMG_BUDGET_* settings.
. "$top_srcdir/tests/functions.sh"
requires_root; requires mke2fs; requires cpio; requires /usr/bin/time
requires gzip; requires zstd; requires xz; requires bzip2; requires lz4; requires python3
INSPECT=$top_builddir/src/img-inspect
IMG2PV=$top_builddir/src/img2pv
RAMIFY=$top_builddir/src/img-ramify
RSS_LIMIT_KB=$((512 * 1024))
V=6.1.0-9-amd64
IRD=/boot/initrd.img-$V
cd "$TMP"
bash "$top_srcdir/tests/hostile/mk-bombs.sh" "$TMP" > build.log 2>&1 || bail "mk-bombs.sh: $(tail -5 build.log)"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"

# run TOOL ARGS...: runs it with GNU time; sets rc, err (stderr), rss
# (KiB) and secs.
run () {
    local s e
    s=$(date +%s)
    /usr/bin/time -f %M -o rss.out "$@" > out 2> err
    rc=$?
    e=$(date +%s)
    err=$(cat err); rss=$(tail -1 rss.out); secs=$((e - s))
}
# bounded NAME: peak RSS and time of the last run.
bounded () {
    [ "$rss" -le $RSS_LIMIT_KB ] && [ "$secs" -le 60 ]
    ok $? "$1: peak RSS $rss KiB <= 512 MiB, $secs s <= 60 s"
}

for c in gzip zstd xz lzma bzip2 lz4 nested; do
    img=bomb-$c.img
    line="$img: $IRD: initrd: inflates past 256 MiB"
    sum=$(sha1sum < "$img")
    run "$INSPECT" "$img"
    is "$rc:$err" "0:img-inspect: $line: skipped" "$c: img-inspect skips the initrd with one line, exit 0"
    grep -q "initrd unreadable: $line" out
    ok $? "$c: img-inspect reports the rest (and why the initrd is missing)"
    grep -q "kernels:" out
    ok $? "$c: img-inspect lists the kernels"
    bounded "$c: img-inspect"
    for t in img2pv img-ramify; do
        run "$top_builddir/src/$t" --dry-run "$img"
        is "$rc:$err" "1:$t: $line" "$c: $t --dry-run stops with one line, exit 1"
        bounded "$c: $t"
    done
    run "$IMG2PV" "$img"
    is "$rc:$err" "1:img2pv: $line" "$c: img2pv (not a dry run) stops too"
    is "$(sha1sum < "$img")" "$sum" "$c: the image is untouched"
    ls -A | grep -q "^$img\.\|^bomb-$c\.cfg" && ok 1 "$c: nothing written beside the image" \
        || ok 0 "$c: nothing written beside the image"
done

run "$INSPECT" bomb-members.img
is "$rc:$err" "0:img-inspect: bomb-members.img: $IRD: initrd: gzip segment at offset 0: more than 262144 members (IMG_BUDGET_MEMBERS): skipped" \
    "members: past the members budget, one line"
bounded "members: img-inspect"
run "$RAMIFY" --dry-run bomb-members.img
is "$rc" 1 "members: img-ramify exits 1"
bounded "members: img-ramify"

run "$INSPECT" bomb-kernels.img
is "$rc" 0 "200 bomb kernels: img-inspect exits 0"
is "$(grep -c "inflates past 256 MiB: skipped" err)" 8 \
    "200 bomb kernels: 8 inflated up to the limit, 2 GiB in all"
is "$(grep -c "inflates past the run's budget of 2 GiB (IMG_BUDGET_INFLATE_TOTAL): skipped" err)" 56 \
    "200 bomb kernels: the other 56 inspected (64 at most) stop at the run's budget at once"
bounded "200 bomb kernels"
IMG_BUDGET_INFLATE_TOTAL=512M run "$INSPECT" bomb-kernels.img
is "$(grep -c "inflates past 256 MiB: skipped" err)" 2 "IMG_BUDGET_INFLATE_TOTAL=512M: 2 inflated"

IMG_BUDGET_INFLATE=400M run "$INSPECT" bomb-gzip.img
is "$rc:$err" "0:" "IMG_BUDGET_INFLATE=400M: the 300 MiB initrd is read"
grep -q "initrd: unknown, 1 entries in 1 segments (gzip)" out
ok $? "IMG_BUDGET_INFLATE=400M: and reported"
bounded "IMG_BUDGET_INFLATE=400M"
run "$INSPECT" --budget=inflate=400M bomb-gzip.img
is "$rc:$err" "0:" "--budget=inflate=400M: the 300 MiB initrd is read"
grep -q "initrd: unknown, 1 entries in 1 segments (gzip)" out
ok $? "--budget=inflate=400M: and reported"
run "$RAMIFY" --dry-run --budget=inflate=400M bomb-gzip.img
is "$rc:$err" "1:img-ramify: bomb-gzip.img: /boot/initrd.img-$V is not an initramfs-tools initrd (no scripts/local)" \
    "--budget=inflate=400M: img-ramify reads the initrd and goes on"
for t in img-inspect img2pv img-ramify; do
    run "$top_builddir/src/$t" --budget=inflate=1X bomb-gzip.img
    is "$rc:$err" "2:$t: --budget=inflate=1X: NAME=SIZE, NAME one of inflate, inflate-total, file, file-total, entries, entries-total, members" \
        "$t --budget with a bad size: usage error"
done
run "$IMG2PV" --dry-run --budget=nosuch=1M bomb-gzip.img
is "$rc" 2 "img2pv --budget with an unknown name: usage error"
IMG_BUDGET_INFLATE=64MiB run "$INSPECT" bomb-nested.img
is "$err" "img-inspect: bomb-nested.img: $IRD: initrd: inflates past 64 MiB: skipped" "IMG_BUDGET_INFLATE=64MiB"
IMG_BUDGET_INFLATE=lots run "$INSPECT" bomb-gzip.img
is "$rc" 1 "IMG_BUDGET_INFLATE=lots: refused"
grep -q "IMG_BUDGET_INFLATE=lots: not a size" err
ok $? "IMG_BUDGET_INFLATE=lots: says why"

# Files: the size is checked before anything is read.
run "$INSPECT" sparse-osrelease.img
is "$rc" 0 "sparse 100 GiB /etc/os-release: img-inspect exits 0"
bounded "sparse 100 GiB /etc/os-release"
run "$IMG2PV" --dry-run sparse-text.img
is "$rc:$err" "1:img2pv: sparse-text.img: ext4: /lib/modules/$V/modules.dep: file is larger than 67108864 bytes (107374182400)" \
    "sparse 100 GiB modules.dep: img2pv says which file"
bounded "sparse 100 GiB modules.dep"
IMG_BUDGET_FILE=1K run "$INSPECT" bomb-gzip.img
grep -q "initrd unreadable: .*initrd.img-$V: file of [0-9]* bytes is past the budget of 1 KiB for one file (IMG_BUDGET_FILE)" out
ok $? "IMG_BUDGET_FILE=1K: the initrd is not read"
IMG_BUDGET_FILE_TOTAL=1 run "$INSPECT" bomb-gzip.img
is "$rc" 0 "IMG_BUDGET_FILE_TOTAL=1: img-inspect still reports"
IMG_BUDGET_ENTRIES_TOTAL=10 run "$RAMIFY" --dry-run bomb-gzip.img
is "$rc" 1 "IMG_BUDGET_ENTRIES_TOTAL=10: img-ramify stops"
grep -q "walks past the run's budget of 10 (IMG_BUDGET_ENTRIES_TOTAL)" err
ok $? "IMG_BUDGET_ENTRIES_TOTAL=10: says which budget"
done_testing
