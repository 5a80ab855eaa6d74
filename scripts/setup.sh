#!/bin/bash
# Install (as root, on Debian 12) everything img-tools needs to build and
# to run its whole test suite; with --sample, only what scripts/sample.sh
# needs (the build, the tools' run-time needs, and what lays out the
# sample image); with --tree, only debootstrap.  Idempotent: apt is only asked when a package is missing.
set -euo pipefail

sample=(
    # build
    build-essential autoconf automake libtool pkg-config
    libnbd-dev zlib1g-dev libext2fs-dev comerr-dev
    libzstd-dev liblzma-dev liblz4-dev libbz2-dev
    # build: guestfs.h only; libguestfs0 is loaded at run time when a guest
    # needs it (xfs, btrfs, LUKS), and the tests run it
    libguestfs-dev
    # run: non-raw images are served by qemu-nbd; img2pv indexes the
    # modules it adds to an initrd with the host's depmod
    qemu-utils kmod
    # sample.sh: lays out the sample image (sfdisk, mke2fs -d, mkswap and
    # losetup, lvm2, jq, cpio and gzip)
    fdisk e2fsprogs util-linux mount lvm2 jq cpio gzip
)
tests=(
    # tests: fixture builders and independent oracles
    fdisk parted gdisk lvm2 e2fsprogs xfsprogs btrfs-progs dosfstools
    cryptsetup-bin util-linux jq cpio file strace bc python3 procps
    # tests: tests/batch.sh reads the Kubernetes example's YAML
    python3-yaml
    zstd xz-utils lz4 bzip2 lzma attr acl libcap2-bin
    # tests: other filesystems' signatures made by their own tools
    ntfs-3g xorriso squashfs-tools
    # tests: dracut's lsinitrd reads the dracut initrds (gfs-bls.sh)
    dracut-core
    # tests: the --json reports checked against their JSON Schemas by an
    # independent validator (json-schema.sh)
    python3-jsonschema
    # tests: the hostile-image corpus measures peak RSS with GNU time
    time
    # tests: the real Debian 12 guests
    debootstrap qemu-system-x86 initramfs-tools-core
    # tests: md RAID fixtures are made by mdadm inside a libguestfs
    # appliance (the host kernel may have no md driver); the appliance
    # boots a kernel from /boot.  LUKS fixtures likewise (cryptsetup, no
    # device-mapper on the host), their xfs root needs the appliance's
    # xfs support
    libguestfs-tools linux-image-amd64 mdadm libguestfs-xfs
    # tests: Windows fixtures: registry hives made with hivexregedit
    # (the appliance reads them with hivex)
    libwin-hivex-perl
    # tests: Xen's own pygrub reads what img2pv wrote
    xen-utils-4.17
    # tests: the real parsers of what we write (libxlutil for xl configs,
    # grub-script-check for GRUB 2 fragments)
    libxen-dev grub-common
    # tests: libvirt's own schema checks the domain XML (virt-xml-validate)
    libvirt-clients
    # tests: tests/deb.sh builds the Debian packages (debian/) with
    # dpkg-buildpackage and checks them with lintian
    dpkg-dev debhelper dh-autoreconf fakeroot lintian
)

# build: ISA-L inflates gzip initrds 2-3 times faster than zlib; Debian
# packages it for amd64 only (configure falls back to zlib elsewhere)
[ "$(dpkg --print-architecture)" != amd64 ] || sample+=(libisal-dev)

case ${1-} in
    --sample) packages=("${sample[@]}") ;;
    # what tests/guests/debian-tree.sh needs, so that scripts/test.sh can
    # start the guests' debootstrap while apt installs the rest
    --tree) packages=(debootstrap) ;;
    '') packages=("${sample[@]}" "${tests[@]}") ;;
    *) echo "usage: setup.sh [--sample|--tree]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "setup.sh: run as root to install: ${missing[*]}" >&2; exit 1; }
    echo "setup.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # once: the package lists of a run a moment ago are good enough
    [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -30 -print -quit 2>/dev/null)" ] \
        || apt-get update -q >/dev/null
    # The kernel package is there for libguestfs's appliance, which boots
    # it with an initrd of its own (supermin's).  A machine that does not
    # boot from /boot itself (a VM or container started with a kernel of
    # the host's, as CI machines are) has no use for the initramfs-tools
    # initrd its postinst would build, nor for the rebuild the later
    # initramfs hooks (lvm2, mdadm, cryptsetup) trigger: minutes of
    # compression on a new machine.  INITRD=No is the kernel hooks' own
    # switch; with no initrd built, the trigger's update-initramfs -u
    # finds none to update.  A machine that boots a Debian kernel from
    # /boot gets its initrds as usual.
    if [ ! -e "/boot/vmlinuz-$(uname -r)" ]; then
        export INITRD=No
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
