#!/usr/bin/python3
# Writes the headers of a PE console program, as file(1) and the loader
# read them: the MZ stub, "PE\0\0", the COFF header (MACHINE) and an
# optional header (PE32 or PE32+), padded to 4 KiB.  No code: enough for
# a Windows fixture's cmd.exe.  LFANEW, if given, is written as the PE
# header's offset whatever it is (a hostile header).
# Usage: mkpe.py FILE MACHINE [LFANEW]    (MACHINE: 0x8664, 0x14c, ...)
import struct, sys

path, machine = sys.argv[1], int(sys.argv[2], 0)
lfanew = 0x80
plus = machine in (0x8664, 0xaa64)
b = bytearray(4096)
b[0:2] = b"MZ"
struct.pack_into("<I", b, 0x3c, int(sys.argv[3], 0) if len(sys.argv) > 3 else lfanew)
opt_size = 240 if plus else 224
struct.pack_into("<4sHHIIIHH", b, lfanew, b"PE\0\0", machine, 1, 0, 0, 0,
                 opt_size, 0x0102 | (0 if plus else 0x0100))
o = lfanew + 24
struct.pack_into("<H", b, o, 0x20b if plus else 0x10b)
struct.pack_into("<H", b, o + 68, 3)          # subsystem: Windows console
open(path, "wb").write(bytes(b))
