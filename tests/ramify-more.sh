#!/bin/bash
# img-ramify without booting, beyond initramfs-tools and GRUB 2
# (tests/ramify-boot.sh boots them):
#  - a real Debian 12 dracut guest: the layer's pre-pivot hook where this
#    dracut sources hooks, rd.ramboot in the GRUB entry, the initrd's mode;
#  - --archive on a real guest, read back by GNU tar (not by our code):
#    every file there with its owner, mode, link target; a user xattr and
#    a file capability set with debugfs and a sparse file written with
#    debugfs come out of tar --xattrs intact (holes kept); the recorded
#    tmpfs size; dry run, second run, rollback, e2fsck;
#  - GRUB legacy (RHEL 6-like: grub.conf, menu.lst a link, old dracut with
#    top-level hook directories), read by Xen's pygrub; BLS (Fedora: an
#    entry file, grubenv saved_entry with --default); guests with neither
#    initramfs-tools nor dracut refused with one line.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires debugfs; requires e2fsck; requires jq; requires cpio
requires zstd; requires tar; requires getfattr; requires getfacl; requires getcap; requires setcap; requires sfdisk
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17)"
# The test images are qcow2 overlays over the cached guests: local
# backing files, which the tools follow only when allowed.
img_ramify_allow () { "$top_builddir/src/img-ramify" --allow-backing "$@"; }
RAMIFY=img_ramify_allow
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
dfs () { debugfs -R "$3" "$1?offset=$2" 2>/dev/null; }
# layer_of INITRD ORIGLEN DECOMPRESSOR: the appended layer, decompressed.
layer_of () {
    local s
    s=$(tail -c +$(($2 + 1)) "$1" | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | grep -n -m1 -v '^0$' | cut -d: -f1)
    tail -c +$(($2 + s)) "$1" | $3
}

# ---- a real dracut guest ------------------------------------------------------
. <(grep -E '^(BOOT_OFFSET|ROOT_OFFSET|KERNEL_VERSION|BOOT_UUID)=' "$dir/mbr-lvm-dracut.img.facts")
v=$KERNEL_VERSION
qemu-img create -q -f qcow2 -b "$dir/mbr-lvm-dracut.qcow2" -F qcow2 d.qcow2
"$RAMIFY" --json d.qcow2 > d.json 2> d.err; ok $? "dracut guest: ramified"
[ -s d.err ] && sed 's/^/# /' d.err
qemu-img convert -O raw d.qcow2 d.raw
dfs d.raw "$BOOT_OFFSET" "cat /initrd.img-$v" > d-orig.initrd
dfs d.raw "$BOOT_OFFSET" "cat /initrd.img-$v.ramboot-layer" > d-ram.layer
dfs "$dir/mbr-lvm-dracut.img" "$BOOT_OFFSET" "cat /initrd.img-$v" | cmp -s - d-orig.initrd
ok $? "dracut: the guest's initrd is untouched (GRUB 2 loads our layer after it)"
zcat < d-ram.layer > d-layer.cpio 2>/dev/null; ok $? "dracut: the layer file is gzip, as the initrd's last segment"
is "$(cpio -t --quiet < d-layer.cpio 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')" \
   "ramboot ramboot/fstab ramboot/lvmlocal.conf ramboot/ramboot.conf usr/bin/img-ramcopy usr/lib/dracut/hooks/pre-pivot/90-img-ramify.sh " \
   "dracut: cpio -t: the pre-pivot hook where this dracut sources hooks, config, RAM fstab, lvmlocal, helper"
cpio -i --quiet --to-stdout usr/lib/dracut/hooks/pre-pivot/90-img-ramify.sh < d-layer.cpio 2>/dev/null \
    | cmp -s - "$top_srcdir/data/ramboot/dracut/90-img-ramify.sh"
ok $? "dracut: the hook is data/ramboot/dracut/90-img-ramify.sh"
cpio -i --quiet --to-stdout ramboot/ramboot.conf < d-layer.cpio 2>/dev/null | grep -qx 'RAMBOOT_VGS="guestvg"'
ok $? "dracut: the config names the volume group to let go"
is "$(dfs d.raw "$BOOT_OFFSET" "stat /initrd.img-$v.ramboot-layer" | grep -o 'Mode: *[0-7]*' | tr -s ' ')" \
   "$(dfs d.raw "$BOOT_OFFSET" "stat /initrd.img-$v" | grep -o 'Mode: *[0-7]*' | tr -s ' ')" \
   "dracut: the layer file keeps the initrd's mode (0600)"
dfs d.raw "$BOOT_OFFSET" "cat /grub/grub.cfg" | sed -n '/BEGIN img-ramify/,/END img-ramify/p' > d-entry
grep -q "linux	/vmlinuz-$v root=/dev/mapper/guestvg-root .* rd.ramboot\$" d-entry \
    && grep -q "search --no-floppy --fs-uuid --set=root $BOOT_UUID" d-entry && ! grep -q 'boot=ramboot' d-entry
ok $? "dracut: the GRUB entry asks for rd.ramboot, /boot found by UUID"
"$RAMIFY" d.qcow2 > /dev/null 2>&1; is $? 3 "dracut: second run: nothing to do"
"$RAMIFY" --rollback d.qcow2.img-tools-undo > /dev/null 2>&1; ok $? "dracut: rollback"
qemu-img compare -q d.qcow2 "$dir/mbr-lvm-dracut.qcow2"; ok $? "dracut: rolled back (qemu-img compare)"
rm -f d.qcow2 d.raw d-*.initrd

# ---- --archive, read back by GNU tar --------------------------------------------------
. <(grep -E '^(BOOT_OFFSET|ROOT_OFFSET|KERNEL_VERSION)=' "$dir/mbr-plain.img.facts")
cp --sparse=always "$dir/mbr-plain.img" a.img
# What tar must carry: a user xattr, a file capability, a sparse file.
printf 'img-tools' > xval
cp /bin/true caps.bin; setcap cap_net_raw+ep caps.bin
getfattr --only-values -n security.capability caps.bin > capval 2>/dev/null
truncate -s 0 sparse; truncate -s 64M sparse
printf 'island one' | dd of=sparse bs=4096 seek=100 conv=notrunc status=none
printf 'island two' | dd of=sparse bs=4096 seek=10000 conv=notrunc status=none
debugfs -w -R "ea_set -f xval /etc/hostname user.img_tools" "a.img?offset=$ROOT_OFFSET" > /dev/null 2>&1
debugfs -w -R "write caps.bin /usr/bin/img-caps" "a.img?offset=$ROOT_OFFSET" > /dev/null 2>&1
debugfs -w -R "ea_set -f capval /usr/bin/img-caps security.capability" "a.img?offset=$ROOT_OFFSET" > /dev/null 2>&1
debugfs -w -R "write sparse /var/sparse" "a.img?offset=$ROOT_OFFSET" > /dev/null 2>&1
blocks=$(dfs a.img "$ROOT_OFFSET" "stat /var/sparse" | sed -n 's/.*Blockcount: \([0-9]*\).*/\1/p')
ok "$([ -n "$blocks" ] && [ "$blocks" -lt 1000 ]; echo $?)" "the guest's /var/sparse is sparse ($blocks sectors for 64 MiB)"
before=$(imgsum a.img)
"$RAMIFY" --dry-run --archive a.img > a-dry.out 2>&1; ok $? "--archive: dry run"
is "$(imgsum a.img)" "$before" "--archive: dry run changed no byte"
grep -q '^\[root-archive\] add /boot/ramboot-root.tar.zst' a-dry.out; ok $? "--archive: the dry run shows the archive"
"$RAMIFY" --json --archive a.img > a.json 2> a.err; ok $? "--archive: ramified"
[ -s a.err ] && sed 's/^/# /' a.err
dfs a.img "$BOOT_OFFSET" "dump /ramboot-root.tar.zst $TMP/root.tar.zst" > /dev/null
is "$(stat -c %s root.tar.zst)" "$(jq -r ".facts.archive_bytes | numbers" a.json)" "--archive: /boot/ramboot-root.tar.zst is there, as large as reported"
dfs a.img "$BOOT_OFFSET" "stat /ramboot-root.tar.zst" | grep -q 'Mode:  *0600'; ok $? "--archive: mode 0600 (it holds /etc/shadow)"
zstd -t -q root.tar.zst; ok $? "--archive: zstd -t: the frame checks"
zstd -dcq root.tar.zst > root.tar
tar -tf root.tar > tar.list 2> tar.err; ok $? "--archive: GNU tar lists it ($(wc -l < tar.list) members)"
[ -s tar.err ] && sed 's/^/# /' tar.err | head -5
grep -qx 'etc/shadow' tar.list && grep -qx 'boot/vmlinuz-'"$KERNEL_VERSION" tar.list && grep -qx 'usr/bin/img-caps' tar.list
ok $? "--archive: the root and /boot are in it"
grep -q 'ramboot-root.tar' tar.list; is $? 1 "--archive: not the archive itself"
tmpfs_bytes=$(head -c 1024 root.tar | tr '\0' '\n' | sed -n 's/.*comment=img-ramify tmpfs-bytes=\([0-9]*\)$/\1/p')
is "$tmpfs_bytes" "$(jq -r ".facts.archive_tmpfs_bytes | numbers" a.json)" "--archive: the global header records the tmpfs size ($tmpfs_bytes)"
mkdir x
tar --xattrs --xattrs-include='*' --numeric-owner -xpf root.tar -C x 2> x.err
[ -s x.err ] && grep -v 'posix_acl' x.err | sed 's/^/# /' | head -5
grep -q posix_acl x.err; is $? 1 "--archive: tar sets every POSIX ACL (they are in the kernel's xattr format)"
is "$(getfacl -c -n x/var/log/journal 2>/dev/null | grep -c '^group:[0-9][0-9]*:r-x$')" 1 \
   "--archive: /var/log/journal's ACL (a group entry, as systemd sets it) comes out of tar"
is "$(getfattr --only-values -n user.img_tools x/etc/hostname 2>/dev/null)" img-tools "--archive: a user xattr survives (tar --xattrs)"
getcap x/usr/bin/img-caps | grep -q 'cap_net_raw[=+]ep'; ok $? "--archive: a file capability survives ($(getcap x/usr/bin/img-caps))"
cmp -s x/var/sparse sparse; ok $? "--archive: the sparse file's contents"
ok "$([ "$(stat -c %b x/var/sparse)" -lt 1000 ]; echo $?)" "--archive: the sparse file keeps its holes ($(stat -c %b x/var/sparse) blocks)"
is "$(stat -c '%u:%g %a' x/etc/shadow) $(readlink x/bin)" "0:42 640 usr/bin" "--archive: owners, modes, symlinks"
read -r hs he < <(dfs a.img "$ROOT_OFFSET" "stat /etc/hostname" | sed -n 's/^ *mtime: 0x\([0-9a-f]*\):\([0-9a-f]*\).*/\1 \2/p')
is "$(stat -c %.9Y x/etc/hostname)" "$((16#$hs)).$(printf '%09d' $(( 16#$he >> 2 )))" "--archive: mtimes to the nanosecond"
cpio_conf=$(dfs a.img "$BOOT_OFFSET" "cat /initrd.img-$KERNEL_VERSION.ramboot-layer" \
            | zcat 2>/dev/null | cpio -i --quiet --to-stdout conf/ramboot.conf 2>/dev/null)
grep -qx 'RAMBOOT_ARCHIVE="/boot/ramboot-root.tar.zst"' <<< "$cpio_conf"; ok $? "--archive: the boot script is told where the archive is"
e2fsck -fn "a.img?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "--archive: e2fsck -fn clean on /boot"
e2fsck -fn "a.img?offset=$ROOT_OFFSET" > /dev/null 2>&1; ok $? "--archive: e2fsck -fn clean on /"
mid=$(imgsum a.img)
"$RAMIFY" --archive a.img > a2.out 2>&1; is $? 3 "--archive: second run: nothing to do (the same tree gives the same archive)"
is "$(imgsum a.img)" "$mid" "--archive: second run changed no byte"
"$RAMIFY" a.img > a3.out 2>&1; ok $? "without --archive again: done"
grep -q '^\[root-archive\] remove /boot/ramboot-root.tar.zst' a3.out; ok $? "without --archive: the stale archive is removed"
"$RAMIFY" --rollback a.img.img-tools-undo > /dev/null 2>&1; ok $? "--archive: rollback of the last run"
is "$(imgsum a.img)" "$before" "--archive: rolled back (all three runs) byte-identical"
"$RAMIFY" a.img > /dev/null 2> a4.err; ok $? "after a rollback: ramified again"
ls a.img.img-tools-undo.rolled-back-* > /dev/null 2>&1; ok $? "after a rollback: the used undo record is kept aside"
# The guest boots from its disk (here: a file appears in /boot); the record is stale.
echo booted > booted; debugfs -w -R "write booted /img-booted" "a.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
"$RAMIFY" a.img > /dev/null 2> a5.err; is $? 3 "after the guest changed: nothing to do"
grep -q '^img-ramify: warning: a.img: the image changed since a.img.img-tools-undo was written' a5.err
ok $? "after the guest changed: the stale undo record is reported ..."
ls a.img.img-tools-undo.stale-* > /dev/null 2>&1; ok $? "... and kept aside, not deleted"
rm -rf x root.tar root.tar.zst a.img a.img.img-tools-undo* a.initrd booted

# ---- GRUB legacy with old dracut (RHEL 6-like) ------------------------------------------
mkguest_dir () {  # DIR IMAGE UUID: an ext3 root holding DIR on p1
    new_image "$2" 96M
    printf 'label: dos\nstart=2048, type=83, bootable\n' | partition "$2"
    mke2fs -q -F -t ext3 -U "$3" -L root -E offset=1048576 -d "$1" "$2" 60000k
}
initrd_from () { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | $3) > "$2"; }
c=c6; v=2.6.32-754.el6.x86_64; CU=c6c6c6c6-0000-4000-8000-000000000006
mkdir -p $c/etc $c/boot/grub $c/sbin iC/pre-pivot iC/lib iC/bin
printf 'CentOS release 6.10 (Final)\n' > $c/etc/redhat-release
printf 'UUID=%s / ext4 defaults 1 1\n' $CU > $c/etc/fstab
: > $c/sbin/dracut; chmod 755 $c/sbin/dracut
echo kernel > $c/boot/vmlinuz-$v
printf 'default=0\ntimeout=5\ntitle CentOS 6 (%s)\n\troot (hd0,0)\n\tkernel /boot/vmlinuz-%s ro root=UUID=%s rd_NO_LUKS\n\tinitrd /boot/initramfs-%s.img\n' \
    $v $v $CU $v > $c/boot/grub/grub.conf
chmod 600 $c/boot/grub/grub.conf
ln -s ./grub.conf $c/boot/grub/menu.lst
echo '#!/bin/sh' > iC/init; printf 'getarg () { :; }\n' > iC/lib/dracut-lib.sh
initrd_from iC $c/boot/initramfs-$v.img gzip
mkguest_dir $c c6.img $CU
before=$(imgsum c6.img)
"$RAMIFY" --dry-run c6.img > c6-dry.out 2>&1; ok $? "GRUB legacy: dry run"
is "$(imgsum c6.img)" "$before" "GRUB legacy: dry run changed no byte"
"$RAMIFY" --default c6.img > c6.out 2> c6.err; ok $? "GRUB legacy + old dracut: ramified with --default"
[ -s c6.err ] && sed 's/^/# /' c6.err
"$PYGRUB" -l c6.img > c6-pg.out 2>/dev/null; ok $? "GRUB legacy: pygrub reads grub.conf"
is "$(grep '^title:' c6-pg.out | tr '\n' '|')" "title: CentOS 6 ($v)|title: CentOS release 6.10 (Final), root in RAM, Linux $v|" \
   "GRUB legacy: pygrub lists the original entry, then the RAM entry"
grep -A4 'root in RAM' c6-pg.out | grep -q "args: ro root=UUID=$CU rd_NO_LUKS rd.ramboot" \
    && grep -A4 'root in RAM' c6-pg.out | grep -q "initrd: /boot/initramfs-$v.img.ramboot"
ok $? "GRUB legacy: the RAM entry's args (rd.ramboot) and ramboot initrd, as pygrub reads them"
debugfs -R "cat /boot/grub/grub.conf" "c6.img?offset=1048576" 2>/dev/null > c6.conf
grep -qx 'default=1' c6.conf && grep -q '^	root (hd0,0)' c6.conf; ok $? "GRUB legacy: default=1 (the RAM entry), root as the original entry has it"
debugfs -R "stat /boot/grub/menu.lst" "c6.img?offset=1048576" 2>/dev/null | grep -q 'Type: symlink'; ok $? "GRUB legacy: menu.lst is still a link"
debugfs -R "stat /boot/grub/grub.conf" "c6.img?offset=1048576" 2>/dev/null | grep -q 'Mode:  *0600'; ok $? "GRUB legacy: grub.conf keeps mode 0600"
debugfs -R "cat /boot/initramfs-$v.img.ramboot" "c6.img?offset=1048576" 2>/dev/null > c6.initrd
layer_of c6.initrd "$(stat -c %s $c/boot/initramfs-$v.img)" zcat 2>/dev/null | cpio -t --quiet 2>/dev/null | grep -qx 'pre-pivot/90-img-ramify.sh'
ok $? "old dracut: the hook goes into the top-level pre-pivot directory"
e2fsck -fn "c6.img?offset=1048576" > /dev/null 2>&1; ok $? "GRUB legacy: e2fsck -fn clean"
"$RAMIFY" --default c6.img > /dev/null 2>&1; is $? 3 "GRUB legacy: second run: nothing to do"

# ---- BLS (Fedora) --------------------------------------------------------------------------
f=fedora; v=6.5.6-300.fc39.x86_64; FU=f0f0f0f0-0000-4000-8000-000000000039
mkdir -p $f/etc/default $f/boot/loader/entries $f/boot/grub2 $f/usr/bin iF/usr/lib/dracut/hooks/pre-pivot iF/usr/bin
printf 'NAME="Fedora Linux"\nVERSION_ID=39\nID=fedora\nPRETTY_NAME="Fedora Linux 39 (Server Edition)"\n' > $f/etc/os-release
printf 'UUID=%s / ext4 defaults 1 1\n' $FU > $f/etc/fstab
: > $f/usr/bin/dracut; chmod 755 $f/usr/bin/dracut
printf 'title Fedora Linux (%s) 39\nversion %s\nlinux /boot/vmlinuz-%s\ninitrd /boot/initramfs-%s.img\noptions root=UUID=%s ro\n' $v $v $v $v $FU \
    > $f/boot/loader/entries/0123abcd-$v.conf
printf 'set default="${saved_entry}"\ninsmod blscfg\nblscfg\n' > $f/boot/grub2/grub.cfg
{ printf '# GRUB Environment Block\nsaved_entry=0123abcd-%s\n' $v; head -c 2000 /dev/zero | tr '\0' '#'; } | head -c 1024 > $f/boot/grub2/grubenv
echo kernel > $f/boot/vmlinuz-$v
ln -s usr/bin iF/bin; echo 'dracut' > iF/usr/lib/dracut/modules.txt
initrd_from iF $f/boot/initramfs-$v.img "zstd -q"
mkguest_dir $f fedora.img $FU
"$RAMIFY" --default fedora.img > f.out 2> f.err; ok $? "BLS + dracut (zstd): ramified with --default"
[ -s f.err ] && sed 's/^/# /' f.err
debugfs -R "cat /boot/loader/entries/img-ramify-ramboot.conf" "fedora.img?offset=1048576" 2>/dev/null > f.entry
grep -qx "linux /boot/vmlinuz-$v" f.entry \
    && is "$(grep '^initrd ' f.entry | tr '\n' '|')" "initrd /boot/initramfs-$v.img|initrd /boot/initramfs-$v.img.ramboot-layer|" \
          "BLS: two initrd lines: the guest's initrd, then our layer" \
    && grep -qx "options root=UUID=$FU ro rd.ramboot" f.entry
ok $? "BLS: an entry file of its own: the kernel, the initrd and our layer, rd.ramboot"
debugfs -R "cat /boot/grub2/grubenv" "fedora.img?offset=1048576" 2>/dev/null > f.env
is "$(stat -c %s f.env) $(grep -c '^saved_entry=' f.env) $(sed -n 's/^saved_entry=//p' f.env)" "1024 1 img-ramify-ramboot" \
   "BLS: --default sets saved_entry in grubenv (still 1024 bytes)"
debugfs -R "cat /boot/grub2/grub.cfg" "fedora.img?offset=1048576" 2>/dev/null | grep -q 'img-ramify'; is $? 1 "BLS: grub.cfg itself is left to blscfg"
debugfs -R "cat /boot/initramfs-$v.img.ramboot-layer" "fedora.img?offset=1048576" 2>/dev/null > f.layer
zstd -dcq < f.layer | cpio -t --quiet 2>/dev/null | grep -qx 'usr/lib/dracut/hooks/pre-pivot/90-img-ramify.sh'
ok $? "BLS: a zstd layer with the hook under usr/lib/dracut/hooks"
e2fsck -fn "fedora.img?offset=1048576" > /dev/null 2>&1; ok $? "BLS: e2fsck -fn clean"
"$RAMIFY" --default fedora.img > /dev/null 2>&1; is $? 3 "BLS: second run: nothing to do"

# ---- --archive without room for it: one clear line, nothing changed ---------------------------
cp -a $f fz; head -c 36M /dev/urandom > fz/var.bin
mkguest_dir fz full.img $FU
before=$(imgsum full.img)
"$RAMIFY" --archive full.img > /dev/null 2> full.err; rc=$?
is "$rc:$(wc -l < full.err)" "1:1" "--archive with no room: refused with one error line ($(head -c 200 full.err))"
grep -q 'full.img: /boot: no room for the archive: it takes [0-9]* MiB, the filesystem has [0-9]* MiB free' full.err
ok $? "... saying how much it takes and how much is free"
is "$(imgsum full.img)" "$before" "... the image untouched"
# Refused before the whole tree was compressed: from a sample, or as soon
# as the archive outgrew the room.
nm=$(sed -n 's/.*(\(estimated from the first\|stopped after\) \([0-9]*\) of \([0-9]*\) MiB of the tree.*/\2 \3/p' full.err)
[ -n "$nm" ] && [ "${nm% *}" -lt "${nm#* }" ]
ok $? "... refused part-way through the tree ($nm MiB), not after compressing all of it"
[ ! -e full.img.img-tools-undo ] && ! ls full.img.img-tools-undo.* > /dev/null 2>&1
ok $? "... and no undo record left behind"

# ---- neither initramfs-tools nor dracut: refused -----------------------------------------------
r=rhel5; v=2.6.18-398.el5; RU=5e5e5e5e-0000-4000-8000-000000000055
mkdir -p $r/etc $r/boot/grub $r/sbin iR/bin
printf 'Red Hat Enterprise Linux Server release 5.11 (Tikanga)\n' > $r/etc/redhat-release
printf 'LABEL=/ / ext3 defaults 1 1\n' > $r/etc/fstab
: > $r/sbin/mkinitrd; chmod 755 $r/sbin/mkinitrd
echo kernel > $r/boot/vmlinuz-$v
printf 'default=0\ntitle RHEL 5\n\troot (hd0,0)\n\tkernel /boot/vmlinuz-%s ro root=LABEL=/\n\tinitrd /boot/initrd-%s.img\n' $v $v > $r/boot/grub/grub.conf
printf '#!/bin/nash\nmkrootdev -t ext3 -o defaults,ro LABEL=/\n' > iR/init; : > iR/bin/nash
initrd_from iR $r/boot/initrd-$v.img gzip
mkguest_dir $r rhel5.img $RU
before=$(imgsum rhel5.img)
"$RAMIFY" rhel5.img > /dev/null 2> r.err; rc=$?
is "$rc:$(wc -l < r.err)" "1:1" "mkinitrd/nash guest: refused with one error line ($(head -c 160 r.err))"
grep -q 'rhel5.img: .*initramfs-tools and dracut' r.err; ok $? "... naming the image and what is handled"
is "$(imgsum rhel5.img)" "$before" "... the image untouched"
# ---- a guest pygrub boots: one initrd file, switched both ways -------------------------------
# img2pv's PV entry in grub.cfg means Xen's pygrub boots the guest, and
# pygrub reads an initrd line as one file: img-ramify then writes the
# copy with the layer appended, and drops the layer file of a run before.
. <(grep -E '^(BOOT_OFFSET|KERNEL_VERSION)=' "$dir/mbr-plain.img.facts")
v=$KERNEL_VERSION
cp --sparse=always "$dir/mbr-plain.img" pv.img
"$RAMIFY" --json pv.img > pv1.json 2> pv1.err; ok $? "pygrub: ramified before the conversion"
is "$(jq -r .facts.ramboot_initrd_kind pv1.json)" layer "pygrub: before img2pv, GRUB 2 loads the layer as a file of its own"
"$top_builddir/src/img2pv" pv.img > pv.out 2>&1; ok $? "pygrub: img2pv converts the ramified guest"
"$RAMIFY" --json pv.img > pv2.json 2> pv2.err; ok $? "pygrub: ramified again after the conversion"
is "$(jq -r '.facts.ramboot_initrd + " " + .facts.ramboot_initrd_kind' pv2.json)" "/boot/initrd.img-$v.ramboot copy" \
   "pygrub: then a copy with the layer appended ($(jq -r .facts.ramboot_initrd_why pv2.json))"
grep -q 'pygrub' <<< "$(jq -r .facts.ramboot_initrd_why pv2.json)"; ok $? "pygrub: the report says why"
[ -z "$(dfs pv.img "$BOOT_OFFSET" "stat /initrd.img-$v.ramboot-layer" | grep Inode)" ]
ok $? "pygrub: the layer file of the first run is gone"
dfs pv.img "$BOOT_OFFSET" "cat /initrd.img-$v" > pv-orig.initrd
dfs pv.img "$BOOT_OFFSET" "cat /initrd.img-$v.ramboot" | cmp -s -n "$(stat -c %s pv-orig.initrd)" - pv-orig.initrd
ok $? "pygrub: the copy starts with the guest's initrd"
"$PYGRUB" -l pv.img > pv-pg.out 2>/dev/null; ok $? "pygrub: lists the converted, ramified guest"
grep -A4 'root in RAM' pv-pg.out | grep -qx " *initrd: /initrd.img-$v.ramboot"
ok $? "pygrub: the RAM entry's initrd is the one copy ($(grep -A4 'root in RAM' pv-pg.out | grep initrd:))"
"$RAMIFY" pv.img > /dev/null 2>&1; is $? 3 "pygrub: a third run has nothing to do"
e2fsck -fn "pv.img?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "pygrub: e2fsck -fn clean on /boot"

done_testing
