#!/bin/bash
# Hostile class "paths": guest-derived names that try to choose a host path
# (issue E, item 3).  Tiny Debian-like guests (the data/sample layout: an
# initramfs-tools initrd that lacks xen-blkfront, so img2pv adds it and
# runs the host's depmod over a private staging tree) whose modules.dep
# entries, initrd member names, kernel versions and boot file names climb
# out with `..`, are absolute, carry control bytes or look like options,
# and whose image directory holds a symlink where the extracted kernel
# goes.  Every case aims at $HOSTILE_CANARY.
#   mk-paths.sh OUTDIR
set -euo pipefail
out=$1
: "${HOSTILE_CANARY:?HOSTILE_CANARY must name the canary directory}"
C=$HOSTILE_CANARY
cd "$out"
V=6.1.0-28-amd64
U=5a5a0001-0000-4000-8000-0000000000e3
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# newc FILE NAME...: a newc cpio of regular files (mode 0644, content
# "NAME\n") and directories (NAME ending in /), names taken verbatim
# (cpio(1) will not write `..` or absolute names).
newc () {
    python3 - "$@" <<'EOF'
import sys
out, names = sys.argv[1], sys.argv[2:]
def ent(name, mode, data):
    nb = name.encode('utf-8', 'surrogateescape') + b'\0'
    h = b'070701' + b''.join(b'%08x' % v for v in (0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
    b = h + nb
    b += b'\0' * (-len(b) % 4) + data
    return b + b'\0' * (-len(b) % 4)
buf = b''
for i, n in enumerate(names):
    if n.endswith('/'):
        buf += ent(n.rstrip('/'), 0o40755, b'')
    else:
        buf += ent(n, 0o100644, (n + '\n').encode('utf-8', 'surrogateescape'))
buf += ent('TRAILER!!!', 0, b'')
open(out, 'wb').write(buf + b'\0' * (-len(buf) % 512))
EOF
}

# tree DIR KVER [INITRD-NAME]: the guest's files.
tree () {
    local d=$1 v=$2 ib=${3:-initrd.img-$2}
    mkdir -p "$d/etc" "$d/boot/grub" "$d/usr/sbin" "$d/lib/modules/$v/kernel/drivers/block"
    printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' \
        > "$d/etc/os-release"
    printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' $U > "$d/etc/fstab"
    : > "$d/usr/sbin/mkinitramfs"; chmod 755 "$d/usr/sbin/mkinitramfs"
    echo kernel > "$d/boot/vmlinuz-$v"
    printf 'CONFIG_XEN=y\nCONFIG_XEN_PV=y\n' > "$d/boot/config-$v"
    printf "set default=0\nmenuentry 'Debian GNU/Linux' {\n\tlinux /boot/vmlinuz-%s root=UUID=%s ro console=tty0\n\tinitrd /boot/%s\n}\n" \
        "$v" $U "$ib" > "$d/boot/grub/grub.cfg"
    echo 'kernel/drivers/block/xen-blkfront.ko:' > "$d/lib/modules/$v/modules.dep"
    echo 'kernel/drivers/net/xen-netfront.ko' > "$d/lib/modules/$v/modules.builtin"
    echo blkfront > "$d/lib/modules/$v/kernel/drivers/block/xen-blkfront.ko"
    initrd "$d/boot/$ib" "$v"
}

# initrd FILE KVER [EXTRA-MEMBER...]: an initramfs-tools initrd without
# xen-blkfront, gzip-compressed.
initrd () {
    local f=$1 v=$2; shift 2
    newc "$work/i.cpio" scripts/ scripts/functions scripts/local conf/ conf/initramfs.conf lib/ lib/modules/ \
        "lib/modules/$v/" "lib/modules/$v/kernel/" "lib/modules/$v/kernel/ata_piix.ko" \
        "lib/modules/$v/modules.order" "$@"
    gzip -9n < "$work/i.cpio" > "$f"
}

# image DIR NAME: a raw disk, one bootable MBR partition, ext4 from DIR.
image () {
    rm -f "$2"; truncate -s 24M "$2"
    printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q --no-reread --no-tell-kernel "$2" > /dev/null
    mke2fs -q -F -t ext4 -U $U -E offset=1048576 -d "$1" "$2" 22528k
}

# case NAME TOOL EXPECT MATCH ARGS...: NAME.case for image NAME.img.
case_file () {
    local name=$1 tool=$2 expect=$3 match=$4 img=$5; shift 5
    {
        printf 'tool=%q\nargs=(' "$tool"; [ $# -eq 0 ] || printf '%q ' "$@"; printf ')\n'
        printf 'images=(%q)\nexpect=%q\nmatch=%q\n' "$img" "$expect" "$match"
    } > "$name.case"
}

# Each guest, with a dry run and a real img2pv run (same outcome).
both () {
    local name=$1 expect=$2 match=$3; shift 3
    case_file "$name-dry" img2pv "$expect" "$match" "$name.img" --dry-run --no-undo "$@"
    case_file "$name-real" img2pv "$expect" "$match" "$name.img" "$@"
}

# A module dependency that climbs out of the tree onto the canary (the
# guest holds the file, so reading it inside the guest succeeds).
g=$work/dep-dotdot; tree "$g" $V
echo "kernel/drivers/block/xen-blkfront.ko: ../../../../../../../..$C/pwned.ko" > "$g/lib/modules/$V/modules.dep"
mkdir -p "$g$C"; echo evil > "$g$C/pwned.ko"
image "$g" dep-dotdot.img
both dep-dotdot error 'modules\.dep: unsafe name for a host file ".*\.\./\.\./.*pwned\.ko": a "\.\." component'

# An absolute dependency.
g=$work/dep-abs; tree "$g" $V
echo "kernel/drivers/block/xen-blkfront.ko: $C/pwned.ko" > "$g/lib/modules/$V/modules.dep"
mkdir -p "$g$C"; echo evil > "$g$C/pwned.ko"
image "$g" dep-abs.img
both dep-abs error 'modules\.dep: unsafe name for a host file ".*pwned\.ko": an absolute path'

# The driver itself named through `..`.
g=$work/dep-self; tree "$g" $V
echo "kernel/../../../../../../../..$C/xen-blkfront.ko:" > "$g/lib/modules/$V/modules.dep"
mkdir -p "$g$C"; echo evil > "$g$C/xen-blkfront.ko"
image "$g" dep-self.img
both dep-self error 'modules\.dep: unsafe name for a host file .*a "\.\." component'

# A control byte (ESC) in a dependency's name.
g=$work/dep-esc; tree "$g" $V
printf 'kernel/drivers/block/xen-blkfront.ko: kernel/a\033[2Jb.ko\n' > "$g/lib/modules/$V/modules.dep"
printf 'x' > "$g/lib/modules/$V/kernel/a"$'\033'"[2Jb.ko"
image "$g" dep-esc.img
both dep-esc error 'unsafe name for a host file "kernel/a\\x1b\[2Jb\.ko": a control byte'

# Initrd members under the module tree that climb out, or are absolute.
# Initrd members under the module tree that climb out, or are absolute:
# not the kernel's view of the module tree, so never staged (a safe
# success); one with a control byte is, and is refused.
g=$work/initrd-dotdot; tree "$g" $V
initrd "$g/boot/initrd.img-$V" $V "lib/modules/$V/../../../../../../..$C/pwned.ko"
image "$g" initrd-dotdot.img
both initrd-dotdot ok ''

g=$work/initrd-abs; tree "$g" $V
initrd "$g/boot/initrd.img-$V" $V "lib/modules/$V//$C/pwned.ko" "../../x.ko" "/x.ko" "/$C/pwned.ko"
image "$g" initrd-abs.img
both initrd-abs ok ''

g=$work/initrd-esc; tree "$g" $V
initrd "$g/boot/initrd.img-$V" $V "lib/modules/$V/kernel/a"$'\033'"[2Jb.ko"
image "$g" initrd-esc.img
both initrd-esc error 'initrd /boot/initrd\.img-[^:]*: unsafe name for a host file "lib/modules/[^"]*/kernel/a\\x1b\[2Jb\.ko": a control byte'

# Kernel versions that are not one safe path component (and a depmod
# argument): `..`, an option, a control byte, a `%2f`.
for kv in dotdot:.. opt:--help esc:6.1.0$'\033'c pct:..%2f..%2f; do
    n=${kv%%:*}; v=${kv#*:}
    g=$work/kver-$n; tree "$g" "$v"
    image "$g" "kver-$n.img"
    both "kver-$n" error 'kernel: unsafe kernel version|no kernel'
done

# /lib/modules/VER a symlink to the guest's / : resolved inside the guest,
# the staging tree is built from checked names only: a safe success.
g=$work/kver-link; tree "$g" $V
mv "$g/lib/modules/$V"/* "$g/"; rmdir "$g/lib/modules/$V"; ln -s / "$g/lib/modules/$V"
image "$g" kver-link.img
both kver-link ok ''

# Direct kernel: where the kernel is extracted, a symlink to the canary.
g=$work/extract-link; tree "$g" $V
image "$g" extract-link.img
ln -s "$C/secret" "extract-link.vmlinuz-$V"
case_file extract-link-real img2pv error 'extract-link\.vmlinuz-[^ ]* exists and is not a regular file; not replaced' \
    extract-link.img --extract-kernel
case_file extract-link-dry img2pv ok '' extract-link.img --dry-run --no-undo --extract-kernel

# img-ramify (copy and archive modes) over the hostile guests.
case_file ramify-dep-dotdot img-ramify ok '' dep-dotdot.img --dry-run --no-undo
case_file ramify-initrd-dotdot-archive img-ramify ok '' initrd-dotdot.img --dry-run --no-undo --archive

# The same through qemu-nbd (a qcow2 container): the private nbd socket
# directory is the only other host path a dry run makes.
qemu-img convert -O qcow2 dep-dotdot.img dep-dotdot-q.qcow2
case_file qcow2-dep-dotdot-dry img2pv error 'modules\.dep: unsafe name for a host file ".*pwned\.ko": a "\.\." component' \
    dep-dotdot-q.qcow2 --dry-run --no-undo
qemu-img convert -O qcow2 initrd-abs.img initrd-abs-q.qcow2
case_file qcow2-initrd-abs-dry img2pv ok '' initrd-abs-q.qcow2 --dry-run --no-undo
