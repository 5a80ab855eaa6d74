#!/bin/bash
# The command-line conventions every tool follows: --version, and usage
# errors in one line on stderr that point at --help, exit 2, nothing on
# stdout.
. "$top_srcdir/tests/functions.sh"

version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
[ -n "$version" ] || bail "no PACKAGE_VERSION in the Makefile"
for t in img2pv img-ramify img-inspect; do
    is "$("$t" --version 2>&1)" "$t $version" "$t --version: '$t $version'"
    "$t" --version > /dev/null; is $? 0 "$t --version: exit 0"
    fails_with "$t: an unknown long option, one line" "^$t: unknown option --bogus \(try '$t --help'\)$" \
        "$t" --bogus x.img
    fails_with "$t: an unknown short option, one line" "^$t: -Z: unknown option, or its value is missing \(try '$t --help'\)$" \
        "$t" -Z x.img
    fails_with "$t: no image, one line" "^$t: no image given \(try '$t --help'\)$" "$t"
    is "$("$t" --bogus 2>/dev/null | wc -c)" 0 "$t: a usage error prints nothing on stdout"
    "$t" --bogus > /dev/null 2>&1; is $? 2 "$t: a usage error exits 2"
    "$t" --help | grep -q -- '--version'; ok $? "$t --help lists --version"
done
for t in img2pv img-ramify; do
    fails_with "$t: an option missing its value, one line" "^$t: --undo needs a value \(try '$t --help'\)$" \
        "$t" x.img --undo
done
# The same set of options everywhere: --help lists them, --version works.
for t in img2pv img-ramify img-inspect img-batch; do
    help=$("$t" --help)
    for o in '-q, --quiet' '-v, --verbose' '-x, --trace' '-p, --progress' '--no-progress' '--version' '-h, --help'; do
        grep -qF -- "$o" <<< "$help"; ok $? "$t --help lists $o"
    done
done
is "$(img-batch --version 2>&1)" "img-batch $version" "img-batch --version: 'img-batch $version'"
fails_with "img-batch: an unknown option, one line" "^img-batch: unknown option --bogus \(try 'img-batch --help'\)$" \
    img-batch --bogus img2pv x.img
# What reaches the terminal is quoted: an option with control characters.
fails_with "img2pv: a hostile option is quoted" "^img2pv: unknown option --x\\\\x1b\\[31m \\(try" img2pv $'--x\e[31m'
done_testing
