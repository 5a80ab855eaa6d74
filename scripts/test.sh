#!/bin/bash
# The whole test suite from a fresh clone: install what is needed, build
# with -Werror and ASan/UBSan, run every test.  This is what CI runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
t0=$(date +%s)
# The test guests' Debian tree (a debootstrap: ~9 min on a machine with no
# cache, mostly one download after another) is started first, beside apt
# installing the rest; then the nine images are built while the code
# compiles.  The tests that need them wait on the guests' lock
# (tests/guests/guests.sh), the others run meanwhile.
"$top/scripts/setup.sh" --tree
guests_log=$(mktemp /tmp/img-tools-guests.XXXXXX)
bash "$top/tests/guests/debian-tree.sh" > "$guests_log" 2>&1 &
tree_pid=$!
"$top/scripts/setup.sh"
echo "setup: $(( $(date +%s) - t0 )) s"
start=$(date +%s)
bash "$top/tests/guests/guests.sh" >> "$guests_log" 2>&1 &
guests_pid=$!
# ISA-L (gzip) is packaged for amd64 only: there the build must have it.
isal=()
[ "$(dpkg --print-architecture 2>/dev/null)" != amd64 ] || isal=(--with-isal)
"$top/scripts/build.sh" --enable-werror --enable-asan --enable-ubsan "${isal[@]}"
echo "build: $(( $(date +%s) - start )) s"
cd "${BUILD_DIR:-$top}"
# Sanitizer reports must fail the test that triggered them.
export ASAN_OPTIONS=detect_leaks=1:exitcode=66
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=67
rc=0
# Two tests at a time (tests/run-test.sh runs the few that must be alone
# alone): both tiers, the fast one (make check) and the one that boots
# guests in qemu (make check-boot), as one schedule (make check-all:
# Makefile.am, CHECK_ORDER), so that neither waits for the other's last
# test.  Readers share the cached guest images, as qemu's readers do
# (disk.c qemu_lock_check), so tests reading one side by side do not
# collide.
jobs=${CHECK_JOBS:-$(nproc)}
start=$(date +%s)
r=0
make -s -j"$jobs" check-all || r=$?
echo "make check-all: exit $r, $(( $(date +%s) - start )) s"
[ $r -eq 0 ] || { rc=$r; cat test-suite.log >&2 || true; }
guests_rc=0
wait "$tree_pid" || guests_rc=$?
wait "$guests_pid" || guests_rc=$?
echo "test guests: exit $guests_rc (built or found in the cache side by side with the build)"
grep -E '^(guests|mkguest)\.sh: .* s' "$guests_log" | sed 's/^/  /' || true
[ "$guests_rc" -eq 0 ] || { cat "$guests_log" >&2; rc=1; }
rm -f "$guests_log"
# Where the time went: the slowest tests (tests/run-test.sh times each).
echo "slowest tests:"
cat tests/*.log | sed -n 's/^# run-test: //p' | sort -rn | head -15 | sed 's/^/  /'
# One closing line over every TAP result.
passed=$(cat tests/*.log | grep -c '^ok ' || true)
failed=$(cat tests/*.log | grep -c '^not ok ' || true)
echo "$passed passed, $failed failed"
echo "total: $(( $(date +%s) - t0 )) s"
exit $rc
