#!/bin/bash
# Day two for img-ramify on a BLS guest (RHEL 8/9, Fedora): the RAM entry
# is an entry file of our own, which the distribution's grubby and
# kernel-install leave alone, so img-ramify installs the kernel-install
# plugin /etc/kernel/install.d/95-img-ramify.install that moves it to the
# newest kernel whose initrd has the RAM boot, and keeps it the default
# when grubby's UPDATEDEFAULT moved saved_entry to the new kernel.
# The cached dracut guest is given RHEL's BLS layout (test side, on loop
# devices); img-ramify --default; then in a chroot (test side only): the
# newer kernel package installed with dpkg (dracut, with img-ramify's
# module, builds its initrd), its BLS entry and saved_entry written as
# RHEL's 20-grub.install does, and the guest's own kernel-install run,
# which runs the plugin.  Then the plugin's choices on a made-up /boot.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/chroot-maint.sh"
requires_root; requires e2fsck; requires debugfs; requires lsinitrd; requires grub-editenv; requires unshare
RAMIFY=$top_builddir/src/img-ramify
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
# shellcheck disable=SC1090
. "$dir/mbr-plain-dracut.img.facts"
cd "$TMP"
dfs () { debugfs -R "$3" "$1?offset=$2" 2>/dev/null; }
newer_kernel
v=$KERNEL_VERSION mid=0c5e2d9a4f1b4e6c8d7a3b2f1e0d9c8b
opts="root=UUID=$ROOT_UUID ro console=ttyS0,115200"
plugin=/etc/kernel/install.d/95-img-ramify.install
entry=/loader/entries/img-ramify-ramboot.conf

# ---- the fixture: RHEL's boot layout over the dracut guest ---------------------
bls_entry () {
    printf 'title Rocky Linux (%s) 8.9 (Green Obsidian)\nversion %s\nlinux /vmlinuz-%s\ninitrd /initrd.img-%s\noptions %s\nid rocky-20231121-%s\ngrub_class kernel\n' \
        "$1" "$1" "$1" "$1" "$opts" "$1"
}
make_bls () {
    rm -rf "$mnt/boot/grub"
    mkdir -p "$mnt/boot/grub2" "$mnt/boot/loader/entries" "$mnt/etc/sysconfig"
    bls_entry "$v" > "$mnt/boot/loader/entries/$mid-$v.conf"
    grub-editenv "$mnt/boot/grub2/grubenv" create && grub-editenv "$mnt/boot/grub2/grubenv" set "saved_entry=$mid-$v" || return 1
    printf 'load_env -f ${config_directory}/grubenv\nset default="${saved_entry}"\ninsmod blscfg\nblscfg\n' > "$mnt/boot/grub2/grub.cfg"
    printf 'UPDATEDEFAULT=yes\nDEFAULTKERNEL=kernel-core\n' > "$mnt/etc/sysconfig/kernel"
    echo "$mid" > "$mnt/etc/machine-id"
}
img=bls.img
cp --sparse=always "$dir/mbr-plain-dracut.img" "$img"
in_image "$img" fix.log make_bls; ok $? "fixture: BLS entries, grubenv and a grub.cfg that runs blscfg"

# ---- img-ramify --default --------------------------------------------------------
"$RAMIFY" --dry-run --default "$img" > dry.out 2>&1; ok $? "dry run"
grep -q "^\[grub-entry\] add /boot$entry" dry.out && grep -q "^\[grub-entry\] add $plugin" dry.out
ok $? "the dry run shows the RAM entry file and the kernel-install plugin"
"$RAMIFY" --default "$img" > run.out 2>&1; ok $? "img-ramify --default" || sed 's/^/# /' run.out | tail -5
mid_sum=$(imgsum "$img")
"$RAMIFY" --default "$img" > again.out 2>&1; is $? 3 "a second run has nothing to do"
is "$(imgsum "$img")" "$mid_sum" "... and changes no byte"
dfs "$img" "$ROOT_OFFSET" "cat $plugin" > plugin.sh
dfs "$img" "$ROOT_OFFSET" "stat $plugin" | grep -q 'Mode:  0755'; ok $? "$plugin, mode 0755"
sed -n '/^RAMIFY_[A-Z_]*=/p' plugin.sh > settings
sh -n plugin.sh; ok $? "the plugin parses (sh -n)"
is "$(. ./settings; echo "$RAMIFY_ENTRY $RAMIFY_DEFAULT")" "/boot$entry yes" "it names the entry file, made the default"
grep -qx "version $v" <(dfs "$img" "$BOOT_OFFSET" "cat $entry"); ok $? "the RAM entry is on $v"
dfs "$img" "$BOOT_OFFSET" "cat /grub2/grubenv" | grep -qx 'saved_entry=img-ramify-ramboot'; ok $? "and the default"

# ---- day two: a newer kernel, the RHEL way, in a chroot -----------------------------
# What kernel-core's scriptlets do: the package's files, its initrd
# (dracut), then kernel-install add, whose 20-grub.install writes the BLS
# entry and, UPDATEDEFAULT=yes, grubby --set-default (saved_entry).
# Grubby is not in Debian: those two steps are done here as it does them.
day_two () {
    install_kernel "$1" || return 1
    bls_entry "$newver" > "$mnt/boot/loader/entries/$mid-$newver.conf"
    in_guest grub-editenv /boot/grub2/grubenv set "saved_entry=$mid-$newver" || return 1
    in_guest kernel-install add "$newver" "/boot/vmlinuz-$newver" >> "$1" 2>&1
}
dpkg --compare-versions "${newver%%-amd64}" gt "${v%%-amd64}"; ok $? "the archive's kernel $newver is newer than the guest's $v"
in_image "$img" maint.log day_two; ok $? "in a chroot: dpkg -i $newpkg, its BLS entry and saved_entry, kernel-install add"
grep -E 'dracut|img-ramify' maint.log | sort -u | head -5 | sed 's/^/# /'
e2fsck -fn "$img?offset=$ROOT_OFFSET" > /dev/null 2>&1 && e2fsck -fn "$img?offset=$BOOT_OFFSET" > /dev/null 2>&1
ok $? "e2fsck -fn clean after the maintenance"
dfs "$img" "$BOOT_OFFSET" "cat $entry" > entry
sed 's/^/# /' entry
is "$(sed -n 's/^linux //p' entry) $(sed -n 's/^initrd //p' entry) $(sed -n 's/^version //p' entry)" \
   "/vmlinuz-$newver /initrd.img-$newver $newver" "the RAM entry moved to the newest kernel and its own initrd"
grep -qx "options $opts rd.ramboot" entry; ok $? "its options kept: the root, rd.ramboot"
grep -q "^title .*, root in RAM, Linux $newver\$" entry; ok $? "its title names $newver"
is "$(grep -c '^initrd ' entry)" 1 "one initrd line"
dfs "$img" "$BOOT_OFFSET" "cat /grub2/grubenv" | grep -qx 'saved_entry=img-ramify-ramboot'
ok $? "saved_entry, moved to $mid-$newver as UPDATEDEFAULT does, back on the RAM entry"
dfs "$img" "$BOOT_OFFSET" "dump /initrd.img-$newver new.initrd"
lsinitrd new.initrd > new.list 2> /dev/null
miss=
for w in 'pre-pivot/90-img-ramify.sh$' '^ramboot/ramboot.conf$' '^ramboot/fstab$' 'bin/img-ramcopy$' "lib/modules/$newver/"; do
    grep -q "$w" <(sed 's/.* //' new.list) || miss="$miss $w"
done
is "$miss" "" "lsinitrd: the new kernel's initrd, built by the guest's dracut, has the RAM boot"

# The old kernel removed (what dnf remove's kernel-install remove does).
[ -n "$(dfs "$img" "$BOOT_OFFSET" "stat /initrd.img-$v.ramboot-layer" | grep Inode)" ]; ok $? "img-ramify's layer beside $v's initrd is there"
day_three () { in_guest kernel-install remove "$v" >> "$1" 2>&1; }
in_image "$img" rm.log day_three; ok $? "in a chroot: kernel-install remove $v"
[ -z "$(dfs "$img" "$BOOT_OFFSET" "stat /initrd.img-$v.ramboot-layer" | grep Inode)" ]; ok $? "... which took img-ramify's layer beside $v's initrd"
dfs "$img" "$BOOT_OFFSET" "cat $entry" | grep -qx "linux /vmlinuz-$newver"; ok $? "... and left the RAM entry on $newver"

# ---- the plugin's choices, on a /boot of empty files ---------------------------
# In a private mount namespace: a made-up /boot bound over the host's, the
# hook files moved to $TMP.
mkdir -p fb/loader/entries fb/grub2 hk
sed "s|^RAMIFY_HOOK_FILES=.*|RAMIFY_HOOK_FILES='$TMP/hk/hook $TMP/hk/conf'|" plugin.sh > plug.t
run_plug () {
    unshare -m sh -c 'mount --bind "$1" /boot && shift && sh "$@"' sh "$TMP/fb" "$TMP/plug.t" "$@" > plug.out 2> plug.err
}
now=$(date +%s)
stamp () { local t=$1; shift; touch -d "@$((now + t))" "$@"; }
for k in 6.1.0-10-amd64 6.1.0-20-amd64 6.1.0-30-amd64; do
    : > "fb/vmlinuz-$k"; : > "fb/initrd.img-$k"; stamp -300 "fb/vmlinuz-$k" "fb/initrd.img-$k"
done
: > hk/hook; : > hk/conf; stamp -100 hk/hook hk/conf
: > fb/initrd.img-6.1.0-10-amd64.ramboot; stamp -100 fb/initrd.img-6.1.0-10-amd64.ramboot
printf '# img-ramify RAM boot entry: the root is copied into RAM at boot\ntitle Rocky Linux 8.9, root in RAM, Linux 6.1.0-1-amd64\nversion 6.1.0-1-amd64\nlinux /vmlinuz-6.1.0-1-amd64\ninitrd /initrd.img-6.1.0-1-amd64.ramboot\noptions root=/dev/x ro rd.ramboot\ngrub_class kernel\n' > fb/$entry
grub-editenv fb/grub2/grubenv create
fields () { sed -n 's/^\(title\|version\|linux\|initrd\) //p' fb/$entry | tr '\n' '|'; }
run_plug add 6.1.0-30-amd64; ok $? "plugin: runs"
is "$(fields)" "Rocky Linux 8.9, root in RAM, Linux 6.1.0-10-amd64|6.1.0-10-amd64|/vmlinuz-6.1.0-10-amd64|/initrd.img-6.1.0-10-amd64.ramboot|" \
   "plugin: newer kernels whose initrds predate the hook are passed over for img-ramify's .ramboot"
grep -qx 'options root=/dev/x ro rd.ramboot' fb/$entry && grep -q '^# img-ramify RAM boot entry' fb/$entry && grep -qx 'grub_class kernel' fb/$entry
ok $? "plugin: the options and the other lines stay as they were"
stamp -50 fb/initrd.img-6.1.0-30-amd64
grub-editenv fb/grub2/grubenv set saved_entry=$mid-6.1.0-30-amd64
run_plug add 6.1.0-30-amd64
is "$(fields)" "Rocky Linux 8.9, root in RAM, Linux 6.1.0-30-amd64|6.1.0-30-amd64|/vmlinuz-6.1.0-30-amd64|/initrd.img-6.1.0-30-amd64|" \
   "plugin: the new kernel's initrd built after the hook is taken as it is"
is "$(grub-editenv fb/grub2/grubenv list)" "saved_entry=img-ramify-ramboot" "plugin: saved_entry moved to the new kernel's entry: back on the RAM entry"
grub-editenv fb/grub2/grubenv set saved_entry=$mid-6.1.0-20-amd64
run_plug add 6.1.0-30-amd64
is "$(grub-editenv fb/grub2/grubenv list)" "saved_entry=$mid-6.1.0-20-amd64" "plugin: a default the admin chose (another kernel's) is left alone"
: > fb/initrd.img-6.1.0-30-amd64.ramboot
run_plug remove 6.1.0-30-amd64
is "$(fields)" "Rocky Linux 8.9, root in RAM, Linux 6.1.0-10-amd64|6.1.0-10-amd64|/vmlinuz-6.1.0-10-amd64|/initrd.img-6.1.0-10-amd64.ramboot|" \
   "plugin: remove: the kernel removed is passed over"
[ ! -e fb/initrd.img-6.1.0-30-amd64.ramboot ]; ok $? "plugin: remove: img-ramify's copy of its initrd goes too"
run_plug add 6.1.0-30-amd64
cp fb/$entry before
run_plug frobnicate 6.1.0-30-amd64; is "$?:$(cmp -s before fb/$entry && echo same)" "0:same" "plugin: another command: nothing changed, exit 0"
k="6.1.0-40-amd64'x"; : > "fb/vmlinuz-$k"; : > "fb/initrd.img-$k"; stamp 0 "fb/vmlinuz-$k" "fb/initrd.img-$k"
run_plug add "$k"; cmp -s before fb/$entry; ok $? "plugin: a kernel name it would have to quote is left out"
: > fb/initrd.img-6.1.0-20-amd64.ramboot-layer; stamp -400 fb/initrd.img-6.1.0-30-amd64
run_plug add 6.1.0-20-amd64
is "$(fields)" "Rocky Linux 8.9, root in RAM, Linux 6.1.0-20-amd64|6.1.0-20-amd64|/vmlinuz-6.1.0-20-amd64|/initrd.img-6.1.0-20-amd64|/initrd.img-6.1.0-20-amd64.ramboot-layer|" \
   "plugin: the initrd and img-ramify's layer after it: two initrd lines"
run_plug remove 6.1.0-20-amd64
is "$(fields)" "Rocky Linux 8.9, root in RAM, Linux 6.1.0-10-amd64|6.1.0-10-amd64|/vmlinuz-6.1.0-10-amd64|/initrd.img-6.1.0-10-amd64.ramboot|" \
   "plugin: remove: back to one initrd line on the older kernel's copy"
[ ! -e fb/initrd.img-6.1.0-20-amd64.ramboot-layer ]; ok $? "plugin: remove: img-ramify's layer beside its initrd goes too"
stamp -50 fb/initrd.img-6.1.0-30-amd64; run_plug add 6.1.0-30-amd64
is "$(fields)" "Rocky Linux 8.9, root in RAM, Linux 6.1.0-30-amd64|6.1.0-30-amd64|/vmlinuz-6.1.0-30-amd64|/initrd.img-6.1.0-30-amd64|" \
   "plugin: and from two initrd lines back to one on the newest kernel's hooked initrd"
stamp -350 fb/initrd.img-6.1.0-10-amd64.ramboot
run_plug remove 6.1.0-30-amd64
is "$?:$([ -e fb/$entry ] || echo gone)" "0:gone" "plugin: no kernel left with the RAM boot: the entry is removed, exit 0 (kernel-install goes on)"
grep -q 'no kernel has an initrd with the RAM boot: RAM entry .* removed' plug.err; ok $? "plugin: ... and it says so on stderr"
run_plug add 6.1.0-30-amd64; is "$?:$(ls fb/loader/entries | wc -l)" "0:0" "plugin: no entry (the admin took it away): nothing done"

done_testing
