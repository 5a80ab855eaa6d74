#!/bin/bash
# Hostile-image corpus, class "inject": guest values that try to escape
# the language they are written into (issue E item 4).  Small Debian-like
# guests (mke2fs -d on one partition) whose boot entry's kernel arguments,
# OS name, MAC addresses and file names carry quotes, ';', newlines and
# terminal escapes.  Each run ends in one error line naming the image, the
# edit and the reason, or in a safe success (what it wrote is checked by
# tests/img2pv-inject.sh with libxlutil, grub-script-check and pygrub).
#   mk-inject.sh OUTDIR
set -euo pipefail
out=$1
cd "$out"
v=6.1.0-50-amd64
U=1e1e1e1e-0000-4000-8000-000000000001
ESC=$'\033'

# guest NAME GRUB-CFG-TEXT: NAME.img, a 64 MiB raw disk with the guest on p1.
guest () {
    local name=$1 cfg=$2 d=$1.d
    rm -rf "$d"; mkdir -p "$d/etc/udev/rules.d" "$d/etc/sysconfig/network-scripts" "$d/boot/grub" \
        "$d/usr/sbin" "$d/lib/modules/$v/kernel/drivers/block" "$d/lib/modules/$v/kernel/drivers/net" \
        "$d/etc/initramfs-tools"
    printf 'PRETTY_NAME="Debian%s]0;pwned\a%s[2J GNU/Linux 12"\nNAME="Debian GNU/Linux"\nID=debian\n' \
        "$ESC" "$ESC" > "$d/etc/os-release"
    printf 'host%s[31m\r\n' "$ESC" > "$d/etc/hostname"
    printf 'UUID=%s / ext4 defaults 0 1\n' $U > "$d/etc/fstab"
    : > "$d/usr/sbin/mkinitramfs"; chmod 755 "$d/usr/sbin/mkinitramfs"
    printf 'kernel/drivers/block/xen-blkfront.ko:\nkernel/drivers/net/xen-netfront.ko:\n' > "$d/lib/modules/$v/modules.dep"
    echo b > "$d/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko"
    echo n > "$d/lib/modules/$v/kernel/drivers/net/xen-netfront.ko"
    printf 'CONFIG_XEN_PV=y\n' > "$d/boot/config-$v"
    head -c 4096 /dev/zero | tr '\0' k > "$d/boot/vmlinuz-$v"
    # An initrd of initramfs-tools' shape that already holds the drivers.
    rm -rf "$d.i"; mkdir -p "$d.i/scripts" "$d.i/conf" "$d.i/usr/lib/modules/$v/kernel/drivers/block" \
        "$d.i/usr/lib/modules/$v/kernel/drivers/net"
    : > "$d.i/scripts/functions"; : > "$d.i/conf/initramfs.conf"
    echo b > "$d.i/usr/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko"
    echo n > "$d.i/usr/lib/modules/$v/kernel/drivers/net/xen-netfront.ko"
    (cd "$d.i" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$d/boot/initrd.img-$v"
    rm -rf "$d.i"
    printf '%s' "$cfg" > "$d/boot/grub/grub.cfg"
    # A MAC whose tail tries to close the vif spec and add keys.
    printf 'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="00:11:2",mac=x,a=b", NAME="eth0"\n' \
        > "$d/etc/udev/rules.d/70-persistent-net.rules"
    # An ifcfg file whose name moves the cursor and fakes a report line.
    printf 'DEVICE=eth0\nHWADDR=00:16:3e:00:00:0x\nONBOOT=yes\n' \
        > "$d/etc/sysconfig/network-scripts/ifcfg-eth0${ESC}[2K"$'\n''[boot-entry] note: all good'
    rm -f "$name.img"; truncate -s 64M "$name.img"
    printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$name.img" >/dev/null
    mke2fs -q -F -t ext4 -U $U -L root -E offset=1048576 -d "$d" "$name.img" 60000k
    rm -rf "$d"
}

# case NAME TOOL EXPECT MATCH IMAGE ARGS...
case_file () {
    local name=$1 tool=$2 expect=$3 match=$4 image=$5; shift 5
    {
        printf 'tool=%s\n' "$tool"
        printf 'args=('; [ $# -eq 0 ] || printf '%q ' "$@"; printf ')\n'
        printf 'images=(%q)\n' "$image"
        printf 'expect=%s\n' "$expect"
        printf 'match=%q\n' "$match"
    } > "$name.case"
}

entry () {   # entry ARGS: a grub.cfg whose one entry boots the kernel with ARGS (GRUB 2 text)
    printf 'set default=0\nmenuentry "Debian" {\n\tlinux /boot/vmlinuz-%s %s\n\tinitrd /boot/initrd.img-%s\n}\n' \
        $v "$1" $v
}

# 1. The injection of issue E: a quote and ';' in the kernel arguments.
guest quote "$(entry "root=UUID=$U ro 'x\"; bootloader=\"/bin/sh\"; y=\"'")"
case_file quote-dry img2pv error 'quote\.img: boot-entry: kernel argument .*\\x22|quote\.img: boot-entry: kernel argument' quote.img --dry-run
case_file quote-run img2pv error 'quote\.img: boot-entry: kernel argument' quote.img --xl-config quote.cfg
case_file quote-extract img2pv error 'quote\.img: boot-entry: kernel argument' quote.img --extract-kernel --xl-config quote-x.cfg
# 2. Terminal escapes in the arguments.
guest esc "$(entry "root=UUID=$U ro x=${ESC}[2J${ESC}]0;t"$'\a')"
case_file esc-dry img2pv error 'esc\.img: boot-entry: kernel argument x=\\x1b\[2J' esc.img --dry-run
# 3. A '$' and '}' a GRUB 2 script would expand or end a block at.
guest dollar "$(entry "root=UUID=$U ro '\$(reboot)' '}'")"
case_file dollar-dry img2pv error 'dollar\.img: boot-entry: kernel argument' dollar.img --dry-run
# 4. Clean arguments: the hostile OS name, MAC and file names still give a
#    safe success, in a dry run and for real (config checked by libxlutil in
#    tests/img2pv-inject.sh).
guest clean "$(entry "root=UUID=$U ro quiet")"
case_file clean-dry img2pv ok '' clean.img --dry-run
cp clean.img clean2.img
case_file clean-run img2pv ok '' clean2.img --xl-config clean2.cfg
cp clean.img clean3.img
case_file clean-extract img2pv ok '' clean3.img --extract-kernel --xl-config clean3.cfg
# 5. img-inspect prints the OS name, hostname and boot entry to the terminal.
case_file inspect img-inspect ok '' esc.img
case_file inspect-clean img-inspect ok '' clean.img
# 6. img-ramify copies the entry's arguments into its own entries.
case_file ramify-quote img-ramify error 'quote\.img: boot-entry: kernel argument' quote.img --dry-run
