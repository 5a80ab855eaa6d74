#!/bin/bash
# Regenerates the seed corpus of tests/fuzz-tar (the files in tar-corpus/
# are committed; run this only to change them):
#   sudo tests/fuzz/mktarcorpus.sh [DIR]
# Small archives (at most 64 KiB each, well under 1 MiB together) that
# reach every branch of img-ramcopy's tar reader: GNU tar's pax output as
# img-ramify's boot unpacks it (plain, gzip, zstd; hard links, symlinks, a
# device node, a fifo, an xattr, a sparse 1.0 file, a long name, the
# global header with the tmpfs size), gzip members and zstd frames
# split mid-archive, and hostile or broken ones crafted with python:
# names and links out of the target, symlinks to walk through, headers
# with bad checksums or pax records, truncation, garbage.  Root is
# needed for the device node and the owners.
set -eu

out=${1:-$(cd "$(dirname "$0")" && pwd)/tar-corpus}
[ "$(id -u)" = 0 ] || { echo "$0: needs root (mknod, chown)" >&2; exit 1; }
for t in tar gzip zstd python3 setfattr; do
    command -v $t >/dev/null || { echo "$0: needs $t" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
rm -f "$out"/*

# Fixed names for the extended headers (the defaults hold the pid) and no
# atime/ctime records, so that the same tree gives the same bytes (but for
# the pid GNU tar puts in a sparse member's ustar name); 512-byte
# records (-b 1), not 10 KiB ones, so that the seeds stay small.
paxopt='exthdr.name=%d/PaxHeaders/%f,globexthdr.name=pax_global_header,delete=atime,delete=ctime'
gtar () {
    tar -b 1 --format=posix --xattrs --xattrs-include='*' --sparse --sparse-version=1.0 \
        --numeric-owner --sort=name --pax-option="$paxopt" "$@"
}

# ---- GNU tar: one of everything the boot's archive holds ---------------------

t=$work/tree
mkdir -p $t/etc $t/dev $t/var
printf 'root:x:0:0:root:/root:/bin/sh\n' >$t/etc/passwd
chmod 644 $t/etc/passwd
setfattr -n user.seed -v 'an xattr' $t/etc/passwd
printf 'motd\n' >$t/etc/motd; chown 1000:1001 $t/etc/motd; chmod 4750 $t/etc/motd
ln $t/etc/passwd $t/etc/passwd.hard
ln -s passwd $t/etc/passwd.link
ln -s /nonexistent/target $t/etc/dangling
mknod $t/dev/null c 1 3
mkfifo $t/dev/fifo
# 64 KiB apparent, two 4 KiB islands.
printf 'island one' | dd of=$t/var/sparse bs=4k seek=2 conv=notrunc status=none
printf 'island two' | dd of=$t/var/sparse bs=4k seek=10 conv=notrunc status=none
truncate -s 64K $t/var/sparse
long=$t/var/a-directory-with-a-rather-long-name/and-another-one-below-it-also-rather-long
mkdir -p "$long"
printf 'deep\n' >"$long/and-a-file-whose-path-is-well-over-a-hundred-bytes.txt"
find $t -exec touch -h -d '2026-11-23 12:34:56.123456789' {} +

gtar -C $t -cf "$out/tree.tar" .
gzip -n -c "$out/tree.tar" >"$out/tree.tar.gz"
zstd -q -c "$out/tree.tar" >"$out/tree.tar.zst"
# img-ramify's archive: a global header first, with the tmpfs size.
gtar --pax-option='comment=img-ramify tmpfs-bytes=12345' -C $t -cf - . | zstd -q -c >"$out/ramify.tar.zst"
gtar --pax-option='comment=img-ramify tmpfs-bytes=12345' -C $t/etc -cf "$out/ramify-etc.tar" .
gtar -C $t/var -cf "$out/sparse.tar" sparse
# The same archive as two gzip members and as two zstd frames, split
# in the middle of a member's data.
head -c 3000 "$out/tree.tar" | gzip -n -c >"$out/tree-2members.tar.gz"
tail -c +3001 "$out/tree.tar" | gzip -n -c >>"$out/tree-2members.tar.gz"
head -c 3000 "$out/tree.tar" | zstd -q -c >"$out/tree-2frames.tar.zst"
tail -c +3001 "$out/tree.tar" | zstd -q -c >>"$out/tree-2frames.tar.zst"
# Cut short: inside a member, and inside the compressed stream.
head -c 2500 "$out/tree.tar" >"$out/truncated.tar"
half=$(( $(wc -c <"$out/tree.tar.zst") / 2 ))
head -c $half "$out/tree.tar.zst" >"$out/truncated.tar.zst"
half=$(( $(wc -c <"$out/tree.tar.gz") / 2 ))
head -c $half "$out/tree.tar.gz" >"$out/truncated.tar.gz"
# What the reader refuses: GNU's own format (an 'L' long name), sparse 0.1.
tar -b 1 --format=gnu --numeric-owner --exclude=./var/sparse -C $t -cf "$out/gnu-format.tar" ./var
tar -b 1 --format=posix --sparse --sparse-version=0.1 --numeric-owner \
    --pax-option="$paxopt" -C $t/var -cf "$out/sparse-0.1.tar" sparse

# ---- crafted: hostile and broken archives ------------------------------------

python3 - "$out" <<'EOF'
import os, random, sys

out = sys.argv[1]

def num(v, n):
    return ("%0*o" % (n - 1, v)).encode() + b"\0"

def header(name, typ=b"0", size=0, link=b"", mode=0o644, major=0, minor=0,
           magic=b"ustar\x0000", chksum=None):
    h = bytearray(512)
    h[0:100] = name.ljust(100, b"\0")[:100]
    h[100:108] = num(mode, 8)
    h[108:116] = num(0, 8)
    h[116:124] = num(0, 8)
    h[124:136] = num(size, 12)
    h[136:148] = num(1795437296, 12)
    h[156:157] = typ
    h[157:257] = link.ljust(100, b"\0")[:100]
    h[257:265] = magic
    h[329:337] = num(major, 8)
    h[337:345] = num(minor, 8)
    h[148:156] = b" " * 8
    s = sum(h) if chksum is None else chksum
    h[148:156] = ("%06o" % s).encode() + b"\0 "
    return bytes(h)

def data(b):
    return b + b"\0" * (-len(b) % 512)

def member(name, typ=b"0", body=b"", **kw):
    return header(name, typ, len(body), **kw) + data(body)

def pax(records, typ=b"x", name=b"PaxHeaders/x"):
    body = b""
    for k, v in records:
        rec = b" " + k + b"=" + v + b"\n"
        n = len(rec) + 1
        while len(str(n).encode() + rec) != n:
            n += 1
        body += str(n).encode() + rec
    return member(name, typ, body)

def raw_pax(body, typ=b"x"):
    return member(b"PaxHeaders/x", typ, body)

END = b"\0" * 1024

def save(name, *parts):
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"".join(parts))

# Names and links that would leave the target.
save("escape-dotdot.tar", member(b"../escape", body=b"out\n"), END)
save("escape-dotdot-deep.tar", member(b"ok/../../../escape", body=b"out\n"), END)
save("escape-pax-path.tar", pax([(b"path", b"a/../../escape")]), member(b"harmless", body=b"x"), END)
save("absolute.tar", member(b"/absolute", body=b"in\n"), member(b"//etc/./x", body=b"in\n"), END)
save("escape-symlink-dir.tar", member(b"lnk", b"2", link=b"../../.."),
     member(b"lnk/escape", body=b"out\n"), END)
save("escape-symlink-abs.tar", member(b"lnk", b"2", link=b"/"),
     member(b"lnk/tmp/escape", body=b"out\n"), END)
save("escape-hardlink.tar", member(b"h", b"1", link=b"../x"), END)
save("escape-hardlink-symlink.tar", member(b"s", b"2", link=b"/etc"),
     member(b"h", b"1", link=b"s/passwd"), END)
# Replacing a symlink, or a hard link to one, must not write through it.
save("symlink-then-file.tar", member(b"f", b"2", link=b"../../../sentinel/pwned"),
     member(b"f", body=b"replaced\n"), END)
save("hardlink-symlink-then-file.tar", member(b"s", b"2", link=b"../../../sentinel/pwned"),
     member(b"h", b"1", link=b"s"), member(b"h", body=b"replaced\n"), END)
save("symlink-then-dir.tar", member(b"d", b"2", link=b"../../../sentinel"),
     member(b"d", b"5", mode=0o755), member(b"d/x", body=b"in\n"), END)
save("dot-file.tar", member(b"./", b"0", body=b"x"), END)
save("dot-dir.tar", member(b"./", b"5", mode=0o750), member(b"x", body=b"x"), END)
save("link-self.tar", member(b"a", body=b"a"), member(b"a", b"1", link=b"a"), END)
save("link-missing.tar", member(b"h", b"1", link=b"nowhere"), END)
save("empty-link.tar", member(b"s", b"2", link=b""), END)

# Broken headers.
good = member(b"file", body=b"data\n")
save("bad-checksum.tar", header(b"file", size=5, chksum=1) + data(b"data\n"), END)
save("bad-checksum-second.tar", good, header(b"second", chksum=7), END)
save("bad-magic-second.tar", good, header(b"second", magic=b"xxxxx\x0000"), END)
save("bad-type.tar", member(b"v", b"V"), END)
save("bad-size.tar", header(b"file")[:124] + b"9" * 12 + header(b"file")[136:], END)
save("no-end.tar", good)
save("one-block.tar", good[:512])
save("zeros.tar", END)
save("empty.tar")
rng = random.Random(1)
save("garbage.bin", bytes(rng.randrange(256) for _ in range(4096)))
save("garbage-magic.tar.zst", b"\x28\xb5\x2f\xfd" + bytes(rng.randrange(256) for _ in range(600)))
save("garbage-magic.tar.gz", b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(600)))

# pax records: good ones of every kind, then broken ones.
save("pax-records.tar",
     pax([(b"path", b"renamed/" + b"n" * 150), (b"uid", b"3000000000"), (b"gid", b"4294967294"),
          (b"mtime", b"-1.5"), (b"atime", b"1700000000.123456789123"), (b"size", b"3"),
          (b"SCHILY.xattr.user.bin", b"\0\n\xff"), (b"comment", b"ignored")]),
     member(b"short", body=b"abc"),
     pax([(b"linkpath", b"renamed/" + b"n" * 150)]), member(b"hl", b"1", link=b"x"),
     pax([(b"linkpath", b"/a/symlink/target/" + b"t" * 120)]), member(b"sl", b"2", link=b"x"),
     member(b"blk", b"4", major=8, minor=1), member(b"chr", b"3", major=1, minor=5),
     member(b"fifo", b"6"),
     END)
save("pax-global.tar", pax([(b"comment", b"img-ramify tmpfs-bytes=999999999999")], b"g",
                           b"pax_global_header"), good, END)
save("pax-global-nosize.tar", pax([(b"comment", b"something else")], b"g"), good, END)
save("pax-bad-length.tar", raw_pax(b"99 path=x\n"), good, END)
save("pax-no-newline.tar", raw_pax(b"10 path=xy"), good, END)
save("pax-no-equals.tar", raw_pax(b"9 pathxy\n"), good, END)
save("pax-nul-path.tar", raw_pax(b"12 path=a\0b\n"), good, END)
save("pax-bad-uid.tar", pax([(b"uid", b"4294967295")]), good, END)
save("pax-bad-mtime.tar", pax([(b"mtime", b"12.")]), good, END)
save("pax-bad-size.tar", pax([(b"size", b"9223372036854775808")]), good, END)
save("pax-huge.tar", header(b"PaxHeaders/x", b"x", size=1 << 30), END)
save("pax-xattr-empty-name.tar", pax([(b"SCHILY.xattr.", b"v")]), good, END)
save("pax-xattr-bad-ns.tar", pax([(b"SCHILY.xattr.nonsense.x", b"v")]), good, END)
sparse_map = b"2\n0\n3\n10\n2\n"
save("sparse-handmade.tar",
     pax([(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"),
          (b"GNU.sparse.name", b"holey"), (b"GNU.sparse.realsize", b"12")]),
     member(b"PaxHeaders/holey", body=data(sparse_map) + b"abcde"), END)
save("sparse-bad-map.tar",
     pax([(b"GNU.sparse.major", b"1"), (b"GNU.sparse.minor", b"0"),
          (b"GNU.sparse.name", b"holey"), (b"GNU.sparse.realsize", b"12")]),
     member(b"PaxHeaders/holey", body=data(b"2\n5\n3\n0\n2\n") + b"abcde"), END)
save("sparse-2.0.tar",
     pax([(b"GNU.sparse.major", b"2"), (b"GNU.sparse.minor", b"0"),
          (b"GNU.sparse.realsize", b"1")]), good, END)
EOF

ls -l "$out" | awk 'NR > 1 { n++; s += $5; if ($5 > 65536) big++ }
    END { printf "%d files, %d bytes%s\n", n, s, big ? ", TOO BIG: " big : "" }'
