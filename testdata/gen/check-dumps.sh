#!/bin/bash
# check-dumps.sh: confirm that each dump under /work/gen-out holds the crash its
# scenario was meant to cause, by reading the kernel log back out of the dump.
#
#   testdata/gen/check-dumps.sh [--crash] [DUMPDIR...]    default: every $KTRIAGE_GEN_OUT/*/vmcore
#
# kdump-compressed dumps are read with makedumpfile --dump-dmesg (flattened ones after
# makedumpfile -R) and compared with the log the capture kernel saved. QEMU's dumps
# need crash and the debug vmlinux (scripts/fetch-debug-vmlinux.sh); with --crash every
# dump is also opened in crash and its panic task's backtrace checked.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
RELEASE=${KTRIAGE_GEN_RELEASE:-6.1.0-56-cloud-amd64}
OUT=${KTRIAGE_GEN_OUT:-/work/gen-out}
VMLINUX=${KTRIAGE_VMLINUX:-$HOME/.cache/ktriage/vmlinux-$RELEASE}
use_crash=0
if [ "${1:-}" = --crash ]; then use_crash=1; shift; fi

# What the kernel log of each scenario must say.
log_signature() {
	case "$1" in
	sysrq) echo 'sysrq triggered crash' ;;
	hung) echo 'INFO: task .* blocked for more than 10 seconds' ;;
	oops-null) echo 'RIP: 0010:ktriage_widget_account_hit' ;;
	bug) echo 'kernel BUG at ktriage_crash/ktriage_crash.c' ;;
	softlockup) echo 'watchdog: BUG: soft lockup - CPU#' ;;
	oom) echo 'Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled' ;;
	warn-panic) echo 'Kernel panic - not syncing: kernel: panic_on_warn set' ;;
	esac
}

# A function crash's "bt" of the panic task must show.
bt_signature() {
	case "$1" in
	sysrq) echo sysrq_handle_crash ;;
	hung) echo 'COMMAND: "khungtaskd"' ;;
	oops-null) echo 'exception RIP: ktriage_widget_account_hit' ;;
	bug) echo 'exception RIP: ktriage_queue_check_invariants' ;;
	softlockup) echo 'watchdog_timer_fn' ;;
	oom) echo 'out_of_memory' ;;
	warn-panic) echo 'ktriage_widget_state_warn' ;;
	esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checked=0

check_one() {
	local dir=${1%/} name scenario sig dmesg=$tmp/dmesg.txt verdict=ok detail=
	name=$(basename "$dir")
	scenario=$(sed -n 's/^scenario: //p' "$dir/gen.txt" 2>/dev/null)
	sig=$(log_signature "$scenario")
	[ -n "$sig" ] || { echo "SKIP $name: no scenario in gen.txt"; return; }
	rm -f "$dmesg"
	case "$name" in
	*-qemu-*) ;;
	*-flat-*)
		makedumpfile -R "$tmp/restored" <"$dir/vmcore" >/dev/null 2>&1 &&
			makedumpfile --dump-dmesg "$tmp/restored" "$dmesg" >/dev/null 2>&1
		rm -f "$tmp/restored"
		;;
	*) makedumpfile --dump-dmesg "$dir/vmcore" "$dmesg" >/dev/null 2>&1 ;;
	esac
	if [ -s "$dmesg" ] && [ -f "$dir/dmesg.makedumpfile.txt" ] && ! cmp -s "$dmesg" "$dir/dmesg.makedumpfile.txt"; then
		verdict=FAIL
		detail="dmesg differs from the capture kernel's"
	fi
	if [ $use_crash = 1 ] || { [ ! -s "$dmesg" ] && [ -f "$VMLINUX" ]; }; then
		printf 'log\nbt\nquit\n' >"$tmp/cmds"
		timeout 300 crash -s "$VMLINUX" "$dir/vmcore" -i "$tmp/cmds" >"$tmp/crash.txt" 2>&1
		[ -s "$dmesg" ] || cp "$tmp/crash.txt" "$dmesg"
		if ! grep -q "$(bt_signature "$scenario")" "$tmp/crash.txt"; then
			verdict=FAIL
			detail="$detail crash bt lacks '$(bt_signature "$scenario")'"
		fi
	fi
	if [ ! -s "$dmesg" ]; then
		echo "SKIP $name: QEMU dump needs crash and $VMLINUX"
		return
	fi
	if ! grep -q "$sig" "$dmesg"; then
		verdict=FAIL
		detail="$detail log lacks '$sig'"
	fi
	checked=$((checked + 1))
	if [ $verdict = ok ]; then
		echo "ok   $name: $(grep -m1 -o "$sig.*" "$dmesg" | cut -c1-90)"
	else
		failures=$((failures + 1))
		echo "FAIL $name:$detail"
	fi
}

if [ $# -eq 0 ]; then
	set -- "$OUT"/*/
fi
for d in "$@"; do
	[ -f "$d/vmcore" ] && check_one "$d"
done
echo "$checked checked, $failures failed"
[ $failures -eq 0 ]
