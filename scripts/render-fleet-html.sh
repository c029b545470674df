#!/usr/bin/env bash
# Render the HTML fleet report in headless Chromium and save a screenshot,
# to check the page draws (tables, charts) without any external asset.
#
#   bash scripts/render-fleet-html.sh [DIR...]
#
# Without DIR it builds a demo tree: the 32-dump tree of bench/fleet.sh (needs
# ../shared/corpus), the project's text logs with spread-out dates, a
# truncated dump and a file named vmcore that is none. Writes
# ${OUT:-/tmp/fleet.html} and ${SCREENSHOT:-/tmp/fleet.png}.
# Needs chromium (apt-get install -y chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
out="${OUT:-/tmp/fleet.html}"
shot="${SCREENSHOT:-/tmp/fleet.png}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

go build -o "$work/ktriage" ./cmd/ktriage
dirs=("$@")
if ((${#dirs[@]} == 0)); then
  demo="$work/crash"
  mkdir -p "$demo/logs"
  bash bench/fleet.sh tree "$demo" || echo "no corpus: the demo holds only the project's logs" >&2
  i=0
  for log in testdata/logs/*.log testdata/logs/gen/*.log; do
    [[ -f "$log" && "$log" != *seed-hung-task.log ]] || continue
    cp "$log" "$demo/logs/"
    touch -d "2026-11-$(printf '%02d' $((1 + (i * 5) % 27))) 12:00 UTC" "$demo/logs/$(basename "$log")"
    i=$((i + 1))
  done
  first="$(ls -d /work/shared/corpus/dumps/sysrq-kdump-zlib 2>/dev/null || ls -d ../shared/corpus/dumps/sysrq-kdump-zlib 2>/dev/null || true)"
  if [[ -n "$first" ]]; then
    mkdir -p "$demo/10.2.0.9-2026-11-26-08:00:00"
    head -c 65536 "$first/vmcore" > "$demo/10.2.0.9-2026-11-26-08:00:00/vmcore"
    cp "$first/vmcore-dmesg.txt" "$demo/10.2.0.9-2026-11-26-08:00:00/"
  fi
  mkdir -p "$demo/10.2.0.7-2026-11-24-03:00:00"
  echo "not a dump <script>alert(1)</script>" > "$demo/10.2.0.7-2026-11-24-03:00:00/vmcore"
  dirs=("$demo")
fi

"$work/ktriage" fleet "${dirs[@]}" --no-store --no-system-debuginfo --format html -o "$out" || true
echo "report: $out ($(wc -c < "$out") bytes)"
if grep -Eq '(src|href)="https?:' "$out"; then
  echo "error: the report loads an external asset" >&2
  exit 1
fi
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$work/profile" --hide-scrollbars \
  --screenshot="$shot" --window-size=1280,1600 "file://$out" 2> "$work/chromium.log" || {
  cat "$work/chromium.log" >&2
  exit 1
}
echo "screenshot: $shot"
