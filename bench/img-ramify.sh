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

prog=img-ramify.sh
die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
ramify=${IMG_RAMIFY:-$top/src/img-ramify}

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
[ -x "$ramify" ] || die "$ramify not built (make -C $top -j2)"
for t in losetup mount umount debugfs tar zstd gzip awk stat cp; do
    command -v "$t" >/dev/null || die "needs $t"
done

tmp=
loops=()
mounts=()
cleanup() {
    local i
    set +e
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        mountpoint -q "${mounts[i]}" && umount "${mounts[i]}"
    done
    for i in "${loops[@]}"; do
        losetup "$i" >/dev/null 2>&1 && losetup -d "$i"
    done
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

guests=$(bash "$top/tests/guests/guests.sh") || die "tests/guests/guests.sh failed"
src=$guests/mbr-plain.img
[ -f "$src" ] && [ -f "$src.facts" ] || die "no $src (or its .facts)"
# shellcheck disable=SC1090
. "$src.facts"
for v in BOOT_OFFSET BOOT_SIZE ROOT_OFFSET ROOT_SIZE KERNEL_VERSION; do
    [ -n "${!v:-}" ] || die "$src.facts lacks $v"
done
src_stamp=$(stat -c '%s %Y %b' "$src")

tmp=$(mktemp -d /var/tmp/img-ramify-bench.XXXXXX)
mkdir "$tmp/mnt"
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$top" status --porcelain --untracked-files=no -- src data 2>/dev/null)" ] || commit+="+dirty"
# A copy of what is measured (with its data and helper beside it, where
# img-ramify looks for them), so a rebuild during the run cannot mix builds.
mkdir -p "$tmp/bin/src/ramboot"
# An uninstalled src/img-ramify is libtool's wrapper script: copy the
# program it runs (src/.libs/) and the uninstalled libimg.so it runs it with.
ramify_lib=
if [ -x "$(dirname "$ramify")/.libs/img-ramify" ]; then
    mkdir "$tmp/bin/lib"
    cp -a "$(dirname "$ramify")"/libimg/.libs/libimg.so* "$tmp/bin/lib/"
    ramify_lib=$tmp/bin/lib
    cp "$(dirname "$ramify")/.libs/img-ramify" "$tmp/bin/src/img-ramify"
else
    cp "$ramify" "$tmp/bin/src/img-ramify"
fi
cp "$(dirname "$ramify")/ramboot/img-ramcopy" "$tmp/bin/src/ramboot/"
cp -r "$top/data" "$tmp/bin/data"
ramify=$tmp/bin/src/img-ramify
ramify_sha=$(sha256sum "$ramify" | cut -c1-12)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
fresh_copy() {
    rm -f "$1" "$1".img-tools-undo*
    cp --sparse=always "$src" "$1"
    sync -f "$1"
}

# check IMAGE PATH-IN-BOOT DECOMPRESSOR: the archive is there and lists
# the root and /boot; prints its size.
check() {
    local out=$tmp/check.tar.x list
    rm -f "$out"
    debugfs -R "dump $2 $out" "$1?offset=$BOOT_OFFSET" >/dev/null 2>&1 || true
    [ -s "$out" ] || die "$1: no $2 in /boot"
    list=$($3 < "$out" | tar -tf - 2>/dev/null) || die "$1: $2: tar -t failed"
    grep -Eq '^(\./)?etc/passwd$' <<<"$list" || die "$1: $2: no etc/passwd"
    grep -Eq "^(\\./)?boot/vmlinuz-$KERNEL_VERSION\$" <<<"$list" || die "$1: $2: no boot/vmlinuz"
    stat -c %s "$out"
}

run_ramify() {   # run_ramify IMAGE ARGS...
    local img=$1; shift
    LD_LIBRARY_PATH=$ramify_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        "$ramify" --no-undo "$@" "$img" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; die "img-ramify $* failed"; }
}

manual() {
    local img=$1 r b
    r=$(losetup -f --show -o "$ROOT_OFFSET" --sizelimit "$ROOT_SIZE" "$img"); loops+=("$r")
    b=$(losetup -f --show -o "$BOOT_OFFSET" --sizelimit "$BOOT_SIZE" "$img"); loops+=("$b")
    mount "$r" "$tmp/mnt"; mounts+=("$tmp/mnt")
    mount "$b" "$tmp/mnt/boot"; mounts+=("$tmp/mnt/boot")
    (cd "$tmp/mnt" && tar -czf boot/ram.tar.gz --exclude=./boot/ram.tar.gz .)
    umount "$tmp/mnt/boot"; umount "$tmp/mnt"; mounts=()
    losetup -d "$b"; losetup -d "$r"; loops=()
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
            "img-ramify --archive=gzip") sizes[$m]=$(check "$img" /ramboot-root.tar.gz "gzip -dc") ;;
            "img-ramify --archive") sizes[$m]=$(check "$img" /ramboot-root.tar.zst "zstd -dcq") ;;
            *) sizes[$m]=$(check "$img" /ram.tar.gz "gzip -dc") ;;
        esac
        times[$m]+="$(elapsed "$t0" "$t1") "
        say "$m: run $i: $(elapsed "$t0" "$t1") s"
    done
done
[ "$(stat -c '%s %Y %b' "$src")" = "$src_stamp" ] || die "the cached guest changed during the run"

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base=$(median "${times["img-ramify --archive=gzip"]}")
printf '%-26s %10s %8s %14s\n' method "median s" ratio "archive bytes"
json="{\"date\": \"$(date -u +%FT%TZ)\", \"commit\": \"$commit\", \"img_ramify_sha256\": \"$ramify_sha\", \"runs\": $runs, \"load_at_start\": \"$load0\", \"guest\": \"mbr-plain\", \"baseline\": \"img-ramify --archive=gzip\", \"methods\": ["
sep=
for m in "${methods[@]}"; do
    md=$(median "${times[$m]}")
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
