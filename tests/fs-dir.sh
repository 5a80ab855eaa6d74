#!/bin/bash
# The dir backend: a host directory as a filesystem root, full of hostile
# symlinks (to /etc, to ../../.., to a file outside, loops, and links into
# a canary directory beside the root).  Every path operation that would go
# through one fails with one clear line, nothing outside the root is read
# or written (the canary directory and /etc/passwd are unchanged, and what
# was read never holds outside bytes), while ordinary operations work and
# are checked with stat and find.
. "$top_srcdir/tests/functions.sh"
requires setpriv; requires sha256sum
requires_root
FS_TOOL=$top_builddir/tests/fs-tool
[ -x "$FS_TOOL" ] || bail "tests/fs-tool is not built"
cd "$TMP"
chmod 0711 "$TMP"       # for the unprivileged run at the end

mkdir -p outside root/sub/deeper
echo "canary" >outside/canary
echo "inside" >root/sub/file
echo "hello" >hello.txt
ln -s /etc root/etc
ln -s ../../.. root/x
ln -s /etc/passwd root/passwd
ln -s loop root/loop
ln -s loop3 root/loop2; ln -s loop2 root/loop3
ln -s "$TMP/outside" root/abs-out
ln -s ../outside root/rel-out
ln -s ../../outside root/sub/up-out
ln -s .. root/up
ln -s "$TMP/outside/canary" root/canary-link

# snapshot: everything outside the root that a broken backend could touch.
snapshot () {
    { (cd outside && find . -printf '%P %y %m %U:%G %s %T@\n' | sort && cat canary)
      sha256sum /etc/passwd; stat -c '%a %U:%G %Y' /etc/passwd /etc "$TMP/outside"; } 2>&1
}
SNAP=$(snapshot)
D=(--dir "$TMP/root")

# ---- hostile paths: one clear line each ----------------------------------------
nd='Not a directory'
fails_with "cat through an absolute symlink to /etc" "root: dir: /etc/passwd: $nd" "$FS_TOOL" "${D[@]}" cat /etc/passwd
fails_with "cat through ../../.." "/x/etc/passwd: $nd" "$FS_TOOL" "${D[@]}" cat /x/etc/passwd
fails_with "cat of a symlink to a file outside" "/passwd: not a regular file" "$FS_TOOL" "${D[@]}" cat /passwd
fails_with "ls of a symlink to /etc" "/etc: $nd" "$FS_TOOL" "${D[@]}" ls /etc
fails_with "ls of a symlink to ../../.." "/x: $nd" "$FS_TOOL" "${D[@]}" ls /x
fails_with "ls through a symlink loop" "/loop/a: $nd" "$FS_TOOL" "${D[@]}" ls /loop/a
fails_with "ls of a symlink loop" "/loop2: $nd" "$FS_TOOL" "${D[@]}" ls /loop2
fails_with "stat through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" stat /abs-out/canary
fails_with "stat through a symlinked parent" "/up/root/sub/file: $nd" "$FS_TOOL" "${D[@]}" stat /up/root/sub/file
fails_with ".. refused" '"\.\." are not allowed' "$FS_TOOL" "${D[@]}" cat /sub/../../outside/canary
fails_with "put through an absolute symlink" "/abs-out/pwned: $nd" "$FS_TOOL" "${D[@]}" put hello.txt /abs-out/pwned
fails_with "put through a relative symlink" "/rel-out/pwned: $nd" "$FS_TOOL" "${D[@]}" put hello.txt /rel-out/pwned
fails_with "put through a nested symlink" "/sub/up-out/pwned: $nd" "$FS_TOOL" "${D[@]}" put hello.txt /sub/up-out/pwned
fails_with "overwrite through a symlink to a file" "/canary-link: not a regular file" "$FS_TOOL" "${D[@]}" put hello.txt /canary-link
fails_with "pwrite into a symlink to a file" "/canary-link: not a regular file" "$FS_TOOL" "${D[@]}" pwrite /canary-link 0 pwned
fails_with "truncate of a symlink to a file" "/canary-link: not a regular file" "$FS_TOOL" "${D[@]}" truncate 0 /canary-link
fails_with "mkdir through a symlink" "/abs-out/newdir: $nd" "$FS_TOOL" "${D[@]}" mkdir /abs-out/newdir
fails_with "symlink through a symlink" "/rel-out/s: $nd" "$FS_TOOL" "${D[@]}" symlink t /rel-out/s
fails_with "mknod through a symlink" "/abs-out/n: $nd" "$FS_TOOL" "${D[@]}" mknod /abs-out/n p
fails_with "rm through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" rm /abs-out/canary
fails_with "rmdir of a symlink to a directory" "/abs-out: $nd" "$FS_TOOL" "${D[@]}" rmdir /abs-out
fails_with "link from a path through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" link /abs-out/canary /stolen
fails_with "link into a path through a symlink" "/rel-out/hl: $nd" "$FS_TOOL" "${D[@]}" link /sub/file /rel-out/hl
fails_with "mv out through a symlink" "/rel-out/moved: $nd" "$FS_TOOL" "${D[@]}" mv /sub/file /rel-out/moved
fails_with "mv in through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" mv /abs-out/canary /stolen
fails_with "chmod through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" chmod 777 /abs-out/canary
fails_with "chmod of a symlink" "/canary-link: a symlink has no mode to change" "$FS_TOOL" "${D[@]}" chmod 777 /canary-link
fails_with "chown through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" chown 1:1 /abs-out/canary
fails_with "touch through a symlink" "/abs-out/canary: $nd" "$FS_TOOL" "${D[@]}" touch -d 0 /abs-out/canary
fails_with "copy-in through a symlink" "/abs-out(/t)?: [Nn]ot a directory" "$FS_TOOL" "${D[@]}" copy-in "$TMP/root/sub" /abs-out/t
is "$(snapshot)" "$SNAP" "nothing outside the root changed"

# Operations on the symlink itself are fine and stay inside.
run_ok "chown of a symlink changes the link only" "$FS_TOOL" "${D[@]}" chown 4242:4343 /canary-link
is "$(stat -c '%u:%g' root/canary-link) $(stat -c '%u:%g' outside/canary)" "4242:4343 0:0" "the link's owner changed, the target's did not"
run_ok "touch of a symlink sets the link's times" "$FS_TOOL" "${D[@]}" touch -d 1000000000.25 /canary-link
is "$(stat -c %.9Y root/canary-link)" "1000000000.250000000" "the link's mtime"
run_ok "hard link of a symlink links the symlink" "$FS_TOOL" "${D[@]}" link /passwd /passwd2
is "$(readlink root/passwd2) $(stat -c %h root/passwd)" "/etc/passwd 2" "passwd2 is the same symlink"
run_ok "rename of a symlink" "$FS_TOOL" "${D[@]}" mv /passwd2 /sub/passwd3
run_ok "rm of a symlink removes the link" "$FS_TOOL" "${D[@]}" rm /sub/passwd3
is "$("$FS_TOOL" "${D[@]}" readlink /x)" "../../.." "readlink of ../../.."
is "$(snapshot)" "$SNAP" "still nothing outside the root changed"

# ---- ordinary operations ---------------------------------------------------------
cat >edits <<EOF
mkdir-p /new/a/b
put $TMP/hello.txt /new/a/b/hello 0640
put $TMP/hello.txt /new/over
pwrite /new/over 1 ZZ
mv /new/a/b /new/moved
symlink /etc/passwd /new/abs
link /new/over /new/over-link
chmod 4711 /new/over
chown 1000:1001 /new/over
touch -d 1234567890.123456789 /new/over
mknod /new/null c 1 3 0666
mknod /new/bigdev b 300 70000 0600
mknod /new/fifo p 0600
touch /new/t
truncate 100000 /new/t
mkdir /new/gone
rmdir /new/gone
put $TMP/hello.txt /new/deleteme
rm /new/deleteme
EOF
run_ok "a batch of ordinary edits" "$FS_TOOL" "${D[@]}" batch <edits
is "$(stat -c '%A %u:%g %s %h %.9Y' root/new/over)" "-rws--x--x 1000:1001 6 2 1234567890.123456789" \
    "chmod (set-id kept across chown), chown, pwrite, link, touch with ns (stat)"
is "$(cat root/new/over)" "hZZlo" "pwrite in the middle"
is "$(stat -c '%A %s' root/new/moved/hello)" "-rw-r----- 6" "put with a mode, mkdir -p, rename of a directory"
is "$(stat -c '%F %t:%T %a' root/new/null) $(stat -c '%F %a' root/new/fifo) $(stat -c '%F %a' root/new/bigdev)" \
    "character special file 1:3 666 fifo 600 block special file 600" "mknod: devices and a fifo"
is "$(stat -c '%Hr:%Lr' root/new/bigdev)" "300:70000" "mknod: a 12:20-bit device number"
is "$(stat -c '%s %b' root/new/t)" "100000 0" "truncate leaves a hole"
[ ! -e root/new/gone ] && [ ! -e root/new/deleteme ]; ok $? "rmdir and rm"
is "$("$FS_TOOL" "${D[@]}" ls /new | tr '\n' ' ')" "a abs bigdev fifo moved null over over-link t " "ls"
is "$("$FS_TOOL" "${D[@]}" stat /new/over | sed -n 's/^\(mode\|uid\|nlink\|mtime\): //p' | tr '\n' ' ')" \
    "4711 1000 2 1234567890.123456789 " "stat through the backend"

fails_with "mkdir of an existing name" "/new: File exists" "$FS_TOOL" "${D[@]}" mkdir /new
fails_with "rmdir of a non-empty directory" "/new: Directory not empty" "$FS_TOOL" "${D[@]}" rmdir /new
fails_with "rm of a directory" "/new: Is a directory" "$FS_TOOL" "${D[@]}" rm /new
fails_with "rmdir of the root" "Device or resource busy" "$FS_TOOL" "${D[@]}" rmdir /
fails_with "directory into itself" "into itself" "$FS_TOOL" "${D[@]}" mv /new /new/moved/x
fails_with "read-only open refuses writes" "opened read-only" "$FS_TOOL" --ro "${D[@]}" mkdir /x2
fails_with "a root that is not a directory" "hello\.txt: dir: cannot open: $nd" "$FS_TOOL" --dir "$TMP/hello.txt" ls /

# copy-in and copy-out keep everything, with nanosecond times.
mkdir -p src/d/e && echo a >src/d/e/f && head -c 100000 /dev/urandom >src/d/big
truncate -s 10M src/sparse && echo tail | dd of=src/sparse bs=1 seek=9000000 conv=notrunc status=none
ln src/d/e/f src/d/hard; ln -s ../d/e/f src/d/rel; mkfifo src/fifo; mknod src/dev c 4 5
chmod 2750 src/d; chown 7:8 src/d/e/f; chown -h 9:10 src/d/rel
find src -exec touch -h -d '2003-04-05 06:07:08.123456789' {} +
listing () { (cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%U:%G|%s|%T@|%l|%n\n' | awk -F'|' -v OFS='|' '$2 == "d" { $5 = "" } { print }' | LC_ALL=C sort); }
run_ok "copy-in" "$FS_TOOL" "${D[@]}" copy-in "$TMP/src" /copied
is "$(listing root/copied)" "$(listing src)" "copy-in: types, modes, owners, sizes, ns mtimes, link targets, link counts"
cmp -s src/d/big root/copied/d/big && cmp -s src/sparse root/copied/sparse; ok $? "copy-in: contents"
[ "$(stat -c %b root/copied/sparse)" -lt 100 ]; ok $? "copy-in: the sparse file stays sparse"
run_ok "copy-out" "$FS_TOOL" "${D[@]}" copy-out /copied "$TMP/back"
is "$(listing back)" "$(listing src)" "copy-out: everything as the source"

# chown needs root on the host: the kernel's answer is passed on.
mkdir nobody && echo x >nobody/f && chown -R 65534:65534 nobody
fails_with "chown without privileges" "nobody: dir: /f: Operation not permitted" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$FS_TOOL" --dir "$TMP/nobody" chown 0:0 /f
run_ok "unprivileged writes otherwise work" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$FS_TOOL" --dir "$TMP/nobody" put "$TMP/hello.txt" /g

is "$(snapshot)" "$SNAP" "at the end, nothing outside the root changed"
done_testing
