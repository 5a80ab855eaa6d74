#!/bin/bash
# img-batch over copies of the cached Debian guest and broken images
# (truncated, corrupt partition table, not an image, one held by qemu-nbd):
# -j 2, results equal to img2pv's own exit status, killed half-way with
# SIGTERM and resumed from the journal, a second signal passed on to the
# running tool, shards covering the list once, manifest options reaching
# the tool, hostile manifest lines, and the exact command lines of the
# Kubernetes and Slurm examples in contrib/.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires qemu-img; requires qemu-nbd; requires e2fsck; requires jq
requires python3; requires sfdisk; requires strace; requires taskset
python3 -c 'import yaml' 2>/dev/null || bail "python3-yaml is missing (scripts/setup.sh installs it)"
BATCH=$top_builddir/src/img-batch

dir=$(bash "$top_srcdir/tests/guests/guests.sh") || bail "could not build the test guests"
. <(grep -E '^(BOOT_OFFSET|ROOT_OFFSET)=' "$dir/mbr-plain-hvm.img.facts")
cd "$TMP"

# clean IMAGE: both filesystems of a converted guest check clean.
clean () {
    e2fsck -fn "$1?offset=$BOOT_OFFSET" >/dev/null 2>&1 && e2fsck -fn "$1?offset=$ROOT_OFFSET" >/dev/null 2>&1
}
guest () { cp --sparse=always "$dir/mbr-plain-hvm.img" "$1"; }
# field SUMMARY NAME KEY: one image's KEY in a summary.
field () { jq -r --arg n "$2" ".images[] | select(.name == \$n) | .$3" "$1"; }

mkdir imgs
for g in good1 good2 good3 done; do guest "imgs/$g.img"; done
img2pv --no-xl-config imgs/done.img >/dev/null 2>&1
is $? 0 "img2pv converts done.img before the batch (which then has nothing to do)"
head -c 2M "$dir/mbr-plain-hvm.img" > imgs/trunc.img
new_image imgs/corrupt.img 16M
printf 'label: dos\ntype=83\n' | partition imgs/corrupt.img
printf '\377\377\377\177' | dd of=imgs/corrupt.img bs=1 seek=$((446 + 8)) conv=notrunc status=none
echo 'not a disk image' > imgs/notimg.img
new_image imgs/inuse.img 16M
printf 'label: dos\ntype=83\n' | partition imgs/inuse.img
qemu-nbd -f raw -k "$TMP/holder.sock" imgs/inuse.img & holder=$!
at_exit "kill $holder 2>/dev/null"
for _ in $(seq 50); do [ -S "$TMP/holder.sock" ] && break; sleep 0.1; done

# Each tool's own exit status on the broken ones (they stay unchanged).
declare -A want=([good1]=0 [good2]=0 [good3]=0 [done]=3)
for b in trunc corrupt notimg inuse; do
    img2pv --json -- "imgs/$b.img" >/dev/null 2>&1
    want[$b]=$?
done
is "${want[trunc]}${want[corrupt]}${want[notimg]}${want[inuse]}" 1111 "img2pv fails on every broken image, leaving it unchanged"

cat > m1.txt <<'EOF'
# the batch: good and broken images mixed
imgs/good1.img --name web1 --memory=2048
imgs/trunc.img

imgs/good2.img --name 'db 2'
imgs/done.img
   imgs/inuse.img
imgs/good3.img
imgs/corrupt.img
imgs/notimg.img
EOF
all="good1 trunc good2 done inuse good3 corrupt notimg"

# Run 1, stopped by SIGTERM once the first image is converted.
"$BATCH" -j 2 -o out -m m1.txt img2pv > run1.out 2> run1.err &
pid=$!
for _ in $(seq 600); do grep -q ' converted ' out/journal 2>/dev/null && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid"; rc=$?
is "$rc" 143 "img-batch stopped by SIGTERM exits 143"
is "$(jq -r .interrupted_by out/summary.json)" SIGTERM "the summary says SIGTERM stopped the run"
started=$(grep -c '' out/journal)
notstarted=$(jq -r '.counts["not-started"]' out/summary.json)
ok $(( notstarted > 0 && started + notstarted == 8 ? 0 : 1 )) "no image started after the signal, the running ones finished and are journaled ($started finished, $notstarted not started)"
ok "$(grep -cv -E ' (converted|nothing-to-do|failed) ' out/journal)" "no image of run 1 is journaled as interrupted (they were let finish)"
like "$(cat run1.out)" 'not-started' "the table lists the images not started"
set -- $(awk '$2 == "converted" || $2 == "nothing-to-do" { print $5 }' out/journal)
finished1=$*

# Run 2: the finished ones skipped, the rest done.
cp out/journal journal.1
"$BATCH" -j 2 -o out -m m1.txt img2pv > run2.out 2> run2.err; rc=$?
is "$rc" 1 "the resumed run exits 1 (some images failed)"
bad=0
for n in $finished1; do
    [ "$(field out/summary.json "$n" from_journal)" = true ] || { bad=1; diag "$n not skipped"; }
done
ok $bad "the images finished in run 1 are skipped ($finished1)"
cmp -s <(head -c "$(stat -c %s journal.1)" out/journal) journal.1
ok $? "run 2 only appended to the journal"
bad=0
for n in $all; do
    got=$(field out/summary.json "imgs_$n.img" exit_status)
    [ "$got" = "${want[$n]}" ] || { bad=1; diag "$n: exit $got, img2pv alone: ${want[$n]}"; }
done
ok $bad "every image's result is img2pv's own exit status"
is "$(jq -r '[.images[] | .result] | join(" ")' out/summary.json)" \
   "converted failed converted nothing-to-do failed converted failed failed" "results in manifest order"
like "$(field out/summary.json imgs_inuse.img reason)" '^img2pv: .*inuse.img: .*in use' "the in-use image's reason is img2pv's line"
like "$(grep -E '^failed +imgs/corrupt.img' run2.out)" 'extends past the end' "the table gives a failure's one-line reason"
like "$(tail -1 run2.out)" '^3 converted, 1 nothing to do, 4 failed, 0 interrupted, 0 not started' "the table's totals"
bad=0
for n in good1 good2 good3 done; do clean "imgs/$n.img" || { bad=1; diag "imgs/$n.img does not check clean"; }; done
ok $bad "every converted image checks clean (e2fsck -fn)"
like "$(cat imgs/good1.cfg)" 'name = "web1"' "the manifest's --name reaches img2pv (xl config)"
like "$(cat imgs/good1.cfg)" 'memory = 2048' "the manifest's --memory=2048 reaches img2pv"
like "$(cat imgs/good2.cfg)" 'name = "db-2"' "a quoted value stays one argument (img2pv makes it a valid xl name)"
ok "$(jq -e . out/summary.json >/dev/null; echo $?)" "summary.json is valid JSON"
ok "$([ -s out/imgs_good1.img.json ] && [ -e out/imgs_trunc.img.stderr ]; echo $?)" "each image has its report and stderr in OUTDIR"

# A torn last line (a run killed while writing it) does not count, even
# one whole but for its newline; the next line starts fresh.
printf '2026-01-01T00:00:00Z converted 0 img2pv imgs_trunc.img' >> out/journal
before=$(grep -c '' out/journal)
"$BATCH" -q -o out -m m1.txt img2pv > run3.out 2>&1
is "$(sed -n "$((before + 1)),\$p" out/journal | awk '{print $5}' | sort | tr '\n' ' ')" \
   "imgs_corrupt.img imgs_inuse.img imgs_notimg.img imgs_trunc.img " "run 3 retries just the 4 failed images"
is "$(field out/summary.json imgs_trunc.img result)" failed "a torn journal line does not count"

# A second SIGTERM goes on to the running tool: journaled as interrupted;
# the next run (img2pv rolls the killed run back first) converts it.
kill "$holder"; wait "$holder" 2>/dev/null
guest imgs/late.img
"$BATCH" -o out2 img2pv --no-xl-config -- imgs/late.img > late.out 2>&1 &
pid=$!
for _ in $(seq 600); do [ -e imgs/late.img.img-tools-undo ] && break; sleep 0.02; done
kill -TERM "$pid"; sleep 0.2; kill -TERM "$pid"
wait "$pid"; rc=$?
is "$rc" 143 "two SIGTERMs: exit 143"
like "$(cat out2/journal)" ' interrupted 143 img2pv imgs_late.img$' "the killed tool is journaled as interrupted"
"$BATCH" -q -o out2 img2pv --no-xl-config -- imgs/late.img > late2.out 2>&1
is "$?:$(field out2/summary.json imgs_late.img result)" 0:converted "the re-run converts the interrupted image"
clean imgs/late.img
ok $? "and it checks clean"

# Shards: 0/2 and 1/2 take the k-th image by k mod 2, together all once.
sed 's/ --.*//' m1.txt > m2.txt
"$BATCH" -q -j 2 --shard 0/2 -o shards -m m2.txt img-inspect > shard0.out 2>&1
"$BATCH" -q -j 2 --shard 1/2 -o shards -m m2.txt img-inspect > shard1.out 2>&1
[ -e shards/summary.1-of-2.json ] || diag "$(cat shard0.out shard1.out)"
s0=$(jq -r '[.images[].name] | join(" ")' shards/summary.0-of-2.json)
s1=$(jq -r '[.images[].name] | join(" ")' shards/summary.1-of-2.json)
is "$s0" "imgs_good1.img imgs_good2.img imgs_inuse.img imgs_corrupt.img" "shard 0/2: images 0, 2, 4, 6"
is "$s1" "imgs_trunc.img imgs_done.img imgs_good3.img imgs_notimg.img" "shard 1/2: images 1, 3, 5, 7"
is "$(echo $s0 $s1 | tr ' ' '\n' | sort | tr '\n' ' ')" "$(echo $all | tr ' ' '\n' | sed 's/^/imgs_/; s/$/.img/' | sort | tr '\n' ' ')" "the shards cover the list once"
ok "$([ -s shards/journal.0-of-2 ] && [ -s shards/journal.1-of-2 ]; echo $?)" "each shard keeps its own journal"

# SIGINT (^C) stops as SIGTERM does, with 130.
"$BATCH" -q -o int -m m2.txt img-inspect > int.out 2>&1 &
pid=$!
for _ in $(seq 600); do [ -s int/journal ] && break; sleep 0.02; done
kill -INT "$pid"
wait "$pid"; rc=$?
is "$rc:$(jq -r .interrupted_by int/summary.json)" 130:SIGINT "img-batch stopped by SIGINT exits 130"

# Hostile manifests: no shell, no option that is not allowed, report
# names inside OUTDIR whatever the path.
mkdir -p h/sub
long=$(printf 'x%.0s' $(seq 3000))
cat > h/sub/m.txt <<EOF
imgs/a;touch\\ pwned1.img
"imgs/\$(touch pwned2).img" --name 'n;touch pwned3'
'imgs/q"uote\`touch pwned4\`.img' --vcpus 2
../../imgs/notimg.img
../../../../../../../../tmp/../etc/passwd-nonexistent
$long.img --name web
EOF
"$BATCH" -q -o "$TMP/h/out" -m h/sub/m.txt img2pv > h.out 2> h.err; rc=$?
is "$rc" 1 "a hostile but well-formed manifest runs (its images fail)"
ok "$(find "$TMP" -name 'pwned*' | grep -c .)" "nothing in a line was run by a shell"
is "$(find h/out -mindepth 1 -type d | grep -c .)" 0 "no report lands below OUTDIR"
is "$(ls h/out | grep -c '\.json$')" 7 "six reports and the summary, all in OUTDIR"
ok "$(ls h/out | awk 'length > 120' | grep -c .)" "a 3000-byte path gets a short report name"
like "$(field h/out/summary.json '_.._.._imgs_notimg.img' reason)" 'notimg.img: disk: image is only' "a ../ path is the manifest's own directory's relative path"
like "$(jq -r '.images[1].reason' h/out/summary.json)" '\$\(touch pwned2\)\.img: ' "\$(...) reaches the tool as bytes"

# Images right after the TOOL-OPTIONs, without '--'.
"$BATCH" -q -o noddash img-inspect --format=raw imgs/notimg.img imgs/trunc.img > /dev/null 2>&1
is "$?:$(jq -r '[.images[].image] | join(" ")' noddash/summary.json)" "1:imgs/notimg.img imgs/trunc.img" "images without '--' after the TOOL-OPTIONs"
fails_with "without '--', a value in its own word is refused" "^img-batch: --memory: give its value in the same word" \
    "$BATCH" -o bad.out img2pv --memory 2048 imgs/good1.img

# Lines refused before anything runs: exit 2, file:line: reason.
refuse () {
    printf 'imgs/good1.img\n%s\n' "$2" > bad.txt
    rm -rf bad.out
    fails_with "$1" '^img-batch: bad\.txt:2: ' "$BATCH" -o bad.out -m bad.txt img2pv
    [ ! -e bad.out/journal ]; ok $? "$1: nothing ran"
}
refuse "--rollback refused in a manifest" 'imgs/x.img --rollback imgs/x.img.img-tools-undo'
refuse "--xl-config (a host path) refused" 'imgs/x.img --xl-config=/etc/passwd'
refuse "--output refused" 'imgs/x.img --output /tmp/x'
refuse "an unterminated quote refused" "imgs/x.img --name 'web"
refuse "a line over 4096 bytes refused" "$(printf 'y%.0s' $(seq 5000))"
refuse "a line starting with an option refused" '--force imgs/x.img'
refuse "a stray word refused" 'imgs/x.img ; rm -rf /'
refuse "a value with a control byte refused" "imgs/x.img --name $(printf 'a\033b')"
printf 'imgs/good1.img\nimgs/trunc.img\nimgs/good1.img --name x\n' > dup.txt
fails_with "an image listed twice is refused" '^img-batch: imgs/good1.img is listed twice \(images 1 and 3\)' \
    "$BATCH" -o bad.out -m dup.txt img2pv
fails_with "--rollback refused among the TOOL-OPTIONs" "^img-batch: --rollback cannot be given" \
    "$BATCH" -o bad.out img2pv --rollback x -- imgs/good1.img
fails_with "a bad --shard is a usage error" "^img-batch: --shard: the index is not below the count" \
    "$BATCH" --shard 2/2 -o bad.out img2pv -- imgs/good1.img

# --pin: each worker pinned to a CPU of its own when -j is the number of
# CPUs allowed (auto), always (yes), never (no); seen in the workers'
# sched_setaffinity calls (before their exec: the tool and its qemu-nbd
# inherit it).
fails_with "a bad --pin is a usage error" "^img-batch: --pin wants auto, yes or no" \
    "$BATCH" --pin=sometimes -o bad.out img-inspect -- imgs/good1.img
# pins CPUS J PIN: under taskset -c CPUS, the CPUs the workers of
# img-batch -j J [--pin=PIN] pinned themselves to, sorted, in $got.
pins () {
    rm -rf pin.out
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" taskset -c "$1" \
        strace -f -qq -o pin.st -e trace=sched_setaffinity \
        "$BATCH" -q -j "$2" ${3:+--pin="$3"} -o pin.out img-inspect -- imgs/good1.img imgs/good2.img > /dev/null 2>&1
    is "$(jq -r '.counts.inspected' pin.out/summary.json)" 2 "-j $2 ${3:+--pin=$3 }on CPUs $1: both images inspected"
    got=$(sed -n 's/.*sched_setaffinity(0, [0-9]*, \[\([0-9]*\)\]).*/\1/p' pin.st | sort | tr '\n' ' ')
}
pins 0,1 2; is "$got" "0 1 " "-j 2 on 2 CPUs: each worker pinned to a CPU of its own (auto)"
pins 0,1 1; is "$got" "" "-j 1 on 2 CPUs: not pinned (auto)"
pins 0,1 2 no; is "$got" "" "--pin=no: not pinned"
pins 1 1 yes; is "$got" "1 1 " "--pin=yes -j 1 on CPU 1: both images' workers on the one CPU allowed"
pins 0,1 1 auto; is "$got" "" "--pin=auto -j 1 on 2 CPUs: not pinned"

# The contrib examples' exact command lines, run here with the index set.
mkdir ex && cd ex
for n in 1 2 3 4 5; do ln ../imgs/trunc.img "t$n.img" 2>/dev/null || cp ../imgs/trunc.img "t$n.img"; done
printf 't%s.img\n' 1 2 3 4 5 > manifest.txt
printf 'done.img\n' >> manifest.txt; cp --sparse=always ../imgs/done.img done.img
y=$top_srcdir/contrib/k8s/img-batch-job.yaml
read -r mode completions < <(python3 -c 'import sys, yaml; s = yaml.safe_load(open(sys.argv[1]))["spec"]; print(s["completionMode"], s["completions"])' "$y")
is "$mode" Indexed "the Kubernetes example is an Indexed Job"
mapfile -t cmd < <(python3 -c 'import sys, yaml; c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]; [print(w) for w in c["command"] + c.get("args", [])]' "$y")
is "${cmd[0]}" img-batch "its container runs img-batch"
for ((i = 0; i < completions; i++)); do
    JOB_COMPLETION_INDEX=$i "${cmd[@]}" > "k8s.$i.out" 2>&1
done
names=$(cat reports/summary.*-of-"$completions".json | jq -r '.images[].name' | sort | tr '\n' ' ')
is "$names" "done.img t1.img t2.img t3.img t4.img t5.img " "its $completions pods take every manifest line once"
is "$(jq -r '.images[] | select(.name == "done.img") | .result' reports/summary.*.json)" nothing-to-do "and run img2pv"
rm -rf reports
s=$top_srcdir/contrib/slurm/img-batch.sbatch
range=$(sed -n 's/^#SBATCH --array=//p' "$s")
first=${range%-*}; last=${range#*-}
count=$((last - first + 1))
for ((i = first; i <= last; i++)); do
    SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=$first SLURM_ARRAY_TASK_COUNT=$count SLURM_CPUS_PER_TASK=2 \
        bash "$s" > "slurm.$i.out" 2>&1
done
names=$(cat reports/summary.*-of-"$count".json | jq -r '.images[].name' | sort | tr '\n' ' ')
is "$names" "done.img t1.img t2.img t3.img t4.img t5.img " "the Slurm array's $count tasks take every manifest line once"
cd ..

done_testing
