#!/bin/bash
# img-ramify: the RAM boot (rd.ramboot) in every initrd this guest's
# dracut builds, as the dracut module img-ramify
# (/usr/lib/dracut/modules.d/90img-ramify, added by
# /etc/dracut.conf.d/img-ramify.conf).
#
# Puts the files img-ramify left in /usr/local/lib/img-ramify where its
# own layer puts them (the pre-pivot hook 90-img-ramify.sh,
# ramboot/ramboot.conf, ramboot/fstab, ramboot/lvmlocal.conf,
# bin/img-ramcopy), so an initrd the guest rebuilds (a kernel update,
# dracut -f) can boot the RAM entry.  The hook does nothing without
# rd.ramboot: other entries are unaffected.

check() {
	return 0
}

depends() {
	return 0
}

install() {
	local f IMG_RAMIFY_SRC=/usr/local/lib/img-ramify
	for f in img-ramify.sh ramboot.conf fstab img-ramcopy; do
		if [ ! -f "${IMG_RAMIFY_SRC}/${f}" ]; then
			dwarn "img-ramify: ${IMG_RAMIFY_SRC}/${f} is missing: no RAM boot in this initrd"
			return 0
		fi
	done
	inst_hook pre-pivot 90 "${IMG_RAMIFY_SRC}/img-ramify.sh"
	inst_simple "${IMG_RAMIFY_SRC}/ramboot.conf" /ramboot/ramboot.conf
	inst_simple "${IMG_RAMIFY_SRC}/fstab" /ramboot/fstab
	if [ -f "${IMG_RAMIFY_SRC}/lvmlocal.conf" ]; then
		inst_simple "${IMG_RAMIFY_SRC}/lvmlocal.conf" /ramboot/lvmlocal.conf
	fi
	inst_simple "${IMG_RAMIFY_SRC}/img-ramcopy" /bin/img-ramcopy
}
