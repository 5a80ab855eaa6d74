#!/bin/bash
# needs: libguestfs-tools linux-image-amd64 fdisk
#
# Build (once) and cache the md RAID fixture disks.  This host's kernel has
# no md driver, so the arrays are made by the real mdadm inside a libguestfs
# appliance, in one launch.
# Usage: md-fixtures.sh   prints the directory holding d1.img and d2.img.
#   The directory is $IMG_TOOLS_CACHE/md-<key> (IMG_TOOLS_CACHE defaults to
#   /var/cache/img-tools), <key> a hash of this script: change it and the
#   next run builds a new set.
# Each disk is GPT with five partitions, one member of each array:
#   p1  md0 "fixture:root"    RAID1, metadata 1.2: ext4 root (os-release, fstab)
#   p2  md3                   RAID1, metadata 0.90: LVM PV, VG vgmd, LV data (ext4)
#   p3  md1 "fixture:boot"    RAID1, metadata 1.0: ext4 /boot
#   p4  md2 "fixture:srv"     RAID1, metadata 1.1: ext4 /srv
#   p5  md4 "fixture:scratch" RAID0, metadata 1.2: ext4
# The UUIDs are fixed (below) so the tests can name them.
set -euo pipefail

prog=md-fixtures.sh
die() { echo "$prog: $*" >&2; exit 1; }

cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools}
[ $# -eq 0 ] || die "usage: md-fixtures.sh"
command -v guestfish >/dev/null || die "guestfish not found (scripts/setup.sh installs libguestfs-tools)"
key=$(sha1sum <"${BASH_SOURCE[0]}" | cut -c1-12)
. "$(dirname "${BASH_SOURCE[0]}")/fixture-cache.sh"
fixture_dir md "$key"

work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
for d in d1 d2; do
    truncate -s 80M "$work/$d.img"
    sfdisk -q --no-reread --no-tell-kernel "$work/$d.img" >/dev/null <<'TABLE'
label: gpt
size=24MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
size=24MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
size=10MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
size=8MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
size=8MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E
TABLE
done

# mdadm --uuid takes four 8-digit groups; blkid prints them as a UUID.
mdc="mdadm --create --run --assume-clean --homehost=fixture --raid-devices=2"
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
# /dev/kvm may exist where KVM does not work (nested): libguestfs would then
# pick it and hang before the kernel prints a line.  TCG always works.
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
# The partitions' device nodes: udev in the appliance can still be making
# them when run returns (seen on a loaded machine: "mdadm: cannot open
# /dev/sdb1").  Wait for the last one of each disk, up to 30 s.
guestfish --rw -a "$work/d1.img" --format=raw -a "$work/d2.img" >"$work/log" 2>&1 <<EOF || { cat "$work/log" >&2; die "guestfish failed"; }
run
debug sh "udevadm settle; i=0; while [ \$i -lt 300 ] && ! { [ -b /dev/sda5 ] && [ -b /dev/sdb5 ]; }; do sleep 0.1; i=\$((i + 1)); done; [ -b /dev/sdb5 ] || echo no /dev/sdb5"
debug sh "$mdc --level=1 --metadata=1.2 --name=root --uuid=11111111:22222222:33333333:44444444 /dev/md0 /dev/sda1 /dev/sdb1 2>&1"
debug sh "$mdc --level=1 --metadata=0.90 --uuid=55555555:66666666:77777777:88888888 /dev/md3 /dev/sda2 /dev/sdb2 2>&1"
debug sh "$mdc --level=1 --metadata=1.0 --name=boot --uuid=aaaaaaaa:bbbbbbbb:cccccccc:dddddddd /dev/md1 /dev/sda3 /dev/sdb3 2>&1"
debug sh "$mdc --level=1 --metadata=1.1 --name=srv --uuid=12121212:34343434:56565656:78787878 /dev/md2 /dev/sda4 /dev/sdb4 2>&1"
debug sh "$mdc --level=0 --metadata=1.2 --name=scratch --uuid=99999999:88888888:77777777:66666666 /dev/md4 /dev/sda5 /dev/sdb5 2>&1"
debug sh "mkfs.ext4 -q -F -U 0a0a0a0a-1111-4222-8333-444444444444 -L mdroot /dev/md0 2>&1"
debug sh "mkfs.ext4 -q -F -U 0b0b0b0b-1111-4222-8333-444444444444 -L mdboot /dev/md1 2>&1"
debug sh "mkfs.ext4 -q -F -U 0c0c0c0c-1111-4222-8333-444444444444 -L mdsrv /dev/md2 2>&1"
debug sh "mkfs.ext4 -q -F -U 0d0d0d0d-1111-4222-8333-444444444444 -L mdscratch /dev/md4 2>&1"
debug sh "lvm pvcreate -q /dev/md3 2>&1 && lvm vgcreate -q vgmd /dev/md3 2>&1 && lvm lvcreate -q -y -n data -L 12M vgmd 2>&1"
debug sh "mkfs.ext4 -q -F -U 0e0e0e0e-1111-4222-8333-444444444444 -L mddata /dev/vgmd/data 2>&1"
mount /dev/md0 /
mkdir-p /etc
write /etc/os-release "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
write /etc/debian_version "12.5\n"
write /etc/hostname "mdguest\n"
write /etc/fstab "# md RAID1 root, /boot on metadata 1.0, LVM on 0.90\nUUID=0a0a0a0a-1111-4222-8333-444444444444 / ext4 errors=remount-ro 0 1\n/dev/md/boot /boot ext4 defaults 0 2\n/dev/mapper/vgmd-data /data ext4 defaults 0 2\nLABEL=mdsrv /srv ext4 defaults 0 2\n"
write /etc/mdadm-fixture "root on md0\n"
mkdir-p /boot
mkdir-p /data
mkdir-p /srv
mount /dev/md1 /boot
write /boot/marker "boot on md1 (1.0)\n"
mount /dev/vgmd/data /data
write /data/marker "data on vgmd/data on md3 (0.90)\n"
mount /dev/md2 /srv
write /srv/marker "srv on md2 (1.1)\n"
umount-all
debug sh "lvm vgchange -q -an vgmd 2>&1; sync; mdadm --stop /dev/md0 /dev/md1 /dev/md2 /dev/md3 /dev/md4 2>&1"
EOF
for d in d1 d2; do
    mv "$work/$d.img" "$dir/$d.img"
done
echo "$key" >"$dir/.complete"
echo "$dir"
