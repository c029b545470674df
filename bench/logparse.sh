#!/usr/bin/env bash
# Text-log parsing throughput: a large log — a real console log's boot
# messages repeated to SIZE_MB, then the whole log with its crash report —
# streamed through `ktriage parse-log`, in MB/s and peak RSS, beside
# `grep -c` over the same file as the floor a pass over the bytes costs.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${SIZE_MB:-256}"
src="${1:-testdata/logs/gen/oops-null.console.log}"
[[ -f $src ]] || src=testdata/logs/seed-hung-task-messages.log
make -s build
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
big="$tmp/big.log"
head -n 300 "$src" > "$tmp/boot.log"
for _ in $(seq 16); do cat "$tmp/boot.log"; done > "$tmp/chunk.log"
while [[ $(stat -c %s "$big" 2>/dev/null || echo 0) -lt $((size_mb << 20)) ]]; do cat "$tmp/chunk.log" >> "$big"; done
cat "$src" >> "$big"
bytes=$(stat -c %s "$big")
/usr/bin/time -f "%e %M" ./bin/ktriage parse-log "$big" >/dev/null 2>"$tmp/t" || true
read -r secs rss < <(tail -1 "$tmp/t")
s2=$( { /usr/bin/time -f "%e" grep -c "Call Trace" "$big" >/dev/null; } 2>&1 | tail -1)
[[ $s2 == 0.00 ]] && s2=0.01
printf 'log %d MB: ktriage parse-log %.1f s = %.1f MB/s, peak RSS %d KB; grep -c %.1f s = %.1f MB/s\n' \
  $((bytes >> 20)) "$secs" "$(echo "$bytes / 1048576 / $secs" | bc -l)" "$rss" "$s2" "$(echo "$bytes / 1048576 / $s2" | bc -l)"
