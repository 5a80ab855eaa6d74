#!/bin/bash
# Bad input: truncated and tiny images, looping or escaping EBR chains,
# GPTs with bad checksums or absurd (but checksummed) values, broken qcow2
# headers, things that are not images.  Each must make img-inspect exit
# non-zero, quickly, without crashing, with exactly one stderr line naming
# the image, the layer and the reason.  Then: an unprivileged user reads
# good raw and qcow2 images, and nothing (loop device, mount, dm node,
# qemu-nbd, socket directory) is left behind.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"

requires img-inspect
requires sfdisk
requires sgdisk
requires mke2fs
requires qemu-img
requires python3
requires jq
requires timeout
requires setpriv
requires losetup
requires pgrep
requires strace
requires_root   # to run img-inspect as nobody

plan 47

# Our qemu-nbd sockets go here, so that leftovers can be counted.
NBDTMP=$TMP/nbd
mkdir -p "$NBDTMP"
export TMPDIR=$NBDTMP

# expect_error NAME REGEX IMAGE: img-inspect IMAGE must fail with one line
# "img-inspect: IMAGE: LAYER: REASON" matching REGEX, within 20 seconds.
expect_error () {
    local name=$1 re=$2 img=$3
    fails_with "$name" "^img-inspect: $img: $re" timeout 20 img-inspect "$img"
}

# Edits of on-disk structures, queued with `edit IMAGE <<EOF` (one command
# a line) and applied by one run of apply_edits: python starts slowly.
cat >"$TMP/img.py" <<'EOF'
import os, struct, sys, zlib

def run(f, img, cmd, *a):
    def rd(off, n):
        f.seek(off); return f.read(n)
    def wr(off, b):
        f.seek(off); f.write(b)
    def lba_of(ss, lba):
        return lba + os.path.getsize(img) // ss if lba < 0 else lba
    if cmd == "put":            # OFFSET FORMAT VALUE...: struct.pack at OFFSET
        wr(int(a[0], 0), struct.pack(a[1], *[int(v, 0) for v in a[2:]]))
    elif cmd == "str":          # OFFSET TEXT: ASCII bytes (\x20 for a blank)
        wr(int(a[0], 0), a[1].encode().decode("unicode_escape").encode("latin-1"))
    elif cmd == "mbr-entry":    # SECTOR SLOT TYPE LBA SECTORS (+ 0x55AA)
        sec, slot, typ, lba, n = (int(v, 0) for v in a)
        wr(sec * 512 + 446 + 16 * slot, struct.pack("<B3xBxxxII", 0, typ, lba, n))
        wr(sec * 512 + 510, b"\x55\xaa")
    elif cmd == "gpt-put":      # SS LBA OFFSET FORMAT VALUE: a header field
        ss = int(a[0]); lba = lba_of(ss, int(a[1]))
        wr(lba * ss + int(a[2]), struct.pack(a[3], int(a[4], 0)))
    elif cmd == "gpt-fix":      # SS LBA [entries]: recompute the CRCs
        ss = int(a[0]); lba = lba_of(ss, int(a[1]))
        h = bytearray(rd(lba * ss, ss))
        hsize = struct.unpack_from("<I", h, 12)[0]
        elba, n, esz = struct.unpack_from("<QII", h, 72)
        if "entries" in a[2:]:
            struct.pack_into("<I", h, 88, zlib.crc32(rd(elba * ss, n * esz)))
        struct.pack_into("<I", h, 16, 0)
        struct.pack_into("<I", h, 16, zlib.crc32(bytes(h[:hsize])))
        wr(lba * ss, h)
    elif cmd == "gpt-entry-last":   # SS LBA INDEX VALUE: an entry's last LBA
        ss = int(a[0]); lba = lba_of(ss, int(a[1])); idx, val = int(a[2]), int(a[3], 0)
        elba, n, esz = struct.unpack_from("<QII", rd(lba * ss + 72, 16))
        wr(elba * ss + idx * esz + 40, struct.pack("<Q", val))
    elif cmd == "ebr-chain":    # EXT_LBA COUNT: COUNT one-sector logicals
        ext, count = int(a[0]), int(a[1])
        wr(446, struct.pack("<B3xBxxxII", 0, 5, ext, 2 * count + 2))
        wr(510, b"\x55\xaa")
        for k in range(count):
            e = ext + 2 * k
            wr(e * 512 + 446, struct.pack("<B3xBxxxII", 0, 0x83, 1, 1))
            if k + 1 < count:
                wr(e * 512 + 462, struct.pack("<B3xBxxxII", 0, 5, 2 * (k + 1), 2))
            wr(e * 512 + 510, b"\x55\xaa")
    else:
        sys.exit("unknown command " + cmd)

f = img = None
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    if w[0] == "file":
        if f:
            f.close()
        img = w[1]; f = open(img, "r+b")
    else:
        run(f, img, *w)
EOF
: >"$TMP/edits"
edit () { { echo "file $1"; cat; } >>"$TMP/edits"; }
apply_edits () { python3 "$TMP/img.py" <"$TMP/edits" || bail "img.py failed"; : >"$TMP/edits"; }

# Cases are queued too: case_add NAME REGEX IMAGE, checked by run_cases.
CASES=()
case_add () { CASES+=("$1"$'\t'"$2"$'\t'"$3"); }
run_cases () {
    local c name re img
    for c in "${CASES[@]}"; do
        IFS=$'\t' read -r name re img <<<"$c"
        expect_error "$name" "$re" "$img"
    done
    CASES=()
}

# ---- not images at all -----------------------------------------------------------

: >"$TMP/empty.img"
expect_error "zero-length file" "disk: .*(empty|0 bytes)" "$TMP/empty.img"
head -c 100 /dev/urandom >"$TMP/100b.img"
expect_error "100-byte file" "disk: .*100 bytes" "$TMP/100b.img"
mkdir "$TMP/dir.img"
expect_error "a directory" "disk: .*not a (regular )?file" "$TMP/dir.img"
expect_error "a nonexistent path" "disk: .*No such file" "$TMP/nonexistent.img"

# ---- truncated raw images ----------------------------------------------------------

new_image "$TMP/trunc-mbr.img" 32M
partition "$TMP/trunc-mbr.img" <<'EOF'
label: dos
start=2048, size=16384, type=83
start=18432, type=83
EOF
truncate -s 16M "$TMP/trunc-mbr.img"
expect_error "MBR image cut in half" "mbr: partition 2 .*(past the end|truncated)" "$TMP/trunc-mbr.img"

new_image "$TMP/gpt-ok.img" 16M
sgdisk -n 1:0:+4M -n 2:0:0 "$TMP/gpt-ok.img" >/dev/null 2>&1 || bail "sgdisk failed"
cp "$TMP/gpt-ok.img" "$TMP/trunc-gpt.img"
truncate -s 8M "$TMP/trunc-gpt.img"
expect_error "GPT image cut in half" "gpt: .*truncated" "$TMP/trunc-gpt.img"

# ---- EBR chains ---------------------------------------------------------------------

# An extended partition at sector 8192, 16384 long: EBR A at its start holds
# logical 5 and links to EBR B at 8192+2048, which holds logical 6 and ends
# the chain.  Each case is that chain with one edit.
EBR_BASE='mbr-entry 0 0 0x83 2048 2048
mbr-entry 0 1 0x05 8192 16384
mbr-entry 8192 0 0x83 1 1000
mbr-entry 8192 1 0x05 2048 2048
mbr-entry 10240 0 0x83 1 1000'
n=0
ebr_case () {  # NAME REGEX EDIT
    n=$((n + 1))
    new_image "$TMP/ebr-$n.img" 16M
    edit "$TMP/ebr-$n.img" <<<"$EBR_BASE"$'\n'"$3"
    case_add "$1" "$2" "$TMP/ebr-$n.img"
}
new_image "$TMP/ebr-ok.img" 16M
edit "$TMP/ebr-ok.img" <<<"$EBR_BASE"
ebr_case "first EBR links to itself" "mbr: .*loop" "mbr-entry 8192 1 0x05 0 2048"
ebr_case "second EBR links to itself" "mbr: .*loop" "mbr-entry 10240 1 0x05 2048 2048"
ebr_case "EBR chain A -> B -> A" "mbr: .*loop" "mbr-entry 10240 1 0x05 0 2048"
ebr_case "EBR link outside the extended partition" "mbr: .*outside the extended partition" \
    "mbr-entry 10240 1 0x05 20000 2048"
ebr_case "EBR link past the end of a 32-bit disk" "mbr: .*outside the extended partition" \
    "mbr-entry 10240 1 0x05 4000000000 2048"
ebr_case "logical partition outside its extended partition" "mbr: logical partition 6 .*outside" \
    "mbr-entry 10240 0 0x83 1 30000"
ebr_case "EBR without 0x55AA" "mbr: .*0x55AA" "put $((10240 * 512 + 510)) <H 0"
new_image "$TMP/ebr-long.img" 2M
edit "$TMP/ebr-long.img" <<<"ebr-chain 2048 300"
case_add "a strictly progressing chain of 300 EBRs" "mbr: more than 256 logical partitions" \
    "$TMP/ebr-long.img"
new_image "$TMP/ebr-200.img" 2M
edit "$TMP/ebr-200.img" <<<"ebr-chain 2048 200"

# ---- GPT ----------------------------------------------------------------------------

n=0
gpt_case () {  # NAME REGEX < EDITS
    n=$((n + 1))
    cp "$TMP/gpt-ok.img" "$TMP/gpt-$n.img"
    edit "$TMP/gpt-$n.img"
    case_add "GPT, $1" "$2" "$TMP/gpt-$n.img"
}
gpt_case "both header CRCs bad" "gpt: both GPT headers are damaged .*checksum" <<'EOF'
gpt-put 512 1 16 <I 0x12345678
gpt-put 512 -1 16 <I 0x12345678
EOF
# Absurd values with correct CRCs: the value checks must trip, not the CRC.
for spec in "entry count:80:4294967295:4294967295 entries" \
            "entry size:84:2147483648:entries of 2147483648 bytes" \
            "small entry size:84:16:entries of 16 bytes"; do
    IFS=: read -r what off val re <<<"$spec"
    gpt_case "absurd $what, CRCs fixed" \
        "gpt: both GPT headers are damaged \(primary: .*$re.*; backup: .*$re" <<EOF
gpt-put 512 1 $off <I $val
gpt-put 512 -1 $off <I $val
gpt-fix 512 1
gpt-fix 512 -1
EOF
done
gpt_case "entry array larger than the image, CRCs fixed" \
    "gpt: both GPT headers are damaged \(primary: .*outside the image.*; backup: .*outside the image" <<'EOF'
gpt-put 512 1 80 <I 4096
gpt-put 512 1 84 <I 4096
gpt-put 512 -1 80 <I 4096
gpt-put 512 -1 84 <I 4096
gpt-fix 512 1
gpt-fix 512 -1
EOF
gpt_case "absurd header size" "gpt: .*header size 65535" <<'EOF'
gpt-put 512 1 12 <I 65535
gpt-put 512 -1 12 <I 65535
EOF
gpt_case "an entry past the usable area, CRCs fixed" "gpt: partition 2 .*outside the usable area" <<'EOF'
gpt-entry-last 512 1 1 0xffffffffffff
gpt-fix 512 1 entries
gpt-entry-last 512 -1 1 0xffffffffffff
gpt-fix 512 -1 entries
EOF

# ---- LVM label (the probe reads it before the LVM layer does) -------------------

# A pv_header offset near 2^32 once wrapped the probe's bounds check: it
# must give the LVM layer's error, not a read far outside the buffer.
new_image "$TMP/pvoff.img" 1M
edit "$TMP/pvoff.img" <<'EOF'
str 512 LABELONE
put 520 <Q 1
put 532 <I 4294967280
str 536 LVM2\x20001
EOF
case_add "LVM label with a pv_header offset near 2^32" "lvm: " "$TMP/pvoff.img"

# ---- qcow2 ------------------------------------------------------------------------

new_image "$TMP/base.img" 64M
partition "$TMP/base.img" <<'EOF'
label: dos
start=2048, size=40000, type=83
start=43008, type=83
EOF
mk_ext "$TMP/base.img" $((2048 * 512)) $((40000 * 512)) ext4 c0c0c0c0-1111-4222-8333-444444444444 one
mk_ext "$TMP/base.img" $((43008 * 512)) $((88064 * 512)) ext4 d0d0d0d0-1111-4222-8333-444444444444 two
qemu-img convert -f raw -O qcow2 "$TMP/base.img" "$TMP/base.qcow2" || bail "qemu-img convert failed"
qcow2_case () {  # NAME REGEX FILE EDIT
    cp "$TMP/base.qcow2" "$TMP/$3"
    edit "$TMP/$3" <<<"$4"
    case_add "$1" "$2" "$TMP/$3"
}
qcow2_case "qcow2, version 99" "qcow2: .*version" version.qcow2 "put 4 >I 99"
qcow2_case "qcow2, cluster bits 40" "qcow2: .*cluster" cluster.qcow2 "put 20 >I 40"
qcow2_case "qcow2, L1 table far past the end" "qcow2: .*L1" l1.qcow2 "put 40 >Q 0x7fffffffffff0000"
head -c 50 "$TMP/base.qcow2" >"$TMP/header.qcow2"
case_add "qcow2, header cut at 50 bytes" "qcow2: .*header" "$TMP/header.qcow2"
cp "$TMP/base.qcow2" "$TMP/half.qcow2"
truncate -s $(( $(stat -c %s "$TMP/base.qcow2") / 2 )) "$TMP/half.qcow2"
case_add "qcow2 cut to half its size" "(qcow2|disk): .*(truncated|damaged|end of (the )?file|EOF|beyond|past)" \
    "$TMP/half.qcow2"

# ---- run them -----------------------------------------------------------------------

apply_edits

# The intact versions of what the cases edit read fine, and as built.
is "$(img-inspect --json "$TMP/ebr-ok.img" | jq -r '[.images[0].partitions[] | "\(.number):\(.start / 512):\(.size / 512)"] | join(" ")')" \
   "1:2048:2048 2:8192:16384 5:8193:1000 6:10241:1000" "crafted EBR chain, intact: read as built"
is "$(sfdisk --json "$TMP/ebr-ok.img" | jq -r '[.partitiontable.partitions[] | "\(.node | capture("(?<n>[0-9]+)$").n):\(.start):\(.size)"] | join(" ")')" \
   "1:2048:2048 2:8192:16384 5:8193:1000 6:10241:1000" "crafted EBR chain, intact: sfdisk reads the same"
is "$(img-inspect --json "$TMP/ebr-200.img" | jq -r '.images[0].partitions | "\(length) \(.[-1].number)"')" \
   "201 204" "a chain of 200 EBRs is fine: logicals 5-204"
is "$(img-inspect --json "$TMP/gpt-ok.img" | jq -r '.images[0] | "\(.partition_table.type) \(.partitions | length)"')" \
   "gpt 2" "crafted GPT, intact: 2 partitions"
is "$(img-inspect --json "$TMP/base.qcow2" | jq -r '[.images[0].format, (.images[0].partitions[] | .filesystem.label)] | join(" ")')" \
   "qcow2 one two" "qcow2, intact: both filesystems seen"

run_cases

# None of the failures left a server or a socket directory behind.
sleep 0.5
is "$(pgrep -f "qemu-nbd.*$TMP" | wc -l)" 0 "no qemu-nbd left after the qcow2 failures"
is "$(ls -A "$NBDTMP" | wc -l)" 0 "no socket directory left after the qcow2 failures"

# ---- an unprivileged user -------------------------------------------------------------

PUB=$(mktemp -d /tmp/img-tests-pub.XXXXXX) || bail "mktemp failed"
at_exit "rm -rf '$PUB'"
chmod 755 "$PUB"
mkdir -m 1777 "$PUB/tmp"
cp "$TMP/base.img" "$TMP/base.qcow2" "$PUB/"
chmod 644 "$PUB/base.img" "$PUB/base.qcow2"
cp "$TMP/base.img" "$PUB/secret.img"
chmod 600 "$PUB/secret.img"

as_nobody () { setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR="$PUB/tmp" "$@"; }
as_nobody true || bail "cannot run commands as nobody"

fails_with "unreadable file, as nobody" "^img-inspect: $PUB/secret.img: disk: .*Permission denied" \
    as_nobody timeout 20 img-inspect "$PUB/secret.img"

# What img-inspect and its qemu-nbd do, as system calls: no mount, no loop
# device, no device-mapper.  (LeakSanitizer cannot run under ptrace.)
traced_nobody () {
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -qq -o "$TMP/strace.$1" \
        -e trace=mount,umount2,fsopen,fsmount,move_mount,ioctl,open,openat \
        setpriv --reuid=nobody --regid=nogroup --clear-groups env TMPDIR="$PUB/tmp" \
        timeout 20 img-inspect --json "$PUB/$1"
}

want=$(img-inspect --json "$TMP/base.img" | jq -c '.images[0].partitions')
for img in base.img base.qcow2; do
    out=$(traced_nobody "$img" 2>"$TMP/err")
    ok $? "$img as nobody: img-inspect succeeds"
    is "$(cat "$TMP/err")" "" "$img as nobody: nothing on stderr"
    is "$(jq -c '.images[0].partitions' <<<"$out")" "$want" "$img as nobody: the same partitions and filesystems as root sees"
    # (The qcow2 one must show qemu-nbd's process too: strace followed it.)
    grep -q "$PUB/$img" "$TMP/strace.$img" \
        && [ "$(awk '{print $1}' "$TMP/strace.$img" | sort -u | wc -l)" -ge "$([ "$img" = base.qcow2 ] && echo 2 || echo 1)" ] \
        && ! grep -E 'mount\(|fsopen|fsmount|move_mount|LOOP_|DM_|/dev/loop|/dev/mapper|/dev/nbd' "$TMP/strace.$img"
    ok $? "$img as nobody: no mount, loop, device-mapper or kernel NBD call (strace)"
done
sleep 0.5
is "$(losetup -a | grep -c "$PUB")" 0 "no loop device on the images"
is "$(grep -c -e "$PUB" -e "$TMP" /proc/self/mountinfo)" 0 "nothing of ours in the mount table"
is "$(pgrep -u nobody -x qemu-nbd | wc -l)" 0 "no qemu-nbd of nobody's left"
is "$(ls -A "$PUB/tmp" | wc -l)" 0 "no socket directory left in nobody's TMPDIR"

done_testing
