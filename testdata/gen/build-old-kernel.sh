#!/bin/bash
# build-old-kernel.sh: build an older-generation kernel (RHEL/CentOS 7's 3.10,
# or a 4.x/5.4 LTS) from public source, QEMU-sized, with debug info, kexec and
# kdump, for make-dumps.sh (KTRIAGE_GEN_KBUILD=<build dir>). See README.md.
#
#   testdata/gen/build-old-kernel.sh [el7|lts]
#
#   el7   CentOS 7.9's kernel 3.10.0-1160.el7 (no ORC: frame pointers and .debug_frame)
#   lts   Linux 5.4.286 (ORC)
#
# Environment (all optional):
#   KTRIAGE_OLD_CACHE    where sources, builds and logs go   (~/.cache/ktriage/old)
#   KTRIAGE_OLD_GITDIR   a git directory holding the source  (cloned from GitHub when unset)
#   KTRIAGE_OLD_CC       the compiler                        (gcc: Debian 12's gcc 12)
#   KTRIAGE_OLD_JOBS     make -j                             (2)
#
# Each step's wall time is printed and kept in $CACHE/<name>.times.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WHICH=${1:-el7}
CACHE=${KTRIAGE_OLD_CACHE:-$HOME/.cache/ktriage/old}
JOBS=${KTRIAGE_OLD_JOBS:-2}
REAL_CC=${KTRIAGE_OLD_CC:-gcc}

case "$WHICH" in
el7)
	NAME=linux-3.10.0-1160.el7
	URL=https://github.com/tremb1e/linux-3.10.0-1160.el7
	# The release string RHEL's rpm build gives it (EXTRAVERSION set by the
	# spec file), so that version checks see what a RHEL 7.9 host reports.
	EXTRAVERSION=-1160.el7.x86_64
	;;
lts)
	# 5.4 LTS as Ubuntu 20.04 ships it: ORC unwinder, printk_log ring,
	# core_layout modules, task state in "state".
	NAME=linux-5.4.286
	URL=https://github.com/KINGFIOX/linux-5.4.286
	EXTRAVERSION=
	;;
*) echo "build-old-kernel: unknown kernel '$WHICH' (known: el7 lts)" >&2; exit 2 ;;
esac
SRC=$CACHE/$NAME
BUILD=$CACHE/build-$NAME
TIMES=$CACHE/$NAME.times
mkdir -p "$CACHE"

log() { echo "build-old-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }

# step NAME CMD...: runs one step and records how long it took.
step() {
	local name=$1 start rc=0
	shift
	start=$(date +%s)
	"$@" || rc=$?
	local took=$(($(date +%s) - start))
	printf '%s\t%ss\t%s\n' "$name" "$took" "$([ $rc -eq 0 ] && echo ok || echo "failed ($rc)")" | tee -a "$TIMES" >&2
	return $rc
}

# The source: every file of the repository's head that the git directory holds.
# GitHub snapshots of these trees may lack their largest blobs (five amdgpu
# register headers in the el7 one); with DRM off they are never needed, so
# missing blobs are left out rather than failing the checkout.
get_source() {
	[ -f "$SRC/Makefile" ] && return
	local gitdir=${KTRIAGE_OLD_GITDIR:-}
	if [ -z "$gitdir" ]; then
		gitdir=$CACHE/$NAME.git
		[ -d "$gitdir" ] || git clone -q --bare --depth 1 "$URL" "$gitdir"
	fi
	local idx=$CACHE/$NAME.index
	rm -f "$idx"
	export GIT_DIR=$gitdir GIT_INDEX_FILE=$idx
	git read-tree HEAD
	git ls-files -s | awk '{print $2}' | git cat-file --batch-check |
		awk '$2 == "missing" {print $1}' >"$CACHE/$NAME.missing-blobs"
	if [ -s "$CACHE/$NAME.missing-blobs" ]; then
		git ls-files -s | grep -F -f "$CACHE/$NAME.missing-blobs" | cut -f2 >"$CACHE/$NAME.missing-paths"
		log "source lacks $(wc -l <"$CACHE/$NAME.missing-paths") files: $(tr '\n' ' ' <"$CACHE/$NAME.missing-paths")"
		git update-index --force-remove $(cat "$CACHE/$NAME.missing-paths")
	fi
	mkdir -p "$SRC"
	git checkout-index -a --prefix="$SRC/"
	unset GIT_DIR GIT_INDEX_FILE
	rm -f "$idx"
}

# Source patches, each a minimal fix for a configuration RHEL never builds
# (patches/<which>/*.patch, applied in order, once).
apply_patches() {
	local p stamp
	for p in "$HERE"/patches/"$WHICH"/*.patch; do
		[ -f "$p" ] || continue
		stamp=$SRC/.ktriage-applied-$(basename "$p")
		[ -f "$stamp" ] && continue
		patch -d "$SRC" -p1 -N -s <"$p" || die "patch $(basename "$p") does not apply"
		touch "$stamp"
		log "applied $(basename "$p")"
	done
}

# The compiler wrapper: Debian's gcc builds position-independent code by
# default, which the 3.10 build predates (its own -fno-pie came in 4.9).
make_cc_wrapper() {
	mkdir -p "$CACHE/tc"
	cat >"$CACHE/tc/kcc" <<-EOF
		#!/bin/sh
		exec $REAL_CC -fno-pie -no-pie "\$@"
	EOF
	chmod +x "$CACHE/tc/kcc"
}

# The make variables every step passes:
#  - HOSTCC -fcommon: arch/x86/tools/relocs links relocs_32.o and relocs_64.o,
#    both defining per_cpu_load_addr; gcc 10 made -fno-common the default.
#  - KCFLAGS -gdwarf-4: DWARF 4, what RHEL 7's debuginfo has (gcc 12 defaults to 5).
kmake() {
	make -C "$SRC" O="$BUILD" CC="$CACHE/tc/kcc" HOSTCC="$REAL_CC -fcommon" \
		KCFLAGS=-gdwarf-4 EXTRAVERSION="$EXTRAVERSION" LOCALVERSION= \
		KBUILD_BUILD_USER=ktriage KBUILD_BUILD_HOST=ktriage-gen "$@"
}

# x86_64_defconfig, cut down for QEMU (no hardware drivers a q35 guest with
# virtio disks does not use: every object costs on a 2-core machine), plus
# what the dumps need (no network device, SCSI disk, I2C, PTP, loop, evdev or
# Xen frontends: the guests boot from an initramfs with virtio disks). The el7
# tree only builds in the neighbourhood of RHEL's own config: several options
# below (NR_CPUS ≥ 128 for the queued-spinlock ticket type, THP, FS_DAX,
# DYNAMIC_DEBUG, CGROUP_PERF, BPF_JIT, IRQ_REMAP, PAGE_TABLE_ISOLATION, JUMP_LABEL,
# XEN, SCHED_TRACER, NETPRIO_CGROUP, SCSI_DH; CALGARY_IOMMU off) are there because RHEL's
# sources do not compile without them.
configure() {
	mkdir -p "$BUILD"
	kmake x86_64_defconfig >/dev/null
	"$SRC/scripts/config" --file "$BUILD/.config" \
		-d DRM -d SOUND -d WIRELESS -d WLAN -d CFG80211 -d MAC80211 -d USB_SUPPORT -d AGP -d FB -d HID \
		-d INPUT_JOYSTICK -d INPUT_TABLET -d INPUT_TOUCHSCREEN -d NETFILTER -d MODULE_SIG \
		-d SYSTEM_TRUSTED_KEYRING -d BPF_SYSCALL \
		-d ETHERNET -d ATA -d MD -d PCCARD -d NETWORK_FILESYSTEMS -d ISO9660_FS -d MSDOS_FS -d VFAT_FS \
		-d QUOTA -d AUTOFS4_FS -d HIBERNATION -d SUSPEND -d CPU_FREQ -d INPUT_MOUSE -d HWMON -d THERMAL \
		-d WATCHDOG -d NEW_LEDS -d EDAC -d RTC_CLASS -d DMADEVICES -d SECURITY_SELINUX -d NET_SCHED -d RFKILL \
		-d RETPOLINE \
		-d INET6_AH -d INET6_ESP -d IP_PNP -d XFRM_USER -d NETLABEL -d DNS_RESOLVER -d VIRTIO_NET \
		-d BLK_DEV_SD -d BLK_DEV_SR -d CHR_DEV_SG -d BLK_DEV_LOOP -d I2C -d PPS -d PTP_1588_CLOCK \
		-d HW_RANDOM -d INPUT_MOUSEDEV -d INPUT_EVDEV -d INPUT_MISC \
		-d XEN_NETDEV_FRONTEND -d XEN_BLKDEV_FRONTEND -d XEN_PCIDEV_FRONTEND -d XEN_BALLOON \
		-e DEBUG_INFO -d DEBUG_INFO_REDUCED -e FRAME_POINTER \
		-e KEXEC -e CRASH_DUMP -e PROC_VMCORE -e RELOCATABLE \
		-e VIRTIO -e VIRTIO_PCI -e VIRTIO_BLK -e VIRTIO_CONSOLE \
		-e ACPI -e PVPANIC -e FW_CFG_SYSFS \
		-e DETECT_HUNG_TASK -e LOCKUP_DETECTOR -e MAGIC_SYSRQ \
		-e MODULES -e MODULE_UNLOAD -e EXT4_FS -e DEVTMPFS -e DEVTMPFS_MOUNT -e BLK_DEV_INITRD \
		-e SERIAL_8250_CONSOLE -e IKCONFIG -e IKCONFIG_PROC \
		-e DYNAMIC_DEBUG \
		--set-val NR_CPUS 256 -e HYPERVISOR_GUEST -e PARAVIRT -e KVM_GUEST -e PARAVIRT_SPINLOCKS \
		-e TRANSPARENT_HUGEPAGE -e NUMA -e MEMCG
	if [ "$WHICH" = el7 ]; then
		"$SRC/scripts/config" --file "$BUILD/.config" \
			-e FS_DAX -e ZONE_DEVICE -e MEMORY_HOTPLUG -e MEMORY_HOTREMOVE -e SPARSEMEM_VMEMMAP \
			-e CGROUP_PERF -e BPF_JIT -e PCI_MSI -e INTEL_IOMMU -e IRQ_REMAP \
			-e PAGE_TABLE_ISOLATION -e JUMP_LABEL -e XEN -e SCHED_TRACER -d CALGARY_IOMMU \
			-e NETPRIO_CGROUP -e SCSI_DH
	else
		# 4.13 split LOCKUP_DETECTOR (now selected, not set) into
		# SOFTLOCKUP_DETECTOR and HARDLOCKUP_DETECTOR.
		"$SRC/scripts/config" --file "$BUILD/.config" -e UNWINDER_ORC -e DEBUG_INFO_DWARF4 \
			-e FW_CFG_SYSFS -e PVPANIC -e SOFTLOCKUP_DETECTOR
	fi
	kmake olddefconfig >/dev/null
	local want
	for want in DEBUG_INFO KEXEC CRASH_DUMP PROC_VMCORE VIRTIO_PCI VIRTIO_BLK PVPANIC FW_CFG_SYSFS; do
		grep -q "^CONFIG_$want=y" "$BUILD/.config" || die "CONFIG_$want did not stay on"
	done
}

build() {
	# -k: one pass shows every file that fails, not just the first.
	(renice -n 10 -p $BASHPID >/dev/null && kmake -k -j"$JOBS") >"$CACHE/$NAME.build.log" 2>&1 ||
		{ grep -E 'error|Error [0-9]' "$CACHE/$NAME.build.log" | head -20 >&2; return 1; }
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $NAME with $($REAL_CC --version | head -1), -j$JOBS" >>"$TIMES"
step source get_source
apply_patches
make_cc_wrapper
step configure configure
step build build
# How make-dumps.sh builds the test module against this tree: the same compiler and flags.
printf '%s\n' "CC=$CACHE/tc/kcc" "HOSTCC=$REAL_CC -fcommon" KCFLAGS=-gdwarf-4 >"$BUILD/ktriage-make-vars"
log "built $(cat "$BUILD/include/config/kernel.release"): $BUILD/vmlinux, $BUILD/arch/x86/boot/bzImage"
