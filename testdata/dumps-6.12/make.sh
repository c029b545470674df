#!/bin/sh
# Regenerates the Debian 6.12 fixture in this folder: a real QEMU dump of
# bookworm-backports' 6.12.95+deb12-cloud-amd64 crashed by a NULL
# dereference in testdata/gen's module, cut to the pages ktriage reads, with
# the serial console (the kernel's own oops is the tests' oracle) and
# gen.txt (how the dump was made).
#
# Needs bookworm-backports in apt's sources (for the kernel image and its
# headers, which make-dumps.sh installs to build the module) and what
# make-dumps.sh needs (qemu-system-x86, ...). Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
release=6.12.95+deb12-cloud-amd64
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gen() { KTRIAGE_GEN_RELEASE=$release KTRIAGE_GEN_OUT="$out" KTRIAGE_GEN_MODES=qemu KTRIAGE_GEN_QEMU_FORMATS=kdump-zlib \
	bash testdata/gen/make-dumps.sh "$@"; }
if [ "${1:-}" = double-fault ]; then
	# The hung scenario under -cpu max, which crashed with a double fault
	# under TCG; check the log says so before keeping it.
	KTRIAGE_GEN_CPU=max gen hung
	src=$out/hung-qemu-kdump-zlib
	go run ./cmd/ktriage dmesg "$src/vmcore" | grep -q 'PANIC: double fault' ||
		{ echo "make.sh: this run did not double-fault; nothing kept" >&2; exit 1; }
	go run testdata/dumps/cut.go -stacks -F -o "$here/double-fault-qemu-kdump-zlib.vmcore" "$src/vmcore"
	cp "$src/gen.txt" "$here/double-fault-qemu-kdump-zlib.gen.txt"
else
	gen oops-null
	src=$out/oops-null-qemu-kdump-zlib
	go run testdata/dumps/cut.go -stacks -F -o "$here/oops-null-qemu-kdump-zlib.vmcore" "$src/vmcore"
	cp "$src/console.log" "$here/oops-null-qemu-kdump-zlib.console.log"
	cp "$src/gen.txt" "$here/oops-null-qemu-kdump-zlib.gen.txt"
fi
ls -l "$here"
