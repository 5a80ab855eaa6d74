#!/bin/bash
# Inspection beyond Debian: the release files as the distributions ship
# them (os-release with shell quoting, arch-release, SuSE-release,
# alpine-release, gentoo-release, the RHEL clones' files, Amazon's
# system-release, lsb-release) named the way virt-inspector names them; a
# CoreOS/Flatcar-like guest (no fstab, /usr on the USR-A partition,
# /etc/os-release a link into it); the ntfs, iso9660 and squashfs
# signatures made by mkntfs, xorriso and mksquashfs, checked against
# blkid -p on the same bytes; hostile release files and truncated
# signatures.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires sfdisk; requires mke2fs; requires blkid
requires mkntfs; requires xorriso; requires mksquashfs

cd "$TMP"

# mkguest DIR IMAGE: one ext4 partition (at 1 MiB) holding DIR.
mkguest () {
    new_image "$2" 24M
    printf 'label: dos\nstart=2048, type=83\n' | partition "$2"
    mke2fs -q -F -t ext4 -L root -E offset=1048576 -d "$1" "$2" 20000k
}
# etc DIR FILE TEXT: writes DIR/etc/FILE (printf %b).
etc () { mkdir -p "$1/etc"; printf '%b' "$3" > "$1/etc/$2"; }
fstab='# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=root / ext4 defaults 0 1\n'

# name|expected "distro major minor id source hostname"
cases=(
  "arch|archlinux null null arch /etc/arch-release archbox"
  "alpine|alpinelinux 3 18 alpine /etc/alpine-release alpine318"
  "gentoo|gentoo 2 14 gentoo /etc/gentoo-release null"
  "sles11|sles 11 4 sles /etc/SuSE-release sles11.example.com"
  "opensuse13|opensuse 13 2 opensuse /etc/SuSE-release null"
  "centos7|centos 7 9 centos /etc/os-release centos7"
  "rhel6|rhel 6 10 rhel /etc/redhat-release rhel6.example.com"
  "rhel4|rhel 4 9 rhel /etc/redhat-release null"
  "suse10|opensuse 10 0 opensuse /etc/SuSE-release null"
  "oracle7|oraclelinux 7 9 ol /etc/oracle-release null"
  "rocky9|rocky 9 3 rocky /etc/os-release null"
  "alma9|almalinux 9 3 almalinux /etc/os-release null"
  "amazon2018|amzn 2018 3 amzn /etc/system-release null"
  "ubuntu|ubuntu 22 4 ubuntu /etc/lsb-release null"
  "debian|debian 12 5 debian /etc/os-release deb12"
  "fedora39|fedora 39 0 fedora /usr/lib/os-release null"
)
plan $((3 * ${#cases[@]} + 47))

d=arch; etc $d arch-release ''; etc $d fstab "$fstab"; etc $d hostname 'archbox\n'
d=alpine; etc $d alpine-release '3.18.4\n'; etc $d fstab "$fstab"; etc $d hostname 'alpine318\n'
d=gentoo; etc $d gentoo-release 'Gentoo Base System release 2.14\n'; etc $d fstab "$fstab"
d=sles11; etc $d SuSE-release 'SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n'
etc $d HOSTNAME 'sles11.example.com\n'; etc $d fstab "$fstab"
d=opensuse13; etc $d SuSE-release 'openSUSE 13.2 (x86_64)\nVERSION = 13.2\nCODENAME = Harlequin\n# /etc/SuSE-release is deprecated and will be removed in a future service pack or release.\n'
etc $d fstab "$fstab"
# CentOS 7: os-release says "7"; centos-release has the minor version.
d=centos7
etc $d os-release 'NAME="CentOS Linux"\nVERSION="7 (Core)"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\nPRETTY_NAME="CentOS Linux 7 (Core)"\nANSI_COLOR="0;31"\nCPE_NAME="cpe:/o:centos:centos:7"\n'
etc $d centos-release 'CentOS Linux release 7.9.2009 (Core)\n'; etc $d redhat-release 'CentOS Linux release 7.9.2009 (Core)\n'
etc $d hostname 'centos7\n'; etc $d fstab "$fstab"
d=rhel6; etc $d redhat-release 'Red Hat Enterprise Linux Server release 6.10 (Santiago)\n'
mkdir -p $d/etc/sysconfig; etc $d sysconfig/network 'NETWORKING=yes\nHOSTNAME=rhel6.example.com\n'
etc $d fstab "$fstab"
d=rhel4; etc $d redhat-release 'Red Hat Enterprise Linux AS release 4 (Nahant Update 9)\n'; etc $d fstab "$fstab"
d=suse10; etc $d SuSE-release 'SUSE LINUX 10.0 (X86-64) OSS\nVERSION = 10.0\n'; etc $d fstab "$fstab"
# Oracle Linux 7 ships a redhat-release that says Red Hat.
d=oracle7; etc $d oracle-release 'Oracle Linux Server release 7.9\n'
etc $d redhat-release 'Red Hat Enterprise Linux Server release 7.9 (Maipo)\n'; etc $d fstab "$fstab"
d=rocky9
etc $d os-release 'NAME="Rocky Linux"\nVERSION="9.3 (Blue Onyx)"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPLATFORM_ID="platform:el9"\nPRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"\n'
etc $d rocky-release 'Rocky Linux release 9.3 (Blue Onyx)\n'; etc $d redhat-release 'Rocky Linux release 9.3 (Blue Onyx)\n'; etc $d fstab "$fstab"
d=alma9
etc $d os-release 'NAME="AlmaLinux"\nVERSION="9.3 (Shamrock Pampas Cat)"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="AlmaLinux 9.3 (Shamrock Pampas Cat)"\n'
etc $d almalinux-release 'AlmaLinux release 9.3 (Shamrock Pampas Cat)\n'; etc $d fstab "$fstab"
d=amazon2018; etc $d system-release 'Amazon Linux AMI release 2018.03\n'; etc $d fstab "$fstab"
d=ubuntu; etc $d lsb-release 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION="Ubuntu 22.04.3 LTS"\n'
etc $d debian_version 'bookworm/sid\n'; etc $d fstab "$fstab"
d=debian
etc $d os-release 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
etc $d debian_version '12.5\n'; etc $d hostname 'deb12\n'; etc $d fstab "$fstab"
d=fedora39; mkdir -p $d/usr/lib; etc $d fstab "$fstab"
printf 'NAME="Fedora Linux"\nVERSION="39 (Thirty Nine)"\nID=fedora\nVERSION_ID=39\nPRETTY_NAME="Fedora Linux 39 (Thirty Nine)"\n' > $d/usr/lib/os-release

for c in "${cases[@]}"; do
    d=${c%%|*}; want=${c#*|}
    mkguest $d $d.img
    img-inspect --json $d.img > $d.json 2> $d.err; ok $? "$d: inspected"
    is "$(jq -r '.guest.os | "\(.distro) \(.major_version) \(.minor_version) \(.id) \(.source)"' $d.json) $(jq -r .guest.hostname $d.json)" \
       "$want" "$d: distro, version, id, source, hostname"
    img-inspect $d.img > $d.txt 2>&1; ok $? "$d: text report"
done
grep -q '^guest: Arch Linux (id arch, version -, distro archlinux), ' arch.txt; ok $? "arch: text line names the distro"
grep -q '^guest: Debian GNU/Linux 12 (bookworm) (id debian, version 12, bookworm), ' debian.txt
ok $? "debian: text line as before"

# ---- CoreOS/Flatcar: no fstab, /usr on the USR-A partition --------------
mkdir -p fc-root/etc fc-root/usr fc-usr/lib fc-usr/bin fc-usr/share/flatcar
ln -s ../usr/lib/os-release fc-root/etc/os-release
ln -s usr/bin fc-root/bin                       # as Flatcar has it
cp "$(command -v dash || command -v bash)" fc-usr/bin/sh
echo flatcar-node > fc-root/etc/hostname
printf 'NAME="Flatcar Container Linux by Kinvolk"\nID=flatcar\nID_LIKE=coreos\nVERSION=3510.2.6\nVERSION_ID=3510.2.6\nBUILD_ID=2023-08-07-1638\nSYSEXT_LEVEL=1.0\nPRETTY_NAME="Flatcar Container Linux by Kinvolk 3510.2.6 (Oklo)"\nANSI_COLOR="38;5;75"\nHOME_URL="https://flatcar.org/"\n' > fc-usr/lib/os-release
echo '#!/bin/sh' > fc-usr/bin/true
new_image fc.img 80M
printf 'label: gpt\nstart=2048, size=16M, name="ROOT"\nsize=24M, name="USR-A", attrs="GUID:48,56"\nsize=24M, name="USR-B"\n' | partition fc.img
mk_ext fc.img "$(part_start fc.img 1)" "$(part_size fc.img 1)" ext4 aaaaaaaa-0000-4000-8000-0000000000f1 ROOT fc-root
mk_ext fc.img "$(part_start fc.img 2)" "$(part_size fc.img 2)" ext2 aaaaaaaa-0000-4000-8000-0000000000f2 USR-A fc-usr
img-inspect --json fc.img > fc.json; ok $? "flatcar: inspected"
is "$(jq -r '.guest.os | "\(.id) \(.distro) \(.major_version).\(.minor_version) \(.version_id) \(.source)"' fc.json)" \
   "flatcar flatcar 3510.2 3510.2.6 /etc/os-release" "flatcar: os-release followed across the mount into /usr"
is "$(jq -r '.guest.mounts[] | "\(.mountpoint) \(.device) \(.spec) \(.vfstype) \(.mounted)"' fc.json | sort | tr '\n' ';')" \
   "/ fc.img:p1 null ext4 true;/usr fc.img:p2 PARTLABEL=USR-A ext2 true;" "flatcar: the mount map has /usr on USR-A"
is "$(jq -r .guest.hostname fc.json)" flatcar-node "flatcar: hostname"
is "$(jq -r .guest.arch fc.json)" "$(uname -m)" "flatcar: arch from /bin/sh through /bin -> usr/bin and the /usr mount"
is "$("$top_builddir/tests/guest-tool" fc.img -- realpath /etc/os-release)" /usr/lib/os-release \
   "flatcar: /etc/os-release resolves into the /usr mount"
usr_sum () { dd if=fc.img bs=512 skip=$(($(part_start fc.img 2) / 512)) count=$(($(part_size fc.img 2) / 512)) status=none | md5sum; }
before=$(usr_sum)
echo changed | "$top_builddir/tests/guest-tool" --rw fc.img -- write /usr/lib/os-release >/dev/null 2>fc-w.err
ok $((! $?)) "flatcar: a write into /usr is refused (dm-verity would break)"
grep -q 'fc.img:p2: ext2: .*opened read-only' fc-w.err; ok $? "flatcar: one line says why ($(head -c 120 fc-w.err))"
is "$(usr_sum)" "$before" "flatcar: USR-A unchanged"
echo node2 | "$top_builddir/tests/guest-tool" --rw fc.img -- write /etc/hostname >/dev/null; ok $? "flatcar: the root stays writable"
# The same /usr tree on USR-B with a higher GPT priority wins over USR-A.
mk_ext fc.img "$(part_start fc.img 3)" "$(part_size fc.img 3)" ext2 aaaaaaaa-0000-4000-8000-0000000000f3 USR-B fc-usr
sfdisk -q --no-reread --no-tell-kernel --part-attrs fc.img 3 "GUID:49,56" 2>/dev/null
img-inspect --json fc.img > fc2.json; ok $? "flatcar A/B: inspected"
is "$(jq -r '.guest.mounts[] | select(.mountpoint == "/usr") | .device' fc2.json)" fc.img:p3 \
   "flatcar A/B: the higher-priority slot (USR-B, priority 2) is /usr"
# A guest whose root has its own /usr is left alone even beside a /usr tree.
mkdir -p own/etc own/usr/lib; cp fc-usr/lib/os-release own/usr/lib/; printf '%b' "$fstab" > own/etc/fstab
new_image own.img 64M
printf 'label: gpt\nstart=2048, size=24M\nsize=24M, name="USR-A"\n' | partition own.img
mk_ext own.img "$(part_start own.img 1)" "$(part_size own.img 1)" ext4 aaaaaaaa-0000-4000-8000-0000000000e1 root own
mk_ext own.img "$(part_start own.img 2)" "$(part_size own.img 2)" ext2 aaaaaaaa-0000-4000-8000-0000000000e2 USR-A fc-usr
img-inspect --json own.img > own.json; ok $? "root with its own /usr: inspected"
is "$(jq -r '[.guest.mounts[].mountpoint] | join(",")' own.json)" "/" "root with its own /usr: no /usr mount added"

# ---- ntfs, iso9660, squashfs against blkid -p ---------------------------
truncate -s 8M ntfs.fs
mkntfs -q -F -Q -L 'Win Data' -s 512 -p 2048 -H 255 -S 63 ntfs.fs >/dev/null 2>&1; ok $? "mkntfs"
mkdir -p iso/boot; echo hello > iso/boot/readme.txt
xorriso -as mkisofs -quiet -V DISTROS_ISO -o iso.fs iso 2>/dev/null; ok $? "xorriso"
mksquashfs iso sq.fs -quiet -noappend >/dev/null; ok $? "mksquashfs"
isosize=$(stat -c %s iso.fs); sqsize=$(stat -c %s sq.fs)
new_image media.img 64M
printf 'label: dos\nstart=2048, size=16384, type=7\nsize=16384, type=83\nsize=16384, type=83\nsize=16384, type=7\n' | partition media.img
p1=$(part_start media.img 1); p2=$(part_start media.img 2); p3=$(part_start media.img 3); p4=$(part_start media.img 4)
dd if=ntfs.fs of=media.img bs=512 seek=$((p1 / 512)) conv=notrunc status=none
dd if=iso.fs of=media.img bs=512 seek=$((p2 / 512)) conv=notrunc status=none
dd if=sq.fs of=media.img bs=512 seek=$((p3 / 512)) conv=notrunc status=none
# Partition 4: an ntfs boot sector whose MFT is not there (truncated copy).
dd if=ntfs.fs of=media.img bs=512 seek=$((p4 / 512)) count=16 conv=notrunc status=none
# Signatures are the subject: NTFS is not read (tests/windows.sh reads it).
img-inspect --backend native --json media.img > media.json 2> media.err; ok $? "media: inspected"
bl () { blkid -p -O "$1" -o export media.img | grep -E '^(TYPE|UUID|LABEL)=' | sed 's/\\ / /g' | sort | tr '\n' ' '; }
mine () { jq -r ".images[0].partitions[$1].filesystem | [\"LABEL=\(.label)\", \"TYPE=\(.type)\", \"UUID=\(.uuid)\"] | map(select(test(\"=(null)?$\") | not)) | join(\" \")" media.json; }
for n in 1 2 3; do
    off=$(part_start media.img $n)
    want=$(bl "$off"); want=${want% }
    [ -n "$want" ] || bail "blkid sees nothing on partition $n"
    is "$(mine $((n - 1)))" "$want" "partition $n: type, UUID and label as blkid -p says ($want)"
done
is "$(jq -r '.images[0].partitions[0].filesystem.label' media.json)" "Win Data" "ntfs: label from the \$Volume record"
is "$(jq -r '.images[0].partitions[3].filesystem' media.json)" null "truncated ntfs: no signature claimed"
is "$(bl "$p4")" "" "truncated ntfs: blkid -p claims none either"
[ ! -s media.err ]; ok $? "media: nothing on stderr"
is "$(jq -r .guest media.json)" null "media: no guest claimed"
img-inspect --backend native media.img > media.txt 2>&1; ok $? "media: text report"
grep -Eq '^  1 +primary .* ntfs UUID=[0-9A-F]{16} LABEL="Win Data"$' media.txt; ok $? "text: ntfs partition shown, not \"-\""
grep -q '^media.img:p1: ntfs: not inspected (no native NTFS reader; a Windows system on it is not identified)$' media.txt
ok $? "text: NTFS said to be there and not inspected"
grep -Eq '^  2 .* iso9660 UUID=[0-9-]+ LABEL="DISTROS_ISO"$' media.txt; ok $? "text: iso9660 partition"
grep -Eq '^  3 .* squashfs$' media.txt; ok $? "text: squashfs partition"

# Joliet: its 16 UCS-2 characters merged with the primary descriptor's 32
# ASCII ones as blkid merges them (case from Joliet, tail from the
# primary, '_' for what ASCII cannot hold), or Joliet's alone when they
# disagree.  Identifiers patched into a real xorriso image.
xorriso -as mkisofs -quiet -J -V joliet -o j.iso iso 2>/dev/null; ok $? "xorriso -J"
setids () {
    python3 - "$@" <<'EOF'
import struct, sys
f, pvd_id, jol_id = sys.argv[1], sys.argv[2], sys.argv[3]
b = bytearray(open(f, "rb").read())
for i in range(16):
    o = 32768 + 2048 * i
    if b[o] == 1:
        b[o + 40:o + 72] = pvd_id.encode().ljust(32)
    elif b[o] == 2:
        b[o + 40:o + 72] = jol_id.encode("utf-16-be").ljust(32, b"\0")[:32]
    elif b[o] == 255:
        break
open(f, "wb").write(b)
EOF
}
for ids in "WINDOWS_10_INSTALL_MEDIA_X64_FRE|Windows 10 Insta" "DIFFERENT|Other Name" "CAF__LATTE|Café 😀tte" "CAF__LATTE_AU_LAIT|Café latte au l"; do
    cp j.iso j2.iso; setids j2.iso "${ids%|*}" "$(printf '%b' "${ids#*|}")"
    want=$(blkid -p -o value -s LABEL j2.iso)
    is "$(img-inspect --json j2.iso | jq -r '.images[0].filesystem.label')" "$want" "joliet ${ids%|*}: label as blkid -p says ($want)"
done

# ---- hostile release files ----------------------------------------------
d=hostile; mkdir -p $d/etc
{ printf 'ID=debian\nPRETTY_NAME="'; head -c $((1024 * 1024)) /dev/zero | tr '\0' A; printf '\n'; } > $d/etc/os-release
printf '12.7\n' > $d/etc/debian_version; printf '%b' "$fstab" > $d/etc/fstab
mkguest $d $d.img
img-inspect --json $d.img > $d.json 2> $d.err; ok $? "1 MB os-release line: inspected"
is "$(jq -r '.guest.os | "\(.distro) \(.major_version) \(.minor_version) \(.source)"' $d.json)" \
   "debian 12 7 /etc/debian_version" "1 MB os-release: skipped (too large), debian_version used"
d=hostile2; mkdir -p $d/etc
printf 'ID="debian\nPRETTY_NAME="\033[2J\\"x"\nVERSION_ID=\x27unterminated\nNAME=a\0b\nID_LIKE=ok\n' > $d/etc/os-release
printf '%b' "$fstab" > $d/etc/fstab
mkguest $d $d.img
img-inspect --json $d.img > $d.json 2> $d.err; ok $? "NUL, escape and open quotes: inspected"
jq -e . $d.json >/dev/null; ok $? "NUL, escape and open quotes: valid JSON"
is "$(jq -c '.guest.os | [.id, .name, .pretty_name, .version_id, .id_like, .distro, .source]' $d.json)" \
   '[null,"a","\u001b[2J\"x",null,null,null,"/etc/os-release"]' "open quotes dropped, escapes undone, a NUL ends the text"
img-inspect $d.img > $d.txt 2>&1; ok $? "hostile: text report"
# A link loop, a directory and a link climbing out of the guest where
# release files should be: skipped, or resolved inside the guest.
d=hostile3; mkdir -p $d/etc/redhat-release
ln -s os-release $d/etc/os-release
ln -s ../../../../../../etc/version $d/etc/debian_version
printf '11.9\n' > $d/etc/version; printf '%b' "$fstab" > $d/etc/fstab
mkguest $d $d.img
img-inspect --json $d.img > $d.json 2> $d.err; ok $? "link loop, directory, climbing link: inspected"
is "$(jq -r '.guest.os | "\(.distro) \(.major_version) \(.minor_version) \(.source)"' $d.json)" \
   "debian 11 9 /etc/debian_version" "the loop and the directory skipped, the climbing link stays in the guest"
! grep -q $'\033' $d.txt; ok $? "hostile: no raw escape byte on the terminal"
done_testing
