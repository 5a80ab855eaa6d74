#!/bin/bash
# Replays the text-parser corpus (tests/fuzz/text-corpus/TARGET/, seeds from
# tests/fuzz/mktextcorpus.sh, crash-* inputs kept from libFuzzer runs: see
# tests/fuzz/README) through tests/fuzz-text, one target per directory.
# Every file must run to the end: exit 0, nothing on stderr (no sanitizer
# report, no broken invariant), one summary line.  Some seeds must also give
# the result they were made for, so that a replay that quietly stopped
# parsing would not pass.
. "$top_srcdir/tests/functions.sh"

REPLAY=${FUZZ_TEXT:-$top_builddir/tests/fuzz-text}
[ -x "$REPLAY" ] || bail "tests/fuzz-text is not built"

CORPUS=$top_srcdir/tests/fuzz/text-corpus
TARGETS=(grub2 grub-legacy bls extlinux fstab release modules-dep modules-builtin textconf udev-rules ifcfg grubenv)

# TARGET/seed -> what its summary line must contain (ERE).
declare -A EXPECT=(
    [grub2/debian.cfg]=': 2 entries, default 0; Debian GNU/Linux=/boot/vmlinuz-6.1.0-28-amd64; Debian GNU/Linux, with Linux 6.1.0-28-amd64 \(recovery mode\)='
    [grub2/rhel.cfg]=': 2 entries, default -1; Red Hat .*=/vmlinuz-3.10.0-1160.el7.x86_64; x=/k$'
    [grub2/semicolons.cfg]=': 0 entries, default -1$'
    [grub2/semicolons-16.cfg]=': 0 entries, default -1$'
    [grub2/braces.cfg]='bootloader: line 1: blocks nested too deep'
    [grub2/default-at-end.cfg]=': 1 entries, default -1; a=/k$'
    [grub2/open-quote.cfg]=': 0 entries'
    [grub-legacy/rhel5.conf]=': 1 entries, default 0; Red Hat Enterprise Linux Server \(2.6.18-164.el5\)=/vmlinuz-2.6.18-164.el5$'
    [grub-legacy/suse.lst]=': 1 entries, default 0; SUSE .*=/boot/vmlinuz-3.0.101-63-default$'
    [grub-legacy/nasty.lst]='more than 1024 entries'
    [bls/fedora.conf]=': 1 entries, default -1; Fedora Linux .*=/vmlinuz-6.5.6-300.fc39.x86_64$'
    [extlinux/extlinux.conf]=': 2 entries, default -1; Debian GNU/Linux, kernel 6.1.0-28-amd64=/boot/vmlinuz-6.1.0-28-amd64; old=vmlinuz$'
    [fstab/debian]=': 4 entries; UUID=0b1c2d3e-aaaa-bbbb-cccc-0123456789ab / ext4; '
    [fstab/rhel]='; LABEL=My Data /mnt/my data ext3$'
    [fstab/many-fields]=': 1 entries; f f f$'
    [release/os-release]=': /etc/os-release: ok id=debian version=12 name=Debian GNU/Linux 12 \(bookworm\) distro=debian 12.0$'
    [release/redhat-release]=': /etc/redhat-release: ok id=rhel version=5.4 '
    [release/suse-release]=': /etc/SuSE-release: ok id=sles version=11.4 '
    [release/lsb-release]=': /etc/lsb-release: ok id=ubuntu version=22.04 '
    [release/debian_version]=': /etc/debian_version: ok id=debian version=12.8 '
    [release/nul-os-release]=': /etc/os-release: ok id=deb version=- name=- distro=deb -1.-1$'
    [release/centos-release]=': /etc/centos-release: ok id=centos version=7.9.2009 name=CentOS Linux release 7.9.2009 \(Core\) distro=centos 7.9$'
    [release/suse-release]=' distro=sles 11.4$'
    [release/arch-release]=': /etc/arch-release: ok id=arch version=- name=- distro=archlinux -1.-1$'
    [release/alpine-release]=': /etc/alpine-release: ok id=alpine version=3.18.4 name=- distro=alpinelinux 3.18$'
    [release/gentoo-release]=': /etc/gentoo-release: ok id=gentoo version=2.14 name=Gentoo Base System release 2.14 distro=gentoo 2.14$'
    [release/rocky-release]=': /etc/rocky-release: ok id=rocky version=9.3 name=Rocky Linux release 9.3 \(Blue Onyx\) distro=rocky 9.3$'
    [release/almalinux-release]=': /etc/almalinux-release: ok id=almalinux version=9.3 .* distro=almalinux 9.3$'
    [release/rhel4-update]=': /etc/redhat-release: ok id=rhel version=4 .* distro=rhel 4.9$'
    [release/suse-unknown]=': /etc/SuSE-release: ok id=- version=1.0 name=SuSE-like 1.0 distro=suse-based 1.0$'
    [release/oracle-release]=': /etc/oracle-release: ok id=ol version=7.9 name=Oracle Linux Server release 7.9 distro=oraclelinux 7.9$'
    [release/amazon-system-release]=': /etc/system-release: ok id=amzn version=2018.03 name=Amazon Linux AMI release 2018.03 distro=amzn 2018.3$'
    [release/flatcar-os-release]=': /etc/os-release: ok id=flatcar version=3510.2.6 name=Flatcar Container Linux by Kinvolk 3510.2.6 \(Oklo\) distro=flatcar 3510.2$'
    [release/quoted-os-release]=': /etc/os-release: ok id=opensuse-leap version=15.5 name=openSUSE "Leap" 15.5 \\ \$x distro=opensuse 15.5$'
    [release/open-quote-os-release]=': /etc/os-release: ok id=debian version=12 name=- distro=debian 12.0$'
    [release/long-os-release]=': /etc/os-release: ok id=x version=9+\.\\+ name=- distro=x -1\.-1$'
    [modules-dep/debian]=': 3 of 4 known$'
    [modules-dep/nasty]='modules.dep: line 1: not "module: dependencies"'
    [modules-builtin/debian]=': 4 of 4 known$'
    [textconf/default-grub]='GRUB_CMDLINE_LINUX=\[console=ttyS0,115200n8\] GRUB_CMDLINE_LINUX_DEFAULT=\[quiet\] GRUB_DEFAULT=\[0\] 3 keys$'
    [textconf/sysconfig-kernel]='INITRD_MODULES=\[processor .* edd\] 1 keys$'
    [textconf/initramfs-modules]='line xen-blkfront line xen_netfront line ext4 0 keys$'
    [udev-rules/70-persistent-net]=': mac 52:54:00:12:34:56$'
    [udev-rules/nasty]=': mac -$'
    [ifcfg/rhel]=': 1 hwaddr, 0 malformed; HWADDR=\[52:54:00:AB:CD:EF\] DEVICE=\[eth0\] 2 keys$'
    [ifcfg/nasty]=': 2 hwaddr, 3 malformed; '
    [grubenv/rhel]=': kernelopts=\[root=/dev/mapper/rl-root ro [^]]*\] expanded=\[options root=/dev/mapper/rl-root ro crashkernel=auto resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap\]$'
    [grubenv/nasty]=': kernelopts=\[a\\b\\\] expand: Argument list too long$'
    [grubenv/long]=': kernelopts=\[x\] expand: Argument list too long$'
    [grubenv/no-line]=': kernelopts=\[root=/dev/vda1 ro\] $'
)

shopt -s nullglob
n=0
for t in "${TARGETS[@]}"; do
    seeds=("$CORPUS/$t"/*)
    [ ${#seeds[@]} -ge 2 ] || bail "the seed corpus in $CORPUS/$t is missing"
    n=$((n + ${#seeds[@]}))
done
plan $((n + ${#EXPECT[@]}))

for t in "${TARGETS[@]}"; do
    for f in "$CORPUS/$t"/*; do
        key=$t/$(basename "$f")
        replay_ok "$key" "$f" "$REPLAY" "$t" "$f"
        want=${EXPECT[$key]:-}
        [ -z "$want" ] || like "$REPLAY_OUT" "$want" "$key: $want"
    done
done

done_testing
