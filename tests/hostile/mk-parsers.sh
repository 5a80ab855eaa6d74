#!/bin/bash
# Hostile-image builder, class "parsers": a tiny Debian-looking guest (one
# ext4 filesystem from data/sample, /boot on it) whose text files are made
# to break a parser: a grub.cfg of 64 KiB of ';' (and short runs of it, the
# size that overflowed the word buffer), unterminated quotes, braces nested
# past any bound, an fstab line with 10^5 fields, NUL bytes in os-release
# and fstab, a modules.dep of one endless line, udev rules and ifcfg files
# whose MAC carries quotes.  img-inspect, img2pv --dry-run and img-ramify
# --dry-run must each give one error line or a safe success.
#   tests/hostile/mk-parsers.sh OUTDIR
set -eu
out=${1:?usage: $0 OUTDIR}
src=$(cd "$(dirname "$0")/../.." && pwd)/data/sample
V=6.1.0-28-amd64
UUID=5a5a0001-0000-4000-8000-0000000000f0
mkdir -p "$out"
cd "$out"
rep () { local r; r=$(printf "%${2}s" ''); printf '%s' "${r// /$1}"; }

# base DIR: the guest's files, bootable-looking for the tools.
base () {
    rm -rf "$1"
    mkdir -p "$1/boot/grub"
    cp -a "$src/root/." "$1/"
    cp "$src/boot/vmlinuz-$V" "$src/boot/config-$V" "$1/boot/"
    (cd "$src/initrd" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$1/boot/initrd.img-$V"
    printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$UUID" > "$1/etc/fstab"
    printf "set default=0\nmenuentry 'Debian GNU/Linux' {\n\tsearch --no-floppy --fs-uuid --set=root %s\n\tlinux /boot/vmlinuz-%s root=UUID=%s ro\n\tinitrd /boot/initrd.img-%s\n}\n" \
        "$UUID" "$V" "$UUID" "$V" > "$1/boot/grub/grub.cfg"
}

# image NAME DIR: NAME.qcow2 holding DIR as a bare ext4 filesystem.
image () {
    rm -f "$1.raw"
    truncate -s 24M "$1.raw"
    mke2fs -q -F -t ext4 -U "$UUID" -L root -d "$2" "$1.raw" >/dev/null
    qemu-img convert -f raw -O qcow2 "$1.raw" "$1.qcow2"
    rm -f "$1.raw"
    rm -rf "$2"
}

# case NAME TOOL EXPECT [MATCH] -- ARGS...: writes NAME-TOOL.case.
case_for () {
    local name=$1 tool=$2 expect=$3 match=$4; shift 4
    {
        printf 'tool=%s\n' "$tool"
        printf 'args=(%s)\n' "$*"
        printf 'images=(%s.qcow2)\n' "$name"
        printf 'expect=%s\n' "$expect"
        printf 'match=%q\n' "$match"
    } > "$name-$tool.case"
}
# every_tool NAME: the three tools, each expected to end safely; a grub.cfg
# without a usable entry leaves img-ramify nothing to start from (one line).
every_tool () {
    case_for "$1" img-inspect ok ''
    case_for "$1" img2pv ok '' --dry-run
    case_for "$1" img-ramify ok '' --dry-run
}
no_entry () {
    case_for "$1" img-ramify error 'img-ramify: '"$1"'\.qcow2: no boot entry for kernel 6\.1\.0-28-amd64 to start from$' --dry-run
}

# 100 ';' on one line: 200 bytes of words, which overflowed the old
# (file-sized) word buffer of grub.cfg.
d=g; base $d; rep ';' 100 > $d/boot/grub/grub.cfg; image grub-semicolons-short $d
every_tool grub-semicolons-short; no_entry grub-semicolons-short
d=g; base $d; rep ';' 65536 > $d/boot/grub/grub.cfg; image grub-semicolons $d; every_tool grub-semicolons
no_entry grub-semicolons
d=g; base $d; { for i in $(seq 1 200); do rep ';' $((i % 40 + 1)); echo; done; } > $d/boot/grub/grub.cfg
image grub-semicolon-lines $d; every_tool grub-semicolon-lines; no_entry grub-semicolon-lines
d=g; base $d; { echo "menuentry 'unterminated {"; printf ' linux "/boot/vmlinuz-%s root=\\' $V; rep 'x' 5000; } > $d/boot/grub/grub.cfg
image grub-open-quote $d; every_tool grub-open-quote; no_entry grub-open-quote
d=g; base $d; { rep 'submenu x { ' 5000; echo; rep '{' 60000; echo; rep '}' 60000; } > $d/boot/grub/grub.cfg
image grub-nested $d; every_tool grub-nested; no_entry grub-nested
d=g; base $d; { rep 'menuentry a { linux /k; }\n' 3000 | sed 's/\\n/\n/g'; printf 'set default='; } > $d/boot/grub/grub.cfg
image grub-many-entries $d; every_tool grub-many-entries; no_entry grub-many-entries
d=g; base $d; { printf 'UUID=%s / ext4 defaults 0 1 ' "$UUID"; rep 'f ' 100000; echo; printf '\0\0/dev/sda1 /x ext4 defaults 9999999999999999999 1'; } > $d/etc/fstab
image fstab-fields $d; every_tool fstab-fields
d=g; base $d; printf 'ID=deb\0ian\nNAME="\0\nPRETTY_NAME="Debian\0 12\nVERSION_ID='"'"'\n' > $d/etc/os-release
image osrelease-nul $d; every_tool osrelease-nul
d=g; base $d; { printf 'kernel/drivers/block/xen-blkfront.ko:'; rep ' kernel/a.ko' 20000; echo; printf 'kernel/a.ko: kernel/drivers/block/xen-blkfront.ko\n'; } \
    > $d/lib/modules/$V/modules.dep
image modules-dep-loop $d; every_tool modules-dep-loop
case_for modules-dep-loop img2pv error '^img2pv: modules-dep-loop\.qcow2: modules\.dep: dependency loop through xen-blkfront$' --dry-run
d=g; base $d; printf 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:12:3",NAME="x", ATTR{address}=="5x:54:00:12:34:56"\n' \
    > $d/etc/udev/rules.d/70-persistent-net.rules
printf 'GRUB_CMDLINE_LINUX="%s\nGRUB_CMDLINE_LINUX_DEFAULT=\x27\n' "$(rep '\\' 4000)" > $d/etc/default/grub
image netrules-quote $d; every_tool netrules-quote
