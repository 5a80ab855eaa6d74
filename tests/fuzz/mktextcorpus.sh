#!/bin/bash
# Writes the seed corpus of tests/fuzz-text (tests/fuzz/text-corpus/TARGET/):
# real-looking files as Debian, RHEL and SUSE guests have them, and nasty
# ones (the shapes that broke or could break a parser: runs of separators,
# unterminated quotes, deep nesting, very long lines, NUL bytes, no final
# newline).  Crash inputs found by libFuzzer (crash-*) are kept beside them
# and are not touched here.
#   tests/fuzz/mktextcorpus.sh [OUTDIR]
set -eu
out=${1:-$(cd "$(dirname "$0")" && pwd)/text-corpus}
w() { mkdir -p "$out/$1"; printf '%b' "$3" > "$out/$1/$2"; }
rep() { local s=$1 n=$2 r; r=$(printf "%${n}s" ''); printf '%s' "${r// /$s}"; }

# --- grub2
w grub2 debian.cfg 'set default="0"\nif [ x"${feature_menuentry_id}" = xy ]; then\n  menuentry_id_option="--id"\nfi\nexport menuentry_id_option\nmenuentry '"'"'Debian GNU/Linux'"'"' --class debian --class gnu-linux $menuentry_id_option '"'"'gnulinux-simple-1234'"'"' {\n\tload_video\n\tinsmod ext2\n\tsearch --no-floppy --fs-uuid --set=root 0b1c2d3e-aaaa-bbbb-cccc-0123456789ab\n\techo\t'"'"'Loading Linux 6.1.0-28-amd64 ...'"'"'\n\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=0b1c2d3e-aaaa-bbbb-cccc-0123456789ab ro  quiet\n\tinitrd\t/boot/initrd.img-6.1.0-28-amd64\n}\nsubmenu '"'"'Advanced options for Debian GNU/Linux'"'"' $menuentry_id_option '"'"'gnulinux-advanced-1234'"'"' {\n\tmenuentry '"'"'Debian GNU/Linux, with Linux 6.1.0-28-amd64 (recovery mode)'"'"' --class debian {\n\t\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=/dev/sda1 ro single\n\t\tinitrd\t/boot/initrd.img-6.1.0-28-amd64\n\t}\n}\n'
w grub2 rhel.cfg 'set default="${saved_entry}"\nmenuentry "Red Hat Enterprise Linux Server (3.10.0-1160.el7.x86_64) 7.9" --unrestricted {\n  set root='"'"'hd0,msdos1'"'"'\n  linux16 /vmlinuz-3.10.0-1160.el7.x86_64 root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet LANG=en_US.UTF-8\n  initrd16 /initramfs-3.10.0-1160.el7.x86_64.img\n}\nmenuentry "x" { linux /k a "b c" \\"d; initrd /i1 /i2; }\n'
w grub2 semicolons.cfg "$(rep ';' 65536)"
w grub2 semicolons-16.cfg "$(rep ';' 16)"
w grub2 semicolons-lines.cfg "$(rep ';;;;;;;;\n' 64)"
w grub2 braces.cfg "$(rep 'menuentry x {' 40)\n$(rep '}' 40)"
w grub2 open-quote.cfg "menuentry 'unterminated {\n linux \"/k $(rep 'a' 3000)"
w grub2 mixed.cfg "$(rep '{};' 5000)\n$(rep ' ; ' 3000)\nset default=\nset default=99999999999999999999"
w grub2 default-at-end.cfg 'menuentry a { linux /k }\nset default='
w grub2 nul.cfg 'menuentry a\0b {\n linux /k\0x root=/dev/sda1\n}\n'
# --- grub-legacy
w grub-legacy rhel5.conf 'default=0\ntimeout=5\nsplashimage=(hd0,0)/grub/splash.xpm.gz\nhiddenmenu\ntitle Red Hat Enterprise Linux Server (2.6.18-164.el5)\n\troot (hd0,0)\n\tkernel /vmlinuz-2.6.18-164.el5 ro root=/dev/VolGroup00/LogVol00 rhgb quiet\n\tinitrd /initrd-2.6.18-164.el5.img\n'
w grub-legacy suse.lst '# Modified by YaST2.\ndefault 0\ngfxmenu (hd0,1)/boot/message\ntitle SUSE Linux Enterprise Server 11 SP4 - 3.0.101-63\n    root (hd0,1)\n    kernel /boot/vmlinuz-3.0.101-63-default root=/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2 resume=/dev/sda1 splash=silent crashkernel= showopts\n    initrd /boot/initrd-3.0.101-63-default\n'
w grub-legacy nasty.lst "default 99999999999999999999\ntitle\nkernel\ninitrd\n$(rep 'title x\n' 1100)kernel=$(rep '=' 2000)\n"
# --- bls
w bls fedora.conf 'title Fedora Linux (6.5.6-300.fc39.x86_64) 39 (Server Edition)\nversion 6.5.6-300.fc39.x86_64\nlinux /vmlinuz-6.5.6-300.fc39.x86_64\ninitrd /initramfs-6.5.6-300.fc39.x86_64.img\noptions root=UUID=1111-2222 ro rootflags=subvol=root\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class fedora\n'
w bls nasty.conf "linux\noptions $(rep 'x ' 20000)\ntitle \0\n#\n   \n$(rep 'k' 100)"
# --- extlinux
w extlinux extlinux.conf 'DEFAULT linux\nPROMPT 0\nTIMEOUT 50\nLABEL linux\n  MENU LABEL Debian GNU/Linux, kernel 6.1.0-28-amd64\n  LINUX /boot/vmlinuz-6.1.0-28-amd64\n  APPEND root=/dev/sda1 ro quiet\n  INITRD /boot/initrd.img-6.1.0-28-amd64\nlabel old\n  kernel vmlinuz\n  append initrd=initrd.img,extra.img root=/dev/sda2\n'
w extlinux nasty.conf "label\nmenu label\nmenu\nappend initrd=\nappend initrd=$(rep ',' 1000)\n$(rep 'LABEL a\n' 1100)"
# --- fstab
w fstab debian 'UUID=0b1c2d3e-aaaa-bbbb-cccc-0123456789ab /               ext4    errors=remount-ro 0       1\nUUID=1234-ABCD  /boot/efi       vfat    umask=0077      0       1\n/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n/swapfile none swap sw 0 0\n'
w fstab rhel '/dev/mapper/rhel-root   /                       xfs     defaults        0 0\nUUID=5a6b7c8d-0000-1111-2222-333344445555 /boot xfs defaults 0 0\n/dev/mapper/rhel-swap   swap                    swap    defaults        0 0\nLABEL=My\\040Data /mnt/my\\040data ext3 defaults 1 2'
w fstab suse '/dev/disk/by-id/ata-QEMU_HARDDISK_QM00001-part2 / ext3 acl,user_xattr 1 1\nproc /proc proc defaults 0 0\nsysfs /sys sysfs noauto 0 0\n/dev/sda1 swap swap defaults 0 0'
w fstab many-fields "$(rep 'f ' 30000)\n"
w fstab nasty "\\\\0\\\\00 \\\\000 \\\\377\\\\400 x\n/dev/sda1 / ext4 defaults 99999999999999999999 7\n\0 / x\n a"
# --- release (first byte picks the file: 0 os-release 2 redhat 6 SuSE 7 lsb 8 debian_version)
w release os-release '\000PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n'
w release os-release-sles '\001NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\nID="sles"\nID_LIKE="suse"\n'
w release redhat-release '\002Red Hat Enterprise Linux Server release 5.4 (Tikanga)\n'
w release centos-release '\003CentOS Linux release 7.9.2009 (Core)'
w release suse-release '\006SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n'
w release lsb-release '\007DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION="Ubuntu 22.04.3 LTS"\n'
w release debian_version '\001012.8\n'
w release nul-os-release '\000ID=deb\0ian\nNAME="\0"\nVERSION_ID='"'"'\n'
w release nasty-redhat "\002release $(rep '.' 5000) ($(rep '(' 100)"
w release nasty-suse "\006VERSION = \nPATCHLEVEL = $(rep ' ' 3000)"
# (first byte 5 system-release, 9 arch, 10 alpine, 11 gentoo, 12 rocky,
# 13 almalinux, 14 oracle; \0NNN so that a digit after it is not eaten)
w release arch-release '\0011'
w release alpine-release '\00123.18.4\n'
w release gentoo-release '\0013Gentoo Base System release 2.14\n'
w release rocky-release '\0014Rocky Linux release 9.3 (Blue Onyx)\n'
w release almalinux-release '\0015AlmaLinux release 9.3 (Shamrock Pampas Cat)\n'
w release oracle-release '\0016Oracle Linux Server release 7.9\n'
w release rhel4-update '\002Red Hat Enterprise Linux AS release 4 (Nahant Update 9)\n'
w release suse-unknown '\006SuSE-like 1.0\nVERSION = 1.0\n'
w release amazon-system-release '\0005Amazon Linux AMI release 2018.03\n'
w release flatcar-os-release '\000NAME="Flatcar Container Linux by Kinvolk"\nID=flatcar\nID_LIKE=coreos\nVERSION=3510.2.6\nVERSION_ID=3510.2.6\nPRETTY_NAME="Flatcar Container Linux by Kinvolk 3510.2.6 (Oklo)"\n'
w release quoted-os-release '\000ID=over\\ ridden\nID='"'"'opensuse-leap'"'"'\nVERSION_ID="15.5"\nPRETTY_NAME="openSUSE \\"Leap\\" 15.5 \\\\ \\$x"\n'
w release open-quote-os-release '\000ID=debian\nPRETTY_NAME="Debian\nVERSION_ID=12\nNAME='"'"'x\n'
w release long-os-release "\000ID=x\nPRETTY_NAME=\"$(rep 'A' 65536)\nVERSION_ID=$(rep '9' 4000).$(rep '\\\\' 3000)\n"
# --- modules.dep / modules.builtin
w modules-dep debian 'kernel/drivers/block/xen-blkfront.ko:\nkernel/drivers/net/xen-netfront.ko:\nkernel/fs/ext4/ext4.ko: kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko kernel/lib/crc16.ko\nkernel/fs/mbcache.ko:\nkernel/fs/jbd2/jbd2.ko:\nkernel/lib/crc16.ko:\n'
w modules-dep module-init-tools '/lib/modules/2.6.18-164.el5xen/kernel/drivers/xen/blkfront/xenblk.ko:\n/lib/modules/2.6.18-164.el5xen/kernel/fs/ext3/ext3.ko: /lib/modules/2.6.18-164.el5xen/kernel/fs/jbd/jbd.ko\n/lib/modules/2.6.18-164.el5xen/kernel/fs/jbd/jbd.ko:\n'
w modules-dep loop 'a.ko: b.ko\nb.ko: a.ko\next4.ko: ext4.ko\n'
w modules-dep nasty ":\n#\nx\n/lib/modules/\n/usr/lib/modules/:\n$(rep 'a.ko ' 3000)\n"
w modules-builtin debian 'kernel/drivers/block/virtio_blk.ko\nkernel/fs/ext4/ext4.ko\nkernel/drivers/net/xen-netfront.ko\n'
w modules-builtin nasty ".ko\n/\n\n$(rep '/' 2000).ko\0x"
# --- textconf: /etc/default/grub, /etc/sysconfig/kernel, dracut.conf.d, initramfs-tools modules
w textconf default-grub 'GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="console=ttyS0,115200n8"\n#GRUB_TERMINAL=console\n'
w textconf sysconfig-kernel '## Type:        string\nINITRD_MODULES="processor thermal ata_piix ata_generic piix ide_pci_generic fan jbd ext3 edd"\nDOMU_INITRD_MODULES="xennet xenblk"\n'
w textconf dracut-conf 'add_drivers+=" xen-blkfront xen-netfront "\nhostonly="no"\n'
w textconf initramfs-modules '# List of modules that you want to include in your initramfs.\nxen-blkfront\nxen_netfront mtu=1500\n  ext4\n'
w textconf nasty "ID=\nID='\nNAME=\"\nGRUB_CMDLINE_LINUX=\"$(rep '\\\\' 3000)\nSELINUX\n\0ID=x\n  VERSION = 1\r\n"
# --- udev-rules
w udev-rules 70-persistent-net '# This file was automatically generated by the /lib/udev/write_net_rules\n# PCI device 0x8086:0x100e (e1000)\nSUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:12:34:56", ATTR{dev_id}=="0x0", ATTR{type}=="1", KERNEL=="eth*", NAME="eth0"\n'
w udev-rules nasty 'ATTR{address}=="52:54:00:12:34:5"\nATTR{address}=="52:54:00:12:34:56x"\nATTR{address}=="5x:54:00:12:34:56"\nATTR{address}=="52:54:00:12:34:5\n"ATTR{address}=="'
# --- ifcfg
w ifcfg rhel 'DEVICE=eth0\nBOOTPROTO=dhcp\nHWADDR=52:54:00:AB:CD:EF\nONBOOT=yes\nTYPE=Ethernet\n'
w ifcfg suse "BOOTPROTO='dhcp'\nSTARTMODE='auto'\nHWADDR='52:54:00:ab:cd:ef'\n"
w ifcfg nasty 'HWADDR=\nHWADDR="52:54:00:12:34:5\nHWADDR=52:54:00:12:34:56:78\n HWADDR=52:54:00:12:34:56\nHWADDR=52:54:00:12:34:5"\nHWADDR'
# --- grubenv (the block, a NUL, a BLS line to expand with it)
w grubenv rhel '# GRUB Environment Block\nsaved_entry=0c5e-4.18.0-513.el8.x86_64\nkernelopts=root=/dev/mapper/rl-root ro crashkernel=auto resume=/dev/mapper/rl-swap rd.lvm.lv=rl/root rd.lvm.lv=rl/swap\nboot_success=0\n######\0options $kernelopts $tuned_params'
w grubenv nasty 'kernelopts=a\\\\b\\\\\nx=\n=y\nkernelopts=second\n\0$ ${ ${kernelopts $kernelopts} ${x} $9 ${'"$(rep 'k' 200)"'} $'"$(rep '$kernelopts' 1200)"
w grubenv long "kernelopts=x\0options $(rep 'y' 5000) \$kernelopts"
w grubenv no-line 'kernelopts=root=/dev/vda1 ro\nsaved_entry=x'
echo "seeds in $out: $(find "$out" -type f | wc -l)"
