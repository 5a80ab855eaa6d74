#!/bin/bash
# The test runner of make check -jN (SH_LOG_COMPILER): runs the test
# script with the suite lock held shared, so tests run side by side; a
# test named in SERIAL_TESTS holds it exclusively and runs alone, because
# it counts host-wide things another test would change (qemu-nbd
# processes, loop devices) or installs packages into /usr (tests/deb.sh).  The test's
# own run time (lock wait left out) ends its log as a TAP comment,
# "# run-test: N s TEST", which scripts/test.sh sums up, and its CPU
# time, "# run-test-cpu: N s TEST".
#   run-test.sh SHELL TEST
lock=${IMG_TOOLS_CHECK_LOCK:-/run/lock/img-tools-check.lock}
mode=--shared
# automake names the test ./tests/X.sh in a build in the source tree and
# $(srcdir)/tests/X.sh in another; SERIAL_TESTS names it tests/X.sh.
name=/$2
name=tests/${name##*/tests/}
case " ${SERIAL_TESTS:-} " in
*" $name "*) mode=--exclusive ;;
esac
exec 9>>"$lock"
flock "$mode" 9
start=$(date +%s)
# The test and what it leaves running (a daemon it forgot) must not hold
# the lock: fd 9 stays here.
"$@" 9>&-
rc=$?
echo "# run-test: $(( $(date +%s) - start )) s $2"
# The CPU time of the test and all it waited for (user + system), to tell
# a test that computes from one that waits (sleeps, a qemu at rest).
# (times, a builtin, reads this shell's children only outside a pipeline.)
t=$(mktemp) && times > "$t" &&
    awk 'END { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] }
               printf "# run-test-cpu: %.0f s %s\n", s, test }' test="$2" "$t"
rm -f "$t"
exit $rc
