#!/bin/bash
# Each quoting function (src/libimg/base/quote.c) against its language's real
# parser, over hostile strings: libxlutil for xl configs (tests/xl-read),
# grub-script-check for GRUB 2 fragments, dash and bash for shell words
# (parsed with -n, then run: printf '%s' WORD gives back the bytes), jq
# for JSON, python3's expat for XML; and the terminal form holds no control byte.
. "$top_srcdir/tests/functions.sh"
requires jq; requires python3; requires grub-script-check; requires dash; requires bash
Q=$top_builddir/tests/quote-tool
XLR=$top_builddir/tests/xl-read
[ -x "$XLR" ] || bail "tests/xl-read was not built: libxen-dev (libxlutil) is missing; run scripts/setup.sh"

cd "$TMP"
# The hostile strings, as printf formats, one a line.
cat > hostile.fmt <<'EOS'
plain
with space
a"b
a'b
it's "quoted"
semi;colon
" ; bootloader="/bin/sh" ;
a"; bootloader_args=["x"]; b="
$HOME ${x} $(id) `id`
back\\slash
trailing\\
new\nline
cr\rlf
tab\there
brace} {brace
#hash
comma,equals=
esc\033[31mred\033[0m
bel\007
del\177
csi\302\2332J
bad\377\376utf8
utf8 \303\251\342\202\254
\\x41 \\n
'\\''
; rm -rf / #
]; x=[
EOS
i=0
while IFS= read -r fmt; do
    printf "$fmt" > s.$i
    i=$((i + 1))
done < hostile.fmt
# And a very long one.
head -c 70000 /dev/zero | tr '\0' 'x' > s.$i; printf '";$`\\\n' >> s.$i; i=$((i + 1))
N=$i
valid_utf8 () { iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; }
hex () { od -An -tx1 -v "$1" | tr -d ' \n'; }

# ---- xl: what libxlutil reads back is the input, and no key is added ----
for ((i = 0; i < N; i++)); do
    if ! q=$($Q xl < s.$i 2>/dev/null); then
        # Refused: only for what libxlutil cannot read back (a control byte
        # without a named escape, invalid UTF-8, a C1 control).
        ! valid_utf8 s.$i || LC_ALL=C grep -q "$(printf '[\001-\006\016-\037\177]')" s.$i \
            || LC_ALL=C grep -q "$(printf '\302[\200-\237]')" s.$i
        ok $? "xl #$i: refused, and libxlutil could not read it back"
        continue
    fi
    printf 'name = %s\ncmdline = %s\nvif = [ %s, %s ]\nmemory = 512\n' "$q" "$q" "$q" "$q" > x.cfg
    want=$(hex s.$i); [ -n "$want" ] || want=-
    out=$($XLR x.cfg s:name s:cmdline l:vif n:memory a:bootloader a:bootloader_args a:extra a:kernel 2>&1)
    is "$out" "$(printf 'name %s\ncmdline %s\nvif 2 %s %s\nmemory 512' "$want" "$want" "$want" "$want")" \
       "xl #$i: libxlutil reads back the same bytes, no other key"
done
# The oracle sees an injection when there is one (unquoted, as before).
printf 'cmdline = "root=/dev/xvda1 %s"\n' "$(cat s.7)" > naive.cfg
$XLR naive.cfg a:bootloader_args >/dev/null 2>&1; is $? 3 "xl: the unquoted injection is seen by the oracle (bootloader_args set)"
for v in 'a,b' 'a=b' "a'b" 'a b' 'a"b'; do
    printf '%s' "$v" | $Q xl-spec >/dev/null 2>&1; is $? 1 "xl spec value refused: $v"
done
printf '00:11:22:33:44:55", bootloader="x' | $Q mac >/dev/null 2>&1; is $? 1 "MAC with a tail refused"

# ---- GRUB 2: grub-script-check parses the fragment; unquotable refused ----
for ((i = 0; i < N; i++)); do
    if q=$($Q grub2 < s.$i 2>/dev/null); then
        printf 'menuentry %s --id x {\n\tlinux /vmlinuz %s\n\techo %s\n}\n' "$q" "$q" "$q" > g.cfg
        grub-script-check g.cfg >/dev/null 2>&1; ok $? "grub2 #$i: grub-script-check accepts the fragment"
    else
        ! valid_utf8 s.$i || LC_ALL=C grep -q "$(printf '[\001-\037\177]')" s.$i || [ "$(wc -l < s.$i)" != 0 ] \
            || LC_ALL=C grep -q "$(printf '\302[\200-\237]')" s.$i
        ok $? "grub2 #$i: refused, and it holds a control byte or invalid UTF-8"
    fi
done
# The oracle rejects what was written unquoted before.
printf "menuentry 'x' {\n\tlinux /vmlinuz a}b\n}\n}\n" > bad.cfg
grub-script-check bad.cfg >/dev/null 2>&1; ok $((! $?)) "grub2: grub-script-check rejects an unbalanced fragment"

# pygrub (what boots the PV guest) reads our entries: the kernel, initrd
# and the arguments come back as written, one entry per hostile title.
requires mke2fs
PYGRUB=/usr/lib/xen-4.17/bin/pygrub
[ -x $PYGRUB ] || bail "pygrub missing (xen-utils-4.17; run scripts/setup.sh)"
args=$(printf 'root=UUID=0123 ro   "acpi_osi=Windows 2009" console=hvc0 x=a,b:c/d+e@f%%g^h~i!j(k)' | $Q cmdline-line)
mkdir -p fs/boot/grub; : > fs/boot/grub/grub.cfg; echo k > "fs/boot/vmlinuz-1.2+x~y"; echo i > fs/boot/initrd
kq=$(printf '/boot/vmlinuz-1.2+x~y' | $Q grub2-path)
for v in '/boot/vmlinuz 2' "/boot/it's" '/boot/a;b' 'boot/rel' '/boot/$x'; do
    printf '%s' "$v" | $Q grub2-path >/dev/null 2>&1; is $? 1 "grub2 kernel path refused: $v"
done
n_entries=0
for ((i = 0; i < N; i++)); do
    tq=$($Q grub2-title < s.$i 2>/dev/null) || continue
    [ "$(wc -c < s.$i)" -lt 1000 ] || continue
    printf 'menuentry %s --class os $menuentry_id_option %s {\n\tinsmod ext2\n\tlinux\t%s %s\n\tinitrd\t/boot/initrd\n}\n' \
        "$tq" "'img2pv-xen-pv'" "$kq" "$args" >> fs/boot/grub/grub.cfg
    n_entries=$((n_entries + 1))
done
grub-script-check fs/boot/grub/grub.cfg; ok $? "grub2: the whole menu parses"
truncate -s 8M fs.img && mke2fs -q -F -t ext2 -d fs fs.img
timeout 60 $PYGRUB -l fs.img > pygrub.out 2>/dev/null; ok $? "pygrub lists the menu"
is "$(grep -c '^title:' pygrub.out)" "$n_entries" "pygrub: one entry per title ($n_entries)"
is "$(grep '^  args:' pygrub.out | sort -u)" "  args: $args" "pygrub: every entry's arguments read back as written"
is "$(grep '^  kernel:' pygrub.out | sort -u)" "  kernel: /boot/vmlinuz-1.2+x~y" "pygrub: the kernel path read back"

# ---- shell: dash and bash parse it and give back the same bytes ----------
for ((i = 0; i < N; i++)); do
    q=$($Q sh < s.$i) || { ok 1 "sh #$i: quoted"; continue; }
    for sh in dash bash; do
        $sh -n -c "printf '%s' $q" 2>/dev/null && $sh -c "printf '%s' $q" > got 2>/dev/null && cmp -s got s.$i
        ok $? "sh #$i: $sh reads back the same bytes"
    done
done

# ---- JSON: jq reads back the bytes (invalid UTF-8 as U+FFFD) ---------------
for ((i = 0; i < N; i++)); do
    $Q json < s.$i > j || { ok 1 "json #$i"; continue; }
    if valid_utf8 s.$i; then
        jq -j . j > got 2>/dev/null && cmp -s got s.$i; ok $? "json #$i: jq reads back the same bytes"
    else
        jq -j . j > got 2>/dev/null && valid_utf8 got; ok $? "json #$i: valid JSON, invalid bytes replaced"
    fi
done

# ---- XML: python3's expat reads back the bytes, as text and in both quotes -
# Markup of its own too: a CDATA end, a closing tag, entities, a comment.
j=$N
for fmt in ']]>' '</name><name>x' '&amp; &#10; &lt;' '<!-- x -->' '\357\277\276' 'a\tb'; do
    printf "$fmt" > s.$j; j=$((j + 1))
done
cat > xml-read.py <<'EOP'
import sys, xml.etree.ElementTree as ET
e = ET.parse(sys.argv[1]).getroot()
want = open(sys.argv[2], 'rb').read().decode('utf-8')
got = [e.get('a'), e.get('b'), e.text or '', e[0].text or '']
sys.exit(0 if got == [want] * 4 and len(e) == 1 and list(e.attrib) == ['a', 'b'] else 1)
EOP
for ((i = 0; i < j; i++)); do
    if ! q=$($Q xml < s.$i 2>/dev/null); then
        # Refused: only what XML 1.0 cannot carry or gives back changed
        # (C0 controls incl. tab and newline, DEL, C1, U+FFFE/U+FFFF,
        # invalid UTF-8).
        ! valid_utf8 s.$i || ! LC_ALL=C tr -d '\001-\037\177' < s.$i | cmp -s - s.$i \
            || LC_ALL=C grep -q "$(printf '\302[\200-\237]')" s.$i \
            || LC_ALL=C grep -q "$(printf '\357\277[\276\277]')" s.$i
        ok $? "xml #$i: refused, and XML 1.0 could not carry it"
        continue
    fi
    printf '<d a="%s" b='"'"'%s'"'"'>%s<e>%s</e></d>' "$q" "$q" "$q" "$q" > x.xml
    python3 xml-read.py x.xml s.$i; ok $? "xml #$i: expat reads back the same text, in both quotes and as element text"
done
# The oracle sees an injection when there is one (unquoted).
printf '<d a="%s"/>' "$(cat s.7)" > naive.xml
python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' naive.xml 2>/dev/null
is $? 1 "xml: the unquoted quote is seen by the oracle (not well-formed)"

# ---- terminal: no control byte but (on request) newline ------------------
ctl=$(printf '[\001-\011\013-\037\177\233]')
for ((i = 0; i < N; i++)); do
    $Q term < s.$i > t; $Q term-nl < s.$i > tn
    ! LC_ALL=C grep -q "$ctl" t tn && [ "$(wc -l < t)" = 0 ] && [ "$(wc -l < tn)" = "$(wc -l < s.$i)" ]
    ok $? "term #$i: no control byte; newlines only when kept"
done

# ---- kernel command line -----------------------------------------------
printf 'root=/dev/sda1 " ; bootloader="/bin/sh" ;' | $Q cmdline-line >/dev/null 2>&1; is $? 1 "cmdline: an injected quote refused"
printf 'root=/dev/sda1\nbootloader=x' | $Q cmdline-line >/dev/null 2>&1; is $? 1 "cmdline: a newline refused"
is "$(printf 'root=UUID=ab ro  quiet "acpi_osi=Windows 2009"' | $Q cmdline-line)" \
   'root=UUID=ab ro quiet acpi_osi="Windows 2009"' "cmdline: normal arguments kept, spaces quoted"
done_testing
