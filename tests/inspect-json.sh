#!/bin/bash
# img-inspect's interface: usage and exit codes, the documented JSON keys,
# text output naming the same things, several images at once.
. "$top_srcdir/tests/functions.sh"
. "$top_srcdir/tests/fixtures.sh"
requires jq; requires sfdisk; requires qemu-img
plan 14

cd "$TMP"
new_image a.img 32M
printf 'label: dos\nlabel-id: 0x0badcafe\nsize=8M, type=83, bootable\ntype=82\n' | partition a.img
mk_ext a.img "$(part_start a.img 1)" "$(part_size a.img 1)" ext4 \
    aaaaaaaa-0000-4000-8000-000000000001 'la"bel\x'
new_image whole.img 16M
mke2fs -q -F -t ext2 -U aaaaaaaa-0000-4000-8000-000000000002 -L whole whole.img
qemu-img convert -O qcow2 a.img a.qcow2

img-inspect >/dev/null 2>&1; is $? 2 "no image: usage error (2)"
img-inspect --no-such-option a.img >/dev/null 2>&1; is $? 2 "bad option: usage error (2)"
img-inspect --help | grep -q '^Usage: img-inspect'; ok $? "--help prints usage"
img-inspect --version | grep -Eq '^img-inspect [0-9]'; ok $? "--version"

img-inspect --json a.img whole.img a.qcow2 > out.json; is $? 0 "three images at once"
jq -e . out.json >/dev/null; ok $? "valid JSON (with a hostile label)"
is "$(jq -r '.images | length' out.json)" 3 "three images reported"
is "$(jq -r '.images[0].partitions[0].filesystem.label' out.json)" 'la"bel\x' "label kept byte for byte"
is "$(jq -r '[.images[0].partition_table.type, .images[0].partition_table.id] | join(" ")' out.json)" \
   "dos 0badcafe" "table type and id"
is "$(jq -r '.images[1].partition_table, .images[1].filesystem.type, .images[1].filesystem.uuid' out.json | tr '\n' ' ')" \
   "null ext2 aaaaaaaa-0000-4000-8000-000000000002 " "whole-disk filesystem without a table"
# Every documented key is there.
keys=$(jq -r '[.version, (.images[0] | keys), (.images[0].partitions[0] | keys), (.images[0].partitions[0].filesystem | keys)] | flatten | join(",")' out.json)
is "$keys" "1,backing_chain,filesystem,format,format_guessed,partition_table,partitions,path,size,bootable,filesystem,kind,number,size,start,type,type_name,uuid,label,type,uuid" "documented keys"
is "$(jq -r '.volume_groups | length' out.json)" 0 "no volume groups"

img-inspect a.img > out.txt
grep -q 'partition table: dos, id 0badcafe' out.txt; ok $? "text: table line"
grep -Eq '^  1 +primary +1048576 +8388608 .*ext4 UUID=aaaaaaaa-0000-4000-8000-000000000001' out.txt; ok $? "text: partition line"
done_testing
