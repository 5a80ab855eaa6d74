#!/bin/bash
# The boot-entry writers (src/libimg/convert/bootentry*.c) over hostile
# titles and arguments, for GRUB 2, GRUB legacy, BLS and extlinux: what
# they write is parsed by grub-script-check (GRUB 2) and read back by the
# library's own parser (text/bootcfg.c) as exactly what went in; what a
# language cannot carry is refused with one line.  Then placing blocks in
# a configuration (first, last, in place), idempotently, and defaults.
. "$top_srcdir/tests/functions.sh"
requires grub-script-check
T=$top_builddir/tests/bootentry-tool
cd "$TMP"

# ---- hostile titles: written, parsed back identical, or refused ---------------
cat > titles.fmt <<'EOS'
Debian GNU/Linux 12, root in RAM
a'b
it's "quoted"
$HOME ${x} $(id) `id`
semi;colon && rm -rf / #
brace} {brace
back\\slash
'\\''
menuentry 'x' { linux /evil }
utf8 \303\251\342\202\254
new\nline
esc\033[31mred
bad\377utf8
 leading blank
EOS
i=0
while IFS= read -r fmt; do
    printf "$fmt" > t.$i
    i=$((i + 1))
done < titles.fmt
N=$i
for kind in grub2 legacy bls extlinux; do
    for ((i = 0; i < N; i++)); do
        title=$(cat t.$i)
        if $T write $kind "$title" /vmlinuz-6.1 /initrd.img-6.1 "root=/dev/sda1 ro quiet" 0123-ABCD > e.$kind.$i 2> err; then
            if [ $kind = grub2 ]; then
                grub-script-check e.$kind.$i > /dev/null 2>&1; ok $? "$kind title #$i: grub-script-check accepts the entry"
            fi
            $T parse $kind e.$kind.$i > p 2>&1; ok $? "$kind title #$i: the library's parser reads it"
            got=$(head -1 p | cut -d'|' -f2-5)
            is "$got" "$title|/vmlinuz-6.1|/initrd.img-6.1|root=/dev/sda1 ro quiet" "$kind title #$i: read back as written"
        else
            is "$(wc -l < err) $(grep -c '^test: boot-entry: title ' err)" "1 1" "$kind title #$i: refused with one line"
        fi
    done
done
# What each language must refuse, and what it must carry.
for kind in grub2 legacy bls extlinux; do
    for i in 10 11 12; do
        [ -s e.$kind.$i ]; is $? 1 "$kind: title #$i (a newline, a control byte, invalid UTF-8) is refused"
    done
    [ -s e.$kind.3 ] && [ -s e.$kind.1 ]; ok $? "$kind: titles with \$, backquotes and quotes are carried"
done
[ -s e.legacy.13 ]; is $? 1 "legacy: a title with a leading blank is refused (the line would lose it)"

# ---- arguments: checked as a kernel command line -------------------------------
for kind in grub2 legacy bls extlinux; do
    $T write $kind T /vmlinuz /initrd "root=UUID=1234 ro  console=hvc0   quiet" > a.$kind 2>&1
    $T parse $kind a.$kind | head -1 | cut -d'|' -f5 > got
    is "$(cat got)" "root=UUID=1234 ro console=hvc0 quiet" "$kind: the arguments are normalised and read back"
    for bad in 'init=/bin/sh;id' 'x=$(id)' 'a`b`' 'x={y}'; do
        $T write $kind T /vmlinuz /initrd "root=/dev/sda1 $bad" > /dev/null 2> err
        is "$? $(wc -l < err) $(grep -c '^test: boot-entry: kernel argument ' err)" "1 1 1" "$kind: argument $bad refused with one line"
    done
    $T write $kind T "/vmlinuz with blank" /initrd "ro" > /dev/null 2> err
    is "$? $(wc -l < err)" "1 1" "$kind: a kernel path with a blank refused"
done
$T write grub2 T /vmlinuz /initrd ro "x' ; search --set=root" > u.cfg 2> err
grub-script-check u.cfg; ok $? "grub2: a hostile UUID: grub-script-check accepts the entry"
is "$($T parse grub2 u.cfg | head -1 | cut -d'|' -f6)" "x' ; search --set=root" "grub2: ... and it stays one word"
$T write grub2 T /vmlinuz /initrd ro "$(printf 'a\nb')" > /dev/null 2> err
is "$? $(grep -c '^test: boot-entry: filesystem UUID ' err)" "1 1" "grub2: a UUID with a newline refused with one line"
$T write grub2 T /vmlinuz /initrd ro 0123-ABCD > g.cfg
grep -q "search --no-floppy --fs-uuid --set=root 0123-ABCD" g.cfg; ok $? "grub2: /boot found by UUID"
$T parse grub2 g.cfg | head -1 | cut -d'|' -f1 > got
is "$(cat got)" "test-entry" "grub2: the menuentry id is read back"
$T write legacy T /vmlinuz /initrd ro "(hd0,0)" > l.cfg
is "$($T parse legacy l.cfg | head -1 | cut -d'|' -f6)" "(hd0,0)" "legacy: the root line is read back"
$T write extlinux T /vmlinuz "/a,b" ro > /dev/null 2>&1; is $? 1 "extlinux: an initrd with a comma refused (the INITRD list splits at it)"
$T write bls T /vmlinuz /initrd ro > b.conf
is "$(head -1 b.conf)" "# written by bootentry-tool" "bls: the comment line first"
grep -qx 'version 6.1.0-test' b.conf; ok $? "bls: the version line"

# ---- placing: GRUB 2 before the 10_linux section, idempotent ------------------
$T write grub2 "Ours" /vmlinuz /initrd.img ro 0123-ABCD > blk
cat > grub.cfg <<'EOF'
set default="0"
### BEGIN /etc/grub.d/00_header ###
insmod part_msdos
### END /etc/grub.d/00_header ###
### BEGIN /etc/grub.d/10_linux ###
menuentry 'Debian' --class debian $menuentry_id_option 'gnulinux-simple' {
	linux	/vmlinuz root=/dev/sda1 ro
	initrd	/initrd.img
}
### END /etc/grub.d/10_linux ###
EOF
$T place grub2 first - grub.cfg blk > g1 2> st; is "$(cat st)" changed "grub2 first: placed"
grub-script-check g1; ok $? "grub2 first: grub-script-check accepts the menu"
is "$($T parse grub2 g1 | head -1 | cut -d'|' -f1,2)" "test-entry|Ours" "grub2 first: ours is entry 0"
is "$(grep -n 'BEGIN test boot entry' g1 | cut -d: -f1)" 5 "grub2 first: before the 10_linux section"
$T place grub2 first - g1 blk > g2 2> st; is "$(cat st)" unchanged "grub2 first: a second time changes nothing"
cmp -s g1 g2; ok $? "grub2 first: the same bytes"
$T write grub2 "Ours, renamed" /vmlinuz /initrd.img ro > blk2
$T place grub2 first - g1 blk2 > g3 2> st
is "$(grep -c 'BEGIN test boot entry' g3) $(grep -c "menuentry 'Ours, renamed'" g3) $(grep -c "menuentry 'Ours'" g3)" "1 1 0" \
   "grub2 first: a stale block of ours is replaced, not kept beside"
$T place grub2 last test-entry grub.cfg blk > g4 2> st
is "$(tail -1 g4)" "### END test boot entry ###" "grub2 last: at the end"
grep -qx 'set default="test-entry"' g4; ok $? "grub2 last: set default names our entry"
$T place grub2 replace - g4 blk2 > g5 2> st
is "$(grep -c 'BEGIN test boot entry' g5) $(tail -1 g5)" "1 ### END test boot entry ###" "grub2 replace: replaced where it was"
$T place grub2 remove - g5 blk > g6 2> st
is "$(cat st) $(grep -c 'test boot entry' g6)" "changed 0" "grub2 remove: our block is gone"
grep -v -e '^### BEGIN test boot entry' -e '^### END test boot entry' g5 | sed '/^menuentry .Ours, renamed/,/^}/d' | cmp -s - g6
ok $? "grub2 remove: the rest of the file is kept as it was"
$T place grub2 remove - g6 blk > g7 2> st; is "$(cat st)" unchanged "grub2 remove: a second time changes nothing"

# ---- GRUB legacy: last, default=N, before AUTOMAGIC when first -----------------
$T write legacy "Ours" /vmlinuz /initrd.img ro "(hd0,0)" > lblk
cat > menu.lst <<'EOF'
default		0
timeout		5
### BEGIN AUTOMAGIC KERNELS LIST
title		Debian A
root		(hd0,0)
kernel		/vmlinuz-a root=/dev/sda1 ro
title		Debian B
root		(hd0,0)
kernel		/vmlinuz-b root=/dev/sda1 ro
### END DEBIAN AUTOMAGIC KERNELS LIST
EOF
$T place legacy last default menu.lst lblk > m1 2> st
$T parse legacy m1 > pm
is "$(tail -1 pm)" "default=2" "legacy last: default points at ours, the third title"
is "$(sed -n 3p pm | cut -d'|' -f2)" "Ours" "legacy last: ours is the third title"
$T place legacy last default m1 lblk > m2 2> st; is "$(cat st)" unchanged "legacy last: a second time changes nothing"
cmp -s m1 m2; ok $? "legacy last: the same bytes"
$T place legacy first - menu.lst lblk > m3 2> st
is "$(sed -n 3p m3)" "# ### BEGIN test boot entry ###" "legacy first: before the AUTOMAGIC list"
is "$($T parse legacy m3 | head -1 | cut -d'|' -f2)" "Ours" "legacy first: ours is title 0"

# ---- extlinux: a block appended, read back ------------------------------------
$T write extlinux "Ours" /vmlinuz /initrd.img "root=/dev/sda1 ro" > xblk
printf 'DEFAULT linux\nLABEL linux\n\tKERNEL /vmlinuz\n\tAPPEND root=/dev/sda1\n' > ext.conf
$T place extlinux last - ext.conf xblk > x1 2> st
is "$($T parse extlinux x1 | sed -n 2p)" "test-entry|Ours|/vmlinuz|/initrd.img|root=/dev/sda1 ro|" "extlinux last: the second entry is ours, read back"
done_testing
