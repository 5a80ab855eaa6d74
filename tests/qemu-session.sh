# A guest booted in qemu (software emulation) and logged in to on its
# serial console as root, for the *-boot tests (sourced after
# tests/functions.sh):
#   session NAME MEM DRIVE   boots, runs the checks below, leaves the
#                            console in NAME.log and the checks' output
#                            (KEY=VALUE lines) in NAME.out
#   val NAME KEY             a value of NAME.out
#   plain FILE               FILE as text (no CRs, no terminal escapes)
requires qemu-system-x86_64

# The console as text: no carriage returns, no terminal escapes (bash's
# bracketed-paste mode wraps every command line in them).
plain () { tr -d '\r' < "$1" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'; }

# session NAME MEM DRIVE: boots, logs in as root, runs the checks below,
# and leaves the console in NAME.log and the checks' output in NAME.out.
session () {
    local name=$1 mem=$2 drive=$3 qpid start cmd
    rm -f "$name.fifo"; mkfifo "$name.fifo"
    # q35: the disk on its AHCI controller, which SeaBIOS reads by DMA.
    # GRUB loads the kernel and initrd (~45 MB) through the BIOS, and over
    # the i440FX's IDE that took 16 s of each boot, 7.5 s over AHCI.  The
    # guest still sees an sda (libata).
    qemu-system-x86_64 -machine q35 -m "$mem" -display none -monitor none -no-reboot -serial stdio \
        -drive "$drive" < "$name.fifo" > "$name.log" 2>&1 &
    qpid=$!
    exec 7> "$name.fifo"
    start=$(date +%s)
    wait_for () {
        while kill -0 "$qpid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt 600 ]; do
            plain "$name.log" | grep -aq "$1" && return 0
            sleep 0.25
        done
        return 1
    }
    if wait_for 'login: *$'; then
        sleep 0.5; printf 'root\n' >&7
        wait_for 'Password:' && { sleep 0.5; printf 'root\n' >&7; }
        wait_for 'root@'
        # The checks go as one command line, typed once the shell's prompt
        # shows (what is typed at the prompt waits in the tty's buffer;
        # one line at a time would let the tty's echo of the next line
        # land in the middle of an output line).
        local checks=(
            'echo CHECKS-$((6*7))'
            'echo "rootfs=$(findmnt -n -o FSTYPE /)"'
            'echo "hostname=$(cat /etc/hostname)"'
            'echo "disk_mounts=$(grep -c "^/dev/[sv]d\|^/dev/mapper" /proc/mounts)"'
            'echo "dm_devices=$(ls /sys/block | grep -c ^dm-)"'
            'echo "sda_holders=$(ls /sys/block/sda/holders 2>/dev/null | wc -l)"'
            'echo "sda=$(test -e /sys/block/sda && echo present)"'
            'echo "kernel_ok=$(test -s /boot/vmlinuz-* && echo yes)"'
            'echo "kernel=$(uname -r)"'
            'if [ -x /usr/local/sbin/img-ramify-detach ]; then img-ramify-detach; echo "detach_rc=$?"; fi'
            'echo "sda_after=$(test -e /sys/block/sda && echo present || echo gone)"'
            'echo DONE-$((6*7))')
        cmd=$(printf '%s; ' "${checks[@]}")
        printf '%s\n' "${cmd%; }" >&7
        wait_for '^DONE-42'
    fi
    diag "$name: $(( $(date +%s) - start )) s in qemu"
    exec 7>&-
    kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null
    plain "$name.log" | sed -n '/^CHECKS-42/,/^DONE-42/p' > "$name.out"
    [ -s "$name.out" ] || { tail -15 "$name.log" | sed 's/^/# /'; echo; }
}
val () { sed -n "s/^$2=//p" "$1.out" | head -1; }

