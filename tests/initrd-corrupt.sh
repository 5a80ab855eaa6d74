#!/bin/bash
# Damaged and hostile initrds: truncated streams, garbage, absurd cpio
# headers, endless chains of empty segments, a decompression bomb,
# misaligned archives, names and symlinks that point out of the
# extraction directory.  Each must give one stderr line naming the file,
# "initrd" and the reason, a non-zero exit, quickly; extraction must never
# write outside its directory.
. "$top_srcdir/tests/functions.sh"
requires cpio; requires gzip; requires zstd; requires xz; requires lz4
requires bzip2; requires timeout

TOOL=$top_builddir/tests/initrd-tool
[ -x "$TOOL" ] || bail "$TOOL not built"
cd "$TMP" || bail "no $TMP"
# In a sanitizer build, reports go to files that the last test looks at
# (the tool often runs in pipelines, where stderr goes unnoticed).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/sanitizer"
T () { timeout 20 "$TOOL" "$@"; }

# ---- fixtures, made by the real tools ----------------------------------
mkdir -p src/etc src/usr/bin
head -c 300000 /dev/urandom > src/usr/bin/blob
seq 1 20000 > src/etc/numbers
echo hello > src/etc/hello
ln -s usr/bin src/bin
(cd src && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > good.cpio
zstd -q -c good.cpio > good.zst
gzip -9 -n -c good.cpio > good.gz
run_ok "fixture: the good archive reads" T list good.cpio

# newc NAME MODE DATA [NAMESIZE]: one hand-made member on stdout.
newc () {
    local name=$1 mode=$2 data=$3 ns=${4:-$(( ${#1} + 1 ))} hl=$((110 + ${#1} + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        7 "$mode" 0 0 1 0 "${#data}" 0 0 0 0 "$ns" 0
    printf '%s\0' "$name"
    head -c $(( (4 - hl % 4) % 4 )) /dev/zero
    printf '%s' "$data"
    head -c $(( (4 - ${#data} % 4) % 4 )) /dev/zero
}
trailer () { newc TRAILER!!! 0 ""; }
# put FILE OFFSET STRING: overwrite bytes in place.
put () { printf '%s' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# ---- truncated and corrupt streams ---------------------------------------
cat good.cpio > trunc-zstd.img
head -c $(( $(stat -c %s good.zst) - 100 )) good.zst >> trunc-zstd.img
off=$(stat -c %s good.cpio)
fails_with "truncated zstd tail" \
    "trunc-zstd\.img: initrd: zstd segment at offset $off: truncated zstd stream" \
    T list trunc-zstd.img
head -c $(( $(stat -c %s good.gz) - 9 )) good.gz > trunc-gz.img
fails_with "truncated gzip" "trunc-gz\.img: initrd: gzip segment at offset 0: truncated gzip stream" \
    T list trunc-gz.img
cp good.gz corrupt-gz.img
put corrupt-gz.img 5000 "XXXXXXXX"
fails_with "corrupt gzip" "corrupt-gz\.img: initrd: gzip segment at offset 0: corrupt gzip stream" \
    T list corrupt-gz.img
xz --check=crc32 -c good.cpio | head -c 20000 > trunc-xz.img
fails_with "truncated xz" "trunc-xz\.img: initrd: xz segment at offset 0: truncated xz stream" \
    T list trunc-xz.img
lz4 -q -c good.cpio > frame-lz4.img
fails_with "lz4 frame format (the kernel reads only lz4 -l)" \
    "frame-lz4\.img: initrd: lz4-frame segment at offset 0: lz4 frame format" T list frame-lz4.img
head -c 70000 good.cpio > trunc-cpio.img
fails_with "truncated uncompressed cpio" \
    "trunc-cpio\.img: initrd: cpio header at offset [0-9]+: (filesize [0-9]+ of .* exceeds|truncated header|the archive ends)" \
    T list trunc-cpio.img

# ---- garbage ----------------------------------------------------------------
{ cat good.cpio; printf 'GARBAGE!'; } > garbage.img
fails_with "garbage after the cpio" "garbage\.img: initrd: unknown data at offset $(stat -c %s good.cpio)\$" \
    T list garbage.img
{ cat good.gz; printf 'GARBAGE!'; } > garbage-gz.img
fails_with "garbage after a gzip stream" "garbage-gz\.img: initrd: unknown data at offset $(stat -c %s good.gz)\$" \
    T list garbage-gz.img
{ cat good.cpio; printf 'junk' | gzip -c; } > junk-in-gz.img
fails_with "a compressed stream that holds no cpio" \
    "junk-in-gz\.img: initrd: gzip segment at offset $(stat -c %s good.cpio): junk after the cpio data" \
    T list junk-in-gz.img
{ printf X; head -c 4095 /dev/urandom; } > random.img
fails_with "random bytes" "random\.img: initrd: unknown data at offset 0\$" T list random.img
head -c 65536 /dev/zero > zeros.img
fails_with "only zeros" "zeros\.img: initrd: no cpio archive" T list zeros.img

# ---- absurd headers ----------------------------------------------------------
cp good.cpio namesize.img; put namesize.img 94 FFFFFFF0
fails_with "absurd namesize" "namesize\.img: initrd: cpio header at offset 0: namesize 4294967280 is absurd" \
    T list namesize.img
# The second member (bin, a symlink) with a huge file size.
cp good.cpio filesize.img; put filesize.img $((112 + 54)) 7FFFFFFF
fails_with "absurd filesize" \
    "filesize\.img: initrd: cpio header at offset 112: filesize 2147483647 of (\./)?bin exceeds the [0-9]+ bytes left" \
    T list filesize.img
{ newc etc 040755 "" 3; trailer; } > nonul.img
fails_with "a name without NUL" "nonul\.img: initrd: cpio header at offset 0: name is not NUL-terminated within its namesize of 3" \
    T list nonul.img
{ newc "etc" 040755 ""; newc "etc/x" 0100644 "abc"; } > notrailer.img
fails_with "no TRAILER!!!" "notrailer\.img: initrd: cpio header at offset 236: the archive ends without TRAILER" \
    T list notrailer.img
cp good.cpio nonhex.img; put nonhex.img 14 0000000Z
fails_with "a header field that is not hex" "nonhex\.img: initrd: cpio header at offset 0: field mode is not hexadecimal" \
    T list nonhex.img
(cd src && find . | cpio -o -H odc --quiet) > odc.img
fails_with "old cpio format" "odc\.img: initrd: cpio header at offset 0: old portable cpio format \(070707\)" \
    T list odc.img

# ---- misaligned archives ------------------------------------------------------
{ printf '\0\0'; cat good.cpio; } > misaligned.img
fails_with "misaligned header" "misaligned\.img: initrd: cpio header at misaligned offset 2" \
    T list misaligned.img
# One zero byte, or two if one would land the archive on a boundary.
nz=$(( ($(stat -c %s good.gz) + 1) % 4 == 0 ? 2 : 1 ))
{ cat good.gz; head -c "$nz" /dev/zero; cat good.cpio; } > misaligned2.img
fails_with "misaligned header after a compressed segment" \
    "misaligned2\.img: initrd: cpio header at misaligned offset" T list misaligned2.img

# ---- endless chains ---------------------------------------------------------
# 8192 empty gzip streams after a good archive: each must hold an
# archive, or the walk stops at the first.
printf '' | gzip -c > empty.gz
for ((i = 0; i < 13; i++)); do cat empty.gz empty.gz > e2.gz; mv e2.gz empty.gz; done
cat good.cpio empty.gz > empties.img
fails_with "a chain of empty gzip segments" \
    "empties\.img: initrd: gzip segment at offset $(stat -c %s good.cpio): holds no cpio archive" T list empties.img
# Five thousand empty archives (a trailer each): segments are bounded.
trailer > t.cpio
for ((i = 0; i < 13; i++)); do cat t.cpio t.cpio > t2.cpio; mv t2.cpio t.cpio; done
fails_with "a chain of empty cpio archives" "t\.cpio: initrd: more than 4096 segments" T list t.cpio

# ---- a decompression bomb -------------------------------------------------------
mkdir -p bomb && head -c $((20 * 1024 * 1024)) /dev/zero > bomb/zeros
(cd bomb && echo zeros | cpio -o -H newc --quiet) | gzip -9 -c > bomb.img
diag "bomb: $(stat -c %s bomb.img) bytes of gzip"
start=$(date +%s)
fails_with "gzip bomb over --max-size 1M" \
    "^initrd-tool: bomb\.img: initrd: inflates past 1 MiB$" \
    T --max-size 1M list bomb.img
is "$(( $(date +%s) - start < 5 ))" 1 "bomb: refused within seconds"
run_ok "bomb: fine with a limit above its size" T --max-size 21M list bomb.img

# ---- hostile names and symlinks on extraction -----------------------------------
{ newc "../../imgtest-escaped" 0100644 "evil"; trailer; } > dotdot.img
is "$(T list dotdot.img | awk '{ print $6 }')" "../../imgtest-escaped" "a ../ name is listed as stored"
mkdir -p deep/a/b
fails_with "extract refuses a ../ name" \
    "dotdot\.img: initrd: member \"\.\./\.\./imgtest-escaped\" climbs out of the archive root; refusing to extract" \
    T extract dotdot.img deep/a/b/x
is "$(ls deep deep/a 2>/dev/null | grep -c imgtest-escaped)" 0 "nothing written above the extraction directory"

{ newc "/abs" 0100644 "abs"; newc "./dot" 0100644 "dot"; trailer; } > abs.img
is "$(T list abs.img | awk '{ print $6 }' | tr '\n' ' ')" "abs dot " "leading / and ./ are dropped from names"
run_ok "extract an archive with absolute names" T extract abs.img absx
is "$(cat absx/abs absx/dot)" "absdot" "absolute names land inside the directory"

mkdir -p outside
{ newc "lnk" 0120777 "$TMP/outside"; newc "lnk/file" 0100644 "via link";
  newc "up" 0120777 "../../.."; newc "up/escaped" 0100644 "via up"; trailer; } > links.img
run_ok "extract symlinks that point outside" T extract links.img linkx
is "$(readlink linkx/lnk) $(ls outside | wc -l)" "$TMP/outside 0" "a member under an outward symlink is not written through it"
is "$(cat linkx/escaped 2>/dev/null) $(ls "$TMP/.." | grep -c '^escaped$')" "via up 0" \
    "../../.. from the root stays at the root, as in the kernel"
# A symlink already in the directory is replaced, not followed.
mkdir -p pre outside2 && ln -s "$TMP/outside2" pre/dir
{ newc "dir" 040755 ""; newc "dir/file" 0100644 "inside"; trailer; } > pre.img
run_ok "extract over an existing symlink" T extract pre.img pre
is "$(cat pre/dir/file 2>/dev/null) $(ls outside2 | wc -l)" "inside 0" "the host symlink was replaced, not followed"

# ---- the same files read through a window -------------------------------
# Guests' initrds are read through a small window that moves with the
# walk (img_initrd_parse_read), not whole: every file above must give the
# same listing, or the same error, through a window of 1 byte (each
# header, magic and lz4 chunk split across reads), 7 bytes and 64 KiB.
n=0
for f in *.img *.cpio *.gz *.zst; do
    [ -f "$f" ] || continue
    want=$(T --max-size 21M list "$f" 2>&1; echo "rc=$?")
    for w in 1 7 64K; do
        [ "$w" = 1 ] && [ "$(stat -c %s "$f")" -gt 400000 ] && continue
        is "$(T --max-size 21M --window "$w" list "$f" 2>&1; echo "rc=$?")" "$want" \
            "$f through a $w-byte window: same listing or error"
        n=$((n + 1))
    done
done
diag "$n window comparisons"
is "$(T --window 7 cat good.zst usr/bin/blob | cmp - src/usr/bin/blob && echo same)" same \
    "a member's data read through a window is the member's data"
head -c 100 good.cpio > short.cpio
fails_with "a file that ends mid-header, through a window" \
    "short\.cpio: initrd: cpio header at offset 0: truncated header" T --window 64K list short.cpio

# ---- gzip: ISA-L against zlib --------------------------------------------
# Where ISA-L is built in (HAVE_ISAL, every amd64 build of the test suite:
# scripts/test.sh configures --with-isal) it inflates gzip segments; zlib
# does elsewhere.  The two must agree on every file: the same listing, or
# an error at the same place (the reason may be worded differently).
# Fixtures: the files above, header variants (a name, a comment, extra
# field, header CRC, reserved flags, another method), good.gz cut at 25
# places, and 120 copies with bits flipped (a fixed seed).
if grep -q '^#define HAVE_ISAL 1' "$top_builddir/config.h"; then
    python3 - <<'PY' || bail "gzip variants not made"
import random, struct, zlib
good = open("good.gz", "rb").read()
body = good[10:]
def hdr(flg, extra=b"", method=8):
    return bytes([0x1f, 0x8b, method, flg]) + b"\0\0\0\0\0\3" + extra
variants = {
    "name": hdr(0x08, b"initrd.cpio\0") + body,
    "comment": hdr(0x10, b"made by hand\0") + body,
    "extra": hdr(0x04, struct.pack("<H", 6) + b"AB\2\0xy") + body,
    "reserved": hdr(0x20) + body,
    "method7": hdr(0, method=7) + body,
    "crc": good[:-8] + bytes([good[-8] ^ 1]) + good[-7:],
    "isize": good[:-1] + bytes([good[-1] ^ 1]),
}
h = hdr(0x02)
variants["hcrc"] = h + struct.pack("<H", zlib.crc32(h) & 0xffff) + body
variants["badhcrc"] = h + struct.pack("<H", (zlib.crc32(h) + 1) & 0xffff) + body
for k, v in variants.items():
    open("gzv-%s.gzv" % k, "wb").write(v)
for i in range(25):             # 25 cuts from 1 byte to all but the last
    cut = 1 + i * (len(good) - 2) // 24
    open("gzv-cut%04d.gzv" % i, "wb").write(good[:cut])
rnd = random.Random(20261206)
for i in range(120):
    b = bytearray(good)
    for _ in range(rnd.choice((1, 1, 2, 8))):
        b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
    open("gzv-flip%03d.gzv" % i, "wb").write(b)
PY
    norm () { sed -E 's/(corrupt|truncated) gzip stream.*/bad gzip stream/'; }
    files=(*.img *.cpio *.gz *.zst *.gzv)
    timeout 300 "$TOOL" --gzip zlib --max-size 21M lists "${files[@]}" 2>&1 | norm > by-zlib
    timeout 300 "$TOOL" --gzip isal --max-size 21M lists "${files[@]}" 2>&1 | norm > by-isal
    is "$(grep -c '^== ' by-isal) $(grep -c '^rc=' by-isal) $(grep -c '^rc=' by-zlib)" \
        "${#files[@]} ${#files[@]} ${#files[@]}" "each backend read all ${#files[@]} files"
    is "$(diff by-zlib by-isal | head -20)" "" "ISA-L and zlib agree on all ${#files[@]} files"
    is "$(grep -c '^rc=0' by-isal) $(grep -c '^rc=1' by-isal)" \
        "$(grep -c '^rc=0' by-zlib) $(grep -c '^rc=1' by-zlib)" "as many read and refused by each"
    diag "$(grep -c '^rc=0' by-isal) files read, $(grep -c '^rc=1' by-isal) refused, by each"
    is "$(ls gzv-flip*.gzv gzv-cut*.gzv | wc -l)" 145 "120 flipped and 25 cut copies were compared"
    # The reasons themselves, as ISA-L words them.
    fails_with "ISA-L: a bad CRC32" "gzv-crc\.gzv: initrd: gzip segment at offset 0: corrupt gzip stream \(incorrect data check\)" \
        T --gzip isal list gzv-crc.gzv
    fails_with "ISA-L: a bad ISIZE" "gzv-isize\.gzv: initrd: gzip segment at offset 0: corrupt gzip stream \(incorrect data check\)" \
        T --gzip isal list gzv-isize.gzv
    fails_with "ISA-L: another method" "gzv-method7\.gzv: initrd: gzip segment at offset 0: corrupt gzip stream" \
        T --gzip isal list gzv-method7.gzv
    fails_with "ISA-L: reserved header flags" "gzv-reserved\.gzv: initrd: gzip segment at offset 0: corrupt gzip stream \(unknown header flags set\)" \
        T --gzip isal list gzv-reserved.gzv
    fails_with "ISA-L: cut short" "gzv-cut0005\.gzv: initrd: gzip segment at offset 0: truncated gzip stream" \
        T --gzip isal list gzv-cut0005.gzv
    fails_with "ISA-L: the bomb is bounded too" "^initrd-tool: bomb\.img: initrd: inflates past 1 MiB$" T --gzip isal --max-size 1M list bomb.img
else
    diag "built without ISA-L (configure found no libisal): zlib inflates gzip, compared above"
fi

is "$(cat "$TMP"/sanitizer.* 2>/dev/null | head -20)" "" "no sanitizer report"

done_testing
