#!/bin/sh
# Regenerates this folder: a dump of the corpus kernel (6.1) whose tasks
# sleep in the testdata module (testdata/gen's lock-hold scenario, QEMU
# mode), cut to the pages `ktriage bt` reads — the module's build-id note
# among them — and beside it that module's debug file, split as
# distributions split module debuginfo (eu-strip --reloc-debug-sections).
# The module must be the build loaded in the dump: same build-id.
#
#   sh testdata/dumps-modules/make.sh [FULL-DUMP-DIR]
#
# FULL-DUMP-DIR holds vmcore and gen.txt of a lock-hold run (default: a
# new run of testdata/gen/make-dumps.sh); the module is taken from
# testdata/gen's build folder, ~/.cache/ktriage/gen/build-<release>/module.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
release=6.1.0-56-cloud-amd64
ko=${KTRIAGE_GEN_CACHE:-$HOME/.cache/ktriage/gen}/build-$release/module/ktriage_crash.ko
src=${1:-}
if [ -z "$src" ]; then
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	KTRIAGE_GEN_OUT="$out" KTRIAGE_GEN_MODES=qemu KTRIAGE_GEN_QEMU_FORMATS=kdump-zlib \
		bash testdata/gen/make-dumps.sh lock-hold
	src=$out/lock-hold-qemu-kdump-zlib
fi
name=lock-hold-qemu-kdump-zlib
go run testdata/dumps/cut.go -stacks -o "$here/$name.vmcore" "$src/vmcore"
cp "$src/gen.txt" "$here/$name.gen.txt"
tmp=$(mktemp -d)
cp "$ko" "$tmp/m.ko"
mkdir -p "$here/debug"
eu-strip --remove-comment --reloc-debug-sections -f "$here/debug/ktriage_crash.ko.debug" "$tmp/m.ko"
rm -rf "$tmp"
echo "module build-id: $(readelf -n "$here/debug/ktriage_crash.ko.debug" | sed -n 's/.*Build ID: //p') (TestModuleFramesSourceLines61 checks it is the dump's)"
ls -l "$here" "$here/debug"
