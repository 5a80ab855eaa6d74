#!/bin/bash
# Hostile containers: images that name host files or network services as
# their backing file, external data file or VMDK extent, or that pass a
# qcow2 header off as a raw disk.  Every one must be refused before any
# qemu opens the named file (or, for a raw disk read as --format=raw, read
# as plain bytes).  Usage: mk-container.sh OUTDIR (HOSTILE_CANARY set).
set -eu
out=$1
: "${HOSTILE_CANARY:?}"
secret=$HOSTILE_CANARY/secret
cd "$out"

refusal='disk: .*(backing file|data file|extent files|not a local file name)'

# case NAME TOOL IMAGE EXPECT MATCH ARGS...: one .case file.
case_ () {
    local name=$1 tool=$2 image=$3 expect=$4 match=$5
    shift 5
    {
        printf 'tool=%q\n' "$tool"
        printf 'args=('; [ $# -eq 0 ] || printf '%q ' "$@"; printf ')\n'
        printf 'images=(%q)\n' "$image"
        printf 'expect=%q\n' "$expect"
        printf 'match=%q\n' "$match"
    } > "$name.case"
}

# Every way to run a tool on an image that must be refused.
refused () {
    local name=$1 image=$2
    shift 2
    case_ "$name-inspect" img-inspect "$image" error "$refusal" "$@"
    case_ "$name-img2pv" img2pv "$image" error "$refusal" --dry-run "$@"
    case_ "$name-output" img2pv "$image" error "$refusal" --output "$name-out.img" "$@"
    case_ "$name-ramify" img-ramify "$image" error "$refusal" --dry-run "$@"
}

# qcow2 with a backing file name; -u: nothing is opened to make it.
backing () {
    qemu-img create -q -u -f qcow2 -F "${3:-raw}" -b "$2" "$1" 16M
}

backing b-abs.qcow2 "$secret"
refused b-abs b-abs.qcow2
backing b-rel.qcow2 "../../../../../../..$secret"
refused b-rel b-rel.qcow2
backing b-json.qcow2 "json:{\"file\":{\"driver\":\"file\",\"filename\":\"$secret\"}}"
refused b-json b-json.qcow2
backing b-nbd.qcow2 "nbd://127.0.0.1:10809/x"
refused b-nbd b-nbd.qcow2
backing b-nbd-unix.qcow2 "nbd+unix:///x?socket=$HOSTILE_CANARY/sock"
refused b-nbd-unix b-nbd-unix.qcow2
backing b-http.qcow2 "http://127.0.0.1:9/x"
refused b-http b-http.qcow2
backing b-file-opts.qcow2 "file:$secret"
refused b-file-opts b-file-opts.qcow2
# The backing format names a protocol driver.
backing b-fmt-nbd.qcow2 "$secret" nbd 2>/dev/null || backing b-fmt-nbd.qcow2 "$secret"
refused b-fmt-nbd b-fmt-nbd.qcow2

# Opting in follows local regular files only: never a protocol or json:.
for b in nbd json http nbd-unix file-opts; do
    refused "allow-$b" "b-$b.qcow2" --allow-backing
done

# A chain through a local qcow2 that names the canary.
backing mid.qcow2 "$secret"
backing b-chain.qcow2 mid.qcow2 qcow2
refused b-chain b-chain.qcow2

# An external data file: made with a local name of the same length, which
# is then swapped for the canary's path in the header extension.
dummy=$(printf '%*s' "${#secret}" '' | tr ' ' d)
dummy=./${dummy:2}
qemu-img create -q -f qcow2 -o data_file="$dummy" d-file.qcow2 16M
rm -f "$dummy"
DUMMY=$dummy SECRET=$secret perl -0777 -pi -e 's/\Q$ENV{DUMMY}\E/$ENV{SECRET}/' d-file.qcow2
grep -q "$secret" d-file.qcow2
refused d-file d-file.qcow2

# A VMDK descriptor whose extent is the canary.
cat > e-vmdk.vmdk <<EOF
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="monolithicFlat"

RW 2048 FLAT "$secret" 0

ddb.virtualHWVersion = "4"
ddb.geometry.cylinders = "2"
ddb.geometry.heads = "16"
ddb.geometry.sectors = "63"
ddb.adapterType = "ide"
EOF
refused e-vmdk e-vmdk.vmdk
case_ e-vmdk-fmt img-inspect e-vmdk.vmdk error "$refusal" --format=vmdk

# A raw disk whose first sectors are a qcow2 header naming the canary:
# guessed, it is refused; read as --format=raw, it is plain bytes.
truncate -s 4M raw-q.img
dd if=b-abs.qcow2 of=raw-q.img bs=64k count=1 conv=notrunc status=none
refused raw-q raw-q.img
case_ raw-q-as-raw img-inspect raw-q.img ok '' --format=raw
case_ raw-q-as-raw-img2pv img2pv raw-q.img error 'no Linux root' --dry-run --format=raw
# --format=qcow2 on it: still the refusal, never the file.
case_ raw-q-as-qcow2 img-inspect raw-q.img error "$refusal" --format=qcow2
# A format name that is a qemu protocol or filter driver.
case_ fmt-nbd img-inspect raw-q.img error 'unknown image format' --format=nbd
case_ fmt-file img-inspect raw-q.img error 'unknown image format' --format=file
