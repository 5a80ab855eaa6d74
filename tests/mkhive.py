#!/usr/bin/python3
# Writes an empty Windows registry hive (regf): the header, one 4 KiB
# hive bin holding the root key, its security record and a free cell.
# hivexregedit --merge then fills it (hivex cannot start from nothing).
# Usage: mkhive.py FILE
import struct, sys

def cell(payload):
    size = (len(payload) + 4 + 7) & ~7
    return struct.pack("<i", -size) + payload + b"\0" * (size - 4 - len(payload))

NONE = 0xffffffff
root_off, name = 0x20, b"ROOT"
sd = struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0)  # self-relative, null DACL
nk = struct.pack("<2sHQIIIIIIIIIIHHIIIIHH", b"nk", 0x2c, 0, 0, 0, 0, 0,
                 NONE, NONE, 0, NONE, 0, NONE, 0, 0, 0, 0, 0, 0,
                 len(name), 0) + name
sk_off = root_off + len(cell(nk))
nk = nk[:44] + struct.pack("<I", sk_off) + nk[48:]
sk = struct.pack("<2sHIIII", b"sk", 0, sk_off, sk_off, 1, len(sd)) + sd
cells = cell(nk) + cell(sk)
free = 0x1000 - 0x20 - len(cells)
hbin = struct.pack("<4sIIIIQI", b"hbin", 0, 0x1000, 0, 0, 0, 0) + cells \
    + struct.pack("<i", free) + b"\0" * (free - 4)
assert len(hbin) == 0x1000
hdr = bytearray(0x1000)
struct.pack_into("<4sIIQIIIIIII", hdr, 0, b"regf", 1, 1, 0, 1, 3, 0, 1,
                 root_off, 0x1000, 1)
csum = 0
for i in range(0, 0x1fc, 4):
    csum ^= struct.unpack_from("<I", hdr, i)[0]
struct.pack_into("<I", hdr, 0x1fc, csum)
with open(sys.argv[1], "wb") as f:
    f.write(bytes(hdr) + hbin)
