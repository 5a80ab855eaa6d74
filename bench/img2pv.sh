#!/bin/bash
# Benchmark img2pv against the ways people do the same conversion by hand.
#
# Usage: sudo bench/img2pv.sh [--install] [--runs N]
#   --install   apt-get install libguestfs-tools first if virt-customize is
#               missing (the virt-customize column is skipped otherwise)
#   --runs N    repetitions per method (default 3); the median is reported
#
# Methods, each on a fresh sparse copy of the test guest mbr-plain-hvm
# (tests/guests/guests.sh), the copy made outside the timed part:
#   img2pv 3G         img2pv --no-xl-config --no-undo IMAGE        (baseline)
#   img2pv 3G undo    img2pv --no-xl-config IMAGE  (default undo record)
#   img2pv 100G       the same copy grown to a sparse 100 GiB (truncate -s),
#   img2pv 100G undo  partitions unchanged: should cost what 3G costs
#   manual loop-mount losetup -o, mount, blkid/sed/rm/mv/echo, umount, losetup -d
#   virt-customize    --edit/--delete/--move/--append-line in the libguestfs
#                     appliance
# Wall time is `date +%s.%N` around the one command (or procedure).  Every
# result is checked afterwards with debugfs (read only): fstab by UUID=,
# persistent-net rules gone, /lib/tls moved aside, PV drivers listed for
# initramfs-tools, a Xen PV menuentry in /boot/grub/grub.cfg.
#
# Prints a table (method, median s, ratio to "img2pv 3G", allocated growth of
# the image file) and writes it as JSON to bench/results/img2pv-DATE.json.
# The cached guest images are only ever read (cp); all copies live in a
# temporary directory under /var/tmp, removed at exit with any loop device or
# mount this script made.
set -euo pipefail

prog=img2pv.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install=false
runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --install) install=true ;;
        --runs) [ $# -ge 2 ] || die "--runs needs a number"; runs=$2; shift ;;
        --runs=*) runs=${1#--runs=} ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown option: $1 (usage: $prog [--install] [--runs N])" ;;
    esac
    shift
done
case $runs in ''|*[!0-9]*|0) die "--runs: a positive number, not '$runs'" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (loop devices, mounts, the test guests)"
for t in losetup mount umount blkid debugfs sed awk truncate stat cp; do
    command -v "$t" >/dev/null || die "needs $t"
done

# ---------------------------------------------------------------- the guest
bench_guest mbr-plain-hvm
bench_tmpdir img2pv-bench

# Which img2pv is measured: a copy taken now, so that a rebuild during the
# run cannot mix two builds into one result.
bench_commit src
bench_snapshot img2pv
img2pv_sha=$(tool_sha img2pv)
load0=$(cut -d' ' -f1-3 /proc/loadavg)   # other work on the host skews times

pv_setup

# Results, by method in order.
names=() medians=() alltimes=() growths=() notes=()
record() {   # record NAME NOTE TIMES... (growth in $growth_list)
    local name=$1 note=$2; shift 2
    names+=("$name"); notes+=("$note")
    medians+=("$(median "$@")"); alltimes+=("$*")
    # shellcheck disable=SC2086 # a list of numbers
    growths+=("$(median $growth_list)")
    say "$name: median $(median "$@") s (runs: $*)"
}
record_skip() { names+=("$1"); notes+=("$2"); medians+=(-); alltimes+=(""); growths+=(-); }

# ---------------------------------------------------------------- img2pv
bench_img2pv() {   # bench_img2pv NAME SIZE|"" ARGS...
    local name=$1 size=$2 times=() i t0 t1 b0 img=$tmp/guest.img undo_size=
    shift 2
    growth_list=
    for ((i = 1; i <= runs; i++)); do
        fresh_copy "$img" "$size"
        b0=$(blocks "$img")
        t0=$(now)
        run_tool img2pv "$@" "$img" >"$tmp/out.log" 2>&1 \
            || { cat "$tmp/out.log" >&2; die "$name: img2pv failed"; }
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        growth_list+=" $(( ($(blocks "$img") - b0) * 512 ))"
        [ ! -f "$img.img-tools-undo" ] || undo_size=$(stat -c %s "$img.img-tools-undo")
        pv_verify "$img" || die "$name: the result lacks edits"
    done
    record "$name" "${undo_size:+undo record $undo_size bytes}" "${times[@]}"
    rm -f "$img" "$img.img-tools-undo"
}

# ---------------------------------------------------------------- by hand
bench_manual() {
    local name="manual loop-mount" times=() i t0 t1 b0 img=$tmp/guest.img
    growth_list=
    for ((i = 1; i <= runs; i++)); do
        fresh_copy "$img"
        b0=$(blocks "$img")
        t0=$(now)
        pv_manual "$img"
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        growth_list+=" $(( ($(blocks "$img") - b0) * 512 ))"
        pv_verify "$img" || die "$name: the result lacks edits"
    done
    record "$name" "" "${times[@]}"
    rm -f "$img"
}

# ---------------------------------------------------------------- libguestfs
bench_virt_customize() {
    local name=virt-customize times=() i t0 t1 b0 img=$tmp/guest.img
    prepare_libguestfs
    if [ -n "$vc_skip" ]; then
        say "SKIPPING virt-customize: $vc_skip"
        record_skip "$name" "skipped: $vc_skip"
        return
    fi
    growth_list=
    for ((i = 1; i <= runs; i++)); do
        fresh_copy "$img"
        b0=$(blocks "$img")
        t0=$(now)
        pv_virt_customize "$img" >"$tmp/out.log" 2>&1 \
            || { cat "$tmp/out.log" >&2; die "$name failed"; }
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        growth_list+=" $(( ($(blocks "$img") - b0) * 512 ))"
        pv_verify "$img" || die "$name: the result lacks edits"
    done
    record "$name" "$vc_note" "${times[@]}"
    rm -f "$img"
}

# ---------------------------------------------------------------- run
say "guest: $src ($KERNEL_VERSION); $runs runs per method; work dir $tmp"
# The check must see the difference: an unconverted copy fails it.
fresh_copy "$tmp/guest.img"
! pv_verify "$tmp/guest.img" 2>/dev/null || die "verify passes an unconverted guest"
bench_img2pv "img2pv 3G" "" --no-xl-config --no-undo
bench_img2pv "img2pv 3G undo" "" --no-xl-config
bench_img2pv "img2pv 100G" 100G --no-xl-config --no-undo
bench_img2pv "img2pv 100G undo" 100G --no-xl-config
bench_manual
bench_virt_customize

bench_guest_unchanged

# ---------------------------------------------------------------- report
base=${medians[0]}
ratio() { [ "$1" = - ] && echo - || awk -v a="$1" -v b="$base" 'BEGIN { printf "%.2f", a / b }'; }
mib() { [ "$1" = - ] && echo - || awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }

stamp=$(date +%Y-%m-%dT%H%M%S)
host_desc="$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr)"

echo
echo "img2pv benchmark, $(date '+%Y-%m-%d %H:%M %Z'), $host_desc, img-tools $commit, img2pv sha256 $img2pv_sha"
echo "guest mbr-plain-hvm (raw, 3 GiB, kernel $KERNEL_VERSION); median of $runs runs; load average at start $load0"
printf '%-20s %10s %12s %16s\n' method "median s" "ratio" "alloc growth MiB"
for i in "${!names[@]}"; do
    printf '%-20s %10s %12s %16s\n' "${names[i]}" "${medians[i]}" \
        "$(ratio "${medians[i]}")" "$(mib "${growths[i]}")"
done
for i in "${!names[@]}"; do
    [ -z "${notes[i]}" ] || echo "  ${names[i]}: ${notes[i]}"
done
echo "ratio: median / median of 'img2pv 3G' (img2pv --no-undo on the 3 GiB image)"

jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\t\n' '  ')"; }
jnum() { [ "$1" = - ] && echo null || echo "$1"; }
mkdir -p "$here/results"
json=$here/results/img2pv-$stamp.json
{
    printf '{\n  "benchmark": "img2pv",\n  "date": %s,\n' "$(jstr "$(date -Iseconds)")"
    printf '  "host": %s,\n  "commit": %s,\n  "img2pv_sha256": %s,\n' \
        "$(jstr "$host_desc")" "$(jstr "$commit")" "$(jstr "$img2pv_sha")"
    printf '  "guest": {"name": "mbr-plain-hvm", "format": "raw", "size": %s, "kernel": %s},\n' \
        "$IMAGE_SIZE" "$(jstr "$KERNEL_VERSION")"
    printf '  "loadavg_at_start": %s,\n' "$(jstr "$load0")"
    printf '  "runs": %s,\n  "baseline": %s,\n  "methods": [\n' "$runs" "$(jstr "${names[0]}")"
    for i in "${!names[@]}"; do
        t=$(printf '%s' "${alltimes[i]}" | tr ' ' ',')
        printf '    {"method": %s, "median_s": %s, "ratio": %s, "alloc_growth_bytes": %s, "times_s": [%s], "note": %s}%s\n' \
            "$(jstr "${names[i]}")" "$(jnum "${medians[i]}")" \
            "$(jnum "$(ratio "${medians[i]}")")" "$(jnum "${growths[i]}")" \
            "$t" "$(jstr "${notes[i]}")" "$([ "$i" -lt $((${#names[@]} - 1)) ] && echo ,)"
    done
    printf '  ]\n}\n'
} >"$json"
echo "results: $json"
