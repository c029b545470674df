#!/bin/sh
# Regenerates the lock fixtures in this folder: testdata/gen's lock-hold and
# lock-frozen, lock-pod, io-hold, io-journal and io-bio scenarios on the corpus kernel, QEMU mode, cut to the pages
# `ktriage analyze` reads. Needs what testdata/gen/make-dumps.sh needs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
KTRIAGE_GEN_OUT="$out" KTRIAGE_GEN_MODES=qemu KTRIAGE_GEN_QEMU_FORMATS=kdump-zlib \
	bash testdata/gen/make-dumps.sh lock-hold lock-frozen lock-pod io-hold io-journal io-bio
for s in lock-hold lock-frozen lock-pod io-hold io-journal io-bio; do
	src=$out/$s-qemu-kdump-zlib
	go run testdata/dumps/cut.go -stacks -analyze -F -o "$here/$s-qemu-kdump-zlib.vmcore" "$src/vmcore"
	cp "$src/gen.txt" "$here/$s-qemu-kdump-zlib.gen.txt"
done
ls -l "$here"
