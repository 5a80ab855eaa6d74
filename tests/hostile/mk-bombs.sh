#!/bin/bash
# Bounded resources: tiny ext4 guests whose /boot holds initrds that
# inflate past the budget (gzip, zstd, xz, lzma, bzip2, lz4 of zeros; a
# bomb split over several segments; a million tiny members), a /boot with
# many bomb kernels, a sparse 100 GiB /etc/os-release and grub.cfg.
# img-inspect must skip the initrd with one line and go on (exit 0);
# img2pv and img-ramify must stop with one line (exit 1), the image
# untouched; all within 512 MiB of RSS (tests/hostile.sh measures it).
set -euo pipefail
out=${1:?usage: mk-bombs.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
cd "$out"
V=6.1.0-9-amd64
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# skel DIR: a Debian-like root (initramfs-tools, GRUB 2, Xen PV drivers as
# modules) with kernel $V and no initrd yet.
skel () {
    local r=$1 m=$1/lib/modules/$V
    mkdir -p "$r/etc/initramfs-tools" "$r/usr/sbin" "$r/boot/grub" "$m/kernel/drivers/block" "$m/kernel/drivers/net"
    printf 'ID=debian\nVERSION_ID=12\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' > "$r/etc/os-release"
    printf '/dev/sda1 / ext4 defaults 0 1\n' > "$r/etc/fstab"
    echo 'MODULES=most' > "$r/etc/initramfs-tools/initramfs.conf"
    printf '#!/bin/sh\n' > "$r/usr/sbin/update-initramfs"; printf '#!/bin/sh\n' > "$r/usr/sbin/mkinitramfs"
    chmod 755 "$r/usr/sbin/update-initramfs" "$r/usr/sbin/mkinitramfs"
    echo blk > "$m/kernel/drivers/block/xen-blkfront.ko"
    echo net > "$m/kernel/drivers/net/xen-netfront.ko"
    printf 'kernel/drivers/block/xen-blkfront.ko:\nkernel/drivers/net/xen-netfront.ko:\n' > "$m/modules.dep"
    echo kernel > "$r/boot/vmlinuz-$V"
    printf 'menuentry "Debian" {\n\tlinux /boot/vmlinuz-%s root=/dev/sda1 ro\n\tinitrd /boot/initrd.img-%s\n}\n' "$V" "$V" \
        > "$r/boot/grub/grub.cfg"
}
# zeros_cpio MIB: a newc archive holding one file of MIB MiB of zeros.
zeros_cpio () {
    local d
    d=$(mktemp -d "$work/z.XXXXXX")
    truncate -s "$1M" "$d/zeros"
    (cd "$d" && echo zeros | cpio -o -H newc --quiet)
    rm -rf "$d"
}
# image NAME DIR: an ext4 image of DIR (sparse files stay sparse).
image () {
    truncate -s 256M "$1.img"
    mke2fs -q -F -t ext4 -d "$2" "$1.img"
}
# cases NAME WHAT: the three tools on NAME.img.
cases () {
    local name=$1 what=$2
    cat > "$name-inspect.case" <<EOC
tool=img-inspect
args=()
images=($name.img)
expect=ok
EOC
    for t in img2pv img-ramify; do
        cat > "$name-$t.case" <<EOC
tool=$t
args=(--dry-run)
images=($name.img)
expect=error
match='^$t: $name\\.img: /boot/initrd\\.img-$V: initrd: .*$what'
EOC
    done
}

# One stream of 300 MiB of zeros per format.
zeros_cpio 300 > "$work/bomb.cpio"
for c in gzip zstd xz lzma bzip2 lz4; do
    r=$work/$c; skel "$r"
    case $c in
    gzip) gzip -1 ;; zstd) zstd -q -1 ;; xz) xz -0 --check=crc32 ;; lzma) xz --format=lzma -0 ;;
    bzip2) bzip2 -1 ;; lz4) lz4 -q -l -1 ;;
    esac < "$work/bomb.cpio" > "$r/boot/initrd.img-$V"
    image "bomb-$c" "$r"
    cases "bomb-$c" 'inflates past 256 MiB'
done

# Nested: an uncompressed early archive, then three compressed segments
# of 100 MiB each -- none over the limit alone.
r=$work/nested; skel "$r"
zeros_cpio 100 | gzip -1 > "$work/seg.gz"
{ printf 'early\n' > "$work/early" && (cd "$work" && echo early | cpio -o -H newc --quiet)
  cat "$work/seg.gz" "$work/seg.gz" "$work/seg.gz"; } > "$r/boot/initrd.img-$V"
image bomb-nested "$r"
cases bomb-nested 'inflates past 256 MiB'

# A million tiny members: past the members budget.
r=$work/many; skel "$r"
python3 "$here/mkcpio-many.py" 1000000 | gzip -1 > "$r/boot/initrd.img-$V"
image bomb-members "$r"
cases bomb-members 'more than 262144 members'

# A /boot of 200 kernels, every initrd a bomb (hard links: one copy).
r=$work/kernels; skel "$r"
gzip -1 < "$work/bomb.cpio" > "$r/boot/initrd.img-$V"
for i in $(seq 100 299); do
    ln "$r/boot/initrd.img-$V" "$r/boot/initrd.img-6.1.0-$i-amd64"
    echo kernel > "$r/boot/vmlinuz-6.1.0-$i-amd64"
done
image bomb-kernels "$r"
cat > bomb-kernels-inspect.case <<EOC
tool=img-inspect
args=()
images=(bomb-kernels.img)
expect=ok
EOC

# Sparse giants where text is expected: /etc/os-release, grub.cfg and
# modules.dep of 100 GiB (never read whole).
r=$work/sparse; skel "$r"
zeros_cpio 1 | gzip -1 > "$r/boot/initrd.img-$V"
truncate -s 100G "$r/boot/grub/grub.cfg"
truncate -s 100G "$r/lib/modules/$V/modules.dep"
image sparse-text "$r"
cat > sparse-text-inspect.case <<EOC
tool=img-inspect
args=()
images=(sparse-text.img)
expect=ok
EOC
for t in img2pv img-ramify; do
    cat > "sparse-text-$t.case" <<EOC
tool=$t
args=(--dry-run)
images=(sparse-text.img)
expect=error
match='modules\.dep missing|no boot entry|larger than|past the budget'
EOC
done
r=$work/osrel; skel "$r"
zeros_cpio 1 | gzip -1 > "$r/boot/initrd.img-$V"
rm "$r/etc/os-release"; truncate -s 100G "$r/etc/os-release"
image sparse-osrelease "$r"
cat > sparse-osrelease-inspect.case <<EOC
tool=img-inspect
args=()
images=(sparse-osrelease.img)
expect=ok
EOC
