#!/bin/bash
# Writes the seed corpus of tests/fuzz-overlay (tests/fuzz/overlay-corpus/):
# qcow2 overlays as qemu-img and qemu-io make them over a 1 MiB raw image
# (data, zero and partly written clusters; version 2 and 3; 512-byte and
# 4 KiB clusters) and damaged copies of them (the fields the reader must
# refuse).  Crash inputs found by libFuzzer (crash-*) are kept beside them
# and are not touched here.
#   tests/fuzz/mkovlcorpus.sh [OUTDIR]
set -eu
out=${1:-$(cd "$(dirname "$0")" && pwd)/overlay-corpus}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
truncate -s 1M "$tmp/base.raw"

# mk NAME CREATE-OPTIONS QEMU-IO-COMMANDS...
mk () {
    local name=$1 opts=$2; shift 2
    local args=() c
    rm -f "$tmp/o.qcow2"
    qemu-img create -q -f qcow2 -o "$opts" -F raw -b "$tmp/base.raw" "$tmp/o.qcow2"
    for c in "$@"; do args+=(-c "$c"); done
    [ $# -eq 0 ] || qemu-io -f qcow2 "${args[@]}" "$tmp/o.qcow2" >/dev/null
    cp "$tmp/o.qcow2" "$out/$name"
}
# patch NAME FROM OFFSET BYTES(printf %b)
patch () {
    cp "$out/$2" "$out/$1"
    printf '%b' "$4" | dd of="$out/$1" bs=1 seek="$3" conv=notrunc status=none
}
be64 () { od -An -tx1 -j "$2" -N 8 "$1" | tr -d ' \n'; }

mk empty.qcow2 cluster_size=4096
mk data.qcow2 cluster_size=4096 'write -P 0xab 64k 8k' 'write -z 0 4k' 'write -P 0xcd 200000 700'
mk zero.qcow2 cluster_size=4096 'write -z 0 64k'
mk v2.qcow2 cluster_size=4096,compat=0.10 'write -P 0xab 4k 4k' 'write -P 0 8k 4k'
mk c512.qcow2 cluster_size=512 'write -P 0x11 1000 3000' 'write -z 8k 1k'
mk tail.qcow2 cluster_size=4096 'write -P 0x77 1044480 4096'

l1=$((16#$(be64 "$out/data.qcow2" 40)))
l2=$((16#$(be64 "$out/data.qcow2" "$l1") & 16#00fffffffffffe00))
e=$((l2 + 16 * 8))                             # guest 64k
patch bad-l1-offset.qcow2 data.qcow2 40 '\0\0\0\1\0\0\0\0'
patch bad-l1-entry.qcow2 data.qcow2 "$l1" '\200\0\0\1\0\0\0\0'
patch bad-l2-entry.qcow2 data.qcow2 "$e" '\200\0\0\1\0\0\0\0'
patch compressed.qcow2 data.qcow2 "$e" '\100'
patch reserved.qcow2 data.qcow2 $((e + 7)) '\2'
patch size-huge.qcow2 data.qcow2 24 '\377\377\377\377\377\377\360\0'
patch size-zero.qcow2 data.qcow2 24 '\0\0\0\0\0\0\0\0'
patch corrupt.qcow2 data.qcow2 79 '\2'
patch extl2.qcow2 data.qcow2 79 '\20'
patch encrypted.qcow2 data.qcow2 35 '\1'
patch cluster-bits.qcow2 data.qcow2 23 '\77'
patch l1-size.qcow2 data.qcow2 36 '\0\0\0\0'
patch header-length.qcow2 data.qcow2 100 '\0\0\0\1'
cp "$out/data.qcow2" "$out/truncated.qcow2"
truncate -s $(( $(stat -c %s "$out/data.qcow2") - 4096 )) "$out/truncated.qcow2"
head -c 60 "$out/data.qcow2" > "$out/short.qcow2"
