#!/bin/bash
# The whole test suite from a fresh clone: install what is needed, build
# with -Werror and ASan/UBSan, run every test.  This is what CI runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" --enable-werror --enable-asan --enable-ubsan
cd "${BUILD_DIR:-$top}"
# Sanitizer reports must fail the test that triggered them.
export ASAN_OPTIONS=detect_leaks=1:exitcode=66
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=67
rc=0
# One test at a time: several tests read the cached guest images
# directly, and a read-only open refuses an image another qemu holds even
# for reading (disk.c qemu_lock_check), so two such tests at once collide.
make -s check || rc=$?
[ $rc -eq 0 ] || cat test-suite.log >&2 || true
# One closing line over every TAP result.
passed=$(cat tests/*.log | grep -c '^ok ' || true)
failed=$(cat tests/*.log | grep -c '^not ok ' || true)
echo "$passed passed, $failed failed"
exit $rc
