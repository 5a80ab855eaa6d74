#!/bin/bash
# img2pv on the real Debian 12 guests with HVM-era traits (/dev/sda names
# in fstab and grub, 70-persistent-net.rules, /lib/tls), plain and LVM,
# raw and qcow2.  Checked with tools that are not ours: Xen's pygrub lists
# and extracts the PV entry, unmkinitramfs/lsinitramfs read the initrd
# (left as it is: udev loads the drivers by modalias), zcat/cpio read the
# layer appended to one whose udev does not,
# debugfs reads the files, e2fsck -fn checks the filesystems, sha256sum and
# qemu-img compare prove dry run and rollback.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires debugfs; requires e2fsck; requires jq
requires cpio; requires lsinitramfs; requires zcat
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "Xen's pygrub is missing ($PYGRUB: package xen-utils-4.17; scripts/setup.sh installs it)"
# The test images are qcow2 overlays over the cached guests: local
# backing files, which the tools follow only when allowed.
img2pv_allow () { "$top_builddir/src/img2pv" --allow-backing "$@"; }
IMG2PV=img2pv_allow

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

# raw_of IMAGE: a raw view of it (pygrub and debugfs read raw only).
raw_of () {
    case $1 in
        *.qcow2) qemu-img convert -O raw "$1" "$1.raw"; echo "$1.raw" ;;
        *) echo "$1" ;;
    esac
}
# dfs RAW OFFSET CMD: debugfs on the filesystem at OFFSET.
dfs () { debugfs -R "$3" "$1?offset=$2" 2>/dev/null; }

for name in mbr-plain-hvm mbr-lvm-hvm; do
  for fmt in img qcow2; do
    t=$name.$fmt
    . <(grep -E '^(ROOT_UUID|BOOT_UUID|ROOT_OFFSET|BOOT_OFFSET|LV_ROOT_PATH|NET_MAC|KERNEL_VERSION)=' "$dir/$name.img.facts")
    if [ "$fmt" = qcow2 ]; then
        # A qcow2 overlay: what is written lands in it.
        qemu-img create -q -f qcow2 -b "$dir/$name.qcow2" -F qcow2 "$t"
    else
        cp --sparse=always "$dir/$name.img" "$t"
    fi
    before=$(imgsum "$t")

    # Dry run: the plan with diffs, not a byte changed, no undo, no config.
    "$IMG2PV" --dry-run "$t" > dry.out 2> dry.err; rc=$?
    is "$rc" 0 "$t: dry run exits 0 (changes to make)"
    is "$(imgsum "$t")" "$before" "$t: dry run left the image byte-identical"
    ok "$([ ! -e "$t.img-tools-undo" ] && [ ! -e "${t%.*}.cfg" ]; echo $?)" "$t: dry run wrote no undo record and no xl config"
    grep -q '^-/dev/sda1 /boot' dry.out && grep -q '^+UUID='"$BOOT_UUID"' /boot' dry.out
    ok $? "$t: dry run shows the fstab diff"
    grep -q '^\[udev-net\] remove /etc/udev/rules.d/70-persistent-net.rules' dry.out
    ok $? "$t: dry run lists the rules file to remove"

    # The conversion.
    "$IMG2PV" --json "$t" > run.json 2> run.err; rc=$?
    is "$rc" 0 "$t: converted (exit 0)"
    [ "$rc" = 0 ] || sed 's/^/# /' run.err
    is "$(jq -r .status run.json)" changed "$t: JSON status changed"
    ok "$([ -s "$t.img-tools-undo" ]; echo $?)" "$t: undo record beside the image"

    raw=$(raw_of "$t")
    "$PYGRUB" -l "$raw" > pygrub.out 2> pygrub.err
    ok $? "$t: pygrub -l reads the converted image"
    first_title=$(grep -m1 '^title:' pygrub.out | cut -d' ' -f2-)
    first_args=$(grep -m1 '^  args:' pygrub.out | sed 's/^  args: //')
    case "$first_title" in *"Xen PV"*) ok 0 "$t: pygrub lists the PV entry first ($first_title)";;
                           *) ok 1 "$t: pygrub lists the PV entry first (got: $first_title)";; esac
    case " $first_args " in *" console=hvc0 "*) ok 0 "$t: PV entry has console=hvc0";;
                           *) ok 1 "$t: PV entry has console=hvc0 ($first_args)";; esac
    case $name in
        *lvm*) want_root="root=$LV_ROOT_PATH" ;;
        *) want_root="root=UUID=$ROOT_UUID" ;;
    esac
    case " $first_args " in *" $want_root "*) ok 0 "$t: PV entry root exists under Xen ($want_root)";;
                           *) ok 1 "$t: PV entry root is $want_root ($first_args)";; esac
    case "$first_args" in *ttyS0*|*/dev/sd*) ok 1 "$t: no ttyS0 or /dev/sd in the PV args";;
                          *) ok 0 "$t: no ttyS0 or /dev/sd in the PV args";; esac

    # pygrub extracts the default entry's kernel and initrd.
    rm -rf pg; mkdir pg
    "$PYGRUB" -q --output-directory="$TMP/pg" --output-format=simple "$raw" > pyx.out 2>/dev/null < /dev/null
    kernel=$(sed -n 's/^kernel //p' pyx.out); initrd=$(sed -n 's/^ramdisk //p' pyx.out)
    ok "$([ -s "$kernel" ] && [ -s "$initrd" ]; echo $?)" "$t: pygrub extracted the PV kernel and initrd"
    is "$(sed -n 's/^args //p' pyx.out)" "$first_args" "$t: pygrub boots the PV entry by default"
    file "$kernel" 2>/dev/null | grep -q 'Linux kernel'; ok $? "$t: the extracted kernel is a Linux kernel image"

    # The initrd already holds the drivers and udev loads them by
    # modalias: it is left as it is, and the report says why.
    jq -r '.changes[] | select(.edit == "initrd-drivers" and .action == "note") | .detail' run.json \
        | grep -q "initrd /boot/initrd.img-$KERNEL_VERSION left as it is: it holds xen-blkfront and xen-netfront and its udev loads them by modalias"
    ok $? "$t: the report says the initrd is left as it is, and why"
    is "$(sha256sum < "$initrd" | cut -d' ' -f1)" \
       "$(dfs "$(raw_of "$dir/$name.$fmt")" "$BOOT_OFFSET" "cat /initrd.img-$KERNEL_VERSION" | sha256sum | cut -d' ' -f1)" \
       "$t: the initrd pygrub extracts is the guest's own, byte for byte"
    lsinitramfs "$initrd" > initrd.list 2>/dev/null
    grep -q 'kernel/drivers/block/xen-blkfront.ko' initrd.list && grep -q 'kernel/drivers/net/xen-netfront.ko' initrd.list
    ok $? "$t: the initrd contains xen-blkfront and xen-netfront (lsinitramfs)"
    rm -rf unpacked; unmkinitramfs "$initrd" unpacked 2>/dev/null
    grep -qx 'alias xen:vbd xen_blkfront' unpacked/usr/lib/modules/"$KERNEL_VERSION"/modules.alias \
        && grep -qx 'alias xen:vif xen_netfront' unpacked/usr/lib/modules/"$KERNEL_VERSION"/modules.alias \
        && grep -q 'MODALIAS.*kmod load' unpacked/usr/lib/udev/rules.d/80-drivers.rules
    ok $? "$t: unmkinitramfs: udev's modalias rule and the drivers' xen: aliases are in it"

    # Guest files, read with debugfs.
    dfs "$raw" "$ROOT_OFFSET" "stat /etc/udev/rules.d/70-persistent-net.rules" | grep -q Inode
    is $? 1 "$t: 70-persistent-net.rules is gone"
    dfs "$raw" "$ROOT_OFFSET" "ls /usr/lib" > usrlib.ls
    grep -qw 'tls.disabled' usrlib.ls && ! grep -qw 'tls' <(tr -s ' ' '\n' < usrlib.ls | grep -x tls)
    ok $? "$t: /lib/tls moved aside to /lib/tls.disabled"
    dfs "$raw" "$ROOT_OFFSET" "cat /etc/fstab" > fstab
    ! grep -q '^/dev/sd' fstab && grep -q "^UUID=$BOOT_UUID /boot" fstab
    ok $? "$t: fstab has no /dev/sd* (boot by UUID)"
    grep -qx 'xen-blkfront' <(dfs "$raw" "$ROOT_OFFSET" "cat /etc/initramfs-tools/modules")
    ok $? "$t: /etc/initramfs-tools/modules keeps the drivers for later rebuilds"
    dfs "$raw" "$ROOT_OFFSET" "cat /etc/default/grub" | grep -q '^GRUB_CMDLINE_LINUX="console=hvc0"'
    ok $? "$t: /etc/default/grub puts the console on hvc0 for update-grub"
    dfs "$raw" "$ROOT_OFFSET" "cat /etc/grub.d/40_custom" | grep -q "Xen PV"
    ok $? "$t: 40_custom carries the PV entry for update-grub"
    dfs "$raw" "$ROOT_OFFSET" "stat /etc/systemd/system/getty.target.wants/serial-getty@hvc0.service" | grep -q 'Fast link dest: "/lib/systemd/system/serial-getty@.service"'
    ok $? "$t: a getty on hvc0"

    # The xl config.
    cfg=${t%.*}.cfg
    ok "$([ -s "$cfg" ]; echo $?)" "$t: xl config written beside the image"
    xlfmt=$([ "$fmt" = qcow2 ] && echo qcow2 || echo raw)
    grep -q "format=$xlfmt, vdev=xvda, access=rw, target=$TMP/$t\"" "$cfg" && grep -q '^bootloader = "pygrub"' "$cfg" \
        && grep -q '^type = "pv"' "$cfg" && grep -q "mac=$NET_MAC" "$cfg"
    ok $? "$t: xl config: pv, pygrub, xvda $xlfmt, the HVM NIC's MAC"

    # Independent filesystem checks.
    e2fsck -fn "$raw?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "$t: e2fsck -fn clean on /boot"
    e2fsck -fn "$raw?offset=$ROOT_OFFSET" > /dev/null 2>&1; ok $? "$t: e2fsck -fn clean on /"
    [ "$fmt" = qcow2 ] && { qemu-img check -q "$t"; ok $? "$t: qemu-img check clean"; }

    # A second run: nothing to do, nothing written.
    mid=$(imgsum "$t")
    "$IMG2PV" "$t" > again.out 2>&1; rc=$?
    is "$rc" 3 "$t: second run exits 3"
    grep -q '^Nothing to do.' again.out; ok $? "$t: second run says nothing to do"
    is "$(imgsum "$t")" "$mid" "$t: second run changed no byte"

    # Rollback.
    "$IMG2PV" --rollback "$t.img-tools-undo" > rb.out 2>&1; ok $? "$t: rollback"
    if [ "$fmt" = qcow2 ]; then
        qemu-img compare -q "$t" "$dir/$name.qcow2"; ok $? "$t: rolled back: qemu-img compare equal to the original"
    else
        is "$(imgsum "$t")" "$before" "$t: rolled back byte-identical"
    fi
    rm -f "$t" "$t.raw" "$t.img-tools-undo" "$cfg"
  done
done

# An initrd whose udev does not load modules by modalias (its
# 80-drivers.rules removed, repacked with cpio and gzip; written with
# debugfs): img2pv appends a layer whose conf/modules loads the drivers.
. <(grep -E '^(BOOT_OFFSET|BOOT_SIZE|KERNEL_VERSION)=' "$dir/mbr-plain-hvm.img.facts")
t=nomodalias.img
cp --sparse=always "$dir/mbr-plain-hvm.img" "$t"
strip_modalias_rule "$t" "$BOOT_OFFSET" "$KERNEL_VERSION"; ok $? "$t: the guest's initrd, without 80-drivers.rules, repacked into it"
before=$(imgsum "$t")
inode () { dfs "$t" "$BOOT_OFFSET" "stat /initrd.img-$KERNEL_VERSION" | sed -n 's/^Inode: \([0-9]*\).*/\1/p'; }
ino=$(inode)
cp --sparse=always "$t" "$t.before"
# Traced (img2pv itself, not its children; LeakSanitizer cannot run under
# ptrace): the undo record's write-ahead barriers come in groups, the
# filesystems' small writes announced together (fs/ext-io.c), not one
# fdatasync per write (about 50 here before).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -qq -e trace=fdatasync -o sync.trace "$top_builddir/src/img2pv" --json --no-xl-config "$t" > run.json 2> run.err
ok $? "$t: converted"
syncs=$(grep -c '^fdatasync(' sync.trace)
ok "$([ "$syncs" -ge 2 ] && [ "$syncs" -le 16 ]; echo $?)" "$t: $syncs fdatasyncs in all (undo record and image, 2 to 16)"
# In place: the same inode, grown; what changed on the disk is the layer
# and the other edits, not a new copy of the 39 MB initrd.
is "$(inode)" "$ino" "$t: the layer is appended in place (inode $ino kept)"
changed=$(cmp -l -i "$BOOT_OFFSET" -n "$BOOT_SIZE" "$t.before" "$t" | awk '{ print int(($1 - 1) / 4096) }' | uniq | wc -l)
ok "$([ "$changed" -lt 256 ]; echo $?)" "$t: the conversion changed < 1 MiB of /boot ($changed blocks of 4 KiB)"
rm -f "$t.before"
olen=$(jq -r '.changes[] | select(.edit == "initrd-drivers" and .action == "note") | .detail' run.json \
       | sed -n 's/.*is its first \([0-9]*\) bytes.*/\1/p')
is "$olen" "$(stat -c %s new.initrd)" "$t: the report gives the original initrd's length ($olen)"
dfs "$t" "$BOOT_OFFSET" "cat /initrd.img-$KERNEL_VERSION" > initrd
# The layer starts after the zero padding that follows the original.
lstart=$(tail -c +$((olen + 1)) initrd | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' | grep -n -m1 -v '^0$' | cut -d: -f1)
tail -c +$((olen + lstart)) initrd | zcat 2>/dev/null | cpio -i --quiet --to-stdout conf/modules > conf.modules 2>/dev/null
is "$(grep -E '^xen-(blk|net)front$' conf.modules | tr '\n' ' ')" "xen-blkfront xen-netfront " \
   "$t: the appended layer's conf/modules loads both drivers (zcat | cpio)"
is "$(head -c "$olen" initrd | sha256sum | cut -d' ' -f1)" "$(sha256sum < new.initrd | cut -d' ' -f1)" \
   "$t: the original initrd is the untouched prefix of the new one"
lsinitramfs "$(pwd)/initrd" > lsi.out 2> lsi.err; ok $? "$t: lsinitramfs reads the extended initrd (exit 0)"
[ ! -s lsi.err ]; ok $? "$t: lsinitramfs says nothing on stderr"
grep -q 'kernel/drivers/block/xen-blkfront.ko' lsi.out; ok $? "$t: lsinitramfs lists the original members"
e2fsck -fn "$t?offset=$BOOT_OFFSET" > /dev/null 2>&1; ok $? "$t: e2fsck -fn clean on /boot"
"$IMG2PV" --rollback "$t.img-tools-undo" > rb.out 2>&1; ok $? "$t: rollback"
is "$(imgsum "$t")" "$before" "$t: rolled back byte-identical"
rm -f "$t" "$t.img-tools-undo" new.initrd initrd

# --output: a converted copy, same format, sparse; the input untouched.
for fmt in img qcow2; do
    src=$dir/mbr-plain-hvm.$fmt
    before=$(imgsum "$src")
    "$IMG2PV" --output "out.$fmt" "$src" > out.log 2>&1; ok $? "--output from $fmt"
    is "$(imgsum "$src")" "$before" "--output: the $fmt input is untouched"
    is "$(qemu-img info --output=json "out.$fmt" | jq -r .format)" "$([ "$fmt" = qcow2 ] && echo qcow2 || echo raw)" \
       "--output: $fmt stays $fmt"
    ok "$([ ! -e "$src.img-tools-undo" ] && [ ! -e "$dir/mbr-plain-hvm.cfg" ] && [ -s out.cfg ]; echo $?)" \
       "--output: xl config beside the copy, nothing beside the input"
    "$PYGRUB" -l "$(raw_of "out.$fmt")" 2>/dev/null | grep -m1 '^title:' | grep -q 'Xen PV'
    ok $? "--output: pygrub lists the PV entry first in the $fmt copy"
    if [ "$fmt" = img ]; then
        alloc=$(( $(stat -c %b out.img) * 512 )); size=$(stat -c %s out.img)
        ok "$([ "$alloc" -lt $((size / 2)) ]; echo $?)" "--output: the raw copy is sparse ($((alloc >> 20)) MiB of $((size >> 20)) MiB allocated)"
    fi
    "$IMG2PV" --output "out.$fmt" "$src" > /dev/null 2> exists.err; rc=$?
    is "$rc:$(wc -l < exists.err)" "1:1" "--output refuses an existing file, one error line"
    rm -f "out.$fmt" "out.$fmt.raw" out.cfg
done
done_testing
