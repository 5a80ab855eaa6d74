#!/bin/bash
# tests/run-test.sh (make check's SH_LOG_COMPILER): a test named in
# SERIAL_TESTS runs with the suite lock held exclusively, whatever path
# automake gives it (./tests/X.sh in a build in the source tree,
# $(srcdir)/tests/X.sh in another); any other test shares it.  Each probe
# test tries to take the lock shared from outside: that fails only while
# the runner holds it exclusively.
. "$top_srcdir/tests/functions.sh"
requires flock
cd "$TMP"
mkdir -p tests src/tests
printf 'flock -n --shared "$PROBE_LOCK" true; echo "shared=$?"\n' > tests/probe.sh
cp tests/probe.sh tests/other.sh
cp tests/probe.sh src/tests/probe.sh
export PROBE_LOCK=$TMP/suite.lock
run () {  # run TEST: the probe's line, run by run-test.sh with its own lock
    IMG_TOOLS_CHECK_LOCK=$PROBE_LOCK SERIAL_TESTS="tests/a.sh tests/probe.sh tests/z.sh" \
        bash "$top_srcdir/tests/run-test.sh" bash "$1" | grep '^shared='
}
is "$(run ./tests/probe.sh)" "shared=1" "./tests/probe.sh (a build in the source tree): run alone"
is "$(run "$TMP/src/tests/probe.sh")" "shared=1" "\$(srcdir)/tests/probe.sh (a build elsewhere): run alone"
is "$(run tests/probe.sh)" "shared=1" "tests/probe.sh: run alone"
is "$(run ./tests/other.sh)" "shared=0" "a test not in SERIAL_TESTS shares the lock"
IMG_TOOLS_CHECK_LOCK=$PROBE_LOCK SERIAL_TESTS="tests/probe.sh" \
    bash "$top_srcdir/tests/run-test.sh" bash ./tests/probe.sh | grep -q '^# run-test: [0-9]* s ./tests/probe.sh$'
ok $? "the runner ends the log with the test's run time"
done_testing
