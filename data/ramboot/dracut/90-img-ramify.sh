# img-ramify: boot with the whole root filesystem in RAM (rd.ramboot).
#
# A dracut pre-pivot hook, sourced by dracut (systemd's
# dracut-pre-pivot.service or dracut's own init) once the disk's root is
# mounted on $NEWROOT, read-only as the entry asks.  With rd.ramboot on
# the kernel command line: the root and the filesystems listed in
# /ramboot/ramboot.conf are measured (or, in archive mode, the archive's
# recorded size is taken) and copied or unpacked into a tmpfs of an
# explicit size; the RAM copy gets the fstab prepared by img-ramify; the
# disk is unmounted, the tmpfs takes its place on $NEWROOT and the disk's
# volume groups are deactivated, so the disk can be detached.  Whenever
# something is missing (memory, a device, a failed copy) it says why on
# the console and boots from the disk as usual.
#
# Uses the initrd's own mount, umount and lvm, and img-ramcopy, the
# static helper in our layer.
# shellcheck shell=sh

ramboot_say ()
{
	# stderr reaches the console under systemd (journal+console) and
	# without it.
	echo "ramboot: $*" >&2
}

# Unmounts what ramboot_dracut mounted under the disk root.
ramboot_release_extras ()
{
	for _rb_mp in ${RAMBOOT_MOUNTED}; do
		umount "${_rb_root}${_rb_mp}" 2>/dev/null
	done
	RAMBOOT_MOUNTED=
}

# The device a fstab spec names, waiting a little for udev.
ramboot_device ()
{
	case $1 in
	UUID=*) _rb_d=/dev/disk/by-uuid/${1#UUID=} ;;
	LABEL=*) _rb_d=/dev/disk/by-label/${1#LABEL=} ;;
	PARTUUID=*) _rb_d=/dev/disk/by-partuuid/${1#PARTUUID=} ;;
	PARTLABEL=*) _rb_d=/dev/disk/by-partlabel/${1#PARTLABEL=} ;;
	*) _rb_d=$1 ;;
	esac
	_rb_i=0
	while [ ! -b "${_rb_d}" ] && [ "${_rb_i}" -lt 20 ]; do
		sleep 0.5
		_rb_i=$((_rb_i + 1))
	done
	[ -b "${_rb_d}" ] && echo "${_rb_d}"
}

# The copy into the tmpfs on $1; returns non-zero (having said why) to
# boot from the disk.
ramboot_fill ()
{
	_rb_ram=$1
	RAMBOOT_MOUNTED=
	_rb_dirs=${_rb_root}
	for _rb_m in ${RAMBOOT_MOUNTS}; do
		# MOUNTPOINT:SPEC:FSTYPE:OPTIONS, as img-ramify read them in the
		# fstab (OPTIONS: a btrfs subvol=, or defaults).
		_rb_opts=${_rb_m##*:}
		_rb_m=${_rb_m%:*}
		_rb_mp=${_rb_m%%:*}
		_rb_rest=${_rb_m#*:}
		_rb_spec=${_rb_rest%:*}
		_rb_type=${_rb_rest##*:}
		_rb_dev=$(ramboot_device "${_rb_spec}")
		if [ -z "${_rb_dev}" ]; then
			ramboot_say "${_rb_mp}: no device for ${_rb_spec}"
			return 1
		fi
		if ! mount -r -t "${_rb_type}" -o "${_rb_opts}" "${_rb_dev}" "${_rb_root}${_rb_mp}"; then
			ramboot_say "${_rb_mp}: cannot mount ${_rb_dev}"
			return 1
		fi
		RAMBOOT_MOUNTED="${_rb_mp} ${RAMBOOT_MOUNTED}"
		_rb_dirs="${_rb_dirs} ${_rb_root}${_rb_mp}"
	done

	if [ -n "${RAMBOOT_ARCHIVE}" ]; then
		if [ ! -f "${_rb_root}${RAMBOOT_ARCHIVE}" ]; then
			ramboot_say "the archive ${RAMBOOT_ARCHIVE} is not on the disk"
			return 1
		fi
		# What the tree takes in a tmpfs, recorded in the archive.
		if ! _rb_size=$(${RAMCOPY} archive-size "${_rb_root}${RAMBOOT_ARCHIVE}"); then
			ramboot_say "cannot read the archive ${RAMBOOT_ARCHIVE}"
			return 1
		fi
		eval "${_rb_size}"
	else
		# shellcheck disable=SC2086
		if ! _rb_size=$(${RAMCOPY} size ${_rb_dirs}); then
			ramboot_say "cannot measure the root filesystem"
			return 1
		fi
		eval "${_rb_size}"
	fi
	if ! _rb_mem=$(${RAMCOPY} meminfo); then
		ramboot_say "cannot read the memory size"
		return 1
	fi
	# KEY=NUMBER words only.
	eval "${_rb_mem}"
	_rb_need_kb=$(( bytes / 1024 + RAMBOOT_HEADROOM_KB ))
	_rb_avail_kb=$(( available / 1024 ))
	if [ $(( _rb_need_kb + RAMBOOT_MARGIN_KB )) -gt "${_rb_avail_kb}" ]; then
		ramboot_say "not enough memory: the root takes $(( bytes / 1048576 )) MiB, plus $(( RAMBOOT_HEADROOM_KB / 1024 )) MiB of headroom in the tmpfs and $(( RAMBOOT_MARGIN_KB / 1024 )) MiB left for the system; $(( _rb_avail_kb / 1024 )) MiB available"
		return 1
	fi

	mkdir -p "${_rb_ram}"
	if ! mount -t tmpfs -o "size=${_rb_need_kb}k,mode=0755" ramroot "${_rb_ram}"; then
		ramboot_say "cannot mount a tmpfs on ${_rb_ram}"
		return 1
	fi
	if [ -n "${RAMBOOT_ARCHIVE}" ]; then
		ramboot_say "unpacking ${RAMBOOT_ARCHIVE} ($(( bytes / 1048576 )) MiB) into a $(( _rb_need_kb / 1024 )) MiB tmpfs ($(( _rb_avail_kb / 1024 )) MiB available)"
		if ! ${RAMCOPY} unpack "${_rb_root}${RAMBOOT_ARCHIVE}" "${_rb_ram}" >/dev/null; then
			umount "${_rb_ram}"
			ramboot_say "unpacking the archive failed"
			return 1
		fi
	else
		ramboot_say "copying $(( bytes / 1048576 )) MiB into a $(( _rb_need_kb / 1024 )) MiB tmpfs ($(( _rb_avail_kb / 1024 )) MiB available)"
		if ! ${RAMCOPY} copy "${_rb_root}" "${_rb_ram}" >/dev/null; then
			umount "${_rb_ram}"
			ramboot_say "copying the root failed"
			return 1
		fi
		for _rb_mp in ${RAMBOOT_MOUNTED}; do
			if ! ${RAMCOPY} copy "${_rb_root}${_rb_mp}" "${_rb_ram}${_rb_mp}" >/dev/null; then
				umount "${_rb_ram}"
				ramboot_say "copying ${_rb_mp} failed"
				return 1
			fi
		done
	fi
	# The RAM copy's own files: the disk copy keeps its own.
	cat /ramboot/fstab > "${_rb_ram}/etc/fstab"
	if [ -f /ramboot/lvmlocal.conf ] && [ -d "${_rb_ram}/etc/lvm" ]; then
		cat /ramboot/lvmlocal.conf > "${_rb_ram}/etc/lvm/lvmlocal.conf"
	fi
	if [ -n "${DRACUT_SYSTEMD}" ] && [ -n "${RAMBOOT_VGS}" ]; then
		ramboot_release_unit "${_rb_ram}"
	fi
	return 0
}

ramboot_dracut ()
{
	RAMCOPY=/bin/img-ramcopy
	_rb_root=${NEWROOT:-/sysroot}
	_rb_ram=/ramboot.ram
	. /ramboot/ramboot.conf

	if ! ramboot_fill "${_rb_ram}"; then
		ramboot_release_extras
		ramboot_say "booting from the disk instead"
		return 0
	fi
	ramboot_release_extras
	# The disk's root goes, the tmpfs takes its place.
	_rb_src=$(findmnt -n -o SOURCE "${_rb_root}" 2>/dev/null)
	if ! umount "${_rb_root}"; then
		umount "${_rb_ram}"
		ramboot_say "the disk root is busy; booting from the disk instead"
		return 0
	fi
	# A bind, not --move: systemd makes / shared, and the kernel refuses
	# to move a mount whose parent is shared.  The tmpfs is the same
	# either way; its first mount point is let go.
	if ! mount --bind "${_rb_ram}" "${_rb_root}"; then
		umount "${_rb_ram}"
		ramboot_say "cannot put the RAM copy on ${_rb_root}; booting from the disk instead"
		mount -r "${_rb_src}" "${_rb_root}"
		return 0
	fi
	umount "${_rb_ram}"
	if [ -n "${DRACUT_SYSTEMD}" ] && [ -n "${RAMBOOT_VGS}" ]; then
		# systemd binds the root's mount unit to the root's device, and
		# would stop the one when the other goes: the volume groups are
		# deactivated by the RAM system, first thing (ramboot_fill put
		# the unit into the copy).
		ramboot_say "the root is in RAM; the volume groups are let go first thing at start-up"
		return 0
	fi
	for _rb_vg in ${RAMBOOT_VGS}; do
		if ! lvm vgchange -an "${_rb_vg}" >/dev/null 2>&1; then
			ramboot_say "volume group ${_rb_vg} stays active"
		fi
	done
	ramboot_say "the root is in RAM; the disk is released"
}

# The RAM system's unit that deactivates the disk's volume groups (used
# under systemd, see above).
ramboot_release_unit ()
{
	_rb_u=$1/etc/systemd/system
	[ -d "${_rb_u}" ] || return 0
	cat > "${_rb_u}/img-ramify-release.service" <<EOF
# Written by img-ramify's RAM boot into the RAM copy only.
[Unit]
Description=Release the disk of the RAM root (img-ramify)
DefaultDependencies=no
Before=sysinit.target local-fs-pre.target
After=systemd-udevd.service
ConditionKernelCommandLine=rd.ramboot

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/lvm vgchange -an ${RAMBOOT_VGS}
ExecStartPost=/bin/echo "ramboot: the disk is released (volume groups ${RAMBOOT_VGS} deactivated)"
StandardOutput=journal+console

[Install]
WantedBy=sysinit.target
EOF
	mkdir -p "${_rb_u}/sysinit.target.wants"
	ln -sf ../img-ramify-release.service "${_rb_u}/sysinit.target.wants/img-ramify-release.service"
}

# getargbool came with dracut 005; RHEL 6's dracut 004 has getarg only.
ramboot_wanted ()
{
	if type getargbool >/dev/null 2>&1; then
		getargbool 0 rd.ramboot
	else
		getarg rd.ramboot >/dev/null
	fi
}

if ramboot_wanted && [ -f /ramboot/ramboot.conf ]; then
	ramboot_dracut
fi
