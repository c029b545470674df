#!/bin/sh
# Records, beside each fixture of an older generation, the source line of
# every kernel frame ktriage's analyze reports when it reads the full debug
# vmlinux's DWARF: NAME.lines.txt, one "function+offset file:line" (or "?"
# where the DWARF has no line) a line, sorted. Module frames are left out:
# their lines come from the module's debug file, not the vmlinux. The tests
# (cmd/ktriage TestPackLinesAsRecorded) check that the debuginfo pack gives
# the same without the vmlinux. old-fixtures.sh runs it after cutting.
#
#   sh testdata/gen/fixture-lines.sh VMLINUX FIXTURE_DIR
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
vmlinux=${1:?usage: fixture-lines.sh VMLINUX FIXTURE_DIR}
here=$(cd "${2:?usage: fixture-lines.sh VMLINUX FIXTURE_DIR}" && pwd)
command -v jq >/dev/null || { echo "fixture-lines: needs jq" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$repo" && go build -o "$tmp/ktriage" ./cmd/ktriage)
for v in "$here"/*.vmcore; do
	name=${v%.vmcore}
	# A vmlinux of another build fails analyze's identity check: no file.
	KTRIAGE_CACHE=$tmp/cache "$tmp/ktriage" analyze --format json --vmlinux "$vmlinux" "$v" >"$tmp/a.json"
	jq -r '[.. | objects | select(has("function") and has("address") and (has("module") | not))
		| "\(.function)+\(.offset // 0) " + (if has("file") then "\(.file):\(.line)" else "?" end)] | unique[]' \
		"$tmp/a.json" >"$name.lines.txt"
	echo "$name.lines.txt: $(wc -l <"$name.lines.txt") frames"
done
