# Shared shell helpers for the TAP test scripts.  Source it first thing:
#   . "$top_srcdir/tests/functions.sh"
# A missing prerequisite is a failure ("Bail out!"), never a silent skip:
# the project's setup installs everything the tests need.
set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PATH=$top_builddir/src:$PATH
export top_srcdir top_builddir PATH

_tap_n=0
_tap_failed=0

_tap_planned=
plan () { echo "1..$1"; _tap_planned=1; }
diag () { printf '# %s\n' "$@"; }
bail () { echo "Bail out! $*"; exit 99; }

ok () {   # ok COND-STATUS NAME
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $_tap_n - $2"
    else
        echo "not ok $_tap_n - $2"
        _tap_failed=$((_tap_failed + 1))
    fi
}

# is GOT WANT NAME
is () {
    if [ "$1" = "$2" ]; then
        ok 0 "$3"
    else
        ok 1 "$3"
        diag "got:  $1" "want: $2"
    fi
}

# imgsum FILE: a SHA-256 digest of FILE's bytes for "not a byte changed"
# checks on images (tests/imgsum.py: sparse-aware, a second or so for a
# 3 GiB guest where sha256sum takes eight); compare only with another
# imgsum.  A file that cannot be read gives a value no other call gives,
# so the comparison fails.
imgsum () {
    local out
    out=$(python3 "$top_srcdir/tests/imgsum.py" "$1") \
        || { echo "imgsum-failed-$$-$RANDOM-$(date +%s%N)"; return 1; }
    echo "${out%% *}"
}

# run_ok NAME CMD...: the command must succeed.
run_ok () {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then ok 0 "$name"; else ok 1 "$name"; diag "$out" | head -20; fi
}

# fails_with NAME REGEX CMD...: the command must exit non-zero (but not
# crash: no signal, no sanitizer report) and print exactly one line on
# stderr matching REGEX.
fails_with () {
    local name=$1 re=$2; shift 2
    local err rc lines
    err=$("$@" 2>&1 >/dev/null); rc=$?
    lines=$(printf '%s\n' "$err" | grep -c .)
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" -eq 1 ] \
        && printf '%s\n' "$err" | grep -Eq -- "$re"; then
        ok 0 "$name"
    else
        ok 1 "$name"
        diag "exit $rc, $lines stderr lines, wanted /$re/:" "$err"
    fi
}

# like GOT ERE NAME: GOT must match the extended regular expression ERE.
like () {
    if grep -Eq -- "$2" <<<"$1"; then
        ok 0 "$3"
    else
        ok 1 "$3"
        diag "got: $(head -c 2000 <<<"$1")"
    fi
}

# replay_ok NAME FILE CMD...: a fuzz target's replay build (CMD, FILE among
# its arguments) must run to the end: exit 0, nothing on stderr (no
# sanitizer report, no broken invariant), one line "FILE: ...", which is
# left in $REPLAY_OUT.  Its stderr stays in $TMP/err.
replay_ok () {
    local name=$1 f=$2 rc
    shift 2
    REPLAY_OUT=$(timeout 60 "$@" 2>"$TMP/err"); rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$TMP/err" ] && [ "$(grep -c '' <<<"$REPLAY_OUT")" -eq 1 ] \
        && [[ $REPLAY_OUT == "$f: "* ]]; then
        ok 0 "replay $name"
    else
        ok 1 "replay $name"
        diag "exit $rc" "$(head -c 2000 <<<"$REPLAY_OUT")" "$(head -40 "$TMP/err")"
    fi
}

# replay_seeds REPLAY SEED...: plans and runs replay_ok on each seed, and
# like on its line for each seed the caller's associative array EXPECT
# names (basename -> ERE).
replay_seeds () {
    local replay=$1 f name want n=0
    shift
    for f in "$@"; do [ -n "${EXPECT[$(basename "$f")]:-}" ] && n=$((n + 1)); done
    plan $(( $# + n ))
    for f in "$@"; do
        name=$(basename "$f")
        replay_ok "$name" "$f" "$replay" "$f"
        want=${EXPECT[$name]:-}
        [ -z "$want" ] || like "$REPLAY_OUT" "$want" "$name: $want"
    done
}

requires () {
    command -v "$1" >/dev/null 2>&1 || bail "missing prerequisite '$1' (run scripts/setup.sh)"
}

requires_root () {
    [ "$(id -u)" = 0 ] || bail "this test builds fixtures with loop devices and needs root"
}

# submake ARGS...: make in the build tree, outside the make check that
# runs the test (its MAKEFLAGS would carry -j and the jobserver over).
submake () { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s -C "$top_builddir" "$@"; }

# install_into DEST: make install DESTDIR=DEST, one TAP result; the test
# ends there when it fails (nothing after it has anything to read).
install_into () {
    if submake install DESTDIR="$1" > install.log 2>&1; then
        ok 0 "make install DESTDIR=..."
    else
        ok 1 "make install DESTDIR=..."; diag "$(tail -20 install.log)"
        done_testing
    fi
}

# Ends the script; prints the plan here if plan was not called up front.
done_testing () {
    [ -n "$_tap_planned" ] || echo "1..$_tap_n"
    [ "$_tap_n" -gt 0 ] || bail "no test ran"
    [ "$_tap_failed" -eq 0 ]
    exit $?
}

# A scratch directory removed on exit (plus whatever cleanup hooks add).
_cleanup_hooks=()
at_exit () { _cleanup_hooks+=("$*"); }
_run_cleanup () {
    local i
    for ((i=${#_cleanup_hooks[@]}-1; i>=0; i--)); do eval "${_cleanup_hooks[$i]}" || true; done
}
trap _run_cleanup EXIT
TMP=$(mktemp -d "${TMPDIR:-/tmp}/img-tests.XXXXXX")
at_exit "rm -rf '$TMP'"
