#!/usr/bin/env bash
# Text-log parsing throughput: a large log — a real console log's boot
# messages repeated to SIZE_MB, then the whole log with its crash report —
# streamed through `ktriage parse-log`, in MB/s and peak RSS, beside
# `grep -c` over the same file as the floor a pass over the bytes costs.
#
# BASELINE=/path/to/an/older/ktriage runs that binary on the same log in
# the same run, alternating ROUNDS times (default 3), and prints the
# ratio of the medians: a speed comparison that does not depend on what
# else the machine was doing that day.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${SIZE_MB:-256}"
rounds="${ROUNDS:-3}"
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
mb() { echo "$bytes / 1048576 / $1" | bc -l; }
# run BIN: prints "seconds peak-RSS-KB" of one parse-log of the big log.
run() {
  /usr/bin/time -f "%e %M" "$1" parse-log "$big" >/dev/null 2>"$tmp/t" || true
  tail -1 "$tmp/t"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
if [[ -z ${BASELINE:-} ]]; then
  read -r secs rss < <(run ./bin/ktriage)
else
  : > "$tmp/new"; : > "$tmp/old"
  for _ in $(seq "$rounds"); do
    run ./bin/ktriage >> "$tmp/new"
    run "$BASELINE" >> "$tmp/old"
  done
  secs=$(cut -d' ' -f1 "$tmp/new" | median); rss=$(cut -d' ' -f2 "$tmp/new" | median)
  osecs=$(cut -d' ' -f1 "$tmp/old" | median); orss=$(cut -d' ' -f2 "$tmp/old" | median)
fi
s2=$( { /usr/bin/time -f "%e" grep -c "Call Trace" "$big" >/dev/null; } 2>&1 | tail -1)
[[ $s2 == 0.00 ]] && s2=0.01
printf 'log %d MB: ktriage parse-log %.1f s = %.1f MB/s, peak RSS %d KB; grep -c %.1f s = %.1f MB/s\n' \
  $((bytes >> 20)) "$secs" "$(mb "$secs")" "$rss" "$s2" "$(mb "$s2")"
if [[ -n ${BASELINE:-} ]]; then
  printf 'baseline %s: %.1f s = %.1f MB/s, peak RSS %d KB; medians of %d alternating runs: speed ratio (baseline time / this time) %.2f, RSS ratio %.2f\n' \
    "$BASELINE" "$osecs" "$(mb "$osecs")" "$orss" "$rounds" "$(echo "$osecs / $secs" | bc -l)" "$(echo "$rss / $orss" | bc -l)"
fi
