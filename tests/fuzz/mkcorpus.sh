#!/bin/bash
# Regenerates the seed corpus of tests/fuzz-replay (the files in corpus/
# are committed; run this only to change them):
#   sudo tests/fuzz/mkcorpus.sh [DIR]
# Tiny images (at most 64 KiB, all together under 1 MiB) that reach
# every branch of the partition-table and probe code: MBR with an EBR
# chain and its corruptions (loops, links out of the extended partition,
# truncation), GPT at 512 and 4096-byte sectors and its corruptions (bad
# CRCs, absurd counts with good CRCs), whole-disk signatures, an LVM PV
# with a VG and LVs, md RAID members of each metadata version.  Made with
# the real tools where they cope with such
# small sizes, crafted with python where they do not.
set -eu

out=${1:-$(cd "$(dirname "$0")" && pwd)/corpus}
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "$0: needs root (losetup, pvcreate)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*

head4k () { head -c 4096 "$1" >"$out/$2"; }

# ---- whole-disk signatures (the first 4 KiB is all the probe reads) ---------

truncate -s 1M "$work/fs"
mke2fs -q -F -t ext2 -U 0b1c2d3e-4f50-4172-8394-a5b6c7d8e9f0 -L ext2seed "$work/fs"
head4k "$work/fs" ext2.img
head -c 2048 "$work/fs" >"$out/ext2-2k.img"        # the small-volume path
cp "$work/fs" "$work/ext2"
mke2fs -q -F -t ext4 -O ^has_journal -U 2d3e4f50-6172-4394-a5b6-c7d8e9f00112 -L ext4seed "$work/fs"
head4k "$work/fs" ext4.img
mke2fs -q -F -t ext2 -U a5b6c7d8-e9f0-4112-a334-45566778899a -L $'q"\\\x01\x7f' "$work/fs"
head4k "$work/fs" ext2-hostile-label.img
rm -f "$work/fs"; truncate -s 300M "$work/fs"
mkfs.xfs -q -f -m uuid=3e4f5061-7283-44a5-b6c7-d8e9f0011223 -L xfsseed "$work/fs"
head4k "$work/fs" xfs.img
rm -f "$work/fs"; truncate -s 64K "$work/fs"
mkswap -q -U 50617283-94a5-46c7-98e9-f00112233445 -L swapseed "$work/fs" >/dev/null
head4k "$work/fs" swap.img
rm -f "$work/fs"; truncate -s 1M "$work/fs"
mkfs.vfat -F 12 -i 1a2b3c4d -n FATSEED "$work/fs" >/dev/null
head4k "$work/fs" fat12.img
rm -f "$work/fs"; truncate -s 40M "$work/fs"
mkfs.vfat -F 32 -i 3c4d5e6f -n FAT32SEED "$work/fs" >/dev/null
head4k "$work/fs" fat32.img
printf k >"$work/key"
for v in 1 2; do
    rm -f "$work/fs"; truncate -s 20M "$work/fs"
    cryptsetup luksFormat -q --type luks$v --uuid 8394a5b6-c7d8-49f0-8112-23344556677$v \
        --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$work/key" "$work/fs"
    head4k "$work/fs" luks$v.img
done
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(100)))' >"$out/tiny-100.img"

# ---- ntfs, iso9660, squashfs (the heads blkid and the probe read) ----------
# mkntfs puts a small volume's MFT at cluster 4: 24 KiB hold $Volume.
rm -f "$work/fs"; truncate -s 8M "$work/fs"
mkntfs -q -F -Q -L ntfsseed -s 512 -p 0 -H 0 -S 0 "$work/fs" >/dev/null 2>&1
head -c 24576 "$work/fs" >"$out/ntfs.img"
python3 - "$out" <<'EOF'
import os, struct, sys
out = sys.argv[1]
img = bytearray(open(os.path.join(out, "ntfs.img"), "rb").read())
spc = img[0x0d] if img[0x0d] < 0xf4 else 1 << (256 - img[0x0d])
cluster = struct.unpack_from("<H", img, 0x0b)[0] * spc
cpr = struct.unpack_from("<b", img, 0x40)[0]
rec = cpr * cluster if cpr > 0 else 1 << -cpr
vol = struct.unpack_from("<Q", img, 0x30)[0] * cluster + 3 * rec
def attrs():
    off = vol + struct.unpack_from("<H", img, vol + 0x14)[0]
    while struct.unpack_from("<I", img, off)[0] != 0xffffffff:
        yield off
        off += struct.unpack_from("<I", img, off + 4)[0]
name = [a for a in attrs() if struct.unpack_from("<I", img, a)[0] == 0x60][0]
first = next(attrs())
def save(fname, edits, size=len(img)):
    b = bytearray(img)
    for off, fmt, v in edits:
        struct.pack_into(fmt, b, off, v)
    open(os.path.join(out, fname), "wb").write(b[:size])
save("ntfs-attr-zero.img", [(first + 4, "<I", 0)])            # would not progress
save("ntfs-attr-huge.img", [(first + 4, "<I", 0xfffffff0)])   # past the record
save("ntfs-label-huge.img", [(name + 0x10, "<I", 0xfffffff0)])
save("ntfs-mft-far.img", [(0x30, "<Q", 1 << 61)], 4096)      # offset overflows
save("ntfs-record-absurd.img", [(0x40, "<b", -40)], 4096)
EOF
rm -f "$work/fs"; mkdir -p "$work/iso"; echo seed >"$work/iso/f"
xorriso -as mkisofs -quiet -V ISOSEED -o "$work/fs" "$work/iso" 2>/dev/null
head -c 34816 "$work/fs" >"$out/iso9660.img"
head -c 33000 "$work/fs" >"$out/iso9660-truncated.img"       # PVD cut short
rm -f "$work/fs"; mksquashfs "$work/iso" "$work/fs" -quiet -noappend >/dev/null
head4k "$work/fs" squashfs.img

# ---- an LVM PV with a VG and two LVs, all in the first 64 KiB ----------------

(
    . "$top_srcdir/tests/functions.sh"
    . "$top_srcdir/tests/fixtures.sh"
    small='devices { pv_min_size = 512 }'
    new_image "$work/pv" 512K
    lvm_begin "$work/pv:0:524288"
    d=${LVM_LOOPS[0]}
    lvm_q pvcreate --config "$small" --metadatasize 32k --dataalignment 4k \
        -u seedPV-0000-1111-2222-3333-4444-555555 --norestorefile "$d"
    lvm_q vgcreate --config "$small" -s 4k seedvg "$d"
    lvm_q lvcreate --config "$small" -an -Zn -l 2 -n lv1 seedvg
    lvm_q lvcreate --config "$small" -an -Zn -l 3 -n lv2 seedvg
    lvm_end
)
# An ext2 superblock in lv2 (extents 2-4 at pe_start 36 KiB).
dd if="$work/ext2" of="$work/pv" bs=1 seek=$((36864 + 8192)) count=2048 conv=notrunc status=none
head -c 65536 "$work/pv" >"$out/lvm-pv.img"

# ---- GPT --------------------------------------------------------------------

truncate -s 48K "$work/gpt"
sgdisk -a 1 -U 5B1A2C3D-4E5F-4071-8293-A4B5C6D7E8F9 \
    -n 1:34:49 -t 1:8300 -c 1:"rootfs" -u 1:11111111-1111-4111-8111-111111111111 \
    -n 2:50:57 -t 2:8e00 -c 2:"Ünïcødé 🐧" -A 2:set:2 -A 2:set:60 \
    -n 4:58:0 -t 4:8200 -c 4:"swap" "$work/gpt" >/dev/null
cp "$work/gpt" "$out/gpt.img"
# An ext2 superblock in partition 1.
dd if="$work/ext2" of="$out/gpt.img" bs=512 seek=34 count=4 conv=notrunc status=none

# Small tables (4 entries, one sector) for the corrupted variants.
truncate -s 8K "$work/gpt4"
sfdisk -q --no-reread --no-tell-kernel "$work/gpt4" >/dev/null <<'EOF'
label: gpt
label-id: 0D15EA5E-0000-4000-8000-0000000000AA
table-length: 4
first-lba: 3
start=3, size=4, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE, name="a"
start=7, size=6, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="b"
EOF
cp "$work/gpt4" "$out/gpt-small.img"

rm -f "$work/gpt4k"; truncate -s 64K "$work/gpt4k"
loop=$(losetup -f --show --sector-size 4096 "$work/gpt4k")
sfdisk -q --no-reread --no-tell-kernel "$loop" >/dev/null <<'EOF' || { losetup -d "$loop"; exit 1; }
label: gpt
label-id: 0D15EA5E-0000-4000-8000-000000004096
first-lba: 6
start=6, size=2, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
start=8, size=3, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm"
EOF
losetup -d "$loop"
cp "$work/gpt4k" "$out/gpt-4k.img"

# ---- MBR (crafted: the tools want more room than a seed should take) --------

python3 - "$out" "$work/ext2" <<'EOF'
import os, struct, sys, zlib

out, ext2 = sys.argv[1], open(sys.argv[2], "rb").read(4096)

def entry(img, sec, slot, typ, lba, n, boot=0):
    struct.pack_into("<B3xBxxxII", img, sec * 512 + 446 + 16 * slot, boot, typ, lba, n)
    img[sec * 512 + 510:sec * 512 + 512] = b"\x55\xaa"

def save(name, img):
    with open(os.path.join(out, name), "wb") as f:
        f.write(img)

# 32 KiB: p1 bootable ext2, p2 extended with logical 5 (empty) and 6 (swap),
# p4 EFI on the last sectors.
base = bytearray(32768)
struct.pack_into("<I", base, 440, 0x5eed0001)
entry(base, 0, 0, 0x83, 2, 16, 0x80)
entry(base, 0, 1, 0x05, 18, 40)
entry(base, 0, 3, 0xef, 58, 6)
entry(base, 18, 0, 0x83, 1, 4)          # EBR A: logical 5 at 19
entry(base, 18, 1, 0x05, 5, 35)         #   next: EBR B at 23
entry(base, 23, 0, 0x82, 1, 34)         # EBR B: logical 6 at 24..57
base[2 * 512:2 * 512 + 4096] = ext2
swap = 24 * 512
base[swap + 4086:swap + 4096] = b"SWAPSPACE2"
struct.pack_into("<I", base, swap + 1024, 1)
base[swap + 1036:swap + 1052] = bytes(range(16))
base[swap + 1052:swap + 1060] = b"mbrswap\0"
save("mbr.img", base)

def variant(name, *edits, size=None):
    img = bytearray(base if size is None else base[:size])
    for e in edits:
        entry(img, *e)
    save(name, img)

variant("mbr-ebr-selfloop.img", (18, 1, 0x05, 0, 35))
variant("mbr-ebr-selfloop2.img", (23, 1, 0x05, 5, 35))
variant("mbr-ebr-aba.img", (23, 1, 0x05, 0, 35))
variant("mbr-ebr-outside.img", (23, 1, 0x05, 4000000000, 35))
variant("mbr-logical-outside.img", (23, 0, 0x82, 1, 4000))
variant("mbr-truncated.img", size=16384)
img = bytearray(base); img[23 * 512 + 510:23 * 512 + 512] = b"\0\0"
save("mbr-ebr-nosig.img", img)

# As long a chain as 64 KiB holds: an EBR in every sector, each logical
# one sector long (on the next EBR: overlaps are not the parser's business).
img = bytearray(65536)
entry(img, 0, 0, 0x05, 1, 127)
for k in range(126):
    entry(img, 1 + k, 0, 0x83, 1, 1)
    if k < 125:
        entry(img, 1 + k, 1, 0x05, k + 1, 1)
save("mbr-ebr-126.img", img)

# A hybrid MBR: 0xEE beside real entries; the GPT wins.
img = bytearray(open(os.path.join(out, "gpt-small.img"), "rb").read())
entry(img, 0, 1, 0x83, 3, 4)
save("gpt-hybrid.img", img)

# ---- GPT corruptions ----------------------------------------------------
small = open(os.path.join(out, "gpt-small.img"), "rb").read()

def gpt_edit(name, src, ss, edits, fix=True):
    img = bytearray(src)
    for lba, off, fmt, val in edits:
        if lba < 0:
            lba += len(img) // ss
        struct.pack_into(fmt, img, lba * ss + off, val)
    for lba in (1, len(img) // ss - 1) if fix else ():
        h = lba * ss
        hsize = struct.unpack_from("<I", img, h + 12)[0]
        elba, n, esz = struct.unpack_from("<QII", img, h + 72)
        if n * esz <= len(img):
            struct.pack_into("<I", img, h + 88,
                             zlib.crc32(img[elba * ss:elba * ss + n * esz]))
        struct.pack_into("<I", img, h + 16, 0)
        struct.pack_into("<I", img, h + 16, zlib.crc32(img[h:h + hsize]))
    save(name, img)

gpt_edit("gpt-primary-crc.img", small, 512, [(1, 16, "<I", 0xdeadbeef)], fix=False)
gpt_edit("gpt-primary-entries.img", small, 512, [(2, 56, "<H", 0x41)], fix=False)
gpt_edit("gpt-primary-wiped.img", small, 512, [(1, 0, "<Q", 0)], fix=False)
gpt_edit("gpt-both-crc.img", small, 512, [(1, 16, "<I", 1), (-1, 16, "<I", 1)], fix=False)
gpt_edit("gpt-count-absurd.img", small, 512, [(1, 80, "<I", 0xffffffff), (-1, 80, "<I", 0xffffffff)])
gpt_edit("gpt-entry-size-absurd.img", small, 512, [(1, 84, "<I", 0x80000000), (-1, 84, "<I", 0x80000000)])
gpt_edit("gpt-entry-outside.img", small, 512, [(2, 40, "<Q", 1 << 40), (-2, 40, "<Q", 1 << 40)])
gpt_edit("gpt-usable-absurd.img", small, 512, [(1, 48, "<Q", 1 << 62), (-1, 48, "<Q", 1 << 62)])
gpt4k = open(os.path.join(out, "gpt-4k.img"), "rb").read()
gpt_edit("gpt-4k-primary-crc.img", gpt4k, 4096, [(1, 16, "<I", 0xdeadbeef)], fix=False)
EOF

# ---- md RAID members (superblocks mdadm wrote, moved into small members) ----
# The fixtures come from mdadm in a libguestfs appliance (tests/md-fixtures.sh);
# each superblock is cut out, its offsets and sizes set to fit a member of
# 8 or 16 KiB (0.90 needs 64), and its checksum redone as mdadm computes it.
md=$(bash "$top_srcdir/tests/md-fixtures.sh")
python3 - "$out" "$md/d1.img" "$work/ext2" <<'EOF'
import os, struct, sys
out, disk, ext2 = sys.argv[1:4]
d = open(disk, "rb").read()
ext = open(ext2, "rb").read(2048)
# GPT partitions of the fixture: start sector, sectors (p1..p5).
parts = [(2048, 49152), (51200, 49152), (100352, 20480), (120832, 16384), (137216, 16384)]
def sb1(part, where):
    start, size = parts[part - 1]
    return bytearray(d[start * 512 + where:start * 512 + where + 4096])
def csum1(sb):
    n = 256 + 2 * struct.unpack_from("<I", sb, 220)[0]
    struct.pack_into("<I", sb, 216, 0)
    s = sum(struct.unpack_from("<%dI" % (n // 4), sb, 0))
    struct.pack_into("<I", sb, 216, ((s & 0xffffffff) + (s >> 32)) & 0xffffffff)
def member(name, size, sb, at, data_at, data_sectors, with_ext2):
    img = bytearray(size)
    struct.pack_into("<QQQ", sb, 128, data_at // 512, data_sectors, at // 512)
    struct.pack_into("<Q", sb, 80, data_sectors)
    csum1(sb)
    if with_ext2:
        img[data_at:data_at + 2048] = ext
    img[at:at + 4096] = sb
    open(os.path.join(out, name), "wb").write(img)
    return img
img = member("md-1.2.img", 16384, sb1(1, 4096), 4096, 8192, 16, True)
img[4096 + 40] ^= 1                                 # name changed, checksum not
open(os.path.join(out, "md-1.2-csum.img"), "wb").write(img)
member("md-1.1.img", 8192, sb1(4, 0), 0, 4096, 8, False)
start, size = parts[2]
member("md-1.0.img", 16384, sb1(3, (size * 512 - 8192) & ~4095), 8192, 0, 16, True)
raid0 = sb1(5, 4096)
struct.pack_into("<I", raid0, 72, 0)
member("md-raid0.img", 16384, raid0, 4096, 8192, 16, True)
# 0.90 (a 64 KiB member holds it at 0): its size field is left as mdadm
# wrote it, far past the superblock: recognised, never read.
start, size = parts[1]
off = start * 512 + ((size * 512) & ~65535) - 65536
open(os.path.join(out, "md-0.90.img"), "wb").write(d[off:off + 4096] + bytes(65536 - 4096))
EOF

ls -l "$out" | awk 'NR > 1 { n++; s += $5 } END { printf "%d files, %d bytes\n", n, s }'
