#!/bin/bash
# Replays the qcow2 overlay corpus (tests/fuzz/overlay-corpus, seeds from
# tests/fuzz/mkovlcorpus.sh, crash-* inputs kept from libFuzzer runs: see
# tests/fuzz/README) through tests/fuzz-overlay: each file applied as the
# overlay of a raw disk in memory, dry, then for real, then again.  Every
# file must run to the end: exit 0, nothing on stderr (no sanitizer report,
# no broken invariant), one summary line.  The made seeds must also give
# the result they were made for.
. "$top_srcdir/tests/functions.sh"

REPLAY=${FUZZ_OVERLAY:-$top_builddir/tests/fuzz-overlay}
[ -x "$REPLAY" ] || bail "tests/fuzz-overlay is not built"

CORPUS=$top_srcdir/tests/fuzz/overlay-corpus
shopt -s nullglob
seeds=("$CORPUS"/*)
[ ${#seeds[@]} -ge 20 ] || bail "the seed corpus in $CORPUS is missing"

# seed -> what its summary line must contain (ERE).
declare -A EXPECT=(
    [empty.qcow2]=': ok changed=0$'
    [data.qcow2]=': ok changed=[1-9][0-9]*$'
    [zero.qcow2]=': ok changed=[1-9][0-9]*$'
    [v2.qcow2]=': ok changed=[1-9][0-9]*$'
    [c512.qcow2]=': ok changed=[1-9][0-9]*$'
    [tail.qcow2]=': ok changed=4080$'
    [bad-l1-offset.qcow2]='error: .*: qcow2 overlay: L1 table offset 4294967296 is unaligned or past the end'
    [bad-l1-entry.qcow2]='error: .*: qcow2 overlay: L1 entry 0 points at offset 4294967296'
    [bad-l2-entry.qcow2]='error: .*: qcow2 overlay: L2 entry for guest offset 65536 points at offset 4294967296'
    [compressed.qcow2]='error: .*: qcow2 overlay: compressed cluster at guest offset 65536; refusing'
    [reserved.qcow2]='error: .*: qcow2 overlay: L2 entry for guest offset 65536 has reserved bits set'
    [size-huge.qcow2]='error: .*: qcow2 overlay: virtual size 18446744073709547520 bytes differs'
    [size-zero.qcow2]='error: .*: qcow2 overlay: virtual size 0 bytes differs'
    [corrupt.qcow2]='error: .*: qcow2 overlay: has marked corrupt; refusing'
    [extl2.qcow2]='error: .*: qcow2 overlay: has extended L2 entries; refusing'
    [encrypted.qcow2]='error: .*: qcow2 overlay: is encrypted; refusing'
    [cluster-bits.qcow2]='error: .*: qcow2 overlay: cluster size 2\^63 is out of range'
    [l1-size.qcow2]='error: .*: qcow2 overlay: L1 table of 0 entries is too small'
    [header-length.qcow2]='error: .*: qcow2 overlay: header length 1 is invalid'
    [truncated.qcow2]='error: .*: qcow2 overlay: L2 entry for guest offset [0-9]+ points at offset [0-9]+, unaligned or past the end of the file'
    [short.qcow2]='error: .*: qcow2 overlay: file is truncated \(60 bytes'
)

replay_seeds "$REPLAY" "${seeds[@]}"

done_testing
