#!/bin/bash
# The edits framework on a real Debian 12 guest (raw copy and qcow2
# overlay), driven by tests/edits-tool: a dry run changes no byte and shows
# diffs; a real run changes and leaves e2fsck -fn clean; a second run has
# nothing to do and changes no byte; the rollback restores the raw image
# byte for byte (qcow2: the same virtual disk); a failing edit rolls the
# run back by itself; runs killed with SIGKILL at random points are brought
# back by the rollback, or by the next run.
. "$top_srcdir/tests/functions.sh"
requires_root; requires qemu-img; requires e2fsck; requires jq; requires sha256sum; requires cksum
ET=$top_builddir/tests/edits-tool

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
cp --sparse=always "$dir/mbr-plain-hvm.img" a.img
U=a.img.img-tools-undo
ALL=hostname,udev-net,fstab,tls,link,many=20

# e2fsck -fn on the root filesystem of IMAGE (offset from img-inspect).
fsck_root () {
    local off
    off=$(img-inspect --json "$1" | jq -r '(.guest.mounts[] | select(.mountpoint == "/") | .device | sub(".*:p"; "") | tonumber) as $n | .images[0].partitions[] | select(.number == $n) | .start')
    e2fsck -fn "$1?offset=$off" >"$TMP/fsck.out" 2>&1 || { cat "$TMP/fsck.out" | head -20 | sed 's/^/# /'; return 1; }
}
crc () { cksum <"$1" | cut -d' ' -f1; }

orig_sha=$(imgsum a.img)
orig_crc=$(crc a.img)

# ---- dry run ----
"$ET" --dry-run --edits "$ALL" a.img >dry.out 2>dry.err; rc=$?
is "$rc" 0 "dry run: exit 0 (would change)"
is "$(imgsum a.img)" "$orig_sha" "dry run: image byte-identical (sha256)"
[ ! -e "$U" ]; ok $? "dry run: no undo file"
grep -q '^+++ b/etc/hostname$' dry.out && grep -q '^-mbr-plain-hvm$' dry.out && grep -q '^+edits-test$' dry.out
ok $? "dry run: unified diff of /etc/hostname"
grep -q '^+# edits-tool was here$' dry.out && grep -q '^@@ -1,3 +1,4 @@$' dry.out
ok $? "dry run: unified diff of /etc/fstab"
grep -q '^\[udev-net\] remove /etc/udev/rules.d/70-persistent-net.rules$' dry.out; ok $? "dry run: lists the removal"
grep -q '^\[tls\] move /lib/tls -> /lib/tls.disabled$' dry.out; ok $? "dry run: lists the move"
grep -q '^\[many\] mkdir /var/tmp/edits-many$' dry.out && grep -q '^\[many\] add /var/tmp/edits-many/f19$' dry.out
ok $? "dry run: lists directories and files to add"
# The diff the report shows is what diff -u says of the real files.
"$ET" --dry-run --json --edits hostname,fstab a.img >dry.json
img-tools-cat () { "$top_builddir/tests/guest-tool" a.img -- cat "$1"; }
img-tools-cat /etc/fstab >fstab.old
{ cat fstab.old; echo '# edits-tool was here'; } >fstab.new
diff -u fstab.old fstab.new | tail -n +3 >fstab.gnu
jq -r '.changes[] | select(.path == "/etc/fstab") | .diff' dry.json | tail -n +3 | head -c -1 >fstab.ours
cmp -s fstab.gnu fstab.ours; ok $? "dry run: the fstab diff equals diff -u's"
is "$(jq -r '.status + " " + (.dry_run|tostring) + " " + (.undo|tostring)' dry.json)" "changed true null" "dry run: JSON status"

# ---- real run ----
start=$(date +%s.%N)
"$ET" --json --edits "$ALL" a.img >run.json 2>run.err; rc=$?
diag "real run took $(echo "$(date +%s.%N) - $start" | bc) s"
is "$rc" 0 "real run: exit 0"
is "$(jq -r .status run.json)" changed "real run: JSON status changed"
is "$(jq '[.changes[] | select(.action != "note")] | length' run.json)" 26 "real run: 26 changes reported"
is "$(img-tools-cat /etc/hostname)" edits-test "real run: /etc/hostname written"
"$top_builddir/tests/guest-tool" a.img -- stat /etc/udev/rules.d/70-persistent-net.rules >/dev/null 2>&1
is $? 1 "real run: udev rules removed"
is "$("$top_builddir/tests/guest-tool" a.img -- readlink /etc/edits-link)" hostname "real run: symlink made"
fsck_root a.img; ok $? "real run: e2fsck -fn clean"
is "$("$ET" --state $U)" complete "real run: undo file complete"
after_crc=$(crc a.img)

# ---- second run ----
"$ET" --edits "$ALL" a.img >second.out 2>&1; rc=$?
is "$rc" 3 "second run: exit 3 (nothing to do)"
grep -q '^Nothing to do.$' second.out; ok $? "second run: says nothing to do"
is "$(crc a.img)" "$after_crc" "second run: image byte-identical"

# ---- rollback ----
"$ET" --rollback $U >/dev/null; ok $? "rollback: exit 0"
is "$(imgsum a.img)" "$orig_sha" "rollback: image byte-identical to the original (sha256)"
is "$("$ET" --state $U)" rolled-back "rollback: undo file marked rolled back"
"$ET" --rollback $U >/dev/null; is $? 3 "rollback again: nothing to do"

# ---- a changed image refuses a rollback ----
"$ET" --edits hostname a.img >/dev/null; ok $? "run again after the rollback"
"$top_builddir/tests/guest-tool" --rw a.img -- write /etc/hostname <<<"booted-since" >/dev/null
fails_with "rollback refused when the image changed since the run" 'has changed since the run' "$ET" --rollback $U
"$ET" --force --rollback $U >/dev/null; ok $? "rollback --force runs"
# (What the outside writer changed beyond our chunks cannot come back:
# start again from a fresh copy.)
rm -f $U a.img
cp --sparse=always "$dir/mbr-plain-hvm.img" a.img

# ---- identity checks ----
"$ET" --edits hostname a.img >/dev/null
truncate -s 1G other.img
fails_with "rollback onto another image refused" 'is not the image this undo file was made for' "$ET" --rollback $U other.img
"$ET" --rollback $U >/dev/null; is "$(crc a.img)" "$orig_crc" "rollback: restored"
rm -f $U

# ---- injected failure ----
"$ET" --json --edits hostname,udev-net,many=50,fail,fstab a.img >fail.json 2>fail.err; rc=$?
is "$rc" 1 "failing edit: exit 1"
is "$(jq -r '.status + " " + (.rolled_back|tostring)' fail.json)" "failed true" "failing edit: JSON says failed, rolled back"
is "$(crc a.img)" "$orig_crc" "failing edit: image byte-identical after the automatic rollback"
[ ! -e $U ] && ! ls $U.* >/dev/null 2>&1
ok $? "failing edit: the undo file of the clean rollback removed (nothing left to undo)"
# A failure in a run appended to an earlier one undoes only that run.
"$ET" --edits hostname a.img >/dev/null
c1=$(crc a.img)
"$ET" --edits fstab,many=30,fail a.img >/dev/null 2>&1; is $? 1 "failing second run: exit 1"
is "$(crc a.img)" "$c1" "failing second run: image as the first run left it"
is "$("$ET" --state $U)" complete "failing second run: undo file complete (first run)"
"$ET" --rollback $U >/dev/null; is "$(crc a.img)" "$orig_crc" "rollback of both runs: original"
rm -f $U

# ---- SIGKILL at random points ----
# The run is made long enough (an 8 MiB binary file, 300 small files) to be
# killed while writing; odd rounds are recovered by --rollback, even ones
# by the next run (which rolls the interrupted one back itself).
KILL=hostname,udev-net,fstab,tls,link,big=8,many=300
start=$(date +%s%N)
"$ET" --edits "$KILL" a.img >/dev/null
dur=$(( ($(date +%s%N) - start) / 1000000 ))
"$ET" --rollback $U >/dev/null; rm -f $U
diag "a full run takes $dur ms; killing at random points in it"
# A run that is still going is not rolled back under it, by hand or by a
# second run.
"$ET" --edits "$KILL" a.img >/dev/null 2>&1 &
pid=$!
for _ in $(seq 500); do [ -s $U ] && break; sleep 0.01; done
fails_with "rollback refused while the run is going" 'in use' "$ET" --rollback $U
"$ET" --edits hostname a.img >/dev/null 2>&1; is $? 1 "a second run refused while the first is going"
wait $pid; ok $? "the first run went on to the end"
"$ET" --rollback $U >/dev/null; is "$(crc a.img)" "$orig_crc" "and its rollback restores the image"
rm -f $U
RANDOM=4242
states=""
bad=0
for i in $(seq 1 12); do
    delay=$(( RANDOM % (dur + 50) ))
    "$ET" --edits "$KILL" a.img >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' "$delay")" 2>/dev/null || sleep "$(echo "$delay / 1000" | bc -l)"
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    st=$("$ET" --state $U 2>/dev/null || echo none)
    states="$states $delay:$st"
    if [ $((i % 2)) = 1 ]; then
        if [ -e $U ]; then "$ET" --rollback $U >/dev/null 2>&1; fi
        [ "$(crc a.img)" = "$orig_crc" ] || { bad=$((bad + 1)); diag "round $i ($delay ms, $st): not restored by the rollback"; }
    else
        "$ET" --edits "$KILL" a.img >/dev/null 2>&1; rc=$?
        [ $rc = 0 ] || [ $rc = 3 ] || { bad=$((bad + 1)); diag "round $i ($delay ms, $st): next run exit $rc"; }
        fsck_root a.img || { bad=$((bad + 1)); diag "round $i: fsck after the next run"; }
        "$ET" --rollback $U >/dev/null 2>&1
        [ "$(crc a.img)" = "$orig_crc" ] || { bad=$((bad + 1)); diag "round $i ($delay ms, $st): not restored"; }
    fi
    rm -f $U
done
diag "kill delay (ms):state of the undo file:$states"
is "$bad" 0 "SIGKILL at 12 random points: every image restored or recovered"
case $states in *running*) ok 0 "some kills hit a run while it was writing" ;; *) ok 1 "some kills hit a run while it was writing" ;; esac
fsck_root a.img; ok $? "after the kill rounds: e2fsck -fn clean"
is "$(imgsum a.img)" "$orig_sha" "after the kill rounds: image byte-identical (sha256)"

# ---- every read sees earlier writes (through img_guest_*) ----
cp --sparse=always "$dir/mbr-plain-hvm.img" c.img
csha=$(imgsum c.img)
SEE=chain,chain-read,udev-net,rm-check,dir-move
"$ET" --dry-run --edits "$SEE" c.img >see-dry.out 2>see-dry.err; rc=$?
is "$rc" 0 "dry run reading its own writes: exit 0 (read_file, lstat, readdir saw them)"
grep "check failed" see-dry.err | sed 's/^/# /'
grep -q '^\[chain-read\] add /var/tmp/chain/b$' see-dry.out && grep -q '^+second$' see-dry.out
ok $? "dry run: the second edit wrote from what the first wrote"
grep -q '^\[dir-move\] move /etc/udev -> /etc/udev.moved$' see-dry.out; ok $? "dry run: lists the directory move"
is "$(imgsum c.img)" "$csha" "dry run reading its own writes: image byte-identical (sha256)"
[ ! -e c.img.img-tools-undo ]; ok $? "dry run reading its own writes: no undo file"
"$ET" --dry-run --json --edits "$SEE" c.img >see-dry.json 2>/dev/null
"$ET" --json --edits "$SEE" c.img >see-run.json 2>see-run.err; rc=$?
is "$rc" 0 "real run of the same edits: exit 0"
is "$(jq -c .changes see-run.json)" "$(jq -c .changes see-dry.json)" "real run and dry run: the same change list"
is "$("$top_builddir/tests/guest-tool" c.img -- cat /var/tmp/chain/b | tr '\n' ' ')" "first second " "real run: the second edit's file"
"$top_builddir/tests/guest-tool" c.img -- stat /etc/udev.moved/udev.conf >/dev/null 2>&1; ok $? "real run: the directory moved"
fsck_root c.img; ok $? "real run reading its own writes: e2fsck -fn clean"
rm -f c.img c.img.img-tools-undo

# ---- qcow2 ----
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 q.qcow2
qsha=$(imgsum q.qcow2)
"$ET" --dry-run --edits "$ALL" q.qcow2 >/dev/null; is $? 0 "qcow2 dry run: exit 0"
is "$(imgsum q.qcow2)" "$qsha" "qcow2 dry run: overlay byte-identical"
"$ET" --edits "$ALL" q.qcow2 >/dev/null; is $? 0 "qcow2 run: exit 0"
qemu-img compare -q "$dir/mbr-plain-hvm.qcow2" q.qcow2; is $? 1 "qcow2 run: virtual disk changed"
qemu-img convert -O raw q.qcow2 q.raw
fsck_root q.raw; ok $? "qcow2 run: e2fsck -fn clean"
rm -f q.raw
"$ET" --edits "$ALL" q.qcow2 >/dev/null; is $? 3 "qcow2 second run: nothing to do"
"$ET" --rollback q.qcow2.img-tools-undo >/dev/null; ok $? "qcow2 rollback: exit 0"
qemu-img compare -q "$dir/mbr-plain-hvm.qcow2" q.qcow2; ok $? "qcow2 rollback: virtual disk identical (qemu-img compare)"
qemu-img check -q q.qcow2; ok $? "qcow2 rollback: qemu-img check clean"
"$ET" --edits hostname,many=20,fail q.qcow2 >/dev/null 2>&1; is $? 1 "qcow2 failing edit: exit 1"
qemu-img compare -q "$dir/mbr-plain-hvm.qcow2" q.qcow2; ok $? "qcow2 failing edit: virtual disk identical"

done_testing
