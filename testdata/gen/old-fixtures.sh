#!/bin/sh
# Regenerates one older generation's fixtures: real dumps of a kernel
# build-old-kernel.sh built, crashed in QEMU by make-dumps.sh, answered by
# crash (crash-oracle.sh, crash 8.0.2 and, when bench/peers.sh has put it
# there, 8.0.6), then cut to the pages ktriage reads. testdata/dumps-el7 and
# testdata/dumps-5.4 call it from their make.sh.
#
#   sh testdata/gen/old-fixtures.sh KBUILD FIXTURE_DIR scenario...
#
# Kept in FIXTURE_DIR, per dump NAME (scenario-format):
#   NAME.vmcore        the dump cut to what ktriage's dmesg, sys, ps, bt and
#                      analyze read (kdump-compressed captures only: cut.go
#                      reads no ELF; QEMU's ELF dumps are checked in $out)
#   NAME.crash/        the newest crash's sys, log, bt, bt -a, foreach UN bt,
#                      ps, mod on the ORIGINAL dump, with the full debug vmlinux
#   NAME.crash-V/      an older crash's answers, where it was run too
#   NAME.gen.txt       how the dump was made
#   NAME.lines.txt     each kernel frame's file:line from the full vmlinux
#                      (fixture-lines.sh)
# and vmlinux-<release>.pack, the kernel's debuginfo pack (ktriage pack),
# which lets the tests read the fixtures without the full debug vmlinux.
# The full dumps stay in $KTRIAGE_GEN_OUT (the tests read them too when
# KTRIAGE_<GEN>_DUMPS names it).
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
kbuild=${1:?usage: old-fixtures.sh KBUILD FIXTURE_DIR scenario...}
here=$(cd "${2:?usage: old-fixtures.sh KBUILD FIXTURE_DIR scenario...}" && pwd)
shift 2
cd "$repo"
[ -f "$kbuild/vmlinux" ] || { echo "old-fixtures: no $kbuild/vmlinux: build the kernel first (testdata/gen/build-old-kernel.sh)" >&2; exit 1; }
release=$(cat "$kbuild/include/config/kernel.release")
out=${KTRIAGE_GEN_OUT:?set KTRIAGE_GEN_OUT to where the full dumps go}

if [ "${KTRIAGE_FIXTURES_ONLY:-}" != 1 ]; then
	# TCG on a shared 2-core host: allow slow boots.
	KTRIAGE_GEN_QEMU_TIMEOUT=${KTRIAGE_GEN_QEMU_TIMEOUT:-600} KTRIAGE_GEN_KDUMP_TIMEOUT=${KTRIAGE_GEN_KDUMP_TIMEOUT:-600} \
	KTRIAGE_GEN_KBUILD=$kbuild KTRIAGE_GEN_OUT=$out KTRIAGE_GEN_QEMU_FORMATS=${KTRIAGE_GEN_QEMU_FORMATS:-elf kdump-zlib} \
		KTRIAGE_GEN_KDUMP_FORMATS=${KTRIAGE_GEN_KDUMP_FORMATS:-kdump-lzo} bash testdata/gen/make-dumps.sh "$@" || true
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ktriage" ./cmd/ktriage
go build -o "$tmp/cut" testdata/dumps/cut.go
pack=$here/vmlinux-$release.pack
if ! { [ -f "$pack" ] && [ "$pack" -nt "$kbuild/vmlinux" ] && unzip -l "$pack" | grep -q ' lines$'; }; then
	# A pack of this very build lends its BTF (pahole takes minutes on
	# 3.10); a pack of another build is refused, and pahole runs.
	"$tmp/ktriage" pack "$kbuild/vmlinux" --btf "$pack" -o "$tmp/pack" 2>/dev/null ||
		"$tmp/ktriage" pack "$kbuild/vmlinux" -o "$tmp/pack"
	mv "$tmp/pack" "$pack"
fi

crashes=crash
newer=$HOME/.cache/ktriage/peers/bin/crash-8.0.6
[ -x "$newer" ] && crashes="$crashes $newer"
for s in "$@"; do
	for dir in "$out/$s"-*; do
		[ -f "$dir/vmcore" ] || continue
		name=$(basename "$dir")
		for c in $crashes; do
			# Each crash once per dump (KTRIAGE_ORACLE_AGAIN=1: again).
			v=$("$c" -v 2>/dev/null | sed -n 's/^crash \([0-9.]*\).*/\1/p' | head -1)
			[ "${KTRIAGE_ORACLE_AGAIN:-}" != 1 ] && [ -s "$dir/crash-$v/sys.txt" ] && continue
			CRASH=$c KTRIAGE_GEN_OUT=$out bash testdata/gen/crash-oracle.sh "$kbuild/vmlinux" "$dir" ||
				echo "old-fixtures: $name: $c failed (see $dir/crash-*/stderr.txt)" >&2
		done
		case "$name" in *-qemu-elf) continue ;; esac
		# A dump ktriage cannot yet read the same way twice is reported
		# and left out; the others still get their fixtures.
		if ! "$tmp/cut" -stacks -analyze -vmlinux "$pack" -o "$here/$name.vmcore" "$dir/vmcore"; then
			echo "old-fixtures: $name: cut failed; no fixture" >&2
			rm -f "$here/$name.vmcore"
			continue
		fi
		rm -rf "$here/$name".crash*
		newest=$(ls -d "$dir"/crash-* | sort -V | tail -1)
		cp -r "$newest" "$here/$name.crash"
		for o in $(ls -d "$dir"/crash-* | sort -V | head -n -1); do
			cp -r "$o" "$here/$name.${o##*/}"
		done
		cp "$dir/gen.txt" "$here/$name.gen.txt"
	done
done
sh testdata/gen/fixture-lines.sh "$kbuild/vmlinux" "$here"
ls -l "$here"
