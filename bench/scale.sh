#!/usr/bin/env bash
# Does triage cost grow with the guest's memory? The same scenario (sysrq) crashed in a 16 GB and
# a 1 GB guest by testdata/gen/make-dumps.sh (KTRIAGE_GEN_GUEST=SIZE): an unfiltered QEMU ELF
# (dump-guest-memory paging=false: the file is as large as the guest) and an in-guest kdump
# (makedumpfile -l -d 31). For each pair it prints ktriage's --trace tables side by side (wall ms and
# KiB read per phase, big against small, and the ratio of KiB): without debuginfo on a first run
# (nodebug-first: no bitmap counts kept from an earlier run) and a rerun, and with the vmlinux
# indexed (warm); then bench/analyze.sh on each dump
# (ktriage against crash 8.0.2/8.0.6 and drgn 0.0.22/0.0.31: medians, peak RSS, the goal ratios).
#   bench/scale.sh          # measure the dumps already made
#   SCALE_PEERS=0 bench/scale.sh   # the --trace tables only
#   bench/scale.sh --make   # make them first (TCG: ~8 min for 16G, ~3 min for 1G; 17 GB of disk)
# The dumps are in ~/.cache/ktriage/guest-16G and guest-1G (KTRIAGE_SCALE_BIG/SMALL name others);
# delete the 16 GB ELF when done: rm -r ~/.cache/ktriage/guest-16G/sysrq-qemu-elf-16G.
set -euo pipefail
cd "$(dirname "$0")/.."
big="${KTRIAGE_SCALE_BIG:-16G}"
small="${KTRIAGE_SCALE_SMALL:-1G}"
if [[ ${1:-} == --make ]]; then
  for g in "$big" "$small"; do KTRIAGE_GEN_GUEST=$g nice -n 10 bash testdata/gen/make-dumps.sh sysrq; done
fi
vmlinux="${VMLINUX:-$(bash scripts/fetch-debug-vmlinux.sh)}"
bash bench/peers.sh >/dev/null
make -s build
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
export KTRIAGE_CACHE="$out/kcache"
kt="$PWD/bin/ktriage"
dir() { echo "$HOME/.cache/ktriage/guest-$1/sysrq-$2-$1/vmcore"; }

# trace MODE DUMP > table: phase<TAB>wall ms<TAB>KiB (the --trace table's columns).
trace() {
  local mode=(--no-debuginfo)
  [[ $1 == warm ]] && mode=(--vmlinux "$vmlinux")
  "$kt" analyze --trace --format json "${mode[@]}" "$2" </dev/null 2>&1 >/dev/null |
    awk 'NR > 1 && NF >= 3 { kib = $NF; ms = $(NF-1); n = NF - 3; if ($1 == "total") n = 1;
         name = $1; for (i = 2; i <= n; i++) name = name " " $i; print name "\t" ms "\t" kib }'
}

for fmt in qemu-elf kdump-lzo; do
  b="$(dir "$big" "$fmt")"; s="$(dir "$small" "$fmt")"
  [[ -f $b && -f $s ]] || { echo "no $b or $s: run bench/scale.sh --make" >&2; continue; }
  # Fill the index (the build's names, the vmlinux's DWARF index): both guests run the same build.
  "$kt" analyze --format json --no-debuginfo "$s" </dev/null >/dev/null 2>&1 || true
  "$kt" analyze --format json --vmlinux "$vmlinux" "$s" </dev/null >/dev/null 2>&1 || true
  for mode in nodebug-first nodebug warm; do
    echo "== $fmt, $mode: $big guest ($(stat -c %s "$b") bytes) against $small guest ($(stat -c %s "$s") bytes), load $(cut -d' ' -f1-3 /proc/loadavg)"
    # A first run finds no counts of dumped pages kept (the bitmaps a rerun does not read whole).
    [[ $mode == nodebug-first ]] && rm -rf "$KTRIAGE_CACHE/bitmaps"
    trace "$mode" "$b" > "$out/big.tsv"; trace "$mode" "$s" > "$out/small.tsv"
    printf '  %-26s %10s %10s %12s %12s %8s\n' phase "ms $big" "ms $small" "KiB $big" "KiB $small" "KiB x"
    awk -F'\t' 'NR == FNR { ms[$1] = $2; kib[$1] = $3; next }
      { r = (kib[$1] + 0 > 0 && $3 != "-") ? sprintf("%.2f", $3 / kib[$1]) : "-";
        printf "  %-26s %10s %10s %12s %12s %8s\n", $1, $2, ms[$1], $3, kib[$1], r }' "$out/small.tsv" "$out/big.tsv"
  done
done
[[ ${SCALE_PEERS:-1} == 1 ]] || exit 0
for fmt in qemu-elf kdump-lzo; do
  for g in "$big" "$small"; do
    f="$(dir "$g" "$fmt")"
    # analyze.sh finds the vmlinux and the peers in the user's cache, and keeps a ktriage cache of its own.
    [[ -f $f ]] && env -u KTRIAGE_CACHE VMLINUX="$vmlinux" bash bench/analyze.sh "$f"
  done
done
