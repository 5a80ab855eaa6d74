#!/bin/bash
# The test guests and fixtures beyond ext4, checked with independent tools
# only (what img-tools makes of them is tested elsewhere):
#   mbr-lvm-xfs-dracut  RHEL-style: xfs /boot, xfs root on LVM, dracut
#   mbr-plain-btrfs     SUSE-style: one btrfs, subvolumes @ (default) and
#                       @home, /boot inside @, /etc/sysconfig/kernel
#   luks2-lvm, luks1-plain (tests/luks-fixtures.sh)
# blkid -p at the facts' offsets, xfs_repair -n / btrfs check --readonly /
# e2fsck -fn clean, btrfs-progs' subvolume list and default, cryptsetup
# luksDump's version, and the keys opening the LUKS roots in a libguestfs
# appliance (this host has no device-mapper).  The builders' facts must
# agree with all of it.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires blkid; requires losetup; requires sfdisk; requires jq
requires xfs_repair; requires btrfs; requires e2fsck; requires debugfs; requires cryptsetup
requires guestfish; requires mount

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
L=$(bash "$top_srcdir/tests/luks-fixtures.sh") || bail "could not build the LUKS fixtures"
diag "guests in $dir, LUKS fixtures in $L"
cd "$TMP" || bail "no scratch directory"

# probe IMG OFFSET KEY: one value blkid -p finds at that byte offset
probe () { blkid -p -O "$2" -o export "$1" 2>/dev/null | sed -n "s/^$3=//p"; }
# fsck_range IMG OFFSET SIZE CMD...: CMD on a read-only loop over the range
fsck_range () {
    on_range "$@" >"$TMP/fsck.out" 2>&1; local r=$?
    [ $r = 0 ] || sed 's/^/#   /' "$TMP/fsck.out" | tail -5
    return $r
}
# ro_mount IMG OFFSET SIZE OPTS: mount the range read-only on $TMP/m (a
# read-only loop device: nothing can be written), umount with ro_umount.
ro_mount () {
    mkdir -p "$TMP/m"
    RO_LOOP=$(losetup -f --show -r -o "$2" --sizelimit "$3" "$1") || bail "losetup failed"
    at_exit "mountpoint -q '$TMP/m' && umount '$TMP/m'; loop_detach_if_ours $RO_LOOP '$(realpath "$1")'"
    mount -o "ro,$4" "$RO_LOOP" "$TMP/m"
}
ro_umount () { umount "$TMP/m"; losetup -d "$RO_LOOP"; }

# ---- mbr-lvm-xfs-dracut -------------------------------------------------------
g=mbr-lvm-xfs-dracut
img=$dir/$g.img
[ -f "$img" ] && [ -f "$dir/$g.qcow2" ] || bail "guest $g missing in $dir"
# shellcheck disable=SC1090
. "$img.facts"
is "$NAME $ROOT_FSTYPE $BOOT_FSTYPE $INITRAMFS $VG_NAME" "$g xfs xfs dracut guestvg" "$g: facts name xfs root and /boot, dracut, VG"
is "$(probe "$img" "$BOOT_OFFSET" TYPE) $(probe "$img" "$BOOT_OFFSET" UUID)" "xfs $BOOT_UUID" "$g: blkid finds xfs /boot at BOOT_OFFSET"
is "$(probe "$img" "$ROOT_OFFSET" TYPE) $(probe "$img" "$ROOT_OFFSET" UUID)" "xfs $ROOT_UUID" "$g: blkid finds the xfs root at ROOT_OFFSET (LV root)"
is "$(probe "$img" "$SWAP_OFFSET" TYPE)" swap "$g: blkid finds swap at SWAP_OFFSET"
is "$((ROOT_OFFSET - PART2_START - PV_PE_START))" "$((LV_ROOT_OFFSET - PART2_START - PV_PE_START))" "$g: root is the LV's bytes"
fsck_range "$img" "$BOOT_OFFSET" "$BOOT_SIZE" xfs_repair -n; ok $? "$g: xfs_repair -n: /boot clean"
fsck_range "$img" "$ROOT_OFFSET" "$ROOT_SIZE" xfs_repair -n; ok $? "$g: xfs_repair -n: root clean"
# The oracle does fail: a copy of /boot with AG 0's free-space header (the
# AGF, sector 1) zeroed.
dd if="$img" of=bad-boot.xfs bs=1M skip="$((BOOT_OFFSET / 1048576))" count="$((BOOT_SIZE / 1048576))" conv=sparse status=none
dd if=/dev/zero of=bad-boot.xfs bs=512 seek=1 count=1 conv=notrunc status=none
on_range bad-boot.xfs 0 "$BOOT_SIZE" xfs_repair -n >/dev/null 2>&1; r=$?
[ $r != 0 ]; ok $? "$g: xfs_repair -n fails on a copy of /boot with a zeroed AGF"
rm -f bad-boot.xfs
ro_mount "$img" "$ROOT_OFFSET" "$ROOT_SIZE" norecovery
grep -Eq "^UUID=$ROOT_UUID / xfs " "$TMP/m/etc/fstab"; ok $? "$g: fstab mounts / as xfs by UUID"
grep -Eq "^UUID=$BOOT_UUID /boot xfs " "$TMP/m/etc/fstab"; ok $? "$g: fstab mounts /boot as xfs by UUID"
[ -x "$TMP/m/usr/bin/dracut" ] && [ ! -e "$TMP/m/usr/sbin/update-initramfs" ]; ok $? "$g: dracut in place of initramfs-tools"
ro_umount
ro_mount "$img" "$BOOT_OFFSET" "$BOOT_SIZE" norecovery
grep -Eq "^[[:space:]]*linux[[:space:]]+/vmlinuz-$KERNEL_VERSION root=$KERNEL_ROOT ro " "$TMP/m/grub/grub.cfg"
ok $? "$g: grub.cfg boots /vmlinuz-$KERNEL_VERSION with root=$KERNEL_ROOT"
grep -q 'insmod xfs' "$TMP/m/grub/grub.cfg"; ok $? "$g: grub.cfg loads GRUB's xfs module"
ro_umount

# ---- mbr-plain-btrfs ------------------------------------------------------------
g=mbr-plain-btrfs
img=$dir/$g.img
[ -f "$img" ] && [ -f "$dir/$g.qcow2" ] || bail "guest $g missing in $dir"
unset BOOT_PART BOOT_OFFSET BOOT_UUID BOOT_FSTYPE
# shellcheck disable=SC1090
. "$img.facts"
is "$NAME $ROOT_FSTYPE $PART_COUNT $ROOT_PART ${BOOT_PART:-none} $INITRAMFS" "$g btrfs 1 1 none initramfs-tools" \
   "$g: facts name btrfs root, one partition, no /boot partition"
is "$(sfdisk --json "$img" | jq -r '.partitiontable.partitions | length')" 1 "$g: sfdisk sees one partition"
is "$(probe "$img" "$ROOT_OFFSET" TYPE) $(probe "$img" "$ROOT_OFFSET" UUID)" "btrfs $ROOT_UUID" "$g: blkid finds btrfs at ROOT_OFFSET"
fsck_range "$img" "$ROOT_OFFSET" "$ROOT_SIZE" btrfs check --readonly; ok $? "$g: btrfs check --readonly: clean"
ro_mount "$img" "$ROOT_OFFSET" "$ROOT_SIZE" subvolid=5
is "$(btrfs subvolume list "$TMP/m" | awk '{ print $NF }' | tr '\n' ' ')" "@ @home " "$g: btrfs subvolume list: @ and @home"
is "$(btrfs subvolume list "$TMP/m" | awk '{ print $NF }' | tr '\n' ' ' | sed 's/ $//')" "$BTRFS_SUBVOLS" "$g: BTRFS_SUBVOLS is the list"
is "$(btrfs subvolume get-default "$TMP/m" | awk '{ print $2, $NF }')" "$BTRFS_ROOT_SUBVOLID @" "$g: default subvolume is @ (ID $BTRFS_ROOT_SUBVOLID)"
is "$BTRFS_DEFAULT_SUBVOL" @ "$g: BTRFS_DEFAULT_SUBVOL"
is "$(btrfs inspect-internal rootid "$TMP/m/@home")" "$BTRFS_HOME_SUBVOLID" "$g: BTRFS_HOME_SUBVOLID"
r=$TMP/m/@
grep -Eq "^UUID=$ROOT_UUID / btrfs defaults,subvol=@ 0 0$" "$r/etc/fstab"; ok $? "$g: fstab: / is subvol=@"
grep -Eq "^UUID=$ROOT_UUID /home btrfs defaults,subvol=@home 0 0$" "$r/etc/fstab"; ok $? "$g: fstab: /home is subvol=@home"
grep -qx 'INITRD_MODULES=""' "$r/etc/sysconfig/kernel"; ok $? "$g: /etc/sysconfig/kernel has INITRD_MODULES"
[ -s "$r/boot/vmlinuz-$KERNEL_VERSION" ] && [ -s "$r/boot/initrd.img-$KERNEL_VERSION" ]; ok $? "$g: kernel and initrd in @/boot"
is "$(find "$r/home" -mindepth 1 | wc -l)" 0 "$g: @/home is only a mount point"
cfg=$r/boot/grub/grub.cfg
grep -Eq "^[[:space:]]*linux[[:space:]]+$BOOT_FS_PATH/vmlinuz-$KERNEL_VERSION root=$KERNEL_ROOT ro rootflags=$KERNEL_ROOTFLAGS " "$cfg"
ok $? "$g: grub.cfg: linux $BOOT_FS_PATH/vmlinuz-... root=$KERNEL_ROOT ro rootflags=$KERNEL_ROOTFLAGS"
grep -Eq "^[[:space:]]*initrd[[:space:]]+$BOOT_FS_PATH/initrd.img-$KERNEL_VERSION$" "$cfg"; ok $? "$g: grub.cfg: initrd through the btrfs path"
grep -q 'insmod btrfs' "$cfg"; ok $? "$g: grub.cfg loads GRUB's btrfs module"
ro_umount

# ---- LUKS fixtures -------------------------------------------------------------------
declare -A lf   # lf[NAME:FACT]: the facts of both fixtures, for the appliance run
for g in luks2-lvm luks1-plain; do
    img=$L/$g.img
    [ -f "$img" ] || bail "fixture $g missing in $L"
    unset VG_NAME
    # shellcheck disable=SC1090
    . "$img.facts"
    want=${g:4:1}
    is "$LUKS_VERSION $CRYPTTAB_NAME $RD_LUKS_UUID" "$want luks-$LUKS_UUID luks-$LUKS_UUID" "$g: facts: LUKS$want, mapping luks-<UUID>"
    is "$LUKS_OFFSET" "$PART2_START" "$g: LUKS_OFFSET is partition 2"
    is "$(probe "$img" "$LUKS_OFFSET" TYPE) $(probe "$img" "$LUKS_OFFSET" UUID) $(probe "$img" "$LUKS_OFFSET" VERSION)" \
       "crypto_LUKS $LUKS_UUID $want" "$g: blkid finds LUKS$want at LUKS_OFFSET"
    is "$(probe "$img" "$PART1_START" TYPE) $(probe "$img" "$PART1_START" UUID)" "ext4 $BOOT_UUID" "$g: blkid finds ext4 /boot on p1"
    fsck_range "$img" "$PART1_START" "$PART1_SIZE" e2fsck -fn; ok $? "$g: e2fsck -fn: /boot clean"
    on_range "$img" "$LUKS_OFFSET" "$PART2_SIZE" cryptsetup luksDump >"$g.dump" 2>&1; ok $? "$g: cryptsetup luksDump"
    is "$(sed -n 's/^Version:[[:space:]]*//p' "$g.dump")" "$want" "$g: luksDump: version $want"
    # and refuses a header whose magic is gone (LUKS2: from both copies,
    # the second one 16 KiB in)
    dd if="$img" of=bad.luks bs=1M skip="$((LUKS_OFFSET / 1048576))" count=4 status=none
    for at in 0 $([ "$want" = 2 ] && echo 16384); do
        printf 'XXXX' | dd of=bad.luks bs=1 seek="$at" conv=notrunc status=none
    done
    cryptsetup luksDump bad.luks >/dev/null 2>&1; r=$?
    [ $r != 0 ]; ok $? "$g: luksDump refuses a copy of the header with its magic overwritten"
    rm -f bad.luks
    is "$(sed -n 's/^UUID:[[:space:]]*//p' "$g.dump")" "$LUKS_UUID" "$g: luksDump: UUID"
    case $want in
    2) grep -Eq '^[[:space:]]*PBKDF:[[:space:]]*argon2id' "$g.dump"; ok $? "$g: luksDump: argon2id keyslot" ;;
    1) grep -Eq '^Key Slot 0: ENABLED' "$g.dump"; ok $? "$g: luksDump: key slot 0 enabled" ;;
    esac
    on_range "$img" "$PART1_START" "$PART1_SIZE" debugfs -R 'cat /grub/grub.cfg' >"$g.cfg" 2>/dev/null
    grep -Fxq "$(printf '\tlinux /vmlinuz-%s %s' "$KERNEL_VERSION" "$KERNEL_CMDLINE")" "$g.cfg"
    ok $? "$g: grub.cfg on /boot: root=$KERNEL_ROOT rd.luks.uuid=$RD_LUKS_UUID"
    for f in LUKS_UUID KEY CRYPTTAB_NAME ROOT_UUID ROOT_DEVICE KERNEL_VERSION HOSTNAME; do
        lf[$g:$f]=${!f}
    done
done

# The keys, in one appliance launch: the facts' KEY opens each root, a wrong
# one does not; inside, the root is fsck-clean and its /etc is the guest's.
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
R2=${lf[luks2-lvm:ROOT_DEVICE]} R1=${lf[luks1-plain:ROOT_DEVICE]}
# The LUKS partitions by their UUIDs: the appliance's kernel probes its
# disks side by side, and under load the appliance's own disk was once
# sda, the fixtures sdb and sdc (libguestfs translates the names its API
# is given; a script run inside sees the kernel's).
cat >check.sh <<EOF
p2=\$(blkid -U ${lf[luks2-lvm:LUKS_UUID]}); p1=\$(blkid -U ${lf[luks1-plain:LUKS_UUID]}); echo part2=\$p2; echo part1=\$p1
printf %s wrong-key >/tmp/bad
cryptsetup open --test-passphrase --key-file /tmp/bad "\$p2" >/dev/null 2>&1; echo wrongkey2=\$?
printf %s '${lf[luks2-lvm:KEY]}' >/tmp/k2
cryptsetup open --key-file /tmp/k2 "\$p2" ${lf[luks2-lvm:CRYPTTAB_NAME]} >/tmp/e2 2>&1; echo open2=\$?; echo open2_out=\$(tr '\n' ' ' </tmp/e2)
printf %s '${lf[luks1-plain:KEY]}' >/tmp/k1
cryptsetup open --readonly --key-file /tmp/k1 "\$p1" ${lf[luks1-plain:CRYPTTAB_NAME]} >/tmp/e1 2>&1; echo open1=\$?; echo open1_out=\$(tr '\n' ' ' </tmp/e1)
echo disks=\$(ls /dev/sd* | tr '\n' ' ')
lvm vgchange -q -ay vgluks >/dev/null 2>&1
echo vg=\$(lvm lvs --noheadings -o vg_name,lv_name 2>/dev/null | tr -s ' ' | sed 's/^ //')
e2fsck -fn $R2 >/dev/null 2>&1; echo fsck2=\$?
blkid -o export $R2 | grep -E '^(TYPE|UUID)=' | sed 's/^/root2_/'
xfs_repair -n $R1 >/dev/null 2>&1; echo fsck1=\$?
blkid -o export $R1 | grep -E '^(TYPE|UUID)=' | sed 's/^/root1_/'
mkdir -p /tmp/r2 /tmp/r1
mount -o ro $R2 /tmp/r2 && mount -o ro,norecovery $R1 /tmp/r1
for n in 1 2; do
    echo crypttab\$n=\$(grep -v '^#' /tmp/r\$n/etc/crypttab)
    echo fstab\$n=\$(grep ' / ' /tmp/r\$n/etc/fstab)
    echo host\$n=\$(cat /tmp/r\$n/etc/hostname)
done
echo id2=\$(. /tmp/r2/etc/os-release; echo \$ID-\$VERSION_ID)
echo kmods2=\$(ls /tmp/r2/usr/lib/modules/${lf[luks2-lvm:KERNEL_VERSION]}/kernel/drivers/block/xen-blkfront.ko)
umount /tmp/r2 /tmp/r1
lvm vgchange -q -an vgluks >/dev/null 2>&1
cryptsetup close ${lf[luks2-lvm:CRYPTTAB_NAME]}; cryptsetup close ${lf[luks1-plain:CRYPTTAB_NAME]}
echo end=done
EOF
# (base64: guestfish's own quoting would mangle the script's)
printf 'run\ndebug sh "echo %s | base64 -d | sh 2>&1"\n' "$(base64 -w0 check.sh)" >gf
guestfish --ro --format=raw -a "$L/luks2-lvm.img" -a "$L/luks1-plain.img" -f gf >gf.out 2>&1
ok $? "guestfish: one appliance run over both LUKS fixtures"
gv () { sed -n "s/^$1=//p" gf.out | head -1; }
isnt_zero () { [ -n "$1" ] && [ "$1" != 0 ]; }
isnt_zero "$(gv wrongkey2)"; ok $? "luks2-lvm: a wrong key does not open it"
is "$(gv open2) $(gv open1)" "0 0" "both: the facts' KEY opens the LUKS partition"
if [ "$(gv open2) $(gv open1)" != "0 0" ]; then
    # (seen failing, 2 and 4, when run beside other tests: the fixed
    # sda2/sdb2 this opened then were not always the fixtures' partitions)
    diag "cryptsetup on luks2-lvm's partition ($(gv part2)): $(gv open2_out)"
    diag "cryptsetup on luks1-plain's partition ($(gv part1)): $(gv open1_out)"
    diag "the appliance's disks: $(gv disks)"
fi
is "$(gv vg)" "vgluks root" "luks2-lvm: VG vgluks with LV root inside the LUKS2 mapping"
is "$(gv fsck2) $(gv root2_TYPE) $(gv root2_UUID)" "0 ext4 ${lf[luks2-lvm:ROOT_UUID]}" "luks2-lvm: root ext4, e2fsck -fn clean, UUID"
is "$(gv fsck1) $(gv root1_TYPE) $(gv root1_UUID)" "0 xfs ${lf[luks1-plain:ROOT_UUID]}" "luks1-plain: root xfs, xfs_repair -n clean, UUID"
is "$(gv crypttab2)" "${lf[luks2-lvm:CRYPTTAB_NAME]} UUID=${lf[luks2-lvm:LUKS_UUID]} none luks,discard" "luks2-lvm: crypttab names the mapping luks-<UUID>"
is "$(gv crypttab1)" "${lf[luks1-plain:CRYPTTAB_NAME]} UUID=${lf[luks1-plain:LUKS_UUID]} none luks,discard" "luks1-plain: crypttab names the mapping luks-<UUID>"
is "$(gv fstab2)" "/dev/mapper/vgluks-root / ext4 defaults 0 1" "luks2-lvm: fstab mounts / by its /dev/mapper name"
is "$(gv fstab1)" "/dev/mapper/${lf[luks1-plain:CRYPTTAB_NAME]} / xfs defaults 0 0" "luks1-plain: fstab mounts / by its /dev/mapper name"
is "$(gv host2) $(gv host1)" "${lf[luks2-lvm:HOSTNAME]} ${lf[luks1-plain:HOSTNAME]}" "both: hostname as the facts say"
is "$(gv id2)" debian-12 "luks2-lvm: os-release of the Debian tree"
[ -n "$(gv kmods2)" ]; ok $? "luks2-lvm: the guest kernel's xen-blkfront module is in the trimmed tree"
is "$(gv end)" "done" "the checks ran to their end"
[ "$(gv end)" = "done" ] || sed 's/^/#   /' gf.out | tail -20

done_testing
