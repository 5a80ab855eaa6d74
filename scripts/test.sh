#!/bin/bash
# The whole test suite from a fresh clone: install what is needed, build
# with -Werror and ASan/UBSan, run every test.  This is what CI runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
export BUILD_DIR=${BUILD_DIR:-$top/build-check}
"$top/scripts/build.sh" --enable-werror --enable-asan --enable-ubsan
cd "$BUILD_DIR"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=67
rc=0
make -s -j1 check || rc=$?
# One closing summary line from the TAP results.
pass=$(grep -h '^# PASS:' tests/*.log test-suite.log 2>/dev/null | head -1 | awk '{print $3}')
fail=$(grep -h '^# FAIL:' test-suite.log 2>/dev/null | awk '{print $3}')
[ $rc -eq 0 ] || { cat test-suite.log >&2 || true; }
total_ok=$(cat tests/*.log | grep -c '^ok ' || true)
total_nok=$(cat tests/*.log | grep -c '^not ok ' || true)
echo "$total_ok passed, $total_nok failed"
exit $rc
