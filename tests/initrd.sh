#!/bin/bash
# The initrd layer on real initramfs images: the cached Debian 12 guest's
# own initrd, its main segment repacked behind an early uncompressed cpio
# with every compression the kernel reads, and layers appended to them.
# Oracles: unmkinitramfs/lsinitramfs (initramfs-tools), cpio -t over each
# segment cut out with dd and decompressed by the real tool, and the
# guest's own kernel, booted in qemu, reading our appended layer.
. "$top_srcdir/tests/functions.sh"
requires_root   # unmkinitramfs keeps owners; the tree is root's
requires cpio; requires unmkinitramfs; requires lsinitramfs; requires lsinitrd; requires dd
requires gzip; requires zstd; requires xz; requires lz4; requires bzip2
requires cmp; requires diff; requires qemu-system-x86_64

TOOL=$top_builddir/tests/initrd-tool
[ -x "$TOOL" ] || bail "$TOOL not built"
tree=$(bash "$top_srcdir/tests/guests/debian-tree.sh") || bail "no Debian 12 tree (tests/guests/debian-tree.sh)"
ORIG=$(ls "$tree"/boot/initrd.img-* 2>/dev/null | head -1)
KERNEL=$(ls "$tree"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -f "$ORIG" ] && [ -f "$KERNEL" ] || bail "no kernel/initrd in $tree/boot"
diag "initrd $ORIG ($(stat -c %s "$ORIG") bytes), kernel $KERNEL"
cd "$TMP" || bail "no $TMP"
# In a sanitizer build, reports go to files that the last test looks at
# (the tool often runs in pipelines, where stderr goes unnoticed).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/sanitizer"

# ---- helpers --------------------------------------------------------------
# decomp NAME: decompresses one stream of NAME from stdin, with the real tool.
decomp () {
    case $1 in
        none) cat ;;
        gzip) gzip -dc ;;
        zstd) zstd -dcq ;;
        xz) xz -dc ;;
        lzma) xz --format=lzma -dc ;;
        lz4) lz4 -dcq ;;
        bzip2) bzip2 -dc ;;
        *) echo "decomp: unknown $1" >&2; return 1 ;;
    esac
}
# pack NAME: compresses stdin to stdout the way initrd builders do.
pack () {
    case $1 in
        none) cat ;;
        gzip) gzip -9 -n -c ;;
        zstd) zstd -q -c ;;
        xz) xz --check=crc32 -c ;;
        lzma) xz --format=lzma -c ;;
        lz4) lz4 -l -q -c ;;
        bzip2) bzip2 -9 -c ;;
    esac
}
# Names as cpio stores them, as we report them (no leading ./ or /).
norm () { sed -e 's|^\(\./\)*||' -e 's|^/*||' -e 's|^$|.|'; }
# scan NAME FILE: our view of FILE, read once (large images take seconds):
# FILE.segs ("index offset length compression uncompressed members") and
# FILE.list (one member a line: segment mode uid gid size name).
scan () {
    "$TOOL" segments "$2" > "$2.segs" && "$TOOL" list "$2" > "$2.list"
    ok $? "$1: parsed"
}
# seg_field FILE IDX FIELD
seg_field () { awk -v i="$2" -v f="$3" '$1 == i { print $f }' "$1.segs"; }
# oracle_seg FILE IDX: member names of segment IDX by dd + the real
# decompressor + cpio -t; fails if any of them complains.
oracle_seg () {
    local off len comp
    read -r _ off len comp _ _ < <(awk -v i="$2" '$1 == i' "$1.segs")
    [ -n "${comp:-}" ] || return 1
    dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none \
        | decomp "$comp" | cpio -t --quiet 2>/dev/null | norm
    local rc=("${PIPESTATUS[@]}")
    [ "${rc[0]}" = 0 ] && [ "${rc[1]}" = 0 ] && [ "${rc[2]}" = 0 ]
}
# ours_seg FILE IDX: our member names of segment IDX.
ours_seg () { awk -v i="$2" '$1 == i { print $6 }' "$1.list"; }
ours_all () { awk '{ print $6 }' "$1.list"; }
# same_lines NAME A B: two files with the same lines (diff shown on failure).
same_lines () {
    if cmp -s "$2" "$3" && [ -s "$2" ]; then ok 0 "$1"; else
        ok 1 "$1"; diag "$(wc -l < "$2") vs $(wc -l < "$3") lines"; diff "$2" "$3" | head -10 | while IFS= read -r l; do diag "$l"; done
    fi
}
# check_segments NAME FILE: per segment, our names = the oracle's.
check_segments () {
    local name=$1 file=$2 n i bad=0
    n=$(wc -l < "$file.segs")
    [ "$n" -gt 0 ] || bad=1
    for ((i = 0; i < n; i++)); do
        oracle_seg "$file" "$i" > oracle.$i || { bad=1; diag "segment $i: the real tools fail on it"; }
        ours_seg "$file" "$i" > ours.$i
        cmp -s oracle.$i ours.$i && [ -s ours.$i ] || { bad=1; diag "segment $i differs"; diff oracle.$i ours.$i | head -5; }
    done
    ok $bad "$name: every segment's members as cpio -t lists them ($n segments)"
}
# cat_is NAME FILE PATH EXPECTED-FILE
cat_is () {
    if "$TOOL" cat "$2" "$3" > cat.out && cmp -s cat.out "$4"; then ok 0 "$1"; else
        ok 1 "$1"; diag "cat $3: $(wc -c < cat.out) bytes, want $(wc -c < "$4")"; fi
}

# ---- the real initrd, as mkinitramfs wrote it ------------------------------
cp "$ORIG" orig.img
scan "Debian initrd" orig.img
while IFS= read -r l; do diag "segment $l"; done < orig.img.segs
rm -rf ref && unmkinitramfs "$ORIG" ref; ok $? "unmkinitramfs extracts it"
refmain=ref; [ -d ref/main ] && refmain=ref/main
lsinitramfs "$ORIG" 2>/dev/null | norm > ls.names
ours_all orig.img > ours.names
same_lines "Debian initrd: our list = lsinitramfs, in order" ls.names ours.names
check_segments "Debian initrd" orig.img
for p in init usr/sbin/lvm; do
    cat_is "Debian initrd: cat $p = unmkinitramfs's file" orig.img "$p" "$refmain/$p"
done
cat_is "Debian initrd: cat bin/sh resolves the bin -> usr/bin symlink" orig.img bin/sh "$refmain/usr/bin/sh"
mod=$(cd "$refmain" && find usr/lib/modules -name '*.ko*' | sort | head -1)
cat_is "Debian initrd: cat a kernel module" orig.img "$mod" "$refmain/$mod"

# Extraction against unmkinitramfs: same tree, bytes, types, modes, owners.
"$TOOL" extract orig.img x.orig; ok $? "Debian initrd: extracted"
diff -r --no-dereference x.orig "$refmain" > diff.out 2>&1
ok $? "extract: same files and bytes as unmkinitramfs (diff -r)"
head -5 diff.out | while IFS= read -r l; do diag "$l"; done
tree_attrs () {   # directory sizes depend on the filesystem, not the archive
    (cd "$1" && find . -printf '%p %y %m %U %G %s %l\n' | awk '$2 == "d" { $6 = "-" } 1' | LC_ALL=C sort)
}
tree_attrs x.orig > attrs.ours; tree_attrs "$refmain" > attrs.ref
same_lines "extract: same types, modes, owners, sizes, link targets" attrs.ref attrs.ours

# ---- the main segment repacked with every compression --------------------
# Its last segment is the main archive; cut out with dd and decompressed by
# the real tool (which must accept exactly the bytes we say it spans).
read -r _ moff mlen mcomp _ _ < <(tail -1 orig.img.segs)
dd if=orig.img bs=1M iflag=skip_bytes,count_bytes skip="$moff" count="$mlen" status=none \
    | decomp "$mcomp" > main.cpio
ok $? "main segment ($mcomp) cut out and decompressed by the real tool"
# An early uncompressed archive in front, as Debian's microcode hook makes.
rm -rf early && mkdir -p early/kernel/x86/microcode
head -c 20000 /dev/urandom > early/kernel/x86/microcode/GenuineIntel.bin
(cd early && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > early.cpio
# The full main segment behind it with zstd: Debian 12's usual format.
zstd -q -c main.cpio | cat early.cpio - > full-zstd.img
# Every compression on a smaller real archive (the main segment without
# most kernel modules, repacked by cpio from unmkinitramfs's tree), so
# that gzip -9 and xz stay quick; still some 20 MiB: several lz4 chunks,
# many bzip2 blocks.
cpio -t --quiet < main.cpio | grep -v -e '^usr/lib/modules/[^/]*/kernel/drivers/' \
    -e '^usr/lib/modules/[^/]*/kernel/fs/[^e]' -e '^usr/lib/modules/[^/]*/kernel/net/' > small.names
(cd "$refmain" && cpio -o -H newc --quiet < "$TMP/small.names") > small.cpio
diag "small archive: $(wc -l < small.names) members, $(stat -c %s small.cpio) bytes"
comps="none gzip zstd xz lzma lz4 bzip2"
for c in $comps; do
    (pack "$c" < small.cpio | cat early.cpio - > "var-$c.img") &
done
wait
for c in $comps; do
    img=var-$c.img
    scan "$c" "$img"
    is "$(seg_field "$img" 0 4) $(seg_field "$img" 1 4) $(wc -l < "$img.segs")" "none $c 2" \
        "$c: an uncompressed early segment, then $c"
    check_segments "$c" "$img"
    # lsinitramfs walks uncompressed archives with a dd per header field
    # (40 s here): for "none" the per-segment cpio -t above must do.
    if [ "$c" != none ]; then
        lsinitramfs "$img" | norm > ls.names; ours_all "$img" > ours.names
        same_lines "$c: our list = lsinitramfs" ls.names ours.names
    fi
    cat_is "$c: cat usr/sbin/lvm" "$img" usr/sbin/lvm "$refmain/usr/sbin/lvm"
    cat_is "$c: cat the early segment's microcode" "$img" kernel/x86/microcode/GenuineIntel.bin \
        early/kernel/x86/microcode/GenuineIntel.bin
done
scan "full zstd" full-zstd.img
is "$(seg_field full-zstd.img 1 4) $(seg_field full-zstd.img 1 5)" "zstd $(stat -c %s main.cpio)" \
    "full zstd: the whole main segment, decompressed size right"
check_segments "full zstd" full-zstd.img
cat_is "full zstd: cat $mod" full-zstd.img "$mod" "$refmain/$mod"

# ---- appended layers -------------------------------------------------------
# A base whose length is not a multiple of 4, so the padding shows.
cp full-zstd.img base.img
[ $(( $(stat -c %s base.img) % 4 )) -ne 0 ] || printf '\0\0' >> base.img
base_len=$(stat -c %s base.img)
marker="imgtest-$$-$RANDOM"
rm -rf layer && mkdir -p layer/conf/conf.d layer/imgtest/sub/deeper
echo "DPKG_ARCH=$marker" > layer/conf/arch.conf            # overrides a file
echo "IMGTEST=$marker" > layer/conf/conf.d/zz-imgtest        # a new file
head -c 200000 /dev/urandom > layer/imgtest/data.bin
chmod 600 layer/imgtest/data.bin
chmod 750 layer/imgtest
ln -s ../conf/arch.conf layer/imgtest/link
# /init replaced by a script that shows the overriding file and powers off.
cat > layer/init <<'EOF'
#!/bin/sh
mkdir -p /proc
mount -t proc -o nodev,noexec,nosuid proc /proc
echo "IMGTEST-BEGIN $(cat /conf/arch.conf) IMGTEST-END"
echo o > /proc/sysrq-trigger
sleep 60
EOF
chmod 755 layer/init
(cd layer && find . -mindepth 1 | norm | LC_ALL=C sort) > layer.names
scan "base" base.img

for c in none gzip zstd xz; do
    out=out-$c.img
    "$TOOL" append base.img "$out" "$c" layer; ok $? "append $c: done"
    scan "append $c" "$out"
    cmp -s -n "$base_len" base.img "$out"; ok $? "append $c: the original bytes are untouched"
    read -r idx off len comp _ n < <(tail -1 "$out.segs")
    is "$idx $comp $n" "2 $c $(wc -l < layer.names)" "append $c: a third segment, $c, with our members"
    gap=$(dd if="$out" bs=1 skip="$base_len" count=$((off - base_len)) status=none | tr -d '\0' | wc -c)
    if [ "$c" = none ]; then
        is "$((off % 4)) $((off > base_len)) $gap" "0 1 0" "append $c: layer at a 4-byte boundary after zero padding ($((off - base_len)) bytes)"
    else
        is "$((off - base_len)) $gap" "0 0" "append $c: a compressed layer right after the original, no padding (what lsinitramfs reads)"
    fi
    is "$((off + len))" "$(stat -c %s "$out")" "append $c: the layer ends the file"
    oracle_seg "$out" 2 | LC_ALL=C sort > oracle.layer
    same_lines "append $c: cpio -t over the layer lists our members" layer.names oracle.layer
    check_segments "append $c" "$out"
    is "$(wc -l < "$out.list")" "$(( $(wc -l < base.img.list) + $(wc -l < layer.names) ))" \
        "append $c: the original members plus ours"
    cat_is "append $c: lookup gives our overriding conf/arch.conf" "$out" conf/arch.conf layer/conf/arch.conf
    cat_is "append $c: our binary file" "$out" imgtest/data.bin layer/imgtest/data.bin
    cat_is "append $c: the original's files still there" "$out" usr/sbin/lvm "$refmain/usr/sbin/lvm"
    is "$("$TOOL" cat "$out" imgtest/link)" "../conf/arch.conf" "append $c: our symlink"
    is "$(awk '$1 == 2 && ($6 == "imgtest" || $6 == "imgtest/data.bin" || $6 == "init") { print $1, $2, $3, $4 }' "$out.list" | tr '\n' ' ')" \
        "2 40750 0 0 2 100600 0 0 2 100755 0 0 " "append $c: modes kept, owner root"
done

# gzip layers are made by ISA-L where it is built in (above), by zlib
# otherwise: zlib's too must read back through gzip and cpio -t.
"$TOOL" --gzip zlib append base.img out-gzip-zlib.img gzip layer; ok $? "append gzip through zlib: done"
scan "append gzip through zlib" out-gzip-zlib.img
oracle_seg out-gzip-zlib.img 2 | LC_ALL=C sort > oracle.layer
same_lines "append gzip through zlib: cpio -t over the layer lists our members" layer.names oracle.layer
if grep -q '^#define HAVE_ISAL 1' "$top_builddir/config.h"; then
    ! cmp -s out-gzip.img out-gzip-zlib.img
    ok $? "append gzip: ISA-L made the default layer, not zlib (the bytes differ)"
fi

# Debian's own tools read what we extend (the layer compressed as the
# initrd's last segment is, as img2pv and img-ramify do): lsinitramfs
# lists the original's members (it stops at the first compressed
# archive's end: our layer is not listed), no error.
# (On the real initrd: base.img has zeros we added after its zstd frame.)
"$TOOL" append full-zstd.img lsi.img zstd layer; ok $? "append zstd to the early + zstd initrd"
scan "lsi" lsi.img
lsinitramfs lsi.img > lsi.out 2> lsi.err; ok $? "append zstd: lsinitramfs exits 0"
[ ! -s lsi.err ]; ok $? "append zstd: lsinitramfs says nothing on stderr"
awk '$1 != 2 { print $6 }' lsi.img.list | LC_ALL=C sort -u > orig.names
LC_ALL=C sort -u lsi.out | sed 's|^\./||' > lsi.names
is "$(LC_ALL=C comm -23 orig.names lsi.names | wc -l)" 0 "append zstd: lsinitramfs lists every original member"
# dracut's lsinitrd (skipcpio over the early archive, then the stream).
lsinitrd lsi.img > lsd.out 2> lsd.err; ok $? "append zstd: dracut's lsinitrd exits 0"
[ ! -s lsd.err ]; ok $? "append zstd: lsinitrd says nothing on stderr"
grep -q ' usr/sbin/lvm$' lsd.out; ok $? "append zstd: lsinitrd lists the original's main archive"
"$TOOL" --uid 1000 --gid 100 append var-gzip.img out-uid.img gzip layer
is "$("$TOOL" list out-uid.img | awk '$1 == 2 { print $3, $4 }' | sort -u)" "1000 100" "append --uid/--gid: owner given"
"$TOOL" append out-zstd.img out-twice.img none layer
scan "append twice" out-twice.img
is "$(awk '{ print $4 }' out-twice.img.segs | tr '\n' ' ')" "none zstd zstd none " \
    "append twice: an uncompressed layer after a zstd one"
check_segments "append twice" out-twice.img

# Extraction of the extended initrd: our files win, the rest is intact.
"$TOOL" extract out-zstd.img x.out; ok $? "extract the extended initrd"
cmp -s x.out/conf/arch.conf layer/conf/arch.conf && cmp -s x.out/init layer/init \
    && cmp -s x.out/imgtest/data.bin layer/imgtest/data.bin && cmp -s x.out/usr/sbin/lvm "$refmain/usr/sbin/lvm"
ok $? "extract: our overriding files, and the original's"
is "$(stat -c %a x.out/imgtest x.out/imgtest/data.bin x.out/init | tr '\n' ' ')$(readlink x.out/imgtest/link)" \
    "750 600 755 ../conf/arch.conf" "extract: modes and symlink"

# ---- the kernel reads our layer ----------------------------------------
# The guest's own kernel, in software emulation, with the extended initrd:
# our /init must run and print our overriding conf/arch.conf.
for c in none zstd xz; do
    start=$(date +%s)
    timeout 180 qemu-system-x86_64 -m 1024 -nographic -no-reboot \
        -kernel "$KERNEL" -initrd "out-$c.img" -append "console=ttyS0 panic=-1" \
        > "boot-$c.log" 2>&1 < /dev/null
    rc=$?
    grep -aq "IMGTEST-BEGIN DPKG_ARCH=$marker IMGTEST-END" "boot-$c.log"
    ok $? "boot with a $c layer: the kernel ran our /init and read our file (qemu exit $rc, $(( $(date +%s) - start )) s)"
    [ "$rc" = 0 ] || tail -5 "boot-$c.log" | while IFS= read -r l; do diag "$l"; done
done
is "$(cat "$TMP"/sanitizer.* 2>/dev/null | head -20)" "" "no sanitizer report"

done_testing
