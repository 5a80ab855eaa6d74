#!/bin/bash
# img-batch's scaling: the same images with -j 1 and with -j 2.
#
# Usage: sudo bench/batch.sh [--images N] [--tool img2pv|img-inspect] [--pin WHEN]
#   --images N  how many images (default 20)
#   --tool T    img2pv (default): a real conversion of each image;
#               img-inspect: a read-only inspection
#   --pin WHEN  img-batch's --pin for both runs (default: its own, auto)
#
# The images are qcow2 overlays over the cached test guest mbr-plain-hvm
# (tests/guests/guests.sh), made fresh for each run outside the timed part,
# so every run converts N untouched guests (img2pv writes into the overlay,
# through qemu-nbd, as it would into any qcow2).  Each run is
#   img-batch -q -j J [--pin WHEN] -o OUT -m MANIFEST TOOL --allow-backing [--no-xl-config]
# timed with `date +%s.%N`; every image must come out converted (or
# inspected).  Prints both times and the ratio, and writes them as JSON to
# bench/results/batch-DATE.json.  Everything lives in a temporary directory
# under /var/tmp, removed at exit.  What runs is a copy of the built
# programs (bench_snapshot), as installed: img-batch runs the img2pv next to
# it, not libtool's wrapper script, which costs a shell and four processes
# per image that no installed img-batch pays.
set -euo pipefail

prog=batch.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

images=20
tool=img2pv
pin=
while [ $# -gt 0 ]; do
    case $1 in
        --images) images=${2:?}; shift 2 ;;
        --tool) tool=${2:?}; shift 2 ;;
        --pin) pin=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
done
case $tool in img2pv|img-inspect) ;; *) die "--tool img2pv or img-inspect" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (the test guests)"
[ -x "$top/src/img-batch" ] || die "src/img-batch is missing: build first (make -j2)"
command -v qemu-img >/dev/null || die "qemu-img is missing"
command -v jq >/dev/null || die "jq is missing"
dir=$(bash "$top/tests/guests/guests.sh") || die "could not build the test guests"
base=$dir/mbr-plain-hvm.qcow2
bench_tmpdir img-batch-bench
work=$tmp
bench_snapshot img-batch img2pv img-inspect

opts=(--allow-backing)
[ "$tool" = img2pv ] && opts+=(--no-xl-config)
want=converted
[ "$tool" = img-inspect ] && want=inspected

# run J: prints the wall time of img-batch -j J over fresh overlays.
run () {
    local j=$1 t0 t1 done
    rm -rf "$work/imgs" "$work/out.$j"
    mkdir "$work/imgs"
    : > "$work/manifest"
    for ((i = 1; i <= images; i++)); do
        qemu-img create -q -f qcow2 -b "$base" -F qcow2 "$work/imgs/g$i.qcow2"
        echo "imgs/g$i.qcow2" >> "$work/manifest"
    done
    sync
    t0=$(date +%s.%N)
    run_tool img-batch -q -j "$j" ${pin:+--pin "$pin"} -o "$work/out.$j" -m "$work/manifest" "$tool" "${opts[@]}" > "$work/table.$j" \
        || die "img-batch -j $j failed: $(cat "$work/table.$j")"
    t1=$(date +%s.%N)
    done=$(jq -r ".counts[\"$want\"]" "$work/out.$j/summary.json")
    [ "$done" = "$images" ] || die "-j $j: $done of $images images $want"
    echo "$t0 $t1" | awk '{ printf "%.2f\n", $2 - $1 }'
}

t1=$(run 1)
t2=$(run 2)
ratio=$(echo "$t1 $t2" | awk '{ printf "%.2f\n", $1 / $2 }')
printf '%-8s %8s\n' jobs seconds
printf '%-8s %8s\n' "-j 1" "$t1" "-j 2" "$t2"
echo "$images images, $tool, $(nproc) cores, --pin ${pin:-auto}: -j 2 is ${ratio}x -j 1 (target >= 1.8x)"
mkdir -p "$here/results"
out=$here/results/batch-$(date +%Y-%m-%dT%H%M%S).json
jq -n --arg tool "$tool" --arg pin "${pin:-auto}" --argjson images "$images" --argjson cores "$(nproc)" \
   --argjson j1 "$t1" --argjson j2 "$t2" --argjson ratio "$ratio" \
   '{tool: $tool, pin: $pin, images: $images, cores: $cores, seconds: {"1": $j1, "2": $j2}, ratio: $ratio}' > "$out"
echo "$prog: wrote $out" >&2
