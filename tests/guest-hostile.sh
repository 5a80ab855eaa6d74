#!/bin/bash
# Hostile guests: symlinks that point "outside", symlink loops and chains,
# an fstab that is a link to /../../../etc/passwd, hostile mount points.
# Everything must resolve inside the guest, never read a host file, never
# hang, and fail with one clear message where it must fail.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires strace; requires mke2fs
GT=$top_builddir/tests/guest-tool
cd "$TMP"

g=hostile; mkdir -p $g/etc $g/boot $g/lib/modules $g/srv
printf 'ID=debian\nVERSION_ID=12\n' > $g/etc/os-release-real
echo 'GUEST-PASSWD-MARKER:x:0:0::/root:/bin/sh' > $g/etc/passwd
ln -s /../../../etc/passwd $g/etc/fstab
ln -s loop2 $g/etc/loop1; ln -s loop1 $g/etc/loop2
ln -s /etc/loop1 $g/etc/os-release
ln -s /proc/self/environ $g/etc/hostname
# A host file that exists: a guest link to it must never reach it.
echo HOST-CANARY > "$TMP/host-canary"
ln -s "$TMP/host-canary" $g/etc/canary-link
ln -s "$TMP/host-canary" $g/etc/issue
ln -s /../../.. $g/lib/modules/escape
ln -s . $g/boot/boot
ln -s /srv/l1 $g/srv/l0
for i in $(seq 1 45); do ln -s "l$((i + 1))" "$g/srv/l$i"; done
echo end-of-chain > $g/srv/l46
mkdir -p $g/srv/ok; for i in $(seq 1 38); do ln -s "c$((i + 1))" "$g/srv/ok/c$i"; done; echo short-chain > $g/srv/ok/c39
new_image h.img 32M
printf 'label: dos\nstart=2048, type=83\n' | partition h.img
mke2fs -q -F -t ext4 -E offset=1048576 -d $g h.img 30000k

timeout 60 img-inspect --json h.img > h.json; rc=$?
is "$rc" 0 "img-inspect finishes on a guest full of hostile links"
is "$(jq -r '.guest.roots | length' h.json)" 1 "the root is still found"
is "$(jq -r '.guest.os.id' h.json)" "null" "a looping os-release gives no OS, not a hang"
is "$(jq -r '.guest.hostname' h.json)" "null" "a hostname link to /proc is not followed to the host"

# The fstab link resolves inside the guest: to the guest's own passwd.
is "$(timeout 30 "$GT" h.img -- cat /etc/fstab)" "GUEST-PASSWD-MARKER:x:0:0::/root:/bin/sh" \
   "/etc/fstab -> /../../../etc/passwd reads the guest's passwd"
is "$(timeout 30 "$GT" h.img -- realpath /lib/modules/escape/etc/passwd)" "/etc/passwd" \
   "/../../.. stops at the guest's root"
is "$(timeout 30 "$GT" h.img -- realpath /boot/boot/boot/boot)" "/boot" "a link to . is harmless"
fails_with "a symlink loop is ELOOP" "too many levels of symbolic links" timeout 30 "$GT" h.img -- cat /etc/os-release
fails_with "a chain of 46 links is ELOOP" "too many levels of symbolic links" timeout 30 "$GT" h.img -- cat /srv/l0
is "$(timeout 30 "$GT" h.img -- cat /srv/ok/c1)" "short-chain" "a chain of 38 links is followed"
fails_with "a link to /proc/self/environ is not found in the guest" "No such file" timeout 30 "$GT" h.img -- cat /etc/hostname

fails_with "a link to a host file's absolute path finds nothing in the guest" "No such file" \
    timeout 30 "$GT" h.img -- cat /etc/canary-link
# Nothing of the host is opened: trace every open of img-inspect and its
# children and look for the host file the links name.  (Runtimes open
# /proc/self/environ and /etc/passwd on their own, so the canary is a
# file only a guest link names.)
strace -f -qq -o trace -e trace=open,openat,openat2 img-inspect --json h.img >/dev/null 2>&1
strace -f -qq -o trace2 -e trace=open,openat,openat2 "$GT" h.img -- cat /etc/issue >/dev/null 2>&1
cat trace2 >> trace
grep -E "host-canary|\"/etc/loop" trace | head -3 > bad
[ -s trace ] && [ ! -s bad ]; ok $? "strace: no host file named by a guest link is opened"
[ -s bad ] && diag "$(cat bad)"

# Hostile fstab lines: relative and ".." mount points are ignored, a line
# with a NUL or 10000 fields does not break the parser, and a huge fstab
# is refused politely.
g2=fstab; mkdir -p $g2/etc
printf 'ID=debian\n' > $g2/etc/os-release
{ printf 'LABEL=x ../../etc ext4 defaults 0 0\n'
  printf 'LABEL=x relative ext4 defaults 0 0\n'
  printf 'LABEL=x /a/../../b ext4 defaults 0 0\n'
  printf 'LABEL=x /ok\\040space ext4 defaults 0 0\n'
  printf '%s ' $(seq 1 10000); printf '\n'
  printf 'LABEL=x /nul\0inside ext4 defaults 0 0\n'; } > $g2/etc/fstab
new_image f.img 16M
printf 'label: dos\nstart=2048, type=83\n' | partition f.img
mke2fs -q -F -t ext4 -E offset=1048576 -d $g2 f.img 14000k
timeout 30 img-inspect --json f.img > f.json; ok $? "hostile fstab: inspected"
is "$(jq -r '[.guest.mounts[].mountpoint] | sort | join(" ")' f.json)" "/ /ok space" \
   "hostile fstab: only sane mount points kept (octal escapes decoded)"
is "$(jq -r '.guest.mounts[] | select(.mountpoint == "/ok space") | "\(.mounted) \(.why_not)"' f.json)" \
   "false device not found on the given images" "hostile fstab: an unresolved device is reported, not mounted"
done_testing
