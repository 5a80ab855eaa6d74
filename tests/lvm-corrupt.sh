#!/bin/bash
# Damaged LVM2 PVs: a real PV made by lvm2, then a flipped byte in the
# label, the metadata area header or the metadata text, metadata rewritten
# with absurd values (checksums fixed so only the values are wrong), and
# truncated images.  Each must make img-inspect fail with one stderr line
# naming the image or volume, "lvm" and the reason; never a crash.  Last,
# edited metadata that is valid but unreadable here (an LV left on a
# pvmove mirror) must give the LV a clear error, not fail the scan.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires sfdisk; requires mke2fs; requires losetup; requires lvm; requires od
requires_root
plan 24

cd "$TMP"

# ---- byte-level helpers -------------------------------------------------
get_le64 () { od -An -v --endian=little -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
put_le () {   # put_le FILE OFFSET BYTES VALUE
    local i v=$4 s=""
    for ((i = 0; i < $3; i++)); do s+=$(printf '\\x%02x' $(((v >> (8 * i)) & 0xff))); done
    printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
flip () { put_le "$1" "$2" 1 $(( $(od -An -t u1 -j "$2" -N 1 "$1") ^ 0x5a )); }

# LVM2's calc_crc: CRC-32 (IEEE, reflected) seeded with 0xf597a6cf,
# no final inversion.
_crc_table=()
for ((i = 0; i < 256; i++)); do
    c=$i
    for ((k = 0; k < 8; k++)); do
        if ((c & 1)); then c=$(((c >> 1) ^ 0xEDB88320)); else c=$((c >> 1)); fi
    done
    _crc_table[i]=$c
done
lvm_crc () {   # lvm_crc FILE OFFSET LENGTH
    local crc=$((0xf597a6cf)) b
    for b in $(od -An -v -t u1 -j "$2" -N "$3" "$1"); do
        crc=$((_crc_table[(crc ^ b) & 0xff] ^ (crc >> 8)))
    done
    echo "$crc"
}

# The PV label is in sector 1 (lvm2's default); its PV header at +32
# lists the data areas, then the metadata areas.
LABEL=512
mda_start () {
    local off=$((LABEL + 32 + 32 + 8))
    while [ "$(get_le64 "$1" $off)" != 0 ]; do off=$((off + 16)); done
    get_le64 "$1" $((off + 16))
}
fix_label_crc () { put_le "$1" $((LABEL + 16)) 4 "$(lvm_crc "$1" $((LABEL + 20)) $((512 - 20)))"; }
fix_mda_crc () { put_le "$1" "$2" 4 "$(lvm_crc "$1" $(($2 + 4)) 508)"; }

# rewrite_text IMAGE SED-ARGS...: edits the committed metadata text in
# place and fixes its size and checksum and the header checksum, so that
# only the edited values are wrong.
rewrite_text () {
    local img=$1 mda toff tsize
    mda=$(mda_start "$img")
    toff=$(get_le64 "$img" $((mda + 40)))
    tsize=$(get_le64 "$img" $((mda + 48)))
    dd if="$img" bs=1 skip=$((mda + toff)) count=$((tsize - 1)) status=none | sed "${@:2}" >text.tmp
    printf '\0' >>text.tmp
    dd if=text.tmp of="$img" bs=1 seek=$((mda + toff)) conv=notrunc status=none
    put_le "$img" $((mda + 48)) 8 "$(stat -c %s text.tmp)"
    put_le "$img" $((mda + 56)) 4 "$(lvm_crc text.tmp 0 "$(stat -c %s text.tmp)")"
    fix_mda_crc "$img" "$mda"
}

# variant NAME: a fresh copy of the good PV image.
variant () { cp --sparse=always good.img "$1"; }

# ---- a real PV ------------------------------------------------------------
new_image good.img 16M
lvm_begin "good.img:0:$((16 * MiB))"
lvm_q pvcreate "${LVM_LOOPS[0]}" || bail "pvcreate"
lvm_q vgcreate -s 1M vgx "${LVM_LOOPS[0]}" || bail "vgcreate"
lvm_q lvcreate --activate n --zero n -n root -L 4M vgx || bail "lvcreate"
pe_start=$(pvs --units b --nosuffix --reportformat json -o pe_start 2>/dev/null | jq -r '.report[0].pv[0].pe_start')
lvm_end
mk_ext good.img "$pe_start" $((4 * MiB)) ext4 aaaaaaaa-0000-4000-8000-0000000000e1 root
MDA=$(mda_start good.img)

img-inspect --json good.img >good.json; is $? 0 "the undamaged PV reads"
is "$(jq -r '.volume_groups[0].lvs[0].filesystem.uuid' good.json)" \
   aaaaaaaa-0000-4000-8000-0000000000e1 "the undamaged LV holds the ext4"

# (1) the label.
variant label.img; flip label.img $((LABEL + 40))
fails_with "flipped byte in the label" \
    '^img-inspect: label\.img: lvm: label checksum mismatch$' img-inspect label.img
variant sector.img; put_le sector.img $((LABEL + 8)) 8 5; fix_label_crc sector.img
fails_with "label claiming another sector" \
    '^img-inspect: sector\.img: lvm: label in sector 1 claims to be in sector 5$' img-inspect sector.img

# (2) the metadata area header.
variant mdahdr.img; flip mdahdr.img $((MDA + 100))
fails_with "flipped byte in the metadata area header" \
    '^img-inspect: mdahdr\.img: lvm: metadata area checksum mismatch$' img-inspect mdahdr.img
variant rlocn.img; put_le rlocn.img $((MDA + 40)) 8 $((1 << 40)); fix_mda_crc rlocn.img "$MDA"
fails_with "metadata text located outside its area" \
    '^img-inspect: rlocn\.img: lvm: metadata text location [0-9]+\+[0-9]+ lies outside its [0-9]+-byte metadata area$' \
    img-inspect rlocn.img

# (3) the metadata text.
variant text.img; flip text.img $((MDA + $(get_le64 text.img $((MDA + 40))) + 30))
fails_with "flipped byte in the metadata text" \
    '^img-inspect: text\.img: lvm: metadata text checksum mismatch$' img-inspect text.img

# (4) absurd values with valid checksums.
variant count.img; rewrite_text count.img 's/^extent_count = 4$/extent_count = 4611686018427387904/'
fails_with "absurd extent_count" \
    '^img-inspect: count\.img: lvm: vgx/root: segment1: extent_count 4611686018427387904 overflows$' \
    img-inspect count.img
variant pastpe.img; rewrite_text pastpe.img 's/^"pv0", 0$/"pv0", 1000/'
fails_with "stripe past pe_count" \
    '^img-inspect: pastpe\.img: lvm: vgx/root: segment1: stripe 0 \(extents 1000\+4\) is past the [0-9]+ extents of pv0$' \
    img-inspect pastpe.img
variant unknownpv.img; rewrite_text unknownpv.img 's/^"pv0", 0$/"pv7", 0/'
fails_with "stripe on an unknown PV" \
    "^img-inspect: unknownpv\\.img: lvm: vgx/root: segment1: stripe 0 is on unknown PV 'pv7'\$" \
    img-inspect unknownpv.img
variant extsize.img; rewrite_text extsize.img 's/^extent_size = .*/extent_size = 0/'
fails_with "extent_size 0" \
    '^img-inspect: extsize\.img: lvm: vgx: extent_size 0 is absurd$' img-inspect extsize.img
variant gap.img; rewrite_text gap.img 's/^start_extent = 0$/start_extent = 3/'
fails_with "segment gap" \
    '^img-inspect: gap\.img: lvm: vgx/root: segment1 starts at extent 3 but the segments before end at 0 \(a gap or an overlap\)$' \
    img-inspect gap.img
variant segcount.img; rewrite_text segcount.img 's/^segment_count = 1$/segment_count = 100000/'
fails_with "too many segments" \
    '^img-inspect: segcount\.img: lvm: vgx/root: segment_count 100000 is out of range' img-inspect segcount.img
variant intovf.img; rewrite_text intovf.img 's/^seqno = .*/seqno = 99999999999999999999/'
fails_with "integer overflow in the text" \
    '^img-inspect: intovf\.img: lvm: metadata line [0-9]+: integer 99999999999999999999 is out of range$' \
    img-inspect intovf.img
variant unclosed.img; rewrite_text unclosed.img -z 's/}\n# Generated/# Generated/'
fails_with "unclosed sections" \
    "^img-inspect: unclosed\\.img: lvm: metadata line 1: section 'vgx' is not closed\$" img-inspect unclosed.img

# (5) truncated images.
variant trunc.img; truncate -s 64K trunc.img
fails_with "image truncated inside the metadata area" \
    '^img-inspect: trunc\.img: lvm: metadata area at offset [0-9]+ \([0-9]+ bytes\) extends past the end of the volume \(65536 bytes\); the image is truncated$' \
    img-inspect trunc.img

# A PV in a partition: the message names the partition.
new_image part.img 24M
printf 'label: dos\nstart=2048, type=8e\n' | partition part.img
dd if=good.img of=part.img bs=1M seek=1 count=16 conv=notrunc,sparse status=none
flip part.img $((MiB + LABEL + 40))
fails_with "corrupt label in a partition" \
    '^img-inspect: part\.img:p1: lvm: label checksum mismatch$' img-inspect part.img

# The same PV given twice (a copied disk).
variant copy.img
fails_with "one PV UUID on two images" \
    '^img-inspect: copy\.img: lvm: PV UUID [A-Za-z0-9-]{38} is also on good\.img' \
    img-inspect good.img copy.img

# Metadata text that wraps around the end of the circular buffer (as it
# does after many updates): valid, and must read.  lvm2 itself checks the
# construction.
variant wrap.img
size=$(get_le64 wrap.img $((MDA + 32)))
toff=$(get_le64 wrap.img $((MDA + 40)))
tsize=$(get_le64 wrap.img $((MDA + 48)))
dd if=wrap.img of=wtext.tmp bs=1 skip=$((MDA + toff)) count="$tsize" status=none
dd if=/dev/zero of=wrap.img bs=1 seek=$((MDA + 512)) count=$((toff + tsize - 512)) conv=notrunc status=none
dd if=wtext.tmp of=wrap.img bs=1 seek=$((MDA + size - 100)) count=100 conv=notrunc status=none
dd if=wtext.tmp of=wrap.img bs=1 skip=100 seek=$((MDA + 512)) conv=notrunc status=none
put_le wrap.img $((MDA + 40)) 8 $((size - 100)); fix_mda_crc wrap.img "$MDA"
lvm_begin "wrap.img:0:$((16 * MiB))"
lvs vgx/root >/dev/null 2>&1; ok $? "wrapped metadata text: lvm2 reads it"
lvm_end
img-inspect --json wrap.img >wrap.json; is $? 0 "wrapped metadata text: img-inspect reads it"
is "$(jq -r '.volume_groups[0].lvs[0].filesystem.uuid' wrap.json)" \
   aaaaaaaa-0000-4000-8000-0000000000e1 "wrapped metadata text: same VG, same LV"

# An unfinished pvmove: root's extents sit on the pvmove0 mirror LV.
variant pvmove.img
rewrite_text pvmove.img -z 's/"pv0", 0\n/"pvmove0", 0\n/; s/}\n\n*}\n# Generated/pvmove0 {\nid = "Move00-0000-0000-0000-0000-0000-000000"\nstatus = ["READ", "WRITE", "PVMOVE", "LOCKED"]\nflags = []\nsegment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 4\ntype = "mirror"\nmirror_count = 2\nextents_moved = 0\nmirrors = [\n"pv0", 0,\n"pv0", 4\n]\n}\n}\n}\n}\n# Generated/'
img-inspect --json pvmove.img >pvmove.json 2>pvmove.err; is "$?:$(cat pvmove.err)" "0:" "LV on a pvmove mirror: not a scan failure"
is "$(jq -r '.volume_groups[0].lvs[] | select(.name == "root") | .error' pvmove.json)" \
   "vgx/root: lvm: LV is layered on LV pvmove0 (an unfinished pvmove?); not supported" \
   "LV on a pvmove mirror: clear error"
is "$(jq -r '.volume_groups[0].lvs[] | select(.name == "pvmove0") | "\(.visible) \(.error)"' pvmove.json)" \
   "false vgx/pvmove0: lvm: mirror LVs are not supported" "the pvmove mirror: hidden, clear error"

done_testing
