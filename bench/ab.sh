#!/usr/bin/env bash
# ab.sh OLD NEW — full triage time of two builds of ktriage on the same
# dumps, alternating runs in one go so both see the same machine, with the
# median of each and their ratio. A refactor must not cost speed.
#
#   bash bench/ab.sh 3734ab4 HEAD          # RUNS=11 by default
#   FLAGS="--vmlinux $HOME/.cache/ktriage/vmlinux-6.1.0-56-cloud-amd64" bash bench/ab.sh 3734ab4 HEAD
#                                          # with the debug vmlinux (default --no-debuginfo)
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: ab.sh OLD-REV NEW-REV}
new=${2:?usage: ab.sh OLD-REV NEW-REV}
runs=${RUNS:-11}
read -r -a flags <<<"${FLAGS:---no-debuginfo}"
out=$(mktemp -d)
export PATH="/usr/local/go/bin:$PATH"
for pair in "old:$old" "new:$new"; do
  name=${pair%%:*} rev=${pair#*:}
  git worktree add -q --detach "$out/src-$name" "$rev"
  (cd "$out/src-$name" && CGO_ENABLED=0 go build -o "$out/ktriage-$name" ./cmd/ktriage)
  git worktree remove --force "$out/src-$name"
done
dumps=(testdata/dumps/hung-kdump-zstd.vmcore testdata/dumps/sysrq-kdump-lzo.vmcore testdata/dumps/hung-qemu-kdump-zlib.vmcore)
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-34s %10s %10s %7s\n' dump "old ms" "new ms" "new/old"
for d in "${dumps[@]}"; do
  : >"$out/old.t"; : >"$out/new.t"
  for _ in 1 2; do "$out/ktriage-old" analyze "${flags[@]}" --format json "$d" >/dev/null 2>&1 || true; done # warm the page cache
  for ((i = 0; i < runs; i++)); do
    ms "$out/ktriage-old" analyze "${flags[@]}" --format json "$d" >>"$out/old.t"
    ms "$out/ktriage-new" analyze "${flags[@]}" --format json "$d" >>"$out/new.t"
  done
  o=$(median <"$out/old.t") n=$(median <"$out/new.t")
  printf '%-34s %10s %10s %7s\n' "$(basename "$d")" "$o" "$n" "$(awk -v o="$o" -v n="$n" 'BEGIN {printf "%.2f", n/o}')"
done
rm -rf "$out"
