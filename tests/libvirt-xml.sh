#!/bin/bash
# img2pv --libvirt-xml: the libvirt domain XML (Xen PV) beside the xl
# config, on copies (qcow2 overlays) of the cached Debian 12 guest in
# directories whose names carry XML markup (' " & < > ]]>).  Checked with
# tools that are not ours: libvirt's own schema (virt-xml-validate), python3's
# expat reads every value back, libxlutil (tests/xl-read) reads the xl
# config, and the two must describe the same domain (name, memory, vCPUs,
# boot, disks, NIC).  Pygrub and direct-kernel domains; a dry run writes
# nothing and shows the XML; a file img2pv did not write is not replaced
# (unless --force); a value XML cannot carry (a newline in the image's
# path) and hostile kernel arguments in the guest's grub.cfg are refused
# before the image is touched.
. "$top_srcdir/tests/functions.sh"
requires_root; requires qemu-img; requires jq; requires python3; requires debugfs
requires virt-xml-validate
XLR=$top_builddir/tests/xl-read
[ -x "$XLR" ] || bail "tests/xl-read was not built: libxen-dev (libxlutil) is missing; run scripts/setup.sh"
SCHEMA=$top_srcdir/data/schema/img2pv.schema.json
img2pv () { "$top_builddir/src/img2pv" --allow-backing "$@"; }

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
. <(grep -E '^(NET_MAC|KERNEL_VERSION)=' "$dir/mbr-plain-hvm.img.facts")
cd "$TMP"

# The domain either config describes, one fact a line, from the XML (expat)
# or from what libxlutil read (xl-read's hex), so the two compare as text.
cat > dom.py <<'EOP'
import sys, xml.etree.ElementTree as ET
def spec(s):
    return dict(kv.split('=', 1) for kv in s.split(', '))
out = []
if sys.argv[1] == 'xml':
    r = ET.parse(sys.argv[2]).getroot()
    assert r.tag == 'domain' and r.get('type') == 'xen'
    out += ['name ' + r.findtext('name'), 'memory %s %s' % (r.findtext('memory'), r.find('memory').get('unit')),
            'vcpus ' + r.findtext('vcpu')]
    if r.find('bootloader') is not None:
        out.append('bootloader ' + r.findtext('bootloader'))
    else:
        o = r.find('os')
        out += ['kernel ' + o.findtext('kernel'), 'ramdisk ' + o.findtext('initrd'), 'cmdline ' + o.findtext('cmdline')]
    for d in r.findall('devices/disk'):
        src = d.find('source')
        out.append('disk %s %s %s' % (d.find('driver').get('type'), d.find('target').get('dev'),
                                      src.get('file') or src.get('dev')))
    for n in r.findall('devices/interface'):
        m = n.find('mac')
        out.append('nic %s %s' % (n.find('source').get('bridge'), m.get('address') if m is not None else '-'))
else:
    xl = {}
    for line in open(sys.argv[2]):
        k, v = line.split(' ', 1)
        xl[k] = v.split()
    h = lambda x: '' if x == '-' else bytes.fromhex(x).decode()
    out += ['name ' + h(xl['name'][0]), 'memory %s MiB' % xl['memory'][0], 'vcpus ' + xl['vcpus'][0]]
    if 'bootloader' in xl:
        out.append('bootloader ' + h(xl['bootloader'][0]))
    else:
        out += [k + ' ' + h(xl[k][0]) for k in ('kernel', 'ramdisk', 'cmdline')]
    for d in xl['disk'][1:]:
        s = spec(h(d))
        out.append('disk %s %s %s' % (s['format'], s['vdev'], s['target']))
    for n in xl['vif'][1:]:
        s = spec(h(n))
        out.append('nic %s %s' % (s['bridge'], s.get('mac', '-')))
print('\n'.join(out))
EOP
# same XML CFG NAME: valid for libvirt, and the same domain as the xl config.
same () {
    virt-xml-validate "$1" domain > vxv.out 2>&1; ok $? "$3: virt-xml-validate accepts the XML"
    [ -s vxv.out ] && grep -v validates vxv.out | sed 's/^/# /'
    python3 dom.py xml "$1" > dom-xml.txt 2> dom.err; ok $? "$3: python3's expat reads the XML"
    "$XLR" "$2" s:name n:memory n:vcpus $4 l:disk l:vif > xl.txt 2>&1 && python3 dom.py xl xl.txt > dom-xl.txt
    ok $? "$3: libxlutil reads the xl config"
    is "$(cat dom-xml.txt)" "$(cat dom-xl.txt)" "$3: the XML describes the xl config's domain (name, memory, vCPUs, boot, disks, NIC)"
}

# ---- pygrub: a directory named with XML markup, quotes and a blank ----------
d="$TMP/v'm\"&amp;<x>]]> dir"
mkdir "$d"
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 "$d/web.qcow2"
sum=$(imgsum "$d/web.qcow2")

# Dry run: the XML shown, nothing written.
img2pv --dry-run --libvirt-xml "$d/web.xml" "$d/web.qcow2" > dry.out 2> dry.err
is $? 0 "dry run exits 0"
ok "$([ ! -e "$d/web.xml" ] && [ ! -e "$d/web.cfg" ]; echo $?)" "dry run: no XML and no xl config written"
is "$(imgsum "$d/web.qcow2")" "$sum" "dry run: the image unchanged"
grep -qF "Would write libvirt domain XML $d/web.xml:" dry.out; ok $? "dry run: says which XML it would write"
sed -n '/^Would write libvirt domain XML/,/^<\/domain>$/p' dry.out | sed 1d > dry.xml
virt-xml-validate dry.xml domain > /dev/null 2>&1; ok $? "dry run: the XML shown is valid for libvirt"
img2pv --dry-run --json --libvirt-xml "$d/web.xml" "$d/web.qcow2" > dry.json 2> dry.err
is "$(jq -r .facts.libvirt_xml dry.json)" "$d/web.xml" "dry run --json: fact libvirt_xml"
python3 "$top_srcdir/tests/json-validate.py" "$SCHEMA" dry.json; ok $? "dry run --json: valid against img2pv.schema.json"
ok "$([ ! -e "$d/web.xml" ]; echo $?)" "dry run --json: no XML written"

# A file img2pv did not write is not replaced, and nothing is changed.
printf '<domain type="kvm"><name>mine</name></domain>\n' > "$d/web.xml"
cp "$d/web.xml" foreign.xml
img2pv --json --libvirt-xml "$d/web.xml" "$d/web.qcow2" > ref.json 2> ref.err
is "$?:$(grep -c '' ref.err)" "1:1" "a foreign XML file: exit 1, one line"
grep -qF "libvirt domain XML $d/web.xml exists and was not written by img2pv; not replacing it" ref.err
ok $? "a foreign XML file: the line says why ($(head -c 200 ref.err))"
is "$(jq -r .error.layer ref.json)" refused "a foreign XML file: error layer refused"
cmp -s "$d/web.xml" foreign.xml; ok $? "a foreign XML file: left as it was"
is "$(imgsum "$d/web.qcow2")" "$sum" "a foreign XML file: the image unchanged"
ok "$([ ! -e "$d/web.cfg" ] && [ ! -e "$d/web.qcow2.img-tools-undo" ]; echo $?)" "a foreign XML file: no xl config, no undo record"
img2pv --libvirt-xml "$d/web.cfg" "$d/web.qcow2" > /dev/null 2> same.err
is "$?" 2 "--libvirt-xml naming the xl config's file: a usage error ($(head -c 120 same.err))"

# --force: converted, the foreign file replaced (atomically: no temp left).
img2pv --force --json --libvirt-xml "$d/web.xml" "$d/web.qcow2" > run.json 2> run.err; rc=$?
is "$rc" 0 "--force: converted (exit 0)"
[ "$rc" = 0 ] || sed 's/^/# /' run.err
is "$(jq -r '.facts | "\(.boot) \(.libvirt_xml)"' run.json)" "pygrub $d/web.xml" "--json: facts boot and libvirt_xml"
python3 "$top_srcdir/tests/json-validate.py" "$SCHEMA" run.json; ok $? "--json report: valid against img2pv.schema.json"
! cmp -s "$d/web.xml" foreign.xml && head -1 "$d/web.xml" | grep -q '^<!-- Written by img2pv '
ok $? "--force: the foreign file replaced by ours"
is "$(ls -A "$d" | grep -c '\.tmp\.')" 0 "no temporary file left beside the image"
same "$d/web.xml" "$d/web.cfg" "pygrub" s:bootloader
is "$(grep '^bootloader\|^disk\|^nic' dom-xml.txt)" "$(printf 'bootloader pygrub\ndisk qcow2 xvda %s\nnic xenbr0 %s' "$d/web.qcow2" "$NET_MAC")" \
   "pygrub: bootloader, the image by its path (markup and all), the guest's MAC"
python3 - "$d/web.xml" "$d/web.qcow2" <<'EOP'; ok $? "pygrub: the description names the image, read back byte for byte"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
sys.exit(0 if r.findtext('description') == 'Xen PV domain for %s, converted by img2pv' % sys.argv[2] else 1)
EOP
grep -qF ']]>' "$d/web.xml"; is $? 1 "pygrub: ']]>' and the quotes are written as entities"

# Second run: nothing to do, both files up to date, the MAC kept though the
# guest no longer has its traces.
cp "$d/web.xml" first.xml
img2pv --libvirt-xml "$d/web.xml" "$d/web.qcow2" > again.out 2> again.err
is $? 3 "second run: nothing to do (exit 3)"
grep -qF "libvirt domain XML $d/web.xml is up to date." again.out; ok $? "second run: the XML is up to date"
cmp -s first.xml "$d/web.xml"; ok $? "second run: the XML unchanged, the guest's MAC still in it"
grep -qF "mac=$NET_MAC" "$d/web.cfg"; ok $? "second run: the xl config keeps the MAC too"

# ---- direct kernel, a hostile --name; only the XML: no xl config checks it --
k="$TMP/k&<x>]]> y"
mkdir "$k"
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 "$k/db.qcow2"
img2pv --extract-kernel --name "db'<&>\"]]>" --memory 2048 --vcpus 2 --mac 00:16:3e:01:02:03 \
    --libvirt-xml "$k/db.xml" "$k/db.qcow2" > x.out 2> x.err; rc=$?
is "$rc" 0 "--extract-kernel: converted (exit 0)"
[ "$rc" = 0 ] || sed 's/^/# /' x.err
same "$k/db.xml" "$k/db.cfg" "direct kernel" "s:kernel s:ramdisk s:cmdline"
is "$(grep '^name\|^memory\|^vcpus\|^kernel\|^ramdisk\|^nic' dom-xml.txt)" \
   "$(printf 'name db--------\nmemory 2048 MiB\nvcpus 2\nkernel %s\nramdisk %s\nnic xenbr0 00:16:3e:01:02:03' \
      "$k/db.vmlinuz-$KERNEL_VERSION" "$k/db.initrd.img-$KERNEL_VERSION")" \
   "direct kernel: name (as the xl config has it), memory, vCPUs, the kernel files beside the image, --mac"
grep -q '^cmdline .*console=hvc0' dom-xml.txt; ok $? "direct kernel: the PV entry's arguments ($(grep '^cmdline' dom-xml.txt))"
ok "$([ -s "$k/db.vmlinuz-$KERNEL_VERSION" ] && [ -s "$k/db.initrd.img-$KERNEL_VERSION" ]; echo $?)" \
   "direct kernel: the files the XML names exist"

# ---- refused before the image is touched ------------------------------------
# A newline in the image's path: xl can carry it (\n), XML 1.0 cannot.
n="$TMP/nl"$'\n'"dir"
mkdir "$n"
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 "$n/g.qcow2"
sum=$(imgsum "$n/g.qcow2")
img2pv --libvirt-xml "$TMP/nl.xml" "$n/g.qcow2" > nl.out 2> nl.err
is $? 1 "a newline in the image's path: exit 1"
grep -q 'libvirt XML: image .*\\n.*a control byte' nl.err; ok $? "... the line says why ($(tr '\n' ' ' < nl.err | head -c 200))"
is "$(imgsum "$n/g.qcow2")" "$sum" "... the image unchanged"
ok "$([ ! -e "$TMP/nl.xml" ] && [ ! -e "$n/g.cfg" ] && [ ! -e "$n/g.qcow2.img-tools-undo" ]; echo $?)" \
   "... no XML, no xl config, no undo record"

# Kernel arguments in the guest's grub.cfg that carry XML markup.
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 arg.qcow2
qemu-img convert -O raw arg.qcow2 arg.img
. <(grep -E '^(BOOT_OFFSET)=' "$dir/mbr-plain-hvm.img.facts")
debugfs -R "cat /grub/grub.cfg" "arg.img?offset=$BOOT_OFFSET" 2>/dev/null > grub.cfg
grep -q "root=" grub.cfg || bail "no grub.cfg read from the guest's /boot"
sed -i "0,/^\(\s*linux\s.*\)$/s//\1 x=']]><cmdline>\\&amp;<\/cmdline>'/" grub.cfg
printf 'rm /grub/grub.cfg\nwrite grub.cfg /grub/grub.cfg\n' > dfs.cmd
debugfs -w -f dfs.cmd "arg.img?offset=$BOOT_OFFSET" > /dev/null 2>&1
debugfs -R "cat /grub/grub.cfg" "arg.img?offset=$BOOT_OFFSET" 2>/dev/null | grep -qF "x=']]><cmdline>"
ok $? "a guest whose grub.cfg passes x=']]><cmdline>&amp;</cmdline>' to the kernel"
sum=$(imgsum arg.img)
img2pv --extract-kernel --no-xl-config --libvirt-xml arg.xml arg.img > arg.out 2> arg.err
is "$?:$(grep -c '' arg.err)" "1:1" "hostile kernel arguments: exit 1, one line"
grep -q 'arg\.img: boot-entry: kernel argument' arg.err; ok $? "... naming the image, the edit and the argument ($(head -c 200 arg.err))"
is "$(imgsum arg.img)" "$sum" "... the image unchanged"
ok "$([ ! -e arg.xml ]; echo $?)" "... no XML written"

done_testing
