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

# peak RSS in KiB of the tool listing FILE with --keep 64K
rss () { /usr/bin/time -f %M -o rss.out "$TOOL" --keep 64K list "$1" > list.out 2> err.out && cat rss.out; }

base=$(rss small.gz) || bail "listing the small initrd failed: $(cat err.out)"
diag "small initrd: peak RSS $base KiB"
for f in big.gzip big.zstd big.xz big-crc.gzip; do
    if peak=$(rss "$f"); then
        grow=$(( peak - base ))
        diag "$f: peak RSS $peak KiB, $grow KiB over the small one"
        ok $(( grow < 32 * 1024 ? 0 : 1 )) "$f: 200 MiB inside, listed in less than 32 MiB more"
    else
        ok 1 "$f: 200 MiB inside, listed in less than 32 MiB more"
        diag "$(cat err.out)"
    fi
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
rssw () { /usr/bin/time -f %M -o rss.out "$TOOL" --keep 64K --window 1M list "$1" > list.out 2> err.out && cat rss.out; }
basew=$(rssw small.gz) || bail "listing the small initrd through a window failed: $(cat err.out)"
if peak=$(rssw huge.img); then
    grow=$(( peak - basew ))
    diag "huge.img through a 1 MiB window: peak RSS $peak KiB, $grow KiB over the small one"
    ok $(( grow < 32 * 1024 ? 0 : 1 )) "huge.img: 184 MiB of file listed through a window in less than 32 MiB more"
else
    ok 1 "huge.img: 184 MiB of file listed through a window in less than 32 MiB more"
    diag "$(cat err.out)"
fi
like "$(cat list.out)" "^1 100644 [0-9]+ [0-9]+ 67108864 etc/random$" "huge.img: the member of the gzip segment is listed"
is "$("$TOOL" --window 1M segments huge.img | awk '{ print $4 }' | tr '\n' ' ')" "none gzip " \
    "huge.img: both segments found through the window"
is "$("$TOOL" --keep 64K cat big.zstd etc/zz-after)" "after" "small files' data is kept"
fails_with "a skipped member's data is not made up" "data/zeros: data not kept" \
    "$TOOL" --keep 64K cat big.zstd data/zeros
fails_with "extraction needs the data" "big.zstd: initrd: parsed without the members' data; cannot extract" \
    "$TOOL" --keep 64K extract big.zstd out
done_testing
