#!/bin/bash
# The test runner of make check -jN (SH_LOG_COMPILER): runs the test
# script with the suite lock held shared, so tests run side by side; a
# test named in SERIAL_TESTS holds it exclusively and runs alone, because
# it counts host-wide things another test would change (qemu-nbd
# processes, loop devices), measures its own timing (kills landed
# mid-write) or installs packages into /usr (tests/deb.sh).
#   run-test.sh SHELL TEST
lock=${IMG_TOOLS_CHECK_LOCK:-/run/lock/img-tools-check.lock}
mode=--shared
case " ${SERIAL_TESTS:-} " in
*" $2 "*) mode=--exclusive ;;
esac
exec flock "$mode" "$lock" "$@"
