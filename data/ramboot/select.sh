# Which of the guest's initrds has the RAM boot: shared by the scripts
# that keep img-ramify's RAM entry on the newest kernel (the GRUB 2
# generator grub/41_img-ramify.body, the kernel-install plugin
# bls/95-img-ramify.install.body).  img-ramify puts it, after the
# settings (RAMIFY_HOOK_FILES: the files of the guest's initrd hook),
# into each script it writes into the guest.
# shellcheck shell=sh disable=SC2154

# Whether the kernel version $1 is one the scripts and the boot loaders
# carry unquoted.
ramify_plain_version ()
{
	case $1 in
	'' | *[!A-Za-z0-9._+~-]*) return 1 ;;
	esac
	return 0
}

# Whether the initrd $1 was built after every file of the hook.
ramify_hooked ()
{
	for _rf in ${RAMIFY_HOOK_FILES}; do
		if [ ! -e "${_rf}" ] || [ ! "$1" -nt "${_rf}" ]; then
			return 1
		fi
	done
	return 0
}

# The names the distributions give the initrd of kernel $1 (in /boot).
ramify_initrd_names ()
{
	echo "initrd.img-$1 initrd-$1.img initrd-$1.gz initrd-$1 initramfs-$1.img"
}

# The file names (in /boot), in the order they are loaded, of the
# initrd(s) of kernel $1 with the RAM boot: img-ramify's copy
# INITRD.ramboot when it is not older than the initrd; the initrd alone
# when it was built after every file of the hook (the hook put the RAM
# boot in); the initrd and img-ramify's layer INITRD.ramboot-layer (which
# carries the whole RAM boot) after it.  Non-zero when there is none.
ramify_initrd ()
{
	for _ri in $(ramify_initrd_names "$1"); do
		[ -f "/boot/${_ri}" ] || continue
		if [ -f "/boot/${_ri}.ramboot" ] && [ ! "/boot/${_ri}" -nt "/boot/${_ri}.ramboot" ]; then
			echo "${_ri}.ramboot"
			return 0
		fi
		if ramify_hooked "/boot/${_ri}"; then
			echo "${_ri}"
			return 0
		fi
		if [ -f "/boot/${_ri}.ramboot-layer" ]; then
			echo "${_ri} ${_ri}.ramboot-layer"
			return 0
		fi
		return 1
	done
	return 1
}
