#!/bin/bash
# md RAID read in user space, checked against the real tools: arrays made by
# mdadm inside a libguestfs appliance (tests/md-fixtures.sh, cached), then
# what img-inspect says is compared with blkid -p on each member and with
# e2fsck -fn on each array's data area; the guest on them is inspected from
# both members, from either one alone (degraded), and through copies with
# corrupted superblocks.  Writes to an array are refused before anything
# is written.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires sfdisk; requires blkid; requires losetup; requires e2fsck
requires python3; requires guestfish; requires sha1sum; requires mdadm
requires_root
plan 61

F=$(bash "$top_srcdir/tests/md-fixtures.sh") || bail "md-fixtures.sh failed"
cd "$TMP"
cp --sparse=always "$F/d1.img" "$F/d2.img" .

GT=$top_builddir/tests/guest-tool

img-inspect --json d1.img d2.img >both.json 2>both.err; is $? 0 "both disks inspected"
is "$(cat both.err)" "" "nothing on stderr"

# ---- probe: each metadata version, UUID / UUID_SUB / LABEL as blkid says
for d in 1 2; do
    for n in 1 2 3 4 5; do
        start=$(part_start d$d.img $n); size=$(part_size d$d.img $n)
        blk=$(on_range d$d.img "$start" "$size" blkid -p -o export | grep -E '^(TYPE|UUID|UUID_SUB|LABEL|VERSION)=' | sort | tr '\n' ' ')
        ours=$(jq -r --argjson i $((d - 1)) --argjson p $((n - 1)) --arg m "d$d.img:p$n" '
            .images[$i].partitions[$p].filesystem as $fs
            | [.md_arrays[] | select(any(.members[]; .device == $m))][0] as $a
            | [$a.members[] | select(.device == $m)][0] as $mb
            | [ (if $fs.label then "LABEL=" + $fs.label else empty end),
                "TYPE=" + $fs.type, "UUID=" + $fs.uuid,
                (if $mb.uuid_sub then "UUID_SUB=" + $mb.uuid_sub else empty end),
                "VERSION=" + (if $a.metadata == "0.90" then "0.90.0" else $a.metadata end) ]
            | sort | join(" ")' both.json 2>&1)
        is "$ours " "$blk" "d$d p$n: type, UUID, UUID_SUB, LABEL and version as blkid -p"
    done
done

# ---- the arrays' data areas hold what mdadm's arrays held (e2fsck clean)
for name in md/root md/boot md/srv; do
    for d in 1 2; do
        n=$(jq -r --arg a "$name" --arg d "d$d.img:" '.md_arrays[] | select(.device == $a) | .members[] | select(.device | startswith($d)) | .device | sub(".*:p"; "")' both.json)
        off=$(jq -r --arg a "$name" --arg d "d$d.img:" '.md_arrays[] | select(.device == $a) | .members[] | select(.device | startswith($d)) | .data_offset' both.json)
        size=$(jq -r --arg a "$name" '.md_arrays[] | select(.device == $a) | .size' both.json)
        on_range d$d.img $(( $(part_start d$d.img "$n") + off )) "$size" e2fsck -fn >/dev/null 2>&1; ok $? "$name on d$d: e2fsck -fn clean on the data area img-inspect reports"
    done
done

# ---- arrays, the guest on them, LVM on md
is "$(jq -r '[.md_arrays[] | .device + " " + .level + " " + .metadata + " " + (.members | length | tostring)] | join(", ")' both.json)" \
   "md/root raid1 1.2 2, md3 raid1 0.90 2, md/boot raid1 1.0 2, md/srv raid1 1.1 2, md/scratch raid0 1.2 2" \
   "five arrays: device, level, metadata, members"
is "$(jq -r '.guest.roots | join(" ")' both.json)" "md/root" "the root is the RAID1 array"
is "$(jq -r '[.guest.os.id, .guest.hostname] | join(" ")' both.json)" "debian mdguest" "distro and hostname read off the array"
is "$(jq -r '[.guest.mounts[] | .mountpoint + "=" + .device + ":" + (.mounted | tostring)] | sort | join(" ")' both.json)" \
   "/=md/root:true /boot=md/boot:true /data=vgmd/data:true /srv=md/srv:true" \
   "mounts: UUID=, /dev/md/NAME, LABEL= and an LV on md, all mounted"
is "$(jq -r '.volume_groups[] | .name + " " + .pvs[0].device + " " + .lvs[0].name + " " + .lvs[0].filesystem.uuid' both.json)" \
   "vgmd md3 data 0e0e0e0e-1111-4222-8333-444444444444" "LVM on the 0.90 array: VG, PV on md3, LV with its ext4"
is "$("$GT" d1.img d2.img -- cat /data/marker)" "data on vgmd/data on md3 (0.90)" "a file on the LV on md read back"
is "$("$GT" d1.img d2.img -- cat /boot/marker)" "boot on md1 (1.0)" "a file on the 1.0 array read back"
is "$(jq -r '.md_arrays[] | select(.device == "md/scratch") | .error' both.json)" \
   "md/scratch: md: raid0 arrays are not read (only RAID1 is, from one member)" "raid0 listed, not read, with a reason"
is "$(img-inspect d1.img d2.img | grep -c 'not read:')" 1 "raid0: one 'not read' line in the text report"

# ---- degraded: either member alone
for d in 1 2; do
    img-inspect --json d$d.img >one.json 2>one.err; st=$?
    is "$st $(jq -r '[.guest.roots[0], (.md_arrays[] | select(.device == "md/root") | .degraded | tostring), (.guest.mounts | length | tostring), .guest.os.id] | join(" ")' one.json)" \
       "0 md/root true 4 debian" "d$d alone: degraded RAID1 root still inspected, all four mounts"
done

# ---- natively, writes are refused before anything is written
sha1sum d1.img d2.img >sums
fails_with "img2pv --backend native on an md guest: one line" 'md/(root|boot|srv): md: an md RAID array is not written natively .*--backend auto' \
    img2pv --backend native d1.img d2.img
fails_with "img-ramify --backend native on an md guest: one line" 'md/(root|boot|srv): md: an md RAID array is not written natively' \
    img-ramify --backend native d1.img d2.img
sha1sum -c --quiet sums; ok $? "both images untouched"

# ---- through the appliance, every mirror is written, superblocks clean
cp --sparse=always d1.img w1.img; cp --sparse=always d2.img w2.img
"$top_builddir/tests/edits-tool" --edits hostname=mdw,put=/srv/new,put=/data/new w1.img w2.img > w.out 2>&1
ok $? "a write through the appliance: the root, /srv and an LV on md"
for d in 1 2; do
    is "$(img-inspect --json w$d.img 2>/dev/null | jq -r .guest.hostname)" mdw "member $d alone reads the new hostname"
done
# mdadm --examine on each member (read-only loop devices; no md driver needed)
examine () {
    local dev out
    dev=$(losetup -f --show -r -o "$(part_start "$1" "$2")" --sizelimit "$(part_size "$1" "$2")" "$1") || return 1
    out=$(mdadm --examine "$dev" 2>&1 | sed -n 's/^ *\(State\|Events\) : *//p' | tr '\n' ' ')
    losetup -d "$dev"
    echo "$out"
}
for p in 1 2 4; do
    a=$(examine w1.img $p); b=$(examine w2.img $p)
    is "$a" "$b" "p$p: both mirrors' superblocks agree ($a)"
    case $a in clean*) ok 0 "p$p: the array was stopped clean";; *) ok 1 "p$p: the array was stopped clean"; diag "$a";; esac
done
sum=$(sha1sum w1.img w2.img)
"$top_builddir/tests/edits-tool" --edits hostname=mdw,put=/srv/new,put=/data/new w1.img w2.img > w2.out 2>&1
is "$?" 3 "a second run has nothing to do"
is "$(sha1sum w1.img w2.img)" "$sum" "... and changes no byte"
"$top_builddir/tests/edits-tool" --rollback w1.img.img-tools-undo w1.img w2.img > rb.out 2>&1
ok $? "rollback"
cmp -s w1.img d1.img && cmp -s w2.img d2.img; ok $? "rollback: both members bit for bit as they were"
rm -f w1.img w2.img w1.img.img-tools-undo

# ---- hostile superblocks (copies of d1; 1.x checksums fixed unless said)
# sbpatch IMG PART VERSION FIELD VALUE [nocsum]: rewrite one superblock field.
sbpatch () {
    python3 - "$1" "$(part_start "$1" "$2")" "$(part_size "$1" "$2")" "$3" "$4" "$5" "${6:-}" <<'PY'
import struct, sys
img, start, size, ver, field, value, nocsum = sys.argv[1:8]
start, size = int(start), int(size)
if ver == "0.90":
    off = start + (size & ~65535) - 65536
else:
    off = start + {"1.0": ((size - 8192) & ~4095), "1.1": 0, "1.2": 4096}[ver]
f = open(img, "r+b"); f.seek(off); sb = bytearray(f.read(4096))
fields = {"magic": (0, "<I"), "level": (72, "<i"), "raid_disks": (92, "<I"),
          "data_offset": (128, "<Q"), "data_size": (136, "<Q"), "events": (200, "<Q"),
          "name": (32, "32s"), "0.90:raid_disks": (40, "<I"), "0.90:magic": (0, "<I")}
o, fmt = fields[(ver + ":" + field) if ver == "0.90" else field]
struct.pack_into(fmt, sb, o, value.encode() if fmt == "32s" else int(value, 0))
if ver == "0.90" and not nocsum:
    struct.pack_into("<I", sb, 38 * 4, 0)
    s = sum(struct.unpack_from("<1024I", sb, 0))
    struct.pack_into("<I", sb, 38 * 4, ((s & 0xffffffff) + (s >> 32)) & 0xffffffff)
if ver != "0.90" and not nocsum:
    n = 256 + 2 * struct.unpack_from("<I", sb, 220)[0]
    struct.pack_into("<I", sb, 216, 0)
    s = sum(struct.unpack_from("<%dI" % (n // 4), sb, 0))
    s = (s & 0xffffffff) + (s >> 32)
    struct.pack_into("<I", sb, 216, s & 0xffffffff)
f.seek(off); f.write(sb); f.close()
PY
}
fresh () { cp --sparse=always "$F/d1.img" "$1"; }

# The checksum helper must agree with mdadm's: a rewrite of the same
# value leaves blkid seeing the member.
fresh h0.img; sbpatch h0.img 1 1.2 events 1
is "$(on_range h0.img "$(part_start h0.img 1)" "$(part_size h0.img 1)" blkid -p -o export | grep -E '^(TYPE|SBBADCSUM)=' | tr '\n' ' ')" "TYPE=linux_raid_member " "test's 1.x checksum is mdadm's (blkid still sees the member)"

fresh h1.img; sbpatch h1.img 1 1.2 magic 0x12345678
img-inspect --json h1.img d2.img >h.json 2>h.err; st=$?
is "$st $(jq -r '.images[0].partitions[0].filesystem, (.md_arrays[] | select(.device == "md/root") | .members | length)' h.json | tr '\n' ' ')" \
   "0 null 1 " "bad magic: not a member; the array is read from the other one"

fresh h2.img; sbpatch h2.img 1 1.2 name "evil:root" nocsum
img-inspect --json h2.img >h.json 2>h.err; st=$?
is "$st $(jq -r '.images[0].partitions[0].filesystem' h.json) $(cat h.err)" "0 null " \
   "bad 1.x checksum: not a member, quietly (the kernel refuses it too)"

fresh h3.img; sbpatch h3.img 1 1.2 data_offset 0x7fffffffffffffff
fails=$(img-inspect --json h3.img 2>&1 >h.json); st=$?
is "$st $(printf '%s\n' "$fails" | grep -c .)" "0 1" "absurd data_offset: exit 0 and one line"
printf '%s\n' "$fails" | grep -Eq 'h3.img:p1: md: 1.2 superblock: data area of [0-9]+ bytes at [0-9]+ is past the end of the member .*; member ignored'
ok $? "absurd data_offset: the line says which member and why"

fresh h4.img; sbpatch h4.img 1 1.2 data_size 0xffffffffffff
fails=$(img-inspect --json h4.img 2>&1 >h.json); st=$?
is "$st $(printf '%s\n' "$fails" | grep -c 'past the end of the member')" "0 1" "data_size past the device: one line"

fresh h5.img; sbpatch h5.img 1 1.2 raid_disks 0xffffffff
fails=$(img-inspect --json h5.img 2>&1 >h.json); st=$?
is "$st $(printf '%s\n' "$fails" | grep -c 'raid_disks 4294967295 is out of range')" "0 1" "raid_disks huge: one line"

fresh h6.img; sbpatch h6.img 2 0.90 raid_disks 100000
fails=$(img-inspect --json h6.img 2>&1 >h.json); st=$?
is "$st $(printf '%s\n' "$fails" | grep -c 'h6.img:p2: md: 0.90 superblock: raid_disks 100000 is out of range')" "0 1" \
   "0.90 raid_disks huge: one line"
fresh h6b.img; sbpatch h6b.img 2 0.90 raid_disks 1 nocsum
img-inspect --json h6b.img >h.json 2>h.err; st=$?
is "$st $(jq -r '[.md_arrays[] | select(.device == "md3")] | length' h.json) $(cat h.err)" "0 0 " \
   "0.90 field changed without its checksum: not a member, quietly"

fresh h7.img; sbpatch h7.img 1 1.2 level 0
fails=$(img-inspect --json h7.img d2.img 2>&1 >h.json); st=$?
is "$st $(printf '%s\n' "$fails" | grep -c 'members with one UUID disagree') $(jq -r '.guest.roots | length' h.json)" "0 1 0" \
   "one UUID, two levels: one line, the array is not read"

# ---- 0.90 as a big-endian machine writes it: every word swapped, the
# 64-bit event counts high word first
fresh h11.img
# The event count mdadm left (its own, little-endian), to compare with.
img-inspect --json h11.img >h.json 2>/dev/null
ev=$(jq -r '.md_arrays[] | select(.device == "md3") | .members[0].events' h.json)
python3 - h11.img "$(part_start h11.img 2)" "$(part_size h11.img 2)" <<'PY'
import struct, sys
img, start, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
off = start + (size & ~65535) - 65536
f = open(img, "r+b"); f.seek(off); w = list(struct.unpack("<1024I", f.read(4096)))
w[39], w[40], w[41], w[42] = w[40], w[39], w[42], w[41]
f.seek(off); f.write(struct.pack(">1024I", *w)); f.close()
PY
blk=$(on_range h11.img "$(part_start h11.img 2)" "$(part_size h11.img 2)" blkid -p -o export | grep -E '^(TYPE|UUID)=' | sort | tr '\n' ' ')
img-inspect --json h11.img >h.json 2>h.err; st=$?
is "$st $(jq -r '.images[0].partitions[1].filesystem | "TYPE=" + .type + " UUID=" + .uuid + " "' h.json)" "0 $blk" \
   "big-endian 0.90: recognised as blkid -p recognises it"
is "$(jq -r '[(.md_arrays[] | select(.device == "md3") | .metadata, .members[0].events, .error), .volume_groups[0].name] | map(tostring) | join(" ")' h.json)" \
   "0.90 $ev null vgmd" "big-endian 0.90: events decoded ($ev, as mdadm wrote them), the array read, its VG found"

# ---- members that disagree on events: the freshest is read, whichever is named first
fresh h8.img; sbpatch h8.img 1 1.2 events 1000
IMG_DEBUG=1 img-inspect --json d2.img h8.img >h.json 2>h.err; st=$?
is "$st $(jq -r '.md_arrays[] | select(.device == "md/root") | .members[] | select(.used) | .device' h.json)" \
   "0 h8.img:p1" "events disagree: the fresher member is read"
# d2's count is what mdadm left in the fixture (1 or 2, by how often the
# appliance's udev touched the array).
ev2=$(jq -r '.md_arrays[] | select(.device == "md/root") | .members[] | select(.device == "d2.img:p1") | .events' h.json)
grep -q "md/root: md: d2.img:p1 has events $ev2, h8.img:p1 has 1000; reading the fresher h8.img:p1" h.err
ok $? "events disagree: said in debug output (d2.img:p1 has $ev2)"

# A truncated member: a whole-disk 1.2 member cut short inside its data area.
dd if=d1.img of=h9.img bs=1M skip=1 count=2 conv=sparse status=none
fails=$(img-inspect --json h9.img 2>&1 >h.json); st=$?
is "$st $(printf '%s\n' "$fails" | grep -c 'h9.img: md: 1.2 superblock: data area of [0-9]* bytes at 1048576 is past the end of the member (2097152 bytes); member ignored') $(jq -r '.md_arrays | length' h.json)" \
   "0 1 0" "truncated member: one line, nothing read"
fresh h10.img; truncate -s $(( $(part_start h10.img 5) + 4096 + 100 )) h10.img
fails=$(img-inspect h10.img 2>&1 >/dev/null); st=$?
is "$(( st > 0 && st < 128 ))$(printf '%s\n' "$fails" | grep -c .)" 11 "truncated image: an error exit and one line, no crash"
