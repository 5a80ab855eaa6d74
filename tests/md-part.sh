#!/bin/bash
# Partitioned md arrays: a GPT (metadata 1.2 array) and an MBR (0.90
# array) written on the array devices by the real mdadm and parted inside
# a libguestfs appliance (tests/md-part-fixtures.sh, cached).  What
# img-inspect says is compared with mdadm --examine on each member, with
# sfdisk on each array's data area and blkid -p / e2fsck -fn on each
# partition inside it; the guest on them (root on md/sys2, LVM on md5p1) is
# inspected and read; a write through the appliance reaches both mirrors;
# corrupt tables inside an array give one line.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires sfdisk; requires blkid; requires losetup; requires e2fsck
requires python3; requires guestfish; requires sha1sum; requires mdadm
requires_root
plan 39

F=$(bash "$top_srcdir/tests/md-part-fixtures.sh") || bail "md-part-fixtures.sh failed"
cd "$TMP"
cp --sparse=always "$F/d1.img" "$F/d2.img" .

GT=$top_builddir/tests/guest-tool

img-inspect --json d1.img d2.img >both.json 2>both.err; is $? 0 "both disks inspected"
is "$(cat both.err)" "" "nothing on stderr"

# member IMG N: the member's data area "START SIZE" in IMG (bytes).
member () {
    local n=$2 a
    a=$(jq -r --arg m "$1:p$n" '.md_arrays[] | select(any(.members[]; .device == $m))
        | "\(.members[] | select(.device == $m) | .data_offset) \(.size)"' both.json)
    echo "$(( $(part_start "$1" "$n") + ${a% *} )) ${a#* }"
}

# ---- the arrays as mdadm --examine sees each member
for n in 1 2; do
    for d in 1 2; do
        ex=$(on_range d$d.img "$(part_start d$d.img $n)" "$(part_size d$d.img $n)" mdadm --examine 2>/dev/null \
             | sed -n 's/^ *\(Version\|Array UUID\|UUID\|Raid Level\) : \([^ ]*\).*/\1=\2/p' | sed 's/^Array UUID/UUID/' | sort | tr '\n' ' ')
        ours=$(jq -r --arg m "d$d.img:p$n" '.md_arrays[] | select(any(.members[]; .device == $m))
            | "Raid Level=\(.level) UUID=\(.uuid | gsub("-"; "") | "\(.[0:8]):\(.[8:16]):\(.[16:24]):\(.[24:32])") Version=\(if .metadata == "0.90" then "0.90.00" else .metadata end) "' both.json)
        is "$ours" "$ex" "d$d p$n: level, metadata, UUID as mdadm --examine"
    done
done

# ---- each array's table as sfdisk reads it on the data area
for d in 1 2; do
    for n in 1 2; do
        set -- $(member d$d.img $n)
        sf=$(on_range d$d.img "$1" "$2" sfdisk --json | jq -r '.partitiontable | [.label, (.partitions[] | "\(.start * 512)+\(.size * 512)")] | join(" ")')
        ours=$(jq -r --arg m "d$d.img:p$n" '.md_arrays[] | select(any(.members[]; .device == $m))
            | [.partition_table.type, (.partitions[] | "\(.start)+\(.size)")] | join(" ")' both.json)
        is "$ours" "$sf" "d$d p$n: the array's table (type, starts, sizes) as sfdisk reads it"
    done
done

# ---- each partition inside an array: blkid -p, and e2fsck -fn on ext4
jq -r '.md_arrays[] | .device as $a | .partitions[] | "\($a) \(.number) \(.device) \(.start) \(.size)"' both.json >parts
is "$(cut -d' ' -f3 parts | tr '\n' ' ')" "md/sys1 md/sys2 md5p1 md5p2 " "partitions named as udev and the kernel name them"
while read -r a num dev start size; do
    n=$(jq -r --arg a "$a" '.md_arrays[] | select(.device == $a) | .members[] | select(.device | startswith("d1.img:")) | .device | sub(".*:p"; "")' both.json)
    set -- $(member d1.img "$n")
    off=$(( $1 + start ))
    blk=$(on_range d1.img "$off" "$size" blkid -p -o export | grep -E '^(TYPE|UUID|LABEL)=' | sort | tr '\n' ' ')
    ours=$(jq -r --arg d "$dev" '.md_arrays[].partitions[] | select(.device == $d) | .filesystem
        | [(if .label then "LABEL=" + .label else empty end), "TYPE=" + .type, "UUID=" + .uuid] | sort | join(" ")' both.json)
    is "$ours " "$blk" "$dev: type, UUID, LABEL as blkid -p"
    if [ "$(jq -r --arg d "$dev" '.md_arrays[].partitions[] | select(.device == $d) | .filesystem.type' both.json)" = ext4 ]; then
        on_range d1.img "$off" "$size" e2fsck -fn >/dev/null 2>&1; ok $? "$dev: e2fsck -fn clean where img-inspect puts it"
    fi
done <parts

# ---- the guest on them
is "$(jq -r '.guest.roots | join(" ")' both.json)" "md/sys2" "the root is partition 2 of the RAID1 array"
is "$(jq -r '[.guest.os.id, .guest.hostname] | join(" ")' both.json)" "debian mdpartguest" "distro and hostname read off it"
is "$(jq -r '[.guest.mounts[] | .mountpoint + "=" + .device + ":" + (.mounted | tostring)] | sort | join(" ")' both.json)" \
   "/=md/sys2:true /boot=md/sys1:true /data=vgmp/data:true /srv/udev=md5p2:true /srv=md5p2:false" \
   "mounts: UUID=, /dev/md/NAME1, /dev/md5p2, /dev/md/5p2 (both md5p2, mounted once) and an LV on md5p1"
is "$(jq -r '.volume_groups[] | .name + " " + .pvs[0].device + " " + .lvs[0].name' both.json)" "vgmp md5p1 data" \
   "LVM on a partition of the 0.90 array"
is "$("$GT" d1.img d2.img -- cat /data/marker)" "data on vgmp/data on md5p1 (0.90, MBR inside)" "a file on the LV read back"
is "$("$GT" d1.img d2.img -- cat /boot/marker)" "boot on md/sys1 (1.2, GPT inside)" "a file on md/sys1 read back"
img-inspect d2.img >one.txt 2>one.err; st=$?
is "$st $(grep -c 'read: partition table$' one.txt) $(grep -c '^  root: md/sys2' one.txt)" "0 2 1" \
   "d2 alone: both tables and the root in the text report"

# ---- natively, writes are refused before anything is written
sha1sum d1.img d2.img >sums
fails_with "img2pv --backend native: one line" '(md/sys[12]|md5p2|vgmp/data): md: an md RAID array is not written natively .*--backend auto' \
    img2pv --backend native d1.img d2.img
sha1sum -c --quiet sums; ok $? "both images untouched"

# ---- through the appliance, every mirror is written, superblocks clean
cp --sparse=always d1.img w1.img; cp --sparse=always d2.img w2.img
"$top_builddir/tests/edits-tool" --edits hostname=mpw,put=/boot/new,put=/srv/new,put=/data/new w1.img w2.img > w.out 2>&1
ok $? "a write through the appliance: root and /boot on md/sys, /srv and an LV on md5"
for d in 1 2; do
    is "$(img-inspect --json w$d.img 2>/dev/null | jq -r .guest.hostname)" mpw "member $d alone reads the new hostname"
done
for n in 1 2; do
    a=$(on_range w1.img "$(part_start w1.img $n)" "$(part_size w1.img $n)" mdadm --examine 2>&1 | sed -n 's/^ *\(State\|Events\) : *//p' | tr '\n' ' ')
    b=$(on_range w2.img "$(part_start w2.img $n)" "$(part_size w2.img $n)" mdadm --examine 2>&1 | sed -n 's/^ *\(State\|Events\) : *//p' | tr '\n' ' ')
    case $a in clean*) c=clean;; *) c="not clean";; esac
    is "$c $a" "clean $b" "p$n: both mirrors' superblocks clean and equal ($a)"
    set -- $(member d1.img $n); s1=$1; len=$2; set -- $(member d2.img $n)
    cmp -s <(dd if=w1.img bs=512 skip=$((s1 / 512)) count=$((len / 512)) status=none) \
           <(dd if=w2.img bs=512 skip=$(($1 / 512)) count=$((len / 512)) status=none)
    ok $? "p$n: both mirrors' data areas equal after the write"
done
"$top_builddir/tests/edits-tool" --rollback w1.img.img-tools-undo w1.img w2.img > rb.out 2>&1
ok $? "rollback"
cmp -s w1.img d1.img && cmp -s w2.img d2.img; ok $? "rollback: both members bit for bit as they were"
rm -f w1.img w2.img w1.img.img-tools-undo

# ---- hostile tables inside an array (copies of d1, inspected alone)
# A partition of md5's MBR past the array's end.
cp --sparse=always d1.img h1.img
set -- $(member d1.img 2)
python3 - h1.img "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]) + 446 + 16 + 12)
f.write(struct.pack("<I", 0x00100000)); f.close()
PY
fails_with "MBR partition past the end of the md array: one line" \
    '^img-inspect: md5 \(md array on h1.img:p2\): mbr: partition 2 \([0-9]+-[0-9]+\) extends past the end of the md array \([0-9]+ bytes\)' \
    img-inspect h1.img
# Both GPT headers of md/sys destroyed.
cp --sparse=always d1.img h2.img
set -- $(member d1.img 1)
python3 - h2.img "$1" "$2" <<'PY'
import sys
img, off, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(img, "r+b")
for o in (off + 512 + 8, off + size - 512 + 8):
    f.seek(o); f.write(b"\xff\xff\xff\xff")
f.close()
PY
fails_with "both GPT headers damaged inside the md array: one line" \
    '^img-inspect: md/sys \(md array on h2.img:p1\): gpt: both GPT headers are damaged \(primary: .*checksum.*; backup: .*checksum' \
    img-inspect h2.img
# A GPT whose last usable sector is past the array (header checksums fixed).
cp --sparse=always d1.img h3.img
set -- $(member d1.img 1)
python3 - h3.img "$1" "$2" <<'PY'
import struct, sys, zlib
img, off, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = open(img, "r+b")
for lba in (1, size // 512 - 1):
    f.seek(off + lba * 512); h = bytearray(f.read(512))
    n = struct.unpack_from("<I", h, 12)[0]
    struct.pack_into("<Q", h, 48, size // 512 + 100)
    struct.pack_into("<I", h, 16, 0)
    struct.pack_into("<I", h, 16, zlib.crc32(bytes(h[:n])) & 0xffffffff)
    f.seek(off + lba * 512); f.write(h)
f.close()
PY
fails_with "GPT usable area past the end of the md array: one line" \
    '^img-inspect: md/sys \(md array on h3.img:p1\): gpt: both GPT headers are damaged \(primary: usable area 34-[0-9]+ does not fit the md array \([0-9]+ sectors\)' \
    img-inspect h3.img
