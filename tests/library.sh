#!/bin/bash
# libimg from outside the tree.  examples/readfile (built by make check
# against the uninstalled libimg.so) reads files of a small ext4 guest in a
# partitioned raw image and in a qcow2 of it, byte for byte.  Then the
# build tree is installed into a scratch DESTDIR, and readfile.c is
# compiled out of tree with nothing but what pkg-config says about the
# installed img-tools.pc, run against the installed libimg.so and compared
# again.  The installed library must export every function its installed
# headers declare and no img_internal_* one; each installed header must
# compile on its own; the installed tools must link libimg.so (and the
# guest-side img-ramcopy stay static); make uninstall must take it all away.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires sfdisk; requires mke2fs; requires jq; requires qemu-img; requires cmp
requires pkg-config; requires nm; requires readelf; requires ldd
READFILE=$top_builddir/examples/readfile
[ -x "$READFILE" ] || bail "examples/readfile is not built (make check builds it)"
: "${CC:=cc}" "${SAN_CFLAGS:=}" "${MAKE:=make}"
cd "$TMP"

# ---- a small guest -------------------------------------------------------
mkdir -p tree/etc tree/data
printf 'PRETTY_NAME="Library Test"\nID=debian\nVERSION_ID="12"\n' > tree/etc/os-release
printf 'UUID=1ea51b1e-1111-4222-8333-444444444444 / ext4 defaults 0 1\n' > tree/etc/fstab
head -c 200003 /dev/urandom > tree/data/blob   # more than one 64 KiB read, odd size
ln -s /data/blob tree/etc/blob-link             # absolute: resolved inside the guest
new_image disk.img $((32 * MiB))
partition disk.img <<< 'start=2048, type=83'
mk_ext disk.img "$(part_start disk.img 1)" "$(part_size disk.img 1)" ext4 \
    1ea51b1e-1111-4222-8333-444444444444 libtest tree
qemu-img convert -q -f raw -O qcow2 disk.img disk.qcow2

# readfile PROGRAM NAME IMAGE PATH WANT [FORMAT]: the bytes must be WANT's.
readfile () {
    local prog=$1 name=$2 img=$3 path=$4 want=$5 fmt=${6:-}
    if "$prog" "$img" "$path" $fmt > out 2> err && cmp -s out "$want"; then
        ok 0 "$name"
    else
        ok 1 "$name"; diag "$(cat err)"
    fi
}

# ---- the example, in the build tree ---------------------------------------
readfile "$READFILE" "in tree: a file of a raw image" disk.img /data/blob tree/data/blob
readfile "$READFILE" "in tree: through an absolute guest symlink" disk.img /etc/blob-link tree/data/blob
readfile "$READFILE" "in tree: a qcow2, format given" disk.qcow2 /etc/os-release tree/etc/os-release qcow2
fails_with "in tree: a missing file is one error line" \
    "^readfile: .*/data/nothing.*(No such file|not found|does not exist)" \
    "$READFILE" disk.img /data/nothing

# ---- install ----------------------------------------------------------------
DEST=$TMP/dest
install_into "$DEST"
pc=$(find "$DEST" -name img-tools.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || bail "no img-tools.pc installed under $DEST"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")   # under $DEST
# The staging directory is a sysroot to pkg-config: its paths get $DEST first.
pkgconf () { PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$DEST pkg-config "$@"; }
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
is "$(pkgconf --modversion img-tools)" "$version" "pkg-config: img-tools $version"
inc=$(pkgconf --variable=includedir img-tools)
inc=$DEST${inc#"$DEST"}/img-tools   # whether pkg-config put $DEST first or not
is "$(pkgconf --cflags-only-I img-tools | tr ' ' '\n' | grep -c -x -e "-I$inc")" 1 \
    "pkg-config --cflags names the installed include directory"

# Every header at the top of src/libimg but the two private ones is public.
want_h=$(cd "$top_srcdir/src/libimg" && ls ./*.h | sed 's|^\./||' | grep -v -x -e private.h -e cleanup.h | sort)
got_h=$(cd "$inc" && ls | sort)
is "$got_h" "$want_h" "the public headers are installed, and only they"

for h in $got_h; do
    if printf '#include <%s>\n' "$h" \
        | $CC -Wall -Wextra -Wstrict-prototypes -Werror -fsyntax-only -I"$inc" -x c - 2> h.err; then
        ok 0 "$h compiles alone"
    else
        ok 1 "$h compiles alone"; diag "$(cat h.err)"
    fi
done

# ---- the example, out of tree, against the installed copy -------------------
mkdir oot
cp "$top_srcdir/examples/readfile.c" oot/
# $SAN_CFLAGS: a sanitizer build of libimg.so needs its runtime in the program.
if (cd oot && $CC $SAN_CFLAGS readfile.c $(pkgconf --cflags --libs img-tools) -o readfile) > cc.log 2>&1; then
    ok 0 "readfile.c builds out of tree with pkg-config only"
else
    ok 1 "readfile.c builds out of tree with pkg-config only"; diag "$(cat cc.log)"
fi
export LD_LIBRARY_PATH=$libdir
is "$(ldd oot/readfile | awk '$1 ~ /^libimg\.so/ { print $3 }')" "$libdir/libimg.so.0" \
    "the out-of-tree program loads the installed libimg.so.0"
readfile oot/readfile "installed: a file of a raw image" disk.img /data/blob tree/data/blob
readfile oot/readfile "installed: a qcow2, format guessed" disk.qcow2 /etc/blob-link tree/data/blob
unset LD_LIBRARY_PATH

# ---- the ABI ------------------------------------------------------------------
so=$libdir/libimg.so.0
is "$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" "libimg.so.0" "soname libimg.so.0"
[ -f "$so" ] || bail "no libimg.so.0 installed in $libdir"
nm -D --defined-only "$so" | awk '$2 == "T" || $2 == "D" || $2 == "B" || $2 == "R" { print $3 }' > exported
grep '^img_' exported | sed 's/@.*//' | sort -u > exported.names
[ -s exported.names ] || bail "nm -D found no img_* symbol in $so"
is "$(grep -c '^img_internal_' exported.names)" 0 "no img_internal_* symbol is exported"
is "$(grep -v '^img_' exported | grep -c -v '@IMG_TOOLS_')" 0 "nothing but img_* is exported"
# What the installed headers declare, as the compiler sees it (-aux-info
# lists every prototype with the file it came from).
for h in $got_h; do printf '#include <%s>\n' "$h"; done > all.c
$CC -I"$inc" -aux-info all.aux -fsyntax-only all.c 2> aux.err || diag "$(cat aux.err)"
grep -F "/* $inc/" all.aux | sed -E 's/^.*[ *(](img_[A-Za-z0-9_]+) \(.*$/\1/' | sort -u > declared
[ -s declared ] || bail "no declaration found in the installed headers"
missing=$(comm -23 declared exported.names)
is "$missing" "" "every function the installed headers declare is exported"
unversioned=$(grep -F -x -f declared <(grep '^img_' exported) | grep -v -c '@@IMG_TOOLS_1\.0$' || true)
is "$unversioned" 0 "... each under the version IMG_TOOLS_1.0"
# The rest is the tools' own (IMG_TOOLS_PRIVATE, as glibc's GLIBC_PRIVATE):
# nothing undeclared under the public version, nothing declared hidden
# under the private one.
extra=$(grep '^img_' exported | grep '@@IMG_TOOLS_1\.0$' | sed 's/@.*//' | sort -u | comm -23 - declared)
is "$(echo $extra)" "" "everything exported under IMG_TOOLS_1.0 is declared in an installed header"
private=$(grep '^img_' exported | grep '@@IMG_TOOLS_PRIVATE$' | sed 's/@.*//' | sort -u)
is "$(comm -12 <(echo "$private") declared | tr '\n' ' ')" "" "nothing an installed header declares is under IMG_TOOLS_PRIVATE"
is "$(grep '^img_' exported | grep -v -c -e '@@IMG_TOOLS_1\.0$' -e '@@IMG_TOOLS_PRIVATE$')" 0 \
    "every exported symbol is under IMG_TOOLS_1.0 or IMG_TOOLS_PRIVATE"
[ -n "$private" ] || diag "IMG_TOOLS_PRIVATE is empty"

# ---- the tools ------------------------------------------------------------------
for t in img2pv img-ramify img-inspect; do
    bin=$(find "$DEST" -type f -name "$t" -perm -u+x | head -1)
    is "$(readelf -d "$bin" 2>/dev/null | grep -c 'NEEDED.*\[libimg\.so\.0\]')" 1 "$t links libimg.so.0"
done
ramcopy=$(find "$DEST" -type f -name img-ramcopy | head -1)
is "$(readelf -l "$ramcopy" | grep -c -e INTERP -e DYNAMIC)" 0 "img-ramcopy is still statically linked"

# ---- uninstall ------------------------------------------------------------------
if submake uninstall DESTDIR="$DEST" > uninstall.log 2>&1; then
    is "$(find "$DEST" ! -type d | sed "s|^$DEST||")" "" "make uninstall leaves no file behind"
else
    ok 1 "make uninstall"; diag "$(tail -20 uninstall.log)"
fi

done_testing
