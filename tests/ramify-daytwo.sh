#!/bin/bash
# Day two for img-ramify: a ramified guest keeps its RAM entry through its
# own maintenance.  After img-ramify --default, the guest's own tools run
# in a chroot of the image (tests/chroot-maint.sh, test side only): a
# newer kernel package is installed with dpkg, whose hooks rebuild its
# initrd (initramfs-tools or dracut, now with img-ramify's hook) and run
# update-grub, and update-grub runs once more.  Then, read from the image:
# grub.cfg has exactly one RAM entry, the default, on the newest kernel,
# whose initrd has the RAM boot; and the initramfs-tools guest is booted
# in qemu on it: the newest kernel, / on tmpfs.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/chroot-maint.sh"
. "$top_srcdir/tests/qemu-session.sh"
requires_root; requires e2fsck; requires debugfs; requires lsinitramfs; requires grub-script-check; requires unshare
RAMIFY=$top_builddir/src/img-ramify
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"
dfs () { debugfs -R "$3" "$1?offset=$2" 2>/dev/null; }

newer_kernel

for guest in mbr-plain mbr-plain-dracut; do
    unset INITRAMFS
    . "$dir/$guest.img.facts"
    t="$guest ($INITRAMFS)"
    if [ "$INITRAMFS" = dracut ]; then arg=rd.ramboot; else arg=boot=ramboot; fi
    img=$guest.img
    cp --sparse=always "$dir/$guest.img" "$img"
    # A guest the previous img-ramify converted: its static entry in 40_custom.
    { printf '#!/bin/sh\nexec tail -n +3 $0\n# custom entries\n'
      printf '### BEGIN img-ramify RAM boot entry ###\nmenuentry %s {\n}\n### END img-ramify RAM boot entry ###\n' "'old'"
    } > old40
    debugfs -w -R "rm /etc/grub.d/40_custom" "$img?offset=$ROOT_OFFSET" > /dev/null 2>&1
    debugfs -w -R "write old40 /etc/grub.d/40_custom" "$img?offset=$ROOT_OFFSET" > /dev/null 2>&1
    debugfs -w -R "sif /etc/grub.d/40_custom mode 0100755" "$img?offset=$ROOT_OFFSET" > /dev/null 2>&1
    dfs "$img" "$ROOT_OFFSET" "cat /etc/grub.d/40_custom" | grep -q 'BEGIN img-ramify'
    ok $? "$t: 40_custom holds the previous version's static RAM entry"

    before=$(imgsum "$img")
    "$RAMIFY" --dry-run --default "$img" > dry.out 2>&1; ok $? "$t: dry run"
    is "$(imgsum "$img")" "$before" "$t: the dry run wrote nothing"
    grep -q '^\[ramboot-hook\] add /usr/local/lib/img-ramify/img-ramcopy' dry.out \
        && grep -q '^\[grub-entry\] add /etc/grub.d/41_img-ramify' dry.out
    ok $? "$t: the dry run shows the hook's files and the generator"
    "$RAMIFY" --default "$img" > run.out 2>&1; ok $? "$t: img-ramify --default"
    [ $? = 0 ] || sed 's/^/# /' run.out | tail -5
    mid=$(imgsum "$img")
    "$RAMIFY" --default "$img" > again.out 2>&1; is $? 3 "$t: second run: nothing to do"
    is "$(imgsum "$img")" "$mid" "$t: the second run changed no byte"

    dfs "$img" "$ROOT_OFFSET" "cat /etc/grub.d/40_custom" > new40
    grep -q 'img-ramify' new40; is $? 1 "$t: the old static entry left 40_custom"
    grep -q '^# custom entries$' new40; ok $? "$t: ... and the rest of 40_custom stayed"
    dfs "$img" "$ROOT_OFFSET" "cat /etc/grub.d/41_img-ramify" > gen
    dfs "$img" "$ROOT_OFFSET" "stat /etc/grub.d/41_img-ramify" | grep -q 'Mode:  0755'
    ok $? "$t: /etc/grub.d/41_img-ramify, mode 0755"
    sh -n gen && grep -q "^RAMIFY_ARGS=.* $arg\"\$" gen; ok $? "$t: the generator parses (sh -n) and carries $arg"
    cp gen "gen.$INITRAMFS"
    if [ "$INITRAMFS" = dracut ]; then
        hook=/usr/lib/dracut/modules.d/90img-ramify/module-setup.sh
        dfs "$img" "$ROOT_OFFSET" "cat /etc/dracut.conf.d/img-ramify.conf" | grep -q '^add_dracutmodules+=" img-ramify "$'
        ok $? "$t: /etc/dracut.conf.d/img-ramify.conf adds the module"
    else
        hook=/etc/initramfs-tools/hooks/img-ramify
    fi
    dfs "$img" "$ROOT_OFFSET" "stat $hook" | grep -q 'Mode:  0755'; ok $? "$t: $hook, mode 0755"

    dpkg --compare-versions "${newver%%-amd64}" gt "${KERNEL_VERSION%%-amd64}"
    ok $? "$t: the archive's kernel $newver is newer than the guest's $KERNEL_VERSION"
    maintain "$img" maint.log; ok $? "$t: in a chroot: dpkg -i $newpkg (its hooks rebuild the initrd), update-grub"
    grep -E 'update-initramfs|dracut|Generating grub|Found|img-ramify' maint.log | sort -u | sed 's/^/# /'
    grep -q 'Found the RAM boot (img-ramify): /boot/vmlinuz-'"$newver" maint.log
    ok $? "$t: update-grub ran the generator, which found the RAM boot on $newver"
    e2fsck -fn "$img?offset=$ROOT_OFFSET" > /dev/null 2>&1 && e2fsck -fn "$img?offset=$BOOT_OFFSET" > /dev/null 2>&1
    ok $? "$t: e2fsck -fn clean after the maintenance"

    dfs "$img" "$BOOT_OFFSET" "cat /grub/grub.cfg" > grub.cfg
    grub-script-check grub.cfg; ok $? "$t: grub-script-check accepts the regenerated grub.cfg"
    is "$(grep -c "\$menuentry_id_option 'img-ramify-ramboot'" grub.cfg)" 1 "$t: exactly one RAM entry"
    is "$(grep 'set default=' grub.cfg | grep -v next_entry | sed 's/^ *//' | sort -u)" 'set default="img-ramify-ramboot"' \
       "$t: it is the default (update-grub kept GRUB_DEFAULT)"
    sed -n "/\$menuentry_id_option 'img-ramify-ramboot'/,/^}/p" grub.cfg > entry
    sed 's/^/# /' entry
    linux=$(awk '$1 == "linux" { print $2 }' entry); initrd=$(awk '$1 == "initrd" { print $2 }' entry)
    is "$linux" "/vmlinuz-$newver" "$t: it boots the newest kernel"
    grep -q "^	linux	.* $arg\( \|\$\)" entry; ok $? "$t: with $arg"
    grep -q "Linux $newver" entry; ok $? "$t: its title and message name $newver"
    dfs "$img" "$BOOT_OFFSET" "dump $initrd ram.initrd"
    lsinitramfs ram.initrd > initrd.list 2> /dev/null
    grep -q "^usr/lib/modules/$newver/\|^lib/modules/$newver/" initrd.list; ok $? "$t: its initrd ($initrd) is $newver's"
    if [ "$INITRAMFS" = dracut ]; then
        want='pre-pivot/90-img-ramify.sh$ ^ramboot/ramboot.conf$ ^ramboot/fstab$ bin/img-ramcopy$'
    else
        want='^scripts/ramboot$ ^conf/ramboot.conf$ ^ramboot/fstab$ bin/img-ramcopy$'
    fi
    miss=
    for w in $want; do grep -q "$w" initrd.list || miss="$miss $w"; done
    is "$miss" "" "$t: its initrd holds the RAM boot (${want//[\$^]/})"

done

# ---- the generator's choice, on a /boot of empty files -------------------------
# In a private mount namespace: a made-up /boot bound over the host's, the
# hook files moved to $TMP (sed on the settings line), GRUB's own
# grub-mkconfig_lib with the two functions that probe devices stubbed.
mkdir -p fb lib hk
sed "s|^RAMIFY_HOOK_FILES=.*|RAMIFY_HOOK_FILES='$TMP/hk/hook $TMP/hk/conf'|" gen.initramfs-tools > gen.t
cat > lib/grub-mkconfig_lib <<'EOF2'
. /usr/share/grub/grub-mkconfig_lib
prepare_grub_to_access_device () { echo "search --no-floppy --fs-uuid --set=root 0123-4567"; }
make_system_path_relative_to_its_root () { echo /; }
EOF2
run_gen () {
    unshare -m sh -c 'mount --bind "$1" /boot && pkgdatadir=$2 sh "$3"' sh "$TMP/fb" "$TMP/lib" "$TMP/gen.t" > gen.out 2> gen.err
}
now=$(date +%s)
stamp () { local t=$1; shift; touch -d "@$((now + t))" "$@"; }
for v in 6.1.0-10-amd64 6.1.0-20-amd64 6.1.0-30-amd64; do
    : > "fb/vmlinuz-$v"; : > "fb/initrd.img-$v"; stamp -300 "fb/vmlinuz-$v" "fb/initrd.img-$v"
done
: > hk/hook; : > hk/conf; stamp -100 hk/hook hk/conf
: > fb/initrd.img-6.1.0-10-amd64.ramboot; stamp -100 fb/initrd.img-6.1.0-10-amd64.ramboot
run_gen; ok $? "generator: runs"
grub-script-check gen.out; ok $? "generator: grub-script-check accepts its output"
is "$(grep -c '^menuentry' gen.out) $(awk '$1 == "linux" { print $2 } $1 == "initrd" { print $2 }' gen.out | tr '\n' ' ')" \
   "1 /vmlinuz-6.1.0-10-amd64 /initrd.img-6.1.0-10-amd64.ramboot " \
   "generator: newer kernels whose initrds predate the hook are passed over for img-ramify's .ramboot"
grep -q "^menuentry '.*, root in RAM, Linux 6.1.0-10-amd64' --class gnu-linux --class os \$menuentry_id_option 'img-ramify-ramboot' {\$" gen.out \
    && grep -q '^### BEGIN img-ramify RAM boot entry ###$' gen.out && grep -q '^### END img-ramify RAM boot entry ###$' gen.out
ok $? "generator: the title, the id, the fence img-ramify finds again"
stamp -50 fb/initrd.img-6.1.0-30-amd64
run_gen; is "$(awk '$1 == "initrd" { print $2 }' gen.out)" /initrd.img-6.1.0-30-amd64 \
   "generator: the newest kernel's initrd built after the hook is taken as it is"
stamp -10 hk/conf
run_gen; is "$(awk '$1 == "initrd" { print $2 }' gen.out)" /initrd.img-6.1.0-10-amd64.ramboot \
   "generator: ... but not when a file of the hook changed since (every file counts)"
stamp -250 fb/initrd.img-6.1.0-10-amd64.ramboot; stamp -200 fb/initrd.img-6.1.0-10-amd64
run_gen; is "$?:$(grep -c '^menuentry' gen.out)" 0:0 "generator: a .ramboot older than its initrd, an initrd older than the hook: no entry"
grep -q 'no kernel has an initrd with the RAM boot' gen.err; ok $? "generator: ... and it says so on stderr"
: > fb/initrd.img-6.1.0-10-amd64.ramboot-layer; stamp -400 fb/initrd.img-6.1.0-10-amd64.ramboot-layer
run_gen; ok $? "generator: runs with a layer file"
grub-script-check gen.out; ok $? "generator: grub-script-check accepts two initrds on a line"
is "$(grep -P '^\tinitrd\t' gen.out)" "$(printf '\tinitrd\t/initrd.img-6.1.0-10-amd64 /initrd.img-6.1.0-10-amd64.ramboot-layer')" \
   "generator: the initrd, then img-ramify's layer after it (whatever their ages: the layer carries the whole RAM boot)"
grep -q 'Found the RAM boot (img-ramify): /boot/vmlinuz-6.1.0-10-amd64, /boot/initrd.img-6.1.0-10-amd64 /boot/initrd.img-6.1.0-10-amd64.ramboot-layer$' gen.err
ok $? "generator: ... and it says which files on stderr"
stamp 0 fb/initrd.img-6.1.0-10-amd64
run_gen; is "$(awk '$1 == "initrd" { $1 = ""; print }' gen.out)" " /initrd.img-6.1.0-10-amd64" \
   "generator: an initrd rebuilt after the hook goes alone (the layer's settings may be older than the hook's)"
stamp -200 fb/initrd.img-6.1.0-10-amd64; rm fb/initrd.img-6.1.0-10-amd64.ramboot-layer
v="6.1.0-40-amd64'x"; : > "fb/vmlinuz-$v"; : > "fb/initrd.img-$v"; stamp 0 "fb/vmlinuz-$v" "fb/initrd.img-$v"
run_gen; is "$?:$(grep -c '^menuentry' gen.out)" 0:0 "generator: a kernel name it would have to quote is left out"

# ---- one boot: the initramfs-tools guest, on its RAM entry --------------------
. "$dir/mbr-plain.img.facts"
# The new kernel's modules came into the root: 3 GiB for the copy.
session daytwo-ram 3072 "file=mbr-plain.img,format=raw,snapshot=on"
plain daytwo-ram.log | grep -a 'ramboot:' | sed 's/^/# /'
grep -aq "Loading Linux $newver with its root in RAM" daytwo-ram.log; ok $? "boot: GRUB loaded the RAM entry on $newver"
is "$(val daytwo-ram kernel)" "$newver" "boot: the newest kernel runs"
is "$(val daytwo-ram rootfs)" tmpfs "boot: / is a tmpfs"
is "$(val daytwo-ram hostname) $(val daytwo-ram disk_mounts)" "mbr-plain 0" "boot: the disk root's files, nothing of the disk mounted"
done_testing
