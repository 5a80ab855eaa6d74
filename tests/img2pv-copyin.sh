#!/bin/bash
# img2pv --modules-from: the host module tree goes into the guest through
# the library's copy-in, keeping holes (a sparse file stays sparse) and
# hard links (two names, one inode, two links); debugfs checks the image.
# A second run finds the tree in place and has nothing to do.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires mke2fs; requires debugfs; requires e2fsck; requires cpio; requires sfdisk
requires xz; requires depmod
IMG2PV=$top_builddir/src/img2pv
cd "$TMP"
dfs () { debugfs -R "$2" "$1?offset=1048576" 2>/dev/null; }
field () { sed -n "s/.*$1: *\([0-9]*\).*/\1/p" | head -1; }

# A SLES-like guest (dracut) whose kernel has no module tree.
s=g; v=4.12.14-122.37-default; U=5e5e0000-0000-4000-8000-0000000000c1
mkdir -p $s/etc/sysconfig $s/boot/grub2 $s/usr/bin $s/lib/modules i/usr/lib/dracut
printf 'NAME="SLES"\nVERSION_ID="12.5"\nID="sles"\nPRETTY_NAME="SUSE Linux Enterprise Server 12 SP5"\n' > $s/etc/os-release
printf 'UUID=%s / ext3 defaults 1 1\n' $U > $s/etc/fstab
printf 'INITRD_MODULES="ata_piix"\n' > $s/etc/sysconfig/kernel
: > $s/usr/bin/dracut; chmod 755 $s/usr/bin/dracut
echo kernel > $s/boot/vmlinuz-$v
printf 'CONFIG_XEN=y\nCONFIG_XEN_PV=y\n' > $s/boot/config-$v
printf 'set default=0\nmenuentry "SLES" {\n\tlinux /boot/vmlinuz-%s root=UUID=%s\n\tinitrd /boot/initrd-%s\n}\n' $v $U $v > $s/boot/grub2/grub.cfg
echo dracut > i/usr/lib/dracut/modules.txt
(cd i && find . | LC_ALL=C sort | cpio -o -H newc --quiet | xz --check=crc32) > $s/boot/initrd-$v
new_image g.img 96M; printf 'label: dos\nstart=2048, type=83, bootable\n' | partition g.img
mke2fs -q -F -t ext3 -U $U -E offset=1048576 -d $s g.img 60000k

# The module tree on the host: the drivers, a sparse file, two hard links.
m=mods/$v
mkdir -p $m/kernel/drivers/block $m/kernel/drivers/net $m/extra
printf 'kernel/drivers/block/xen-blkfront.ko:\nkernel/drivers/net/xen-netfront.ko:\n' > $m/modules.dep
echo b > $m/kernel/drivers/block/xen-blkfront.ko; echo n > $m/kernel/drivers/net/xen-netfront.ko
printf 'data' | dd of=$m/extra/sparse.bin bs=1 seek=4194304 conv=notrunc status=none
truncate -s 8M $m/extra/sparse.bin
echo linked > $m/extra/a.ko; ln $m/extra/a.ko $m/extra/b.ko
[ "$(stat -c %b $m/extra/sparse.bin)" -lt 64 ] || bail "the host file system keeps no holes"

"$IMG2PV" --dry-run --no-xl-config --modules-from $m g.img > dry.out 2> dry.err; ok $? "dry run"
grep -q "^\[kernel-from\] add /lib/modules/$v/extra/sparse.bin" dry.out; ok $? "dry run lists the files to copy"
"$IMG2PV" --no-xl-config --modules-from $m g.img > run.out 2> run.err; ok $? "converted"
[ -s run.err ] && sed 's/^/# /' run.err
grep -q "copied $m into /lib/modules/$v (holes and hard links kept)" run.out; ok $? "the report says the tree was copied in"

st=$(dfs g.img "stat /lib/modules/$v/extra/sparse.bin")
is "$(field Size <<< "$st")" 8388608 "the sparse file keeps its size"
bc=$(field Blockcount <<< "$st")
[ -n "$bc" ] && [ "$bc" -lt 64 ]; ok $? "... and its hole: $bc sectors allocated, not 16384"
cmp -s <(dfs g.img "cat /lib/modules/$v/extra/sparse.bin") $m/extra/sparse.bin; ok $? "... and its bytes"
sa=$(dfs g.img "stat /lib/modules/$v/extra/a.ko"); sb=$(dfs g.img "stat /lib/modules/$v/extra/b.ko")
ia=$(sed -n 's/^Inode: \([0-9]*\).*/\1/p' <<< "$sa"); ib=$(sed -n 's/^Inode: \([0-9]*\).*/\1/p' <<< "$sb")
[ -n "$ia" ] && [ "$ia" = "$ib" ]; ok $? "the hard-linked files are one inode ($ia, $ib)"
is "$(field Links <<< "$sa")" 2 "... with two links"
is "$(dfs g.img "cat /lib/modules/$v/extra/b.ko")" linked "... holding the bytes"
cmp -s <(dfs g.img "cat /lib/modules/$v/kernel/drivers/block/xen-blkfront.ko") $m/kernel/drivers/block/xen-blkfront.ko
ok $? "the drivers are in the guest's tree"
e2fsck -fn "g.img?offset=1048576" > /dev/null 2>&1; ok $? "e2fsck -fn clean"
sum=$(imgsum g.img)
"$IMG2PV" --no-xl-config --modules-from $m g.img > again.out 2>&1; is $? 3 "second run: nothing to do"
is "$(imgsum g.img)" "$sum" "second run: the image is byte-identical"
"$IMG2PV" --rollback g.img.img-tools-undo > /dev/null; ok $? "rollback"
dfs g.img "stat /lib/modules/$v/extra/a.ko" | grep -q '^Inode:'; is $? 1 "rolled back: the copied tree is gone"
done_testing
