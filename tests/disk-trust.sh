#!/bin/bash
# The image container is the caller's to name: --format is used as given
# (a raw disk holding a qcow2 header is read as bytes), a guessed format is
# reported as guessed, and backing files, data files and VMDK extents are
# refused unless --allow-backing, which then follows local regular files
# only, prints the chain, and pins it for every qemu we run.  And
# --rollback trusts only an undo file the caller owns and nobody else can
# write, and never writes through a symlink.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires qemu-img; requires qemu-io; requires sfdisk; requires strace; requires jq
INSPECT=$top_builddir/src/img-inspect
IMG2PV=$top_builddir/src/img2pv
ET=$top_builddir/tests/edits-tool
# LeakSanitizer cannot run under ptrace; ASan and UBSan still do.
st () { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace "$@"; }

cd "$TMP"
new_image base.img 16M
printf 'label: dos\ntype=83\n' | partition base.img
qemu-img convert -O qcow2 base.img base.qcow2
echo "host secret" > secret

# ---- --format ------------------------------------------------------------
"$INSPECT" base.qcow2 > g.out 2>&1
grep -q '^base.qcow2: qcow2 (format guessed; use --format to set it)' g.out
ok $? "without --format the report says the format was guessed"
"$INSPECT" --format=qcow2 base.qcow2 > f.out 2>&1
grep -q '^base.qcow2: qcow2, ' f.out; ok $? "--format=qcow2: qcow2, not guessed"
is "$("$INSPECT" --json base.qcow2 | jq -c '.images[0] | [.format, .format_guessed, .backing_chain]')" \
   '["qcow2",true,[]]' "JSON: format, format_guessed, empty backing_chain"
is "$("$INSPECT" --json --format=qcow2 base.qcow2 | jq -c '.images[0].format_guessed')" false \
   "JSON: --format gives format_guessed false"
fails_with "--format of a protocol driver is refused" \
    "^img-inspect: base.qcow2: disk: unknown image format 'nbd'" "$INSPECT" --format=nbd base.qcow2
fails_with "--format=qcow2 on a raw image: one clean error" \
    "^img-inspect: base.img: qcow2: " "$INSPECT" --format=qcow2 base.img
"$INSPECT" --format=raw base.qcow2 > r.out 2>&1
is "$?:$(head -1 r.out | cut -d, -f1)" "0:base.qcow2: raw" "--format=raw on a qcow2 reads its bytes"

# A raw disk whose first sectors are a qcow2 header naming a host file.
qemu-img create -q -u -f qcow2 -F raw -b "$TMP/secret" hdr.qcow2 16M
cp base.img rawq.img
dd if=hdr.qcow2 of=rawq.img bs=64k count=1 conv=notrunc status=none
fails_with "raw disk with a qcow2 header, guessed: the backing file is refused" \
    "^img-inspect: rawq.img: disk: qcow2 image has a backing file \($TMP/secret\); refusing \(use --allow-backing" \
    "$INSPECT" rawq.img
st -f -qq -e trace=%file -o raw.trace "$INSPECT" --format=raw rawq.img > rr.out 2>&1
is "$?:$(head -1 rr.out | cut -d, -f1)" "0:rawq.img: raw" "the same disk with --format=raw is read as raw"
grep -q secret raw.trace; is $? 1 "... and the named file is never opened"
grep -q 'execve("[^"]*qemu' raw.trace; is $? 1 "... and no qemu runs"

# ---- backing files -------------------------------------------------------
qemu-img create -q -f qcow2 -F qcow2 -b base.qcow2 mid.qcow2
qemu-img create -q -f qcow2 -F qcow2 -b mid.qcow2 top.qcow2
fails_with "a backing file is refused without --allow-backing" \
    "^img-inspect: top.qcow2: disk: qcow2 image has a backing file \(mid.qcow2\); refusing \(use --allow-backing to follow local files\)$" \
    "$INSPECT" top.qcow2
"$INSPECT" --allow-backing top.qcow2 > chain.out 2>&1; ok $? "--allow-backing: a local chain is followed"
is "$(grep backing_chain: chain.out)" "  backing_chain: $(realpath mid.qcow2) (qcow2)
  backing_chain: $(realpath base.qcow2) (qcow2)" "the resolved chain is in the report"
grep -q '^  1 .*primary' chain.out; ok $? "the base's partition is seen through the chain"
is "$("$INSPECT" --json --allow-backing top.qcow2 | jq -c '.images[0].backing_chain')" \
   "[\"$(realpath mid.qcow2) (qcow2)\",\"$(realpath base.qcow2) (qcow2)\"]" "JSON: backing_chain"

# What qemu-nbd is given: every file pinned, nothing left to follow.
st -f -qq -s 2000 -e trace=execve -o nbd.trace "$INSPECT" --allow-backing top.qcow2 > /dev/null 2>&1
want="\"filename\": \"$(realpath base.qcow2)\"},\"backing\": null}}}"
grep 'qemu-nbd' nbd.trace | grep -qF -- "$(printf '%s' "$want" | sed 's/"/\\"/g')"
ok $? "qemu-nbd opens the pinned chain ending in backing null"
grep -E 'execve\("[^"]*qemu-(nbd|img)"' nbd.trace | grep -v '"json:{' | grep -q .
is $? 1 "every qemu we run is given the json: name, never a bare file name"
grep -E 'execve\("[^"]*qemu-img", \["[^"]*", "info"' nbd.trace | grep -q .
is $? 1 "a plain qcow2 chain is read from its headers: no qemu-img info runs"

# The headers read natively name what qemu-img info names, for the
# headers qemu-img writes (the unusual ones go to qemu-img info).
new_image b2.raw 1M
long=$(printf 'd%.0s' $(seq 200))
mkdir -p "$long"; cp b2.raw "$long/b2.raw"
for opts in "compat=0.10" "compat=1.1" "cluster_size=512" "cluster_size=2M" \
            "lazy_refcounts=on" "extended_l2=on" "compression_type=zstd" "refcount_bits=1"; do
    for b in b2.raw "$long/b2.raw" "$TMP/b2.raw"; do
        rm -f n.qcow2
        qemu-img create -q -f qcow2 -o "$opts" -F raw -b "$b" n.qcow2 1M || bail "qemu-img create -o $opts"
        want=$(qemu-img info --output=json n.qcow2 | jq -r '."full-backing-filename"')
        st -f -qq -e trace=execve -o n.trace "$INSPECT" --json --allow-backing n.qcow2 > n.json 2>&1
        got=$(jq -r '.images[0].backing_chain[0]' n.json)
        infos=$(grep -cE 'execve\("[^"]*qemu-img", \["[^"]*", "info"' n.trace)
        case $opts in
            extended_l2=on|compression_type=zstd) wantinfo=1 ;;   # incompatible feature bits
            *) wantinfo=0 ;;
        esac
        is "$got|$infos" "$(realpath "$want") (raw)|$wantinfo" \
           "qcow2 -o $opts, backing ${b:0:20}...: the chain qemu-img info names ($wantinfo qemu-img info)"
    done
done

for name in 'json:{"file":{"driver":"file","filename":"'"$TMP"'/secret"}}' \
            'nbd://127.0.0.1:10809/x' 'nbd+unix:///x?socket=/tmp/s' 'http://127.0.0.1/x' "file:$TMP/secret"; do
    qemu-img create -q -u -f qcow2 -F raw -b "$name" p.qcow2 16M
    fails_with "--allow-backing still refuses ${name%%:*}:" \
        "^img-inspect: p.qcow2: disk: backing file #1 is not a local file name; refusing$" \
        "$INSPECT" --allow-backing p.qcow2
done
mkdir adir; qemu-img create -q -u -f qcow2 -F raw -b adir d.qcow2 16M
fails_with "--allow-backing refuses a backing file that is a directory" \
    "^img-inspect: d.qcow2: disk: backing file #1 is not a regular file; refusing$" \
    "$INSPECT" --allow-backing d.qcow2
qemu-img create -q -u -f qcow2 -F qcow2 -b loop2.qcow2 loop1.qcow2 16M
qemu-img create -q -u -f qcow2 -F qcow2 -b loop1.qcow2 loop2.qcow2 16M
fails_with "a backing chain that loops is refused" \
    "^img-inspect: loop1.qcow2: disk: backing chain loops; refusing$" "$INSPECT" --allow-backing loop1.qcow2

# Commas and colons in names: no option syntax, no protocol.
cp base.qcow2 'b,a:se.qcow2'
qemu-img create -q -u -f qcow2 -F qcow2 -b './b,a:se.qcow2' './t,o:p.qcow2' 16M
"$INSPECT" --allow-backing 't,o:p.qcow2' > comma.out 2>&1
is "$?:$(grep -c backing_chain comma.out)" "0:1" "names with commas and colons are plain files"

# ---- data files, VMDK extents --------------------------------------------
qemu-img create -q -f qcow2 -o data_file=data.raw df.qcow2 16M
st -f -qq -e trace=execve -o df.trace "$INSPECT" df.qcow2 > /dev/null 2>&1
grep -qE 'execve\("[^"]*qemu-img", \["[^"]*", "info"' df.trace
ok $? "a qcow2 with a data file is read by qemu-img info, not from its header"
fails_with "an external data file is refused" \
    "^img-inspect: df.qcow2: disk: qcow2 image has an external data file; refusing" "$INSPECT" df.qcow2
"$INSPECT" --allow-backing df.qcow2 > df.out 2>&1
is "$?:$(grep backing_chain df.out)" "0:  backing_chain: $(realpath data.raw) (data file)" \
   "--allow-backing: a local data file is followed and reported"
printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 32768 FLAT "base.img" 0\n' > e.vmdk
fails_with "a VMDK descriptor naming extents is refused" \
    "^img-inspect: e.vmdk: disk: vmdk image is a descriptor naming extent files; refusing" "$INSPECT" e.vmdk

# ---- --output -------------------------------------------------------------
fails_with "--output of an image with a backing file is refused" \
    "^img2pv: top.qcow2: disk: qcow2 image has a backing file" "$IMG2PV" --no-xl-config --output o.qcow2 top.qcow2
[ ! -e o.qcow2 ] && [ -z "$(ls o.qcow2* 2>/dev/null)" ]; ok $? "... and leaves no file"
st -f -qq -s 4000 -e trace=execve -o conv.trace "$IMG2PV" --allow-backing --no-xl-config --output o.qcow2 top.qcow2 > /dev/null 2>&1
grep -E 'execve\("[^"]*qemu-img", \["[^"]*qemu-img", "convert"' conv.trace | grep -q 'json:{.*base.qcow2.*\\"backing\\": null'
ok $? "--output --allow-backing: qemu-img convert reads the pinned chain"
[ -z "$(ls o.qcow2* 2>/dev/null)" ]; ok $? "a failed --output leaves no copy behind"

# ---- --rollback trusts only our own undo files -----------------------------
dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cp --sparse=always "$dir/mbr-plain-hvm.img" rb.img
orig=$(imgsum rb.img)
U=rb.img.img-tools-undo
"$ET" --edits hostname rb.img > /dev/null 2>&1; ok $? "an edit with an undo record"
edited=$(imgsum rb.img)
chmod 0666 "$U"
fails_with "a world-writable undo file is refused" \
    "^img2pv: $U: undo: group or world writable; refusing it$" "$IMG2PV" --rollback "$U"
chmod 0620 "$U"
fails_with "a group-writable undo file is refused" "undo: group or world writable; refusing it$" "$IMG2PV" --rollback "$U"
chmod 0600 "$U"; chown nobody "$U"
fails_with "an undo file owned by another user is refused" "undo: owned by uid [0-9]+, not by you; refusing it$" \
    "$IMG2PV" --rollback "$U"
chown root "$U"
ln -s rb.img link.img
fails_with "a symlink at the image path is refused" \
    "undo: link.img is not a regular file or block device \(a symlink\?\); refusing to write to it$" \
    "$IMG2PV" --rollback "$U" link.img
ln -s "$U" link-undo
fails_with "an undo file reached through a symlink is refused" "undo: is a symlink; refusing it$" \
    "$IMG2PV" --rollback link-undo
new_image other.img 16M
fails_with "an image that is not the recorded one is refused" "is not the image this undo file was made for" \
    "$IMG2PV" --rollback "$U" other.img
is "$(imgsum rb.img)" "$edited" "... and none of these wrote to the image"
"$IMG2PV" --rollback "$U" > /dev/null 2>&1; ok $? "our own undo file rolls back"
is "$(imgsum rb.img)" "$orig" "the image is as it was"

done_testing
