#!/bin/sh
# Checks `ktriage minimize` against crash on every corpus dump: crash runs
# log, sys, bt, bt -a and foreach UN bt on the original and on its
# minimized copy, and the outputs must be equal (the DUMPFILE lines, which name the files, aside).
# It also prints each copy's size and time beside makedumpfile -d 31's on
# the same dump (makedumpfile re-filters kdump files; the ELF one is
# converted by it from ELF).
#
#   sh scripts/minimize-crash-check.sh [DUMP-FOLDER…]
#
# Needs crash, makedumpfile, the corpus at ../shared/corpus and the debug
# vmlinux (scripts/fetch-debug-vmlinux.sh). Compare crash with crash: Debian
# 12's crash 8.0.2 misreads 6.1's task list on both alike.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
corpus=$repo/../shared/corpus/dumps
vmlinux=${KTRIAGE_VMLINUX:-$HOME/.cache/ktriage/vmlinux-6.1.0-56-cloud-amd64}
crash=${CRASH:-crash}
[ -f "$vmlinux" ] || { echo "no debug vmlinux at $vmlinux" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ktriage=${KTRIAGE:-$tmp/ktriage}
[ -n "${KTRIAGE:-}" ] || (cd "$repo" && go build -o "$ktriage" ./cmd/ktriage)
printf 'log\nsys\nbt\nbt -a\nforeach UN bt\nq\n' >"$tmp/cmds"

# crashout DUMP OUT: crash's answers, from the first command on, with the
# dump's path masked.
crashout() {
	nice -n 10 "$crash" "$vmlinux" "$@" <"$tmp/cmds" 2>&1 |
		sed -e '1,/^For help, type "help"/d' -e '/DUMPFILES*:/d' -e '/^  *\/.*\[PARTIAL DUMP\]$/d' >"$out"
}

[ $# -gt 0 ] || set -- "$corpus"/*
fail=0
printf '%-22s %12s %10s %8s %12s %8s %s\n' dump input copy secs "mdf -d31" secs crash
for dir in "$@"; do
	name=$(basename "$dir")
	set -- $(ls "$dir"/vmcore "$dir"/vmcore.[0-9] 2>/dev/null || true)
	if [ $# -eq 0 ] && [ -f "$dir/vmcore.zst" ]; then
		zstd -q -d -o "$tmp/$name.elf" "$dir/vmcore.zst"
		set -- "$tmp/$name.elf"
	fi
	insize=$(cat "$@" | wc -c)
	t0=$(date +%s.%N)
	nice -n 10 "$ktriage" minimize "$@" -o "$tmp/$name.min" >/dev/null
	t1=$(date +%s.%N)
	mdf=$tmp/$name.mdf
	if [ $# -gt 1 ]; then
		nice -n 10 makedumpfile --reassemble "$@" "$tmp/$name.whole" >/dev/null 2>&1
		src=$tmp/$name.whole
	else
		src=$1
	fi
	[ "$(head -c 12 "$src")" != makedumpfile ] || { makedumpfile -R "$tmp/$name.rearr" <"$src" >/dev/null 2>&1; src=$tmp/$name.rearr; }
	t2=$(date +%s.%N)
	nice -n 10 makedumpfile -c -d 31 "$src" "$mdf" >/dev/null 2>&1 || echo "makedumpfile failed on $name" >&2
	t3=$(date +%s.%N)
	out=$tmp/$name.orig.txt crashout "$@"
	out=$tmp/$name.min.txt crashout "$tmp/$name.min"
	if cmp -s "$tmp/$name.orig.txt" "$tmp/$name.min.txt"; then
		verdict="same ($(wc -l <"$tmp/$name.orig.txt") lines)"
	else
		verdict=DIFFERENT
		fail=1
		diff "$tmp/$name.orig.txt" "$tmp/$name.min.txt" | head -20
	fi
	rm -f "$tmp/$name.whole" "$tmp/$name.rearr" "$tmp/$name.elf"
	printf '%-22s %12s %10s %8.1f %12s %8.1f %s\n' "$name" "$insize" "$(wc -c <"$tmp/$name.min")" \
		"$(echo "$t1 - $t0" | bc)" "$( [ -f "$mdf" ] && wc -c <"$mdf" || echo -)" "$(echo "$t3 - $t2" | bc)" "$verdict"
	rm -f "$tmp/$name.min" "$tmp/$name.min.manifest.json" "$mdf"
done
exit $fail
