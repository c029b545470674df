#!/bin/bash
# make-dumps.sh: make real crash dumps and serial console logs of a stock Debian
# kernel for ktriage's tests. See README.md beside this script.
#
#   testdata/gen/make-dumps.sh [scenario...]       default: every scenario
#
# Environment (all optional):
#   KTRIAGE_GEN_RELEASE   kernel release to crash        (6.1.0-56-cloud-amd64)
#   KTRIAGE_GEN_CACHE     downloads and build products   (~/.cache/ktriage/gen)
#   KTRIAGE_GEN_OUT       where the dumps go             (/work/gen-out)
#   KTRIAGE_GEN_MODES     "qemu kdump", or one of them   (both)
#   KTRIAGE_GEN_QEMU_FORMATS   dump-guest-memory formats (elf kdump-zlib)
#   KTRIAGE_GEN_KDUMP_FORMATS  makedumpfile outputs       (kdump-lzo kdump-zlib flat-lzo)
#                              also known: kdump-raw (-d 31, no compression), elf (-E -d 31)
#   KTRIAGE_GEN_QEMU_MEM, KTRIAGE_GEN_KDUMP_MEM, KTRIAGE_GEN_CRASHKERNEL
#                         guest sizes                    (256M; 512M with crashkernel=160M)
#   KTRIAGE_GEN_QEMU_TIMEOUT, KTRIAGE_GEN_KDUMP_TIMEOUT
#                         seconds a QEMU run may take    (240; 420 for kdump)
#   KTRIAGE_GEN_ACCEL     kvm or tcg; probed when unset
#   KTRIAGE_GEN_CPU       QEMU -cpu model                 (qemu64)
#   KTRIAGE_GEN_NO_INSTALL=1   do not apt-get install missing host tools
#   KTRIAGE_GEN_DUMP_DISK size of the kdump run's dump disk (448M)
#   KTRIAGE_GEN_TAG       appended to each output folder's name ("")
#   KTRIAGE_GEN_GUEST     one guest size for both runs, e.g. 16G: a big guest's dumps. Sets
#                         the sizes above to it (crashkernel=256M), the formats to
#                         "elf" (unfiltered, as large as the guest) and "kdump-lzo"
#                         (-d 31), the timeouts to an hour, the dump disk to 2G, the
#                         tag to -SIZE, the output to ~/.cache/ktriage/guest-SIZE and
#                         the cache to ~/.cache/ktriage/gen-SIZE (its own work and
#                         build folders, so it can run beside a default run); the
#                         settings above still override each of these
#   KTRIAGE_GEN_APPEND    extra kernel command-line words for the crashed kernel, not the
#                         capture kernel ("no_timer_check" with KTRIAGE_GEN_KBUILD, else "")
#   KTRIAGE_GEN_KDUMP_APPEND  extra words for the kdump run's crashed kernel ("ktriage.pin=0"
#                         with KTRIAGE_GEN_KBUILD: its tasks on CPU 0, see below)
#   KTRIAGE_GEN_CAPTURE_APPEND  extra words for the kdump capture kernel ("no_timer_check",
#                         see below)
#   KTRIAGE_GEN_KBUILD    a kernel build directory (build-old-kernel.sh's) to crash
#                         instead of Debian's package: its bzImage, its modules,
#                         the module built against it with the make variables
#                         it was built with (ktriage-make-vars beside its .config)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEFAULT_RELEASE=6.1.0-56-cloud-amd64
RELEASE=${KTRIAGE_GEN_RELEASE:-$DEFAULT_RELEASE}
GUEST=${KTRIAGE_GEN_GUEST:-}
if [ -n "$GUEST" ]; then
	# A big guest: its unfiltered ELF is as large as its memory, so it goes under
	# ~/.cache rather than /work/gen-out; booting and filtering 16 GB under TCG
	# takes minutes, not seconds.
	: "${KTRIAGE_GEN_QEMU_MEM:=$GUEST}" "${KTRIAGE_GEN_KDUMP_MEM:=$GUEST}" "${KTRIAGE_GEN_CRASHKERNEL:=256M}"
	: "${KTRIAGE_GEN_QEMU_FORMATS:=elf}" "${KTRIAGE_GEN_KDUMP_FORMATS:=kdump-lzo}"
	: "${KTRIAGE_GEN_QEMU_TIMEOUT:=3600}" "${KTRIAGE_GEN_KDUMP_TIMEOUT:=3600}" "${KTRIAGE_GEN_DUMP_DISK:=2G}"
	: "${KTRIAGE_GEN_TAG:=-$GUEST}" "${KTRIAGE_GEN_OUT:=$HOME/.cache/ktriage/guest-$GUEST}"
	: "${KTRIAGE_GEN_CACHE:=$HOME/.cache/ktriage/gen-$GUEST}"
fi
CACHE=${KTRIAGE_GEN_CACHE:-$HOME/.cache/ktriage/gen}
OUT=${KTRIAGE_GEN_OUT:-/work/gen-out}
TAG=${KTRIAGE_GEN_TAG:-}
DUMP_DISK=${KTRIAGE_GEN_DUMP_DISK:-448M}
LOGS=$HERE/../logs/gen
MODES=${KTRIAGE_GEN_MODES:-qemu kdump}
QEMU_FORMATS=${KTRIAGE_GEN_QEMU_FORMATS:-elf kdump-zlib}
KDUMP_FORMATS=${KTRIAGE_GEN_KDUMP_FORMATS:-kdump-lzo kdump-zlib flat-lzo}
ALL_SCENARIOS="sysrq hung oops-null bug softlockup oom warn-panic lock-hold lock-frozen lock-pod io-hold io-journal io-bio secret"

# Small guests keep the dumps small. The kdump guest needs room for the capture kernel.
QEMU_MEM=${KTRIAGE_GEN_QEMU_MEM:-256M}
KDUMP_MEM=${KTRIAGE_GEN_KDUMP_MEM:-512M}
CRASHKERNEL=${KTRIAGE_GEN_CRASHKERNEL:-160M}
QEMU_TIMEOUT=${KTRIAGE_GEN_QEMU_TIMEOUT:-240}   # seconds for boot + crash + dump-guest-memory
KDUMP_TIMEOUT=${KTRIAGE_GEN_KDUMP_TIMEOUT:-420} # seconds for boot + crash + capture kernel + every makedumpfile run
COMMITTED_LOG_LIMIT=$((200 * 1024))

KERNEL_DIR=$CACHE/kernel-$RELEASE
VMLINUZ=$KERNEL_DIR/boot/vmlinuz-$RELEASE
KDIR=/usr/src/linux-headers-$RELEASE
MODS=$KERNEL_DIR/lib/modules/$RELEASE/kernel
BUILTIN=$MODS/../modules.builtin
KBUILD=${KTRIAGE_GEN_KBUILD:-}
KMAKE_VARS=()
if [ -n "$KBUILD" ]; then
	[ -f "$KBUILD/include/config/kernel.release" ] || { echo "make-dumps: $KBUILD is not a kernel build directory" >&2; exit 1; }
	RELEASE=$(cat "$KBUILD/include/config/kernel.release")
	VMLINUZ=$KBUILD/arch/x86/boot/bzImage
	KDIR=$KBUILD
	MODS=$KBUILD
	BUILTIN=$KBUILD/modules.builtin
	[ -f "$KBUILD/ktriage-make-vars" ] && mapfile -t KMAKE_VARS <"$KBUILD/ktriage-make-vars"
fi
# An old kernel under TCG on a loaded host may fail its boot-time check that
# the timer interrupt arrives ("IO-APIC + timer doesn't work!", 3.10) and
# panic before pvpanic is up; virtual machines skip that check.
APPEND=${KTRIAGE_GEN_APPEND-$([ -n "$KBUILD" ] && echo no_timer_check)}
# Their kdump capture kernel, booted on the CPU that crashed, gets no
# device interrupts when that is not CPU 0 (3.10 under TCG: every capture
# from CPU 1 hung reading its first virtio disk; every one from CPU 0
# worked): the halted CPU 0's local APIC keeps the logical ID 1 the
# capture kernel gives its own, and takes the disk's interrupts (QEMU's
# "info lapic": they sit in CPU 0's IRR). So in the kdump run init keeps
# the scenario's tasks on CPU 0.
KDUMP_APPEND=${KTRIAGE_GEN_KDUMP_APPEND-$([ -n "$KBUILD" ] && echo ktriage.pin=0)}
# The capture kernel skips that timer check too, whatever the kernel: when
# the loaded host delays the timer's ticks it falls back, route by route, to
# an 8259A ExtINT timer, and the timer's vector 0x30 is then left in service
# in the local APIC, nothing ever ending it (QEMU's "info lapic": ISR 48,
# PPR 0x30, the disk's vector 34 waiting in IRR), which blocks every device
# vector below 0x40: the capture hangs reading its first disk (5.4's OOM
# capture, twice; forced on a SysRq-c capture by failing the check under
# gdb). The IO-APIC route the check tries first is the one that works.
CAPTURE_APPEND=${KTRIAGE_GEN_CAPTURE_APPEND-no_timer_check}
BUILD=$CACHE/build-$RELEASE
INITRD=$BUILD/initrd.img
WORK=$CACHE/work

log() { echo "make-dumps: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Host tools come from Debian's packages; the kernel image is only downloaded and
# unpacked (it is never installed on the host).
ensure_host_tools() {
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	command -v makedumpfile >/dev/null || missing+=(makedumpfile)
	command -v kexec >/dev/null || [ -x /usr/sbin/kexec ] || missing+=(kexec-tools)
	[ -x /usr/sbin/vmcore-dmesg ] || missing+=(kexec-tools)
	command -v debugfs >/dev/null || [ -x /usr/sbin/debugfs ] || missing+=(e2fsprogs)
	command -v gcc >/dev/null || missing+=(gcc)
	command -v make >/dev/null || missing+=(make)
	command -v cpio >/dev/null || missing+=(cpio)
	command -v zstd >/dev/null || missing+=(zstd)
	command -v python3 >/dev/null || missing+=(python3)
	[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
	[ -d "$KDIR" ] || [ -n "$KBUILD" ] || missing+=("linux-headers-$RELEASE")
	if [ ${#missing[@]} -gt 0 ]; then
		[ "${KTRIAGE_GEN_NO_INSTALL:-}" = 1 ] && die "missing host packages: ${missing[*]}"
		log "installing ${missing[*]}"
		apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
	fi
}

# A cache of its own (KTRIAGE_GEN_GUEST) takes the default cache's .debs rather
# than downloading them again.
reuse_default_cache() {
	local f
	mkdir -p "$CACHE"
	ls "$CACHE"/$1 >/dev/null 2>&1 && return
	for f in "$HOME"/.cache/ktriage/gen/$1; do
		[ -f "$f" ] && cp "$f" "$CACHE/"
	done
	return 0
}

fetch_kernel() {
	[ -f "$VMLINUZ" ] && return
	[ -z "$KBUILD" ] || die "no $VMLINUZ: build the kernel first"
	mkdir -p "$CACHE"
	local deb
	reuse_default_cache "linux-image-${RELEASE}_*.deb"
	deb=$(ls "$CACHE"/linux-image-"$RELEASE"_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		log "downloading linux-image-$RELEASE"
		(cd "$CACHE" && apt-get download -qq "linux-image-$RELEASE" 2>&1 | grep -v 'unsandboxed' >&2 || true)
		deb=$(ls "$CACHE"/linux-image-"$RELEASE"_*.deb 2>/dev/null | head -1 || true)
		[ -n "$deb" ] || die "apt-get download linux-image-$RELEASE failed"
	fi
	rm -rf "$KERNEL_DIR"
	dpkg-deb -x "$deb" "$KERNEL_DIR"
}

# The initramfs's busybox comes from busybox-static's package, whatever busybox the host has.
fetch_busybox() {
	BUSYBOX=$CACHE/busybox-static/bin/busybox
	[ -x "$BUSYBOX" ] && return
	local deb
	reuse_default_cache "busybox-static_*.deb"
	deb=$(ls "$CACHE"/busybox-static_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		log "downloading busybox-static"
		(cd "$CACHE" && apt-get download -qq busybox-static 2>&1 | grep -v 'unsandboxed' >&2 || true)
		deb=$(ls "$CACHE"/busybox-static_*.deb 2>/dev/null | head -1 || true)
		[ -n "$deb" ] || die "apt-get download busybox-static failed"
	fi
	rm -rf "$CACHE/busybox-static"
	dpkg-deb -x "$deb" "$CACHE/busybox-static"
	[ -x "$BUSYBOX" ] || die "no bin/busybox in $deb"
}

# Copies a dynamic binary and the shared libraries it needs into the initramfs tree.
copy_with_libs() {
	local bin=$1 root=$2 lib
	install -D -m 0755 "$bin" "$root/bin/$(basename "$bin")"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*' | sort -u); do
		install -D -m 0755 "$lib" "$root$lib"
	done
}

build_initramfs() {
	local stamp=$BUILD/inputs.sha256 sum
	sum=$(cat "$BUSYBOX" "$HERE/init" "$HERE/memhog.c" "$HERE/module/ktriage_crash.c" "$HERE/module/Makefile" \
		"$0" "$VMLINUZ" | sha256sum | cut -d' ' -f1)
	if [ -f "$INITRD" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
		return
	fi
	log "building module, memhog and initramfs"
	rm -rf "$BUILD"
	mkdir -p "$BUILD/module"
	cp "$HERE/module/ktriage_crash.c" "$HERE/module/Makefile" "$BUILD/module/"
	make -s -C "$BUILD/module" KDIR="$KDIR" "${KMAKE_VARS[@]}" >"$BUILD/module.log" 2>&1 ||
		{ cat "$BUILD/module.log" >&2; die "module build failed"; }
	gcc -static -O2 -o "$BUILD/memhog" "$HERE/memhog.c"

	local root=$BUILD/root mods=$MODS m f
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules/ktriage}
	install -m 0755 "$BUSYBOX" "$root/bin/busybox"
	install -m 0755 "$HERE/init" "$root/init"
	install -m 0755 "$BUILD/memhog" "$root/bin/memhog"
	install -m 0644 "$BUILD/module/ktriage_crash.ko" "$root/lib/modules/ktriage/"
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
		qemu_fw_cfg pvpanic pvpanic-mmio pvpanic-pci; do
		f=$(find "$mods" -name "$m.ko*" | head -1)
		# Newer kernels build some of these in (6.12: the virtio core).
		if [ -z "$f" ] && grep -q "/$m.ko\$" "$BUILTIN" 2>/dev/null; then
			continue
		fi
		# An older kernel may not have the driver at all (3.10: no
		# pvpanic-mmio, no split virtio_pci_*_dev); init skips what is absent.
		if [ -z "$f" ] && [ -n "$KBUILD" ]; then
			log "no $m.ko in $KBUILD (built in or not in this kernel)"
			continue
		fi
		[ -n "$f" ] || die "module $m.ko not in linux-image-$RELEASE"
		case "$f" in
		*.ko.xz) xz -dc "$f" >"$root/lib/modules/ktriage/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/ktriage/$m.ko" ;;
		*) cp "$f" "$root/lib/modules/ktriage/$m.ko" ;;
		esac
	done
	copy_with_libs "$(command -v makedumpfile)" "$root"
	copy_with_libs /usr/sbin/kexec "$root"
	copy_with_libs /usr/sbin/vmcore-dmesg "$root"
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) >"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	echo "$sum" >"$stamp"
	log "initramfs $(du -h "$INITRD" | cut -f1)"
}

# The QEMU options every run shares, as words for an unquoted $(...): the cache and
# output paths must not contain spaces.
qemu_base() {
	local accel=$1 mem=$2 console=$3
	echo -accel "$accel" -machine q35 -cpu "${KTRIAGE_GEN_CPU:-qemu64}" -smp 2 -m "$mem" \
		-display none -vga none -monitor none -serial "file:$console" -no-reboot \
		-device vmcoreinfo -device pvpanic \
		-kernel "$VMLINUZ" -initrd "$INITRD"
}

# kvm on this class of machine may exist but fail to boot a stock kernel, so boot
# once and look for init's greeting before trusting it.
probe_accel() {
	if [ -n "${KTRIAGE_GEN_ACCEL:-}" ]; then
		ACCEL=$KTRIAGE_GEN_ACCEL
		return
	fi
	ACCEL=tcg
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || { log "no usable /dev/kvm: using tcg"; return; }
	# One probe per host boot: the answer does not change until the host reboots.
	local boot_id cached=$CACHE/accel.probe
	boot_id=$(cat /proc/sys/kernel/random/boot_id)
	if [ "$(head -1 "$cached" 2>/dev/null)" = "$boot_id" ]; then
		ACCEL=$(sed -n 2p "$cached")
		log "accelerator: $ACCEL (probed earlier on this host boot)"
		return
	fi
	local console=$WORK/probe.console.log
	rm -f "$console"
	timeout --kill-after=5 20 qemu-system-x86_64 $(qemu_base kvm 256M "$console") \
		-append "console=ttyS0 ktriage.scenario=probe" >/dev/null 2>&1 || true
	if grep -q 'ktriage-gen: scenario=probe' "$console" 2>/dev/null; then
		ACCEL=kvm
	fi
	printf '%s\n%s\n' "$boot_id" "$ACCEL" >"$cached"
	log "accelerator: $ACCEL"
}

new_data_disk() {
	rm -f "$1"
	truncate -s 64M "$1"
	mkfs.ext4 -q -F -L data1 "$1"
}

file_size() { stat -c %s "$1"; }

kernel_note() {
	if [ -n "$KBUILD" ]; then
		echo "$RELEASE built from source in $KBUILD (testdata/gen/build-old-kernel.sh)"
	else
		echo "linux-image-$RELEASE $(dpkg-deb -f "$(ls "$CACHE"/linux-image-"$RELEASE"_*.deb | head -1)" Version)"
	fi
}

# Writes the provenance note beside one produced dump.
note_dump() {
	local dir=$1 scenario=$2 how=$3 seconds=$4
	cat >"$dir/gen.txt" <<-NOTE
		scenario: $scenario
		kernel: $(kernel_note)
		written by: $how
		accelerator: $ACCEL
		run seconds: $seconds
		vmcore bytes: $(file_size "$dir/vmcore")
		made: $(date -u +%Y-%m-%dT%H:%M:%SZ) by testdata/gen/make-dumps.sh
	NOTE
}

# Rebuilds $OUT/summary.tsv from every dump's gen.txt.
write_summary() {
	local note
	{
		printf 'dump\trun seconds\tvmcore bytes\twritten by\n'
		for note in "$OUT"/*/gen.txt; do
			[ -f "$note" ] || continue
			printf '%s\t%s\t%s\t%s\n' "$(basename "$(dirname "$note")")" \
				"$(sed -n 's/^run seconds: //p' "$note")" \
				"$(sed -n 's/^vmcore bytes: //p' "$note")" \
				"$(sed -n 's/^written by: //p' "$note")"
		done
	} >"$OUT/summary.tsv"
}

save_console() {
	local console=$1 scenario=$2 name=$3
	# testdata/logs/gen holds the corpus kernel's logs of the default guests;
	# another release's, or a tagged (big guest's) run's, stay beside its dumps only.
	if [ "$RELEASE" != "$DEFAULT_RELEASE" ] || [ -n "$TAG" ]; then
		return
	fi
	if [ "$(file_size "$console")" -lt "$COMMITTED_LOG_LIMIT" ]; then
		mkdir -p "$LOGS"
		cp "$console" "$LOGS/$scenario.$name"
	else
		log "$scenario: $(basename "$console") is over $COMMITTED_LOG_LIMIT bytes, not copied to testdata"
	fi
}

run_qemu_mode() {
	local scenario=$1 run=$WORK/$1-qemu fmt args=() start rc
	rm -rf "$run"
	mkdir -p "$run"
	new_data_disk "$run/data1.img"
	for fmt in $QEMU_FORMATS; do
		args+=("$fmt=$run/vmcore.$fmt")
	done
	log "$scenario: QEMU run ($ACCEL, $QEMU_MEM, formats: $QEMU_FORMATS)"
	start=$(date +%s)
	timeout --kill-after=10 "$QEMU_TIMEOUT" qemu-system-x86_64 \
		$(qemu_base "$ACCEL" "$QEMU_MEM" "$run/console.log") \
		-drive "file=$run/data1.img,if=none,id=data1,format=raw" -device virtio-blk-pci,drive=data1 \
		-qmp "unix:$run/qmp.sock,server=on,wait=off" -S -action panic=pause \
		-append "console=ttyS0 $APPEND ktriage.scenario=$scenario ktriage.mode=qemu" \
		>"$run/qemu.log" 2>&1 &
	local qemu_pid=$!
	rc=0
	python3 "$HERE/qmp-dump.py" "$run/qmp.sock" "$QEMU_TIMEOUT" "${args[@]}" 2>>"$run/qemu.log" || rc=$?
	[ $rc -eq 0 ] || kill "$qemu_pid" 2>/dev/null || true
	wait "$qemu_pid" || true
	local seconds=$(($(date +%s) - start))
	if [ $rc -ne 0 ]; then
		log "$scenario: QEMU run failed (status $rc); see $run/qemu.log and $run/console.log"
		tail -5 "$run/qemu.log" >&2
		return 1
	fi
	for fmt in $QEMU_FORMATS; do
		local dir=$OUT/$scenario-qemu-$fmt$TAG
		rm -rf "$dir"
		mkdir -p "$dir"
		mv "$run/vmcore.$fmt" "$dir/vmcore"
		cp "$run/console.log" "$dir/console.log"
		note_dump "$dir" "$scenario" "QEMU dump-guest-memory paging=false format=$fmt, -m $QEMU_MEM" "$seconds"
	done
	save_console "$run/console.log" "$scenario" console.log
	log "$scenario: QEMU run done in ${seconds}s"
	rm -rf "$run"
}

run_kdump_mode() {
	local scenario=$1 run=$WORK/$1-kdump fmt start rc=0
	rm -rf "$run"
	mkdir -p "$run/dumpfs/boot"
	new_data_disk "$run/data1.img"
	# The dump disk carries the capture kernel and initramfs in, and the dumps out.
	cp "$VMLINUZ" "$run/dumpfs/boot/vmlinuz"
	cp "$INITRD" "$run/dumpfs/boot/initrd.img"
	truncate -s "$DUMP_DISK" "$run/dump.img"
	mkfs.ext4 -q -F -L dump -d "$run/dumpfs" "$run/dump.img"
	log "$scenario: kdump run ($ACCEL, $KDUMP_MEM, crashkernel=$CRASHKERNEL, formats: $KDUMP_FORMATS)"
	start=$(date +%s)
	timeout --kill-after=10 "$KDUMP_TIMEOUT" qemu-system-x86_64 \
		$(qemu_base "$ACCEL" "$KDUMP_MEM" "$run/console.log") \
		-drive "file=$run/data1.img,if=none,id=data1,format=raw" -device virtio-blk-pci,drive=data1 \
		-drive "file=$run/dump.img,if=none,id=dump,format=raw" -device virtio-blk-pci,drive=dump \
		-action panic=shutdown \
		-append "console=ttyS0 $APPEND $KDUMP_APPEND crashkernel=$CRASHKERNEL ktriage.scenario=$scenario ktriage.mode=kdump ktriage.formats=$(echo $KDUMP_FORMATS | tr ' ' ,)${CAPTURE_APPEND:+ ktriage.capture=$(echo $CAPTURE_APPEND | tr ' ' ,)}" \
		>"$run/qemu.log" 2>&1 || rc=$?
	local seconds=$(($(date +%s) - start))
	[ $rc -eq 124 ] && log "$scenario: kdump run timed out after ${KDUMP_TIMEOUT}s"
	rm -rf "$run/out"
	debugfs -R "rdump /out $run" "$run/dump.img" >/dev/null 2>&1 || true
	if [ ! -d "$run/out" ]; then
		log "$scenario: kdump run wrote nothing; see $run/console.log"
		tail -20 "$run/console.log" >&2
		return 1
	fi
	local failed=0
	for fmt in $KDUMP_FORMATS; do
		if [ ! -s "$run/out/$fmt/vmcore" ] || [ "$(cat "$run/out/$fmt/makedumpfile.rc" 2>/dev/null)" != 0 ]; then
			log "$scenario: makedumpfile $fmt failed; see $run/console.log"
			failed=1
			continue
		fi
		local dir=$OUT/$scenario-$fmt$TAG
		rm -rf "$dir"
		mkdir -p "$dir"
		mv "$run/out/$fmt/vmcore" "$dir/vmcore"
		cp "$run/console.log" "$dir/console.log"
		cp "$run/out/dmesg.makedumpfile.txt" "$dir/" 2>/dev/null || true
		cp "$run/out/vmcore-dmesg.txt" "$dir/" 2>/dev/null || true
		note_dump "$dir" "$scenario" "kdump capture kernel: makedumpfile ($fmt), -m $KDUMP_MEM crashkernel=$CRASHKERNEL" "$seconds"
	done
	save_console "$run/console.log" "$scenario" kdump.console.log
	log "$scenario: kdump run done in ${seconds}s"
	[ $failed -eq 0 ] && rm -rf "$run"
	return $failed
}

main() {
	local scenarios=("$@") s mode failed=()
	[ ${#scenarios[@]} -gt 0 ] || read -ra scenarios <<<"$ALL_SCENARIOS"
	for s in "${scenarios[@]}"; do
		case " $ALL_SCENARIOS " in *" $s "*) ;; *) die "unknown scenario '$s' (known: $ALL_SCENARIOS)" ;; esac
	done
	ensure_host_tools
	fetch_kernel
	fetch_busybox
	build_initramfs
	mkdir -p "$OUT" "$WORK"
	# The module with its debug info, for crash's "mod -s" and symbol lookups in the dumps.
	mkdir -p "$OUT/modules"
	cp "$BUILD/module/ktriage_crash.ko" "$OUT/modules/"
	probe_accel
	for s in "${scenarios[@]}"; do
		for mode in $MODES; do
			# An old kernel's TCG guest on a loaded host is slow and
			# now and then stalls until the timeout: one more try.
			"run_${mode}_mode" "$s" ||
				{ [ -n "$KBUILD" ] && log "$s: $mode run failed; trying once more" && "run_${mode}_mode" "$s"; } ||
				failed+=("$s/$mode")
		done
	done
	write_summary
	if [ ${#failed[@]} -gt 0 ]; then
		log "failed: ${failed[*]}"
		exit 1
	fi
	log "done: dumps in $OUT"
}

main "$@"
