#!/bin/bash
# Builds tests/fuzz-tar.c as a libFuzzer target (clang, ASan + UBSan) and
# fuzzes img-ramcopy's tar reader (unpack, archive-size) with it:
#   tests/fuzz/libfuzzer-tar.sh [SECONDS] [WORKDIR]
# Run from a configured build tree (it needs its config.h), as root (the
# unpack sets owners and makes device nodes); clang and libclang-rt-NN-dev
# provide -fsanitize=fuzzer.  New inputs go to WORKDIR/corpus (seeded from
# tests/fuzz/tar-corpus), crashes to WORKDIR/crashes; a crash that is fixed
# belongs in tests/fuzz/tar-corpus as crash-*, so that make check replays
# it from then on.
set -eu

secs=${1:-300}
work=${2:-fuzz-tar-work}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(pwd)

[ -f "$builddir/config.h" ] || { echo "$0: run me from a configured build tree" >&2; exit 1; }
mkdir -p "$work/corpus" "$work/crashes"

# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION lets mutated headers past the
# tar checksum.  The harness frees what an error leaves (see fuzz-tar.c),
# so leak detection stays on: a leak on a successful unpack is a bug.
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DIMG_FUZZ_LIBFUZZER -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -I"$builddir" \
    -I"$srcdir/src/libimg" "$srcdir/tests/fuzz-tar.c" "$srcdir/src/libimg/base/fdio.c" \
    $(pkg-config --cflags --libs libzstd zlib) -o "$work/fuzz-tar-libfuzzer"

exec "$work/fuzz-tar-libfuzzer" -max_total_time="$secs" -max_len=65536 -timeout=20 \
    -rss_limit_mb=2048 -use_value_profile=1 -dict="$srcdir/tests/fuzz/tar.dict" \
    -artifact_prefix="$work/crashes/" -print_final_stats=1 \
    "$work/corpus" "$srcdir/tests/fuzz/tar-corpus"
