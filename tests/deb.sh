#!/bin/bash
# What goes where.  (a) make install DESTDIR=... from the build tree: the
# exact list of files it stages, and the staged tools run with the staged
# library and data.  (b) the Debian packages (debian/), built with
# dpkg-buildpackage from a clean copy of the source tree (its tracked
# files, or make distdir's; none of the build tree's products): lintian
# without errors, every file make install stages is in one of them,
# installed with dpkg -i, smoke-run from /usr, removed again.  Runs alone
# (SERIAL_TESTS): it installs into /usr and builds the whole tree again.
. "$top_srcdir/tests/functions.sh"
requires tar; requires dpkg-buildpackage; requires dh; requires lintian
requires fakeroot; requires dpkg-deb; requires mke2fs; requires pkg-config; requires ldd
requires_root
: "${CC:=cc}" "${MAKE:=make}"
cd "$TMP"

version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
# libimg.so.0's file name, from libtool's CURRENT:REVISION:AGE
IFS=: read -r lt_c lt_r lt_a < <(sed -n 's/^LIBIMG_LT_VERSION = //p' "$top_builddir/Makefile")
libimg_file=libimg.so.$((lt_c - lt_a)).$lt_a.$lt_r
[ -n "$version" ] || bail "no PACKAGE_VERSION in the Makefile"
# The package's version is the project's (a native package: no revision).
is "$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version)" "$version" \
    "debian/changelog's version is configure.ac's ($version)"

# A tiny guest: a bare ext4 filesystem, no partition table.
mkdir -p tree/etc
printf 'PRETTY_NAME="Deb Test"\nID=debian\nVERSION_ID="12"\n' > tree/etc/os-release
printf 'LABEL=debtest / ext4 defaults 0 1\n' > tree/etc/fstab
mke2fs -q -F -t ext4 -L debtest -d tree fs.img 16M > /dev/null || bail "mke2fs failed"

# ---- (a) make install DESTDIR=... ------------------------------------------
# The installation directories, as configure chose them.
printf 'print-%%:\n\t@echo $($*)\n' > print.mk
makevar () { submake -f Makefile -f "$TMP/print.mk" "print-$1"; }
prefix=$(makevar prefix); bindir=$(makevar bindir); libdir=$(makevar libdir)
libexecdir=$(makevar libexecdir); includedir=$(makevar includedir); mandir=$(makevar mandir)
datadir=$(makevar datadir); pkgdatadir=$(makevar pkgdatadir)
[ -n "$prefix" ] && [ -n "$pkgdatadir" ] || bail "cannot read the installation directories from the Makefile"

DEST=$TMP/root
install_into "$DEST"

# Everything it stages, and nothing else (so nothing in /etc, nothing
# outside the prefix).
tools="img-batch img-inspect img-ramify img2pv"
ramboot="bls/95-img-ramify.install.body dracut/90-img-ramify.sh dracut/module-setup.sh
grub/41_img-ramify.body img-ramify-detach initramfs-tools/hook initramfs-tools/ramboot select.sh"
{
    for t in $tools; do
        echo "$bindir/$t"
        echo "$mandir/man1/$t.1"
        echo "$datadir/bash-completion/completions/$t"
    done
    echo "$libexecdir/img-tools/img-ramcopy"
    for f in $ramboot; do echo "$pkgdatadir/data/ramboot/$f"; done
    for t in img-inspect img-ramify img2pv; do echo "$pkgdatadir/schema/$t.schema.json"; done
    for h in libimg.h img-undo.h img-edit.h img-quote.h img-json.h; do echo "$includedir/img-tools/$h"; done
    for l in libimg.la libimg.so libimg.so.0 "$libimg_file"; do echo "$libdir/$l"; done
    echo "$libdir/pkgconfig/img-tools.pc"
} | sort > want.list
(cd "$DEST" && find . -type f -o -type l) | sed 's|^\.||' | sort > got.list
if cmp -s want.list got.list; then
    ok 0 "make install stages exactly the expected $(wc -l < want.list) files under $prefix"
else
    ok 1 "make install stages exactly the expected files"; diag "$(diff want.list got.list)"
fi
for t in $tools; do
    [ -x "$DEST$bindir/$t" ]; ok $? "$t is installed executable in $bindir"
done
[ -x "$DEST$libexecdir/img-tools/img-ramcopy" ]; ok $? "img-ramcopy is installed executable in $libexecdir/img-tools"
# The man pages name the paths of this installation, never a placeholder.
! grep -q '@pkg[a-z]*dir@' "$DEST$mandir"/man1/*.1; ok $? "the installed man pages carry no @...dir@ placeholder"
grep -qF "$pkgdatadir" "$DEST$mandir/man1/img-ramify.1"; ok $? "img-ramify.1 names $pkgdatadir"

# The staged tools, with the staged library.
export LD_LIBRARY_PATH=$DEST$libdir
is "$(ldd "$DEST$bindir/img2pv" | awk '$1 == "libimg.so.0" { print $3 }')" "$DEST$libdir/libimg.so.0" \
    "the staged img2pv links the staged libimg.so.0"
is "$("$DEST$bindir/img2pv" --version 2>&1)" "img2pv $version" "the staged img2pv --version"
"$DEST$bindir/img-inspect" --help > help.out 2>&1 && grep -q -- '--json' help.out
ok $? "the staged img-inspect --help"
if "$DEST$bindir/img-inspect" --json fs.img > staged.json 2> staged.err; then
    ok 0 "the staged img-inspect reads a bare ext4 image"
else
    ok 1 "the staged img-inspect reads a bare ext4 image"; diag "$(cat staged.err)"
fi
if command -v python3 > /dev/null && python3 -c 'import jsonschema' 2> /dev/null; then
    python3 "$top_srcdir/tests/json-validate.py" "$DEST$pkgdatadir/schema/img-inspect.schema.json" staged.json 2> valid.err
    ok $? "its report is valid against the staged schema"; [ -s valid.err ] && diag "$(head -5 valid.err)"
fi
IMG_TOOLS_DATADIR=$DEST$pkgdatadir "$DEST$bindir/img-ramify" --help > /dev/null 2>&1
ok $? "the staged img-ramify --help, with the staged data"
unset LD_LIBRARY_PATH

# ---- (b) the Debian packages -------------------------------------------------
dpkg-query -W -f '${Status}\n' img-tools libimg0 libimg-dev 2> /dev/null | grep -q ' installed$' \
    && bail "img-tools is installed on this machine already; this test installs and removes it (dpkg -P img-tools libimg-dev libimg0 first)"
# A clean source tree: in a git checkout (CI's is a fresh clone), the
# tracked files as they are in the work tree, so uncommitted edits are
# built too; in an unpacked release, what make dist would pack.
mkdir -p deb/img-tools
if git -C "$top_srcdir" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    (cd "$top_srcdir" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C deb/img-tools
else
    submake distdir distdir="$TMP/deb/img-tools" > /dev/null
fi || bail "cannot copy the source tree"
start=$(date +%s)
if (cd deb/img-tools && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=2" \
        dpkg-buildpackage -us -uc -b) > deb-build.log 2>&1; then
    ok 0 "dpkg-buildpackage -us -uc -b ($(( $(date +%s) - start )) s)"
else
    ok 1 "dpkg-buildpackage -us -uc -b"; diag "$(tail -30 deb-build.log)"
    done_testing
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
changes=deb/img-tools_${version}_$arch.changes
debs="deb/img-tools_${version}_$arch.deb deb/libimg0_${version}_$arch.deb deb/libimg-dev_${version}_$arch.deb"
for d in $changes $debs; do [ -f "$d" ] || bail "dpkg-buildpackage made no $d"; done

lintian "$changes" > lintian.out 2>&1
is "$(grep -c '^E: ' lintian.out)" 0 "lintian: no errors"
grep '^[EW]: ' lintian.out | while read -r l; do diag "$l"; done

# Each package's files; together, what make install stages with
# --prefix=/usr (but libtool's .la), the docs and lintian's overrides.
debfiles () { dpkg-deb -c "$1" | awk '$1 !~ /^d/ { print $6 }' | sed 's|^\./||; s| -> .*||' | sort; }
usrwant () {   # the staged file list of (a) as dh installs it
    sed -e "s|^$bindir/|usr/bin/|" -e "s|^$libexecdir/|usr/libexec/|" \
        -e "s|^$mandir/\(.*\)|usr/share/man/\1.gz|" -e "s|^$pkgdatadir/|usr/share/img-tools/|" \
        -e "s|^$datadir/|usr/share/|" -e "s|^$includedir/|usr/include/|" \
        -e "s|^$libdir/|usr/lib/$ma/|" want.list
}
usrwant | grep -v -e "^usr/lib/" -e "^usr/include/" > img-tools.want
printf '%s\n' usr/share/doc/img-tools/README.md.gz usr/share/doc/img-tools/changelog.gz \
    usr/share/doc/img-tools/copyright usr/share/lintian/overrides/img-tools >> img-tools.want
usrwant | grep "^usr/lib/$ma/libimg.so.0" > libimg0.want
printf '%s\n' usr/share/doc/libimg0/changelog.gz usr/share/doc/libimg0/copyright >> libimg0.want
usrwant | grep -e "^usr/include/" -e "^usr/lib/$ma/libimg.so$" -e "^usr/lib/$ma/pkgconfig/" > libimg-dev.want
printf '%s\n' usr/share/doc/libimg-dev/changelog.gz usr/share/doc/libimg-dev/copyright >> libimg-dev.want
for p in img-tools libimg0 libimg-dev; do
    sort -o $p.want $p.want
    debfiles "deb/${p}_${version}_$arch.deb" > $p.got
    if cmp -s $p.want $p.got; then
        ok 0 "dpkg-deb -c: $p holds its $(wc -l < $p.got) files"
    else
        ok 1 "dpkg-deb -c: $p holds its files"; diag "$(diff $p.want $p.got)"
    fi
done
like "$(dpkg-deb -f "deb/img-tools_${version}_$arch.deb" Depends)" "libimg0 .*qemu-utils, kmod" \
    "img-tools depends on libimg0, qemu-utils and kmod"

at_exit "dpkg -P img-tools libimg-dev libimg0 > /dev/null 2>&1"
if dpkg -i $debs > dpkg.log 2>&1; then
    ok 0 "dpkg -i img-tools libimg0 libimg-dev"
else
    ok 1 "dpkg -i img-tools libimg0 libimg-dev"; diag "$(tail -20 dpkg.log)"
    done_testing
fi
# /usr/bin by name: PATH has the build tree's src/ first.
is "$(/usr/bin/img2pv --version 2>&1)" "img2pv $version" "/usr/bin/img2pv --version"
is "$(readlink -f "$(ldd /usr/bin/img2pv | awk '$1 == "libimg.so.0" { print $3 }')")" \
    "$(readlink -f "/usr/lib/$ma/libimg.so.0")" "/usr/bin/img2pv links the packaged libimg.so.0"
if /usr/bin/img-inspect fs.img > inspect.out 2> inspect.err; then
    ok 0 "/usr/bin/img-inspect reads a bare ext4 image"
    like "$(cat inspect.out)" "Deb Test|ext4" "/usr/bin/img-inspect: the filesystem and its OS"
else
    ok 1 "/usr/bin/img-inspect reads a bare ext4 image"; diag "$(cat inspect.err)"
fi
/usr/bin/img-ramify --help > /dev/null 2>&1; ok $? "/usr/bin/img-ramify --help"
# libimg-dev: the example builds against the installed library alone.
if $CC -o readfile "$top_srcdir/examples/readfile.c" $(pkg-config --cflags --libs img-tools) 2> cc.err \
        && ./readfile fs.img /etc/os-release > os-release.out 2>&1 \
        && cmp -s os-release.out tree/etc/os-release; then
    ok 0 "libimg-dev: examples/readfile.c builds with pkg-config img-tools and reads the image"
else
    ok 1 "libimg-dev: examples/readfile.c builds with pkg-config img-tools and reads the image"
    diag "$(cat cc.err os-release.out 2> /dev/null | head -20)"
fi

dpkg -P img-tools libimg-dev libimg0 > purge.log 2>&1; ok $? "dpkg -P img-tools libimg-dev libimg0"
left=
for f in /usr/bin/img2pv /usr/share/img-tools /usr/libexec/img-tools "/usr/lib/$ma/libimg.so.0" \
    /usr/include/img-tools /usr/share/bash-completion/completions/img2pv; do
    [ -e "$f" ] && left="$left $f"
done
is "$left" "" "nothing of the packages is left after the purge"
dpkg-query -W -f '${Status}\n' img-tools 2> /dev/null | grep -q ' installed$'
is $? 1 "dpkg no longer lists img-tools as installed"
done_testing
