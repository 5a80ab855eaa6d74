#!/bin/bash
# MBR ("dos") partition tables: primaries, an extended partition with
# logical partitions (and gaps between them), the active flag, assorted
# types and a partition ending on the image's last sector.  img-inspect's
# partition list must agree with three independent readers: sfdisk
# (libfdisk), parted (libparted) and partx (libblkid, for the PARTUUIDs),
# and with blkid for the filesystems; the same image as qcow2 must give the
# same list.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"

requires img-inspect
requires sfdisk
requires parted
requires partx
requires blkid
requires jq
requires mke2fs
requires mkswap
requires mkfs.vfat
requires qemu-img

plan 40

# ---- the images -----------------------------------------------------------

# A: 64 MiB, four primaries (the fourth runs to the last sector), the third
# extended with logical partitions 5, 6, 7 and gaps between them.
A=$TMP/mixed.img
new_image "$A" 64M
partition "$A" <<'EOF'
label: dos
label-id: 0x12345678
start=2048, size=8192, type=83, bootable
start=10240, size=4096, type=82
start=16384, size=65536, type=5
start=120000, type=ef
EOF
sfdisk -q --no-reread --no-tell-kernel -a "$A" >/dev/null <<'EOF' || bail "sfdisk -a failed"
start=18432, size=4096, type=8e
start=30000, size=2048, type=7
start=40000, size=20000, type=c
EOF
# Filesystems on some of them, for blkid to compare with.
mk_ext "$A" $((2048 * 512)) $((8192 * 512)) ext4 \
    7e1f4c1a-0d52-4b8a-9c55-3b9b7f0e2a11 root || bail "mke2fs p1 failed"
mk_ext "$A" $((18432 * 512)) $((4096 * 512)) ext2 \
    0b5c9e2e-5f6e-4d7a-8a4b-c2d8e9f0a1b2 "lv pv?" || bail "mke2fs p5 failed"
new_image "$TMP/swap.bin" $((4096 * 512))
mkswap -q -U 11111111-2222-3333-4444-555555555555 -L swp "$TMP/swap.bin" >/dev/null \
    || bail "mkswap failed"
dd if="$TMP/swap.bin" of="$A" bs=64k seek=$((10240 * 512)) oflag=seek_bytes \
    conv=notrunc,sparse status=none || bail "dd failed"
# (mkfs.vfat warns that the block count is not the rest of the file.)
mkfs.vfat --offset=40000 -i 1a2b3c4d -n BOOTFAT "$A" $((20000 / 2)) >/dev/null 2>&1 \
    || bail "mkfs.vfat failed"

# B: 32 MiB, a Linux-extended (0x85) partition running to the end of the
# image, primaries 3 and 4 unused, a bootable logical, the last logical
# ending on the last sector.
B=$TMP/ext85.img
new_image "$B" 32M
partition "$B" <<'EOF'
label: dos
label-id: 0xdeadbeef
start=2048, size=4096, type=83
start=8192, type=85
EOF
sfdisk -q --no-reread --no-tell-kernel -a "$B" >/dev/null <<'EOF' || bail "sfdisk -a failed"
start=10240, size=2048, type=83
start=16384, size=4000, type=82, bootable
start=24576, type=8e
EOF

# C: 16 MiB, four primaries, an unaligned first one, an 0x0f extended with
# one logical, the last primary on the last sector, bootable number 4.
C=$TMP/primaries.img
new_image "$C" 16M
partition "$C" <<'EOF'
label: dos
label-id: 0x00c0ffee
start=63, size=4033, type=7
start=4096, size=8192, type=f
start=12288, size=2048, type=c
start=14336, type=ef, bootable
EOF
sfdisk -q --no-reread --no-tell-kernel -a "$C" >/dev/null <<'EOF' || bail "sfdisk -a failed"
start=6144, size=4096, type=83
EOF

# D: a dos label with no partitions at all (the fuzzer's first find: an
# empty table once sorted a NULL array).
D=$TMP/empty-table.img
new_image "$D" 4M
partition "$D" <<'EOF'
label: dos
label-id: 0x0badf00d
EOF

# ---- the oracles ------------------------------------------------------------

# One line per partition: number start size type bootable (bytes).
ours_list () {
    img-inspect --json "$1" | jq -r '.images[0].partitions[]
        | "\(.number) \(.start) \(.size) \(.type) \(.bootable)"'
}
sfdisk_list () {
    sfdisk --json "$1" | jq -r '.partitiontable.partitions[]
        | "\(.node | capture("(?<n>[0-9]+)$").n) \(.start * 512) \(.size * 512) \(.type) \(.bootable // false)"' \
        | sort -n
}
# number kind, the kind derived from sfdisk's numbers and types.
ours_kinds () {
    img-inspect --json "$1" | jq -r '.images[0].partitions[] | "\(.number) \(.kind)"'
}
sfdisk_kinds () {
    sfdisk --json "$1" | jq -r '.partitiontable.partitions[]
        | (.node | capture("(?<n>[0-9]+)$").n | tonumber) as $n
        | "\($n) \(if (.type == "5" or .type == "f" or .type == "85") then "extended"
                    elif $n >= 5 then "logical" else "primary" end)"' | sort -n
}
# number start end size, as parted prints them (end inclusive).
ours_parted () {
    img-inspect --json "$1" | jq -r '.images[0].partitions[]
        | "\(.number) \(.start) \(.start + .size - 1) \(.size)"'
}
parted_list () {
    parted -s -m "$1" unit B print | awk -F: 'NR > 2 {
        sub(/B$/, "", $2); sub(/B$/, "", $3); sub(/B$/, "", $4); print $1, $2, $3, $4 }' \
        | sort -n
}
# number PARTUUID flags, as libblkid computes them.
ours_partx () {
    img-inspect --json "$1" | jq -r '.images[0].partitions[]
        | "\(.number) \(.uuid) \(if .bootable then "0x80" else "0x0" end)"'
}
partx_list () { partx -g -r -o NR,UUID,FLAGS "$1" | sort -n; }

# TYPE UUID LABEL of the filesystem at OFFSET (SIZE bytes).
ours_fs () {   # IMAGE NUMBER
    img-inspect --json "$1" | jq -r --argjson n "$2" '.images[0].partitions[]
        | select(.number == $n) | .filesystem
        | "\(.type) \(.uuid // "") \(.label // "")"'
}
blkid_fs () {  # IMAGE OFFSET SIZE
    local t
    for t in TYPE UUID LABEL; do
        blkid -p -O "$2" -S "$3" -o value -s "$t" "$1"
        [ "$t" = LABEL ] || printf ' '
    done | tr -d '\n'
    echo
}
sfdisk_start () { sfdisk --json "$1" | jq -r --argjson n "$2" '.partitiontable.partitions[]
    | select(.node | endswith("\($n)")) | .start * 512'; }
sfdisk_size () { sfdisk --json "$1" | jq -r --argjson n "$2" '.partitiontable.partitions[]
    | select(.node | endswith("\($n)")) | .size * 512'; }

# ---- the checks -------------------------------------------------------------

for spec in "$A:7" "$B:5" "$C:5"; do
    img=${spec%:*} count=${spec##*:}
    name=$(basename "$img")
    out=$(img-inspect --json "$img" 2>"$TMP/err") \
        && [ "$(jq '.images[0].partitions | length' <<<"$out")" = "$count" ]
    ok $? "$name: img-inspect --json succeeds and lists $count partitions"
    is "$(cat "$TMP/err")" "" "$name: nothing on stderr"
    is "$(jq -r '.images[0].partition_table | "\(.type) \(.id) \(.sector_size)"' <<<"$out")" \
       "dos $(sfdisk --json "$img" | jq -r '.partitiontable.id | ltrimstr("0x")') 512" \
       "$name: table type and disk id as sfdisk reads them"
    is "$(ours_list "$img")" "$(sfdisk_list "$img")" \
       "$name: number, start, size, type, bootable as sfdisk reads them"
    is "$(ours_kinds "$img")" "$(sfdisk_kinds "$img")" \
       "$name: primary/extended/logical as sfdisk numbers them"
    is "$(ours_parted "$img")" "$(parted_list "$img")" \
       "$name: number, start, end, size as libparted reads them"
    is "$(ours_partx "$img")" "$(partx_list "$img")" \
       "$name: PARTUUID and flags as libblkid computes them"
    is "$(blkid -p -o value -s PTUUID "$img") $(blkid -p -o value -s PTTYPE "$img")" \
       "$(jq -r '.images[0].partition_table | "\(.id) \(.type)"' <<<"$out")" \
       "$name: blkid's PTUUID and PTTYPE"

    qemu-img convert -f raw -O qcow2 "$img" "$img.qcow2" || bail "qemu-img convert failed"
    qout=$(img-inspect --json "$img.qcow2")
    is "$(jq -r '.images[0] | "\(.format) \(.size)"' <<<"$qout")" \
       "qcow2 $(stat -c %s "$img")" "$name.qcow2: format qcow2, same virtual size"
    is "$(jq -S -c '.images[0].partitions' <<<"$qout")" \
       "$(jq -S -c '.images[0].partitions' <<<"$out")" \
       "$name.qcow2: partitions identical to the raw image's"
done

# The partition on the last sector really ends there.
is "$(img-inspect --json "$A" | jq -r '.images[0].partitions[] | select(.number == 4) | .start + .size')" \
   "$(stat -c %s "$A")" "mixed.img: partition 4 ends on the image's last byte"
is "$(img-inspect --json "$B" | jq -r '.images[0].partitions[] | select(.number == 7) | .start + .size')" \
   "$(stat -c %s "$B")" "ext85.img: logical 7 ends on the image's last byte"

# Filesystems on primaries and logicals, against blkid at the same offsets.
for spec in 1:ext4 2:swap 5:ext2 7:vfat; do
    n=${spec%:*} type=${spec#*:}
    want=$(blkid_fs "$A" "$(sfdisk_start "$A" "$n")" "$(sfdisk_size "$A" "$n")")
    case $want in "$type "*) ;; *) want="(blkid does not see $type: $want)" ;; esac
    is "$(ours_fs "$A" "$n")" "$want" \
       "mixed.img: partition $n $type type, uuid, label as blkid probes them"
done

# A partition whose table type says one thing and whose bytes another is
# reported by its bytes (p7 is type c with a FAT in it, p5 type 8e with ext2).
is "$(img-inspect --json "$A" | jq -r '[.images[0].partitions[] | select(.number == 5 or .number == 7)
      | "\(.type):\(.filesystem.type)"] | join(" ")')" "8e:ext2 c:vfat" \
   "mixed.img: table type and filesystem type are independent"

out=$(img-inspect --json "$D" 2>"$TMP/err")
ok $? "empty-table.img: img-inspect --json succeeds"
is "$(cat "$TMP/err")" "" "empty-table.img: nothing on stderr"
is "$(jq -r '.images[0] | "\(.partition_table.type) \(.partition_table.id) \(.partitions | length)"' <<<"$out")" \
   "dos $(sfdisk --json "$D" | jq -r '.partitiontable | "\(.id | ltrimstr("0x")) \(.partitions // [] | length)"')" \
   "empty-table.img: a dos table with no partitions, as sfdisk reads it"

done_testing
