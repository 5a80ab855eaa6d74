#!/usr/bin/python3
# mkcpio-many.py N: a newc archive of N empty files (names f/0000000...)
# on stdout, fast: the tiny-member bomb of tests/hostile/mk-bombs.sh.
import sys

def hdr(ino, mode, name, size=0, nlink=1):
    name = name.encode() + b"\0"
    h = b"070701" + b"".join(b"%08X" % v for v in (
        ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name), 0))
    h += name
    h += b"\0" * (-len(h) % 4)
    return h

n = int(sys.argv[1])
out = sys.stdout.buffer
chunks = [hdr(1, 0o40755, "f", nlink=2)]
for i in range(n):
    chunks.append(hdr(i + 2, 0o100644, "f/%07x" % i))
    if len(chunks) >= 65536:
        out.write(b"".join(chunks))
        chunks = []
chunks.append(hdr(0, 0, "TRAILER!!!"))
data = b"".join(chunks)
data += b"\0" * (-len(data) % 512)
out.write(data)
