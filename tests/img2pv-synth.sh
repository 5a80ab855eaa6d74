#!/bin/bash
# img2pv on guests debootstrap cannot build, made of the right files:
# RHEL 5 (GRUB legacy, mkinitrd/nash, a -xen kernel: xenblk/xennet, xvc0,
# inittab, securetty, modprobe.conf, ifcfg HWADDR, blkid.tab, SELinux),
# Fedora (BLS, dracut, zstd initrd) and SLES 12 (dracut, sysconfig/kernel);
# a kernel brought in with --kernel-from; and bad input: one error line,
# exit 1, the image untouched.  Xen's pygrub reads the results.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires mke2fs; requires debugfs; requires e2fsck; requires cpio; requires jq
requires zstd; requires mkswap; requires sfdisk; requires pvcreate
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
IMG2PV=$top_builddir/src/img2pv
cd "$TMP"

# mkguest_dir DIR IMAGE UUID [SWAP-UUID]: an ext3 root holding DIR on p1,
# and a swap partition p2 when SWAP-UUID is given.
mkguest_dir () {
    new_image "$2" 96M
    if [ -n "${4:-}" ]; then
        printf 'label: dos\nstart=2048, size=135168, type=83, bootable\nstart=137216, type=82\n' | partition "$2"
        mkswap -q -U "$4" swap.tmp 16M > /dev/null 2>&1 || { truncate -s 16M swap.tmp; mkswap -q -U "$4" swap.tmp > /dev/null; }
        dd if=swap.tmp of="$2" bs=1M seek=67 conv=notrunc status=none
    else
        printf 'label: dos\nstart=2048, type=83, bootable\n' | partition "$2"
    fi
    mke2fs -q -F -t ext3 -U "$3" -L root -E offset=1048576 -d "$1" "$2" 60000k
}
initrd_from () { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | $3) > "$2"; }
dfs () { debugfs -R "$2" "$1?offset=1048576" 2>/dev/null; }
# layer_of INITRD ORIGLEN DECOMPRESSOR: the appended layer, decompressed.
layer_of () {
    local s
    s=$(tail -c +$(($2 + 1)) "$1" | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | grep -n -m1 -v '^0$' | cut -d: -f1)
    tail -c +$(($2 + s)) "$1" | $3
}

# ---- RHEL 5 ---------------------------------------------------------------
v=2.6.18-398.el5xen; RU=5e5e5e5e-0000-4000-8000-000000000005; SU=5e5e5e5e-0000-4000-8000-0000000000aa
r=rhel5; mkdir -p $r/etc/sysconfig/network-scripts $r/etc/blkid $r/etc/selinux $r/boot/grub $r/sbin \
    $r/lib/modules/$v/kernel/drivers/xen/blkfront $r/lib/modules/$v/kernel/drivers/xen/netfront $r/lib/tls i5/lib
echo 'Red Hat Enterprise Linux Server release 5.11 (Tikanga)' > $r/etc/redhat-release
printf 'NETWORKING=yes\nHOSTNAME=rhel5.example.com\n' > $r/etc/sysconfig/network
printf 'LABEL=/ / ext3 defaults 1 1\n/dev/hda2 swap swap defaults 0 0\n' > $r/etc/fstab
printf 'DEVICE=eth0\nBOOTPROTO=dhcp\nHWADDR=00:16:3E:12:34:56\nONBOOT=yes\n' > $r/etc/sysconfig/network-scripts/ifcfg-eth0
printf 'DEVICE=lo\nIPADDR=127.0.0.1\n' > $r/etc/sysconfig/network-scripts/ifcfg-lo
printf 'alias eth0 8139cp\nalias scsi_hostadapter ata_piix\n' > $r/etc/modprobe.conf
printf 'id:3:initdefault:\nsi::sysinit:/etc/rc.d/rc.sysinit\n1:2345:respawn:/sbin/mingetty tty1\n' > $r/etc/inittab
printf 'console\ntty1\n' > $r/etc/securetty
printf '<device DEVNO="0x0301" TIME="1" UUID="x" TYPE="ext3">/dev/hda1</device>\n' > $r/etc/blkid/blkid.tab
printf 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' > $r/etc/selinux/config
echo 'libc in tls' > $r/lib/tls/libc.so.6
: > $r/sbin/mkinitrd; chmod 755 $r/sbin/mkinitrd; : > $r/sbin/agetty; chmod 755 $r/sbin/agetty
cat > $r/boot/grub/grub.conf <<EOC
default=1
timeout=5
title Red Hat Enterprise Linux Server ($v)
	root (hd0,0)
	kernel /boot/vmlinuz-$v ro root=LABEL=/ resume=/dev/hda2
	initrd /boot/initrd-$v.img
title Red Hat Enterprise Linux Server (2.6.18-398.el5)
	root (hd0,0)
	kernel /boot/vmlinuz-2.6.18-398.el5 ro root=LABEL=/
	initrd /boot/initrd-2.6.18-398.el5.img
EOC
ln -s grub.conf $r/boot/grub/menu.lst
echo "xenblk module bytes" > $r/lib/modules/$v/kernel/drivers/xen/blkfront/xenblk.ko
echo "xennet module bytes" > $r/lib/modules/$v/kernel/drivers/xen/netfront/xennet.ko
printf '/lib/modules/%s/kernel/drivers/xen/blkfront/xenblk.ko:\n/lib/modules/%s/kernel/drivers/xen/netfront/xennet.ko:\n' $v $v \
    > $r/lib/modules/$v/modules.dep
printf '#!/bin/nash\nmount -t proc /proc /proc\necho Loading ehci-hcd.ko module\ninsmod /lib/ehci-hcd.ko\necho Creating root device.\nmkrootdev -t ext3 -o defaults,ro hda1\nswitchroot\n' > i5/init
chmod 755 i5/init; echo ehci > i5/lib/ehci-hcd.ko
for k in $v 2.6.18-398.el5; do echo kernel > $r/boot/vmlinuz-$k; done
initrd_from i5 $r/boot/initrd-$v.img "gzip -9"
cp $r/boot/initrd-$v.img $r/boot/initrd-2.6.18-398.el5.img
olen=$(stat -c %s $r/boot/initrd-$v.img)
mkguest_dir $r rhel5.img $RU $SU
before=$(imgsum rhel5.img)

"$IMG2PV" --dry-run rhel5.img > r-dry.out 2>&1; ok $? "rhel5: dry run"
is "$(imgsum rhel5.img)" "$before" "rhel5: dry run changed nothing"
"$IMG2PV" --json rhel5.img > r.json 2> r.err; ok $? "rhel5: converted"
[ -s r.err ] && sed 's/^/# /' r.err
is "$(jq -r '.facts.kernel' r.json)" "$v (xenified, console xvc0, drivers xenblk xennet)" "rhel5: the -xen kernel, xvc0, xenblk/xennet"
"$PYGRUB" -l rhel5.img > r-pg.out 2>/dev/null; ok $? "rhel5: pygrub reads grub.conf"
is "$(grep -m1 '^title:' r-pg.out)" "title: Red Hat Enterprise Linux Server release 5.11 (Tikanga), Xen PV, Linux $v" \
   "rhel5: pygrub lists the PV entry first"
is "$(grep -m1 '^  args:' r-pg.out)" "  args: ro root=LABEL=/ resume=UUID=$SU console=xvc0" \
   "rhel5: PV args: LABEL root kept, resume by UUID, console=xvc0"
dfs rhel5.img "cat /boot/grub/grub.conf" > grub.conf
grep -qx 'default=0' grub.conf; ok $? "rhel5: default=0 (the PV entry)"
is "$(dfs rhel5.img "stat /boot/grub/menu.lst" | grep -o 'Fast link dest: "grub.conf"')" 'Fast link dest: "grub.conf"' \
   "rhel5: menu.lst is still a link to grub.conf"
dfs rhel5.img "cat /boot/initrd-$v.img" > r-initrd
layer_of r-initrd "$olen" zcat > r-layer.cpio
is "$(cpio -t --quiet < r-layer.cpio 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')" "init lib lib/xenblk.ko lib/xennet.ko " \
   "rhel5: nash layer: xenblk.ko, xennet.ko and a new init"
cpio -i --quiet --to-stdout init < r-layer.cpio > r-init 2>/dev/null
is "$(grep -n 'insmod\|mkrootdev' r-init | tr '\n' '|')" \
   "4:insmod /lib/ehci-hcd.ko|6:insmod /lib/xenblk.ko|8:insmod /lib/xennet.ko|10:mkrootdev -t ext3 -o defaults,ro hda1|" \
   "rhel5: init loads xenblk and xennet before mkrootdev"
is "$(dfs rhel5.img "cat /etc/modprobe.conf" | tr '\n' '|')" "alias eth0 xennet|alias scsi_hostadapter ata_piix|alias scsi_hostadapter1 xenblk|" \
   "rhel5: modprobe.conf: xennet for eth0, xenblk as scsi_hostadapter1"
dfs rhel5.img "cat /etc/inittab" | grep -qx 'co:2345:respawn:/sbin/agetty xvc0 9600 vt100-nav'; ok $? "rhel5: inittab getty on xvc0"
dfs rhel5.img "cat /etc/securetty" | grep -qx xvc0; ok $? "rhel5: securetty has xvc0"
dfs rhel5.img "cat /etc/sysconfig/network-scripts/ifcfg-eth0" | grep -q HWADDR; is $? 1 "rhel5: HWADDR dropped from ifcfg-eth0"
dfs rhel5.img "cat /etc/fstab" | grep -qx "UUID=$SU swap swap defaults 0 0"; ok $? "rhel5: fstab swap by UUID"
dfs rhel5.img "stat /etc/blkid/blkid.tab" | grep -q Inode; is $? 1 "rhel5: blkid.tab removed"
dfs rhel5.img "stat /.autorelabel" | grep -q Inode; ok $? "rhel5: SELinux guest marked for relabel"
dfs rhel5.img "ls /lib" | grep -q 'tls.disabled'; ok $? "rhel5: /lib/tls moved aside"
grep -q 'mac=00:16:3E:12:34:56' rhel5.cfg && grep -q 'bootloader = "pygrub"' rhel5.cfg; ok $? "rhel5: xl config keeps the MAC, boots with pygrub"
e2fsck -fn "rhel5.img?offset=1048576" > /dev/null 2>&1; ok $? "rhel5: e2fsck -fn clean"
"$IMG2PV" rhel5.img > /dev/null 2>&1; is $? 3 "rhel5: second run: nothing to do"
"$IMG2PV" --rollback rhel5.img.img-tools-undo > /dev/null 2>&1; ok $? "rhel5: rollback"
is "$(imgsum rhel5.img)" "$before" "rhel5: rolled back byte-identical"
"$IMG2PV" rhel5.img > /dev/null 2> r2.err; ok $? "rhel5: converts again after a rollback"
ls rhel5.img.img-tools-undo.rolled-back-* > /dev/null 2>&1; ok $? "rhel5: the used undo record is kept aside"
# The guest runs (here: a file changes); a later run finds the record stale.
echo "booted" > motd; debugfs -w -R "write motd /etc/motd" "rhel5.img?offset=1048576" > /dev/null 2>&1
"$IMG2PV" rhel5.img > /dev/null 2> r3.err; is $? 3 "rhel5: after the guest changed: nothing to do"
grep -q 'warning: rhel5.img: the image changed since' r3.err; ok $? "rhel5: the stale undo record is reported ..."
ls rhel5.img.img-tools-undo.stale-* > /dev/null 2>&1; ok $? "rhel5: ... and kept aside, not deleted"
"$IMG2PV" --rollback rhel5.img.img-tools-undo.stale-* > /dev/null 2> r4.err; is $? 1 "rhel5: a stale record refuses to roll back"
rm -f rhel5.img.img-tools-undo*

# ---- Fedora: BLS, dracut, zstd ----------------------------------------------
f=fedora; v=6.5.6-300.fc39.x86_64; FU=f0f0f0f0-0000-4000-8000-000000000039
mkdir -p $f/etc/default $f/etc/grub.d $f/boot/loader/entries $f/boot/grub2 $f/usr/bin $f/usr/lib/systemd/system \
    $f/usr/lib/modules/$v/kernel/drivers/block iF/usr/lib/dracut iF/usr/lib/modules/$v/kernel/drivers/block
printf 'NAME="Fedora Linux"\nVERSION_ID=39\nID=fedora\nPRETTY_NAME="Fedora Linux 39 (Server Edition)"\n' > $f/etc/os-release
echo fedora-host > $f/etc/hostname
printf '/dev/vda1 / ext4 defaults 1 1\n' > $f/etc/fstab
: > $f/usr/bin/dracut; chmod 755 $f/usr/bin/dracut
: > $f/usr/lib/systemd/systemd; : > $f/usr/lib/systemd/system/serial-getty@.service
printf 'title Fedora Linux (%s) 39\nversion %s\nlinux /boot/vmlinuz-%s\ninitrd /boot/initramfs-%s.img\noptions root=/dev/vda1 ro console=ttyS0\n' $v $v $v $v \
    > $f/boot/loader/entries/0123abcd-$v.conf
printf 'set default="${saved_entry}"\nset timeout=5\n### BEGIN /etc/grub.d/10_linux ###\ninsmod blscfg\nblscfg\n### END /etc/grub.d/10_linux ###\n' > $f/boot/grub2/grub.cfg
printf 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet console=ttyS0"\nGRUB_ENABLE_BLSCFG=true\n' > $f/etc/default/grub
printf '#!/bin/sh\nexec tail -n +3 $0\n' > $f/etc/grub.d/40_custom; chmod 755 $f/etc/grub.d/40_custom
echo kernel > $f/boot/vmlinuz-$v
printf 'CONFIG_XEN=y\nCONFIG_XEN_PV=y\nCONFIG_XEN_BLKDEV_FRONTEND=m\nCONFIG_XEN_NETDEV_FRONTEND=y\n' > $f/boot/config-$v
printf 'kernel/drivers/block/xen-blkfront.ko.xz:\n' > $f/usr/lib/modules/$v/modules.dep
printf 'kernel/drivers/net/xen-netfront.ko\n' > $f/usr/lib/modules/$v/modules.builtin
echo blkfront > $f/usr/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko.xz
echo 'dracut' > iF/usr/lib/dracut/modules.txt
echo blkfront > iF/usr/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko.xz
initrd_from iF $f/boot/initramfs-$v.img "zstd -q"
olen=$(stat -c %s $f/boot/initramfs-$v.img)
mkguest_dir $f fedora.img $FU
"$IMG2PV" --json fedora.img > f.json 2> f.err; ok $? "fedora: converted"
[ -s f.err ] && sed 's/^/# /' f.err
"$PYGRUB" -l fedora.img > f-pg.out 2>/dev/null; ok $? "fedora: pygrub reads grub.cfg"
is "$(grep -m1 '^title:' f-pg.out)" "title: Fedora Linux 39 (Server Edition), Xen PV, Linux $v" "fedora: pygrub lists the PV entry (a menuentry before blscfg)"
is "$(grep -m1 '^  args:' f-pg.out)" "  args: root=UUID=$FU ro console=hvc0 rd.driver.pre=xen-blkfront,xen-netfront" \
   "fedora: PV args: root by UUID, hvc0, dracut preloads the drivers"
dfs fedora.img "cat /boot/loader/entries/0123abcd-$v.conf" | grep -qx "options root=UUID=$FU ro console=ttyS0"
ok $? "fedora: the BLS entry's root= by UUID"
dfs fedora.img "cat /etc/dracut.conf.d/img2pv-xen.conf" | grep -q 'add_drivers+=" xen-blkfront xen-netfront "'
ok $? "fedora: dracut.conf.d keeps the drivers in later builds"
dfs fedora.img "cat /etc/default/grub" | grep -qx 'GRUB_CMDLINE_LINUX="rhgb quiet console=hvc0"'; ok $? "fedora: /etc/default/grub console=hvc0"
dfs fedora.img "cat /etc/grub.d/40_custom" | grep -q 'Xen PV'; ok $? "fedora: 40_custom keeps the PV entry"
dfs fedora.img "cat /boot/initramfs-$v.img" > f-initrd
layer_of f-initrd "$olen" "zstd -dcq" | cpio -i --quiet --to-stdout etc/modules-load.d/img2pv-xen.conf 2>/dev/null | grep -qx xen-blkfront
ok $? "fedora: a zstd layer makes the initrd load xen-blkfront (xen-netfront is built in)"
e2fsck -fn "fedora.img?offset=1048576" > /dev/null 2>&1; ok $? "fedora: e2fsck -fn clean"
"$IMG2PV" fedora.img > /dev/null 2>&1; is $? 3 "fedora: second run: nothing to do"

# ---- SLES 12: dracut and /etc/sysconfig/kernel ---------------------------------
s=sles; v=4.12.14-122.37-default; SLU=5e5e0000-0000-4000-8000-000000000012
mkdir -p $s/etc/sysconfig $s/etc/udev/rules.d $s/boot/grub2 $s/usr/bin $s/lib/modules/$v/kernel/drivers/block \
    $s/lib/modules/$v/kernel/drivers/net iS/usr/lib/dracut
printf 'NAME="SLES"\nVERSION_ID="12.5"\nID="sles"\nPRETTY_NAME="SUSE Linux Enterprise Server 12 SP5"\n' > $s/etc/os-release
printf '/dev/sda1 / ext3 acl,user_xattr 1 1\n' > $s/etc/fstab
printf 'INITRD_MODULES="ata_piix"\nDOMU_INITRD_MODULES="xennet xenblk"\n' > $s/etc/sysconfig/kernel
printf 'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:ab:cd:ef", NAME="eth0"\n' > $s/etc/udev/rules.d/70-persistent-net.rules
: > $s/usr/bin/dracut; chmod 755 $s/usr/bin/dracut
echo kernel > $s/boot/vmlinuz-$v
printf 'CONFIG_XEN=y\nCONFIG_XEN_PV=y\n' > $s/boot/config-$v
printf 'kernel/drivers/block/xen-blkfront.ko:\nkernel/drivers/net/xen-netfront.ko:\n' > $s/lib/modules/$v/modules.dep
echo b > $s/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko; echo n > $s/lib/modules/$v/kernel/drivers/net/xen-netfront.ko
cat > $s/boot/grub2/grub.cfg <<EOC
set default=0
menuentry 'SLES 12-SP5' --class sles {
	linux /boot/vmlinuz-$v root=/dev/sda1 splash=silent
	initrd /boot/initrd-$v
}
EOC
echo dracut > iS/usr/lib/dracut/modules.txt
initrd_from iS $s/boot/initrd-$v "xz --check=crc32"
mkguest_dir $s sles.img $SLU
"$IMG2PV" --json --xvd sles.img > s.json 2> s.err; ok $? "sles: converted (--xvd)"
[ -s s.err ] && sed 's/^/# /' s.err
dfs sles.img "cat /etc/sysconfig/kernel" | grep -qx 'INITRD_MODULES="ata_piix xen-blkfront xen-netfront"'
ok $? "sles: INITRD_MODULES lists the drivers"
dfs sles.img "cat /etc/fstab" | grep -q '^/dev/xvda1 / ext3'; ok $? "sles: --xvd renames /dev/sda1 to /dev/xvda1"
"$PYGRUB" -l sles.img > s-pg.out 2>/dev/null
is "$(grep -m1 '^  args:' s-pg.out)" "  args: root=/dev/xvda1 splash=silent console=hvc0 rd.driver.pre=xen-blkfront,xen-netfront" \
   "sles: pygrub: PV entry first with root=/dev/xvda1 and hvc0"
grep -q 'mac=52:54:00:ab:cd:ef' sles.cfg; ok $? "sles: xl config keeps the MAC from the udev rules"
dfs sles.img "stat /etc/udev/rules.d/70-persistent-net.rules" | grep -q Inode; is $? 1 "sles: udev rules removed"
dfs sles.img "cat /boot/initrd-$v" | xz -dc 2>/dev/null | cpio -t --quiet 2>/dev/null | grep -c img2pv > /dev/null
e2fsck -fn "sles.img?offset=1048576" > /dev/null 2>&1; ok $? "sles: e2fsck -fn clean"

# ---- --modules-from: the PV modules the guest's kernel tree lacks ----------------
cp -a sles sles2; rm -rf sles2/lib/modules/$v; rm -f sles2/etc/udev/rules.d/*
mkdir -p mods; cp -a sles/lib/modules/$v mods/
mkguest_dir sles2 sles2.img $SLU
"$IMG2PV" --no-xl-config sles2.img > /dev/null 2> m.err; rc=$?
is "$rc:$(wc -l < m.err)" "1:1" "--modules-from: without it, a kernel with no module tree is refused"
grep -q -- "--modules-from" m.err; ok $? "--modules-from: the error says what to supply ($(head -c 120 m.err))"
"$IMG2PV" --no-xl-config --modules-from mods/$v sles2.img > m.out 2> m.err; ok $? "--modules-from: converted"
cmp -s <(dfs sles2.img "cat /lib/modules/$v/kernel/drivers/block/xen-blkfront.ko") mods/$v/kernel/drivers/block/xen-blkfront.ko
ok $? "--modules-from: the module tree is in the guest"
"$IMG2PV" --no-xl-config --modules-from mods/$v sles2.img > /dev/null 2>&1; is $? 3 "--modules-from: second run: nothing to do"

# ---- a failure half-way rolls the run back ---------------------------------------
cp fedora.img half.img; rm -f half.img.img-tools-undo
"$IMG2PV" --rollback fedora.img.img-tools-undo > /dev/null 2>&1
cp fedora.img half.img
debugfs -w -R "rm /etc/default/grub" "half.img?offset=1048576" > /dev/null 2>&1
debugfs -w -R "mkdir /etc/default/grub" "half.img?offset=1048576" > /dev/null 2>&1
sum=$(imgsum half.img)
"$IMG2PV" --no-xl-config half.img > half.out 2> half.err; rc=$?
is "$rc:$(wc -l < half.err)" "1:1" "an edit failing after others wrote: exit 1, one error line ($(head -c 100 half.err))"
grep -q '^\[initramfs-config\] add /etc/dracut.conf.d/img2pv-xen.conf' half.out; ok $? "... after earlier edits had written"
grep -q 'rolled back; the image is as it was' half.out; ok $? "... the report says the run was rolled back"
is "$(imgsum half.img)" "$sum" "... and the image is byte-identical to before the run"

# ---- --kernel-from: a kernel the guest lacks ------------------------------------
tree=$(bash "$top_srcdir/tests/guests/debian-tree.sh" "${IMG_TOOLS_CACHE:-/var/cache/img-tools}" 2>/dev/null) \
    || bail "no Debian tree for --kernel-from"
kv=$(ls "$tree/boot" | sed -n 's/^vmlinuz-//p' | head -1)
mkdir -p kf/boot kf/lib/modules/$kv/kernel/drivers/block kf/lib/modules/$kv/kernel/drivers/net
cp "$tree/boot/vmlinuz-$kv" "$tree/boot/initrd.img-$kv" "$tree/boot/config-$kv" kf/boot/
cp "$tree/lib/modules/$kv/kernel/drivers/block/xen-blkfront.ko"* kf/lib/modules/$kv/kernel/drivers/block/
cp "$tree/lib/modules/$kv/kernel/drivers/net/xen-netfront.ko"* kf/lib/modules/$kv/kernel/drivers/net/
grep -E '^kernel/drivers/(block/xen-blkfront|net/xen-netfront)' "$tree/lib/modules/$kv/modules.dep" > kf/lib/modules/$kv/modules.dep
d=deb; mkdir -p $d/etc/initramfs-tools $d/boot/grub $d/usr/sbin $d/lib/modules
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n' > $d/etc/os-release
printf 'UUID=d0d0d0d0-0000-4000-8000-000000000012 / ext3 defaults 0 1\n' > $d/etc/fstab
: > $d/usr/sbin/mkinitramfs; chmod 755 $d/usr/sbin/mkinitramfs
printf 'set default="0"\nmenuentry "Debian" {\n\tlinux /boot/vmlinuz-old root=UUID=d0d0d0d0-0000-4000-8000-000000000012 ro\n\tinitrd /boot/initrd.img-old\n}\n' > $d/boot/grub/grub.cfg
new_image kf.img 192M; printf 'label: dos\nstart=2048, type=83, bootable\n' | partition kf.img
mke2fs -q -F -t ext3 -U d0d0d0d0-0000-4000-8000-000000000012 -E offset=1048576 -d $d kf.img 190000k
"$IMG2PV" --dry-run --kernel-from kf kf.img > kf-dry.out 2>&1; ok $? "--kernel-from: dry run"
grep -q "^\[kernel-from\] add /boot/vmlinuz-$kv" kf-dry.out; ok $? "--kernel-from: dry run lists the kernel to add"
"$IMG2PV" --kernel-from kf kf.img > kf.out 2> kf.err; ok $? "--kernel-from: converted"
[ -s kf.err ] && sed 's/^/# /' kf.err
cmp -s <(dfs kf.img "cat /boot/vmlinuz-$kv") "$tree/boot/vmlinuz-$kv"; ok $? "--kernel-from: the kernel is in the guest, same bytes"
cmp -s <(dfs kf.img "cat /lib/modules/$kv/kernel/drivers/block/xen-blkfront.ko") kf/lib/modules/$kv/kernel/drivers/block/xen-blkfront.ko
ok $? "--kernel-from: its modules are in the guest"
"$PYGRUB" -l kf.img 2>/dev/null | grep -m2 '^title:\|^  kernel:' | tr '\n' '|' > kf-pg.out
is "$(cat kf-pg.out)" "title: Debian GNU/Linux 12 (bookworm), Xen PV, Linux $kv|  kernel: /boot/vmlinuz-$kv|" \
   "--kernel-from: pygrub boots the new kernel first"
e2fsck -fn "kf.img?offset=1048576" > /dev/null 2>&1; ok $? "--kernel-from: e2fsck -fn clean"

# ---- /boot inside an LV: pygrub cannot read it; a direct-kernel domU ---------------
v=6.1.0-50-amd64
l=lvroot; mkdir -p $l/etc $l/boot/grub $l/usr/sbin $l/lib/modules/$v
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n' > $l/etc/os-release
printf '/dev/mapper/vg0-root / ext4 defaults 0 1\n' > $l/etc/fstab
: > $l/usr/sbin/mkinitramfs; chmod 755 $l/usr/sbin/mkinitramfs
printf 'kernel/drivers/block/xen-blkfront.ko:\nkernel/drivers/net/xen-netfront.ko:\n' > $l/lib/modules/$v/modules.dep
mkdir -p $l/lib/modules/$v/kernel/drivers/block $l/lib/modules/$v/kernel/drivers/net
echo b > $l/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko; echo n > $l/lib/modules/$v/kernel/drivers/net/xen-netfront.ko
printf 'CONFIG_XEN_PV=y\n' > $l/boot/config-$v
head -c 100000 /dev/urandom > $l/boot/vmlinuz-$v
mkdir -p iL/scripts iL/conf iL/usr/lib/modules/$v/kernel/drivers/block iL/usr/lib/modules/$v/kernel/drivers/net
: > iL/scripts/functions; : > iL/conf/initramfs.conf
echo b > iL/usr/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko; echo n > iL/usr/lib/modules/$v/kernel/drivers/net/xen-netfront.ko
initrd_from iL $l/boot/initrd.img-$v "gzip -9"
printf 'set default=0\nmenuentry "Debian" {\n\tlinux /boot/vmlinuz-%s root=/dev/mapper/vg0-root ro console=ttyS0\n\tinitrd /boot/initrd.img-%s\n}\n' $v $v > $l/boot/grub/grub.cfg
new_image lv.img 128M; printf 'label: dos\nstart=2048, type=8e\n' | partition lv.img
lvm_begin "lv.img:1048576:$((127 << 20))"
lvm_q pvcreate -y --norestorefile "${LVM_LOOPS[0]}"; lvm_q vgcreate -s 4M vg0 "${LVM_LOOPS[0]}"
lvm_q lvcreate --activate n --zero n -y -L 100M -n root vg0
pe=$(pvs --noheadings --units b --nosuffix -o pe_start "${LVM_LOOPS[0]}" 2>/dev/null | tr -d ' ')
lvm_end
mk_ext lv.img $((1048576 + pe)) $((100 << 20)) ext4 1a1a1a1a-0000-4000-8000-000000000001 root $l
"$IMG2PV" --json lv.img > lv.json 2> lv.err; ok $? "/boot in an LV: converted"
[ -s lv.err ] && sed 's/^/# /' lv.err
is "$(jq -r .facts.boot lv.json)" direct-kernel "/boot in an LV: a direct-kernel domU"
jq -r .facts.direct_kernel_reason lv.json | grep -q 'vg0/root, which pygrub cannot read'
ok $? "/boot in an LV: the report says why ($(jq -r .facts.direct_kernel_reason lv.json))"
cmp -s lv.vmlinuz-$v $l/boot/vmlinuz-$v; ok $? "/boot in an LV: the kernel extracted beside the image"
zcat lv.initrd.img-$v 2>/dev/null | cpio -t --quiet 2>/dev/null | grep -q xen-blkfront.ko
ok $? "/boot in an LV: the initrd extracted beside the image (with the drivers)"
grep -q "^kernel = \"$TMP/lv.vmlinuz-$v\"" lv.cfg && grep -q "^ramdisk = \"$TMP/lv.initrd.img-$v\"" lv.cfg \
    && grep -q '^cmdline = "root=/dev/mapper/vg0-root ro console=hvc0"' lv.cfg && ! grep -q '^bootloader' lv.cfg
ok $? "/boot in an LV: the xl config boots them directly"
"$IMG2PV" lv.img > /dev/null 2>&1; is $? 3 "/boot in an LV: second run: nothing to do"

# ---- bad input: one error line, exit 1, image untouched -----------------------------
# refuses IMAGE WHAT ARGS...: exit 1, one stderr line naming the image, no byte changed.
refuses () {
    local img=$1 what=$2 sum; shift 2
    sum=$(imgsum "$img")
    "$IMG2PV" "$@" "$img" > bad.out 2> bad.err; rc=$?
    is "$rc:$(wc -l < bad.err)" "1:1" "$what: exit 1, one error line"
    grep -q "$img" bad.err; ok $? "$what: the error names the image ($(head -c 160 bad.err))"
    is "$(imgsum "$img")" "$sum" "$what: image untouched"
}
# No kernel that can run PV.
cp fedora.img nopv.img; rm -f nopv.img.img-tools-undo
debugfs -w -R "rm /boot/config-6.5.6-300.fc39.x86_64" "nopv.img?offset=1048576" > /dev/null 2>&1
printf 'CONFIG_XEN=n\n' > cfg; debugfs -w -R "write cfg /boot/config-6.5.6-300.fc39.x86_64" "nopv.img?offset=1048576" > /dev/null 2>&1
refuses nopv.img "a guest with no Xen-capable kernel"
grep -q -- '--kernel-from' bad.err; ok $? "no Xen-capable kernel: the error says to supply one with --kernel-from"
# A corrupt initrd.
cp sles.img badinit.img; rm -f badinit.img.img-tools-undo sles.cfg
cp rhel5.img badinit.img
head -c 3000 /dev/urandom > junk; debugfs -w -R "rm /boot/initrd-2.6.18-398.el5xen.img" "badinit.img?offset=1048576" > /dev/null 2>&1
debugfs -w -R "write junk /boot/initrd-2.6.18-398.el5xen.img" "badinit.img?offset=1048576" > /dev/null 2>&1
rm -f badinit.cfg
refuses badinit.img "a corrupt initrd"
# A disk with no filesystem at all.
new_image empty.img 8M
refuses empty.img "an empty disk" --no-xl-config
# An xl config in the way that img2pv did not write.
echo 'name = "mine"' > rhel5.cfg
refuses rhel5.img "someone else's xl config"
"$IMG2PV" --memory 12 rhel5.img > /dev/null 2>&1; is $? 2 "bad usage: exit 2"
done_testing
