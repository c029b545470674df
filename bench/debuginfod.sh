#!/usr/bin/env bash
# debuginfod in one run, alternating so both sides see the same machine:
#  1. fetching the corpus kernel's debug vmlinux (590 MB) from one
#     debuginfod: `ktriage debuginfo ID` against elfutils' `debuginfod-find
#     debuginfo ID`, each into an empty cache, the server warm (it has
#     extracted the file from the .deb once, which the first request pays);
#  2. time to the report of a BTF kernel (a corpus dump, no vmlinux on the
#     machine) with DEBUGINFOD_URLS set and unset: it must not fetch.
# Medians of RUNS (5) and the ratios. Uses the server of
# KTRIAGE_TEST_DEBUGINFOD_URL, else starts one (scripts/start-debuginfod.sh)
# on the .deb kept by scripts/fetch-debug-vmlinux.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"
dump="${1:-../shared/corpus/dumps/hung-kdump-zstd/vmcore}"
id=3b43fad5034874490492495d552c0af6a5fab235
make -s build
out="$(mktemp -d)"
cleanup() {
  rm -rf "$out"
  [[ -n "${started:-}" ]] && bash scripts/start-debuginfod.sh stop "$KTRIAGE_TEST_DEBUGINFOD_DATA"
  return 0
}
trap cleanup EXIT
if [[ -z "${KTRIAGE_TEST_DEBUGINFOD_URL:-}" ]]; then
  bash scripts/fetch-debug-vmlinux.sh > /dev/null
  eval "$(bash scripts/start-debuginfod.sh "${KTRIAGE_CACHE:-$HOME/.cache/ktriage}/debs")"
  started=1
fi
url="$KTRIAGE_TEST_DEBUGINFOD_URL"
ms() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# Warm the server: its first answer extracts the file from the .deb.
t=$(DEBUGINFOD_URLS="$url" DEBUGINFOD_CACHE_PATH="$out/warm" ms debuginfod-find debuginfo "$id")
echo "first request of this run (a new server extracts the file from the .deb first): $t ms"
rm -rf "$out/warm"
: > "$out/kt.t"; : > "$out/df.t"
for ((i = 0; i < runs; i++)); do
  DEBUGINFOD_URLS="$url" DEBUGINFOD_CACHE_PATH="$out/c" ms ./bin/ktriage debuginfo "$id" >> "$out/kt.t"
  cmp -s "$out/c/$id/debuginfo" "${KTRIAGE_CACHE:-$HOME/.cache/ktriage}/vmlinux-6.1.0-56-cloud-amd64" || echo "warning: ktriage's copy differs from the local vmlinux" >&2
  rm -rf "$out/c"
  DEBUGINFOD_URLS="$url" DEBUGINFOD_CACHE_PATH="$out/c" ms debuginfod-find debuginfo "$id" >> "$out/df.t"
  rm -rf "$out/c"
done
kt=$(median < "$out/kt.t") df=$(median < "$out/df.t")
printf 'fetch 590 MB: ktriage %s ms, debuginfod-find %s ms (median of %s), ktriage/debuginfod-find %s\n' "$kt" "$df" "$runs" "$(ratio "$kt" "$df")"

# A BTF kernel with no vmlinux on the machine: an empty ktriage cache.
mkdir -p "$out/empty"
: > "$out/with.t"; : > "$out/without.t"
for _ in 1 2; do KTRIAGE_CACHE="$out/empty" ./bin/ktriage analyze --format json "$dump" > /dev/null 2>&1; done
for ((i = 0; i < runs; i++)); do
  KTRIAGE_CACHE="$out/empty" DEBUGINFOD_URLS="$url" DEBUGINFOD_CACHE_PATH="$out/d" ms ./bin/ktriage analyze --format json "$dump" >> "$out/with.t"
  KTRIAGE_CACHE="$out/empty" ms env -u DEBUGINFOD_URLS ./bin/ktriage analyze --format json "$dump" >> "$out/without.t"
done
[[ -e "$out/d/$id/debuginfo" ]] && echo "warning: the BTF run fetched the vmlinux" >&2
w=$(median < "$out/with.t") wo=$(median < "$out/without.t")
printf 'BTF kernel to report: with DEBUGINFOD_URLS %s ms, without %s ms (median of %s), with/without %s\n' "$w" "$wo" "$runs" "$(ratio "$w" "$wo")"
