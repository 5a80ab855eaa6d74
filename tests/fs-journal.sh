#!/bin/bash
# Filesystems img-tools must not write to: a journal that needs recovery
# (a real one, left by a loop-mounted ext4 shut down without unmounting,
# and one flagged with debugfs), the error state, an ext2 not unmounted
# cleanly, features libext2fs cannot write or read.  A read-write open is
# refused with exactly one clear line and leaves every byte of the image
# as it was; a read-only open works (with one warning where the data may
# be stale).  After e2fsck has repaired the filesystem, writing works and
# leaves it clean.  Corrupt and truncated filesystems give one clear line.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires mke2fs; requires e2fsck; requires debugfs; requires tune2fs
requires dumpe2fs; requires qemu-img; requires mount; requires xfs_io
requires_root
FS_TOOL=$top_builddir/tests/fs-tool
[ -x "$FS_TOOL" ] || bail "tests/fs-tool is not built"
cd "$TMP"

echo "hello" >hello.txt
mkdir tree && echo "before the crash" >tree/file
sha () { imgsum "$1"; }

# refused NAME IMAGE REGEX: a read-write open fails with one line matching
# REGEX and the image does not change by a single byte.
refused () {
    local name=$1 img=$2 re=$3 before
    before=$(sha "${img%%:*}")
    fails_with "$name: read-write open refused" "$re" "$FS_TOOL" --rw "$img" put hello.txt /new
    is "$(sha "${img%%:*}")" "$before" "$name: the image is byte-identical afterwards"
}

# readable NAME IMAGE WARNING-REGEX: a read-only open works; stderr holds
# exactly one line matching the regex (or nothing when it is empty).
readable () {
    local name=$1 img=$2 re=$3 out err rc before
    before=$(sha "${img%%:*}")
    out=$("$FS_TOOL" "$img" cat /file 2>err.txt); rc=$?
    err=$(cat err.txt)
    if [ $rc -eq 0 ] && [ "$out" = "before the crash" ] && [ "$(sha "${img%%:*}")" = "$before" ] &&
       { { [ -z "$re" ] && [ -z "$err" ]; } ||
         { [ -n "$re" ] && [ "$(grep -c . err.txt)" -eq 1 ] && grep -Eq -- "$re" err.txt; }; }; then
        ok 0 "$name: read-only open works${re:+ with one warning}, image unchanged"
    else
        ok 1 "$name: read-only open works${re:+ with one warning}, image unchanged"; diag "exit $rc, out: $out" "$err"
    fi
}

# repaired NAME IMAGE: after e2fsck -fy, writing works and stays clean.
repaired () {
    local name=$1 img=$2 out
    e2fsck -fy "$img" >/dev/null 2>&1
    run_ok "$name: after e2fsck -fy, a write goes through" "$FS_TOOL" "$img" put hello.txt /new
    out=$(e2fsck -fn "$img" 2>&1); ok $? "$name: and e2fsck -fn is clean"
}

# ---- a real journal left to recover ------------------------------------------
new_image crash.img $((64 * MiB))
mke2fs -q -F -t ext4 -d tree crash.img >/dev/null || bail "mke2fs failed"
mkdir mnt
mount -o loop crash.img mnt || bail "cannot loop-mount the fixture"
at_exit "umount '$TMP/mnt' 2>/dev/null"
for i in $(seq 50); do echo "$i" >"mnt/after-$i"; done
sync -f mnt/after-1
# Shut down with the log flushed, as a crash after a commit would leave it.
xfs_io -x -c "shutdown -f" mnt || bail "xfs_io shutdown failed"
umount mnt
is "$(dumpe2fs -h crash.img 2>/dev/null | grep -c '^Filesystem features:.*needs_recovery')" 1 \
    "fixture: the journal needs recovery"
debugfs -R "logdump" crash.img 2>/dev/null | grep -q "Found expected sequence" ||
    diag "(logdump shows no transactions)"
qemu-img convert -O qcow2 crash.img crash.qcow2 || bail "qemu-img convert failed"

re_recover='crash\.(img|qcow2): ext4: the journal needs recovery because the guest was not shut down cleanly; boot the guest and shut it down cleanly \(or run e2fsck on this filesystem\)'
refused "dirty journal (raw)" crash.img "$re_recover"
refused "dirty journal (qcow2)" crash.qcow2 "$re_recover"
readable "dirty journal (raw)" crash.img "warning: .*the journal needs recovery"
readable "dirty journal (qcow2)" crash.qcow2 "warning: .*the journal needs recovery"
repaired "dirty journal" crash.img
is "$("$FS_TOOL" crash.img cat /after-50)" "50" "the replayed journal's files are there"

# ---- needs_recovery flagged with debugfs ------------------------------------
new_image flag.img $((32 * MiB))
mke2fs -q -F -t ext4 -d tree flag.img >/dev/null || bail "mke2fs failed"
debugfs -w -R "feature needs_recovery" flag.img >/dev/null 2>&1
refused "needs_recovery flag" flag.img "the journal needs recovery"
readable "needs_recovery flag" flag.img "warning: .*the journal needs recovery"

# ---- the error state ----------------------------------------------------------
new_image err.img $((32 * MiB))
mke2fs -q -F -t ext4 -d tree err.img >/dev/null || bail "mke2fs failed"
tune2fs -E force_fsck err.img >/dev/null 2>&1
is "$(dumpe2fs -h err.img 2>/dev/null | sed -n 's/^Filesystem state: *//p')" "clean with errors" \
    "fixture: tune2fs -E force_fsck marks errors"
refused "error state (tune2fs)" err.img "err\.img: ext4: the filesystem is marked as having errors; run e2fsck -f on it before changing it"
readable "error state (tune2fs)" err.img "warning: .*marked as having errors"
repaired "error state" err.img

new_image err2.img $((32 * MiB))
mke2fs -q -F -t ext4 -d tree err2.img >/dev/null || bail "mke2fs failed"
debugfs -w -R "ssv state 3" err2.img >/dev/null 2>&1
refused "error state (debugfs ssv state 3)" err2.img "marked as having errors"

# ---- an ext2 the guest did not unmount ---------------------------------------
new_image unclean.img $((32 * MiB))
mke2fs -q -F -t ext2 -d tree unclean.img >/dev/null || bail "mke2fs failed"
debugfs -w -R "ssv state 0" unclean.img >/dev/null 2>&1
refused "ext2 not unmounted cleanly" unclean.img "unclean\.img: ext2: the filesystem was not unmounted cleanly"
readable "ext2 not unmounted cleanly" unclean.img "warning: .*not unmounted cleanly"
repaired "ext2 not unmounted cleanly" unclean.img

# ---- features -----------------------------------------------------------------
# superblock field at OFFSET (le32) of IMAGE
sb32 () { od -An -tu4 -j $((1024 + $2)) -N4 "$1" | tr -d ' '; }

new_image rocompat.img $((32 * MiB))
mke2fs -q -F -t ext4 -d tree rocompat.img >/dev/null || bail "mke2fs failed"
debugfs -w -R "ssv feature_ro_compat $(( $(sb32 rocompat.img $((0x64))) | 0x100000 ))" rocompat.img >/dev/null 2>&1
refused "unknown ro_compat feature" rocompat.img "read-only-compatible features libext2fs cannot write \(ro_compat 0x100000\); only read-only access works"
readable "unknown ro_compat feature" rocompat.img ""

new_image incompat.img $((32 * MiB))
mke2fs -q -F -t ext4 -d tree incompat.img >/dev/null || bail "mke2fs failed"
debugfs -w -R "ssv feature_incompat $(( $(sb32 incompat.img $((0x60))) | 0x8000000 ))" incompat.img >/dev/null 2>&1
refused "unknown incompat feature" incompat.img "incompatible features libext2fs .* cannot read \(incompat 0x8000000\)"
before=$(sha incompat.img)
fails_with "unknown incompat feature: read-only open refused too" "cannot read \(incompat 0x8000000\)" "$FS_TOOL" incompat.img cat /file
is "$(sha incompat.img)" "$before" "unknown incompat feature: untouched"

new_image quota.img $((32 * MiB))
mke2fs -q -F -t ext4 -O quota -d tree quota.img >/dev/null || bail "mke2fs failed"
refused "quota feature" quota.img "quota\.img: ext4: has the quota feature; writing would leave quota usage stale"
readable "quota feature" quota.img ""

# Per-directory features: casefold and encryption.
mkdir -p cf/d cf/e && echo a >cf/d/a
new_image cf.img $((32 * MiB))
mke2fs -q -F -t ext4 -O casefold,encrypt -d cf cf.img >/dev/null 2>&1 || bail "mke2fs failed"
debugfs -w -R "set_inode_field /d flags 0x40080000" cf.img >/dev/null 2>&1
debugfs -w -R "set_inode_field /e flags 0x80800" cf.img >/dev/null 2>&1
before=$(sha cf.img)
fails_with "casefold directory: adding a name refused" "/d/new: the directory there is case-insensitive \(casefold\)" \
    "$FS_TOOL" cf.img put hello.txt /d/new
fails_with "encrypted directory: no path through it" "/e/new: the path crosses an encrypted directory" \
    "$FS_TOOL" cf.img put hello.txt /e/new
fails_with "encrypted directory: no listing of ciphertext names" "/e: the directory is encrypted" "$FS_TOOL" cf.img ls /e
is "$(sha cf.img)" "$before" "casefold, encrypted: image untouched"
is "$("$FS_TOOL" cf.img cat /d/a)" "a" "casefold directory: reading works"

# Not a filesystem at all.
new_image zero.img $((8 * MiB))
fails_with "no filesystem" "zero\.img: ext4: not an ext2/ext3/ext4 filesystem" "$FS_TOOL" zero.img ls /

# ---- corrupt and truncated: one clear line, no crash ---------------------------
mkdir -p ctree/d && for i in $(seq 50); do echo "$i" >"ctree/d/f$i"; done
head -c 3000000 /dev/urandom >ctree/bigfile
new_image good.img $((32 * MiB))
mke2fs -q -F -t ext4 -b 1024 -d ctree good.img >/dev/null || bail "mke2fs failed"
blk=$(debugfs -R "bmap /d 0" good.img 2>/dev/null)
cp good.img baddir.img
head -c 1024 /dev/urandom | dd of=baddir.img bs=1024 seek="$blk" conv=notrunc status=none
fails_with "corrupt directory block: ls" "baddir\.img: ext4: /d: reading the directory: Directory block checksum does not match" \
    "$FS_TOOL" baddir.img ls /d
before=$(sha baddir.img)
fails_with "corrupt directory block: no write into it" "/d/new: looking up a name: Directory block checksum does not match" \
    "$FS_TOOL" baddir.img put hello.txt /d/new
is "$(sha baddir.img)" "$before" "corrupt directory block: image untouched"
cp good.img cut.img
truncate -s $(( $(debugfs -R "bmap /bigfile 700" good.img 2>/dev/null) * 1024 )) cut.img
fails_with "truncated image: reading past the end" "cut\.img: ext4: /bigfile: reading the file: cut\.img: volume: access .* is past its end" \
    "$FS_TOOL" cut.img cat /bigfile
# An extent that maps blocks past the filesystem's end but inside the
# image: refused, not read (the bytes there are not the file's).
cp good.img beyond.img
debugfs -w -R "set_inode_field /bigfile block[5] 40000" beyond.img >/dev/null 2>&1
truncate -s $((64 * MiB)) beyond.img
fails_with "extent outside the filesystem: refused" \
    "beyond\.img: ext4: /bigfile: an extent maps blocks 40000-42929, outside the filesystem's 32768" \
    "$FS_TOOL" beyond.img cat /bigfile
is "$("$FS_TOOL" beyond.img cat /bigfile 2>/dev/null | wc -c)" "0" "extent outside the filesystem: no byte of it read"
cp good.img stub.img && truncate -s 3000 stub.img
fails_with "truncated image: no superblock" "stub\.img: ext4: cannot open: stub\.img: volume: access .* is past its end" \
    "$FS_TOOL" stub.img ls /

done_testing
