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
browser() {
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --user-data-dir="$work/profile" --hide-scrollbars "$@" 2>> "$work/chromium.log" || {
    cat "$work/chromium.log" >&2
    exit 1
  }
}
browser --screenshot="$shot" --window-size=1280,1600 "file://$out"
echo "screenshot: $shot"

# The sorting script works: click the first table's Count heading twice in
# a copy of the page and read the first count after each click.
click='<script>var th = document.querySelector("table.sortable th"), first = function () {
  return document.querySelector("table.sortable tbody tr td").textContent; };
th.click(); document.body.dataset.asc = first(); th.click(); document.body.dataset.desc = first();</script>'
awk -v c="$click" '{sub("</body>", c "</body>")} 1' "$out" > "$work/sorted.html"
body="$(browser --dump-dom "file://$work/sorted.html" | grep -o '<body[^>]*>' || true)"
asc="$(sed -n 's/.*data-asc="\([0-9]*\)".*/\1/p' <<< "$body")"
desc="$(sed -n 's/.*data-desc="\([0-9]*\)".*/\1/p' <<< "$body")"
if [[ -z "$asc" || -z "$desc" ]] || ((asc > desc)); then
  echo "error: sorting the table by Count did not work (ascending first $asc, descending first $desc)" >&2
  exit 1
fi
echo "sorting: by Count ascending starts at $asc, descending at $desc"
