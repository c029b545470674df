#!/bin/bash
# crash-oracle.sh: run crash on every dump make-dumps.sh wrote and keep its
# answers beside each dump, one file per command, as the oracle ktriage's
# tests compare with (the corpus's crash-8.0.6/ folders are made the same way).
#
#   testdata/gen/crash-oracle.sh VMLINUX [DUMPDIR...]   default: every $KTRIAGE_GEN_OUT/*/vmcore
#
# VMLINUX is the dump's debug vmlinux (build-old-kernel.sh's build directory
# has it). The module's debug object is loaded from $KTRIAGE_GEN_OUT/modules
# (mod -S) so that crash names its frames. Output goes to
# DUMPDIR/crash-<version>/{sys,log,bt,bt_-a,foreach_UN_bt,ps,mod}.txt, with
# times.txt saying how long crash took on each dump.
set -uo pipefail

OUT=${KTRIAGE_GEN_OUT:-/work/gen-out}
CRASH=${CRASH:-crash}
VMLINUX=${1:?usage: crash-oracle.sh VMLINUX [DUMPDIR...]}
shift
[ -f "$VMLINUX" ] || { echo "crash-oracle: no $VMLINUX" >&2; exit 1; }
version=$("$CRASH" -v 2>/dev/null | sed -n 's/^crash \([0-9.]*\).*/\1/p' | head -1)
[ -n "$version" ] || { echo "crash-oracle: cannot run $CRASH" >&2; exit 1; }

dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
	for v in "$OUT"/*/vmcore; do dirs+=("$(dirname "$v")"); done
fi

# Each command's output in its own file: crash runs the script once, with a
# marker line between commands.
commands=(sys log bt "bt -a" "foreach UN bt" ps mod)
failed=0
for dir in "${dirs[@]}"; do
	dir=${dir%/}
	res=$dir/crash-$version
	mkdir -p "$res"
	script=$res/.script
	: >"$script"
	if [ -d "$OUT/modules" ]; then
		echo "mod -S $OUT/modules" >>"$script"
		echo "!echo ==== mod-S" >>"$script"
	fi
	for c in "${commands[@]}"; do
		printf '%s\n!echo ==== %s\n' "$c" "${c// /_}" >>"$script"
	done
	echo quit >>"$script"
	start=$(date +%s.%N)
	"$CRASH" -s "$VMLINUX" "$dir/vmcore" -i "$script" >"$res/.all" 2>"$res/stderr.txt" </dev/null
	rc=$?
	took=$(echo "$(date +%s.%N) - $start" | bc)
	# Split at the markers: what precedes "==== NAME" is NAME's output.
	python3 - "$res" "$res/.all" <<-'PY'
		import sys, re
		res, path = sys.argv[1], sys.argv[2]
		cur = []
		for line in open(path, errors="surrogateescape"):
		    m = re.match(r"^==== (\S+)$", line.rstrip("\n"))
		    if m:
		        if m.group(1) != "mod-S":
		            open(f"{res}/{m.group(1)}.txt", "w", errors="surrogateescape").write("".join(cur))
		        cur = []
		    else:
		        cur.append(line)
	PY
	rm -f "$script" "$res/.all"
	printf '%s\tcrash %s\t%.1fs\texit %d\n' "$(basename "$dir")" "$version" "$took" "$rc" | tee -a "$res/times.txt"
	[ $rc -eq 0 ] || failed=1
done
exit $failed
