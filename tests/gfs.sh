#!/bin/bash
# The libguestfs backend (--backend auto|native|guestfs) on a small guest
# whose root is a btrfs subvolume, with /home on another subvolume, /boot
# on ext4 and /srv on xfs, built here with the filesystems' own mkfs and
# the host kernel's loop mounts (test side only), and a LUKS2 guest (LVM
# on LUKS) built in a libguestfs appliance.  Checked against
# virt-inspector, and after writes with btrfs check, xfs_repair -n,
# e2fsck -fn and the files read back through the host kernel.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires_root; requires jq; requires sfdisk; requires mkfs.btrfs; requires mkfs.xfs
requires btrfs; requires xfs_repair; requires e2fsck; requires guestfish
requires virt-inspector; requires strace; requires unshare

export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
# /dev/kvm may exist where KVM does not work (nested): TCG always works.
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}

MiB=$((1024 * 1024))
img=$TMP/mini.img
# Fresh UUIDs each run: the kernel remembers a btrfs it has seen and
# refuses another with the same UUID.
BTRFS_UUID=$(cat /proc/sys/kernel/random/uuid)
EXT_UUID=$(cat /proc/sys/kernel/random/uuid)
XFS_UUID=$(cat /proc/sys/kernel/random/uuid)

ET=$top_builddir/tests/edits-tool
# Every loop device over our images (found afresh: loop_at runs in $(...)).
detach_all () {
    local d
    for d in $(losetup -n -O NAME -j "$img") $(losetup -n -O NAME -j "$TMP/luks.img"); do
        losetup -d "$d" 2>/dev/null
    done
}
at_exit detach_all
mnt=$TMP/mnt
mkdir -p "$mnt"
at_exit "mountpoint -q '$mnt' && umount '$mnt'"
loop_at () {   # loop_at OFFSET SIZE [ro] -> prints the device
    local dev
    dev=$(losetup -f --show ${3:+-r} -o "$1" --sizelimit "$2" "$img") || return 1
    echo "$dev"
}

# p1 /boot ext4 64 MiB, p2 btrfs 256 MiB (@ root, default; @home), p3 xfs /srv 320 MiB
new_image "$img" 700M
partition "$img" <<'TABLE'
label: dos
size=64MiB, type=83, bootable
size=256MiB, type=83
size=320MiB, type=83
TABLE
P1=$(part_start "$img" 1) S1=$(part_size "$img" 1)
P2=$(part_start "$img" 2) S2=$(part_size "$img" 2)
P3=$(part_start "$img" 3) S3=$(part_size "$img" 3)
mkdir -p "$TMP/boot"
echo "kernel" > "$TMP/boot/vmlinuz-6.1.0-0-amd64"
mk_ext "$img" "$P1" "$S1" ext4 "$EXT_UUID" boot "$TMP/boot"

d=$(loop_at "$P2" "$S2")
mkfs.btrfs -q -U "$BTRFS_UUID" -L root "$d" >/dev/null
mount "$d" "$mnt"
btrfs -q subvolume create "$mnt/@"
btrfs -q subvolume create "$mnt/@home"
mkdir -p "$mnt/@/etc" "$mnt/@/home" "$mnt/@/boot" "$mnt/@/srv" "$mnt/@/usr/bin" "$mnt/@home/user"
ln -s usr/bin "$mnt/@/bin"      # what libguestfs's inspection wants of a Linux root
printf 'NAME="openSUSE Leap"\nID=opensuse-leap\nVERSION_ID="15.5"\nPRETTY_NAME="openSUSE Leap 15.5"\n' > "$mnt/@/etc/os-release"
echo "minihost" > "$mnt/@/etc/hostname"
cat > "$mnt/@/etc/fstab" <<FSTAB
UUID=$BTRFS_UUID / btrfs subvol=@ 0 0
UUID=$BTRFS_UUID /home btrfs subvol=@home 0 0
UUID=$EXT_UUID /boot ext4 defaults 0 2
UUID=$XFS_UUID /srv xfs defaults 0 0
FSTAB
echo "hello from home" > "$mnt/@home/user/notes"
btrfs subvolume set-default "$(btrfs subvolume list "$mnt" | awk '$NF == "@" { print $2 }')" "$mnt"
btrfs subvolume list "$mnt" | awk '{ print $2, $NF }' > "$TMP/subvols.want"   # the oracle
umount "$mnt"
d=$(loop_at "$P3" "$S3")
mkfs.xfs -q -m uuid="$XFS_UUID" -L srv "$d"
mount "$d" "$mnt"; echo "served" > "$mnt/index"; umount "$mnt"
detach_all
orig=$(imgsum "$img")

# ---- reading ------------------------------------------------------------
img-inspect --json "$img" > "$TMP/i.json" 2> "$TMP/i.err"
ok $? "inspect: through the appliance"
is "$(jq -r '.guest.roots[0]' "$TMP/i.json")" "$img:p2" "inspect: the root is the btrfs partition"
is "$(jq -r '.guest.hostname' "$TMP/i.json")" minihost "inspect: hostname read from subvolume @"
is "$(jq -r '.guest.os.distro' "$TMP/i.json")" opensuse "inspect: distro (virt-inspector's name)"
is "$(jq -r '[.guest.mounts[] | select(.mounted) | "\(.mountpoint)=\(.device)"] | sort | join(" ")' "$TMP/i.json")" \
   "/=$img:p2 /boot=$img:p1 /home=$img:p2 /srv=$img:p3" "inspect: the mount map, both subvolumes mounted"
is "$(jq -r '.images[0].partitions[1].filesystem.subvolumes[] | "\(.id) \(.path)"' "$TMP/i.json")" \
   "$(cat "$TMP/subvols.want")" "inspect: the btrfs subvolumes, as btrfs subvolume list gives them"
is "$(imgsum "$img")" "$orig" "inspect: the image is untouched"

# The same answers as libguestfs's own inspector.
virt-inspector --no-applications --no-icon --format=raw -a "$img" > "$TMP/vi.xml" 2>"$TMP/vi.err"
ok $? "virt-inspector ran"
# (The appliance may name the btrfs volume by another disk letter.)
vi_mounts=$(grep -o '<mountpoint dev="[^"]*">[^<]*</mountpoint>' "$TMP/vi.xml" |
            sed -E 's|<mountpoint dev="(btrfsvol:)?/dev/sd[a-z]([0-9]+)([^"]*)">([^<]*)</mountpoint>|\4=p\2\3|' | sort | tr '\n' ' ')
our_mounts=$(jq -r '.guest.mounts[] | select(.mounted) |
    "\(.mountpoint)=\(.device)\(if (.options | test("subvol=")) then "/" + (.options | capture("subvol=(?<s>[^,]*)").s) else "" end)"' "$TMP/i.json" |
             sed "s|=$img:|=|" | sort | tr '\n' ' ')
[ -n "$vi_mounts" ]; ok $? "virt-inspector found the mounts ($vi_mounts)"
is "$our_mounts" "$vi_mounts" "inspect agrees with virt-inspector on the mount map, subvolumes included"
is "$(grep -o '<hostname>[^<]*' "$TMP/vi.xml" | cut -d'>' -f2)" minihost "virt-inspector: same hostname"
is "$(grep -o '<distro>[^<]*' "$TMP/vi.xml" | cut -d'>' -f2)" opensuse "virt-inspector: same distro family (opensuse)"

img-inspect --backend native --json "$img" > "$TMP/n.json" 2>/dev/null
is "$(jq -r '.guest | length' "$TMP/n.json")" 0 "--backend native: no guest (btrfs and xfs are not read natively)"
fails_with "--backend native: a conversion says why, in one line" 'no Linux root filesystem found' \
    "$ET" --backend native --edits hostname "$img"
fails_with "--backend bogus: a usage error" 'backend=bogus: one of auto, native, guestfs' \
    img-inspect --backend bogus "$img"

# Without libguestfs: one line that says what is missing.
no_guestfs () {
    unshare -m bash -c 'for f in /usr/lib/x86_64-linux-gnu/libguestfs.so.0.*; do mount --bind /dev/null "$f"; done; exec "$@"' no-guestfs "$@"
}
no_guestfs img-inspect --json "$img" > "$TMP/ng.json" 2>/dev/null
ok $? "no libguestfs: img-inspect still shows the layout (exit 0)"
jq -r '.no_guest_reason' "$TMP/ng.json" | grep -q "^$img:p2 (btrfs): .*needs libguestfs (Debian package libguestfs0"
ok $? "no libguestfs: img-inspect says the btrfs root may have been missed, and why"
fails_with "no libguestfs: a conversion fails in one line, naming the filesystem and the package" \
    "$img:p2 \\(btrfs\\): .*needs libguestfs \\(Debian package libguestfs0" no_guestfs "$ET" --edits hostname "$img"
is "$(imgsum "$img")" "$orig" "no libguestfs: the image is untouched"

# ---- writing: through a private overlay, applied under the undo record ----
cp --sparse=always "$img" "$TMP/dry.img"
"$ET" --dry-run --edits hostname=gfs-host,put=/home/user/new,put=/srv/new "$TMP/dry.img" > "$TMP/dry.out" 2>&1
ok $? "dry run: exit 0"
grep -q '^+gfs-host' "$TMP/dry.out"; ok $? "dry run: the diff of /etc/hostname"
grep -q '/srv/new' "$TMP/dry.out"; ok $? "dry run: the new file on xfs is listed"
is "$(imgsum "$TMP/dry.img")" "$orig" "dry run: the image is untouched"
rm -f "$TMP/dry.img"

"$ET" --edits hostname=gfs-host,put=/home/user/new,put=/srv/new,put=/boot/new "$img" > "$TMP/w.out" 2>&1
ok $? "write: hostname on btrfs @, files on @home, xfs /srv and ext4 /boot"
[ -f "$img.img-tools-undo" ]; ok $? "write: an undo record is kept"
d=$(loop_at "$P2" "$S2" ro)
btrfs check --readonly "$d" > "$TMP/bc.out" 2>&1; ok $? "btrfs check --readonly: clean"
mount -o ro,subvol=@ "$d" "$mnt"
is "$(cat "$mnt/etc/hostname")" gfs-host "host kernel reads the new hostname in @"
umount "$mnt"
mount -o ro,subvol=@home "$d" "$mnt"
is "$(cat "$mnt/user/new")" edits-tool "host kernel reads the new file in @home"
is "$(cat "$mnt/user/notes")" "hello from home" "the old file in @home is intact"
umount "$mnt"
d=$(loop_at "$P3" "$S3" ro)
xfs_repair -n "$d" > "$TMP/xr.out" 2>&1; ok $? "xfs_repair -n: clean"
mount -o ro,norecovery "$d" "$mnt"
is "$(cat "$mnt/new")" edits-tool "host kernel reads the new file on xfs"
umount "$mnt"
d=$(loop_at "$P1" "$S1" ro)
e2fsck -fn "$d" > "$TMP/e2.out" 2>&1
ok $? "e2fsck -fn /boot: clean (written natively, no appliance)"
detach_all

after=$(imgsum "$img")
"$ET" --edits hostname=gfs-host,put=/home/user/new,put=/srv/new,put=/boot/new "$img" > "$TMP/w2.out" 2>&1
is "$?" 3 "second run: nothing to do (exit 3)"
is "$(imgsum "$img")" "$after" "second run: not one byte changed"

undo=$img.img-tools-undo
"$ET" --rollback "$undo" "$img" > "$TMP/rb.out" 2>&1
ok $? "rollback: exit 0"
is "$(imgsum "$img")" "$orig" "rollback: the image is bit for bit what it was"

# ---- ext-only guests never start the appliance; --backend guestfs reads them too ----
ext=$TMP/ext.img
new_image "$ext" 64M
printf 'label: dos\ntype=83\n' | partition "$ext"
mkdir -p "$TMP/extroot/etc"
printf 'ID=debian\nVERSION_ID=12\n' > "$TMP/extroot/etc/os-release"
echo extguest > "$TMP/extroot/etc/hostname"
mk_ext "$ext" "$(part_start "$ext" 1)" "$(part_size "$ext" 1)" ext4 "$(cat /proc/sys/kernel/random/uuid)" root "$TMP/extroot"
strace -f -qq -e trace=execve -o "$TMP/exec.trace" img-inspect --json "$ext" > "$TMP/e.json" 2>&1
is "$(jq -r '.guest.hostname' "$TMP/e.json")" extguest "auto, ext4 guest: read natively"
grep -q 'qemu-system' "$TMP/exec.trace"; is "$?" 1 "auto, ext4 guest: no appliance started"
img-inspect --backend guestfs --json "$ext" > "$TMP/g.json" 2>/dev/null
is "$(jq -r '.guest.hostname' "$TMP/g.json")" extguest "--backend guestfs: the ext4 guest read through the appliance"

# ---- LUKS: LVM on LUKS2, opened in the appliance with --key ----------------
# The fixture is built in one appliance launch once per version of this
# script, of tests/fixtures.sh and of libguestfs, and cached
# (tests/fixture-cache.sh: $IMG_TOOLS_CACHE/gfs-luks-<key>); each run works
# on a copy.
luks_fixture () {   # prints the cache directory holding luks.img
    local cache=${IMG_TOOLS_CACHE:-/var/cache/img-tools} key   # work: the EXIT trap reads it
    key=$({ cat "$top_srcdir/tests/gfs.sh" "$top_srcdir/tests/fixtures.sh"; guestfish --version; } \
        | sha1sum | cut -c1-12)
    mkdir -p "$cache"
    . "$top_srcdir/tests/fixture-cache.sh"
    fixture_dir gfs-luks "$key"   # when cached: prints it, ends the subshell
    work=$(mktemp -d "$dir/.build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    new_image "$work/luks.img" 200M
    printf 'label: dos\ntype=83\n' | partition "$work/luks.img"
    guestfish --keys-from-stdin --format=raw -a "$work/luks.img" > "$TMP/lf.log" 2>&1 <<'GF' || return 1
run
luks-format /dev/sda1 0
pass phrase:1
cryptsetup-open /dev/sda1 cr
pass phrase:1
pvcreate /dev/mapper/cr
vgcreate vgl /dev/mapper/cr
lvcreate root vgl 150
mkfs ext4 /dev/vgl/root
mount /dev/vgl/root /
mkdir /etc
write /etc/os-release "ID=debian\nVERSION_ID=12\n"
write /etc/hostname "lukshost\n"
write /etc/fstab "/dev/mapper/vgl-root / ext4 defaults 0 1\n"
umount-all
GF
    mv "$work/luks.img" "$dir/luks.img"
    echo "$key" > "$dir/.complete"
    echo "$dir"
}
luks=$TMP/luks.img
L=$(luks_fixture) || { cat "$TMP/lf.log"; bail "could not build the LUKS fixture"; }
diag "LUKS fixture from $L"
cp --sparse=always "$L/luks.img" "$luks"
LUKS_UUID=$(blkid -p -O "$(part_start "$luks" 1)" -o value -s UUID "$luks")
lorig=$(imgsum "$luks")
fails_with "LUKS, no key: a conversion fails in one line naming the --key to give" \
    "is encrypted \\(LUKS, UUID $LUKS_UUID\\).*--key $LUKS_UUID:key:PASSPHRASE" "$ET" --edits hostname "$luks"
img-inspect --json "$luks" 2>/dev/null | jq -r .no_guest_reason | grep -q -- "--key $LUKS_UUID:key:PASSPHRASE"
ok $? "LUKS, no key: img-inspect says which --key would let it look inside"
img-inspect --json --key "$LUKS_UUID:key:pass phrase:1" "$luks" > "$TMP/l.json" 2>"$TMP/l.err"
ok $? "LUKS: opened with --key UUID:key:... (a passphrase with a colon and a space)"
is "$(jq -r '.guest.hostname' "$TMP/l.json")" lukshost "LUKS: hostname read from the LV inside"
is "$(jq -r '.guest.roots[0]' "$TMP/l.json")" vgl/root "LUKS: the root is the LV on LUKS"
fails_with "LUKS, wrong key: one line" 'LUKS: cannot open with the key given' \
    img-inspect --key /dev/sda1:key:wrong "$luks"
printf 'pass phrase:1\n' > "$TMP/keyfile"
"$ET" --key "all:file:$TMP/keyfile" --edits hostname=luks-new "$luks" > "$TMP/lw.out" 2>&1
ok $? "LUKS: a write through the appliance (key from a file)"
img-inspect --json --key "all:file:$TMP/keyfile" "$luks" > "$TMP/l2.json" 2>/dev/null
is "$(jq -r '.guest.hostname' "$TMP/l2.json")" luks-new "LUKS: the new hostname reads back through a new appliance"
undo=$luks.img-tools-undo
"$ET" --rollback "$undo" "$luks" > /dev/null 2>&1
is "$(imgsum "$luks")" "$lorig" "LUKS: rollback restores the image bit for bit"

done_testing
