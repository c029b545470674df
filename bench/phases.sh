#!/usr/bin/env bash
# Where ktriage analyze spends its time, phase by phase (its --trace table: wall ms and KiB read per
# phase, "beside" phases run on another core), on every corpus dump or the dumps named:
# without debuginfo (kallsyms and BTF from the dump), first with the index cache emptied (cold: the
# build's names decoded) then warm, and with the debug vmlinux, its index cached (warm). Untimed runs
# first fill a KTRIAGE_CACHE of this script's own.
#   bench/phases.sh                  # every dump under ../shared/corpus/dumps
#   bench/phases.sh DUMP [DUMP...]   # these (a split dump: give its folder's vmcore.1; the rest are found)
#   RUNS=3 bench/phases.sh           # each table RUNS times (the machine is shared: look at the spread)
# Needs: ../shared/corpus, the debug vmlinux (scripts/fetch-debug-vmlinux.sh), zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-1}"
vmlinux="${VMLINUX:-$(bash scripts/fetch-debug-vmlinux.sh)}"
make -s build
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
export KTRIAGE_CACHE="$out/kcache"
kt="$PWD/bin/ktriage"

# The files of one dump: a split dump's parts, an ELF unpacked from .zst (as bench/analyze.sh does).
files_of() {
  local p=$1 d
  d="$(dirname "$p")"
  case "$p" in
    *.1) ls "${p%.1}".[0-9]* | sort -V | tr '\n' ' ' ;;
    *.zst) zstd -q -d -f "$p" -o "$out/$(basename "$d").vmcore" && echo "$out/$(basename "$d").vmcore" ;;
    *) echo "$p" ;;
  esac
}

dumps=("$@")
if [[ ${#dumps[@]} -eq 0 ]]; then
  for d in ../shared/corpus/dumps/*/; do
    for f in vmcore vmcore.1 vmcore.zst; do [[ -f $d$f ]] && { dumps+=("$d$f"); break; }; done
  done
fi
for p in "${dumps[@]}"; do
  files="$(files_of "$p")"
  for ((i = 1; i <= runs; i++)); do
    for mode in no-debuginfo-cold no-debuginfo vmlinux-warm; do
      case $mode in
        no-debuginfo-cold) rm -rf "$KTRIAGE_CACHE/index"; set -- --no-debuginfo ;;
        no-debuginfo) set -- --no-debuginfo ;;
        vmlinux-warm) "$kt" analyze --format json --vmlinux "$vmlinux" $files </dev/null >/dev/null 2>&1 || true
          set -- --vmlinux "$vmlinux" ;;
      esac
      echo "== $p: $mode (run $i/$runs, load $(cut -d' ' -f1-3 /proc/loadavg))"
      # shellcheck disable=SC2086
      "$kt" analyze --trace --format json "$@" $files </dev/null 2>&1 >/dev/null | grep -v '^$' || echo "(ktriage failed)"
    done
  done
done
