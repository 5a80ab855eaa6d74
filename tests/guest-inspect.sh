#!/bin/bash
# Guest inspection.  On the real Debian 12 guests (plain, LVM, GPT+LVM;
# raw and qcow2): root, OS and version, mount map, kernel <-> initrd
# pairs, initramfs flavour and GRUB menu entries, each checked against
# what is really in the image (read with debugfs, lsinitramfs).  On
# synthetic guests: RHEL 5 (GRUB legacy, mkinitrd, -xen kernel), Fedora
# (BLS, dracut), SUSE 11 (legacy release file).
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires debugfs; requires cpio; requires zstd; requires lsinitramfs

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

for layout in mbr-plain mbr-lvm gpt-lvm; do
    raw=$dir/$layout.img
    # shellcheck disable=SC1090
    . "$raw.facts"
    for img in "$raw" "$dir/$layout.qcow2"; do
        t="$layout $(basename "${img##*.}")"
        img-inspect --json "$img" > g.json; ok $? "$t: inspected"
        case $layout in
        mbr-plain) want_root="$img:p2" ;;
        *) want_root="guestvg/root" ;;
        esac
        is "$(jq -r '.guest.roots | join(" ")' g.json)" "$want_root" "$t: root"
        is "$(jq -r '.guest.os | "\(.id) \(.version_id) \(.codename) \(.source)"' g.json)" \
           "debian 12 bookworm /etc/os-release" "$t: OS"
        is "$(jq -r '.guest.hostname' g.json)" "$HOSTNAME" "$t: hostname"
        is "$(jq -r '.guest.arch' g.json)" "x86_64" "$t: arch"
        is "$(jq -r '.guest.mounts[] | select(.mountpoint == "/") | "\(.fs_uuid) \(.mounted)"' g.json)" \
           "$ROOT_UUID true" "$t: / in the mount map"
        is "$(jq -r '.guest.mounts[] | select(.mountpoint == "/boot") | "\(.fs_uuid) \(.mounted) \(.device)"' g.json)" \
           "$BOOT_UUID true $img:p$BOOT_PART" "$t: /boot in the mount map"
        if [ -n "${SWAP_UUID:-}" ]; then
            is "$(jq -r '.guest.mounts[] | select(.mountpoint == "swap") | "\(.fs_uuid) \(.device)"' g.json)" \
               "$SWAP_UUID guestvg/swap" "$t: swap in the mount map"
        fi
        is "$(jq -r '.guest.initramfs' g.json)" "initramfs-tools" "$t: initramfs tooling"
    done

    # Independent views of the same guest, from the raw image's /boot.
    boot="$raw?offset=$BOOT_OFFSET"
    kernels=$(debugfs -R "ls -l /" "$boot" 2>/dev/null | grep -o 'vmlinuz-[^ ]*' | sed 's/vmlinuz-//' | sort -rV | tr '\n' ' ')
    is "$(jq -r '[.guest.kernels[].version] | join(" ")' g.json) " "$kernels" "$layout: kernels as in /boot"
    ver=$(jq -r '.guest.kernels[0].version' g.json)
    is "$(jq -r '.guest.kernels[0] | "\(.vmlinuz) \(.initrd) \(.modules) \(.xen)"' g.json)" \
       "/boot/vmlinuz-$ver /boot/initrd.img-$ver /lib/modules/$ver pvops" "$layout: kernel <-> initrd <-> modules"
    debugfs -R "dump /initrd.img-$ver initrd" "$boot" >/dev/null 2>&1
    lsinitramfs initrd > initrd.list 2>/dev/null
    is "$(jq -r '.guest.kernels[0].initrd_contents.entries' g.json)" "$(grep -c . initrd.list)" \
       "$layout: initrd entry count as lsinitramfs lists"
    for m in xen-blkfront xen-netfront; do
        want=missing; grep -q "/$m.ko" initrd.list && want=initrd
        is "$(jq -r ".guest.kernels[0].drivers[\"$m\"]" g.json)" "$want" "$layout: $m in the initrd: $want"
    done
    is "$(jq -r '.guest.kernels[0].initrd_contents.flavour' g.json)" "initramfs-tools" "$layout: initrd flavour"
    debugfs -R "cat /grub/grub.cfg" "$boot" 2>/dev/null | grep -oE "^\s*menuentry '[^']+'" | sed "s/^\s*menuentry '//; s/'$//" > titles
    is "$(jq -r '.guest.bootloader[] | select(.kind == "grub2") | .entries[].title' g.json)" "$(cat titles)" \
       "$layout: GRUB menu entries as in grub.cfg ($(grep -c . titles))"
    is "$(jq -r '.guest.bootloader[0].entries[0] | "\(.kernel) \(.initrd)"' g.json)" \
       "/vmlinuz-$ver /initrd.img-$ver" "$layout: first entry's kernel and initrd"
done

# ---- synthetic guests -----------------------------------------------------
# mkguest_dir DIR IMAGE [LABEL]: one ext3 partition holding DIR.
mkguest_dir () {
    new_image "$2" 64M
    printf 'label: dos\nstart=2048, type=83\n' | partition "$2"
    mke2fs -q -F -t ext3 -L "${3:-root}" -E offset=1048576 -d "$1" "$2" 60000k
}
# An initrd (newc, gzip or zstd) from a directory.
mkinitrd_from () { (cd "$1" && find . | cpio -o -H newc --quiet | $3) > "$2"; }

# RHEL 5: GRUB legacy (menu.lst a symlink to grub.conf), mkinitrd with a
# nash init, a -xen kernel with xenblk/xennet in its initrd.
r=rhel5; mkdir -p $r/etc $r/boot/grub $r/sbin $r/lib/modules/2.6.18-398.el5xen $r/lib/modules/2.6.18-398.el5 i5/lib
echo 'Red Hat Enterprise Linux Server release 5.11 (Tikanga)' > $r/etc/redhat-release
printf 'NETWORKING=yes\nHOSTNAME=rhel5.example.com\n' > $r/etc/sysconfig-network
mkdir -p $r/etc/sysconfig && mv $r/etc/sysconfig-network $r/etc/sysconfig/network
printf 'LABEL=/ / ext3 defaults 1 1\n/dev/hda2 swap swap defaults 0 0\n' > $r/etc/fstab
cat > $r/boot/grub/grub.conf <<'EOC'
default=1
timeout=5
title Red Hat Enterprise Linux Server (2.6.18-398.el5xen)
	root (hd0,0)
	kernel /boot/vmlinuz-2.6.18-398.el5xen ro root=LABEL=/ console=xvc0
	initrd /boot/initrd-2.6.18-398.el5xen.img
title Red Hat Enterprise Linux Server (2.6.18-398.el5)
	root (hd0,0)
	kernel /boot/vmlinuz-2.6.18-398.el5 ro root=LABEL=/
	initrd /boot/initrd-2.6.18-398.el5.img
EOC
ln -s grub.conf $r/boot/grub/menu.lst; ln -s ../boot/grub/grub.conf $r/etc/grub.conf
: > $r/sbin/mkinitrd; chmod 755 $r/sbin/mkinitrd
printf '#!/bin/nash\nmount -t proc /proc /proc\n' > i5/init
: > i5/lib/xenblk.ko; : > i5/lib/xennet.ko
for v in 2.6.18-398.el5xen 2.6.18-398.el5; do echo kernel > $r/boot/vmlinuz-$v; done
mkinitrd_from i5 $r/boot/initrd-2.6.18-398.el5xen.img "gzip -9"
rm i5/lib/xen*; mkinitrd_from i5 $r/boot/initrd-2.6.18-398.el5.img "gzip -9"
mkguest_dir $r rhel5.img /
img-inspect --json --modules xenblk,xennet rhel5.img > r.json; ok $? "rhel5: inspected"
is "$(jq -r '.guest.os | "\(.id) \(.version_id) \(.codename) \(.source)"' r.json)" \
   "rhel 5.11 Tikanga /etc/redhat-release" "rhel5: OS from the legacy release file"
is "$(jq -r '.guest.hostname' r.json)" "rhel5.example.com" "rhel5: hostname from /etc/sysconfig/network"
is "$(jq -r '.guest.initramfs' r.json)" "mkinitrd" "rhel5: mkinitrd era"
is "$(jq -r '.guest.mounts[] | select(.mountpoint == "/") | "\(.spec) \(.mounted)"' r.json)" "LABEL=/ true" "rhel5: LABEL=/ root"
is "$(jq -r '.guest.kernels[] | "\(.version) \(.xen) \(.initrd) \(.initrd_contents.flavour) \(.drivers.xenblk) \(.drivers.xennet)"' r.json | sort)" \
   "2.6.18-398.el5 unknown /boot/initrd-2.6.18-398.el5.img mkinitrd missing missing
2.6.18-398.el5xen xenified /boot/initrd-2.6.18-398.el5xen.img mkinitrd initrd initrd" "rhel5: kernels, xen kind, initrds, xenblk/xennet"
is "$(jq -r '.guest.bootloader | length' r.json)" 1 "rhel5: grub.conf read once (menu.lst is a link to it)"
is "$(jq -r '.guest.bootloader[0] | "\(.kind) \(.default) \(.entries | length)"' r.json)" "grub-legacy 1 2" "rhel5: GRUB legacy, default 1, two entries"
is "$(jq -r '.guest.bootloader[0].entries[0] | "\(.title)|\(.kernel)|\(.initrd)|\(.args)|\(.root)"' r.json)" \
   "Red Hat Enterprise Linux Server (2.6.18-398.el5xen)|/boot/vmlinuz-2.6.18-398.el5xen|/boot/initrd-2.6.18-398.el5xen.img|ro root=LABEL=/ console=xvc0|(hd0,0)" \
   "rhel5: first entry"

# Fedora: BLS entries, dracut, a pvops kernel (CONFIG_XEN_PV=y), zstd initrd.
f=fedora; v=6.5.6-300.fc39.x86_64
mkdir -p $f/etc $f/boot/loader/entries $f/boot/grub2 $f/usr/bin $f/usr/lib/modules/$v iF/usr/lib/dracut iF/usr/lib/modules/$v/kernel/drivers/block
printf 'NAME="Fedora Linux"\nVERSION_ID=39\nID=fedora\nPRETTY_NAME="Fedora Linux 39 (Server Edition)"\n' > $f/etc/os-release
echo fedora-host > $f/etc/hostname
printf 'UUID=abcd / ext4 defaults 1 1\n' > $f/etc/fstab
: > $f/usr/bin/dracut; chmod 755 $f/usr/bin/dracut
printf 'title Fedora Linux (%s) 39\nversion %s\nlinux /vmlinuz-%s\ninitrd /initramfs-%s.img\noptions root=UUID=abcd ro\n' $v $v $v $v \
    > $f/boot/loader/entries/0123abcd-$v.conf
printf 'set default="${saved_entry}"\nblscfg\n' > $f/boot/grub2/grub.cfg
echo kernel > $f/boot/vmlinuz-$v
printf 'CONFIG_XEN=y\nCONFIG_XEN_PV=y\n' > $f/boot/config-$v
echo 'dracut modules' > iF/usr/lib/dracut/modules.txt
: > iF/usr/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko.xz
mkinitrd_from iF $f/boot/initramfs-$v.img "zstd -q"
printf 'kernel/drivers/net/xen-netfront.ko\n' > $f/usr/lib/modules/$v/modules.builtin
mkguest_dir $f fedora.img
img-inspect --json fedora.img > f.json; ok $? "fedora: inspected"
is "$(jq -r '.guest.os | "\(.id) \(.version_id) \(.pretty_name)"' f.json)" "fedora 39 Fedora Linux 39 (Server Edition)" "fedora: OS"
is "$(jq -r '.guest.initramfs' f.json)" "dracut" "fedora: dracut"
is "$(jq -r '.guest.kernels[0] | "\(.version) \(.xen) \(.initrd) \(.modules) \(.initrd_contents.flavour) \(.initrd_contents.segments[0].compression)"' f.json)" \
   "$v pvops /boot/initramfs-$v.img /usr/lib/modules/$v dracut zstd" "fedora: kernel, initrd, modules, flavour"
is "$(jq -r '.guest.kernels[0].drivers | "\(.["xen-blkfront"]) \(.["xen-netfront"])"' f.json)" "initrd builtin" \
   "fedora: xen-blkfront in the initrd, xen-netfront built in"
is "$(jq -r '.guest.bootloader[] | select(.kind == "bls") | .entries[0] | "\(.id)|\(.title)|\(.kernel)|\(.initrd)|\(.args)"' f.json)" \
   "0123abcd-$v|Fedora Linux ($v) 39|/vmlinuz-$v|/initramfs-$v.img|root=UUID=abcd ro" "fedora: BLS entry"

# SUSE 11: /etc/SuSE-release and /etc/HOSTNAME.
s=suse; mkdir -p $s/etc $s/boot
printf 'SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n' > $s/etc/SuSE-release
echo sles11.example.com > $s/etc/HOSTNAME
printf '/dev/sda1 / ext3 acl,user_xattr 1 1\n' > $s/etc/fstab
mkguest_dir $s suse.img
img-inspect --json suse.img > s.json; ok $? "suse: inspected"
is "$(jq -r '.guest.os | "\(.id) \(.version_id)"' s.json)" "sles 11.4" "suse: SLES 11 SP4 from SuSE-release"
is "$(jq -r '.guest.hostname' s.json)" "sles11.example.com" "suse: hostname from /etc/HOSTNAME"
is "$(jq -r '.guest.mounts[] | select(.mountpoint == "/") | .spec' s.json)" "/dev/sda1" "suse: /dev/sda1 root"
done_testing
