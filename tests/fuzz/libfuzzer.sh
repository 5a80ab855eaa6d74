#!/bin/bash
# Builds tests/fuzz-replay.c as a libFuzzer target (clang, ASan + UBSan)
# and fuzzes the partition-table, probe, md and LVM code with it:
#   tests/fuzz/libfuzzer.sh [SECONDS] [WORKDIR]
# Run from a configured build tree (it needs its config.h); clang and
# libclang-rt-NN-dev provide -fsanitize=fuzzer.  New inputs go to
# WORKDIR/corpus (seeded from tests/fuzz/corpus), crashes to WORKDIR/crashes;
# a crash that is fixed belongs in tests/fuzz/corpus, so that make check
# replays it from then on.
set -eu

secs=${1:-300}
work=${2:-fuzz-work}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(pwd)
lib=$srcdir/src/libimg

[ -f "$builddir/config.h" ] || { echo "$0: run me from a configured build tree" >&2; exit 1; }
mkdir -p "$work/corpus" "$work/crashes"

# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (the usual name) lets mutated
# input past checksums.  Only the code under test is instrumented for coverage, and all of it:
# libimg.a from the build is compiled without -fsanitize=fuzzer.
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DIMG_FUZZ_LIBFUZZER -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -I"$builddir" -I"$lib" \
    "$srcdir/tests/fuzz-replay.c" \
    "$lib/base/ctx.c" "$lib/base/crc.c" "$lib/disk/disk.c" "$lib/disk/nbd.c" "$lib/volume/volume.c" \
    "$lib/volume/mbr.c" "$lib/volume/gpt.c" "$lib/volume/ptable.c" "$lib/volume/probe.c" \
    "$lib/volume/probe-ntfs.c" "$lib/volume/probe-iso.c" "$lib/volume/utf16.c" \
    "$lib/volume/lvm.c" "$lib/volume/lvm-label.c" "$lib/volume/lvm-vg.c" "$lib/volume/lvmconf.c" \
    "$lib/volume/md-super.c" "$lib/volume/md.c" "$lib/disk/container.c" "$lib/base/quote.c" "$lib/base/json.c" \
    $(pkg-config --libs libnbd zlib) -o "$work/fuzz-libfuzzer"

exec "$work/fuzz-libfuzzer" -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -use_value_profile=1 -dict="$srcdir/tests/fuzz/img.dict" \
    -artifact_prefix="$work/crashes/" -print_final_stats=1 \
    "$work/corpus" "$srcdir/tests/fuzz/corpus"
