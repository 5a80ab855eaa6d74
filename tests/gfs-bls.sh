#!/bin/bash
# img2pv on a RHEL-8-style guest with Boot Loader Specification entries:
# the cached xfs-on-LVM dracut guest (tests/guests) given, through the
# appliance, RHEL's boot layout: /boot/loader/entries/MACHINEID-VER.conf
# with "options $kernelopts $tuned_params", kernelopts and saved_entry in
# /boot/grub2/grubenv, a grub.cfg that runs blscfg, GRUB_ENABLE_BLSCFG,
# /etc/kernel/cmdline, /etc/sysconfig/kernel, Rocky's release files.
# Checked: the PV entry and the xl config (direct kernel: pygrub cannot
# read a v5 xfs), the dracut initrd with lsinitrd, day two (a new kernel
# added as RHEL's kernel-install/grubby do it, from the converted guest's
# own files) boots PV, xfs_repair -n, a second run, rollback; img-ramify's
# RAM entry (a BLS entry of its own); and hostile grubenv variables on a
# small native guest.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires guestfish; requires xfs_repair; requires lsinitrd; requires mke2fs; requires sfdisk
IMG2PV=$top_builddir/src/img2pv INSPECT=$top_builddir/src/img-inspect RAMIFY=$top_builddir/src/img-ramify
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
# shellcheck disable=SC1090
. "$dir/mbr-lvm-xfs-dracut.img.facts"
cd "$TMP"
v=$KERNEL_VERSION mid=0c5e2d9a4f1b4e6c8d7a3b2f1e0d9c8b
opts="root=$LV_ROOT_PATH ro resume=$LV_SWAP_PATH rd.lvm.lv=guestvg/root rd.lvm.lv=guestvg/swap console=ttyS0,115200"

# ---- the fixture: RHEL 8's files over the cached guest, one appliance launch ----
mkdir -p f
printf 'title Rocky Linux (%s) 8.9 (Green Obsidian)\nversion %s\nlinux /vmlinuz-%s\ninitrd /initrd.img-%s $tuned_initrd\noptions $kernelopts $tuned_params\nid rocky-20231121-%s\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class kernel\n' \
    "$v" "$v" "$v" "$v" "$v" > f/entry.conf
# grubenv: one 1024-byte block, as grub2-editenv writes it
printf '# GRUB Environment Block\nsaved_entry=%s-%s\nkernelopts=%s\nboot_success=0\n' "$mid" "$v" "$opts" > f/grubenv
head -c $((1024 - $(stat -c %s f/grubenv))) /dev/zero | tr '\0' '#' >> f/grubenv
cat > f/grub.cfg <<'EOF'
### BEGIN /etc/grub.d/00_header ###
set pager=1
if [ -f ${config_directory}/grubenv ]; then
  load_env -f ${config_directory}/grubenv
elif [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi
terminal_output console
set timeout=5
### END /etc/grub.d/00_header ###
### BEGIN /etc/grub.d/10_linux ###
insmod part_msdos
insmod xfs
set root='hd0,msdos1'
insmod blscfg
blscfg
### END /etc/grub.d/10_linux ###
### BEGIN /etc/grub.d/40_custom ###
### END /etc/grub.d/40_custom ###
EOF
cat > f/default-grub <<EOF
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR="\$(sed 's, release .*\$,,g' /etc/system-release)"
GRUB_DEFAULT=saved
GRUB_DISABLE_SUBMENU=true
GRUB_TERMINAL_OUTPUT="console"
GRUB_CMDLINE_LINUX="resume=$LV_SWAP_PATH rd.lvm.lv=guestvg/root rd.lvm.lv=guestvg/swap console=ttyS0,115200"
GRUB_DISABLE_RECOVERY="true"
GRUB_ENABLE_BLSCFG=true
EOF
printf '#!/bin/sh\nexec tail -n +3 $0\n' > f/40_custom
printf '%s\n' "$opts" > f/cmdline
printf 'UPDATEDEFAULT=yes\n\n# DEFAULTKERNEL specifies the default kernel package type\nDEFAULTKERNEL=kernel-core\n' > f/sysconfig-kernel
printf 'Rocky Linux release 8.9 (Green Obsidian)\n' > f/redhat-release
printf 'NAME="Rocky Linux"\nVERSION="8.9 (Green Obsidian)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="8.9"\nPLATFORM_ID="platform:el8"\nPRETTY_NAME="Rocky Linux 8.9 (Green Obsidian)"\n' > f/os-release
echo "$mid" > f/machine-id
# The image with those files is built once per version of this script, of
# tests/fixtures.sh, of the guests (their directory's key) and of
# libguestfs, and cached (tests/fixture-cache.sh:
# $IMG_TOOLS_CACHE/gfs-bls-<key>); each run works on a copy.
bls_fixture () {   # prints the cache directory holding rocky.img
    local cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools} key   # work: the EXIT trap reads it
    key=$({ cat "$top_srcdir/tests/gfs-bls.sh" "$top_srcdir/tests/fixtures.sh"; echo "$guests"; guestfish --version; } \
        | sha1sum | cut -c1-12)
    . "$top_srcdir/tests/fixture-cache.sh"
    fixture_dir gfs-bls "$key"   # sets dir (in this subshell); when cached: prints it, ends the subshell
    work=$(mktemp -d "$dir/.build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    cp --sparse=always "$guests/mbr-lvm-xfs-dracut.img" "$work/rocky.img" || return 1
    guestfish -a "$work/rocky.img" > f/gf.out 2>&1 <<EOF || return 1
run
mount /dev/guestvg/root /
mount /dev/sda1 /boot
rm-rf /boot/grub
mkdir-p /boot/grub2
mkdir-p /boot/loader/entries
upload f/entry.conf /boot/loader/entries/$mid-$v.conf
upload f/grubenv /boot/grub2/grubenv
upload f/grub.cfg /boot/grub2/grub.cfg
upload f/default-grub /etc/default/grub
upload f/40_custom /etc/grub.d/40_custom
mkdir-p /etc/kernel
upload f/cmdline /etc/kernel/cmdline
mkdir-p /etc/sysconfig
upload f/sysconfig-kernel /etc/sysconfig/kernel
upload f/redhat-release /etc/redhat-release
ln-sf redhat-release /etc/system-release
rm-f /etc/debian_version
rm-f /etc/os-release
upload f/os-release /usr/lib/os-release
ln-s ../usr/lib/os-release /etc/os-release
upload f/machine-id /etc/machine-id
EOF
    mv "$work/rocky.img" "$dir/rocky.img"
    echo "$key" > "$dir/.complete"
    echo "$dir"
}
guests=$dir
B=$(bls_fixture) && cp --sparse=always "$B/rocky.img" rocky.img
ok $? "fixture: RHEL 8 BLS layout written through the appliance (or cached: ${B:-none})" || { sed 's/^/# /' f/gf.out; bail "no fixture"; }
orig=$(imgsum rocky.img)
cp --sparse=always rocky.img ram.img

"$INSPECT" rocky.img > insp.out 2>&1; ok $? "inspect: img-inspect reads the guest"
grep -q '^guest: Rocky Linux 8.9 (Green Obsidian) (id rocky, version 8.9)' insp.out; ok $? "inspect: Rocky Linux 8.9"
grep -qF "\"Rocky Linux ($v) 8.9 (Green Obsidian)\": /vmlinuz-$v ${opts}" insp.out
ok $? "inspect: the BLS entry's \$kernelopts expanded from grubenv, the unset \$tuned_params gone"

# ---- img2pv ---------------------------------------------------------------------
"$IMG2PV" rocky.img > pv.out 2>&1; ok $? "img2pv converts the guest" || sed 's/^/# /' pv.out | tail -5
grep -q '^boot: direct-kernel' pv.out; ok $? "a direct-kernel domU (pygrub cannot read a v5 xfs)"
pvargs="root=$LV_ROOT_PATH ro resume=$LV_SWAP_PATH rd.lvm.lv=guestvg/root rd.lvm.lv=guestvg/swap console=hvc0 rd.driver.pre=xen-blkfront,xen-netfront"
is "$(sed -n 's/^pv_args: //p' pv.out)" "$pvargs" "PV args: the BLS entry's, expanded: LVM root (no sd name), hvc0, drivers first"
grep -qx "kernel = \"$TMP/rocky.vmlinuz-$v\"" rocky.cfg && grep -qx "ramdisk = \"$TMP/rocky.initrd.img-$v\"" rocky.cfg
ok $? "xl config: the BLS entry's kernel and initrd, extracted"
grep -qx "cmdline = \"$pvargs\"" rocky.cfg; ok $? "xl config: the PV command line"

# The initrd, with dracut's own lsinitrd: the original and the appended layer.
olen=$(sed -n "s/.*initrd \/boot\/initrd.img-$v: .* the original is its first \([0-9]*\) bytes.*/\1/p" pv.out)
[ -n "$olen" ]; ok $? "initrd: a layer appended after the original ($olen bytes)"
lsinitrd rocky.initrd.img-$v 2> /dev/null > ls0.out
grep -q "/xen-blkfront.ko" ls0.out; ok $? "lsinitrd: the guest's dracut initrd carries xen-blkfront"
s=$(tail -c +$((olen + 1)) rocky.initrd.img-$v | head -c 4096 | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | grep -n -m1 -v '^0$' | cut -d: -f1)
tail -c +$((olen + s)) rocky.initrd.img-$v > layer.img
lsinitrd layer.img 2> /dev/null > ls1.out
grep -q "lib/modules/$v/kernel/drivers/net/xen-netfront.ko" ls1.out; ok $? "lsinitrd: the appended layer carries xen-netfront"
grep -q "etc/modules-load.d/img2pv-xen.conf" ls1.out; ok $? "lsinitrd: ... and loads it (modules-load.d)"

# What the guest now holds, read in one read-only launch.
mkdir -p g
guestfish --ro -a rocky.img > g/gf.out 2>&1 <<EOF
run
mount-ro /dev/guestvg/root /
mount-ro /dev/sda1 /boot
download /boot/grub2/grubenv g/grubenv
download /boot/grub2/grub.cfg g/grub.cfg
download /boot/loader/entries/$mid-$v.conf g/entry.conf
download /etc/kernel/cmdline g/cmdline
download /etc/default/grub g/default-grub
download /etc/grub.d/40_custom g/40_custom
download /etc/sysconfig/kernel g/sysconfig-kernel
download /etc/dracut.conf.d/img2pv-xen.conf g/dracut-xen.conf
download /boot/vmlinuz-$v g/vmlinuz
download /boot/initrd.img-$v g/initrd
EOF
ok $? "the converted guest's files read back" || sed 's/^/# /' g/gf.out
cmp -s g/vmlinuz rocky.vmlinuz-$v && cmp -s g/initrd rocky.initrd.img-$v
ok $? "xl config: its kernel and initrd are the guest's own, as converted"
genv () { sed -n "s/^$1=//p" g/grubenv; }
is "$(stat -c %s g/grubenv)" 1024 "grubenv: still one 1024-byte block"
kopts=$(genv kernelopts)
is "$kopts" "root=$LV_ROOT_PATH ro resume=$LV_SWAP_PATH rd.lvm.lv=guestvg/root rd.lvm.lv=guestvg/swap console=hvc0" \
   "grubenv: kernelopts (every RHEL 8 BLS entry's options) on hvc0, the LVM root kept"
is "$(cat g/cmdline)" "$kopts" "/etc/kernel/cmdline: the same, so kernel-install and grubby agree with kernelopts"
grep -qx "options \$kernelopts \$tuned_params" g/entry.conf; ok $? "the BLS entry itself still says \$kernelopts"
grep -q "^GRUB_CMDLINE_LINUX=\".*console=hvc0\"" g/default-grub && ! grep -q ttyS0 g/default-grub
ok $? "/etc/default/grub: GRUB_CMDLINE_LINUX (grub2-mkconfig rebuilds kernelopts from it) on hvc0"
grep -q "Xen PV, Linux $v" g/40_custom && grep -q "Xen PV, Linux $v" g/grub.cfg
ok $? "grub.cfg and 40_custom: the PV menuentry, before blscfg"
grep -q 'add_drivers+=" xen-blkfront xen-netfront "' g/dracut-xen.conf; ok $? "dracut.conf.d: the drivers in every later dracut -f"

# ---- day two: a new kernel, the RHEL 8 way ----------------------------------------
# What kernel-core's scriptlet does: kernel-install add, whose 20-grub.install
# copies the kernel package's bls.conf (options $kernelopts $tuned_params)
# to /boot/loader/entries/MACHINEID-VER.conf, and, UPDATEDEFAULT=yes in
# /etc/sysconfig/kernel, grubby --set-default: saved_entry=MACHINEID-VER in
# grubenv.  RHEL 9's (no kernelopts) takes the options from /etc/kernel/cmdline.
# Grubby is not in Debian: the entries are written here as they would, from
# the converted guest's own files.
nv=6.1.0-99-amd64
sed -e "s/$v/$nv/g" g/entry.conf > g/$mid-$nv.conf
grep -q '^UPDATEDEFAULT=yes' g/sysconfig-kernel && saved=$mid-$nv || saved=$(genv saved_entry)
newest=$(printf '%s\n' "$mid-$v" "$mid-$nv" | sort -V | tail -1)
is "$newest $saved" "$mid-$nv $mid-$nv" "day two: the new kernel's entry is the newest and the default"
# pv_capable OPTIONS: the console and the root device they give the kernel.
pv_capable () {
    local c=no-hvc0 r=no-root
    case " $1 " in *" console=hvc0 "*) c=hvc0 ;; esac
    case " $1 " in *" console=tty"*) c="$c+tty" ;; esac
    case " $1 " in
        *" root=$LV_ROOT_PATH "*) r=lvm-root ;;
        *" root=/dev/sd"*|*" root=/dev/vd"*|*" root=/dev/hd"*) r=emulated-root ;;
    esac
    echo "$c $r"
}
# blscfg's expansion: $NAME from grubenv, unset ones empty.
o=$(sed -n 's/^options //p' "g/$newest.conf")
o=${o//\$kernelopts/$kopts}; o=${o//\$tuned_params/}
is "$(pv_capable "$o")" "hvc0 lvm-root" "day two (RHEL 8, options \$kernelopts): the default entry boots PV: hvc0, root by LVM name"
is "$(pv_capable "$(cat g/cmdline)")" "hvc0 lvm-root" "day two (RHEL 9, options from /etc/kernel/cmdline): the same"
o=$(sed -n 's/^GRUB_CMDLINE_LINUX="\(.*\)"$/\1/p' g/default-grub)
is "$(pv_capable "root=$LV_ROOT_PATH ro $o")" "hvc0 lvm-root" \
   "day two (grub2-mkconfig: kernelopts from the root and GRUB_CMDLINE_LINUX): the same"

# ---- fsck, second run, rollback ------------------------------------------------------
# fsck_range IMAGE OFFSET SIZE: xfs_repair -n on a read-only loop device.
fsck_range () {
    local dev rc
    dev=$(losetup -f --show -r -o "$2" --sizelimit "$3" "$1") || return 1
    xfs_repair -n "$dev" > fsck.out 2>&1; rc=$?
    losetup -d "$dev"
    [ "$rc" = 0 ] || sed 's/^/# /' fsck.out | head -5
    return "$rc"
}
fsck_range rocky.img "$LV_ROOT_OFFSET" "$LV_ROOT_SIZE"; ok $? "xfs_repair -n: the root LV is clean"
fsck_range rocky.img "$BOOT_OFFSET" "$BOOT_SIZE"; ok $? "xfs_repair -n: /boot is clean"
sum=$(imgsum rocky.img)
"$IMG2PV" --no-undo rocky.img > pv2.out 2>&1; is "$?" 3 "a second run has nothing to do"
is "$(imgsum rocky.img)" "$sum" "... and changes no byte"
"$IMG2PV" --rollback rocky.img.img-tools-undo rocky.img > rb.out 2>&1; ok $? "rollback"
is "$(imgsum rocky.img)" "$orig" "rollback: the image bit for bit as before the conversion"
rm -f rocky.img layer.img rocky.initrd.img-$v rocky.vmlinuz-$v rocky.img.img-tools-undo*

# ---- img-ramify: the RAM entry a BLS entry of its own, the default -----------------
"$RAMIFY" --default ram.img > ram.out 2>&1; ok $? "img-ramify: the guest ramified" || sed 's/^/# /' ram.out | tail -5
grep -qx "+options root=$LV_ROOT_PATH ro resume=$LV_SWAP_PATH rd.lvm.lv=guestvg/root rd.lvm.lv=guestvg/swap console=ttyS0,115200 rd.ramboot" ram.out
ok $? "img-ramify: the RAM entry's options, \$kernelopts expanded, rd.ramboot"
grep -q '^\[grub-entry\] add /boot/loader/entries/img-ramify-ramboot.conf' ram.out && grep -qx '+saved_entry=img-ramify-ramboot' ram.out
ok $? "img-ramify: an entry file beside the guest's, saved_entry pointing at it"
grep -qx "+initrd /initrd.img-$v" ram.out && grep -qx "+initrd /initrd.img-$v.ramboot-layer" ram.out
ok $? "img-ramify: ... booting the guest's initrd and our layer after it (two initrd lines)"
fsck_range ram.img "$LV_ROOT_OFFSET" "$LV_ROOT_SIZE"; ok $? "img-ramify: xfs_repair -n: the root LV is clean"
fsck_range ram.img "$BOOT_OFFSET" "$BOOT_SIZE"; ok $? "img-ramify: xfs_repair -n: /boot is clean"
"$RAMIFY" --default --no-undo ram.img > ram2.out 2>&1; is "$?" 3 "img-ramify: a second run has nothing to do"
rm -f ram.img ram.img.img-tools-undo*

# ---- hostile grubenv variables, on a small native guest -----------------------------
h=h; mkdir -p $h/etc $h/boot/loader/entries $h/boot/grub2
printf 'NAME="Rocky Linux"\nID=rocky\nVERSION_ID=8.9\nPRETTY_NAME="Rocky Linux 8.9"\n' > $h/etc/os-release
printf '/dev/vda1 / ext4 defaults 1 1\n' > $h/etc/fstab
long=$(head -c 3000 /dev/zero | tr '\0' x)
# A value with an escaped backslash, one longer than GRUB's command line once
# used twice, a ${ never closed, an entry with no final newline.
printf 'kernelopts=root=/dev/vda1 ro\nesc=a\\\\b\nlong=%s\n' "$long" > $h/boot/grub2/grubenv
printf 'title A\nlinux /vmlinuz-a\noptions $kernelopts ${esc} $nosuch ${kernelopts $9 $\n' > $h/boot/loader/entries/a.conf
printf 'title B\nlinux /vmlinuz-b\noptions $long ${long}\n' > $h/boot/loader/entries/b.conf
printf 'title C\nlinux /vmlinuz-c\noptions $kernelopts' > $h/boot/loader/entries/c.conf
new_image h.img 64M
printf 'label: dos\nstart=2048, type=83, bootable\n' | partition h.img
mke2fs -q -F -t ext4 -E offset=1048576 -d $h h.img 60000k
"$INSPECT" h.img > h.out 2>&1; ok $? "hostile grubenv: img-inspect reads the guest"
grep -qF '"A": /vmlinuz-a root=/dev/vda1 ro a\\b ${kernelopts $' h.out  # img-inspect shows a backslash as \\
ok $? "hostile grubenv: escapes undone, unset names empty, what is no reference left as written"
grep -qF '"B": /vmlinuz-b $long ${long}' h.out; ok $? "hostile grubenv: longer than a command line: left unexpanded"
grep -qF '"C": /vmlinuz-c root=/dev/vda1 ro' h.out; ok $? "hostile grubenv: an entry without a final newline"

done_testing
