#!/bin/bash
# The ext2/3/4 backend, written in place and checked with e2fsprogs' own
# tools.  An ext4 with Debian 12's default features inside an LVM LV inside
# a qcow2, and ext2/ext3 on plain partitions, are read and edited through
# fs-tool (create, overwrite, rename over a file, delete, mkdir -p, short
# and long symlinks, hard links, chmod/chown/touch, device nodes, a copy-in
# of a ~2000-file tree with a sparse 5 GiB file); the images are then
# converted back to raw and checked independently: e2fsck -fn clean, and
# debugfs (rdump, cat, stat, ls -p) agreeing byte for byte and attribute
# for attribute with the source trees.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires sfdisk; requires mke2fs; requires e2fsck; requires debugfs
requires qemu-img; requires losetup; requires lvm; requires jq; requires cmp
requires_root
FS_TOOL=$top_builddir/tests/fs-tool
[ -x "$FS_TOOL" ] || bail "tests/fs-tool is not built"
cd "$TMP"

GiB=$((1024 * MiB))
LONG_TARGET=/usr/share/some/rather/long/path/that/cannot/live/inside/the/inode/target.conf

# ---- source trees --------------------------------------------------------

# mktree DIR NDIRS NSUB NFILES: nested directories of small files, their
# bytes cut from a random blob with shell builtins (a process per file
# would take a minute).
BLOB=$(head -c 40000 /dev/urandom | base64 -w0)
mktree () {
    local dir=$1 nd=$2 ns=$3 nf=$4 d s f n LC_ALL=C
    for ((d = 0; d < nd; d++)); do
        for ((s = 0; s < ns; s++)); do
            mkdir -p "$dir/d$d/s$s"
            for ((f = 0; f < nf; f++)); do
                n=$(( (d * 131 + s * 31 + f * 977) % 9000 ))
                printf '%s' "${BLOB:$(( (d * 7 + s * 3 + f) % 6000 )):$n}" >"$dir/d$d/s$s/f$f"
            done
        done
    done
}

# specials DIR: what trips up copiers: symlinks (absolute, relative, long,
# dangling, hard-linked), hard links, a fifo, device nodes (old and new
# encodings), odd modes, owners past 16 bits, odd names, a full directory.
specials () {
    local dir=$1 i
    mkdir -p "$dir/special" "$dir/many" "$dir/modes"
    ln -s /etc/passwd "$dir/special/abs"
    ln -s ../d0/s0/f1 "$dir/special/rel"
    ln -s "$LONG_TARGET" "$dir/special/longlink"
    ln -s nowhere "$dir/special/dangling"
    ln "$dir/d0/s0/f0" "$dir/special/hard0"
    ln "$dir/d0/s0/f0" "$dir/d0/s1/hard0b"
    ln "$dir/d0/s0/f3" "$dir/d0/s0/f3.link"
    ln -s target "$dir/special/sym-hard"
    ln "$dir/special/sym-hard" "$dir/special/sym-hard2"
    mkfifo -m 0640 "$dir/special/fifo"
    mknod -m 0660 "$dir/special/null" c 1 3
    mknod -m 0600 "$dir/special/loop9" b 7 9
    mknod -m 0644 "$dir/special/bigdev" c 300 70000
    : >"$dir/special/empty"
    head -c 4096 /dev/urandom >"$dir/special/oneblock"
    echo "spaces" >"$dir/special/name with spaces"
    echo "utf8" >"$dir/special/ünïcødé"
    echo "quotes" >"$dir/special/q'uo\"te"
    echo "dash" >"$dir/special/-dash"
    echo "long" >"$dir/special/$(printf 'n%.0s' {1..255})"
    for ((i = 0; i < 300; i++)); do echo "$i" >"$dir/many/m$i"; done
    echo a >"$dir/modes/m0000"; chmod 0000 "$dir/modes/m0000"
    echo b >"$dir/modes/m4755"; chmod 4755 "$dir/modes/m4755"
    echo c >"$dir/modes/m2711"; chmod 2711 "$dir/modes/m2711"
    echo d >"$dir/modes/m0444"; chmod 0444 "$dir/modes/m0444"
    mkdir "$dir/modes/sticky"; chmod 1777 "$dir/modes/sticky"
    mkdir "$dir/modes/closed"; echo e >"$dir/modes/closed/inside"; chmod 0500 "$dir/modes/closed"
    echo f >"$dir/modes/user"; chown 1000:1000 "$dir/modes/user"
    echo g >"$dir/modes/nobody"; chown 65534:65534 "$dir/modes/nobody"
    echo h >"$dir/modes/wide"; chown 123456:654321 "$dir/modes/wide"
    chown -h 4242:4343 "$dir/special/abs"
    # Times with nanoseconds, on everything (symlinks too), directories last.
    find "$dir" ! -type d -exec touch -h -d '2001-02-03 04:05:06.123456789' {} +
    touch -h -d '1999-12-31 23:59:59.987654321' "$dir/special/rel" "$dir/d0/s0/f2"
    find "$dir" -depth -type d -exec touch -d '2010-05-06 07:08:09.5' {} +
}

# island FILE OFFSET LENGTH: random bytes into FILE, noted in FILE.islands.
island () {
    head -c "$3" /dev/urandom | dd of="$1" oflag=seek_bytes seek="$2" conv=notrunc status=none
    echo "$2 $3" >>"$1.islands"
}

# mksparse DIR: files larger than 4 GiB, mostly holes (their islands are
# listed beside them, outside DIR).
mksparse () {
    local dir=$1
    mkdir -p "$dir"
    truncate -s $((5 * GiB)) "$dir/sparse"
    island "$dir/sparse" 0 100000
    island "$dir/sparse" $((GiB + 12345)) 5000
    island "$dir/sparse" $((4 * GiB + 777)) 70000
    island "$dir/sparse" $((5 * GiB - 4096)) 4096
    truncate -s $((4 * GiB + 100)) "$dir/tailhole"
    island "$dir/tailhole" 0 6
    mv "$dir"/*.islands .
    touch -d '2002-02-02 02:02:02.2' "$dir/sparse" "$dir/tailhole" "$dir"
}

# listing DIR MODE: one sorted line per entry.  full: type, mode, owner,
# size (not of directories), mtime in ns, link target, link count.
# nomtime: the same without times and link counts, regular files,
# directories and symlinks only.  rdump: what debugfs rdump restores (no
# device nodes or fifos, seconds, nothing but the target of a symlink, and
# no set-id bits: it chmods before it chowns).
listing () {
    (cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%U:%G|%s|%T@|%Ts|%l|%n\n') |
    awk -F'|' -v mode="$2" -v OFS='|' '
        $2 == "d" { $5 = "" }
        mode == "full" { print $1, $2, $3, $4, $5, $6, $8, $9; next }
        $2 == "c" || $2 == "b" || $2 == "p" || $2 == "s" { next }
        $2 == "l" { print $1, "l", "", "", "", "", $8; next }
        mode == "nomtime" { print $1, $2, substr($3, length($3) - 2), $4, $5, $8; next }
        { print $1, $2, substr($3, length($3) - 2), $4, $5, $7, $8 }' | LC_ALL=C sort
}

# same_listing NAME A B MODE
same_listing () {
    local a b
    a=$(listing "$2" "$4"); b=$(listing "$3" "$4")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then ok 0 "$1"; else
        ok 1 "$1"; diag "$(diff <(echo "$a") <(echo "$b") | head -20)"; fi
}

# same_content NAME A B: the same regular files with the same bytes (the
# symlink targets are in the listings).
same_content () {
    local a b
    a=$(cd "$2" && find . -type f -exec sha1sum {} + | LC_ALL=C sort -k2)
    b=$(cd "$3" && find . -type f -exec sha1sum {} + | LC_ALL=C sort -k2)
    if [ -n "$a" ] && [ "$a" = "$b" ]; then ok 0 "$1"; else
        ok 1 "$1"; diag "$(diff <(echo "$a") <(echo "$b") | head -20)"; fi
}

# extract FILE OFFSET LENGTH OUT: a filesystem's bytes, copied out of an
# image for debugfs to read (sparse, so cheap).  Long-lived loop devices
# are avoided: their numbers get reused, and a stale "losetup -d N" in
# another test's cleanup would pull one from under us.
extract () {
    dd if="$1" of="$4" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" conv=sparse status=none ||
        bail "cannot extract the filesystem from $1"
}

# fsck_clean NAME FILE OFFSET LENGTH: e2fsck -fn on a read-only loop device
# over the range, detached right after.
fsck_clean () {
    local out rc dev
    dev=$(losetup -f --show -r -o "$3" --sizelimit "$4" "$2") || bail "losetup failed"
    out=$(e2fsck -fn "$dev" 2>&1); rc=$?
    losetup -d "$dev"
    if [ $rc -eq 0 ]; then ok 0 "$1"; else ok 1 "$1"; diag "exit $rc" "$(echo "$out" | head -30)"; fi
}

# dstat DEV PATH: "type mode uid gid size links mtime" as debugfs sees
# them (mode as octal digits without leading zeros).
dstat () {
    local line t m u g s l mt ex sec
    line=$(debugfs -R "stat \"$2\"" "$1" 2>/dev/null | awk '
        /^Inode:/ { t = $4; if ($5 != "Mode:") t = t "-" $5
                    for (i = 1; i <= NF; i++) if ($i == "Mode:") m = $(i + 1) }
        /^User:/ { u = $2; g = $4; s = $NF }
        /^Links:/ { l = $2 }
        /^ *mtime:/ { mt = $2 }
        END { print t, m + 0, u, g, s, l, mt }')
    read -r t m u g s l mt <<<"$line"
    sec=$((${mt%%:*})); ex=0
    [ "${mt#*:}" != "$mt" ] && ex=$((0x${mt#*:}))
    if [ $((ex & 3)) -ne 0 ]; then sec=$((sec + (ex & 3) * 4294967296))
    elif [ "$sec" -ge 2147483648 ]; then sec=$((sec - 4294967296)); fi
    echo "$t $m $u $g $s $l $sec"
}

# hstat FILE: the same for a host file.
hstat () {
    stat -c '%F|%a|%u|%g|%s|%h|%Y' "$1" | awk -F'|' '{
        t = $1; sub(/ file$/, "", t)
        if (t == "regular empty") t = "regular"
        else if (t == "character special") t = "character-special"
        else if (t == "block special") t = "block-special"
        else if (t == "fifo") t = "FIFO"
        else if (t == "symbolic link") t = "symlink"
        print t, $2 + 0, $3, $4, $5, $6, $7 }'
}

# fstat_tool SPEC PATH: the same through fs-tool.
fstat_tool () {
    "$FS_TOOL" "$1" stat "$2" | awk -F': ' '
        { v[$1] = $2 }
        END { split(v["mtime"], a, "."); t = v["type"]
              if (t == "chardev") t = "character-special"
              else if (t == "blockdev") t = "block-special"
              else if (t == "fifo") t = "FIFO"
              print t, v["mode"] + 0, v["uid"], v["gid"], v["size"], v["nlink"], a[1] }'
}

# ---- the edits every filesystem gets -------------------------------------

head -c 100000 /dev/urandom >long.bin
echo "hello, world" >hello.txt
echo "short" >short.txt

# edit_batch: fs-tool batch commands under /edit.
edit_batch () {
    cat <<EOF
mkdir-p /edit/a/b/c
put $TMP/hello.txt /edit/a/b/c/hello 0640
put $TMP/long.bin /edit/over
put $TMP/short.txt /edit/over
pwrite /edit/over 2 XYZ
put $TMP/hello.txt /edit/victim
put $TMP/long.bin /edit/mover 0600
mv /edit/mover /edit/victim
mv /edit/a/b/c /edit/moved
mkdir /edit/a/b/renamed-dir
mv /edit/a/b/renamed-dir /edit/a/b/renamed-dir2
put $TMP/hello.txt /edit/deleteme
rm /edit/deleteme
mkdir /edit/emptydir
rmdir /edit/emptydir
mkdir /edit/gone
mkdir /edit/gone/sub
rmdir /edit/gone/sub
rmdir /edit/gone
symlink short /edit/s-short
symlink $LONG_TARGET /edit/s-long
link /edit/victim /edit/victim-link
chmod 4711 /edit/victim
chown 4242:4343 /edit/victim
touch -d 1000000000.5 /edit/victim
touch /edit/touched
mknod /edit/tty c 5 0 0620
mknod /edit/pipe p 0600
mknod /edit/bigdev c 300 70000 0600
touch /edit/trunc
truncate 1000000 /edit/trunc
put $TMP/long.bin /edit/shrink
truncate 5000 /edit/shrink
mkdir /edit/dirvictim
mkdir /edit/dirmover
put $TMP/hello.txt /edit/dirmover/inside
mv /edit/dirmover /edit/dirvictim
EOF
}

# edit_expected DIR: the same edits with the real tools.
edit_expected () {
    local d=$1/edit
    mkdir -p "$d/a/b/c"
    cp hello.txt "$d/a/b/c/hello"; chmod 0640 "$d/a/b/c/hello"
    cp short.txt "$d/over"; printf 'XYZ' | dd of="$d/over" bs=1 seek=2 conv=notrunc status=none
    cp long.bin "$d/victim"; chmod 0600 "$d/victim"
    mv "$d/a/b/c" "$d/moved"
    mkdir "$d/a/b/renamed-dir2"
    ln -s short "$d/s-short"; ln -s "$LONG_TARGET" "$d/s-long"
    ln "$d/victim" "$d/victim-link"
    chown 4242:4343 "$d/victim"; chmod 4711 "$d/victim"
    : >"$d/touched"
    mknod -m 0620 "$d/tty" c 5 0; mkfifo -m 0600 "$d/pipe"; mknod -m 0600 "$d/bigdev" c 300 70000
    truncate -s 1000000 "$d/trunc"
    head -c 5000 long.bin >"$d/shrink"
    mkdir "$d/dirvictim"; cp hello.txt "$d/dirvictim/inside"
}
mkdir expected && edit_expected expected

# check_edits TAG DEV: the edits as debugfs sees them.
check_edits () {
    local tag=$1 dev=$2 out
    rm -rf "rd-$tag"; mkdir "rd-$tag"
    debugfs -R "rdump /edit rd-$tag" "$dev" >/dev/null 2>&1
    same_content "$tag: edited files and symlinks have the expected bytes (debugfs rdump)" expected/edit "rd-$tag/edit"
    same_listing "$tag: edited entries have the expected types, modes, owners, sizes" expected/edit "rd-$tag/edit" nomtime
    is "$(dstat "$dev" /edit/victim)" "regular 4711 4242 4343 100000 2 1000000000" \
        "$tag: rename over a file, chmod, chown, touch, link count (debugfs stat)"
    is "$(debugfs -R "ls -p /edit" "$dev" 2>/dev/null | awk -F/ '$2 != 0 && ($6 == "victim" || $6 == "victim-link") { print $2 }' | sort -u | wc -l)" 1 \
        "$tag: hard link shares the inode"
    is "$(debugfs -R "stat /edit/tty" "$dev" 2>/dev/null | grep -o 'Device major/minor number: [0-9:]*')" \
        "Device major/minor number: 05:00" "$tag: char device 5:0 (old encoding)"
    is "$(debugfs -R "stat /edit/bigdev" "$dev" 2>/dev/null | grep -o 'Device major/minor number: [0-9:]*')" \
        "Device major/minor number: 300:70000" "$tag: char device 300:70000 (new encoding)"
    is "$(dstat "$dev" /edit/pipe | cut -d' ' -f1-3)" "FIFO 600 0" "$tag: fifo"
    is "$(debugfs -R "stat /edit/s-short" "$dev" 2>/dev/null | grep -o 'Fast link dest: .*')" \
        'Fast link dest: "short"' "$tag: short symlink is a fast symlink"
    out=$(debugfs -R "stat /edit/s-long" "$dev" 2>/dev/null)
    if ! echo "$out" | grep -q 'Fast link dest' && echo "$out" | grep -q 'Blockcount: [1-9]'; then
        ok 0 "$tag: long symlink lives in a block"; else ok 1 "$tag: long symlink lives in a block"; diag "$out"; fi
}

# check_tree TAG DEV SRC GUESTDIR: a copied-in tree as debugfs sees it.
check_tree () {
    local tag=$1 dev=$2 src=$3 gdir=$4 name
    name=$(basename "$gdir")
    rm -rf "rt-$tag"; mkdir "rt-$tag"
    debugfs -R "rdump $gdir rt-$tag" "$dev" >/dev/null 2>&1
    same_content "$tag: copy-in: every file and symlink byte-identical (debugfs rdump)" "$src" "rt-$tag/$name"
    same_listing "$tag: copy-in: types, modes, owners, sizes, mtimes as the source (debugfs rdump)" "$src" "rt-$tag/$name" rdump
    ok_all=0
    for f in special/null special/bigdev special/loop9 special/fifo modes/m4755 modes/m2711 modes/wide special/longlink d0/s0/f2; do
        [ "$(dstat "$dev" "$gdir/$f")" = "$(hstat "$src/$f")" ] || { ok_all=1; diag "$f: $(dstat "$dev" "$gdir/$f") vs $(hstat "$src/$f")"; }
    done
    ok $ok_all "$tag: copy-in: devices, fifo, set-id modes, wide owners, mtimes (debugfs stat)"
    is "$(debugfs -R "stat $gdir/special/bigdev" "$dev" 2>/dev/null | grep -o 'Device major/minor number: [0-9:]*')" \
        "Device major/minor number: 300:70000" "$tag: copy-in: device with a 12:20-bit number"
    is "$(debugfs -R "ls -p $gdir/special" "$dev" 2>/dev/null | awk -F/ '$2 != 0 && ($6 == "sym-hard" || $6 == "sym-hard2") { print $2 "/" $3 }' | sort -u | wc -l)" 1 \
        "$tag: copy-in: hard-linked symlink stays one inode"
    is "$(dstat "$dev" "$gdir/special/hard0" | cut -d' ' -f6)" 3 "$tag: copy-in: hard link count"
}

# runs DEV PATH: "logical physical count" for each mapped run of blocks
# of PATH, from debugfs stat (extent or block map; unwritten extents and
# the mapping's own blocks left out).
runs () {
    debugfs -R "stat \"$2\"" "$1" 2>/dev/null | awk '
        /^(EXTENTS|BLOCKS):/ { on = 1; next }
        on && /TOTAL:/ { sub(/TOTAL:.*/, "") }
        on { n = split($0, f, /, */)
             for (i = 1; i <= n; i++) {
                 if (f[i] !~ /^\([0-9]/ || f[i] ~ /\[u\]/) continue
                 split(f[i], a, ":"); l = a[1]; p = a[2]; gsub(/[()]/, "", l)
                 split(l, lr, "-"); split(p, pr, "-")
                 print lr[1], pr[1], (lr[2] == "" ? 1 : lr[2] - lr[1] + 1) } }'
}

# check_sparse TAG DEV SRC GUESTDIR: the big sparse files, checked from the
# block map debugfs reads: every mapped run holds the source's bytes, every
# island of data the source has lies in a mapped run, and the rest are
# holes (reading 5 GiB through debugfs cat takes minutes).
check_sparse () {
    local tag=$1 dev=$2 src=$3 gdir=$4 f bs size blocks l p n cnt bad total
    bs=$(dumpe2fs -h "$dev" 2>/dev/null | sed -n 's/^Block size: *//p')
    for f in sparse tailhole; do
        size=$(stat -c %s "$src/$f")
        bad=0 total=0
        is "$(dstat "$dev" "$gdir/$f" | cut -d' ' -f5)" "$size" "$tag: $f: size $size (debugfs stat)"
        runs "$dev" "$gdir/$f" >"$f.runs"
        while read -r l p n; do
            cnt=$(( size - l * bs < n * bs ? size - l * bs : n * bs ))
            total=$((total + n))
            cmp -s <(dd if="$dev" bs="$bs" skip="$p" count="$n" status=none | head -c "$cnt") \
                   <(dd if="$src/$f" iflag=skip_bytes,count_bytes skip=$((l * bs)) count="$cnt" bs=64K status=none) ||
                { bad=1; diag "$f: blocks $l+$n differ"; }
        done <"$f.runs"
        while read -r o len; do
            awk -v a=$((o / bs)) -v b=$(( (o + len - 1) / bs )) '
                { for (x = $1; x < $1 + $3; x++) if (x >= a && x <= b) seen[x] = 1 }
                END { for (x = a; x <= b; x++) if (!seen[x]) exit 1 }' "$f.runs" ||
                { bad=1; diag "$f: island at $o not mapped"; }
        done <"$f.islands"
        [ -s "$f.runs" ] || bad=1
        ok $bad "$tag: $f: every mapped block holds the source's bytes, every data island is mapped"
        if [ "$total" -gt 0 ] && [ $((total * bs)) -lt $((8 * MiB)) ]; then
            ok 0 "$tag: $f: $((total * bs / 1024)) KiB of data blocks for $size bytes"
        else ok 1 "$tag: $f stays sparse"; diag "mapped blocks: $total"; fi
    done
}

# random_writes SPEC TAG: 200 overlapping writes at random offsets and
# lengths (some block-aligned, into a preallocated range too) against the
# same writes done with dd on a host file.
random_writes () {
    local spec=$1 tag=$2 i off len str
    : >"rnd-$tag.ref"
    for ((i = 1; i <= 200; i++)); do
        off=$(( (RANDOM * 32768 + RANDOM) % 1200000 )); len=$(( RANDOM % 40000 + 1 ))
        if [ $((i % 5)) = 0 ]; then off=$((off / 4096 * 4096)); len=$(( (len / 4096 + 1) * 4096 )); fi
        str=${BLOB:$((RANDOM % 1000)):$len}
        [ ${#str} -lt "$len" ] && str=$str${BLOB:0:$((len - ${#str}))}
        echo "pwrite /rnd $off $str"
        printf '%s' "$str" | dd of="rnd-$tag.ref" oflag=seek_bytes seek="$off" conv=notrunc status=none
    done >"rnd-$tag.batch"
    # Read back in the same run as well, before the filesystem is closed:
    # most of the writes are still in the cache then, and a read this
    # large goes past it to the volume (ext-io.c lays the cache over it).
    { echo "touch /rnd"; cat "rnd-$tag.batch"; echo "read /rnd 0 $(stat -c %s "rnd-$tag.ref")"; } >"rnd-$tag.all"
    if "$FS_TOOL" "$spec" batch <"rnd-$tag.all" >"rnd-$tag.out" 2>"rnd-$tag.err"; then
        ok 0 "$tag: 200 random overlapping writes"
    else ok 1 "$tag: 200 random overlapping writes"; diag "$(head -20 "rnd-$tag.err")"; fi
    if cmp -s "rnd-$tag.out" "rnd-$tag.ref"; then ok 0 "$tag: random writes read back as dd wrote them, before the close"
    else ok 1 "$tag: random writes read back as dd wrote them, before the close"; fi
    if cmp -s <("$FS_TOOL" "$spec" cat /rnd) "rnd-$tag.ref"; then ok 0 "$tag: random writes read back as dd wrote them"
    else ok 1 "$tag: random writes read back as dd wrote them"; fi
}

# errors SPEC TAG: bad requests give one clear line and change nothing.
errors () {
    local spec=$1 tag=$2
    fails_with "$tag: mkdir of an existing name" "/edit: File exists" "$FS_TOOL" "$spec" mkdir /edit
    fails_with "$tag: rm of a directory" "Is a directory" "$FS_TOOL" "$spec" rm /edit
    fails_with "$tag: rmdir of a non-empty directory" "Directory not empty" "$FS_TOOL" "$spec" rmdir /edit
    fails_with "$tag: mv over a non-empty directory" "/edit/a: Directory not empty" "$FS_TOOL" "$spec" mv /edit/moved /edit/a
    fails_with "$tag: no path through a symlink" "special/abs/passwd: Not a directory" "$FS_TOOL" "$spec" cat /tree/special/abs/passwd
    fails_with "$tag: no write through a symlink" "Not a directory" "$FS_TOOL" "$spec" put hello.txt /tree/special/abs/pwned
    fails_with "$tag: .. refused" '"\.\." are not allowed' "$FS_TOOL" "$spec" ls /tree/../edit
    fails_with "$tag: relative path refused" "not absolute" "$FS_TOOL" "$spec" ls edit
    fails_with "$tag: missing file" "/nope: No such file or directory" "$FS_TOOL" "$spec" cat /nope
    fails_with "$tag: read-only open refuses writes" "opened read-only" "$FS_TOOL" --ro "$spec" mkdir /x
    fails_with "$tag: directory into itself" "into itself" "$FS_TOOL" "$spec" mv /edit /edit/moved/x
    fails_with "$tag: rmdir of the root" "Device or resource busy" "$FS_TOOL" "$spec" rmdir /
    fails_with "$tag: hard link to a directory" "cannot hard-link a directory" "$FS_TOOL" "$spec" link /edit /edit2
    fails_with "$tag: readlink of a file" "not a symbolic link" "$FS_TOOL" "$spec" readlink /edit/over
    fails_with "$tag: cat of a device" "not a regular file" "$FS_TOOL" "$spec" cat /edit/tty
    fails_with "$tag: symlink target longer than a block" "File name too long|longer than" "$FS_TOOL" "$spec" symlink "$(printf 'x%.0s' {1..5000})" /edit/toolong
}

# ---- ext4 in an LV in a qcow2 ----------------------------------------------

mktree src 20 5 20          # 2000 files in 120 directories
specials src
mksparse big
mkdir -p seed/pre && mktree seed/pre 2 2 5 && specials seed/pre
mkdir seed/pre/big && for ((i = 0; i < 500; i++)); do echo "$i" >"seed/pre/big/entry-with-a-longish-name-$i"; done
: >seed/rnd
# A file of several extents with holes between them and a partial last
# block (an unwritten extent is added below): what a read a run of blocks
# at a time has to get right.
head -c 307200 /dev/urandom >seed/mixed
head -c 200000 /dev/urandom | dd of=seed/mixed bs=64K oflag=seek_bytes seek=$((2 * MiB)) conv=notrunc status=none
head -c 5003 /dev/urandom | dd of=seed/mixed oflag=seek_bytes seek=$((3 * MiB + 100)) conv=notrunc status=none
touch -d '2010-05-06 07:08:09' seed/pre/big seed/pre
diag "source: $(find src -type f | wc -l) files, $(find src -type d | wc -l) directories, $(find src -type l | wc -l) symlinks"

new_image disk.raw $((1200 * MiB))
partition disk.raw <<EOF
label: dos
start=2048, type=8e
EOF
P1=$(part_start disk.raw 1); P1LEN=$(part_size disk.raw 1)
lvm_begin "disk.raw:$P1:$P1LEN"
PV=${LVM_LOOPS[0]}
lvm_q pvcreate -y "$PV" || bail "pvcreate failed"
lvm_q vgcreate vgt "$PV" || bail "vgcreate failed"
lvm_q lvcreate -an -Zn -y -L 12M -n swap vgt || bail "lvcreate failed"
lvm_q lvcreate -an -Zn -y -L 900M -n root vgt || bail "lvcreate failed"
PE_START=$(pvs --noheadings --units b --nosuffix -o pe_start "$PV" 2>/dev/null | tr -d ' ')
EXT=$(vgs --noheadings --units b --nosuffix -o vg_extent_size vgt 2>/dev/null | tr -d ' ')
RANGE=$(lvs --noheadings -o seg_pe_ranges vgt/root 2>/dev/null | tr -d ' ')
LVLEN=$(lvs --noheadings --units b --nosuffix -o lv_size vgt/root 2>/dev/null | tr -d ' ')
lvm_end
FIRST=${RANGE#*:}; FIRST=${FIRST%-*}
LVOFF=$((P1 + PE_START + FIRST * EXT))
diag "LV vgt/root: $LVLEN bytes at image offset $LVOFF"
[ "$LVLEN" -gt 0 ] && [ "$FIRST" -gt 0 ] || bail "could not place the LV"
# The filesystem is made in a file of the LV's size, prepared there, and
# copied into the LV's place in the image.
mke2fs -q -F -t ext4 -d seed pre.fs $((LVLEN / 1024))k >/dev/null || bail "mke2fs failed"
# Index the big directory (htree), as a long-lived guest would have it.
e2fsck -fyD pre.fs >/dev/null 2>&1
# An unwritten (preallocated) extent for the random writes to land in.
debugfs -w -R "fallocate /rnd 100 200" pre.fs >/dev/null 2>&1
debugfs -R "stat /rnd" pre.fs 2>/dev/null | grep -q '\[u\]' || bail "debugfs fallocate made no unwritten extent"
debugfs -w -R "fallocate /mixed 400 450" pre.fs >/dev/null 2>&1
debugfs -R "stat /mixed" pre.fs 2>/dev/null | grep -q '\[u\]' || bail "debugfs fallocate made no unwritten extent in /mixed"
e2fsck -fn pre.fs >/dev/null 2>&1 || bail "the prepared filesystem is not clean"
dd if=pre.fs of=disk.raw bs=1M oflag=seek_bytes seek=$LVOFF conv=notrunc,sparse status=none || bail "dd failed"
is "$(dumpe2fs -h disk.raw 2>/dev/null | sed -n 's/^Filesystem features: *//p')" "" \
    "the fs is not at the start of the image (it is inside the LV)"
features=$(dumpe2fs -h pre.fs 2>/dev/null | sed -n 's/^Filesystem features: *//p')
diag "ext4 features: $features"
for f in metadata_csum 64bit extent flex_bg huge_file dir_nlink dir_index; do
    case " $features " in *" $f "*) ;; *) bail "mke2fs did not enable $f";; esac
done
qemu-img convert -O qcow2 disk.raw disk.qcow2 || bail "qemu-img convert failed"
SPEC=disk.qcow2:vgt/root

# Reading an existing tree, against debugfs on the same bytes.
RDEV=pre.fs
is "$("$FS_TOOL" "$SPEC" info)" "ext4 vgt/root ro" "fs-tool opens the ext4 in the LV in the qcow2"
is "$("$FS_TOOL" "$SPEC" ls -p /pre | LC_ALL=C sort)" \
   "$(debugfs -R "ls -p /pre" "$RDEV" 2>/dev/null | grep -v '^/[0-9]*/[0-7]*/[0-9]*/[0-9]*/\.\{1,2\}/' | grep . | LC_ALL=C sort)" \
   "ls -p agrees with debugfs ls -p (inodes, modes, owners, names, sizes)"
ok_all=0
for p in /pre/d0/s0/f1 /pre/modes/m4755 /pre/modes/wide /pre/special/null /pre/special/fifo /pre/special/longlink /pre/big /pre/d1; do
    [ "$(fstat_tool "$SPEC" "$p")" = "$(dstat "$RDEV" "$p")" ] || { ok_all=1; diag "$p: $(fstat_tool "$SPEC" "$p") vs $(dstat "$RDEV" "$p")"; }
done 2>/dev/null
ok $ok_all "stat agrees with debugfs stat (type, mode, owner, size, links, mtime)"
ok_all=0
for p in /pre/d0/s0/f1 /pre/d1/s1/f4 /pre/special/oneblock /pre/modes/m0000; do
    cmp -s <("$FS_TOOL" "$SPEC" cat "$p") <(debugfs -R "cat $p" "$RDEV" 2>/dev/null) || { ok_all=1; diag "$p differs"; }
done
ok $ok_all "cat agrees with debugfs cat"
# Runs of blocks read whole: extents, holes, an unwritten extent, a partial
# last block, reads that start and end inside blocks or past the end.
debugfs -R "cat /mixed" "$RDEV" >mixed.ref 2>/dev/null
cmp -s mixed.ref seed/mixed; ok $? "/mixed: debugfs cat gives the source's bytes (the unwritten extent reads as zeros)"
cmp -s <("$FS_TOOL" "$SPEC" cat /mixed) mixed.ref; ok $? "/mixed: cat agrees with debugfs cat"
ok_all=0
for r in "0 1" "4095 2" "100 307100" "307000 2000000" "$((400 * 4096 - 10)) 100" \
         "$((451 * 4096 - 3)) 9" "$((2 * MiB + 199990)) 50" "$((3 * MiB + 5000)) 10000" \
         "$((3 * MiB + 5103)) 10" "1 $((4 * MiB))" "$((MiB + 1)) $((MiB + 4094))"; do
    set -- $r
    cmp -s <("$FS_TOOL" "$SPEC" read /mixed "$1" "$2") \
           <(dd if=mixed.ref iflag=skip_bytes,count_bytes skip="$1" count="$2" bs=64K status=none) ||
        { ok_all=1; diag "/mixed: read at $1 of $2 bytes differs"; }
done
ok $ok_all "/mixed: 11 reads at odd offsets and lengths give the bytes debugfs reads"
is "$("$FS_TOOL" "$SPEC" readlink /pre/special/longlink)" "$LONG_TARGET" "readlink of a slow symlink"
is "$("$FS_TOOL" "$SPEC" readlink /pre/special/abs)" "/etc/passwd" "readlink of a fast symlink"
"$FS_TOOL" "$SPEC" copy-out /pre pre-out 2>&1 | head -5
mkdir pre-rd && debugfs -R "rdump /pre pre-rd" "$RDEV" >/dev/null 2>&1
same_content "copy-out of a whole tree: bytes as debugfs rdump" pre-rd/pre pre-out
same_listing "copy-out of a whole tree: attributes as debugfs rdump" pre-rd/pre pre-out rdump
same_listing "copy-out of a whole tree: attributes, devices, hard links as the mke2fs -d source" seed/pre pre-out rdump
is "$(debugfs -R "htree_dump /pre/big" "$RDEV" 2>/dev/null | head -1)" "Root node dump:" "/pre/big is an htree directory"

# Writing: a batch of edits, then the 2000-file copy-in, then the big files.
sha_before=$(imgsum disk.qcow2)
run_ok "edits in one batch (qcow2, LV)" "$FS_TOOL" "$SPEC" batch < <(edit_batch)
for ((i = 0; i < 400; i++)); do echo "put $TMP/hello.txt /pre/big/added-$i"; done >more.batch
for ((i = 0; i < 500; i += 3)); do echo "rm /pre/big/entry-with-a-longish-name-$i"; done >>more.batch
run_ok "400 entries added to and 167 removed from the htree directory" "$FS_TOOL" "$SPEC" batch <more.batch
start=$(date +%s%N)
run_ok "copy-in of the 2000-file tree" "$FS_TOOL" "$SPEC" copy-in "$TMP/src" /tree
end=$(date +%s%N)
diag "copy-in of $(find src | wc -l) entries through qcow2+LVM took $(( (end - start) / 1000000 )) ms"
run_ok "copy-in of the sparse files" "$FS_TOOL" "$SPEC" copy-in "$TMP/big" /big
errors "$SPEC" ext4
random_writes "$SPEC" ext4
sha_after=$(imgsum disk.qcow2)
[ "$sha_before" != "$sha_after" ]; ok $? "the qcow2 was written in place"

# Reading back through our own stack: copy-out equals the source exactly
# (nanosecond times, devices, fifos, hard links).
"$FS_TOOL" "$SPEC" copy-out /tree tree-out 2>&1 | head -5
same_listing "copy-out after copy-in: every attribute as the source, ns mtimes, link counts" src tree-out full
same_content "copy-out after copy-in: every byte as the source" src tree-out

# Independent checks on the raw bytes.
qemu-img convert -O raw disk.qcow2 out.raw || bail "qemu-img convert failed"
fsck_clean "ext4 in LV in qcow2: e2fsck -fn is clean after all edits" out.raw $LVOFF "$LVLEN"
extract out.raw $LVOFF "$LVLEN" out.fs
ODEV=out.fs
check_edits ext4 "$ODEV"
check_tree ext4 "$ODEV" src /tree
check_sparse ext4 "$ODEV" big /big
is "$(debugfs -R "htree_dump /pre/big" "$ODEV" 2>/dev/null | head -1)" "Root node dump:" "/pre/big is still an htree directory"
debugfs -R "ls -p /pre/big" "$ODEV" 2>/dev/null | awk -F/ '$2 != 0 && $6 ~ /^(added|entry-with)/ { print $6 }' | LC_ALL=C sort >big.got
{ for ((i = 0; i < 400; i++)); do echo "added-$i"; done
  for ((i = 0; i < 500; i++)); do [ $((i % 3)) = 0 ] || echo "entry-with-a-longish-name-$i"; done; } | LC_ALL=C sort >big.want
if cmp -s big.got big.want; then ok 0 "htree directory: debugfs lists exactly the surviving and added entries"
else ok 1 "htree directory: debugfs lists exactly the surviving and added entries"; diag "$(diff big.want big.got | head)"; fi

# ---- ext2 and ext3 on plain partitions --------------------------------------

mkdir small && mktree small 3 3 10 && specials small
new_image parts.raw $((700 * MiB))
partition parts.raw <<EOF
label: dos
start=2048, size=600000, type=83
type=83
EOF
A=$(part_start parts.raw 1); ALEN=$(part_size parts.raw 1)
B=$(part_start parts.raw 2); BLEN=$(part_size parts.raw 2)
mke2fs -q -F -t ext2 -b 1024 -I 128 -O ^large_file -E offset=$A parts.raw $((ALEN / 1024))k >/dev/null || bail "mke2fs ext2 failed"
mke2fs -q -F -t ext3 -b 4096 -E offset=$B parts.raw $((BLEN / 1024))k >/dev/null || bail "mke2fs ext3 failed"
for n in 1 2; do
    spec=parts.raw:p$n
    tag=$([ $n = 1 ] && echo ext2 || echo ext3)
    is "$("$FS_TOOL" "$spec" info)" "$tag parts.raw:p$n ro" "$tag: detected"
    run_ok "$tag: edits in one batch" "$FS_TOOL" "$spec" batch < <(edit_batch)
    run_ok "$tag: copy-in of a tree" "$FS_TOOL" "$spec" copy-in "$TMP/small" /tree
    run_ok "$tag: copy-in of the sparse files" "$FS_TOOL" "$spec" copy-in "$TMP/big" /big
    errors "$spec" "$tag"
    random_writes "$spec" "$tag"
done
extract parts.raw "$A" "$ALEN" p1.fs; extract parts.raw "$B" "$BLEN" p2.fs
DA=p1.fs; DB=p2.fs
for n in 1 2; do
    if [ $n = 1 ]; then tag=ext2 dev=$DA off=$A len=$ALEN; else tag=ext3 dev=$DB off=$B len=$BLEN; fi
    fsck_clean "$tag: e2fsck -fn is clean after all edits" parts.raw "$off" "$len"
    check_edits "$tag" "$dev"
    check_tree "$tag" "$dev" small /tree
    check_sparse "$tag" "$dev" big /big
done
is "$(dumpe2fs -h "$DA" 2>/dev/null | grep -c '^Filesystem features:.*large_file')" 1 \
    "ext2: a file past 2 GiB turned on large_file"
# 128-byte inodes have no nanoseconds; 256-byte ones keep them.
"$FS_TOOL" parts.raw:p2 copy-out /tree ext3-out 2>&1 | head -5
same_listing "ext3: copy-out after copy-in: every attribute, ns mtimes, link counts" small ext3-out full
is "$("$FS_TOOL" parts.raw:p1 stat /tree/d0/s0/f2 | sed -n 's/^mtime: //p')" "$(stat -c %Y small/d0/s0/f2).000000000" \
    "ext2 with 128-byte inodes: mtime in seconds"

# ---- inline_data: read, and written where libext2fs can -----------------------

mkdir -p inl/d && echo small >inl/d/s && echo tiny >inl/x && head -c 10000 /dev/urandom >inl/d/big
ln -s "$LONG_TARGET" inl/d/longlink
mke2fs -q -F -t ext4 -O inline_data -d inl inline.fs 64M >/dev/null 2>&1 || bail "mke2fs -O inline_data failed"
debugfs -R "stat /d/s" inline.fs 2>/dev/null | grep -q "Size of inline data" || bail "mke2fs made no inline file"
is "$("$FS_TOOL" inline.fs cat /d/s)" "small" "inline_data: an inline file reads"
is "$("$FS_TOOL" inline.fs ls /d | tr '\n' ' ')" "big longlink s " "inline_data: an inline directory lists"
is "$("$FS_TOOL" inline.fs readlink /d/longlink)" "$LONG_TARGET" "inline_data: a symlink reads"
{ echo "mkdir /sub"; for ((i = 0; i < 40; i++)); do echo "put $TMP/hello.txt /sub/f$i"; done
  echo "symlink $LONG_TARGET /sub/l"; echo "mv /sub /sub2"; echo "mkdir /sub2/in"; echo "mv /sub2/in /in"
  echo "rm /x"; echo "put $TMP/long.bin /x"; echo "rmdir /in"; } >inline.batch
run_ok "inline_data: new directories and files take blocks and fill up" "$FS_TOOL" inline.fs batch <inline.batch
fails_with "inline_data: writing an inline file is refused" "/d/s: the file's data is stored in its inode \(inline_data\), which is not supported for writing" \
    "$FS_TOOL" inline.fs pwrite /d/s 0 X
fails_with "inline_data: adding to an inline directory is refused" "/d/new: the directory entries there are stored inline \(inline_data\)" \
    "$FS_TOOL" inline.fs put hello.txt /d/new
fails_with "inline_data: moving an inline directory is refused" "/d: the directory entries there are stored inline" \
    "$FS_TOOL" inline.fs mv /d /sub2/d
fsck_clean "inline_data: e2fsck -fn is clean" inline.fs 0 "$(stat -c %s inline.fs)"
cmp -s <(debugfs -R "cat /x" inline.fs 2>/dev/null) long.bin && same=same || same=differs
is "$(debugfs -R "ls -p /sub2" inline.fs 2>/dev/null | awk -F/ '$2 != 0 && $6 ~ /^f/' | wc -l) $same" \
    "40 same" "inline_data: debugfs sees the new entries and data"

done_testing
