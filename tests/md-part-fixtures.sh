#!/bin/bash
# needs: libguestfs-tools linux-image-amd64 fdisk
#
# Build (once) and cache the fixture disks of partitioned md arrays (a
# partition table written on the array device itself).  This host's kernel
# has no md driver, so the arrays are made by the real mdadm, and
# partitioned by the real parted, inside a libguestfs appliance, in one
# launch.
# Usage: md-part-fixtures.sh   prints the directory holding d1.img and d2.img.
#   The directory is $IMG_TOOLS_CACHE/mdpart-<key> (IMG_TOOLS_CACHE
#   defaults to /var/cache/img-tools), <key> a hash of this script.
# Each disk is GPT with two partitions, one member of each array:
#   p1  md0 "fixture:sys"  RAID1, metadata 1.2, GPT inside:
#         md/sys1  ext4 /boot (named /dev/md/sys1 in fstab)
#         md/sys2  ext4 root (named by UUID)
#   p2  md5                RAID1, metadata 0.90, MBR inside:
#         md5p1    LVM PV, VG vgmp, LV data (ext4 /data)
#         md5p2    ext4 /srv (named /dev/md5p2 in fstab)
# The filesystem UUIDs are fixed (below) so the tests can name them.
set -euo pipefail

prog=md-part-fixtures.sh
die() { echo "$prog: $*" >&2; exit 1; }

cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools}
[ $# -eq 0 ] || die "usage: md-part-fixtures.sh"
command -v guestfish >/dev/null || die "guestfish not found (scripts/setup.sh installs libguestfs-tools)"
key=$(sha1sum <"${BASH_SOURCE[0]}" | cut -c1-12)
. "$(dirname "${BASH_SOURCE[0]}")/fixture-cache.sh"
fixture_dir mdpart "$key"

work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
for d in d1 d2; do
    truncate -s 64M "$work/$d.img"
    sfdisk -q --no-reread --no-tell-kernel "$work/$d.img" >/dev/null <<'TABLE'
label: gpt
size=36MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
size=22MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
TABLE
done

mdc="mdadm --create --run --assume-clean --homehost=fixture --raid-devices=2 --level=1"
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
# The partitions' device nodes: udev in the appliance can still be making
# them when run returns (seen on a loaded machine: "mdadm: cannot open
# /dev/sdb1").  Wait for the last one of each disk, up to 30 s.
guestfish --rw -a "$work/d1.img" --format=raw -a "$work/d2.img" >"$work/log" 2>&1 <<EOF || { cat "$work/log" >&2; die "guestfish failed"; }
run
debug sh "udevadm settle; i=0; while [ \$i -lt 300 ] && ! { [ -b /dev/sda2 ] && [ -b /dev/sdb2 ]; }; do sleep 0.1; i=\$((i + 1)); done; [ -b /dev/sdb2 ] || echo no /dev/sdb2"
debug sh "$mdc --metadata=1.2 --name=sys --uuid=21212121:31313131:41414141:51515151 /dev/md0 /dev/sda1 /dev/sdb1 2>&1"
debug sh "$mdc --metadata=0.90 --uuid=61616161:71717171:81818181:91919191 /dev/md5 /dev/sda2 /dev/sdb2 2>&1"
part-init /dev/md0 gpt
part-add /dev/md0 p 2048 18431
part-add /dev/md0 p 18432 -34
part-init /dev/md5 mbr
part-add /dev/md5 p 2048 26623
part-add /dev/md5 p 26624 -1
part-set-mbr-id /dev/md5 1 0x8e
debug sh "ls /dev/md0p1 /dev/md0p2 /dev/md5p1 /dev/md5p2 2>&1"
debug sh "mkfs.ext4 -q -F -U 1a1a1a1a-1111-4222-8333-444444444444 -L mpboot /dev/md0p1 2>&1"
debug sh "mkfs.ext4 -q -F -U 1b1b1b1b-1111-4222-8333-444444444444 -L mproot /dev/md0p2 2>&1"
debug sh "mkfs.ext4 -q -F -U 1c1c1c1c-1111-4222-8333-444444444444 -L mpsrv /dev/md5p2 2>&1"
debug sh "lvm pvcreate -q /dev/md5p1 2>&1 && lvm vgcreate -q vgmp /dev/md5p1 2>&1 && lvm lvcreate -q -y -n data -L 8M vgmp 2>&1"
debug sh "mkfs.ext4 -q -F -U 1d1d1d1d-1111-4222-8333-444444444444 -L mpdata /dev/vgmp/data 2>&1"
mount /dev/md0p2 /
mkdir-p /etc
write /etc/os-release "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
write /etc/debian_version "12.5\n"
write /etc/hostname "mdpartguest\n"
write /etc/fstab "# partitioned md RAID1 arrays\nUUID=1b1b1b1b-1111-4222-8333-444444444444 / ext4 errors=remount-ro 0 1\n/dev/md/sys1 /boot ext4 defaults 0 2\n/dev/mapper/vgmp-data /data ext4 defaults 0 2\n/dev/md5p2 /srv ext4 defaults 0 2\n/dev/md/5p2 /srv/udev ext4 ro 0 0\n"
mkdir-p /boot
mkdir-p /data
mkdir-p /srv
mount /dev/md0p1 /boot
write /boot/marker "boot on md/sys1 (1.2, GPT inside)\n"
mount /dev/vgmp/data /data
write /data/marker "data on vgmp/data on md5p1 (0.90, MBR inside)\n"
mount /dev/md5p2 /srv
write /srv/marker "srv on md5p2\n"
mkdir-p /srv/udev
umount-all
debug sh "lvm vgchange -q -an vgmp 2>&1; sync; mdadm --stop /dev/md0 /dev/md5 2>&1"
EOF
for d in d1 d2; do
    mv "$work/$d.img" "$dir/$d.img"
done
cp "$work/log" "$dir/build.log"
echo "$key" >"$dir/.complete"
echo "$dir"
