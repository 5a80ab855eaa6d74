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
die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
img2pv=${IMG2PV:-$top/src/img2pv}

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
[ -x "$img2pv" ] || die "$img2pv not built (make -C $top -j2)"
for t in losetup mount umount blkid debugfs sed awk truncate stat cp; do
    command -v "$t" >/dev/null || die "needs $t"
done

# ---------------------------------------------------------------- cleanup
tmp=
loops=()
mounts=()
made_modules_dir=
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
    if [ -n "$made_modules_dir" ]; then
        rmdir "$made_modules_dir" 2>/dev/null \
            && say "removed the empty $made_modules_dir made for supermin"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the guest
guests=$(bash "$top/tests/guests/guests.sh") || die "tests/guests/guests.sh failed"
src=$guests/mbr-plain-hvm.img
[ -f "$src" ] && [ -f "$src.facts" ] || die "no $src (or its .facts)"
# shellcheck disable=SC1090
. "$src.facts"
for v in BOOT_OFFSET BOOT_SIZE ROOT_OFFSET ROOT_SIZE ROOT_UUID BOOT_UUID \
         ROOT_DEVICE BOOT_DEVICE KERNEL_VERSION; do
    [ -n "${!v:-}" ] || die "$src.facts lacks $v"
done
src_stamp=$(stat -c '%s %Y %b' "$src")

tmp=$(mktemp -d /var/tmp/img2pv-bench.XXXXXX)
mkdir "$tmp/mnt"

# Which img2pv is measured: a copy taken now, so that a rebuild during the
# run cannot mix two builds into one result.
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$top" status --porcelain --untracked-files=no -- src 2>/dev/null)" ] || commit+="+dirty"
cp "$img2pv" "$tmp/img2pv"
img2pv_sha=$(sha256sum "$tmp/img2pv" | cut -c1-12)
img2pv=$tmp/img2pv
load0=$(cut -d' ' -f1-3 /proc/loadavg)   # other work on the host skews times

# The PV entry every method puts first in grub.cfg (img2pv writes its own,
# the same in substance).
entry="### BEGIN Xen PV entry ###
menuentry 'Debian GNU/Linux 12 (bookworm), Xen PV, Linux $KERNEL_VERSION' --class gnu-linux --class os \$menuentry_id_option 'xen-pv' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root $BOOT_UUID
	linux	/vmlinuz-$KERNEL_VERSION root=UUID=$ROOT_UUID ro console=hvc0
	initrd	/initrd.img-$KERNEL_VERSION
}
### END Xen PV entry ###"
anchor='### BEGIN /etc/grub.d/10_linux ###'
# For the manual procedure: a sed script inserting it before the anchor.
{
    printf '/^%s$/i\\\n' "${anchor//\//\\/}"
    printf '%s\n' "$entry" | sed '$!s/$/\\/'
} >"$tmp/grub-entry.sed"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
blocks() { stat -c %b "$1"; }          # 512-byte units, see stat(1)

fresh_copy() {   # fresh_copy DEST [SIZE]: outside the timed part
    rm -f "$1" "$1".img-tools-undo
    cp --sparse=always "$src" "$1"
    [ -z "${2:-}" ] || truncate -s "$2" "$1"
    sync -f "$1"
}

# verify IMAGE: the edits are in the guest (read only, debugfs on offsets).
dfs() { debugfs -R "$2" "$1" 2>/dev/null || true; }
has() { grep -qE "$2" <<<"$1"; }
verify() {
    local root="$1?offset=$ROOT_OFFSET" boot="$1?offset=$BOOT_OFFSET" bad=()
    local fstab rules lib mods grub
    fstab=$(dfs "$root" 'cat /etc/fstab')
    rules=$(dfs "$root" 'ls /etc/udev/rules.d')
    lib=$(dfs "$root" 'ls /usr/lib')
    mods=$(dfs "$root" 'cat /etc/initramfs-tools/modules')
    grub=$(dfs "$boot" 'cat /grub/grub.cfg')
    has "$fstab" "^UUID=${ROOT_UUID}[[:space:]]+/[[:space:]]" || bad+=("fstab: / not by UUID")
    has "$fstab" "^UUID=${BOOT_UUID}[[:space:]]+/boot[[:space:]]" || bad+=("fstab: /boot not by UUID")
    ! has "$rules" '70-persistent-net\.rules' || bad+=("70-persistent-net.rules still there")
    has "$lib" '(^|[[:space:]])tls\.disabled([[:space:]]|$)' || bad+=("no /lib/tls.disabled")
    ! has "$lib" '(^|[[:space:]])tls([[:space:]]|$)' || bad+=("/lib/tls still there")
    has "$mods" '^xen-blkfront$' && has "$mods" '^xen-netfront$' \
        || bad+=("initramfs-tools/modules lacks xen-blkfront/xen-netfront")
    has "$grub" "^menuentry '[^']*Xen PV[^']*'" || bad+=("no Xen PV menuentry in grub.cfg")
    if [ ${#bad[@]} -gt 0 ]; then
        local IFS=';'
        say "$1: ${bad[*]}"
        return 1
    fi
}

# Results, by method in order.
names=() medians=() alltimes=() growths=() notes=()
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
          else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
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
        "$img2pv" "$@" "$img" >"$tmp/out.log" 2>&1 \
            || { cat "$tmp/out.log" >&2; die "$name: img2pv failed"; }
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        growth_list+=" $(( ($(blocks "$img") - b0) * 512 ))"
        [ ! -f "$img.img-tools-undo" ] || undo_size=$(stat -c %s "$img.img-tools-undo")
        verify "$img" || die "$name: the result lacks edits"
    done
    record "$name" "${undo_size:+undo record $undo_size bytes}" "${times[@]}"
    rm -f "$img" "$img.img-tools-undo"
}

# ---------------------------------------------------------------- by hand
# What the HVM-to-PV how-tos have people type, one after the other.
manual() {   # manual IMAGE
    local img=$1 m=$tmp/mnt lr lb ru bu
    lr=$(losetup -f --show -o "$ROOT_OFFSET" --sizelimit "$ROOT_SIZE" "$img")
    loops+=("$lr")
    lb=$(losetup -f --show -o "$BOOT_OFFSET" --sizelimit "$BOOT_SIZE" "$img")
    loops+=("$lb")
    mount "$lr" "$m"; mounts+=("$m")
    mount "$lb" "$m/boot"; mounts+=("$m/boot")
    ru=$(blkid -s UUID -o value "$lr")
    bu=$(blkid -s UUID -o value "$lb")
    sed -i -e "s|^$ROOT_DEVICE\([[:space:]]\)|UUID=$ru\1|" \
           -e "s|^$BOOT_DEVICE\([[:space:]]\)|UUID=$bu\1|" "$m/etc/fstab"
    rm -f "$m/etc/udev/rules.d/70-persistent-net.rules"
    mv "$m/lib/tls" "$m/lib/tls.disabled"
    printf '%s\n' xen-blkfront xen-netfront >>"$m/etc/initramfs-tools/modules"
    sed -i -f "$tmp/grub-entry.sed" "$m/boot/grub/grub.cfg"
    umount "$m/boot"; unset 'mounts[-1]'
    umount "$m"; unset 'mounts[-1]'
    losetup -d "$lb"; unset 'loops[-1]'
    losetup -d "$lr"; unset 'loops[-1]'
    sync -d "$img"   # img2pv fdatasyncs the image: the same durability
}

bench_manual() {
    local name="manual loop-mount" times=() i t0 t1 b0 img=$tmp/guest.img
    growth_list=
    for ((i = 1; i <= runs; i++)); do
        fresh_copy "$img"
        b0=$(blocks "$img")
        t0=$(now)
        manual "$img"
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        growth_list+=" $(( ($(blocks "$img") - b0) * 512 ))"
        verify "$img" || die "$name: the result lacks edits"
    done
    record "$name" "" "${times[@]}"
    rm -f "$img"
}

# ---------------------------------------------------------------- libguestfs
# Sets vc_skip to the reason virt-customize cannot run, or leaves it empty.
vc_skip=
vc_note=
prepare_libguestfs() {
    local k log=$tmp/guestfs.log tree
    if ! command -v virt-customize >/dev/null; then
        if $install; then
            say "installing libguestfs-tools (apt-get)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y \
                --no-install-recommends libguestfs-tools >"$tmp/apt.log" 2>&1 \
                || { tail -5 "$tmp/apt.log" >&2
                     vc_skip="apt-get install libguestfs-tools failed"; return; }
        else
            vc_skip="virt-customize not installed (package libguestfs-tools; run with --install)"
            return
        fi
    fi
    [ -e /dev/kvm ] || vc_note="no /dev/kvm: the appliance ran under TCG (software emulation)"
    # supermin boots the appliance with a host kernel; a host without one
    # (a container, a Xen domU with no kernel package) borrows the test
    # guests' Debian kernel, which is the stock Debian 12 one.
    if [ -z "${SUPERMIN_KERNEL:-}" ] \
       && ! compgen -G '/boot/vmlinu[xz]-*' >/dev/null \
       && ! compgen -G '/lib/modules/*/vmlinuz' >/dev/null; then
        tree=$(bash "$top/tests/guests/debian-tree.sh" 2>/dev/null) || tree=
        k=$(ls "$tree"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
        if [ -z "$k" ] || [ ! -d "$tree/lib/modules/${k##*/vmlinuz-}" ]; then
            vc_skip="no kernel for the libguestfs appliance (none in /boot, none in the test guests' Debian tree)"
            return
        fi
        export SUPERMIN_KERNEL=$k
        export SUPERMIN_MODULES=$tree/lib/modules/${k##*/vmlinuz-}
        vc_note="${vc_note:+$vc_note; }host has no kernel: appliance kernel ${k##*/} from the test guests' Debian tree (SUPERMIN_KERNEL)"
        # supermin 5.2 copies the modules' parent directories' metadata from
        # the host's /lib/modules, which a kernel-less host lacks.
        if [ ! -e /lib/modules ]; then
            mkdir "$(readlink -f /lib)/modules"
            made_modules_dir=$(readlink -f /lib)/modules
            say "made an empty $made_modules_dir for supermin (removed at exit)"
        fi
        say "libguestfs appliance kernel: $SUPERMIN_KERNEL"
    fi
    # Build (or check) the appliance once, untimed, as a user's first
    # libguestfs run would; then the timed runs see a warm appliance cache.
    say "starting the libguestfs appliance once (untimed warm-up)"
    if ! LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct} LIBGUESTFS_DEBUG=1 \
         guestfish --ro -a /dev/null run >"$log" 2>&1; then
        vc_skip=$(grep -E '^supermin: .*(error|failed|[Nn]o such)|qemu.*([Ee]rror|[Cc]ould not)' "$log" \
                  | head -2 || true)
        [ -n "$vc_skip" ] || vc_skip=$(grep -E 'libguestfs: error' "$log" | head -2 || true)
        [ -n "$vc_skip" ] || vc_skip=$(tail -3 "$log")
        vc_skip="libguestfs cannot start its appliance here: $(tr '\n' ' ' <<<"$vc_skip" | sed 's/ *$//')"
        return
    fi
}

virt_customize() {   # virt_customize IMAGE
    LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct} \
    virt-customize -q --no-network --format raw -a "$1" \
        --edit "/etc/fstab:s{^\\Q$ROOT_DEVICE\\E(?=\\s)}{UUID=$ROOT_UUID}; s{^\\Q$BOOT_DEVICE\\E(?=\\s)}{UUID=$BOOT_UUID}" \
        --delete /etc/udev/rules.d/70-persistent-net.rules \
        --move /lib/tls:/lib/tls.disabled \
        --append-line /etc/initramfs-tools/modules:xen-blkfront \
        --append-line /etc/initramfs-tools/modules:xen-netfront \
        --edit "/boot/grub/grub.cfg:\$_ = q{$entry
} . \$_ if m{^\\Q$anchor\\E\$}"
}

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
        virt_customize "$img" >"$tmp/out.log" 2>&1 \
            || { cat "$tmp/out.log" >&2; die "$name failed"; }
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        growth_list+=" $(( ($(blocks "$img") - b0) * 512 ))"
        verify "$img" || die "$name: the result lacks edits"
    done
    record "$name" "$vc_note" "${times[@]}"
    rm -f "$img"
}

# ---------------------------------------------------------------- run
say "guest: $src ($KERNEL_VERSION); $runs runs per method; work dir $tmp"
# The check must see the difference: an unconverted copy fails it.
fresh_copy "$tmp/guest.img"
! verify "$tmp/guest.img" 2>/dev/null || die "verify passes an unconverted guest"
bench_img2pv "img2pv 3G" "" --no-xl-config --no-undo
bench_img2pv "img2pv 3G undo" "" --no-xl-config
bench_img2pv "img2pv 100G" 100G --no-xl-config --no-undo
bench_img2pv "img2pv 100G undo" 100G --no-xl-config
bench_manual
bench_virt_customize

[ "$(stat -c '%s %Y %b' "$src")" = "$src_stamp" ] \
    || die "the cached guest image changed during the run (it must not)"

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
