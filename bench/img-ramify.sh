#!/bin/bash
# Benchmark img-ramify, and its root archive against the ways people make
# one by hand.
#
# Usage: sudo bench/img-ramify.sh [--runs N]
#   --runs N    repetitions per method (default 3); the median is reported
#
# Methods, each on a fresh sparse copy of the test guest mbr-plain
# (tests/guests/guests.sh: raw 3 GiB, /boot on p1, / on p2), the copy made
# outside the timed part:
#   img-ramify              img-ramify --no-undo IMAGE (ramboot initrd and
#                           GRUB entry; the RAM boot copies file by file)
#   img-ramify --archive=gzip   ... plus the root as /boot/ramboot-root.tar.gz
#   img-ramify --archive        ... the same as zstd
#   manual tar czf          the hand procedure's archive step: losetup -o,
#                           mount / and /boot, tar -czf boot/ram.tar.gz .,
#                           umount, losetup -d, sync
#   virt-customize tar czf  the same tar run by the guest's own tar in the
#                           libguestfs appliance (--run-command)
# Wall time is `date +%s.%N` around the one command (or procedure).  Every
# result is checked afterwards: the archive is read out with debugfs (read
# only) and must list etc/passwd and boot/vmlinuz-* with tar -t.
#
# Prints a table (method, median s, ratio to "img-ramify --archive=gzip",
# archive size) and writes it as JSON to bench/results/img-ramify-DATE.json.
# The cached guest image is only ever read (cp); all copies live in a
# temporary directory under /var/tmp, removed at exit with any loop device
# or mount this script made.
set -euo pipefail

prog="img-ramify.sh"
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --runs) [ $# -ge 2 ] || die "--runs needs a number"; runs=$2; shift ;;
        --runs=*) runs=${1#--runs=} ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown option: $1 (usage: $prog [--runs N])" ;;
    esac
    shift
done
case $runs in ''|*[!0-9]*|0) die "--runs: a positive number, not '$runs'" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (loop devices, mounts, the test guests)"
for t in losetup mount umount debugfs tar zstd gzip awk stat cp; do
    command -v "$t" >/dev/null || die "needs $t"
done

bench_guest mbr-plain

bench_tmpdir img-ramify-bench
bench_commit src data
bench_snapshot img-ramify
ramify_sha=$(tool_sha img-ramify)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

run_ramify() {   # run_ramify IMAGE ARGS...
    local img=$1; shift
    run_tool img-ramify --no-undo "$@" "$img" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; die "img-ramify $* failed"; }
}

manual() {
    local img=$1
    loop_mount "$img" "$ROOT_OFFSET" "$ROOT_SIZE" "$tmp/mnt"
    loop_mount "$img" "$BOOT_OFFSET" "$BOOT_SIZE" "$tmp/mnt/boot"
    (cd "$tmp/mnt" && tar -czf boot/ram.tar.gz --exclude=./boot/ram.tar.gz .)
    loop_umount_all
    sync -f "$img"
}

have_vc=false
if command -v virt-customize >/dev/null; then have_vc=true; fi

declare -A times sizes
methods=("img-ramify" "img-ramify --archive=gzip" "img-ramify --archive" "manual tar czf")
$have_vc && methods+=("virt-customize tar czf")
img=$tmp/guest.img
for m in "${methods[@]}"; do
    times[$m]=
    for ((i = 1; i <= runs; i++)); do
        fresh_copy "$img"
        t0=$(now)
        case $m in
            "img-ramify") run_ramify "$img" ;;
            "img-ramify --archive=gzip") run_ramify "$img" --archive=gzip ;;
            "img-ramify --archive") run_ramify "$img" --archive ;;
            "manual tar czf") manual "$img" ;;
            "virt-customize tar czf")
                virt-customize --no-network --format raw -a "$img" \
                    --run-command 'cd / && tar -czf /boot/ram.tar.gz --exclude=./boot/ram.tar.gz --exclude=./proc --exclude=./sys --exclude=./dev/pts .' \
                    >"$tmp/vc.out" 2>&1 || { tail -5 "$tmp/vc.out" >&2; die "virt-customize failed"; } ;;
        esac
        t1=$(now)
        case $m in
            "img-ramify") sizes[$m]=- ;;
            "img-ramify --archive=gzip") sizes[$m]=$(ramify_check "$img" /ramboot-root.tar.gz "gzip -dc") ;;
            "img-ramify --archive") sizes[$m]=$(ramify_check "$img" /ramboot-root.tar.zst "zstd -dcq") ;;
            *) sizes[$m]=$(ramify_check "$img" /ram.tar.gz "gzip -dc") ;;
        esac
        times[$m]+="$(elapsed "$t0" "$t1") "
        say "$m: run $i: $(elapsed "$t0" "$t1") s"
    done
done
bench_guest_unchanged

# shellcheck disable=SC2086 # lists of numbers
base=$(median ${times["img-ramify --archive=gzip"]})
printf '%-26s %10s %8s %14s\n' method "median s" ratio "archive bytes"
json="{\"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$commit\", \"img_ramify_sha256\": \"$ramify_sha\", \"runs\": $runs, \"load_at_start\": \"$load0\", \"guest\": \"mbr-plain\", \"baseline\": \"img-ramify --archive=gzip\", \"methods\": ["
sep=
for m in "${methods[@]}"; do
    # shellcheck disable=SC2086
    md=$(median ${times[$m]})
    ratio=$(awk -v a="$md" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    printf '%-26s %10s %8s %14s\n' "$m" "$md" "$ratio" "${sizes[$m]}"
    json+="$sep{\"method\": \"$m\", \"median_s\": $md, \"ratio\": $ratio, \"archive_bytes\": \"${sizes[$m]}\", \"times\": [$(sed 's/ $//; s/ /, /g' <<<"${times[$m]}")]}"
    sep=", "
done
$have_vc || echo "virt-customize: skipped (not installed: apt-get install libguestfs-tools)"
json+="]}"
mkdir -p "$here/results"
out=$here/results/img-ramify-$(date -u +%Y%m%d-%H%M%S).json
printf '%s\n' "$json" > "$out"
say "results in $out"
