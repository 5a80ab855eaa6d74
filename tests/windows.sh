#!/bin/bash
# Windows guests: recognised and reported (product, version, variant,
# arch, hostname, system root) as virt-inspector reports them, never
# converted.  The fixtures are NTFS volumes made with mkntfs and filled
# through ntfs-3g (test side only), with registry hives made here
# (tests/mkhive.py: an empty hive; hivexregedit --merge: the keys) and a
# cmd.exe that is only PE headers (tests/mkpe.py).  The registry is read
# by the appliance's hivex, never on the host.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires sfdisk; requires mkntfs; requires ntfs-3g
requires hivexregedit; requires python3; requires virt-inspector; requires file

export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}

mnt=$TMP/mnt
mkdir -p "$mnt"
at_exit "mountpoint -q '$mnt' && umount '$mnt'"
detach_all () {
    local d f
    for f in "$TMP"/*.img; do
        for d in $(losetup -n -O NAME -j "$f"); do losetup -d "$d" 2>/dev/null; done
    done
}
at_exit detach_all

# hive FILE PREFIX REG: an empty hive with REG's keys merged in.
hive () {
    python3 "$top_srcdir/tests/mkhive.py" "$1" || bail "mkhive.py failed"
    hivexregedit --merge --prefix "$2" "$1" "$3" || bail "hivexregedit --merge $1 failed"
}
# ntfs IMG N LABEL: an NTFS filesystem on partition N, mounted on $mnt.
ntfs () {
    local off size d
    off=$(part_start "$1" "$2") size=$(part_size "$1" "$2")
    d=$(losetup -f --show -o "$off" --sizelimit "$size" "$1") || bail "losetup failed"
    mkntfs -q -Q -F -L "$3" -p $((off / 512)) -H 255 -S 63 "$d" >/dev/null 2>&1 || bail "mkntfs failed"
    ntfs-3g "$d" "$mnt" || bail "ntfs-3g mount failed"
}
unmount () { umount "$mnt" || bail "umount failed"; detach_all; }

cat > "$TMP/software.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT]

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows Server 2019 Standard"
"CurrentVersion"="6.3"
"CurrentMajorVersionNumber"=dword:0000000a
"CurrentMinorVersionNumber"=dword:00000000
"InstallationType"="Server"
"CurrentBuildNumber"="17763"
REG
cat > "$TMP/system.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\Tcpip]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\Tcpip\Parameters]
"Hostname"="OLD-SET"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\Tcpip]

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\Tcpip\Parameters]
"Hostname"="WIN-IMGTOOLS"
REG
hive "$TMP/SOFTWARE" 'HKEY_LOCAL_MACHINE\SOFTWARE' "$TMP/software.reg"
hive "$TMP/SYSTEM" 'HKEY_LOCAL_MACHINE\SYSTEM' "$TMP/system.reg"
python3 "$top_srcdir/tests/mkpe.py" "$TMP/cmd.exe" 0x8664
like "$(file -b "$TMP/cmd.exe")" '^PE32\+ executable .*x86-64' "fixture: cmd.exe is a PE32+ x86-64 program to file(1)"

# win.img: p1 "System Reserved" (boot files, no Windows), p2 the system
# drive C: (Windows, Program Files, Users), as Windows Setup lays it out.
img=$TMP/win.img
new_image "$img" 200M
partition "$img" <<'TABLE'
label: dos
size=50MiB, type=7, bootable
size=120MiB, type=7
TABLE
ntfs "$img" 1 "System Reserved"
mkdir -p "$mnt/Boot"; echo bootmgr > "$mnt/bootmgr"
unmount
ntfs "$img" 2 ""
mkdir -p "$mnt/Windows/System32/config" "$mnt/Program Files" "$mnt/Users/Administrator"
cp "$TMP/cmd.exe" "$mnt/Windows/System32/cmd.exe"
cp "$TMP/SOFTWARE" "$TMP/SYSTEM" "$mnt/Windows/System32/config/"
unmount
orig=$(imgsum "$img")

img-inspect --json "$img" > "$TMP/w.json" 2> "$TMP/w.err"; ok $? "inspect --json: exit 0"
[ ! -s "$TMP/w.err" ]; ok $? "inspect --json: nothing on stderr"
w () { jq -r ".windows.$1" "$TMP/w.json"; }
is "$(w root)" "$img:p2" "windows: the system drive is p2"
is "$(w systemroot)" "/Windows" "windows: system root as the filesystem spells it"
is "$(w product_name)" "Windows Server 2019 Standard" "windows: product name from the SOFTWARE hive"
is "$(w product_variant)" "Server" "windows: variant (InstallationType)"
is "$(w major_version).$(w minor_version)" "10.0" "windows: version from CurrentMajor/MinorVersionNumber, not CurrentVersion"
is "$(w arch)" "x86_64" "windows: arch from cmd.exe's PE header"
is "$(w hostname)" "WIN-IMGTOOLS" "windows: hostname from the current control set (Select\\Current = 2)"
is "$(w convertible)" "false" "windows: not convertible"
is "$(jq -r .guest "$TMP/w.json")" null "windows: no Linux guest claimed"
like "$(jq -r .no_guest_reason "$TMP/w.json")" "^$img:p2 \(ntfs\): a Windows guest \(Windows Server 2019 Standard 10\.0, x86_64\): not convertible" \
     "windows: no_guest_reason says what it is"

# The same answers as libguestfs's own inspector.
virt-inspector --no-applications --no-icon --format=raw -a "$img" > "$TMP/vi.xml" 2> "$TMP/vi.err"
ok $? "virt-inspector ran"
vi () { grep -o "<$1>[^<]*" "$TMP/vi.xml" | head -1 | cut -d'>' -f2; }
is "$(vi name)" windows "virt-inspector: a Windows guest"
is "$(vi root | sed 's|^/dev/sda|p|')" "p2" "virt-inspector: same root"
is "$(vi product_name)" "$(w product_name)" "virt-inspector: same product name"
is "$(vi product_variant)" "$(w product_variant)" "virt-inspector: same variant"
is "$(vi major_version).$(vi minor_version)" "$(w major_version).$(w minor_version)" "virt-inspector: same version"
is "$(vi arch)" "$(w arch)" "virt-inspector: same arch"
is "$(vi hostname)" "$(w hostname)" "virt-inspector: same hostname"
is "$(vi windows_systemroot)" "$(w systemroot)" "virt-inspector: same system root"

img-inspect "$img" > "$TMP/w.txt" 2>&1; ok $? "inspect (text): exit 0"
grep -qx 'guest: windows: Windows Server 2019 Standard (version 10.0, variant Server), x86_64, hostname WIN-IMGTOOLS' "$TMP/w.txt"
ok $? "text: the Windows guest line"
grep -qx "  root: $img:p2 (system root /Windows)" "$TMP/w.txt"; ok $? "text: its root"
grep -qx "$img:p1: ntfs: no Windows system root on it" "$TMP/w.txt"; ok $? "text: p1 looked at, no Windows on it"
img-inspect --backend native "$img" > "$TMP/n.txt" 2>&1; ok $? "inspect --backend native: exit 0"
grep -qx "$img:p2: ntfs: not inspected (no native NTFS reader; a Windows system on it is not identified)" "$TMP/n.txt"
ok $? "--backend native: NTFS not inspected, said so"
! grep -q 'guest: windows' "$TMP/n.txt"; ok $? "--backend native: no Windows claimed"

# The conversions refuse it in one line, and write nothing.
fails_with "img2pv: refused in one line naming Windows" \
    "^img2pv: $img:p2 \(ntfs\): a Windows guest \(Windows Server 2019 Standard 10\.0, x86_64\): not convertible" \
    img2pv "$img"
fails_with "img-ramify: refused in one line naming Windows" \
    "^img-ramify: $img:p2 \(ntfs\): a Windows guest" img-ramify "$img"
is "$(imgsum "$img")" "$orig" "Windows image: untouched by inspection and the refused conversions"

# Hostile: a /Windows that is a file and a /WINDOWS decoy without cmd.exe
# before the real /WINNT (other case); a cmd.exe whose PE offset points
# past the file; a product name with control characters, quotes and
# 1000 bytes; no CurrentMajorVersionNumber (CurrentVersion "6.1" used);
# a SYSTEM hive of garbage (hivex fails in the appliance: no hostname,
# nothing else lost).
long=$(printf 'A%.0s' $(seq 1 1000)) esc=$'\e'
cat > "$TMP/hsoftware.reg" <<REG
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]

[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]
"ProductName"="Evil\\"\\\\ ${esc}[31m${long}"
"CurrentVersion"="6.1"
REG
hive "$TMP/hSOFTWARE" 'HKEY_LOCAL_MACHINE\SOFTWARE' "$TMP/hsoftware.reg"
hvalue=$(hivexregedit --export --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$TMP/hSOFTWARE" '\Microsoft\Windows NT\CurrentVersion' | grep -c ProductName)
is "$hvalue" 1 "hostile fixture: the product name is in the hive"
head -c 65536 /dev/urandom > "$TMP/hSYSTEM"
python3 "$top_srcdir/tests/mkpe.py" "$TMP/hcmd.exe" 0x8664 0xfffffff0
himg=$TMP/hostile.img
new_image "$himg" 80M
partition "$himg" <<'TABLE'
label: dos
size=70MiB, type=7
TABLE
ntfs "$himg" 1 "hostile"
echo "not a folder" > "$mnt/Windows"
mkdir -p "$mnt/WINDOWS/system32/config" "$mnt/WINNT/SYSTEM32/CONFIG"
cp "$TMP/hcmd.exe" "$mnt/WINNT/SYSTEM32/CMD.EXE"
cp "$TMP/hSOFTWARE" "$mnt/WINNT/SYSTEM32/CONFIG/software"
cp "$TMP/hSYSTEM" "$mnt/WINNT/SYSTEM32/CONFIG/system"
unmount
horig=$(imgsum "$himg")

img-inspect --json "$himg" > "$TMP/h.json" 2> "$TMP/h.err"; ok $? "hostile: inspect --json exit 0"
h () { jq -r ".windows.$1" "$TMP/h.json"; }
is "$(h systemroot)" "/WINNT" "hostile: /Windows (a file) and /Win (no cmd.exe) passed over, /WINNT found"
is "$(h arch)" null "hostile: a PE offset past the header gives no arch"
is "$(h hostname)" null "hostile: a garbage SYSTEM hive gives no hostname"
is "$(h major_version).$(h minor_version)" "6.1" "hostile: version from CurrentVersion when the numbers are not there"
pn=$(h product_name)
is "${#pn}" 256 "hostile: the product name is cut to 256 bytes"
like "$pn" '^Evil"\\ .\[31mAAAA' "hostile: the product name kept as the registry has it (JSON-escaped)"
img-inspect "$himg" > "$TMP/h.txt" 2>&1; ok $? "hostile: inspect (text) exit 0"
is "$(grep -c '^guest: windows: ' "$TMP/h.txt")" 1 "hostile: one guest line"
! grep -q $'\e' "$TMP/h.txt"; ok $? "hostile: no raw escape character reaches the terminal"
fails_with "hostile: img2pv refuses in one printable line" \
    "^img2pv: $himg:p1 \(ntfs\): a Windows guest \(Evil\"\\\\ \?\[31mA+ 6\.1, arch unknown\): not convertible" \
    img2pv "$himg"
is "$(imgsum "$himg")" "$horig" "hostile: image untouched"

done_testing
