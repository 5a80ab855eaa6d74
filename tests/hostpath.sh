#!/bin/bash
# No host path built from guest data (issue E, item 3).  The hostile
# "paths" guests of tests/hostile/mk-paths.sh (modules.dep entries and
# initrd members with `..`, absolute names and control bytes, kernel
# versions that are `..`, options or escapes, /lib/modules/VER a symlink
# to /, a symlink where the extracted kernel goes) run through img2pv
# (dry and real) and img-ramify under `strace -f -y -e trace=%file`:
#   - each ends as its case says: one escaped error line, or success;
#   - no write-mode file syscall (open/openat/openat2 for writing, creat,
#     mkdir, rename, link, symlink, unlink, rmdir, truncate, mknod, chmod,
#     chown) names a path outside the tool's private mkdtemp directory,
#     except, in a real run, the image's own files beside it (the image,
#     its undo record, the xl config, the extracted kernel and initrd);
#   - the private directories are gone afterwards;
#   - a benign guest still gets its drivers and a depmod-made index.
. "$top_srcdir/tests/functions.sh"
requires_root; requires strace; requires python3; requires mke2fs; requires sfdisk
requires debugfs; requires depmod; requires cpio
cd "$TMP"

canary=$(mktemp -d /tmp/img-hostile-canary.XXXXXX)
at_exit "rm -rf '$canary'"
echo "host secret $RANDOM" > "$canary/secret"
export HOSTILE_CANARY=$canary
out=$TMP/out
mkdir -p "$out"
(cd "$out" && bash "$top_srcdir/tests/hostile/mk-paths.sh" "$out") > build.log 2>&1 \
    || bail "tests/hostile/mk-paths.sh failed: $(tail -3 build.log)"
cp "$out/initrd-abs.img" good.img       # before its cases convert it
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"

# write_outside TRACE CWD IMAGE: the write-mode file syscalls whose path is
# not below $TMPDIR/{img2pv-depmod.,img-ramify.,img-nbd-}* (nor, with IMAGE, one of
# IMAGE's own files in CWD).
write_outside () {
    python3 - "$@" "$TMPDIR" <<'EOF'
import os, re, sys
trace, cwd, image, tmpdir = sys.argv[1:5]
stem = os.path.splitext(image)[0] if image else None
writes = re.compile(r'^(?:\d+\s+)?(creat|mkdir|mkdirat|rename|renameat|renameat2|link|linkat|symlink|symlinkat|'
                    r'unlink|unlinkat|rmdir|truncate|mknod|mknodat|chmod|fchmodat|chown|lchown|fchownat|'
                    r'open|openat|openat2)\((.*)\)\s+=\s+(-?\d+)')
allowed_tmp = re.compile(re.escape(tmpdir) + r'/(img2pv-depmod\.|img-ramify\.|img-nbd-)[^/]+(/|$)')
def paths(args):
    # "PATH" arguments, each with the <DIR> of the dirfd before it.
    out, dirfd = [], None
    for m in re.finditer(r'(\d+|AT_FDCWD)(?:<([^>]*)>)?|"((?:[^"\\]|\\.)*)"', args):
        if m.group(3) is not None:
            p = m.group(3)
            base = dirfd if dirfd else cwd
            out.append(os.path.normpath(p if p.startswith('/') else os.path.join(base, p)))
            dirfd = None
        elif m.group(1):
            dirfd = m.group(2) if m.group(2) else (cwd if m.group(1) == 'AT_FDCWD' else None)
    return out
bad = []
for line in open(trace, errors='replace'):
    m = writes.match(line.strip())
    if not m:
        continue
    call, args = m.group(1), m.group(2)
    if call.startswith('open') and not re.search(r'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_TMPFILE', args):
        continue
    for p in paths(args)[: (2 if call.startswith(('rename', 'link', 'symlink')) else 1)]:
        if p in ('/dev/null', '/dev/tty') or allowed_tmp.match(p):
            continue
        # The undo file is made nameless in the image's directory and
        # linked in under its name: the O_TMPFILE open names the
        # directory, linkat's source the descriptor (its target is checked).
        if image and p == cwd and call.startswith('open') and 'O_TMPFILE' in args:
            continue
        if call.startswith('link') and re.fullmatch(r'/proc/self/fd/\d+', p):
            continue
        if image and os.path.dirname(p) == cwd and (os.path.basename(p).startswith(stem + '.')
                                                      or os.path.basename(p).startswith('.' + stem + '.')):
            continue
        bad.append(line.strip()[:300])
        break
print('\n'.join(bad[:5]))
EOF
}

for case_file in "$out"/*.case; do
    name=$(basename "$case_file" .case)
    tool=; args=(); images=(); expect=; match=
    . "$case_file"
    dry=; [[ " ${args[*]} " == *" --dry-run "* ]] && dry=1
    tr=$TMP/trace.$name
    # LeakSanitizer cannot run under ptrace; ASan and UBSan still do.
    (cd "$out" && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" && strace -f -qq -y -s 512 -o "$tr" -e trace=%file \
        "$top_builddir/src/$tool" "${args[@]}" "${images[@]}") > stdout 2> stderr
    rc=$?
    why=()
    case $expect in
    error)
        [ "$rc" -eq 1 ] || why+=("exit $rc, wanted 1")
        [ "$(grep -c . stderr)" -eq 1 ] || why+=("$(grep -c . stderr) stderr lines")
        grep -Eq -- "$match" stderr || why+=("stderr does not match /$match/")
        ! grep -q $'[\001-\010\013-\037\177]' stderr || why+=("a raw control byte on stderr")
        ;;
    ok) [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || why+=("exit $rc, wanted 0 or 3") ;;
    esac
    own=${images[0]}; [ -z "$dry" ] || own=     # a dry run writes nothing beside the image
    bad=$(write_outside "$tr" "$out" "$own")
    [ -z "$bad" ] || why+=("writes outside the private directory:" "$bad")
    grep -qF -- "$canary" "$tr" && why+=("the trace names the canary: $(grep -F -- "$canary" "$tr" | head -2)")
    [ -z "$(ls -A "$TMPDIR")" ] || why+=("left in TMPDIR: $(ls -A "$TMPDIR")")
    if [ ${#why[@]} -eq 0 ]; then
        ok 0 "$name: $tool ${args[*]}: $expect, writes only in its private directory"
    else
        ok 1 "$name: $tool ${args[*]}: $expect, writes only in its private directory"
        diag "${why[@]}" "stderr: $(head -3 stderr)"
    fi
    rm -rf "${TMPDIR:?}"/*
done
is "$(cat "$canary/secret" | wc -l) $(ls -A "$canary")" "1 secret" "the canary directory holds only its secret"
test -L "$out/extract-link.vmlinuz-6.1.0-28-amd64" && [ "$(readlink "$out/extract-link.vmlinuz-6.1.0-28-amd64")" = "$canary/secret" ]
ok $? "the symlink where the kernel would go is left alone"

# The depmod staging is really used: a run over a guest whose initrd lacks
# xen-blkfront (and holds hostile members that are not staged) appends a
# layer with the module and depmod's binary index, and no hostile name.
V=6.1.0-28-amd64
debugfs -R "dump /boot/initrd.img-$V orig.out" "good.img?offset=1048576" 2>/dev/null
img2pv --no-undo good.img > good.out 2>&1; ok $? "img2pv converts the guest with hostile initrd members"
debugfs -R "dump /boot/initrd.img-$V initrd.out" "good.img?offset=1048576" 2>/dev/null
# The layer: the gzip stream after the original (and its alignment).
python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.stdout.buffer.write(d[d.index(b"\x1f\x8b\x08", int(sys.argv[2])):])' \
    initrd.out "$(stat -c %s orig.out)" | zcat > layer.cpio 2>/dev/null
cpio -t --quiet < layer.cpio > layer.list 2>/dev/null
grep -qx "lib/modules/$V/kernel/drivers/block/xen-blkfront.ko" layer.list; ok $? "the layer holds xen-blkfront.ko"
grep -qx "lib/modules/$V/modules.dep.bin" layer.list; ok $? "the layer holds depmod's modules.dep.bin"
grep -aq "kernel/drivers/block/xen-blkfront.ko:" layer.cpio; ok $? "depmod indexed xen-blkfront.ko"
! grep -aq "pwned" layer.cpio; ok $? "no hostile member name in the layer"
# The library's initrd extraction (a host directory named by the caller)
# refuses a member whose name carries a control byte, before it creates
# anything, and says so with the byte escaped.
python3 - <<'EOP'
def ent(name, mode, data):
    nb = name + b'\0'
    h = b'070701' + b''.join(b'%08x' % v for v in (0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
    b = h + nb
    b += b'\0' * (-len(b) % 4) + data
    return b + b'\0' * (-len(b) % 4)
buf = ent(b'ok', 0o100644, b'x') + ent(b'a\x1b[2Jb', 0o100644, b'y') + ent(b'TRAILER!!!', 0, b'')
open('esc.cpio', 'wb').write(buf)
EOP
"$top_builddir/tests/initrd-tool" extract esc.cpio esc.dir > esc.out 2>&1
is "$?:$(grep -c . esc.out):$(ls -A esc.dir 2>/dev/null | wc -l)" "1:1:0" "initrd extract: one error line, nothing created"
grep -qF 'unsafe name for a host file "a\x1b[2Jb": a control byte' esc.out; ok $? "initrd extract: the name is escaped"
done_testing
