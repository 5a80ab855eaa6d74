#!/bin/bash
# -q, -v, -x, -p and --no-progress on the conversion tools: step lines
# "[   N.N] ..." and the byte bar on stderr only, by default only on a
# TTY, never on stdout.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires qemu-img; requires script
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy
IMG2PV=$top_builddir/src/img2pv
RAMIFY=$top_builddir/src/img-ramify

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
step='^\[ *[0-9]+\.[0-9]\] '

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
    "$t" -n --allow-backing -v g.qcow2 > /dev/null 2> err
    grep -q "^$n: debug: " err; ok $? "$n -v: the engine's debug lines"
    "$t" -n --allow-backing g.qcow2 > /dev/null 2> err
    grep -q "debug:" err; is $? 1 "$n: no debug lines without -v"
    script -qec "'$t' -n --allow-backing g.qcow2 > /dev/null" /dev/null > tty.out 2>&1
    grep -Eq "${step}Opening the image" tty.out; ok $? "$n on a TTY: step lines by default"
    script -qec "'$t' -n --allow-backing -q g.qcow2 > /dev/null" /dev/null > tty.out 2>&1
    grep -Eq "$step" tty.out; is $? 1 "$n -q on a TTY: no step lines"
    script -qec "'$t' -n --allow-backing --no-progress g.qcow2 > /dev/null" /dev/null > tty.out 2>&1
    grep -Eq "$step" tty.out; is $? 1 "$n --no-progress on a TTY: no step lines"
    rm -f g.qcow2
done

# --output on a raw image: the byte bar, ending at 100%.
"$IMG2PV" -p -o out.img "$dir/mbr-plain-hvm.img" > /dev/null 2> err; r=$?
case $r in 0|3) ok 0 "img2pv -p -o: converted a copy";; *) ok 1 "img2pv -p -o: exit $r"; sed 's/^/# /' err | head -3;; esac
grep -Eq "${step}Copying " err; ok $? "img2pv -p -o: a 'Copying' step"
grep -Eq "${step} *100\.0% [0-9]+/[0-9]+ bytes, " err; ok $? "img2pv -p -o: the byte bar reaches 100%"
grep -q $'\r' err; is $? 1 "img2pv -p -o, not a TTY: plain lines, no carriage return"
[ "$(grep -Ec '% [0-9]+/[0-9]+ bytes' err)" -le 11 ]; ok $? "img2pv -p -o, not a TTY: at most a line a tenth"
rm -f out.img
done_testing
