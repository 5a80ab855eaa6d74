#!/bin/bash
# make check runs CHECK_ORDER (Makefile.am), the script tests in the order
# that keeps both lanes busy; SH_TESTS is the set each block of
# Makefile.am adds its tests to (and make dist ships).  The two must hold
# the same tests, each once: a test in SH_TESTS but not in CHECK_ORDER
# would never run, and nothing else would say so.  Every name in
# SERIAL_TESTS must be one of them too (a misspelt one would run beside
# others).
. "$top_srcdir/tests/functions.sh"
[ -n "${SH_TESTS:-}" ] && [ -n "${CHECK_ORDER:-}" ] \
    || bail "SH_TESTS and CHECK_ORDER must come from make check's environment"

# compare SET ORDER: prints what differs, fails if anything does.
compare () {
    local set order dups
    set=$(printf '%s\n' $1 | sort)
    order=$(printf '%s\n' $2 | sort)
    dups=$(printf '%s\n' $2 | sort | uniq -d)
    [ -z "$dups" ] || echo "twice in CHECK_ORDER: $dups"
    comm -23 <(echo "$set" | sort -u) <(echo "$order" | sort -u) | sed 's/^/in SH_TESTS, not in CHECK_ORDER (never run): /'
    comm -13 <(echo "$set" | sort -u) <(echo "$order" | sort -u) | sed 's/^/in CHECK_ORDER, not in SH_TESTS (not shipped): /'
    [ "$set" = "$order" ]
}

out=$(compare "$SH_TESTS" "$CHECK_ORDER")
ok $? "CHECK_ORDER holds the tests of SH_TESTS, each once ($(printf '%s\n' $CHECK_ORDER | wc -l) tests)"
[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'

# The comparison can fail: one test left out, one added twice.
dropped=$(printf '%s\n' $CHECK_ORDER | sed 1d)
compare "$SH_TESTS" "$dropped" | grep -q 'not in CHECK_ORDER (never run): '
ok $? "a test left out of CHECK_ORDER is caught"
compare "$SH_TESTS" "$CHECK_ORDER tests/deb.sh" | grep -q '^twice in CHECK_ORDER: tests/deb.sh$'
ok $? "a test listed twice is caught"

missing=
for t in $SERIAL_TESTS; do
    case " $(echo $SH_TESTS) " in *" $t "*) ;; *) missing="$missing $t" ;; esac
done
is "$missing" "" "every test in SERIAL_TESTS is in SH_TESTS"
done_testing
