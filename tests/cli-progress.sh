#!/bin/bash
# -q, -v, -x, -p and --no-progress on every tool: step lines
# "[   N.N] ..." and the byte bar on stderr only, by default only on a
# TTY, never on stdout.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires qemu-img; requires script
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy
IMG2PV=$top_builddir/src/img2pv
RAMIFY=$top_builddir/src/img-ramify
INSPECT=$top_builddir/src/img-inspect
BATCH=$top_builddir/src/img-batch

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
step='^\[ *[0-9]+\.[0-9]\] '


# tty_steps LABEL COMMAND: under a TTY (script), COMMAND prints step lines
# by default, none with -q or --no-progress (the option goes first).
tty_steps () {
    local o
    script -qec "$2 > /dev/null" /dev/null > tty.out 2>&1
    grep -Eq "${step}Opening the image" tty.out; ok $? "$1 on a TTY: step lines by default"
    for o in -q --no-progress; do
        script -qec "${2%% *} $o ${2#* } > /dev/null" /dev/null > tty.out 2>&1
        grep -Eq "$step" tty.out; is $? 1 "$1 $o on a TTY: no step lines"
    done
}
for t in "$IMG2PV" "$RAMIFY"; do
    n=$(basename "$t")
    qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 g.qcow2
    for o in -q -v -x -p --no-progress; do
        "$t" -n --allow-backing "$o" g.qcow2 > out 2> err; r=$?
        case $r in 0|3) ok 0 "$n -n $o: accepted";; *) ok 1 "$n -n $o: accepted (exit $r)"; sed 's/^/# /' err | head -3;; esac
    done
    "$t" -n --allow-backing g.qcow2 > /dev/null 2> err
    grep -Eq "$step" err; is $? 1 "$n: not a TTY: no step lines by default"
    "$t" -n --allow-backing -p g.qcow2 > /dev/null 2> err
    grep -Eq "${step}Opening the image" err; ok $? "$n -p: a timestamped 'Opening the image' line"
    [ "$(grep -Ec "$step" err)" -ge 2 ]; ok $? "$n -p: more than one step line"
    grep -Eo "$step" err | tr -d '[] ' > times
    sort -n -c times; ok $? "$n -p: the times increase"
    "$t" -n --allow-backing -p --json g.qcow2 > out.json 2> err
    jq -e . out.json > /dev/null; ok $? "$n -p --json: stdout is JSON"
    grep -Eq "$step" out.json; is $? 1 "$n -p --json: no step line on stdout"
    "$t" -n --allow-backing -x g.qcow2 > /dev/null 2> err
    grep -Eq "${step}\+ edit " err; ok $? "$n -x: traced edits"
    grep -Eq "${step}Opening the image" err; ok $? "$n -x: the step lines too"
    "$t" -n --allow-backing -v g.qcow2 > /dev/null 2> err
    grep -q "^$n: debug: " err; ok $? "$n -v: the engine's debug lines"
    "$t" -n --allow-backing g.qcow2 > /dev/null 2> err
    grep -q "debug:" err; is $? 1 "$n: no debug lines without -v"
    tty_steps "$n" "'$t' -n --allow-backing g.qcow2"
    rm -f g.qcow2
done

# img-inspect: the same options, its steps through the engine's callbacks.
img=$dir/mbr-plain-hvm.img
for o in -q -v -x -p --no-progress; do
    "$INSPECT" "$o" "$img" > out 2> err; ok $? "img-inspect $o: accepted"
done
"$INSPECT" "$img" > /dev/null 2> err
grep -Eq "$step" err; is $? 1 "img-inspect: not a TTY: no step lines by default"
"$INSPECT" -p "$img" > out 2> err
for s in "Opening the image" "Reading the volumes and filesystems" "Inspecting the guest" "Reading the initrd of " "Writing the report"; do
    grep -Eq "${step}$s" err; ok $? "img-inspect -p: a timestamped '$s' line"
done
grep -Eo "$step" err | tr -d '[] ' > times
sort -n -c times; ok $? "img-inspect -p: the times increase"
grep -Eq "$step" out; is $? 1 "img-inspect -p: no step line on stdout"
"$INSPECT" -p --json "$img" > out.json 2> err
jq -e . out.json > /dev/null; ok $? "img-inspect -p --json: stdout is JSON"
"$INSPECT" -x "$img" > /dev/null 2> err
grep -Eq "${step}Inspecting the guest" err; ok $? "img-inspect -x: the step lines"
grep -Eq "${step}\+ image .*mbr-plain-hvm.img: raw, [0-9]+ bytes$" err; ok $? "img-inspect -x: traced: the image opened, its format"
grep -Eq "${step}\+ image .*: partition table dos, [0-9]+ entries$" err; ok $? "img-inspect -x: traced: the partition table"
grep -Eq "${step}\+ volume .*mbr-plain-hvm.img:p1: ext[234], UUID [0-9a-f-]+$" err; ok $? "img-inspect -x: traced: each volume probed"
grep -Eq "${step}\+ .*initrd segment [0-9]+ at [0-9]+: (gzip|zstd|none), [0-9]+ bytes, [0-9]+ inflated, [0-9]+ members$" err
ok $? "img-inspect -x: traced: the initrd's segments"
"$INSPECT" -p "$img" > /dev/null 2> err
grep -Eq "${step}\+ " err; is $? 1 "img-inspect -p: no traced lines without -x"
"$INSPECT" -x "$dir/mbr-lvm.img" > /dev/null 2> err
grep -Eq "${step}\+ LVM: volume group [A-Za-z0-9_.+-]+, [0-9]+ logical volumes$" err \
    && grep -Eq "${step}\+ volume [A-Za-z0-9_.+-]+/root: ext4, UUID " err
ok $? "img-inspect -x: traced: the volume groups and their logical volumes"
"$INSPECT" -v "$img" > /dev/null 2> err
grep -q "^img-inspect: " err; ok $? "img-inspect -v: the engine's debug lines"
tty_steps img-inspect "'$INSPECT' '$img'"

# img-batch: a line as each image starts and ends, with the count done.
"$BATCH" -o b1 img-inspect "$img" > /dev/null 2> err; ok $? "img-batch: ran"
grep -Eq "$step" err; is $? 1 "img-batch: not a TTY: no timestamped lines by default"
grep -q '^img-batch: \[1/1\] .*: ' err; ok $? "img-batch: not a TTY: the plain line as the image ends"
"$BATCH" -p -o b2 img-inspect "$img" > /dev/null 2> err; ok $? "img-batch -p: ran"
grep -Eq "${step}.*mbr-plain-hvm\.img: started \(0/1 done\)$" err; ok $? "img-batch -p: a timestamped start line"
grep -Eq "${step}.*mbr-plain-hvm\.img: [a-z ]+ \(1/1 done\)$" err; ok $? "img-batch -p: a timestamped end line with the count"
"$BATCH" -q -p -o b3 img-inspect "$img" > /dev/null 2> err
[ ! -s err ]; ok $? "img-batch -q: nothing on stderr"
"$BATCH" -x -o b4 img-inspect "$img" > /dev/null 2> err
grep -Eq "${step}\+ img-inspect --json .*mbr-plain-hvm\.img$" err; ok $? "img-batch -x: the tool's command line"
"$BATCH" -v -o b5 img-inspect "$img" > /dev/null 2> err
grep -q "debug\|img-inspect: " b5/*.stderr; ok $? "img-batch -v: the tool's debug lines in NAME.stderr"
script -qec "'$BATCH' -o b6 img-inspect '$img' > /dev/null" /dev/null > tty.out 2>&1
grep -Eq "${step}.*started" tty.out; ok $? "img-batch on a TTY: timestamped lines by default"
script -qec "'$BATCH' --no-progress -o b7 img-inspect '$img' > /dev/null" /dev/null > tty.out 2>&1
grep -Eq "$step" tty.out; is $? 1 "img-batch --no-progress on a TTY: no timestamped lines"

# A byte bar: percent monotone, ending at 100%, a line a tenth off a TTY.
check_bar () {   # NAME FILE
    grep -Eq "${step} *100\.0% [0-9]+/[0-9]+ bytes, " "$2"; ok $? "$1: the byte bar reaches 100%"
    grep -Eo "${step} *[0-9.]+% " "$2" | sed 's/^.*\] *//; s/% $//' > pcts
    sort -n -c pcts; ok $? "$1: the percent never goes down"
    is "$(tail -n 1 pcts)" "100.0" "$1: the bar ends at 100%"
    grep -q $'\r' "$2"; is $? 1 "$1, not a TTY: plain lines, no carriage return"
    [ "$(grep -Ec '% [0-9]+/[0-9]+ bytes' "$2")" -le 11 ]; ok $? "$1, not a TTY: at most a line a tenth"
}

# --output on a qcow2 image: qemu-img convert -p relayed as the bar.
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 g.qcow2
"$IMG2PV" -p --allow-backing -o out.qcow2 g.qcow2 > /dev/null 2> err; r=$?
case $r in 0|3) ok 0 "img2pv -p -o qcow2: converted a copy";; *) ok 1 "img2pv -p -o qcow2: exit $r"; sed 's/^/# /' err | head -3;; esac
check_bar "img2pv -p -o qcow2" err
rm -f out.qcow2
"$IMG2PV" --allow-backing -o out.qcow2 g.qcow2 > /dev/null 2> err
grep -q '% [0-9]*/[0-9]* bytes' err; is $? 1 "img2pv -o qcow2, not a TTY: no byte bar by default"
rm -f out.qcow2

# --archive: bytes of tar against the tree counted first.
"$RAMIFY" -n -p --allow-backing --archive g.qcow2 > /dev/null 2> err; r=$?
case $r in 0|3) ok 0 "img-ramify -n -p --archive: ran";; *) ok 1 "img-ramify -n -p --archive: exit $r"; sed 's/^/# /' err | head -3;; esac
check_bar "img-ramify -p --archive" err
rm -f g.qcow2

# --output on a raw image: the byte bar, ending at 100%.
"$IMG2PV" -p -o out.img "$dir/mbr-plain-hvm.img" > /dev/null 2> err; r=$?
case $r in 0|3) ok 0 "img2pv -p -o: converted a copy";; *) ok 1 "img2pv -p -o: exit $r"; sed 's/^/# /' err | head -3;; esac
grep -Eq "${step}Copying " err; ok $? "img2pv -p -o: a 'Copying' step"
check_bar "img2pv -p -o" err
rm -f out.img
# On a TTY the bar is redrawn in place.
script -qec "'$IMG2PV' -o out.img '$dir/mbr-plain-hvm.img' > /dev/null" /dev/null > tty.out 2>&1
grep -q $'\r\\[ *[0-9.]*\\] *[0-9.]*% ' tty.out; ok $? "img2pv -o on a TTY: the bar redrawn with a carriage return"
rm -f out.img
done_testing
