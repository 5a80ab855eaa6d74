#!/bin/bash
# A write round trip through the guest path API, inside an LV inside a
# qcow2 (a real Debian 12 guest, through a qcow2 overlay): create,
# overwrite, rename, delete, mkdir -p, symlink and a copy-in of a
# ~2000-file tree with a sparse 5 GiB file.  Afterwards e2fsck -fn must be
# clean and debugfs must dump the same bytes, modes, owners and link
# targets as the host tree.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires e2fsck; requires debugfs; requires jq
GT=$top_builddir/tests/guest-tool

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
qemu-img create -q -f qcow2 -b "$dir/mbr-lvm.qcow2" -F qcow2 work.qcow2

# The host tree: nested directories, ~2000 small files, symlinks (relative
# and absolute), hard links, a fifo, a device node, odd modes and owners,
# and a sparse 5 GiB file with three data islands.
mkdir -p tree
for d in $(seq 1 40); do
    mkdir -p "tree/d$d/sub"
    for f in $(seq 1 24); do printf 'file %s/%s\n%0*d\n' "$d" "$f" $((f * 37)) 0 > "tree/d$d/f$f"; done
    for f in $(seq 1 24); do printf 'deep %s %s\n' "$d" "$f" > "tree/d$d/sub/g$f"; done
    ln -s "../d$(( (d % 40) + 1 ))/f1" "tree/d$d/rel-link"
done
ln -s /etc/hostname tree/abs-link
ln -s "$(printf 'x%.0s' $(seq 1 100))" tree/long-link-target-is-long
ln tree/d1/f1 tree/hardlink-to-d1-f1
mkfifo tree/fifo
mknod tree/null c 1 3
chmod 4750 tree/d2/f2; chown 1234:5678 tree/d3/f3; chmod 0600 tree/d4/f4
chown -h 42:43 tree/abs-link
truncate -s 5G tree/sparse
for off in 0 2500 5119; do printf 'island at %s MiB' "$off" | dd of=tree/sparse bs=1M seek="$off" conv=notrunc status=none; done
nfiles=$(find tree | wc -l)
diag "host tree: $nfiles entries"

printf 'first\n' > new1; printf 'replaced hostname\n' > host2
cat > cmds <<EOC
write-from new1 /root/created-by-test
write-from host2 /etc/hostname
write-from new1 /etc/to-be-renamed
mv /etc/to-be-renamed /etc/renamed
write-from new1 /etc/to-be-deleted
rm /etc/to-be-deleted
mkdir-p /srv/a/b/c/d
symlink ../../etc/renamed /srv/a/link
copy-in $TMP/tree /srv/tree
EOC
start=$(date +%s.%N)
"$GT" --rw work.qcow2 -- - < cmds; ok $? "edits and copy-in through the guest API"
diag "edits + copy-in took $(echo "$(date +%s.%N) - $start" | bc) s"

# Check with independent tools on a raw copy.
qemu-img convert -O raw work.qcow2 out.img
off=$(img-inspect --json out.img | jq -r '.volume_groups[0].lvs[] | select(.name == "root") | .segments[0].stripes[0].offset')
fs="out.img?offset=$off"
e2fsck -fn "$fs" > fsck.out 2>&1; ok $? "e2fsck -fn is clean"
grep -q 'clean\|files' fsck.out || diag "$(cat fsck.out)"

dbg () { debugfs -R "$1" "$fs" 2>/dev/null; }
is "$(dbg 'cat /root/created-by-test')" "first" "created file"
is "$(dbg 'cat /etc/hostname')" "replaced hostname" "overwritten file"
is "$(dbg 'stat /etc/hostname' | grep -o 'Mode: *[0-7]*' | tr -s ' ')" "Mode: 0644" "overwrite keeps the mode"
is "$(dbg 'cat /etc/renamed')" "first" "renamed file"
dbg 'stat /etc/to-be-renamed' | grep -q Inode; ok $(( ! $? )) "old name gone"
dbg 'stat /etc/to-be-deleted' | grep -q Inode; ok $(( ! $? )) "deleted file gone"
dbg 'stat /srv/a/b/c/d' | grep -q 'Type: directory'; ok $? "mkdir -p"
is "$(dbg 'stat /srv/a/link' | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')" "../../etc/renamed" "symlink target"

mkdir dump
debugfs -R "rdump /srv/tree dump" "$fs" >/dev/null 2>&1
# rdump keeps contents, modes, owners and link targets (not device nodes
# or fifos, which it skips): compare those, then the special files by stat.
# Directory sizes depend on the filesystem; rdump keeps neither a
# symlink's own owner nor setuid/setgid/sticky bits: those are checked
# separately with debugfs stat below.
listing () {
    (cd "$1" && find . ! -type p ! -type c ! -name sparse -printf '%y %m %U %G %l %p\n' |
     awk '{ $2 = substr($2, length($2) - 2); if ($1 == "l") { $3 = "-"; $4 = "-" } print }' | sort)
}
listing dump/tree > got.list; listing tree > want.list
cmp -s got.list want.list; ok $? "modes, owners, link targets of the copied tree ($(wc -l < want.list) entries)"
cmp -s got.list want.list || diff want.list got.list | head -10 | sed 's/^/# /'
is "$(dbg 'stat /srv/tree/d2/f2' | grep -o 'Mode: *[0-7]*' | tr -s ' ')" "Mode: 04750" "setuid bit kept"
is "$(dbg 'stat /srv/tree/abs-link' | grep -oE 'User: +[0-9]+ +Group: +[0-9]+' | tr -s ' ')" \
   "User: 42 Group: 43" "symlink owner kept"
diff -r --no-dereference -x sparse -x fifo -x null tree dump/tree >/dev/null; ok $? "contents of the copied tree"
is "$(dbg 'stat /srv/tree/fifo' | grep -o 'Type: [A-Za-z]*')" "Type: FIFO" "fifo copied"
is "$(dbg 'stat /srv/tree/null' | grep -oE 'Type: [a-z]+|Device major/minor number: [0-9: ()a-z]+' | head -2 | tr '\n' ' ')" \
   "Type: character Device major/minor number: 01:03 (hex 01:03) " "device node copied"
is "$(dbg 'stat /srv/tree/d1/f1' | grep -o 'Links: [0-9]*')" "Links: 2" "hard link kept"
# The sparse file: same size, same islands, only a few blocks allocated.
is "$(dbg 'stat /srv/tree/sparse' | grep -o '^.*Size: [0-9]*' | grep -o 'Size: [0-9]*' | head -1)" "Size: 5368709120" "sparse file size"
blocks=$(dbg 'stat /srv/tree/sparse' | sed -n 's/.*Blockcount: \([0-9]*\).*/\1/p')
[ -n "$blocks" ] && [ "$blocks" -lt 2048 ]; ok $? "sparse file keeps its holes ($blocks 512-byte blocks)"
# Each island, read at the physical block debugfs says holds it.
bs=$(dbg 'stats' | sed -n 's/^Block size: *//p')
for o in 0 2500 5119; do
    lblk=$((o * 1048576 / bs))
    pblk=$(dbg 'ex /srv/tree/sparse' | awk -v l="$lblk" '{ gsub(/-/, " "); n = split($0, f, " ") } n >= 8 && f[1] == f[2] "/" && f[5] == l { print f[7] }' | head -1)
    if [ -n "$pblk" ]; then
        is "$(dd if=out.img bs=1 skip=$((off + pblk * bs)) count=20 status=none | tr -d '\0')" \
           "$(printf 'island at %s MiB' "$o" | head -c 20)" "sparse island at $o MiB"
    else
        ok 1 "sparse island at $o MiB (no extent at logical block $lblk)"; dbg 'ex /srv/tree/sparse' | sed 's/^/# /'
    fi
done
done_testing
