#!/bin/bash
# img-ramcopy unpack: extracts a pax tar (zstd, gzip or none) written by
# GNU tar into a tmpfs, keeping what tar keeps; checked against the
# source tree with stat, cmp, getfattr, getcap and du.  Hostile archives
# must fail with one line and write nothing outside the target.
. "$top_srcdir/tests/functions.sh"
requires_root; requires mke2fs; requires getfattr; requires setfattr; requires setcap; requires getcap
requires mkfifo; requires python3; requires tar; requires zstd; requires gzip; requires file
RC=$top_builddir/src/ramboot/img-ramcopy
cd "$TMP"

file "$RC" 2>/dev/null | grep -q 'statically linked'; ok $? "img-ramcopy is statically linked (it runs in any initramfs)"

# The source: an ext4 filesystem with one of everything tar keeps.
truncate -s 256M src.ext4
mke2fs -q -F -t ext4 src.ext4
mkdir -p src
mount -o loop src.ext4 src
at_exit "umount -l $TMP/src 2>/dev/null"
s=src
mkdir -p $s/etc $s/usr/bin $s/var/lib/empty $s/dev $s/home/u/.ssh $s/tmp $s/srv/shared
echo "root:x:0:0" > $s/etc/passwd
printf 'hello\n' > $s/etc/motd; chown 1000:1001 $s/etc/motd; chmod 640 $s/etc/motd
touch -d '2001-02-03 04:05:06.123456789' $s/etc/motd
printf 'old\n' > $s/etc/old; touch -d '1960-01-01 00:00:00.5' $s/etc/old   # before the epoch
cp /bin/true $s/usr/bin/ping; chmod 4755 $s/usr/bin/ping           # setuid
cp /bin/true $s/usr/bin/caps; setcap cap_net_raw+ep $s/usr/bin/caps  # file capability
cp /bin/true $s/usr/bin/sgid; chown 0:42 $s/usr/bin/sgid; chmod 2711 $s/usr/bin/sgid
setfattr -n user.note -v "a user xattr" $s/etc/passwd
setfattr -n user.bin -v 0x00ff0a00 $s/etc/passwd                    # NUL and newline in a value
setfattr -n trusted.t -v "trusted" $s/etc/passwd
setfattr -n user.dir -v "on a directory" $s/srv/shared
setfattr -n security.selinux -v "system_u:object_r:etc_t:s0" $s/etc/passwd 2>/dev/null || true
ln $s/etc/passwd $s/etc/passwd.hard                                  # hard link
ln -s ../etc/passwd $s/usr/passwd.link                               # relative symlink
ln -s /nonexistent $s/usr/dangling                                   # dangling symlink
chown -h 7:8 $s/usr/dangling
mknod $s/dev/null c 1 3; mknod $s/dev/sda b 8 0; mknod $s/dev/big c 511 1048575; mkfifo $s/dev/fifo
chown 1000:1000 $s/home/u; chmod 700 $s/home/u/.ssh
chmod 1777 $s/tmp; chmod 2775 $s/srv/shared; chown 65534:12345 $s/srv/shared
# Owners too big for ustar's octal fields go into pax records.
echo big > $s/home/u/bigowner; chown 3000000000:4294967294 $s/home/u/bigowner
# A sparse file: 1 GiB apparent, two small islands.
dd if=/dev/urandom of=$s/var/lib/sparse bs=4k count=1 seek=1000 conv=notrunc status=none
dd if=/dev/urandom of=$s/var/lib/sparse bs=4k count=1 seek=200000 conv=notrunc status=none
truncate -s 1G $s/var/lib/sparse
# A path over 100 characters and a non-ASCII name.
long=$s/usr/share/a-directory-with-a-rather-long-name/and-another-one-below-it-also-long/and-a-third
mkdir -p "$long"
head -c 70000 /dev/urandom > "$long/café-Ünïcödé-名前.bin"
touch -d '1999-12-31 23:59:59' $s/var/lib/empty
chmod 750 $s; chown 0:4 $s; touch -d '2010-10-10 10:10:10.101010101' $s   # the root itself

tarit () { tar --format=posix --xattrs --xattrs-include='*' --sparse --sparse-version=1.0 --numeric-owner -C src -cf - .; }
tarit > a.tar 2> tar.err; ok $? "GNU tar writes the pax archive"
[ -s tar.err ] && sed 's/^/# /' tar.err
members=$(tar -tf a.tar | wc -l)
zstd -q -c a.tar > a.tar.zst
gzip -c a.tar > a.tar.gz

# What unpack must say it wrote: every file's data once (hard links
# aside), the sparse file's two islands only.
want_bytes=$(find src -xdev -type f ! -path 'src/lost+found/*' -printf '%i %s\n' | sort -u \
             | awk '{ s += $2 } END { print s - 1073741824 + 8192 }')

meta () { (cd "$1" && find . -path ./lost+found -prune -o -print0 | LC_ALL=C sort -z \
          | xargs -0 stat -c '%n|%f|%u:%g|%h|%s|%t,%T|%.9Y' \
          | awk -F'|' -v OFS='|' '$2 ~ /^4/ { $5 = "dir" } { print }'); }
xattrs () { (cd "$1" && find . -path ./lost+found -prune -o -print0 | LC_ALL=C sort -z \
             | xargs -0 getfattr -h -d -m - -e hex 2>/dev/null); }
contents () { (cd "$1" && find . -path ./lost+found -prune -o -type f -print0 | LC_ALL=C sort -z \
               | xargs -0 python3 "$top_srcdir/tests/imgsum.py"); }
meta src > src.meta; xattrs src > src.xattrs; contents src > src.sums
is "$(grep -e '^security.capability=' -e '^user.bin=' -e '^trusted.t=' -e '^user.dir=' src.xattrs | sort -u | wc -l)" 4 \
   "the source has the xattrs to compare (capability, binary user, trusted, on a directory)"

for a in a.tar.zst a.tar.gz a.tar; do
    d=dst-${a//./-}
    mkdir -p $d
    mount -t tmpfs -o size=512m,mode=0755 tmpfs $d
    at_exit "umount -l $TMP/$d 2>/dev/null"
    out=$("$RC" unpack "$TMP/$a" "$TMP/$d" 2> unpack.err); rc=$?
    ok "$rc" "$a: unpack runs ($out)"
    [ -s unpack.err ] && sed 's/^/# /' unpack.err
    is "$out" "files=$members bytes=$want_bytes xattrs_skipped=0" "$a: one line, every member, the data bytes, no xattr left out"
    meta $d > $d.meta
    diff src.meta $d.meta > meta.diff; ok $? "$a: names, types, modes, owners, link counts, sizes, devices, ns mtimes agree"
    [ -s meta.diff ] && head -10 meta.diff | sed 's/^/# /'
    contents $d > $d.sums
    diff src.sums $d.sums > sums.diff; ok $? "$a: file contents agree"
    [ -s sums.diff ] && head -10 sums.diff | sed 's/^/# /'
    cmp -s src/var/lib/sparse $d/var/lib/sparse; ok $? "$a: sparse file: same bytes"
    alloc=$(du -B1 $d/var/lib/sparse | cut -f1)
    ok "$([ "$alloc" -le $((64 * 1024)) ]; echo $?)" "$a: sparse file: holes kept ($alloc bytes allocated of 1 GiB)"
    xattrs $d > $d.xattrs
    diff src.xattrs $d.xattrs > x.diff; ok $? "$a: extended attributes agree (getfattr -d -m - -h)"
    [ -s x.diff ] && head -10 x.diff | sed 's/^/# /'
done
d=dst-a-tar-zst
is "$(getcap $d/usr/bin/caps | sed 's/.* //')" "cap_net_raw=ep" "file capability kept (set after chown)"
is "$(stat -c %a $d/usr/bin/ping $d/usr/bin/sgid $d/tmp $d/srv/shared | tr '\n' ' ')" "4755 2711 1777 2775 " "setuid, setgid, sticky bits kept"
is "$(stat -c %y $d/etc/motd)" "$(stat -c %y src/etc/motd)" "nanosecond mtimes kept"
is "$(stat -c %.9Y $d/etc/old)" "$(stat -c %.9Y src/etc/old)" "a time before the epoch kept"
is "$(stat -c %u:%g $d/home/u/bigowner)" "3000000000:4294967294" "owners from pax records"
is "$(stat -c %i $d/etc/passwd)" "$(stat -c %i $d/etc/passwd.hard)" "hard link kept"
is "$(readlink $d/usr/passwd.link) $(readlink $d/usr/dangling)" "../etc/passwd /nonexistent" "symlinks kept, dangling too"
is "$(stat -c '%F %t,%T' $d/dev/null $d/dev/sda $d/dev/big | tr '\n' ' ')" \
   "character special file 1,3 block special file 8,0 character special file 1ff,fffff " "device nodes kept"
is "$(stat -c %F $d/dev/fifo)" "fifo" "fifo kept"
is "$(stat -c %a:%u:%g:%.9Y $d)" "$(stat -c %a:%u:%g:%.9Y src)" "member . sets the target's own mode, owner, mtime"
is "$(stat -c %Y $d/var/lib/empty)" "$(stat -c %Y src/var/lib/empty)" "directory mtimes set after their contents"

# Again over the same tree: files replaced, directories reused.
out=$("$RC" unpack "$TMP/a.tar" "$TMP/dst-a-tar" 2> unpack.err); rc=$?
ok "$rc" "unpacking over an unpacked tree replaces its files ($out)"
[ -s unpack.err ] && sed 's/^/# /' unpack.err
meta dst-a-tar > again.meta; diff src.meta again.meta > /dev/null; ok $? "... and leaves the same tree"

# Other writers' headers: plain ustar with a name split into prefix and
# name; GNU's "ustar  " magic with base-256 owners and a time before 1970.
python3 - <<'EOF'
import io, tarfile
n = "p" * 60 + "/" + "q" * 60 + "/" + "file"
t = tarfile.open("ustar.tar", "w", format=tarfile.USTAR_FORMAT)
i = tarfile.TarInfo(n); i.size = 5; i.mtime = 1234567890; i.mode = 0o640
t.addfile(i, io.BytesIO(b"ustar"))
t.close()
t = tarfile.open("gnu.tar", "w", format=tarfile.GNU_FORMAT)
i = tarfile.TarInfo("g"); i.size = 3; i.uid = 2**33; i.gid = 4000000000; i.mtime = -86400
t.addfile(i, io.BytesIO(b"gnu"))
t.close()
EOF
mkdir -p other/u other/g
"$RC" unpack ustar.tar other/u > /dev/null
is "$(cat other/u/pppp*/qqqq*/file) $(stat -c %a:%Y other/u/pppp*/qqqq*/file)" "ustar 640:1234567890" "ustar prefix + name"
fails_with "a base-256 uid too big for Linux is refused" "^img-ramcopy: unpack gnu.tar: corrupt header at byte 0$" \
    "$RC" unpack gnu.tar other/g
python3 - <<'EOF'
import io, tarfile
t = tarfile.open("gnu.tar", "w", format=tarfile.GNU_FORMAT)
i = tarfile.TarInfo("g"); i.size = 3; i.uid = 3000000000; i.gid = 4000000000; i.mtime = -86400
t.addfile(i, io.BytesIO(b"gnu"))
t.close()
EOF
"$RC" unpack gnu.tar other/g > /dev/null
is "$(cat other/g/g) $(stat -c %u:%g:%Y other/g/g)" "gnu 3000000000:4000000000:-86400" "GNU magic, base-256 owners, a negative time"
# A global header ('g') is read past; no atime record means atime = mtime.
python3 - <<'EOF'
import io, tarfile
t = tarfile.open("global.tar", "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "global", "uid": "77"})
i = tarfile.TarInfo("f"); i.size = 1; i.mtime = 1500000000.25
t.addfile(i, io.BytesIO(b"g"))
t.close()
EOF
mkdir -p other/gl
out=$("$RC" unpack global.tar other/gl 2>&1); ok $? "a global pax header is ignored ($out)"
is "$(stat -c %u:%.9Y:%.9X other/gl/f)" "0:1500000000.250000000:1500000000.250000000" "... and atime is mtime when the archive has none"

# ---- hostile and broken archives ----
mkdir -p h "$TMP/OUTSIDE"
echo secret > "$TMP/OUTSIDE/secret"
# mk NAME SPEC...: a pax tar from python's tarfile, which writes what it
# is told (SPEC: f:NAME:DATA, l:NAME:TARGET symlink, h:NAME:TARGET link).
mk () {
    python3 - "$@" <<'EOF'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
for spec in sys.argv[2:]:
    kind, name, arg = spec.split(":", 2)
    i = tarfile.TarInfo(name)
    data = None
    if kind == "f":
        data = arg.encode(); i.size = len(data)
    elif kind == "l":
        i.type = tarfile.SYMTYPE; i.linkname = arg
    elif kind == "h":
        i.type = tarfile.LNKTYPE; i.linkname = arg
    elif kind == "t":
        i.type = arg.encode()
    t.addfile(i, io.BytesIO(data) if data is not None else None)
t.close()
EOF
}
# unpack_fresh NAME ARCHIVE: unpacks into a new empty h/NAME
unpack_fresh () { rm -rf "h/$1"; mkdir -p "h/$1/dst"; "$RC" unpack "$2" "h/$1/dst"; }

mk escape.tar "f:../escape:x"
fails_with "member ../escape: refused" "^img-ramcopy: unpack escape.tar: member \.\./escape: refused, it leaves the target$" \
    unpack_fresh esc escape.tar
ok "$([ ! -e h/esc/escape ]; echo $?)" "... and nothing written above the target"
mk deep.tar "f:a/b/../../../escape:x"
fails_with "member a/b/../../../escape: refused" "member a/b/\.\./\.\./\.\./escape: refused, it leaves the target$" \
    unpack_fresh deep deep.tar
abs=img-tests-unpack-$$
mk abs.tar "f:/etc/$abs:absolute"
out=$(unpack_fresh abs abs.tar 2>&1); ok $? "an absolute name is taken below the target ($out)"
is "$(cat h/abs/dst/etc/$abs 2>&1)" "absolute" "... /etc/x lands in DST/etc/x"
ok "$([ ! -e /etc/$abs ]; echo $?)" "... and not in /etc"
rm -f "/etc/$abs"
mk symesc.tar "l:lnk:$TMP/OUTSIDE" "f:lnk/pwned:gotcha"
fails_with "a symlink member cannot lead a later member out" "^img-ramcopy: unpack symesc.tar: cannot create lnk/pwned: lnk is a symlink, refused to follow it$" \
    unpack_fresh symesc symesc.tar
ok "$([ ! -e "$TMP/OUTSIDE/pwned" ]; echo $?)" "... and $TMP/OUTSIDE/pwned does not exist"
mk symdeep.tar "l:a:." "f:a/a/a/x:y" "l:b:$TMP/OUTSIDE" "f:b/c/pwned:gotcha"
fails_with "a symlink to . is not followed either" "cannot create a/a/a/x: a is a symlink, refused to follow it$" \
    unpack_fresh symdeep symdeep.tar
mk symover.tar "l:lnk:$TMP/OUTSIDE/secret" "f:lnk:replaced"
out=$(unpack_fresh symover symover.tar 2>&1); ok $? "a file member replaces a symlink ($out)"
is "$(cat h/symover/dst/lnk) $(cat "$TMP/OUTSIDE/secret")" "replaced secret" "... without writing through it"
mk hardesc.tar "h:hl:../../OUTSIDE/secret"
fails_with "a hard link out of the target is refused" "member hl: \.\./\.\./OUTSIDE/secret refused, it leaves the target$" \
    unpack_fresh hardesc hardesc.tar
mk hardsym.tar "l:lnk:$TMP/OUTSIDE" "h:hl:lnk/secret"
fails_with "a hard link through a symlink is refused" "cannot create hl: lnk is a symlink, refused to follow it$" \
    unpack_fresh hardsym hardsym.tar
is "$(stat -c %h "$TMP/OUTSIDE/secret")" 1 "... and the file outside gained no link"
mk type7.tar "t:weird:7"
fails_with "an unknown member type is named" "member weird: unsupported type '7'$" unpack_fresh type7 type7.tar

size=$(stat -c %s a.tar)
head -c $((size / 2)) a.tar > cut.tar
fails_with "an archive cut in the middle: truncated" "^img-ramcopy: unpack cut.tar: truncated at byte [0-9]+$" unpack_fresh cut cut.tar
head -c $(($(stat -c %s a.tar.zst) / 2)) a.tar.zst > cut.tar.zst
fails_with "a zstd archive cut in the middle: truncated" "^img-ramcopy: unpack cut.tar.zst: truncated at byte [0-9]+$" \
    unpack_fresh cutz cut.tar.zst
head -c $(($(stat -c %s a.tar.gz) / 2)) a.tar.gz > cut.tar.gz
fails_with "a gzip archive cut in the middle: truncated" "^img-ramcopy: unpack cut.tar.gz: truncated at byte [0-9]+$" \
    unpack_fresh cutg cut.tar.gz
# The third header's name gets one byte changed: its checksum fails.
hdr=$(python3 - <<'EOF'
import sys
d = bytearray(open("a.tar", "rb").read())
hdrs = [o for o in range(0, len(d), 512) if d[o + 257:o + 265] == b"ustar\x0000"]
o = hdrs[2]
d[o + 1] ^= 0x20
open("badsum.tar", "wb").write(d)
print(o)
EOF
)
fails_with "a header with a bad checksum" "^img-ramcopy: unpack badsum.tar: corrupt header at byte $hdr$" unpack_fresh badsum badsum.tar
{ printf 'GARBAGE'; head -c 100000 /dev/urandom; } > garbage
fails_with "garbage" "^img-ramcopy: unpack garbage: not a tar archive$" unpack_fresh garbage garbage
: > empty
fails_with "an empty file" "^img-ramcopy: unpack empty: not a tar archive$" unpack_fresh empty empty
{ printf '\x28\xb5\x2f\xfd'; head -c 10000 /dev/urandom; } > garbage.zst
fails_with "zstd magic, then garbage" "^img-ramcopy: unpack garbage.zst: zstd: " unpack_fresh gz1 garbage.zst
{ printf '\x1f\x8b'; head -c 10000 /dev/urandom; } > garbage.gz
fails_with "gzip magic, then garbage" "^img-ramcopy: unpack garbage.gz: gzip: " unpack_fresh gz2 garbage.gz
python3 - <<'EOF'
import io, re, tarfile
t = tarfile.open("badpax.tar", "w", format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo("f"); i.pax_headers = {"comment": "x"}
t.addfile(i, io.BytesIO(b""))
t.close()
d = re.sub(rb"\d+ comment=x\n", b"99 comment=x\n", open("badpax.tar", "rb").read())
open("badpax.tar", "wb").write(d)
EOF
fails_with "a pax record longer than its header" "^img-ramcopy: unpack badpax.tar: corrupt pax header at byte 0$" unpack_fresh badpax badpax.tar
ok "$(find "$TMP/OUTSIDE" -mindepth 1 | grep -qv '/secret$'; [ $? -ne 0 ]; echo $?)" "nothing was written in $TMP/OUTSIDE"

# Mutated archives (bytes changed, cut, inserted; header checksums
# mostly fixed up so the damage reaches the fields): exit 0, or exit 1
# with one line; never a crash, never a file beside DST.
tar --format=posix --xattrs --xattrs-include='*' --sparse --sparse-version=1.0 --numeric-owner \
    -C src -cf seed.tar ./etc ./var/lib/sparse ./usr/passwd.link ./dev/fifo
mkdir -p fz
mount -t tmpfs -o size=64m tmpfs fz
at_exit "umount -l $TMP/fz 2>/dev/null"
python3 - "$RC" <<'EOF' > fuzz.out
import os, random, shutil, subprocess, sys
random.seed(20240501)
seed = open("seed.tar", "rb").read()
bad = 0
for it in range(300):
    d = bytearray(seed)
    for _ in range(random.randint(1, 6)):
        p, r = random.randrange(len(d)), random.random()
        if r < 0.6:
            d[p] = random.randrange(256)
        elif r < 0.8:
            d[p] = random.choice(b"0123456789 \n=/.")
        elif r < 0.9:
            del d[p:p + random.randint(1, 600)]
        else:
            d[p:p] = os.urandom(random.randint(1, 64))
    if random.random() < 0.8:
        for o in range(0, len(d) - 511, 512):
            if d[o + 257:o + 262] == b"ustar":
                d[o + 148:o + 156] = b"        "
                d[o + 148:o + 156] = b"%06o\0 " % (sum(d[o:o + 512]) & 0o777777)
    shutil.rmtree("fz/w", ignore_errors=True)
    os.makedirs("fz/w/dst")
    open("fz/in", "wb").write(d)
    pr = subprocess.run([sys.argv[1], "unpack", "fz/in", "fz/w/dst"], capture_output=True, timeout=60)
    lines = pr.stderr.decode(errors="replace").splitlines()
    good = (pr.returncode == 0 and not lines) or \
        (pr.returncode == 1 and len(lines) == 1 and lines[0].startswith("img-ramcopy: unpack fz/in: "))
    if not good or os.listdir("fz/w") != ["dst"]:
        bad += 1
        open("fuzz-bad-%d" % it, "wb").write(d)
        print("# case %d: exit %d: %s" % (it, pr.returncode, " | ".join(lines)[:300]))
print(bad)
EOF
is "$(tail -1 fuzz.out)" 0 "300 mutated archives: exit 0 or one error line, nothing beside DST"
grep '^#' fuzz.out | head -10

# A full tmpfs: the reason, and the member.
head -c 3M /dev/urandom > big
tar --format=posix -cf big.tar big
mkdir -p small
mount -t tmpfs -o size=1m tmpfs small
at_exit "umount -l $TMP/small 2>/dev/null"
fails_with "a full target names the member and the reason" "^img-ramcopy: unpack big.tar: cannot create big: No space left on device$" \
    "$RC" unpack big.tar small

"$RC" unpack a.tar > /dev/null 2>&1; is $? 2 "unpack without DST: usage, exit 2"
fails_with "DST missing" "^img-ramcopy: unpack a.tar: $TMP/nonexistent: No such file or directory$" "$RC" unpack a.tar "$TMP/nonexistent"
done_testing
