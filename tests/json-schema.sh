#!/bin/bash
# The --json reports as an interface: the JSON Schemas are installed
# (make install-dist_schemaDATA) and real reports of every tool are
# validated against them with python3-jsonschema, not our code:
# img-inspect on plain, GPT, qcow2 and guest images; img2pv and
# img-ramify dry runs, real runs, second runs and --rollback on copies of
# the cached Debian guests; and every kind of failure (bad option, missing
# file, not an image, a truncated image, refused conversions, a failing
# edit, a signal) gives an error object on stdout with the exit status,
# and the one line on stderr.  Numbers are JSON numbers (jq type), and a
# mutated report fails validation, so the schemas can fail.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires python3; requires qemu-img; requires sfdisk; requires make
python3 -c 'import jsonschema' 2>/dev/null || bail "python3-jsonschema is missing (scripts/setup.sh installs it)"
export IMG_TOOLS_DATADIR=$top_srcdir/data IMG_RAMCOPY=$top_builddir/src/ramboot/img-ramcopy
INSPECT=$top_builddir/src/img-inspect
IMG2PV=$top_builddir/src/img2pv
RAMIFY=$top_builddir/src/img-ramify

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
cd "$TMP"

# The schemas as installed.
make -s -C "$top_builddir" install-dist_schemaDATA DESTDIR="$TMP/dest" > make.out 2>&1
ok $? "make install-dist_schemaDATA installs the schemas"
sdir=$(dirname "$(find "$TMP/dest" -name img2pv.schema.json | head -1)")
is "$(cd "$sdir" 2>/dev/null && ls | tr '\n' ' ')" "img-inspect.schema.json img-ramify.schema.json img2pv.schema.json " \
   "three schemas under \$(pkgdatadir)/schema ($sdir)"
case $sdir in */share/img-tools/schema) ok 0 "installed under \$(pkgdatadir)/schema";;
              *) ok 1 "installed under \$(pkgdatadir)/schema (got $sdir)";; esac

# valid TOOL FILE NAME: FILE validates against TOOL's installed schema.
valid () {
    python3 "$top_srcdir/tests/json-validate.py" "$sdir/$1.schema.json" "$2" 2> valid.err
    ok $? "$3: valid against $1.schema.json"
    [ -s valid.err ] && sed 's/^/# /' valid.err | head -5
    return 0
}
# invalid TOOL FILE NAME: FILE does not validate.
invalid () {
    python3 "$top_srcdir/tests/json-validate.py" "$sdir/$1.schema.json" "$2" 2> valid.err
    is $? 1 "$3: rejected by $1.schema.json ($(head -c 120 valid.err))"
}
# report TOOL FILE WANT-EXIT NAME: the report names TOOL's schema and its
# exit status, ok as the status says, and validates.
report () {
    is "$(jq -r '"\(.schema) \(.exit | type) \(.exit) \(.ok)"' "$2")" \
       "img-tools/$1/1 number $3 $([ "$3" = 0 ] || [ "$3" = 3 ] && echo true || echo false)" \
       "$4: schema img-tools/$1/1, exit $3 as a number"
    valid "$1" "$2" "$4"
}
# fails TOOL WANT-EXIT LAYER NAME CMD...: CMD exits WANT-EXIT with the
# error object (layer LAYER, the message said on stderr) on stdout and
# one line on stderr.
fails () {
    local tool=$1 want=$2 layer=$3 name=$4
    shift 4
    "$@" > f.json 2> f.err
    is $? "$want" "$name: exit $want"
    report "$tool" f.json "$want" "$name"
    is "$(jq -r '.error.layer' f.json)" "$layer" "$name: error layer $layer"
    is "$(grep -c '' f.err) $(head -1 f.err)" "1 $tool: $(jq -r .error.message f.json)" \
       "$name: one line on stderr, the error object's message"
}

# ---- img-inspect ----------------------------------------------------------
new_image plain.img 32M
printf 'label: dos\nsize=8M, type=83, bootable\ntype=82\n' | partition plain.img
mk_ext plain.img "$(part_start plain.img 1)" "$(part_size plain.img 1)" ext4 \
    aaaaaaaa-0000-4000-8000-000000000001 'plain"label'
new_image gpt.img 32M
printf 'label: gpt\nsize=8M, name=one\nsize=8M\n' | partition gpt.img
mk_ext gpt.img "$(part_start gpt.img 1)" "$(part_size gpt.img 1)" ext2 \
    aaaaaaaa-0000-4000-8000-000000000002 gptfs
qemu-img convert -O qcow2 plain.img plain.qcow2
qemu-img create -q -f qcow2 -b "$dir/mbr-lvm-hvm.qcow2" -F qcow2 lvm-guest.qcow2

"$INSPECT" --json plain.img > i-plain.json; is $? 0 "img-inspect plain.img"
report img-inspect i-plain.json 0 "img-inspect plain.img"
"$INSPECT" --json gpt.img plain.qcow2 > i-two.json; is $? 0 "img-inspect gpt.img plain.qcow2"
report img-inspect i-two.json 0 "img-inspect gpt.img plain.qcow2"
"$INSPECT" --json --allow-backing lvm-guest.qcow2 > i-guest.json
is $? 0 "img-inspect on the LVM Debian guest"
report img-inspect i-guest.json 0 "img-inspect LVM guest"
is "$(jq -r '[.images[0].size, .images[0].partitions[0].start, .volume_groups[0].extent_size,
             .volume_groups[0].lvs[0].size, .guest.mounts[0].fstab_line,
             .guest.kernels[0].initrd_contents.entries] | map(type) | unique | join(" ")' i-guest.json)" \
   number "img-inspect: sizes, offsets, counts are JSON numbers"
is "$(jq -r '.guest.os.id + " " + (.volume_groups | length | tostring)' i-guest.json)" "debian 1" \
   "img-inspect: the guest and its volume group are reported"
"$INSPECT" -jv plain.img > i-short.json 2> /dev/null; report img-inspect i-short.json 0 "img-inspect -jv"

fails img-inspect 2 usage "img-inspect --json --bogus" "$INSPECT" --json --bogus plain.img
fails img-inspect 2 usage "img-inspect --bogus --json (after the bad option)" "$INSPECT" --bogus --json plain.img
fails img-inspect 2 usage "img-inspect -j, no image" "$INSPECT" -j
fails img-inspect 1 open "img-inspect missing file" "$INSPECT" --json missing.img
is "$(jq -c .images f.json)" '["missing.img"]' "img-inspect missing file: the images named"
echo 'not a disk image' > text.img
fails img-inspect 1 open "img-inspect: not an image (--format=qcow2)" "$INSPECT" --json --format=qcow2 text.img
head -c 1M "$dir/mbr-lvm-hvm.img" > trunc.img
fails img-inspect 1 open "img-inspect: truncated image" "$INSPECT" --json trunc.img
head -c 300K plain.qcow2 > trunc.qcow2
fails img-inspect 1 open "img-inspect: truncated qcow2" "$INSPECT" --json trunc.qcow2
"$INSPECT" plain.img > text.out; ok "$(! grep -q '"schema"' text.out; echo $?)" "img-inspect without --json: text, no JSON"
"$INSPECT" missing.img > text.out 2>/dev/null; is "$? $(wc -c < text.out)" "1 0" "img-inspect without --json: a failure prints nothing on stdout"

# ---- img2pv ------------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$dir/mbr-plain-hvm.qcow2" -F qcow2 pv.qcow2
"$IMG2PV" --allow-backing --json --dry-run pv.qcow2 > p-dry.json 2> p.err; is $? 0 "img2pv --dry-run"
report img2pv p-dry.json 0 "img2pv --dry-run"
is "$(jq -r '"\(.status) \(.dry_run) \(.undo) \(.error)"' p-dry.json)" "changed true null null" "img2pv --dry-run: status, no undo"
"$IMG2PV" --allow-backing --json --libvirt-xml pv.xml pv.qcow2 > p-run.json 2> p.err; is $? 0 "img2pv real run"
report img2pv p-run.json 0 "img2pv real run"
is "$(jq -r '[.facts.initrd_segments, (.edits[].changes)] | map(type) | unique | join(" ")' p-run.json)" number \
   "img2pv: initrd_segments and the change counts are numbers"
is "$(jq -r '.facts | "\(.boot) \(.xl_config) \(.libvirt_xml)"' p-run.json)" "pygrub $(realpath .)/pv.cfg pv.xml" \
   "img2pv: facts boot, xl_config and libvirt_xml"
"$IMG2PV" --allow-backing --json pv.qcow2 > p-again.json 2> p.err; is $? 3 "img2pv second run: nothing to do"
report img2pv p-again.json 3 "img2pv second run"
is "$(jq -r .status p-again.json)" nothing-to-do "img2pv second run: status nothing-to-do"
"$IMG2PV" --allow-backing --json --rollback pv.qcow2.img-tools-undo > p-rb.json 2> p.err; is $? 0 "img2pv --rollback --json"
report img2pv p-rb.json 0 "img2pv --rollback"
is "$(jq -c .rollback p-rb.json)" '{"undo":"pv.qcow2.img-tools-undo","rolled_back":true}' "img2pv --rollback: what was rolled back"
"$IMG2PV" --allow-backing --json --rollback pv.qcow2.img-tools-undo > p-rb2.json 2> p.err; is $? 3 "img2pv --rollback again: nothing to roll back"
report img2pv p-rb2.json 3 "img2pv --rollback again"

fails img2pv 2 usage "img2pv --json --vcpus 0" "$IMG2PV" --json --vcpus 0 pv.qcow2
fails img2pv 2 usage "img2pv --no-such-option --json" "$IMG2PV" --no-such-option --json pv.qcow2
fails img2pv 2 usage "img2pv --json, no image" "$IMG2PV" --json
fails img2pv 1 open "img2pv missing file" "$IMG2PV" --json --no-xl-config missing.img
fails img2pv 1 open "img2pv: not an image" "$IMG2PV" --json --no-xl-config --format=qcow2 text.img
fails img2pv 1 open "img2pv: a truncated guest image" "$IMG2PV" --json --no-xl-config trunc.img
fails img2pv 1 open "img2pv: a truncated qcow2" "$IMG2PV" --json --no-xl-config trunc.qcow2
fails img2pv 1 open "img2pv: a disk with no guest" "$IMG2PV" --json --no-xl-config plain.img
echo 'name = "not ours"' > pv.cfg
fails img2pv 1 refused "img2pv: refused, an xl config not its own in the way" "$IMG2PV" --allow-backing --json pv.qcow2
rm -f pv.cfg
touch out.qcow2
fails img2pv 1 refused "img2pv: refused, --output exists" "$IMG2PV" --allow-backing --json -o out.qcow2 pv.qcow2
# A failing run: the initrd may inflate to 1 KiB only.
"$IMG2PV" --allow-backing --json --no-xl-config --budget=inflate=1K pv.qcow2 > f.json 2> f.err; rc=$?
is "$rc" 1 "img2pv: a budget too small fails the run"
report img2pv f.json 1 "img2pv failed run"
is "$(jq -r '"\(.status) \(.error.layer)"' f.json)" "$(jq -r '"\(.status) \(if .status == "failed" then "edit" else "prepare" end)"' f.json)" \
   "img2pv failed run: the layer fits the status ($(jq -r '"\(.status) \(.error.layer) \(.error.edit)"' f.json))"
is "$(jq -r '"\(.ok) \(.status == "not-run" or (.status == "failed" and (.rolled_back or ([.changes[] | select(.action != "note")] | length) == 0)))"' f.json)" "false true" \
   "img2pv failed run: nothing was written, or it was rolled back"
# A signal: the error object, and the process dies of it.
"$IMG2PV" --allow-backing --json --no-xl-config pv.qcow2 > s.json 2> s.err &
pid=$!
# As soon as img2pv catches SIGTERM (SigCgt bit 15; it sets its handlers
# first thing), long before its run ends.
for _ in $(seq 400); do
    case $(readlink "/proc/$pid/exe" 2>/dev/null) in
        *img2pv) m=$(awk '/^SigCgt/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
                 [ -n "$m" ] && (( 0x$m & 0x4000 )) && break ;;
    esac
    sleep 0.01
done
kill -TERM "$pid"
wait "$pid"; rc=$?
is "$rc" 143 "img2pv killed by SIGTERM: dies of it (143)"
report img2pv s.json 143 "img2pv SIGTERM"
is "$(jq -r .error.layer s.json) $(grep -c '' s.err)" "signal 1" "img2pv SIGTERM: layer signal, one line on stderr"
"$IMG2PV" --allow-backing --json --no-xl-config pv.qcow2 > p-next.json 2> p.err; rc=$?
is "$rc" 0 "img2pv after the signal: the next run converts"
report img2pv p-next.json "$rc" "img2pv after the signal"

# ---- img-ramify ----------------------------------------------------------------
qemu-img create -q -f qcow2 -b "$dir/mbr-plain.qcow2" -F qcow2 ram.qcow2
"$RAMIFY" --allow-backing --json --dry-run ram.qcow2 > r-dry.json 2> r.err; is $? 0 "img-ramify --dry-run"
report img-ramify r-dry.json 0 "img-ramify --dry-run"
"$RAMIFY" --allow-backing --json --memory 4G ram.qcow2 > r-run.json 2> r.err; is $? 0 "img-ramify real run"
report img-ramify r-run.json 0 "img-ramify real run"
is "$(jq -r '.facts | [.copy_bytes, .memory_recommended_bytes, .memory_planned_bytes] | map(type) | join(" ")' r-run.json)" \
   "number number number" "img-ramify: copy_bytes, memory_recommended_bytes, memory_planned_bytes are numbers"
is "$(jq -r '.facts | "\(.memory_planned_bytes) \(.memory_recommended_bytes > .copy_bytes)"' r-run.json)" "4294967296 true" \
   "img-ramify: sizes in bytes (4G planned; more memory recommended than the copy)"
"$RAMIFY" --allow-backing --json ram.qcow2 > r-again.json 2> r.err; is $? 3 "img-ramify second run: nothing to do"
report img-ramify r-again.json 3 "img-ramify second run"
fails img-ramify 1 refused "img-ramify: refused, --memory too small" "$RAMIFY" --allow-backing --json --memory 64M ram.qcow2
is "$(jq -r '"\(.status) \(.facts.memory_recommended_bytes | type)"' f.json)" "not-run number" \
   "img-ramify refused: the plan's report, not run, with the memory it needs"
fails img-ramify 2 usage "img-ramify --json --archive=xz" "$RAMIFY" --json --archive=xz ram.qcow2
fails img-ramify 1 open "img-ramify missing file" "$RAMIFY" --json missing.img
fails img-ramify 1 open "img-ramify: truncated image" "$RAMIFY" --json trunc.img
fails img-ramify 1 rollback "img-ramify --rollback of a missing record" "$RAMIFY" --json --rollback missing.undo
"$RAMIFY" --allow-backing --json --rollback ram.qcow2.img-tools-undo > r-rb.json 2> r.err; is $? 0 "img-ramify --rollback --json"
report img-ramify r-rb.json 0 "img-ramify --rollback"

# ---- the schemas can fail ------------------------------------------------------
jq '.facts.copy_bytes |= tostring' r-run.json > m1.json; invalid img-ramify m1.json "copy_bytes as a string"
jq '.facts.memory_recommended = "832 MiB"' r-run.json > m2.json; invalid img-ramify m2.json "an unknown fact"
jq 'del(.schema)' p-run.json > m3.json; invalid img2pv m3.json "no schema"
jq '.schema = "img-tools/img2pv/2"' p-run.json > m4.json; invalid img2pv m4.json "another schema version"
jq '.ok = true | .exit = 0' f.json > m5.json; invalid img-ramify m5.json "ok with an error"
jq '.exit = "1"' p-run.json > m6.json; invalid img2pv m6.json "exit as a string"
jq 'del(.facts)' p-run.json > m7.json; invalid img2pv m7.json "a plan report without facts"
jq '.images[0].size |= tostring' i-plain.json > m8.json; invalid img-inspect m8.json "an image size as a string"
jq '.surprise = 1' i-plain.json > m9.json; invalid img-inspect m9.json "an unknown top-level key"
jq '.error = {"layer": "nowhere", "message": "x"} | .ok = false | .exit = 1' i-plain.json > m10.json
invalid img-inspect m10.json "an unknown layer"
done_testing
