#!/bin/bash
# End to end: guests whose kernel arguments, OS name, hostname, MAC
# addresses and file names try to inject into what the tools write (the
# xl config, grub.cfg, the terminal).  The guests and runs are those of the
# hostile corpus builder tests/hostile/mk-inject.sh; here each result is
# checked with the real readers: libxlutil (tests/xl-read), grub-script-check,
# pygrub, and a byte scan of every report line.
. "$top_srcdir/tests/functions.sh"
requires_root; requires mke2fs; requires debugfs; requires sfdisk; requires cpio; requires grub-script-check
XLR=$top_builddir/tests/xl-read
[ -x "$XLR" ] || bail "tests/xl-read was not built: libxen-dev (libxlutil) is missing; run scripts/setup.sh"
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x "$PYGRUB" ] || bail "pygrub missing (xen-utils-4.17)"
cd "$TMP"
mkdir h && bash "$top_srcdir/tests/hostile/mk-inject.sh" h > /dev/null; ok $? "mk-inject.sh builds its corpus"
cd h
ctl=$(printf '[\001-\011\013-\037\177\233]')
for c in *.case; do
    n=${c%.case}
    unset tool args images expect match
    . "./$c"
    sum=$(imgsum "${images[0]}")
    "$top_builddir/src/$tool" "${args[@]}" "${images[@]}" > $n.out 2> $n.err; rc=$?
    if [ "$expect" = error ]; then
        is "$rc:$(wc -l < $n.err)" "1:1" "$n: exit 1, one error line"
        grep -Eq -- "$match" $n.err; ok $? "$n: the line names the image, the edit and the reason ($(head -c 160 $n.err))"
        is "$(imgsum "${images[0]}")" "$sum" "$n: image unchanged"
    else
        [ $rc -eq 0 ] || [ $rc -eq 3 ]; ok $? "$n: a safe success (exit $rc)"
        [ -s $n.err ] && sed 's/^/# /' $n.err | cat -v
    fi
    ! LC_ALL=C grep -q "$ctl" $n.out $n.err; ok $? "$n: no control byte in any report line"
done
# No report line was faked by a file name holding a newline.
is "$(grep -c '^--- a/etc/sysconfig/network-scripts/ifcfg-eth0' clean-dry.out)" 1 "the diff header of a file name with ESC and a newline is one line"
! grep -q '^\[boot-entry\] note: all good' clean-dry.out; ok $? "... and fakes no report line"
grep -qF 'ifcfg-eth0\x1b[2K\n[boot-entry]' clean-dry.out; ok $? "... its bytes shown as \\xNN and \\n"
# img-inspect: the OS name and hostname with escapes.
grep -q '^guest: Debian\\x1b\]0;pwned\\x07\\x1b\[2J GNU/Linux 12' inspect.out; ok $? "img-inspect: the OS name's escapes shown as \\xNN"
grep -q 'hostname host\\x1b\[31m' inspect.out; ok $? "img-inspect: the hostname's escapes shown as \\xNN"

# The xl configs libxlutil reads: the keys we wrote and no other.
$XLR clean2.cfg s:name s:bootloader l:disk l:vif a:bootloader_args a:extra a:kernel a:cmdline > clean2.xl 2>&1
ok $? "pygrub config: libxlutil reads it; no bootloader_args, extra, kernel, cmdline"
is "$(sed -n 's/^vif //p' clean2.xl)" "1 $(printf 'bridge=xenbr0' | od -An -tx1 | tr -d ' \n')" \
   "pygrub config: one vif, the hostile guest MAC left out"
$XLR clean3.cfg s:kernel s:ramdisk s:cmdline a:bootloader a:bootloader_args a:extra > clean3.xl 2>&1
ok $? "direct-kernel config: libxlutil reads it; no bootloader, bootloader_args, extra"
want=$(printf 'root=UUID=1e1e1e1e-0000-4000-8000-000000000001 ro quiet console=hvc0' | od -An -tx1 | tr -d ' \n')
is "$(sed -n 's/^cmdline //p' clean3.xl)" "$want" "direct-kernel config: cmdline read back as the checked arguments"
# grub.cfg as written: GRUB 2 parses it, pygrub boots our entry with the arguments.
debugfs -R "cat /boot/grub/grub.cfg" "clean2.img?offset=1048576" 2>/dev/null > grub.cfg
grub-script-check grub.cfg; ok $? "grub.cfg written: grub-script-check accepts it"
grep -q "^menuentry 'Debian?\]0;pwned??\[2J GNU/Linux 12, Xen PV, Linux 6.1.0-50-amd64'" grub.cfg
ok $? "grub.cfg: the title's control bytes dropped, single-quoted"
timeout 60 "$PYGRUB" -l clean2.img 2>/dev/null | grep -m3 '^title:\|^  kernel:\|^  args:' > pg.out
is "$(sed -n 2,3p pg.out | tr '\n' '|')" \
   "  kernel: /boot/vmlinuz-6.1.0-50-amd64|  args: root=UUID=1e1e1e1e-0000-4000-8000-000000000001 ro quiet console=hvc0|" \
   "pygrub boots the PV entry with the arguments as written"

# The admin's values: --mac and --bridge are checked too.
cp clean.img m.img
"$top_builddir/src/img2pv" --no-undo --mac 00:16:3E:aa:bb:cc --bridge br-lan.1 --xl-config m.cfg m.img > /dev/null 2>&1; ok $? "--mac, --bridge: converted"
is "$($XLR m.cfg l:vif | cut -d' ' -f3 | xxd -r -p)" "bridge=br-lan.1, mac=00:16:3E:aa:bb:cc" "--mac, --bridge: in the vif spec"
for b in 'br0,script=/bin/sh' "br0'" 'br 0' 'abcdefghijklmnopq' ''; do
    "$top_builddir/src/img2pv" --dry-run --bridge "$b" m.img > /dev/null 2> b.err; rc=$?
    is "$rc:$(wc -l < b.err)" "2:1" "--bridge '$b' refused (usage, one line)"
done
"$top_builddir/src/img2pv" --dry-run --mac '00:11:22:33:44:55", bootloader="x' m.img > /dev/null 2> b.err; rc=$?
is "$rc:$(wc -l < b.err)" "2:1" "--mac with a tail refused"
done_testing
