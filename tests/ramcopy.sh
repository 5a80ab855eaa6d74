#!/bin/bash
# img-ramcopy, the static helper of the RAM boot: copies a tree from an
# ext4 filesystem into a tmpfs (as the RAM boot does) keeping what cp -a
# and more keep; checked with stat, cmp, getfattr, getcap and du.
. "$top_srcdir/tests/functions.sh"
requires_root; requires mke2fs; requires getfattr; requires setfattr; requires setcap; requires getcap
requires mkfifo; requires python3
RC=$top_builddir/src/ramboot/img-ramcopy
cd "$TMP"

file "$RC" 2>/dev/null | grep -q 'statically linked'; ok $? "img-ramcopy is statically linked (it runs in any initramfs)"

# The source: an ext4 filesystem with one of everything.
truncate -s 256M src.ext4
mke2fs -q -F -t ext4 src.ext4
mkdir -p src dst
mount -o loop src.ext4 src
at_exit "umount -l $TMP/src 2>/dev/null; umount -l $TMP/dst 2>/dev/null"
mount -t tmpfs -o size=512m,mode=0755 tmpfs dst
s=src
mkdir -p $s/etc $s/usr/bin $s/var/lib/empty $s/dev $s/home/u/.ssh $s/mnt/other
echo "root:x:0:0" > $s/etc/passwd
printf 'hello\n' > $s/etc/motd; chown 1000:1001 $s/etc/motd; chmod 640 $s/etc/motd
touch -d '2001-02-03 04:05:06.123456789' $s/etc/motd
cp /bin/true $s/usr/bin/ping; chmod 4755 $s/usr/bin/ping           # setuid
cp /bin/true $s/usr/bin/caps; setcap cap_net_raw+ep $s/usr/bin/caps  # file capability
setfattr -n user.note -v "a user xattr" $s/etc/passwd
setfattr -n trusted.t -v "trusted" $s/etc/passwd
setfattr -n security.selinux -v "system_u:object_r:etc_t:s0" $s/etc/passwd 2>/dev/null || true
ln $s/etc/passwd $s/etc/passwd.hard                                  # hard link
ln -s ../etc/passwd $s/usr/passwd.link                               # relative symlink
ln -s /nonexistent $s/usr/dangling                                   # dangling symlink
mknod $s/dev/null c 1 3; mknod $s/dev/sda b 8 0; mkfifo $s/dev/fifo
python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("'$s'/dev/sock")'
chown 1000:1000 $s/home/u; chmod 700 $s/home/u/.ssh
# A sparse file: 1 GiB apparent, two small islands.
dd if=/dev/urandom of=$s/var/lib/sparse bs=4k count=1 seek=1000 conv=notrunc status=none
dd if=/dev/urandom of=$s/var/lib/sparse bs=4k count=1 seek=200000 conv=notrunc status=none
truncate -s 1G $s/var/lib/sparse
touch -d '1999-12-31 23:59:59' $s/var/lib/empty
# Another filesystem mounted inside: not copied, its mount point kept.
mount -t tmpfs -o size=1m tmpfs $s/mnt/other
echo "not copied" > $s/mnt/other/file

# size: what tmpfs will need.
out=$("$RC" size "$TMP/src"); ok $? "size runs ($out)"
bytes=$(sed -n 's/.*bytes=\([0-9]*\) .*/\1/p' <<< "$out")
du_bytes=$(( $(du -x -s -B1 "$TMP/src" | cut -f1) ))
is "$bytes" "$du_bytes" "size: allocated bytes agree with du -x"
grep -q 'mounts_skipped=1' <<< "$out"; ok $? "size: stays on one filesystem"

out=$("$RC" copy "$TMP/src" "$TMP/dst" 2> copy.err); rc=$?
ok "$rc" "copy runs ($out)"
[ -s copy.err ] && sed 's/^/# /' copy.err

# Everything but atime agrees, entry by entry (the other mount aside).
meta () { (cd "$1" && find . -path ./mnt/other/file -prune -o -path ./lost+found -prune -o -print0 | LC_ALL=C sort -z \
          | xargs -0 stat -c '%n|%f|%u:%g|%h|%s|%t,%T|%Y' \
          | awk -F'|' -v OFS='|' '$2 ~ /^4/ { $5 = "dir" } { print }'); }
meta src > src.meta; meta dst > dst.meta
diff src.meta dst.meta > meta.diff; ok $? "names, types, modes, owners, link counts, sizes (files), devices, mtimes agree"
[ -s meta.diff ] && head -10 meta.diff | sed 's/^/# /'
is "$(stat -c %y dst/etc/motd)" "$(stat -c %y src/etc/motd)" "nanosecond mtimes kept"
is "$(stat -c %a dst/usr/bin/ping)" 4755 "setuid bit kept"
is "$(getcap dst/usr/bin/caps | sed 's/.* //')" "cap_net_raw=ep" "file capability kept (security.capability)"
is "$(getfattr --only-values -n user.note dst/etc/passwd 2>/dev/null)" "a user xattr" "user xattr kept"
is "$(getfattr --only-values -n trusted.t dst/etc/passwd 2>/dev/null)" "trusted" "trusted xattr kept"
if getfattr -n security.selinux src/etc/passwd > /dev/null 2>&1; then
    is "$(getfattr --only-values -n security.selinux dst/etc/passwd)" "system_u:object_r:etc_t:s0" "SELinux label kept"
else
    ok 0 "SELinux label: the source filesystem here takes none (nothing to keep)"
fi
is "$(stat -c %i dst/etc/passwd)" "$(stat -c %i dst/etc/passwd.hard)" "hard link kept"
is "$(readlink dst/usr/passwd.link) $(readlink dst/usr/dangling)" "../etc/passwd /nonexistent" "symlinks kept, dangling too"
is "$(stat -c '%F %t,%T' dst/dev/null dst/dev/sda | tr '\n' ' ')" "character special file 1,3 block special file 8,0 " "device nodes kept"
is "$(stat -c %F dst/dev/fifo dst/dev/sock | tr '\n' ' ')" "fifo socket " "fifo and socket kept"
cmp -s src/var/lib/sparse dst/var/lib/sparse; ok $? "sparse file: same bytes"
alloc=$(( $(stat -c %b dst/var/lib/sparse) * 512 ))
ok "$([ "$alloc" -le $((64 * 1024)) ]; echo $?)" "sparse file: holes kept ($alloc bytes allocated of 1 GiB)"
ok "$([ -d dst/mnt/other ] && [ ! -e dst/mnt/other/file ]; echo $?)" "another filesystem's mount point kept, its files not copied"
is "$(stat -c %Y dst/var/lib/empty)" "$(stat -c %Y src/var/lib/empty)" "directory mtimes set after their contents"

# Errors: one line, exit 1; usage: exit 2.
"$RC" copy "$TMP/nonexistent" "$TMP/dst" > /dev/null 2> e.err; is "$?:$(wc -l < e.err)" "1:1" "missing source: exit 1, one line"
"$RC" copy "$TMP/src" "$TMP/dst" > /dev/null 2> e.err; is "$?:$(wc -l < e.err)" "1:1" "copying over existing files is refused: exit 1, one line"
"$RC" frobnicate > /dev/null 2>&1; is $? 2 "usage: exit 2"
out=$("$RC" meminfo); ok $? "meminfo ($out)"
is "$(sed -n 's/total=\([0-9]*\) .*/\1/p' <<< "$out")" "$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024 ))" "meminfo: MemTotal as /proc/meminfo says"
done_testing
