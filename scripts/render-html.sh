#!/usr/bin/env bash
# Render ktriage's HTML report in headless Chromium and save a screenshot,
# to look at the report as a person would.
#
#   scripts/render-html.sh INPUT [OUT.png] [WIDTHxHEIGHT]
#
# INPUT is anything `ktriage analyze` reads (a log, a dump, a kdump
# directory) or an already rendered .html report. Needs Debian's chromium
# (apt-get install -y chromium); the page is loaded from a file:// URL with
# networking features off, as the report must need nothing from outside.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 INPUT [OUT.png] [WIDTHxHEIGHT]" >&2
  exit 2
fi
input=$1
out=${2:-ktriage-report.png}
size=${3:-1280x2000}
root=$(cd "$(dirname "$0")/.." && pwd)

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "$0: chromium not found; install it with: apt-get install -y chromium" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ $input == *.html ]]; then
  html=$(cd "$(dirname "$input")" && pwd)/$(basename "$input")
else
  go build -o "$work/ktriage" "$root/cmd/ktriage"
  html=$work/report.html
  "$work/ktriage" analyze --format html -o "$html" "$input"
fi

"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size="${size/x/,}" \
  --screenshot="$work/shot.png" "file://$html" >"$work/chromium.log" 2>&1 || {
    cat "$work/chromium.log" >&2
    exit 1
  }
mv "$work/shot.png" "$out"
echo "screenshot: $out"
