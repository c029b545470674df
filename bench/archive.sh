#!/usr/bin/env bash
# Archived cores: what opening a compressed dump costs the first time
# (decompressed into the cache) and every time after (the cache reused),
# against the plain dump, for zstd, gzip and xz and a tar.zst of the kdump
# folder. Medians of RUNS runs of `analyze --format json --no-debuginfo`;
# the first-run figure empties the cache before each run.
# Needs: ../shared/corpus (or give a dump as $1), zstd, gzip, xz, tar.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"
dump="${1:-../shared/corpus/dumps/sysrq-kdump-zlib/vmcore}"
make -s build
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
export KTRIAGE_CACHE="$work/cache"
cp "$dump" "$work/vmcore"
zstd -q -o "$work/vmcore.zst" "$work/vmcore"
gzip -k "$work/vmcore"
xz -k "$work/vmcore"
mkdir -p "$work/folder/127.0.0.1-2026-11-20-10:23:45"
cp "$work/vmcore" "$work/folder/127.0.0.1-2026-11-20-10:23:45/vmcore"
tar -C "$work/folder" --zstd -cf "$work/crash.tar.zst" .
ls -l "$work"/vmcore* "$work/crash.tar.zst" | awk '{printf "%12d bytes  %s\n", $5, $NF}'
# median seconds of $runs runs of "$@"; PREPARE is run before each.
median() {
  local ts=()
  for _ in $(seq "$runs"); do
    [[ -n ${PREPARE:-} ]] && eval "$PREPARE"
    local a b; a=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    b=$(date +%s.%N); ts+=("$(echo "$b - $a" | bc -l)")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
k=(./bin/ktriage analyze --format json --no-debuginfo)
printf '%-16s %12s %12s\n' input first_s reused_s
printf '%-16s %12s %12.3f\n' vmcore - "$(median "${k[@]}" "$work/vmcore")"
for f in vmcore.zst vmcore.gz vmcore.xz crash.tar.zst; do
  first=$(PREPARE="rm -rf $KTRIAGE_CACHE" median "${k[@]}" "$work/$f")
  reused=$(median "${k[@]}" "$work/$f")
  printf '%-16s %12.3f %12.3f\n' "$f" "$first" "$reused"
done
