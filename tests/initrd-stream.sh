#!/bin/bash
# Streaming: an initrd's compressed segments are inflated through a small
# window into an incremental cpio reader, never whole, so listing one
# costs memory for its member names, not for what its members hold.  A
# 200 MiB file of zeros (a few hundred KiB of gzip, zstd or xz) must cost
# the listing well under 32 MiB more peak RSS than a tiny initrd on the
# same binary (measured as growth, so a sanitizer's own overhead cancels
# out); today's whole-segment inflate costs the full 200 MiB.
. "$top_srcdir/tests/functions.sh"
requires cpio; requires gzip; requires zstd; requires xz; requires /usr/bin/time

TOOL=$top_builddir/tests/initrd-tool
[ -x "$TOOL" ] || bail "$TOOL not built"
cd "$TMP" || bail "no $TMP"

# ---- fixtures, made by the real tools ----------------------------------
mkdir -p small/etc big/etc big/data
echo hello > small/etc/hello
echo hello > big/etc/hello
truncate -s 200M big/data/zeros
echo after > big/etc/zz-after
ln -s ../etc/hello big/data/link
(cd small && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -n > small.gz
for c in gzip zstd xz; do
    (cd big && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | $c -1 -c > big.$c
done
(cd big && find . | LC_ALL=C sort | cpio -o -H crc --quiet) | gzip -1 -n > big-crc.gzip

# rss FILE [OPTION...]: peak RSS in KiB of the tool listing FILE with
# --keep 64K (and the options)
rss () {
    local f=$1; shift
    /usr/bin/time -f %M -o rss.out "$TOOL" --keep 64K "$@" list "$f" > list.out 2> err.out && cat rss.out
}
# grows BASE FILE WHAT [OPTION...]: listing FILE peaks less than 32 MiB
# over BASE KiB
grows () {
    local base=$1 f=$2 what=$3 peak; shift 3
    if peak=$(rss "$f" "$@"); then
        diag "$f $*: peak RSS $peak KiB, $(( peak - base )) KiB over the small one"
        ok $(( peak - base < 32 * 1024 ? 0 : 1 )) "$what"
    else
        ok 1 "$what"
        diag "$(cat err.out)"
    fi
}

base=$(rss small.gz) || bail "listing the small initrd failed: $(cat err.out)"
diag "small initrd: peak RSS $base KiB"
for f in big.gzip big.zstd big.xz big-crc.gzip; do
    grows "$base" "$f" "$f: 200 MiB inside, listed in less than 32 MiB more"
    like "$(cat list.out)" "^0 100644 [0-9]+ [0-9]+ 209715200 data/zeros$" "$f: the big member is listed with its size"
    like "$(cat list.out)" "^0 100644 [0-9]+ [0-9]+ 6 etc/zz-after$" "$f: the member after it too"
    like "$(cat list.out)" "^0 120777 [0-9]+ [0-9]+ 12 data/link -> \.\./etc/hello$" "$f: symlink targets are kept"
done
# The input side: read through a window (as guests' initrds are), a file
# of 184 MiB (an uncompressed archive of 120 MiB, then a gzip one of
# 64 MiB of random data, which does not compress) costs the same small
# growth; read whole, it would cost the file.
mkdir -p rnd/etc mid/etc && head -c 64M /dev/urandom > rnd/etc/random
truncate -s 120M mid/etc/zeros
(cd mid && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > huge.img
(cd rnd && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 -n >> huge.img
diag "huge.img: $(stat -c %s huge.img) bytes"
basew=$(rss small.gz --window 1M) || bail "listing the small initrd through a window failed: $(cat err.out)"
grows "$basew" huge.img "huge.img: 184 MiB of file listed through a window in less than 32 MiB more" --window 1M
like "$(cat list.out)" "^1 100644 [0-9]+ [0-9]+ 67108864 etc/random$" "huge.img: the member of the gzip segment is listed"
is "$("$TOOL" --window 1M segments huge.img | awk '{ print $4 }' | tr '\n' ' ')" "none gzip " \
    "huge.img: both segments found through the window"
# A sink takes the data of the members not kept as it streams by (how
# img2pv stages an initrd's module files for depmod without holding
# them): each regular member over the keep size once, with its data,
# through a window split anywhere; the kept ones and symlinks not.
mkdir -p sk/a sk/b && head -c 300000 /dev/urandom > sk/a/one.ko && seq 1 50000 > sk/b/two.ko
echo small > sk/a/small && ln -s a/one.ko sk/link && head -c 70000 /dev/urandom > sk/a/three.ko
(cd sk && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | zstd -q -c > sk.zst
head -c $(( (4 - $(stat -c %s sk.zst) % 4) % 4 )) /dev/zero >> sk.zst
(cd sk && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >> sk.zst
for w in 7 1M; do
    rm -rf spill; "$TOOL" --keep 100 --window $w spill sk.zst spill > spill.out 2> err.out
    ok $? "spill through a $w-byte window"
    is "$(awk '{ print $4 }' spill.out | tr '\n' ' ')" "a/one.ko a/three.ko b/two.ko a/one.ko a/three.ko b/two.ko " \
        "$w: the sink gets each big regular member of both segments, in order, nothing else"
    same=0
    for i in 1 4; do cmp -s spill/$i sk/a/one.ko && same=$((same + 1)); done
    for i in 2 5; do cmp -s spill/$i sk/a/three.ko && same=$((same + 1)); done
    for i in 3 6; do cmp -s spill/$i sk/b/two.ko && same=$((same + 1)); done
    is "$same" 6 "$w: each member's data, byte for byte"
done
is "$("$TOOL" --keep 64K cat big.zstd etc/zz-after)" "after" "small files' data is kept"
fails_with "a skipped member's data is not made up" "data/zeros: data not kept" \
    "$TOOL" --keep 64K cat big.zstd data/zeros
fails_with "extraction needs the data" "big.zstd: initrd: parsed without the members' data; cannot extract" \
    "$TOOL" --keep 64K extract big.zstd out
done_testing
