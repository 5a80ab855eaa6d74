#!/bin/bash
# GUID partition tables: many partitions of many types, names in UTF-8
# (outside the BMP too), attributes, a numbering gap, a non-default entry
# count, 4096-byte sectors.  img-inspect must agree with sfdisk (libfdisk),
# parted (libparted), partx (libblkid) and sgdisk; a damaged primary header
# or entry array must fall back to the backup with one warning; both damaged
# must be one error line.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"

requires img-inspect
requires sfdisk
requires sgdisk
requires parted
requires partx
requires blkid
requires losetup
requires jq
requires python3   # attributes: jq holds numbers as doubles
requires qemu-img
requires_root   # the 4096-byte-sector table is written through a loop device

plan 54

# ---- the images -------------------------------------------------------------

# G1 (sgdisk): BIOS boot, EFI, Linux fs with attributes, LVM with a non-ASCII
# name, swap, then 6 and 7 left empty, 8 with a name outside the BMP, 9 with
# quote and backslash running to the last usable sector.
G1=$TMP/sgdisk.img
new_image "$G1" 128M
sgdisk -U 5B1A2C3D-4E5F-4071-8293-A4B5C6D7E8F9 \
    -n 1:2048:+1M -t 1:ef02 -c 1:"BIOS boot partition" -u 1:11111111-1111-4111-8111-111111111111 \
    -n 2:0:+8M -t 2:ef00 -c 2:"EFI System" \
    -n 3:0:+20M -t 3:8300 -c 3:"rootfs" -A 3:set:2 -A 3:set:60 -A 3:set:63 \
    -n 4:0:+16M -t 4:8e00 -c 4:"Ünïcødé ✓ 日本語" \
    -n 5:0:+8M -t 5:8200 -c 5:"swap" -A 5:set:0 \
    -n 8:0:+4M -t 8:8300 -c 8:"🐧 penguin" \
    -n 9:0:0 -t 9:8302 -c 9:'quote"back\slash' \
    "$G1" >/dev/null 2>&1 || bail "sgdisk failed"

# G2 (sfdisk): 200 entries instead of 128, first usable sector 2048,
# attributes written by libfdisk.
G2=$TMP/sfdisk.img
new_image "$G2" 40M
partition "$G2" <<'EOF'
label: gpt
label-id: 01234567-89AB-CDEF-0123-456789ABCDEF
table-length: 200
first-lba: 2048
start=2048, size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE, name="données", attrs="RequiredPartition GUID:52,55"
size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="Ελληνικά"
size=8192, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm", attrs="NoBlockIOProtocol LegacyBIOSBootable"
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="x"
EOF

# ---- helpers ----------------------------------------------------------------

inspect () { img-inspect --json "$@"; }

# number start size type-guid uuid (bytes, lower case), one per partition.
ours_list () {
    inspect "$1" | jq -r '.images[0].partitions[]
        | "\(.number) \(.start) \(.size) \(.type) \(.uuid)"'
}
sfdisk_list () {   # IMAGE-OR-DEVICE
    sfdisk --json "$1" | jq -r '.partitiontable as $t | $t.partitions[]
        | "\(.node | capture("(?<n>[0-9]+)$").n) \(.start * $t.sectorsize) \(.size * $t.sectorsize) \(.type | ascii_downcase) \(.uuid | ascii_downcase)"' \
        | sort -n
}
ours_names () { inspect "$1" | jq -r '.images[0].partitions[] | "\(.number) \(.name)"'; }
sfdisk_names () {
    sfdisk --json "$1" | jq -r '.partitiontable.partitions[]
        | "\(.node | capture("(?<n>[0-9]+)$").n) \(.name // "")"' | sort -n
}
ours_parted () {
    inspect "$1" | jq -r '.images[0].partitions[]
        | "\(.number) \(.start) \(.start + .size - 1) \(.size)"'
}
parted_list () {
    parted -s -m "$1" unit B print 2>/dev/null | awk -F: 'NR > 2 {
        sub(/B$/, "", $2); sub(/B$/, "", $3); sub(/B$/, "", $4); print $1, $2, $3, $4 }' \
        | sort -n
}
# number name, as parted prints them, for the partitions given.
parted_names () {
    local img=$1; shift
    parted -s -m "$img" unit B print 2>/dev/null | awk -F: -v want=" $* " \
        'NR > 2 && index(want, " " $1 " ") { print $1, $6 }' | sort -n
}
ours_names_of () {
    local img=$1; shift
    inspect "$img" | jq -r --arg want " $* " '.images[0].partitions[]
        | .number as $n | select($want | contains(" \($n) ")) | "\($n) \(.name)"'
}
ours_partx () {
    inspect "$1" | jq -r '.images[0].partitions[]
        | "\(.number) \(.start / 512) \(.size / 512) \(.uuid) \(.type)"'
}
partx_list () { partx -g -r -o NR,START,SECTORS,UUID,TYPE "$1" | sort -n; }

# Attributes as libfdisk spells them, and as sgdisk's hex.  Through python
# because jq holds numbers as doubles and attribute bit 63 does not fit.
ours_attrs () {
    inspect "$1" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["images"][0]["partitions"]:
    a = p["attributes"]
    s = [n for b, n in ((0, "RequiredPartition"), (1, "NoBlockIOProtocol"),
                        (2, "LegacyBIOSBootable")) if a >> b & 1]
    g = [str(b) for b in range(48, 64) if a >> b & 1]
    if g:
        s.append("GUID:" + ",".join(g))
    print(p["number"], " ".join(s), "%016X" % a)'
}
oracle_attrs () {
    local img=$1 n attrs
    sfdisk --json "$img" | jq -r '.partitiontable.partitions[]
        | "\(.node | capture("(?<n>[0-9]+)$").n) \(.attrs // "")"' | sort -n \
    | while read -r n attrs; do
        echo "$n $attrs $(sgdisk -i "$n" "$img" | sed -n 's/^Attribute flags: //p')"
    done
}

# flip IMAGE OFFSET: invert one byte.
flip () {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1") || bail "od failed"
    printf "$(printf '\\%03o' $(( b ^ 255 )))" \
        | dd of="$1" bs=1 seek="$2" conv=notrunc status=none || bail "dd failed"
}

# ---- well-formed tables -----------------------------------------------------

for spec in "$G1:7" "$G2:4"; do
    img=${spec%:*} count=${spec##*:}
    name=$(basename "$img")
    out=$(inspect "$img" 2>"$TMP/err") \
        && [ "$(jq '.images[0].partitions | length' <<<"$out")" = "$count" ]
    ok $? "$name: img-inspect --json succeeds and lists $count partitions"
    is "$(cat "$TMP/err")" "" "$name: nothing on stderr"
    is "$(jq -r '.images[0].partition_table | "\(.type) \(.id) \(.sector_size) \(.first_lba) \(.last_lba) \(.used_backup)"' <<<"$out")" \
       "$(sfdisk --json "$img" | jq -r '.partitiontable | "\(.label) \(.id | ascii_downcase) \(.sectorsize) \(.firstlba) \(.lastlba) false"')" \
       "$name: label, disk GUID, sector size, usable range as sfdisk reads them"
    is "$(ours_list "$img")" "$(sfdisk_list "$img")" \
       "$name: number, start, size, type GUID, partition GUID as sfdisk reads them"
    is "$(ours_names "$img")" "$(sfdisk_names "$img")" \
       "$name: partition names (UTF-8) as sfdisk reads them"
    is "$(ours_attrs "$img")" "$(oracle_attrs "$img")" \
       "$name: attributes as sfdisk and sgdisk read them"
    is "$(ours_parted "$img")" "$(parted_list "$img")" \
       "$name: number, start, end, size as libparted reads them"
    is "$(ours_partx "$img")" "$(partx_list "$img")" \
       "$name: start, size, PARTUUID, type as libblkid reads them"
    is "$(blkid -p -o value -s PTUUID "$img") $(blkid -p -o value -s PTTYPE "$img")" \
       "$(jq -r '.images[0].partition_table | "\(.id) \(.type)"' <<<"$out")" \
       "$name: blkid's PTUUID and PTTYPE"
done

# libparted cannot translate every name (not the one outside the BMP); it
# does the BMP ones, the non-ASCII one included.
is "$(ours_names_of "$G1" 1 2 3 4 5)" "$(parted_names "$G1" 1 2 3 4 5)" \
   "sgdisk.img: names of partitions 1-5 as libparted reads them"
is "$(inspect "$G1" | jq -r '.images[0].partitions[] | select(.number == 8) | .name')" \
   "🐧 penguin" "sgdisk.img: a name outside the BMP (UTF-16 surrogate pair) decodes"
is "$(inspect "$G1" | jq -r '.images[0].partitions[] | select(.number == 9) | .start + .size')" \
   "$(( ($(sfdisk --json "$G1" | jq .partitiontable.lastlba) + 1) * 512 ))" \
   "sgdisk.img: partition 9 ends on the last usable sector"
is "$(inspect "$G1" | jq -r '[.images[0].partitions[] | .type_name] | join(",")')" \
   "BIOS boot,EFI System,Linux filesystem,Linux LVM,Linux swap,Linux filesystem,Linux home" \
   "sgdisk.img: type names"

qemu-img convert -f raw -O qcow2 "$G1" "$G1.qcow2" || bail "qemu-img convert failed"
is "$(inspect "$G1.qcow2" | jq -S -c '.images[0] | [.format, .partition_table, .partitions]')" \
   "$(inspect "$G1" | jq -S -c '.images[0] | ["qcow2", .partition_table, .partitions]')" \
   "sgdisk.img.qcow2: same table and partitions as the raw image"

# ---- damaged primary, backup intact -----------------------------------------

GOOD=$(inspect "$G1" | jq -S -c '.images[0].partitions')
SIZE=$(stat -c %s "$G1")

# check_backup IMAGE WHAT: exit 0, one warning line naming the image and the
# backup, used_backup true, the same partitions as the intact image, and
# the same as libfdisk, which falls back to the backup as well.
check_backup () {
    local img=$1 what=$2 out err lines
    out=$(inspect "$img" 2>"$TMP/err"); ok $? "$what: img-inspect succeeds"
    err=$(cat "$TMP/err"); lines=$(grep -c . <<<"$err")
    if [ "$lines" -eq 1 ] && grep -q -- "$img: gpt: .*backup" <<<"$err" \
        && grep -qi warning <<<"$err"; then ok 0 "$what: one warning line naming the image and the backup"
    else ok 1 "$what: one warning line naming the image and the backup"; diag "$err"; fi
    is "$(jq -r '.images[0].partition_table.used_backup' <<<"$out")" true "$what: used_backup is true"
    is "$(jq -S -c '.images[0].partitions' <<<"$out")" "$GOOD" "$what: same partitions as the intact table"
}

cp "$G1" "$TMP/hdrcrc.img"
flip "$TMP/hdrcrc.img" $((512 + 16))            # the header's own CRC field
check_backup "$TMP/hdrcrc.img" "primary header CRC"
is "$(ours_list "$TMP/hdrcrc.img" 2>/dev/null)" "$(sfdisk_list "$TMP/hdrcrc.img" 2>/dev/null)" \
   "primary header CRC: libfdisk's fallback reads the same partitions"

cp "$G1" "$TMP/entries.img"
flip "$TMP/entries.img" $((1024 + 128 + 56))     # a name byte of entry 2
check_backup "$TMP/entries.img" "primary entry array"

cp "$G1" "$TMP/nosig.img"
dd if=/dev/zero of="$TMP/nosig.img" bs=512 seek=1 count=1 conv=notrunc status=none
check_backup "$TMP/nosig.img" "primary header wiped"

# ---- both damaged ------------------------------------------------------------

cp "$G1" "$TMP/both.img"
flip "$TMP/both.img" $((512 + 16))
flip "$TMP/both.img" $((SIZE - 512 + 16))
fails_with "both headers damaged: one error line naming image, gpt and the reason" \
    "^img-inspect: $TMP/both.img: gpt: .*(both|backup).*checksum" \
    timeout 20 img-inspect --json "$TMP/both.img"

cp "$G1" "$TMP/both-entries.img"
flip "$TMP/both-entries.img" $((1024 + 56))
flip "$TMP/both-entries.img" $((SIZE - 512 - 32 * 512 + 56))
fails_with "both entry arrays damaged: one error line naming image, gpt and the reason" \
    "^img-inspect: $TMP/both-entries.img: gpt: .*entr.*checksum" \
    timeout 20 img-inspect --json "$TMP/both-entries.img"

# ---- 4096-byte sectors ---------------------------------------------------------

# sfdisk here has no --sector-size: write and read the table through a loop
# device with 4 KiB logical sectors, which is what such a disk looks like.
G4=$TMP/4k.img
new_image "$G4" 64M
LOOP=$(losetup -f --show --sector-size 4096 "$G4") || bail "losetup --sector-size 4096 failed"
at_exit "losetup -d $LOOP 2>/dev/null"
[ "$(blockdev --getss "$LOOP")" = 4096 ] || bail "$LOOP does not have 4096-byte sectors"
sfdisk -q --no-reread --no-tell-kernel "$LOOP" >/dev/null <<'EOF' || bail "sfdisk on $LOOP failed"
label: gpt
label-id: 0D15EA5E-0000-4000-8000-000000004096
start=256, size=2048, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
size=4096, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm"
EOF
want_table=$(sfdisk --json "$LOOP" | jq -r '.partitiontable | "\(.id | ascii_downcase) \(.sectorsize) \(.firstlba) \(.lastlba)"')
want_list=$(sfdisk_list "$LOOP")
want_names=$(sfdisk_names "$LOOP")
want_parted=$(parted_list "$LOOP")
losetup -d "$LOOP"

out=$(inspect "$G4" 2>"$TMP/err") && [ "$(jq '.images[0].partitions | length' <<<"$out")" = 3 ]
ok $? "4k.img: img-inspect --json succeeds and lists 3 partitions"
is "$(cat "$TMP/err")" "" "4k.img: nothing on stderr"
is "$(jq -r '.images[0].partition_table | "\(.id) \(.sector_size) \(.first_lba) \(.last_lba)"' <<<"$out")" \
   "$want_table" "4k.img: disk GUID, 4096-byte sectors, usable range as sfdisk reads them"
is "$(ours_list "$G4")" "$want_list" "4k.img: partitions (bytes) as sfdisk reads them"
is "$(ours_names "$G4")" "$want_names" "4k.img: names as sfdisk reads them"
is "$(ours_parted "$G4")" "$want_parted" "4k.img: partitions as libparted reads them"

GOOD=$(jq -S -c '.images[0].partitions' <<<"$out")
SIZE=$(stat -c %s "$G4")
cp "$G4" "$TMP/4k-hdrcrc.img"
flip "$TMP/4k-hdrcrc.img" $((4096 + 16))
check_backup "$TMP/4k-hdrcrc.img" "4k: primary header CRC"
cp "$G4" "$TMP/4k-nosig.img"
dd if=/dev/zero of="$TMP/4k-nosig.img" bs=4096 seek=1 count=1 conv=notrunc status=none
check_backup "$TMP/4k-nosig.img" "4k: primary header wiped"
is "$(inspect "$TMP/4k-nosig.img" 2>/dev/null | jq -r '.images[0].partition_table.sector_size')" 4096 \
   "4k: the backup is found at 4096-byte sectors"
cp "$G4" "$TMP/4k-both.img"
flip "$TMP/4k-both.img" $((4096 + 16))
flip "$TMP/4k-both.img" $((SIZE - 4096 + 16))
fails_with "4k: both headers damaged: one error line" \
    "^img-inspect: $TMP/4k-both.img: gpt: .*both.*checksum" \
    timeout 20 img-inspect "$TMP/4k-both.img"

done_testing
