# shellcheck shell=bash disable=SC2154 # prog, install: set by the script that sources this
# bench/lib.sh: what the bench scripts share.  Sourced (bash), after the
# script has set `prog`; defines:
#   die/say                 messages on stderr, prefixed with $prog
#   bench_tmpdir NAME       the work directory /var/tmp/NAME.XXXXXX in $tmp,
#                           removed at exit with every loop device and mount
#                           recorded in loops[] / mounts[]
#   now, elapsed A B, median N..., blocks FILE
#   bench_guest NAME        $src = the cached test guest NAME.img, its .facts
#                           sourced; bench_guest_unchanged dies if the cached
#                           image was written since
#   fresh_copy DEST [SIZE]  a sparse copy of $src (grown to SIZE), synced
#   bench_commit PATH...    $commit: short HEAD, +dirty if PATHs are edited
#   bench_snapshot TOOL...  copies of the built tools (and libimg, ramboot,
#                           data) under $tmp/bin; run_tool TOOL ARGS runs one
#   loop_mount IMG OFFSET SIZE DIR [ro]   losetup -o + mount, recorded
#   loop_umount_all         undo every loop_mount, last first
#   pv_setup, pv_verify IMG, pv_manual IMG, pv_virt_customize IMG
#                           img2pv's job on mbr-plain-hvm: the check, the
#                           hand procedure, the virt-customize command
#   prepare_libguestfs      sets vc_skip (why libguestfs cannot run) or
#                           vc_note; warms the appliance once
#   ramify_check IMG PATH DECOMPRESSOR   an archive in /boot lists the root

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

die() { echo "$prog: $*" >&2; exit 1; }
say() { echo "$prog: $*" >&2; }

# ---------------------------------------------------------------- cleanup
tmp=
loops=()
mounts=()
made_modules_dir=
bench_cleanup() {
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
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_tmpdir() {
    tmp=$(mktemp -d "/var/tmp/$1.XXXXXX")
    mkdir "$tmp/mnt"
}

# ---------------------------------------------------------------- numbers
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
blocks() { stat -c %b "$1"; }          # 512-byte units, see stat(1)
median() { printf '%s\n' "$@" | grep . | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
          else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------- guests
bench_guest() {   # bench_guest NAME
    local v guests
    guests=$(bash "$top/tests/guests/guests.sh") || die "tests/guests/guests.sh failed"
    src=$guests/$1.img
    [ -f "$src" ] && [ -f "$src.facts" ] || die "no $src (or its .facts)"
    # shellcheck disable=SC1090
    . "$src.facts"
    for v in BOOT_OFFSET BOOT_SIZE ROOT_OFFSET ROOT_SIZE ROOT_UUID BOOT_UUID \
             ROOT_DEVICE BOOT_DEVICE KERNEL_VERSION IMAGE_SIZE; do
        [ -n "${!v:-}" ] || die "$src.facts lacks $v"
    done
    src_stamp=$(stat -c '%s %Y %b' "$src")
}
bench_guest_unchanged() {
    [ "$(stat -c '%s %Y %b' "$src")" = "$src_stamp" ] \
        || die "the cached guest image $src changed during the run (it must not)"
}

fresh_copy() {   # fresh_copy DEST [SIZE]: outside the timed part
    rm -f "$1" "$1".img-tools-undo*
    cp --sparse=always "$src" "$1"
    [ -z "${2:-}" ] || truncate -s "$2" "$1"
    sync -f "$1"
}

bench_commit() {   # bench_commit PATH...
    commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -z "$(git -C "$top" status --porcelain --untracked-files=no -- "$@" 2>/dev/null)" ] \
        || commit+="+dirty"
}

# ---------------------------------------------------------------- the tools
# What is measured is a copy taken at the start, so that a rebuild during
# the run cannot mix two builds into one result.  An uninstalled src/TOOL is
# libtool's wrapper script: copy the program it runs (src/.libs/) and the
# uninstalled libimg.so it runs it with.  img-ramify finds ramboot/ and
# data/ beside itself.
bench_lib=
bench_snapshot() {   # bench_snapshot TOOL...
    local t
    mkdir -p "$tmp/bin/src/ramboot" "$tmp/bin/lib"
    for t in "$@"; do
        if [ -x "$top/src/.libs/$t" ]; then
            cp "$top/src/.libs/$t" "$tmp/bin/src/$t"
            bench_lib=$tmp/bin/lib
        elif [ -x "$top/src/$t" ]; then
            cp "$top/src/$t" "$tmp/bin/src/$t"
        else
            die "src/$t is not built (bash scripts/build.sh)"
        fi
    done
    [ -z "$bench_lib" ] || cp -a "$top"/src/libimg/.libs/libimg.so* "$bench_lib/"
    if [ -x "$top/src/ramboot/img-ramcopy" ]; then
        cp "$top/src/ramboot/img-ramcopy" "$tmp/bin/src/ramboot/"
    fi
    [ -d "$tmp/bin/data" ] || cp -r "$top/data" "$tmp/bin/data"
}
tool_sha() { sha256sum "$tmp/bin/src/$1" | cut -c1-12; }
run_tool() {   # run_tool TOOL ARGS...
    local t=$1; shift
    LD_LIBRARY_PATH=$bench_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$tmp/bin/src/$t" "$@"
}

# ---------------------------------------------------------------- mounts
loop_mount() {   # loop_mount IMAGE OFFSET SIZE DIR [ro]
    local l opts=
    if [ "${5:-}" = ro ]; then
        l=$(losetup -f --show -r -o "$2" --sizelimit "$3" "$1")
        opts=ro,noload   # noload: no journal replay, nothing written
    else
        l=$(losetup -f --show -o "$2" --sizelimit "$3" "$1")
    fi
    loops+=("$l")
    mount ${opts:+-o "$opts"} "$l" "$4"
    mounts+=("$4")
}
loop_umount_all() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}"; done
    for i in "${loops[@]}"; do losetup -d "$i"; done
    mounts=() loops=()
}

# ---------------------------------------------------------------- img2pv's job
# The PV entry every method puts first in grub.cfg (img2pv writes its own,
# the same in substance).  Needs the guest's facts (bench_guest).
pv_setup() {
    pv_entry="### BEGIN Xen PV entry ###
menuentry 'Debian GNU/Linux 12 (bookworm), Xen PV, Linux $KERNEL_VERSION' --class gnu-linux --class os \$menuentry_id_option 'xen-pv' {
	insmod ext2
	search --no-floppy --fs-uuid --set=root $BOOT_UUID
	linux	/vmlinuz-$KERNEL_VERSION root=UUID=$ROOT_UUID ro console=hvc0
	initrd	/initrd.img-$KERNEL_VERSION
}
### END Xen PV entry ###"
    pv_anchor='### BEGIN /etc/grub.d/10_linux ###'
    # For the manual procedure: a sed script inserting it before the anchor.
    {
        printf '/^%s$/i\\\n' "${pv_anchor//\//\\/}"
        printf '%s\n' "$pv_entry" | sed '$!s/$/\\/'
    } >"$tmp/grub-entry.sed"
}

# pv_verify IMAGE: the edits are in the guest (read only, debugfs on offsets).
dfs() { debugfs -R "$2" "$1" 2>/dev/null || true; }
has() { grep -qE "$2" <<<"$1"; }
pv_verify() {
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

# What the HVM-to-PV how-tos have people type, one after the other.
pv_manual() {   # pv_manual IMAGE
    local img=$1 m=$tmp/mnt ru bu
    loop_mount "$img" "$ROOT_OFFSET" "$ROOT_SIZE" "$m"
    loop_mount "$img" "$BOOT_OFFSET" "$BOOT_SIZE" "$m/boot"
    ru=$(blkid -s UUID -o value "${loops[0]}")
    bu=$(blkid -s UUID -o value "${loops[1]}")
    sed -i -e "s|^$ROOT_DEVICE\([[:space:]]\)|UUID=$ru\1|" \
           -e "s|^$BOOT_DEVICE\([[:space:]]\)|UUID=$bu\1|" "$m/etc/fstab"
    rm -f "$m/etc/udev/rules.d/70-persistent-net.rules"
    mv "$m/lib/tls" "$m/lib/tls.disabled"
    printf '%s\n' xen-blkfront xen-netfront >>"$m/etc/initramfs-tools/modules"
    sed -i -f "$tmp/grub-entry.sed" "$m/boot/grub/grub.cfg"
    loop_umount_all
    sync -d "$img"   # img2pv fdatasyncs the image: the same durability
}

pv_virt_customize() {   # pv_virt_customize IMAGE
    virt-customize -q --no-network --format raw -a "$1" \
        --edit "/etc/fstab:s{^\\Q$ROOT_DEVICE\\E(?=\\s)}{UUID=$ROOT_UUID}; s{^\\Q$BOOT_DEVICE\\E(?=\\s)}{UUID=$BOOT_UUID}" \
        --delete /etc/udev/rules.d/70-persistent-net.rules \
        --move /lib/tls:/lib/tls.disabled \
        --append-line /etc/initramfs-tools/modules:xen-blkfront \
        --append-line /etc/initramfs-tools/modules:xen-netfront \
        --edit "/boot/grub/grub.cfg:\$_ = q{$pv_entry
} . \$_ if m{^\\Q$pv_anchor\\E\$}"
}

# ---------------------------------------------------------------- libguestfs
# The direct backend; without KVM (or with a /dev/kvm that hangs, as on the
# machine the README's figures come from) TCG: LIBGUESTFS_BACKEND_SETTINGS
# defaults to force_tcg, set it empty to let libguestfs use KVM.
export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS-force_tcg}

# Sets vc_skip to the reason libguestfs cannot run, or leaves it empty;
# vc_note says how the appliance ran.  $install: apt-get the tools if absent.
vc_skip=
vc_note=
prepare_libguestfs() {
    local k log=$tmp/guestfs.log tree
    if ! command -v virt-customize >/dev/null || ! command -v virt-inspector >/dev/null; then
        if ${install:-false}; then
            say "installing libguestfs-tools (apt-get)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y \
                --no-install-recommends libguestfs-tools >"$tmp/apt.log" 2>&1 \
                || { tail -5 "$tmp/apt.log" >&2
                     vc_skip="apt-get install libguestfs-tools failed"; return; }
        else
            vc_skip="virt-customize/virt-inspector not installed (package libguestfs-tools; run with --install)"
            return
        fi
    fi
    case ,$LIBGUESTFS_BACKEND_SETTINGS, in
        *,force_tcg,*) vc_note="the appliance ran under TCG (software emulation, LIBGUESTFS_BACKEND_SETTINGS=force_tcg)" ;;
        *) [ -e /dev/kvm ] || vc_note="no /dev/kvm: the appliance ran under TCG (software emulation)" ;;
    esac
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
    if ! LIBGUESTFS_DEBUG=1 guestfish --ro -a /dev/null run >"$log" 2>&1; then
        vc_skip=$(grep -E '^supermin: .*(error|failed|[Nn]o such)|qemu.*([Ee]rror|[Cc]ould not)' "$log" \
                  | head -2 || true)
        [ -n "$vc_skip" ] || vc_skip=$(grep -E 'libguestfs: error' "$log" | head -2 || true)
        [ -n "$vc_skip" ] || vc_skip=$(tail -3 "$log")
        vc_skip="libguestfs cannot start its appliance here: $(tr '\n' ' ' <<<"$vc_skip" | sed 's/ *$//')"
        return
    fi
}

# ---------------------------------------------------------------- img-ramify
# ramify_check IMAGE PATH-IN-BOOT DECOMPRESSOR: the archive is there and
# lists the root and /boot; prints its size.
ramify_check() {
    local out=$tmp/check.tar.x list
    rm -f "$out"
    debugfs -R "dump $2 $out" "$1?offset=$BOOT_OFFSET" >/dev/null 2>&1 || true
    [ -s "$out" ] || die "$1: no $2 in /boot"
    list=$($3 < "$out" | tar -tf - 2>/dev/null) || die "$1: $2: tar -t failed"
    grep -Eq '^(\./)?etc/passwd$' <<<"$list" || die "$1: $2: no etc/passwd"
    grep -Eq "^(\\./)?boot/vmlinuz-$KERNEL_VERSION\$" <<<"$list" || die "$1: $2: no boot/vmlinuz"
    stat -c %s "$out"
}
