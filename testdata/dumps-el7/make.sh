#!/bin/sh
# Regenerates the CentOS 7 (3.10.0-1160.el7) fixtures in this folder: real
# dumps of the kernel testdata/gen/build-old-kernel.sh builds from CentOS
# 7.9's source, crashed in QEMU by testdata/gen/make-dumps.sh, answered by
# crash (testdata/gen/crash-oracle.sh), then cut to the pages ktriage reads.
#
#   sh testdata/dumps-el7/make.sh [scenario...]    default: sysrq oops-null hung
#
# Kept here, per dump NAME (scenario-format):
#   NAME.vmcore     the dump cut to what ktriage's dmesg, sys, ps and bt read
#   NAME.crash/     crash's sys, log, bt, bt -a, foreach UN bt, ps, mod on
#                   the ORIGINAL dump, with the full debug vmlinux
#   NAME.gen.txt    how the dump was made
# and vmlinux-<release>.pack, the kernel's debuginfo pack (ktriage pack:
# BTF from pahole, symbols, .debug_frame), which lets the tests read the
# fixtures without the full debug vmlinux.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
cache=${KTRIAGE_OLD_CACHE:-$HOME/.cache/ktriage/old}
kbuild=$cache/build-linux-3.10.0-1160.el7
[ -f "$kbuild/vmlinux" ] || { echo "make.sh: build the kernel first: testdata/gen/build-old-kernel.sh el7" >&2; exit 1; }
release=$(cat "$kbuild/include/config/kernel.release")
out=${KTRIAGE_GEN_OUT:-/work/gen-out-el7}
[ $# -gt 0 ] || set -- sysrq oops-null hung

# TCG on a shared 2-core host: allow slow boots.
KTRIAGE_GEN_QEMU_TIMEOUT=${KTRIAGE_GEN_QEMU_TIMEOUT:-600} KTRIAGE_GEN_KDUMP_TIMEOUT=${KTRIAGE_GEN_KDUMP_TIMEOUT:-900} \
KTRIAGE_GEN_KBUILD=$kbuild KTRIAGE_GEN_OUT=$out KTRIAGE_GEN_QEMU_FORMATS="elf kdump-zlib" \
	KTRIAGE_GEN_KDUMP_FORMATS="kdump-lzo" bash testdata/gen/make-dumps.sh "$@" || true

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ktriage" ./cmd/ktriage
pack=$here/vmlinux-$release.pack
[ -f "$pack" ] && [ "$pack" -nt "$kbuild/vmlinux" ] || "$tmp/ktriage" pack "$kbuild/vmlinux" -o "$pack"

for s in "$@"; do
	for dir in "$out/$s"-*; do
		[ -f "$dir/vmcore" ] || continue
		name=$(basename "$dir")
		KTRIAGE_GEN_OUT=$out bash testdata/gen/crash-oracle.sh "$kbuild/vmlinux" "$dir" ||
			echo "make.sh: $name: crash failed (see $dir/crash-*/stderr.txt)" >&2
		# QEMU's dumps stay in $out, checked there (KTRIAGE_EL7_DUMPS,
		# kernel/oldkernels_test.go): ktriage's stack of the panic CPU
		# differs from crash's on them (testdata/gen/README.md), so only
		# the in-guest kdump captures become fixtures.
		case "$name" in *-qemu-*) continue ;; esac
		# A dump ktriage cannot yet read the same way twice is reported
		# and left out; the others still get their fixtures.
		if ! go run testdata/dumps/cut.go -stacks -vmlinux "$pack" -o "$here/$name.vmcore" "$dir/vmcore"; then
			echo "make.sh: $name: cut failed; no fixture" >&2
			rm -f "$here/$name.vmcore"
			continue
		fi
		rm -rf "$here/$name.crash"
		cp -r "$dir"/crash-* "$here/$name.crash"
		cp "$dir/gen.txt" "$here/$name.gen.txt"
	done
done
ls -l "$here"
