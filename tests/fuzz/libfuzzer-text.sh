#!/bin/bash
# Builds tests/fuzz-text.c as the libFuzzer target for one text parser
# (clang, ASan + UBSan) and fuzzes it:
#   tests/fuzz/libfuzzer-text.sh TARGET SECONDS|-runs=N [WORKDIR]
# TARGET: grub2 grub-legacy bls extlinux fstab release modules-dep
# modules-builtin textconf udev-rules ifcfg grubenv.  Run from a configured build
# tree (it needs its config.h); clang and libclang-rt-14-dev provide
# -fsanitize=fuzzer.  New inputs go to WORKDIR/corpus (seeded from
# tests/fuzz/text-corpus/TARGET), crashes to WORKDIR/crashes; a crash that
# is fixed is kept as tests/fuzz/text-corpus/TARGET/crash-*, so that make
# check replays it from then on.  One job, -timeout=10 and
# -rss_limit_mb=512: the parsers must be linear-ish and small.  Inputs are
# at most FUZZ_MAX_LEN bytes (8192: small inputs run fast; the 64 KiB
# seeds still run in the replay).
set -eu

target=${1:?usage: $0 TARGET SECONDS|-runs=N [WORKDIR]}
budget=${2:-300}
work=${3:-fuzz-text-work/$target}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=$(pwd)
lib=$srcdir/src/libimg
seeds=$srcdir/tests/fuzz/text-corpus/$target

[ -f "$builddir/config.h" ] || { echo "$0: run me from a configured build tree" >&2; exit 1; }
[ -d "$seeds" ] || { echo "$0: no seed corpus $seeds (tests/fuzz/mktextcorpus.sh)" >&2; exit 1; }
case $budget in
    -runs=*) limit=("$budget") ;;
    *) limit=(-max_total_time="$budget") ;;
esac
# FUZZ_MAX_TIME=S caps a -runs=N run at S seconds too.
[ -z "${FUZZ_MAX_TIME:-}" ] || limit+=(-max_total_time="$FUZZ_MAX_TIME")
mkdir -p "$work/corpus" "$work/crashes"

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DIMG_FUZZ_LIBFUZZER -DFUZZ_TARGET="\"$target\"" -I"$builddir" -I"$lib" \
    "$srcdir/tests/fuzz-text.c" \
    "$lib/base/ctx.c" "$lib/text/bootcfg.c" "$lib/text/fstab.c" "$lib/text/kmod.c" "$lib/text/textconf.c" \
    "$lib/text/netrules.c" "$lib/text/release.c" "$lib/text/osrelease.c" "$lib/text/distro.c" "$lib/base/quote.c" \
    "$lib/text/grubenv.c" "$lib/base/strbuf.c" "$lib/base/keys.c" \
    -o "$work/fuzz-text-$target"

# With -jobs, libFuzzer's worker logs to fuzz-0.log in the current
# directory: that is WORKDIR.
seeds=$(cd "$seeds" && pwd)
cd "$work"
exec "./fuzz-text-$target" "${limit[@]}" -jobs=1 -max_len="${FUZZ_MAX_LEN:-8192}" -timeout=10 \
    -rss_limit_mb=512 -use_value_profile=1 -dict="$srcdir/tests/fuzz/text.dict" \
    -artifact_prefix=crashes/ -print_final_stats=1 \
    corpus "$seeds"
