#!/bin/bash
# Filesystem and signature probing: every kind img-inspect names, made by
# its own tool with a chosen UUID and label, first as a whole-disk image,
# then copied into a partition of a GPT image.  type/uuid/label must be
# exactly what blkid -p (libblkid's low-level probe) reports for the same
# bytes.  Hostile labels must still give valid JSON.  (--backend native:
# signatures are the subject here, not what the appliance finds inside.)
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"

requires img-inspect
requires blkid
requires jq
requires sgdisk
requires mke2fs
requires tune2fs
requires mkfs.xfs
requires mkfs.btrfs
requires mkswap
requires mkfs.vfat
requires cryptsetup
requires pvcreate
requires_root   # pvcreate needs a block device: a loop device over the file

# ---- the fixtures (whole-disk images) ------------------------------------------

# name:size:blkid-type; made by mk_<name> FILE below.
FIXTURES=(
    ext2:8M:ext2
    ext3:16M:ext3
    ext4:16M:ext4
    xfs:300M:xfs
    btrfs:120M:btrfs
    swap:8M:swap
    swap32k:8M:swap
    swap64k:8M:swap
    fat12:2M:vfat
    fat16:32M:vfat
    fat32:64M:vfat
    fatnolabel:2M:vfat
    luks1:8M:crypto_LUKS
    luks2:20M:crypto_LUKS
    pv:8M:LVM2_member
    pv3:8M:LVM2_member
    nouuid:4M:ext2
    full16:4M:ext2
    hostile:8M:ext4
)
HOSTILE_LABEL=$'q"uo\\te\x01\x1f\t!'
printf 'not a real secret' >"$TMP/key"
LUKS_OPTS=(--batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$TMP/key")

mk_ext2 ()    { mke2fs -q -F -t ext2 -U 0b1c2d3e-4f50-4172-8394-a5b6c7d8e9f0 -L ext2label "$1"; }
mk_ext3 ()    { mke2fs -q -F -t ext3 -U 1c2d3e4f-5061-4283-94a5-b6c7d8e9f001 -L "ext3 label" "$1"; }
mk_ext4 ()    { mke2fs -q -F -t ext4 -U 2d3e4f50-6172-4394-a5b6-c7d8e9f00112 -L ext4label "$1"; }
mk_xfs ()     { mkfs.xfs -q -f -m uuid=3e4f5061-7283-44a5-b6c7-d8e9f0011223 -L xfslabel "$1"; }
mk_btrfs ()   { mkfs.btrfs -q -f -U 4f506172-8394-45b6-87d8-e9f001122334 -L "btrfs label" "$1"; }
mk_swap ()    { mkswap -q -U 50617283-94a5-46c7-98e9-f00112233445 -L swaplabel "$1"; }
mk_swap32k () { mkswap -q -p 32768 -U 61728394-a5b6-47d8-a9f0-011223344556 -L swap32k "$1"; }
mk_swap64k () { mkswap -q -p 65536 -U 728394a5-b6c7-48e9-b001-122334455667 -L swap64k "$1"; }
mk_fat12 ()   { mkfs.vfat -F 12 -i 1a2b3c4d -n FAT12LABEL "$1"; }
mk_fat16 ()   { mkfs.vfat -F 16 -i 2b3c4d5e -n "FAT 16" "$1"; }
mk_fat32 ()   { mkfs.vfat -F 32 -i 3c4d5e6f -n FAT32 "$1"; }
mk_fatnolabel () { mkfs.vfat -i 00c0ffee "$1"; }
mk_luks1 ()   { cryptsetup luksFormat --type luks1 --uuid 8394a5b6-c7d8-49f0-8112-233445566778 "${LUKS_OPTS[@]}" "$1"; }
mk_luks2 ()   { cryptsetup luksFormat --type luks2 --uuid 94a5b6c7-d8e9-4a01-9223-344556677889 --label "luks two" "${LUKS_OPTS[@]}" "$1"; }
mk_pv_at ()   {  # FILE LABELSECTOR UUID
    lvm_begin "$1:0:$(stat -c %s "$1")"
    lvm_q pvcreate --labelsector "$2" -u "$3" --norestorefile "${LVM_LOOPS[0]}"
    local rc=$?
    lvm_end
    return $rc
}
mk_pv ()      { mk_pv_at "$1" 1 pvUUID-abcd-efgh-ijkl-mnop-qrst-uvwxyz; }
mk_pv3 ()     { mk_pv_at "$1" 3 pv3UID-0123-4567-89ab-cdef-ghij-klmnop; }
mk_nouuid ()  { mke2fs -q -F -t ext2 -L nouuid "$1" && tune2fs -U clear "$1"; }
mk_full16 ()  { mke2fs -q -F -t ext2 -U a5b6c7d8-e9f0-4112-a334-45566778899a -L 0123456789abcdef "$1"; }
mk_hostile () { mke2fs -q -F -t ext4 -U b6c7d8e9-f001-4223-b445-566778899aab -L "$HOSTILE_LABEL" "$1"; }

for f in "${FIXTURES[@]}"; do
    IFS=: read -r name size type <<<"$f"
    new_image "$TMP/$name.img" "$size"
    "mk_$name" "$TMP/$name.img" >"$TMP/mk.log" 2>&1 || { cat "$TMP/mk.log"; bail "mk_$name failed"; }
done

# The same bytes in the partitions of one GPT image, 1 MiB aligned.
DISK=$TMP/disk.img
args=() n=0
for f in "${FIXTURES[@]}"; do
    IFS=: read -r name size type <<<"$f"
    n=$((n + 1))
    args+=(-n "$n:0:+$size")
done
new_image "$DISK" 1G
sgdisk "${args[@]}" "$DISK" >/dev/null 2>&1 || bail "sgdisk failed"
n=0
for f in "${FIXTURES[@]}"; do
    IFS=: read -r name size type <<<"$f"
    n=$((n + 1))
    dd if="$TMP/$name.img" of="$DISK" bs=1M seek="$(part_start "$DISK" $n)" \
        oflag=seek_bytes conv=notrunc,sparse status=none || bail "dd $name failed"
done

# ---- helpers ----------------------------------------------------------------

# TYPE UUID LABEL from blkid's low-level probe (raw values, not the export
# format's escaping), optionally of the range OFFSET SIZE.
blkid_fs () {  # FILE [OFFSET SIZE]
    local file=$1 t range=()
    [ $# -eq 3 ] && range=(-O "$2" -S "$3")
    for t in TYPE UUID LABEL; do
        blkid -p "${range[@]}" -o value -s "$t" "$file"
        [ "$t" = LABEL ] || printf ' '
    done | tr -d '\n'
    echo
}
fs_line () { jq -r '"\(.type) \(.uuid // "") \(.label // "")"'; }
# want_of FILE TYPE [OFFSET SIZE]: blkid's line, guarded so that two empty
# answers cannot agree.
want_of () {
    local file=$1 type=$2; shift 2
    local w
    w=$(blkid_fs "$file" "$@")
    case $w in "$type "*) echo "$w" ;; *) echo "(blkid does not see $type: $w)" ;; esac
}

plan $((3 * ${#FIXTURES[@]} + 10))

# ---- whole-disk images ----------------------------------------------------------

for f in "${FIXTURES[@]}"; do
    IFS=: read -r name size type <<<"$f"
    out=$(img-inspect --backend native --json "$TMP/$name.img" 2>"$TMP/err")
    ok $? "$name: img-inspect succeeds on the whole-disk image"
    is "$(jq -c '.images[0].partition_table' <<<"$out") $(jq -r '.images[0].filesystem' <<<"$out" | fs_line)" \
       "null $(want_of "$TMP/$name.img" "$type")" \
       "$name: whole disk, no partition table; type, uuid, label as blkid"
done

# ---- the same in partitions -----------------------------------------------------

out=$(img-inspect --backend native --json "$DISK" 2>"$TMP/err")
ok $? "disk.img: img-inspect succeeds on the partitioned image"
is "$(cat "$TMP/err")" "" "disk.img: nothing on stderr"
n=0
for f in "${FIXTURES[@]}"; do
    IFS=: read -r name size type <<<"$f"
    n=$((n + 1))
    is "$(jq -r --argjson n $n '.images[0].partitions[] | select(.number == $n) | .filesystem' <<<"$out" | fs_line)" \
       "$(want_of "$DISK" "$type" "$(part_start "$DISK" $n)" "$(part_size "$DISK" $n)")" \
       "$name: in partition $n, type, uuid, label as blkid"
done

# ---- particular cases -----------------------------------------------------------

# No UUID is null, not a string of zeros (tune2fs -U clear); no label is null.
is "$(img-inspect --json "$TMP/nouuid.img" | jq -c '.images[0].filesystem | [.uuid, .label]')" \
   '[null,"nouuid"]' "nouuid: a cleared UUID is null, as blkid shows none"
is "$(img-inspect --json "$TMP/fatnolabel.img" | jq -c '.images[0].filesystem | [.uuid, .label]')" \
   '["00C0-FFEE",null]' "fatnolabel: FAT without a label (NO NAME) has a null label"
# A label filling its field has no terminating NUL.
is "$(img-inspect --json "$TMP/full16.img" | jq -r '.images[0].filesystem.label')" \
   0123456789abcdef "full16: a 16-byte ext label, unterminated on disk"

# Hostile label: quote, backslash, control characters.
json=$(img-inspect --json "$TMP/hostile.img")
jq . <<<"$json" >/dev/null
ok $? "hostile: JSON with a quote, backslash and control characters in a label parses"
is "$(jq -r '.images[0].filesystem.label' <<<"$json")" "$HOSTILE_LABEL" \
   "hostile: the label decodes to exactly the bytes mke2fs wrote"
is "$(jq -r '.images[0].filesystem.label' <<<"$json")" \
   "$(blkid -p -o value -s LABEL "$TMP/hostile.img")" "hostile: the label as blkid reads it"
# Not valid UTF-8 at all: still valid JSON.
cp "$TMP/hostile.img" "$TMP/badutf8.img"
tune2fs -L $'\xff\xfe\xc3(\xe2\x82' "$TMP/badutf8.img" >/dev/null 2>&1 || bail "tune2fs -L failed"
json=$(img-inspect --json "$TMP/badutf8.img")
jq -e '.images[0].filesystem.label | type == "string"' <<<"$json" >/dev/null
ok $? "badutf8: a label that is not UTF-8 still gives valid JSON"
# The text output shows it without raw control characters (a label must
# not be able to drive the terminal that reads the report).
text=$(img-inspect "$TMP/hostile.img")
grep -q 'whole disk: ext4 .*LABEL=' <<<"$text" && ! tr -d '\n' <<<"$text" | LC_ALL=C grep -q '[[:cntrl:]]'
ok $? "hostile: the text output shows the label with no raw control characters"

done_testing
