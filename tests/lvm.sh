#!/bin/bash
# LVM2 read in user space, checked against lvm2 itself: VGs built with the
# real tools on loop devices (nothing activated), then what img-inspect
# --json says about VGs, PVs, LVs, segments and stripe offsets is compared
# with lvs/pvs/vgs, and bytes written where lvm2's layout puts them must be
# found again at the LV's start (ext4 UUIDs, btrfs-like superblocks inside
# the second stripe and the third row of a striped LV).
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires sfdisk; requires mke2fs; requires losetup; requires lvm
requires_root
plan 69

cd "$TMP"

# pnode_start IMG N / pnode_size IMG N: partition N (logical ones too).
pnode_start () { sfdisk --json "$1" | jq -r --arg n "$2" '.partitiontable.partitions[] | select(.node | test("[^0-9]" + $n + "$")) | .start * 512'; }
pnode_size () { sfdisk --json "$1" | jq -r --arg n "$2" '.partitiontable.partitions[] | select(.node | test("[^0-9]" + $n + "$")) | .size * 512'; }

# lvm_setup SPEC...: lvm_begin, remembering which image range each loop
# device stands for.
declare -A LOOPFILE LOOPSTART
lvm_setup () {
    local spec i=0 file start len
    lvm_begin "$@"
    for spec in "$@"; do
        IFS=: read -r file start len <<<"$spec"
        LOOPFILE[${LVM_LOOPS[$i]}]=$file
        LOOPSTART[${LVM_LOOPS[$i]}]=$start
        i=$((i + 1))
    done
}

# oracle TAG VG: what lvm2 reports, saved while the loop devices exist.
oracle () {
    local tag=$1 vg=$2 dev
    lvs -a --segments --units b --nosuffix --reportformat json \
        -o lv_name,seg_start_pe,seg_size_pe,segtype,stripes,stripe_size,seg_pe_ranges \
        "$vg" >"$tag.lvs.json" 2>/dev/null || bail "lvs failed"
    lvs -a --units b --nosuffix --reportformat json -o lv_name,lv_uuid,lv_size \
        "$vg" >"$tag.lvsize.json" 2>/dev/null || bail "lvs failed"
    pvs --units b --nosuffix --reportformat json \
        -o pv_name,pv_uuid,pe_start,pv_pe_count,vg_name "${LVM_LOOPS[@]}" \
        >"$tag.pvs.json" 2>/dev/null || bail "pvs failed"
    vgs --units b --nosuffix --reportformat json \
        -o vg_name,vg_uuid,vg_extent_size,vg_seqno "$vg" >"$tag.vgs.json" \
        2>/dev/null || bail "vgs failed"
    for dev in "${LVM_LOOPS[@]}"; do
        echo "$dev ${LOOPFILE[$dev]} ${LOOPSTART[$dev]}"
    done >"$tag.loops"
}

extent_size () { jq -r '.report[0].vg[0].vg_extent_size' "$1.vgs.json"; }

# oracle_segs TAG: "lv start count type stripes stripe_size UUID:a-b ..."
oracle_segs () {
    jq -r '.report[0].pv[] | "s|\(.pv_name):|\(.pv_uuid):|g"' "$1.pvs.json" >"$1.sed"
    jq -r '.report[0].seg[] | [(.lv_name | ltrimstr("[") | rtrimstr("]")), .seg_start_pe, .seg_size_pe, .segtype, .stripes, .stripe_size, .seg_pe_ranges] | @tsv' \
        "$1.lvs.json" | sed -f "$1.sed" | sort
}

# inspect_segs JSON VG: the same from img-inspect --json.
inspect_segs () {
    jq -r --arg vg "$2" '.volume_groups[] | select(.name == $vg)
        | (.pvs | map({(.name): .uuid}) | add) as $u
        | .lvs[] as $lv | $lv.segments[]
        | (if (.stripes | length) > 0 then .extent_count / (.stripes | length) else 0 end) as $per
        | [$lv.name, (.start_extent | tostring), (.extent_count | tostring), .type,
           (.stripes | length | tostring), (.stripe_size | tostring),
           (.stripes | map("\($u[.pv]):\(.first_pe)-\(.first_pe + $per - 1)") | join(" "))]
        | @tsv' "$1" | sort
}

# oracle_offsets TAG: "lv start_extent image offset" per stripe, where
# lvm2's layout puts the stripe's first byte.
oracle_offsets () {
    local tag=$1 ext lv start count type n ss ranges r dev pe file base pestart
    ext=$(extent_size "$tag")
    while IFS=$'\t' read -r lv start count type n ss ranges; do
        for r in $ranges; do
            dev=${r%%:*}; pe=${r#*:}; pe=${pe%-*}
            read -r _ file base < <(grep "^$dev " "$tag.loops")
            pestart=$(jq -r --arg d "$dev" '.report[0].pv[] | select(.pv_name == $d) | .pe_start' "$tag.pvs.json")
            echo "$lv $start $file $((base + pestart + pe * ext))"
        done
    done < <(jq -r '.report[0].seg[] | [(.lv_name | ltrimstr("[") | rtrimstr("]")), .seg_start_pe, .seg_size_pe, .segtype, .stripes, .stripe_size, .seg_pe_ranges] | @tsv' "$tag.lvs.json") | sort
}

inspect_offsets () {
    jq -r --arg vg "$2" '.volume_groups[] | select(.name == $vg) | .lvs[] as $lv
        | $lv.segments[] as $s | $s.stripes[]
        | "\($lv.name) \($s.start_extent) \(.image) \(.offset)"' "$1" | sort
}

# lv_write TAG LV SRC: writes SRC into LV's bytes, chunk by chunk, where
# lvm2's report says they live (dm-stripe: chunk c of a segment goes to
# stripe c % n, row c / n).
lv_write () {
    local tag=$1 want=$2 src=$3 ext lv start count type n ss ranges r
    local dev pe file base pestart i c chunks chunk lvoff
    local -a sfile soff
    ext=$(extent_size "$tag")
    while IFS=$'\t' read -r lv start count type n ss ranges; do
        [ "$lv" = "$want" ] || continue
        sfile=(); soff=()
        for r in $ranges; do
            dev=${r%%:*}; pe=${r#*:}; pe=${pe%-*}
            read -r _ file base < <(grep "^$dev " "$tag.loops")
            pestart=$(jq -r --arg d "$dev" '.report[0].pv[] | select(.pv_name == $d) | .pe_start' "$tag.pvs.json")
            sfile+=("$file"); soff+=($((base + pestart + pe * ext)))
        done
        lvoff=$((start * ext))
        if [ "$n" -eq 1 ]; then
            dd if="$src" of="${sfile[0]}" bs=64K iflag=skip_bytes,count_bytes \
               oflag=seek_bytes conv=notrunc skip="$lvoff" seek="${soff[0]}" \
               count=$((count * ext)) status=none
            continue
        fi
        chunk=$ss; chunks=$((count * ext / chunk))
        for ((c = 0; c < chunks; c++)); do
            i=$((c % n))
            dd if="$src" of="${sfile[$i]}" bs="$chunk" iflag=skip_bytes,count_bytes \
               oflag=seek_bytes conv=notrunc skip=$((lvoff + c * chunk)) \
               seek=$((soff[i] + (c / n) * chunk)) count="$chunk" status=none
        done
    done < <(jq -r '.report[0].seg[] | [(.lv_name | ltrimstr("[") | rtrimstr("]")), .seg_start_pe, .seg_size_pe, .segtype, .stripes, .stripe_size, .seg_pe_ranges] | @tsv' "$tag.lvs.json")
}

lv_size () { jq -r --arg lv "$2" '.report[0].lv[] | select((.lv_name | ltrimstr("[") | rtrimstr("]")) == $lv) | .lv_size' "$1.lvsize.json"; }

# mk_ext_lv TAG LV UUID LABEL: an ext4 made in a scratch file, then laid
# into the LV with lv_write.
mk_ext_lv () {
    local size
    size=$(lv_size "$1" "$2")
    new_image "fs-$2.tmp" "$size"
    mke2fs -q -F -t ext4 -U "$3" -L "$4" "fs-$2.tmp" >/dev/null
    lv_write "$1" "$2" "fs-$2.tmp"
    rm -f "fs-$2.tmp"
}

# mk_btrfs_sb_lv TAG LV UUIDHEX LABEL: a btrfs superblock signature at
# 64 KiB into the LV (a known pattern; the rest stays zero).
mk_btrfs_sb_lv () {
    local f="pat-$2.tmp"
    new_image "$f" $((128 * 1024))
    printf '_BHRfS_M' | dd of="$f" bs=1 seek=$((65536 + 64)) conv=notrunc status=none
    printf "$(echo "$3" | sed 's/../\\x&/g')" | dd of="$f" bs=1 seek=$((65536 + 32)) conv=notrunc status=none
    printf '%s' "$4" | dd of="$f" bs=1 seek=$((65536 + 0x12b)) conv=notrunc status=none
    new_image "pat-$2.full" "$(lv_size "$1" "$2")"
    dd if="$f" of="pat-$2.full" conv=notrunc status=none
    lv_write "$1" "$2" "pat-$2.full"
    rm -f "$f" "pat-$2.full"
}

# compare_vg TAG JSON VG NAME: VG, PV, LV, segment and offset checks (5).
compare_vg () {
    local tag=$1 json=$2 vg=$3 name=$4
    is "$(jq -r --arg vg "$vg" '.volume_groups[] | select(.name == $vg) | "\(.name) \(.uuid) \(.extent_size) \(.seqno)"' "$json")" \
       "$(jq -r '.report[0].vg[0] | "\(.vg_name) \(.vg_uuid) \(.vg_extent_size) \(.vg_seqno)"' "$tag.vgs.json")" \
       "$name: VG name, uuid, extent size, seqno as vgs says"
    is "$(jq -r --arg vg "$vg" '.volume_groups[] | select(.name == $vg) | .pvs[] | "\(.uuid) \(.pe_start) \(.pe_count)"' "$json" | sort)" \
       "$(jq -r --arg vg "$vg" '.report[0].pv[] | select(.vg_name == $vg) | "\(.pv_uuid) \(.pe_start) \(.pv_pe_count)"' "$tag.pvs.json" | sort)" \
       "$name: PVs as pvs says"
    is "$(jq -r --arg vg "$vg" '.volume_groups[] | select(.name == $vg) | .lvs[] | "\(.name) \(.uuid) \(.size)"' "$json" | sort)" \
       "$(jq -r '.report[0].lv[] | "\(.lv_name | ltrimstr("[") | rtrimstr("]")) \(.lv_uuid) \(.lv_size)"' "$tag.lvsize.json" | sort)" \
       "$name: LV names, uuids, sizes as lvs says"
    is "$(inspect_segs "$json" "$vg")" "$(oracle_segs "$tag")" \
       "$name: segments (extents, type, stripes, PV ranges) as lvs says"
    is "$(inspect_offsets "$json" "$vg")" "$(oracle_offsets "$tag")" \
       "$name: stripe offsets in the images where lvm2 put them"
}

lv_json () { jq -r --arg vg "$2" --arg lv "$3" ".volume_groups[] | select(.name == \$vg) | .lvs[] | select(.name == \$lv) | $4" "$1"; }

# ---- (a) one PV in an MBR logical partition; lvA in two pieces ---------
new_image a.img 64M
printf 'label: dos\nsize=8M, type=83\ntype=5\ntype=8e\n' | partition a.img
a5=$(pnode_start a.img 5); a5s=$(pnode_size a.img 5)
lvm_setup "a.img:$a5:$a5s"
lvm_q pvcreate "${LVM_LOOPS[0]}" || bail "pvcreate"
lvm_q vgcreate -s 1M vga "${LVM_LOOPS[0]}" || bail "vgcreate"
lvm_q lvcreate --activate n --zero n -n lvA -L 8M vga || bail "lvcreate lvA"
lvm_q lvcreate --activate n --zero n -n lvB -L 6M vga || bail "lvcreate lvB"
lvm_q lvextend -L 16M vga/lvA || bail "lvextend lvA"
oracle a vga
lvm_end
is "$(jq -r '[.report[0].seg[] | select(.lv_name == "lvA")] | length' a.lvs.json)" 2 \
   "(a) lvm2 made lvA of two segments"
# lvB is one contiguous run: mke2fs straight into the image there.
mk_ext a.img "$(oracle_offsets a | awk '$1 == "lvB" && $2 == 0 { print $4 }')" \
    "$(lv_size a lvB)" ext4 aaaaaaaa-0000-4000-8000-00000000000b lvB
mk_ext_lv a lvA aaaaaaaa-0000-4000-8000-00000000000a lvA
img-inspect --json a.img >a.json; is $? 0 "(a) img-inspect --json"
compare_vg a a.json vga "(a)"
is "$(jq -r '.volume_groups[0].pvs[0].device' a.json)" "a.img:p5" "(a) PV found on the logical partition"
is "$(lv_json a.json vga lvA '.filesystem.uuid + " " + .filesystem.label')" \
   "aaaaaaaa-0000-4000-8000-00000000000a lvA" "(a) ext4 found at the start of lvA"
is "$(lv_json a.json vga lvB '.filesystem.uuid + " " + .filesystem.label')" \
   "aaaaaaaa-0000-4000-8000-00000000000b lvB" "(a) ext4 found at the start of lvB"
is "$(jq -r '[.volume_groups[0].lvs[] | .visible, .error] | map(tostring) | join(" ")' a.json)" \
   "true null true null" "(a) both LVs visible, no errors"
is "$(jq -r '.volume_groups[0].partial' a.json)" false "(a) VG not partial"

# ---- (b) striped LVs across two PVs in two partitions ------------------
new_image b.img 80M
printf 'label: gpt\nsize=36M\nsize=36M\n' | partition b.img
lvm_setup "b.img:$(part_start b.img 1):$(part_size b.img 1)" \
          "b.img:$(part_start b.img 2):$(part_size b.img 2)"
lvm_q pvcreate "${LVM_LOOPS[@]}" || bail "pvcreate"
lvm_q vgcreate -s 1M vgb "${LVM_LOOPS[@]}" || bail "vgcreate"
lvm_q lvcreate --activate n --zero n -n lin -L 3M vgb "${LVM_LOOPS[1]}" || bail "lvcreate lin"
lvm_q lvcreate --activate n --zero n -n st -i 2 -I 64k -L 16M vgb || bail "lvcreate st"
lvm_q lvcreate --activate n --zero n -n st2 -i 2 -I 64k -L 2M vgb || bail "lvcreate st2"
lvm_q lvcreate --activate n --zero n -n st3 -i 2 -I 16k -L 2M vgb || bail "lvcreate st3"
oracle b vgb
lvm_end
is "$(jq -r '.report[0].seg[] | select(.lv_name == "st") | "\(.segtype) \(.stripes) \(.stripe_size)"' b.lvs.json)" \
   "striped 2 65536" "(b) lvm2 made st striped, 2 x 64 KiB"
mk_ext_lv b st aaaaaaaa-0000-4000-8000-0000000000b1 striped
# 64 KiB into st2 is chunk 1: stripe 1, row 0.  In st3 (16 KiB chunks)
# it is chunk 4: stripe 0, row 2.
mk_btrfs_sb_lv b st2 0123456789abcdef0011223344556677 second-stripe
mk_btrfs_sb_lv b st3 00112233445566778899aabbccddeeff third-row
img-inspect --json b.img >b.json; is $? 0 "(b) img-inspect --json"
compare_vg b b.json vgb "(b)"
is "$(jq -r '[.volume_groups[0].pvs[].device] | sort | join(" ")' b.json)" \
   "b.img:p1 b.img:p2" "(b) PVs found on both partitions"
is "$(lv_json b.json vgb st '"\(.segments[0].type) \(.segments[0].stripe_size) \(.segments[0].stripes | length)"')" \
   "striped 65536 2" "(b) st: striped, 64 KiB, 2 stripes"
is "$(lv_json b.json vgb st '.filesystem.type + " " + .filesystem.uuid + " " + .filesystem.label')" \
   "ext4 aaaaaaaa-0000-4000-8000-0000000000b1 striped" \
   "(b) ext4 laid out chunk by chunk is found at the start of st"
is "$(lv_json b.json vgb st2 '.filesystem.type + " " + .filesystem.uuid + " " + .filesystem.label')" \
   "btrfs 01234567-89ab-cdef-0011-223344556677 second-stripe" \
   "(b) bytes lvm2 puts in stripe 1 are read at 64 KiB of st2"
is "$(lv_json b.json vgb st3 '.filesystem.type + " " + .filesystem.uuid + " " + .filesystem.label')" \
   "btrfs 00112233-4455-6677-8899-aabbccddeeff third-row" \
   "(b) bytes lvm2 puts in row 2 of stripe 0 are read at 64 KiB of st3"

# ---- (c) a VG spanning two image files --------------------------------
new_image c1.img 32M
new_image c2.img 40M
printf 'label: dos\ntype=8e\n' | partition c2.img
lvm_setup "c1.img:0:$((32 * MiB))" "c2.img:$(part_start c2.img 1):$(part_size c2.img 1)"
lvm_q pvcreate "${LVM_LOOPS[@]}" || bail "pvcreate"
lvm_q vgcreate -s 1M vgc "${LVM_LOOPS[@]}" || bail "vgcreate"
lvm_q lvcreate --activate n --zero n -n small -L 4M vgc "${LVM_LOOPS[0]}" || bail "lvcreate small"
lvm_q lvcreate --activate n --zero n -n span -L 20M vgc "${LVM_LOOPS[0]}" || bail "lvcreate span"
lvm_q lvextend -L 40M vgc/span "${LVM_LOOPS[1]}" || bail "lvextend span"
cp c1.img c1-old.img
lvm_q lvcreate --activate n --zero n -n late -L 2M vgc "${LVM_LOOPS[1]}" || bail "lvcreate late"
oracle c vgc
lvm_end
is "$(jq -r '[.report[0].seg[] | select(.lv_name == "span") | .seg_pe_ranges | sub(":.*"; "")] | unique | length' c.lvs.json)" 2 \
   "(c) lvm2 spread span over both PVs"
mk_ext_lv c small aaaaaaaa-0000-4000-8000-0000000000c1 small
mk_ext_lv c span aaaaaaaa-0000-4000-8000-0000000000c2 span
img-inspect --json c1.img c2.img >c.json 2>c.err; is $? 0 "(c) img-inspect --json c1.img c2.img"
is "$(cat c.err)" "" "(c) no warnings"
compare_vg c c.json vgc "(c)"
is "$(jq -r '[.volume_groups[0].pvs[].device] | join(" ")' c.json)" "c1.img c2.img:p1" \
   "(c) PVs found on the whole disk and the partition"
is "$(lv_json c.json vgc span '.filesystem.uuid')" aaaaaaaa-0000-4000-8000-0000000000c2 \
   "(c) ext4 found at the start of the spanning LV"
is "$(jq -r '.volume_groups | length' c.json)" 1 "(c) one VG from two images"

# Stale metadata on one PV: the newer copy wins, with one warning.
img-inspect --json c1-old.img c2.img >c-old.json 2>c-old.err; is $? 0 "(c) stale copy: img-inspect succeeds"
is "$(grep -c . c-old.err)" 1 "(c) stale copy: one warning line"
grep -Eq 'c2\.img:p1: lvm: VG vgc has metadata seqno [0-9]+ here but [0-9]+ on c1-old\.img' c-old.err
ok $? "(c) stale copy: the warning names both seqnos and images"
is "$(jq -r '"\(.volume_groups[0].seqno) \([.volume_groups[0].lvs[].name] | join(","))"' c-old.json)" \
   "$(jq -r '.report[0].vg[0].vg_seqno' c.vgs.json) small,span,late" "(c) stale copy: the newest metadata is used"

# ---- (e) a missing PV: only one of the two images ----------------------
pv1_uuid=$(jq -r '.volume_groups[0].pvs[1].uuid' c.json)
pv0_uuid=$(jq -r '.volume_groups[0].pvs[0].uuid' c.json)
img-inspect --json c1.img >e1.json 2>e1.err; is $? 0 "(e) only c1.img: img-inspect succeeds"
is "$(jq -r '.volume_groups[0].partial' e1.json)" true "(e) only c1.img: VG partial"
is "$(lv_json e1.json vgc span '.error')" "vgc/span: lvm: PV pv1 (UUID $pv1_uuid) is missing" \
   "(e) only c1.img: span names the missing PV"
is "$(lv_json e1.json vgc late '.error')" "vgc/late: lvm: PV pv1 (UUID $pv1_uuid) is missing" \
   "(e) only c1.img: late names the missing PV"
is "$(lv_json e1.json vgc small '"\(.error) \(.filesystem.uuid)"')" "null aaaaaaaa-0000-4000-8000-0000000000c1" \
   "(e) only c1.img: small still readable"
is "$(jq -r '.volume_groups[0].pvs[1].device' e1.json)" null "(e) only c1.img: pv1 has no device"
img-inspect --json c2.img >e2.json 2>/dev/null; is $? 0 "(e) only c2.img: img-inspect succeeds"
is "$(lv_json e2.json vgc small '.error')" "vgc/small: lvm: PV pv0 (UUID $pv0_uuid) is missing" \
   "(e) only c2.img: small names the missing PV"
is "$(lv_json e2.json vgc late '.error')" null "(e) only c2.img: late still readable"

# ---- (f) two metadata copies on one PV, metadata ignored on another ----
# The ignored area keeps a stale copy that must neither win nor warn.
new_image f1.img 32M
new_image f2.img 32M
lvm_setup "f1.img:0:$((32 * MiB))" "f2.img:0:$((32 * MiB))"
lvm_q pvcreate --pvmetadatacopies 2 "${LVM_LOOPS[0]}" || bail "pvcreate"
lvm_q pvcreate "${LVM_LOOPS[1]}" || bail "pvcreate"
lvm_q vgcreate -s 1M vgf "${LVM_LOOPS[@]}" || bail "vgcreate"
lvm_q lvcreate --activate n --zero n -n big -L 40M vgf || bail "lvcreate big"
lvm_q pvchange --metadataignore y "${LVM_LOOPS[1]}" || bail "pvchange"
lvm_q lvcreate --activate n --zero n -n after -L 2M vgf || bail "lvcreate after"
oracle f vgf
lvm_end
img-inspect --json f1.img f2.img >f.json 2>f.err; is $? 0 "(f) img-inspect --json f1.img f2.img"
is "$(cat f.err)" "" "(f) no warning about the ignored stale copy"
compare_vg f f.json vgf "(f)"
img-inspect --json f2.img >f2.json 2>&1; is $? 0 "(f) only the PV with ignored metadata: no error"
is "$(jq -r '.volume_groups | length' f2.json)" 0 "(f) ... and no VG assembled from it"

# ---- (d) thin pool, thin LV and an old-style snapshot ------------------
# lvm2 creates neither without device-mapper, so the metadata is edited
# (vgcfgbackup, awk, vgcfgrestore --force) the way lvm2 itself writes it.
new_image d.img 64M
lvm_setup "d.img:0:$((64 * MiB))"
lvm_q pvcreate "${LVM_LOOPS[0]}" || bail "pvcreate"
lvm_q vgcreate -s 1M vgd "${LVM_LOOPS[0]}" || bail "vgcreate"
for lv in plain:4M tdata:8M tmeta:4M cow:4M; do
    lvm_q lvcreate --activate n --zero n -n "${lv%:*}" -L "${lv#*:}" vgd || bail "lvcreate $lv"
done
lvm_q vgcfgbackup -f vgd.txt vgd || bail "vgcfgbackup"
awk '
function sec(name, uuid, status, type, count, extra,   i, n, kv) {
    print "\t\t" name " {"
    print "\t\t\tid = \"" uuid "\""
    print "\t\t\tstatus = [\"READ\", \"WRITE\"" status "]"
    print "\t\t\tflags = []"
    print "\t\t\tsegment_count = 1"
    print "\t\t\tsegment1 {"
    print "\t\t\t\tstart_extent = 0"
    print "\t\t\t\textent_count = " count
    print "\t\t\t\ttype = \"" type "\""
    n = split(extra, kv, ";")
    for (i = 1; i <= n; i++) print "\t\t\t\t" kv[i]
    print "\t\t\t}"
    print "\t\t}"
}
$0 == "\tlogical_volumes {" { inlv = 1 }
inlv && /^\t\t[A-Za-z0-9_.+-]+ \{$/ { cur = $1 }
inlv && $0 == "\t}" {
    sec("pool", "Pool00-0000-0000-0000-0000-0000-000000", ", \"VISIBLE\"", "thin-pool", 8,
        "metadata = \"pool_tmeta\";pool = \"pool_tdata\";transaction_id = 1;chunk_size = 128;discards = \"passdown\";zero_new_blocks = 1")
    sec("thin1", "Thin00-0000-0000-0000-0000-0000-000000", ", \"VISIBLE\"", "thin", 16,
        "thin_pool = \"pool\";transaction_id = 0;device_id = 1")
    sec("snapshot0", "Snap00-0000-0000-0000-0000-0000-000000", "", "snapshot", 4,
        "chunk_size = 8;origin = \"plain\";cow_store = \"cow\"")
    inlv = 0
}
{
    line = $0
    if (cur == "tdata" || cur == "tmeta") {
        sub(/^\t\tt(data|meta) \{$/, "\t\tpool_" cur " {", line)
        sub(/, "VISIBLE"\]/, "]", line)
    }
    print line
}' vgd.txt >vgd-thin.txt
lvm_q vgcfgrestore --force -f vgd-thin.txt vgd || bail "vgcfgrestore"
oracle d vgd
lvm_end
is "$(jq -r '[.report[0].seg[] | select(.lv_name == "pool" or .lv_name == "thin1") | .segtype] | join(" ")' d.lvs.json)" \
   "thin-pool thin" "(d) lvm2 accepts the edited metadata: thin-pool and thin"
mk_ext d.img "$(oracle_offsets d | awk '$1 == "plain" && $2 == 0 { print $4 }')" \
    "$(lv_size d plain)" ext4 aaaaaaaa-0000-4000-8000-0000000000d1 plain
img-inspect --json d.img >d.json 2>d.err; is $? 0 "(d) unsupported LVs are not a scan failure"
is "$(cat d.err)" "" "(d) nothing on stderr"
is "$(lv_json d.json vgd thin1 '.error')" "vgd/thin1: lvm: thin LVs are not supported" "(d) thin LV: clear error"
is "$(lv_json d.json vgd pool '.error')" "vgd/pool: lvm: thin-pool LVs are not supported" "(d) thin pool: clear error"
is "$(lv_json d.json vgd snapshot0 '"\(.visible) \(.error)"')" "false vgd/snapshot0: lvm: snapshot LVs are not supported" \
   "(d) hidden snapshot: clear error"
lv_json d.json vgd cow '.error' | grep -q '^vgd/cow: lvm: snapshot LVs are not supported'
ok $? "(d) the snapshot's COW store is not read as if it were the snapshot"
is "$(lv_json d.json vgd thin1 '.filesystem')" null "(d) no filesystem probed on the thin LV"
is "$(lv_json d.json vgd pool_tdata '"\(.visible) \(.error) \(.segments[0].type)"')" "false null linear" \
   "(d) hidden pool data LV listed, readable"
is "$(lv_json d.json vgd pool_tmeta '.visible')" false "(d) hidden pool metadata LV listed"
is "$(lv_json d.json vgd plain '"\(.error) \(.filesystem.uuid)"')" "null aaaaaaaa-0000-4000-8000-0000000000d1" \
   "(d) the origin LV still reads"
# lvs hides the snapshot's internal LV (snapshot0); everything else matches.
is "$(jq -r '[.volume_groups[0].lvs[] | select(.name != "snapshot0") | "\(.name):\(.segments[0].type)"] | sort | join(" ")' d.json)" \
   "$(jq -r '[.report[0].seg[] | "\(.lv_name | ltrimstr("[") | rtrimstr("]")):\(.segtype)"] | sort | join(" ")' d.lvs.json)" \
   "(d) segment types as lvs says"

done_testing
