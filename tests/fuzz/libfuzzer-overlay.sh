#!/bin/bash
# Builds tests/fuzz-overlay.c as a libFuzzer target (clang, ASan + UBSan)
# and fuzzes the qcow2 overlay reader (disk/overlay.c) with it:
#   tests/fuzz/libfuzzer-overlay.sh [SECONDS] [WORKDIR]
# Run from a configured build tree (it needs its config.h); clang and
# libclang-rt-NN-dev provide -fsanitize=fuzzer.  New inputs go to
# WORKDIR/overlay-corpus (seeded from tests/fuzz/overlay-corpus), crashes
# to WORKDIR/overlay-crashes; a crash that is fixed belongs in
# tests/fuzz/overlay-corpus, so that make check replays it from then on.
set -eu

secs=${1:-300}
work=${2:-fuzz-work}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(pwd)
lib=$srcdir/src/libimg

[ -f "$builddir/config.h" ] || { echo "$0: run me from a configured build tree" >&2; exit 1; }
mkdir -p "$work/overlay-corpus" "$work/overlay-crashes"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DIMG_FUZZ_LIBFUZZER -I"$builddir" -I"$lib" \
    "$srcdir/tests/fuzz-overlay.c" \
    "$lib/disk/overlay.c" "$lib/disk/disk.c" "$lib/disk/container.c" "$lib/disk/nbd.c" \
    "$lib/base/ctx.c" "$lib/base/fdio.c" "$lib/base/json.c" "$lib/base/quote.c" \
    $(pkg-config --libs libnbd) -o "$work/fuzz-overlay-libfuzzer"

# The target rewrites one file per input under /tmp (the reader opens
# overlays by name, with O_NOFOLLOW): removed when the run ends.
trap 'rm -f /tmp/img-fuzz-overlay.*' EXIT
"$work/fuzz-overlay-libfuzzer" -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -use_value_profile=1 \
    -artifact_prefix="$work/overlay-crashes/" -print_final_stats=1 \
    "$work/overlay-corpus" "$srcdir/tests/fuzz/overlay-corpus"
