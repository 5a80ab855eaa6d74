#!/bin/bash
# Every ratio of issue 13 (H) in one run, against its target.
#
# Usage: sudo bench/run.sh [--runs N] [--quick] [--no-install]
#        bench/run.sh --self-check
#   --runs N      repetitions per method (default 3); medians are compared
#   --quick       one run per method, and no virt-customize (its row is
#                 context, not a target; virt-inspector still runs)
#   --no-install  do not apt-get what is missing (stop instead)
#   --self-check  check the median, the verdicts and the JSON on made-up
#                 figures (no root, no guest, a second or so), then exit
#
# From a fresh clone: builds with scripts/build.sh if a tool is missing,
# apt-gets what it needs (libguestfs-tools, zstd, time and the test guests'
# build tools), builds or reuses the cached Debian test guests
# (tests/guests/guests.sh), then measures, each on its own fresh sparse copy
# in /var/tmp (the cached images are only read by cp):
#   on mbr-plain-hvm  img2pv (3 GiB, and grown to a sparse 100 GiB), the hand
#                     loop-mount procedure, virt-customize (the same edits)
#   on mbr-plain      img-inspect, virt-inspector; img-ramify (copy mode)
#                     and the hand cp of the initrd + grub.cfg edit;
#                     img-ramify --archive and tar --xattrs --acls | zstd -3
#                     -T0 over a read-only kernel loop mount of the same root
# Peak RSS is /usr/bin/time's %M; bytes written are the image file's
# allocated growth (stat %b).  Prints one table (ratio, target, pass/miss)
# and writes every figure to bench/results/run-DATE.json.
set -euo pipefail

prog=run.sh
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

runs=3 quick=false install=true self_check=false
while [ $# -gt 0 ]; do
    case $1 in
        --runs) [ $# -ge 2 ] || die "--runs needs a number"; runs=$2; shift ;;
        --runs=*) runs=${1#--runs=} ;;
        --quick) quick=true ;;
        --no-install) install=false ;;
        --self-check) self_check=true ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) die "unknown option: $1 (usage: $prog [--runs N] [--quick] [--no-install] [--self-check])" ;;
    esac
    shift
done
case $runs in ''|*[!0-9]*|0) die "--runs: a positive number, not '$runs'" ;; esac
! $quick || runs=1

# ---------------------------------------------------------------- figures
# Every measurement goes into T[METHOD] (seconds), R[METHOD] (peak RSS, KiB)
# G[METHOD] (allocated growth, bytes) or U[METHOD] (undo record, bytes):
# space-separated lists, one value per run.
declare -A T=() R=() G=() U=() NOTE=()
add() { eval "$1[\$2]+=\"\$3 \""; }   # add T|R|G|U METHOD VALUE
med() {   # med T|R|G|U METHOD: the median, or - when not measured
    local -n a=$1
    # shellcheck disable=SC2086 # a list of numbers
    if [ -n "${a[$2]:-}" ]; then median ${a[$2]}; else echo -; fi
}

# The rows of the table: row KIND LABEL A B OP TARGET UNIT
#   KIND ratio: A/B of two methods' median times (div) or B/A (inv: how many
#   times faster A is); rss: the max of the methods' median peak RSS in MiB;
#   growth: median allocated growth in MiB; context: a ratio with no target.
rows=()
row() { local IFS=$'\x1f'; rows+=("$*"); }
verdict() {   # verdict VALUE OP TARGET -> pass|MISS|-
    [ "$1" != - ] || { echo -; return; }
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        ok = (op == "<=") ? v <= t : (op == ">=") ? v >= t : (op == "<") ? v < t : 0
        print ok ? "pass" : "MISS" }'
}
div() { [ "$1" = - ] || [ "$2" = - ] && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mibs() { [ "$1" = - ] && echo - || awk -v b="$tree_bytes" -v t="$1" 'BEGIN { printf "%.1f", b / t / 1048576 }'; }
mib() { [ "$1" = - ] && echo - || awk -v a="$1" -v u="$2" 'BEGIN { printf "%.1f", a * u / 1048576 }'; }

jstr() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\t\n' '  ')"; }
jnum() { [ "$1" = - ] && echo null || echo "$1"; }
jlist() { local v out='' sep=''; for v in $1; do out+="$sep$v"; sep=,; done; echo "[$out]"; }

# report JSON-FILE: prints the table, writes the JSON.  Uses the globals
# facts (machine, commit...) and the measurements.
report() {
    local json=$1 r kind label a b op target unit value shown result sep m
    local -a out=()
    printf '\n%-44s %-24s %8s %10s  %s\n' "issue 13 target" "measured (median)" ratio target result
    for r in "${rows[@]}"; do
        IFS=$'\x1f' read -r kind label a b op target unit <<<"$r"
        case $kind in
            ratio)
                value=$(div "$(med T "$a")" "$(med T "$b")")
                shown="$(med T "$a") s / $(med T "$b") s" ;;
            inv)
                value=$(div "$(med T "$b")" "$(med T "$a")")
                shown="$(med T "$b") s / $(med T "$a") s" ;;
            thru)   # throughput of A over B's: B's time / A's time
                value=$(div "$(med T "$b")" "$(med T "$a")")
                shown="$(mibs "$(med T "$a")") / $(mibs "$(med T "$b")") MiB/s" ;;
            rss)
                value=$(mib "$(med R "$a")" 1024)
                shown="$value MiB" ;;
            growth)
                value=$(med G "$a")
                shown=$( [ "$value" = - ] && echo - || awk -v b="$value" 'BEGIN {
                    if (b < 1048576) printf "%.0f KiB", b / 1024; else printf "%.1f MiB", b / 1048576 }')
                [ "$value" = - ] || value=$(awk -v b="$value" 'BEGIN { printf "%.3f", b / 1048576 }') ;;
            context)
                value=$(div "$(med T "$a")" "$(med T "$b")")
                shown="$(med T "$a") s / $(med T "$b") s" ;;
        esac
        if [ "$kind" = context ]; then result=context; else result=$(verdict "$value" "$op" "$target"); fi
        [ "$value" != - ] || result="not run"
        printf '%-44s %-24s %8s %10s  %s\n' "$label" "$shown" \
            "$( [ "$kind" = rss ] || [ "$kind" = growth ] && echo - || echo "$value")" \
            "${op:+$op $target}${unit:+ $unit}" "$result"
        out+=("$(printf '{"target": %s, "kind": %s, "a": %s, "b": %s, "value": %s, "op": %s, "limit": %s, "unit": %s, "result": %s}' \
            "$(jstr "$label")" "$(jstr "$kind")" "$(jstr "$a")" "$(jstr "$b")" "$(jnum "$value")" \
            "$(jstr "$op")" "$(jnum "${target:--}")" "$(jstr "$unit")" "$(jstr "$result")")")
    done
    for m in "${!NOTE[@]}"; do echo "  $m: ${NOTE[$m]}"; done | sort
    {
        printf '{\n  "benchmark": "run.sh",\n  "date": %s,\n  "commit": %s,\n' \
            "$(jstr "$(date -Iseconds)")" "$(jstr "$commit")"
        printf '  "tools_sha256": %s,\n' "$(jstr "$tools_sha")"
        printf '  "machine": {"nproc": %s, "mem_total_kib": %s, "cpu": %s, "kernel": %s, "kvm": %s, "libguestfs_backend": %s, "libguestfs_backend_settings": %s},\n' \
            "$(nproc)" "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
            "$(jstr "$cpu")" "$(jstr "$(uname -sr)")" "$( [ -e /dev/kvm ] && echo true || echo false)" \
            "$(jstr "$LIBGUESTFS_BACKEND")" "$(jstr "$LIBGUESTFS_BACKEND_SETTINGS")"
        printf '  "loadavg_at_start": %s,\n  "loadavg_at_end": %s,\n' "$(jstr "$load0")" "$(jstr "$(cut -d' ' -f1-3 /proc/loadavg)")"
        printf '  "runs": %s,\n  "quick": %s,\n  "tree_bytes": %s,\n' "$runs" "$quick" "$(jnum "$tree_bytes")"
        printf '  "targets": [\n'
        sep=
        for r in "${out[@]}"; do printf '%s    %s' "$sep" "$r"; sep=$',\n'; done
        printf '\n  ],\n  "methods": {\n'
        sep=
        for m in "${methods[@]}"; do
            printf '%s    %s: {"median_s": %s, "times_s": %s, "peak_rss_kib": %s, "alloc_growth_bytes": %s, "undo_record_bytes": %s, "note": %s}' \
                "$sep" "$(jstr "$m")" "$(jnum "$(med T "$m")")" "$(jlist "${T[$m]:-}")" \
                "$(jlist "${R[$m]:-}")" "$(jlist "${G[$m]:-}")" "$(jlist "${U[$m]:-}")" "$(jstr "${NOTE[$m]:-}")"
            sep=$',\n'
        done
        printf '\n  }\n}\n'
    } >"$json"
}

# The targets, in the issue's order.
methods=("img2pv 3G" "img2pv 100G" "hand loop-mount" "virt-customize"
         "img-inspect" "virt-inspector" "img-ramify" "hand cp initrd + edit"
         "img-ramify --archive" "tar | zstd -3 -T0")
row ratio "img2pv / hand loop-mount procedure" "img2pv 3G" "hand loop-mount" "<=" 1.5 ""
row inv "virt-inspector / img-inspect" "img-inspect" "virt-inspector" ">=" 100 ""
row ratio "img-ramify copy mode / hand cp + edit" "img-ramify" "hand cp initrd + edit" "<=" 2 ""
row thru "--archive / tar|zstd throughput" "img-ramify --archive" "tar | zstd -3 -T0" ">=" 0.8 ""
row ratio "img2pv 100 GiB sparse / 3 GiB" "img2pv 100G" "img2pv 3G" "<=" 1.2 ""
row rss "peak RSS img-inspect" "img-inspect" "" "<=" 64 MiB
row rss "peak RSS img2pv" "img2pv 3G" "" "<=" 64 MiB
row rss "peak RSS img-ramify (copy mode)" "img-ramify" "" "<=" 64 MiB
row rss "peak RSS img-ramify --archive" "img-ramify --archive" "" "<=" 64 MiB
row growth "img2pv bytes written (alloc growth)" "img2pv 3G" "" "<" 1 MiB
row context "virt-customize / img2pv (context)" "virt-customize" "img2pv 3G" "" "" ""

# ---------------------------------------------------------------- self-check
if $self_check; then
    tmp=$(mktemp -d /var/tmp/bench-self-check.XXXXXX)
    fail() { echo "$prog: self-check: $*" >&2; exit 1; }
    [ "$(median 3 1 2)" = 2.000 ] && [ "$(median 4 1 3 2)" = 2.500 ] || fail "median"
    [ "$(verdict 1.50 "<=" 1.5)" = pass ] && [ "$(verdict 1.51 "<=" 1.5)" = MISS ] \
        && [ "$(verdict 99 ">=" 100)" = MISS ] && [ "$(verdict 0.9 "<" 1)" = pass ] || fail "verdict"
    commit=self-check tools_sha=- cpu=- load0="0 0 0" tree_bytes=104857600
    for v in 1.0 1.2 1.1; do add T "img2pv 3G" $v; done       # median 1.1
    for v in 0.5 0.5 0.6; do add T "hand loop-mount" $v; done  # 0.5: 2.20 MISS
    add T "img2pv 100G" 1.2                                    # 1.09 pass
    add T "img-inspect" 0.2; add T "virt-inspector" 25         # 125 pass
    add T "img-ramify" 1; add T "hand cp initrd + edit" 0.6    # 1.67 pass
    add T "img-ramify --archive" 4; add T "tar | zstd -3 -T0" 2  # 0.50 MISS
    add R "img-inspect" 70000; add R "img2pv 3G" 1024           # 68.4 MISS, 1.0 pass
    add G "img2pv 3G" 524288                                    # 512 KiB pass
    report "$tmp/self.json" >"$tmp/table"
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
want = ["MISS", "pass", "pass", "MISS", "pass", "MISS", "pass", "not run", "not run", "pass", "not run"]
got = [t["result"] for t in d["targets"]]
assert got == want, got
assert d["targets"][0]["value"] == 2.2 and d["targets"][1]["value"] == 125, d["targets"][:2]
assert d["methods"]["img2pv 3G"]["times_s"] == [1.0, 1.2, 1.1]' "$tmp/self.json" \
        || { cat "$tmp/table" "$tmp/self.json" >&2; fail "the table or the JSON"; }
    grep -q '^--archive / tar|zstd throughput .* 25.0 / 50.0 MiB/s .* 0.50 ' "$tmp/table" \
        || { cat "$tmp/table" >&2; fail "the throughput row"; }
    grep -q '^img2pv bytes written .* 512 KiB .* < 1 MiB  pass$' "$tmp/table" \
        || { cat "$tmp/table" >&2; fail "the bytes-written row"; }
    echo "$prog: self-check passed"
    exit 0
fi

# ---------------------------------------------------------------- setup
[ "$(id -u)" = 0 ] || die "needs root (apt-get, loop devices, mounts, the test guests)"
bench_tmpdir bench-run
load0=$(cut -d' ' -f1-3 /proc/loadavg)   # before our own work: others' load
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)

# What the run needs: libguestfs-tools, zstd, /usr/bin/time, and what
# tests/guests/guests.sh builds the guests with (its "# needs:" line).
need=(libguestfs-tools zstd time debugfs:e2fsprogs)
read -ra gneeds <<<"$(sed -n 's/^# needs: //p' "$top/tests/guests/guests.sh")"
missing=()
for p in "${need[@]}" "${gneeds[@]}"; do
    p=${p#*:}
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    $install || die "missing packages: ${missing[*]} (run without --no-install)"
    say "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        >"$tmp/apt.log" 2>&1 || { tail -5 "$tmp/apt.log" >&2; die "apt-get install failed"; }
fi
for t in img2pv img-inspect img-ramify; do
    if [ ! -x "$top/src/$t" ]; then
        say "src/$t missing: bash scripts/build.sh"
        bash "$top/scripts/build.sh" >&2 || die "scripts/build.sh failed"
        break
    fi
done
bench_commit src data
bench_snapshot img2pv img-inspect img-ramify
tools_sha="img2pv $(tool_sha img2pv) img-inspect $(tool_sha img-inspect) img-ramify $(tool_sha img-ramify)"

# timed METHOD CMD...: one run, wall time into T, and the peak RSS into R
# when CMD is one of our tools (run under /usr/bin/time -f %M).  A failing
# command stops the run, except with may_fail=1: then the method's note says
# why and timed returns 1.  Shell functions (the hand procedures) run in this
# shell, so that errexit applies in them and the cleanup knows their mounts.
timed() {
    local m=$1 t0 t1 rc=0; shift
    t0=$(now)
    if declare -F "$1" >/dev/null; then
        "$@" >&2
    elif [ -x "$tmp/bin/src/$1" ]; then
        LD_LIBRARY_PATH=$bench_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
            /usr/bin/time -f %M -o "$tmp/rss" "$tmp/bin/src/$1" "${@:2}" >"$tmp/out" 2>&1 || rc=$?
    else
        "$@" >"$tmp/out" 2>&1 || rc=$?
    fi
    t1=$(now)
    if [ $rc != 0 ]; then
        if [ "${may_fail:-0}" = 1 ]; then
            NOTE[$m]="failed (exit $rc): $(grep -v '^Command exited' "$tmp/out" | tail -1)"
            say "$m: ${NOTE[$m]}"
            return 1
        fi
        cat "$tmp/out" >&2
        die "$m: $* failed (exit $rc)"
    fi
    [ ! -x "$tmp/bin/src/$1" ] || add R "$m" "$(tail -1 "$tmp/rss")"
    add T "$m" "$(elapsed "$t0" "$t1")"
    say "$m: $(elapsed "$t0" "$t1") s"
}
grown() { add G "$1" $(( ($(blocks "$2") - $3) * 512 )); }

img=$tmp/guest.img
prepare_libguestfs   # virt-inspector runs even with --quick
[ -z "$vc_skip" ] || { NOTE[virt-inspector]="skipped: $vc_skip"; NOTE[virt-customize]="skipped: $vc_skip"; }

# ---------------------------------------------------------------- img2pv
bench_guest mbr-plain-hvm
pv_setup
fresh_copy "$img"
! pv_verify "$img" 2>/dev/null || die "the check passes an unconverted guest"
for ((i = 1; i <= runs; i++)); do
    for m in "img2pv 3G" "img2pv 100G" "hand loop-mount" "virt-customize"; do
        case $m in
            "img2pv 100G") fresh_copy "$img" 100G ;;
            virt-customize) { $quick || [ -n "$vc_skip" ]; } && continue; fresh_copy "$img" ;;
            *) fresh_copy "$img" ;;
        esac
        b0=$(blocks "$img")
        case $m in
            img2pv*) timed "$m" img2pv --no-xl-config "$img"
                     add U "$m" "$(stat -c %s "$img.img-tools-undo" 2>/dev/null || echo 0)" ;;
            hand*) timed "$m" pv_manual "$img" ;;
            virt-customize) timed "$m" pv_virt_customize "$img" ;;
        esac
        grown "$m" "$img" "$b0"
        pv_verify "$img" || die "$m: the result lacks edits"
    done
done
$quick && NOTE[virt-customize]="skipped (--quick)"
[ -n "${NOTE[virt-customize]:-}" ] || NOTE[virt-customize]=$vc_note
NOTE["img2pv 3G"]="img2pv --no-xl-config IMAGE, with its default undo record ($(med U "img2pv 3G" | cut -d. -f1) bytes, not in the image's growth)"
NOTE["hand loop-mount"]="losetup/mount, blkid, sed fstab, rm, mv, echo, sed grub.cfg, umount, sync (no initrd work)"
bench_guest_unchanged

# ---------------------------------------------------------------- mbr-plain
bench_guest mbr-plain
ramdisk=ramboot-initrd.img-$KERNEL_VERSION
# The hand procedure img-ramify's copy mode replaces: loop-mount /boot, cp
# the guest's initrd (img-ramify duplicates it to add its layer), add a GRUB
# entry booting it, umount, sync.
hand_ramify() {
    local b=$tmp/mnt
    loop_mount "$1" "$BOOT_OFFSET" "$BOOT_SIZE" "$b"
    cp "$b/initrd.img-$KERNEL_VERSION" "$b/$ramdisk"
    cat >>"$b/grub/grub.cfg" <<EOF
menuentry 'Debian GNU/Linux, Linux $KERNEL_VERSION (root in RAM)' {
	search --no-floppy --fs-uuid --set=root $BOOT_UUID
	linux	/vmlinuz-$KERNEL_VERSION root=UUID=$ROOT_UUID ro ramboot
	initrd	/$ramdisk
}
EOF
    loop_umount_all
    sync -f "$1"
}
# The archive's peer: tar | zstd over read-only kernel mounts of / and /boot.
tar_zstd() {
    loop_mount "$1" "$ROOT_OFFSET" "$ROOT_SIZE" "$tmp/mnt" ro
    loop_mount "$1" "$BOOT_OFFSET" "$BOOT_SIZE" "$tmp/mnt/boot" ro
    tar --xattrs --acls -C "$tmp/mnt" -cf - . | zstd -3 -T0 -q >"$tmp/root.tar.zst"
    loop_umount_all
    sync -f "$tmp/root.tar.zst"
}
# The tree both archive the same: its apparent size, for MiB/s (untimed).
fresh_copy "$img"
loop_mount "$img" "$ROOT_OFFSET" "$ROOT_SIZE" "$tmp/mnt" ro
loop_mount "$img" "$BOOT_OFFSET" "$BOOT_SIZE" "$tmp/mnt/boot" ro
tree_bytes=$(du -sb --apparent-size "$tmp/mnt" | cut -f1)
loop_umount_all

for ((i = 1; i <= runs; i++)); do
    # Read only: one copy serves both inspectors.
    fresh_copy "$img"
    timed img-inspect img-inspect "$img"
    [ -n "$vc_skip" ] || timed virt-inspector virt-inspector --format=raw -a "$img"
    for m in "img-ramify" "hand cp initrd + edit" "img-ramify --archive" "tar | zstd -3 -T0"; do
        fresh_copy "$img"
        b0=$(blocks "$img")
        case $m in
            img-ramify) timed "$m" img-ramify --no-undo "$img" ;;
            hand*) timed "$m" hand_ramify "$img" ;;
            "img-ramify --archive")
                if may_fail=1 timed "$m" img-ramify --no-undo --archive "$img"; then
                    NOTE[$m]="archive $(ramify_check "$img" /ramboot-root.tar.zst "zstd -dcq") bytes; the whole img-ramify run is timed"
                fi ;;
            tar*) timed "$m" tar_zstd "$img"
                NOTE[$m]="archive $(stat -c %s "$tmp/root.tar.zst") bytes; mount, tar, umount, sync timed" ;;
        esac
        grown "$m" "$img" "$b0"
    done
done
[ -n "${NOTE[virt-inspector]:-}" ] || NOTE[virt-inspector]=$vc_note
NOTE["img-ramify"]="img-ramify --no-undo IMAGE"
bench_guest_unchanged

# ---------------------------------------------------------------- report
mkdir -p "$here/results"
json=$here/results/run-$(date +%Y-%m-%dT%H%M%S).json
echo
echo "img-tools bench/run.sh, $(date '+%Y-%m-%d %H:%M %Z'), img-tools $commit"
echo "machine: $(nproc) CPUs ($cpu), $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr); load average at start $load0"
echo "median of $runs run(s); guests mbr-plain-hvm (img2pv), mbr-plain (the rest), raw 3 GiB, Debian 12"
echo "libguestfs: LIBGUESTFS_BACKEND=$LIBGUESTFS_BACKEND LIBGUESTFS_BACKEND_SETTINGS=$LIBGUESTFS_BACKEND_SETTINGS"
report "$json"
case ,$LIBGUESTFS_BACKEND_SETTINGS, in
    *,force_tcg,*) echo "note: virt-inspector and virt-customize ran under TCG (software emulation, force_tcg): with KVM they would be several times faster, so TCG flatters our ratios against them" ;;
esac
echo "results: $json"
