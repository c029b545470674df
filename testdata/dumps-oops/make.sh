#!/bin/sh
# Regenerates the oops fixtures in this folder: testdata/gen's bug,
# softlockup and warn-panic scenarios on the corpus kernel, captured by
# in-guest kdump (makedumpfile -l -d 31), cut to the pages `ktriage bt`
# reads, with what the capture kernel's makedumpfile read out of each full
# dump (--dump-dmesg) and what crash printed for `bt` and `bt -a` on it.
# Needs what testdata/gen/make-dumps.sh needs, crash, and the debug vmlinux
# (scripts/fetch-debug-vmlinux.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
release=6.1.0-56-cloud-amd64
vmlinux=$(bash scripts/fetch-debug-vmlinux.sh "$release")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
KTRIAGE_GEN_OUT="$out" KTRIAGE_GEN_MODES=kdump KTRIAGE_GEN_KDUMP_FORMATS=kdump-lzo \
	bash testdata/gen/make-dumps.sh bug softlockup warn-panic
crash --version | grep -m1 "^crash" >"$here/crash-version.txt"
for s in bug softlockup warn-panic; do
	src=$out/$s-kdump-lzo
	name=$s-kdump-lzo
	go run testdata/dumps/cut.go -stacks -o "$here/$name.vmcore" "$src/vmcore"
	cp "$src/gen.txt" "$here/$name.gen.txt"
	cp "$src/dmesg.makedumpfile.txt" "$here/$name.dmesg.txt"
	printf 'bt\nquit\n' >"$out/bt.cmd"
	printf 'bt -a\nquit\n' >"$out/bta.cmd"
	# crash 8.0.2 warns that it cannot walk 6.1's pid table (see the
	# corpus README); those lines and blank ones are not part of bt.
	crash -s "$vmlinux" "$src/vmcore" -i "$out/bt.cmd" | grep -v '^WARNING: active task' | sed '/^$/d' >"$here/$name.crash.bt.txt"
	crash -s "$vmlinux" "$src/vmcore" -i "$out/bta.cmd" | grep -v '^WARNING: active task' >"$here/$name.crash.bt-a.txt"
done
ls -l "$here"
