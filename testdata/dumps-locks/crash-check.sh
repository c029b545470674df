#!/bin/bash
# Checks ktriage's hang chains on FULL (uncut) lock dumps against crash: the
# cut fixtures in this folder hold only the pages ktriage reads, so crash
# cannot open them. Regenerate the full dumps with testdata/gen/make-dumps.sh
# (see make.sh) and pass their vmcores:
#
#   CRASH=~/.cache/ktriage/peers/bin/crash-8.0.6 \
#   VMLINUX=~/.cache/ktriage/vmlinux-6.1.0-56-cloud-amd64 \
#   bash testdata/dumps-locks/crash-check.sh OUT/lock-hold-qemu-kdump-zlib/vmcore ...
#
# For each dump: `ktriage analyze --format json` gives every D task and, in
# blocked_tasks[].waits_on, the mutex or rw_semaphore it waits for and the
# owner ktriage found. crash then reads each lock's owner field
# (`struct mutex.owner`, `struct rw_semaphore.owner`, low 3 flag bits
# cleared) and maps it to a pid with `ps`; the pids must agree. Each D task
# and each owner is unwound by crash (`bt PID`) and by `ktriage bt --pid`,
# compared frame by frame (function name and module tag; stack slot and
# address are counted apart), and the owner's stack in analyze's chain is
# compared with crash's bt of that owner. Prints one line per difference and
# a summary; exits 1 if anything differs.
set -euo pipefail
crash=${CRASH:-$HOME/.cache/ktriage/peers/bin/crash-8.0.6}
vmlinux=${VMLINUX:-$HOME/.cache/ktriage/vmlinux-6.1.0-56-cloud-amd64}
[ $# -gt 0 ] || { echo "usage: $0 VMCORE..." >&2; exit 2; }
[ -x "$crash" ] || { echo "crash-check: no crash at $crash (bench/peers.sh makes it; or set CRASH)" >&2; exit 2; }
[ -r "$vmlinux" ] || { echo "crash-check: no debug vmlinux at $vmlinux (set VMLINUX)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
ktriage=${KTRIAGE:-$tmp/ktriage}
[ -n "${KTRIAGE:-}" ] || (cd "$repo" && go build -o "$ktriage" ./cmd/ktriage)

# frames FILE: one line per bt frame, "SP FUNC ADDR [MODULE]", from crash's
# or ktriage's text bt (the same layout).
frames() {
	sed -nE 's/^ *#[0-9]+ \[([0-9a-f]+)\] (\S+) at ([0-9a-f]+)( \[(\S+)\])?.*/\1 \2 \3 \5/p' "$1"
}

bad=0 tasks=0 tasks_equal=0 nframes=0 frames_equal=0 slots_equal=0 locks=0 owners_equal=0 chains=0 chains_equal=0
for dump in "$@"; do
	name=$(basename "$(dirname "$dump")")
	echo "== $name ($dump)"
	"$ktriage" analyze --format json --no-debuginfo "$dump" >"$tmp/a.json"
	# waiter pid, lock kind, lock address, symbol, owner pid
	jq -r '.blocked_tasks[] | select(.waits_on.owner != null and (.waits_on.kind == "mutex" or .waits_on.kind == "rw_semaphore"))
		| "\(.pid) \(.waits_on.kind) \(.waits_on.lock) \(.waits_on.owner.pid) \(.waits_on.symbol // "-" | gsub(" "; "_"))"' \
		"$tmp/a.json" >"$tmp/waits"
	jq -r '.findings[] | select(.id == "hung-task-lock") | "finding: " + .title' "$tmp/a.json"
	while read -r w kind lock owner sym; do echo "chain: pid $w waits for $kind $sym at $lock, held by pid $owner"; done <"$tmp/waits"
	# Waits ktriage follows elsewhere (a frozen mount's percpu_rw_semaphore): shown, not checked here.
	jq -r '.blocked_tasks[] | select(.waits_on != null and .waits_on.kind != "mutex" and .waits_on.kind != "rw_semaphore")
		| "chain: pid \(.pid) waits for \(.waits_on.kind) at \(.waits_on.lock)\(if .waits_on.mount then ", mount " + .waits_on.mount else "" end) (not checked against crash)"' "$tmp/a.json"
	pids=$( { jq -r '.blocked_tasks[].pid' "$tmp/a.json"; awk '{print $4}' "$tmp/waits"; } | sort -nu)

	awk '{print $3, $2}' "$tmp/waits" | sort -u >"$tmp/locks"
	{
		echo "ps"
		while read -r lock kind; do
			if [ "$kind" = mutex ]; then echo "struct mutex.owner $lock"; else echo "struct rw_semaphore.owner $lock"; fi
		done <"$tmp/locks"
		for p in $pids; do echo "bt $p"; done
		echo quit
	} >"$tmp/cmds"
	"$crash" -s -i "$tmp/cmds" "$vmlinux" "$dump" </dev/null 2>&1 | cat >"$tmp/crash.out"

	# crash's owner of each lock: the owner field's counter with its flag bits
	# cleared, mapped to a pid through crash's ps (PID PPID CPU TASK ...).
	awk '{sub(/^>/, "")} $1 ~ /^[0-9]+$/ && length($4) == 16 && $4 ~ /^[0-9a-f]+$/ {print $4, $1}' "$tmp/crash.out" >"$tmp/ps"
	# crash prints its output in command order (its `echo` is not: no markers),
	# so the n-th "counter =" is the n-th lock's.
	awk '/counter = /{gsub(/[^-0-9]/, "", $3); print $3}' "$tmp/crash.out" | paste -d' ' "$tmp/locks" - >"$tmp/owners"
	awk '{print $3, $4}' "$tmp/waits" | sort -u | while read -r lock kpid; do
		counter=$(awk -v l="$lock" '$1 "" == l "" {print $3}' "$tmp/owners")
		task=$(printf '%016x' $(( counter & ~7 )))
		cpid=$(awk -v t="$task" '$1 "" == t "" {print $2}' "$tmp/ps")
		echo "lock $lock: crash owner field $counter -> task $task -> pid ${cpid:-?}; ktriage pid $kpid"
		echo "$lock $cpid $kpid" >>"$tmp/lockresult"
	done
	# Split crash's bt output per pid.
	awk -v d="$tmp" '/^PID: /{f=d "/crash-bt-" $2; printf "" > f} /^[A-Z]/ && !/^PID: /{f=""} f {print >> f}' "$tmp/crash.out"

	for p in $pids; do
		"$ktriage" bt --no-debuginfo --pid "$p" "$dump" >"$tmp/k" 2>&1 || true
		frames "$tmp/k" >"$tmp/kf"
		frames "$tmp/crash-bt-$p" >"$tmp/cf" 2>/dev/null || true
		n=$(wc -l <"$tmp/cf")
		[ "$n" -gt 0 ] || { echo "pid $p: crash printed no frames"; bad=1; }
		eq=$(paste -d'|' "$tmp/kf" "$tmp/cf" | awk -F'|' '{split($1,k," "); split($2,c," "); if (k[2]==c[2] && k[4]==c[4]) n++} END {print n+0}')
		slots=$(paste -d'|' "$tmp/kf" "$tmp/cf" | awk -F'|' '$1 == $2 {n++} END {print n+0}')
		tasks=$((tasks + 1)) nframes=$((nframes + n)) frames_equal=$((frames_equal + eq)) slots_equal=$((slots_equal + slots))
		if [ "$eq" -eq "$n" ] && [ "$(wc -l <"$tmp/kf")" -eq "$n" ]; then
			tasks_equal=$((tasks_equal + 1))
			echo "pid $p: $n frames equal ($slots with the same stack slot and address): $(awk '{print $2 ($4 != "" ? "[" $4 "]" : "")}' "$tmp/cf" | paste -sd' ')"
		else
			bad=1
			echo "pid $p: DIFFERS ($eq of $n crash frames equal)"
			diff <(awk '{print $2, $4}' "$tmp/kf") <(awk '{print $2, $4}' "$tmp/cf") | sed 's/^/  ktriage< >crash /' || true
		fi
	done

	# The owner's stack as analyze's chain gives it, against crash's bt of the owner.
	while read -r w kind lock owner sym; do
		chains=$((chains + 1))
		got=$(jq -r --argjson w "$w" '.blocked_tasks[] | select(.pid == $w) | .waits_on.owner.backtrace[] | .function + " " + (.module // "")' "$tmp/a.json")
		want=$(frames "$tmp/crash-bt-$owner" | awk '{print $2, $4}')
		if [ "$got" = "$want" ]; then
			chains_equal=$((chains_equal + 1))
		else
			bad=1
			echo "chain of pid $w: owner $owner's stack in analyze differs from crash's bt $owner:"
			diff <(echo "$got") <(echo "$want") | sed 's/^/  analyze< >crash /' || true
		fi
	done <"$tmp/waits"
done

if [ -s "$tmp/lockresult" ]; then
	locks=$(wc -l <"$tmp/lockresult")
	owners_equal=$(awk '$2 == $3' "$tmp/lockresult" | wc -l)
	[ "$owners_equal" -eq "$locks" ] || bad=1
fi
echo "summary: locks $owners_equal/$locks owner pid equal to crash's; tasks $tasks_equal/$tasks bt equal;" \
	"frames $frames_equal/$nframes equal by function and module ($slots_equal with the same stack slot and address);" \
	"chains $chains_equal/$chains with the owner's stack equal to crash's bt"
exit $bad
