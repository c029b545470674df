#!/usr/bin/env bash
# Where `ktriage dmesg`'s time goes before it reads a byte of the dump. On the
# corpus ELF dump (the one dump where the fastest C tool, vmcore-dmesg, takes
# under 2 ms), it runs side by side, in one hyperfine run:
#   floor     a static Go hello world (bench/startup/floor)
#   xz, zstd  the floor with one decompression library linked (their package
#             initialisation builds CRC tables at every start)
#   logonly   the dump reader and log decoder alone (bench/startup/logonly)
#   ktriage   ktriage dmesg
#   vmcore-dmesg, the fastest C tool on ELF dumps
# and prints min and median wall ms, page faults (perf stat, when perf works)
# and user-space instructions (valgrind's callgrind, when installed).
# Needs: ../shared/corpus (or DUMP=FILE), hyperfine, jq, zstd; kexec-tools for vmcore-dmesg.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-60}"
make -s build
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
for p in floor xz zstd logonly; do CGO_ENABLED=0 go build -o "$out/$p" "./bench/startup/$p"; done
dump="${DUMP:-}"
if [[ -z $dump ]]; then
  cache="${KTRIAGE_CACHE:-$HOME/.cache/ktriage}/corpus"
  mkdir -p "$cache"
  dump="$cache/sysrq-elf.vmcore"
  [[ -s $dump ]] || zstd -q -d -o "$dump" ../shared/corpus/dumps/sysrq-elf/vmcore.zst
fi
names=(floor xz zstd logonly ktriage)
cmds=("$out/floor" "$out/xz" "$out/zstd" "$out/logonly $dump" "./bin/ktriage dmesg $dump")
if vmcore-dmesg "$dump" >/dev/null 2>&1; then names+=(vmcore-dmesg); cmds+=("vmcore-dmesg $dump"); fi
hyperfine -N -w 5 -r "$runs" --export-json "$out/r.json" "${cmds[@]}" >/dev/null 2>&1
printf '%-13s %8s %10s %8s %14s\n' program min_ms median_ms faults instructions
for i in "${!names[@]}"; do
  min=$(jq -r ".results[$i].min * 1000 | . * 100 | round / 100" "$out/r.json")
  med=$(jq -r ".results[$i].median * 1000 | . * 100 | round / 100" "$out/r.json")
  faults=-; ins=-
  if perf stat -e page-faults true >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    faults=$(perf stat -x, -r 20 -e page-faults ${cmds[$i]} 2>&1 >/dev/null | awk -F, '/page-faults/ {print $1}')
  fi
  if command -v valgrind >/dev/null && [[ ${names[$i]} != vmcore-dmesg ]]; then
    # Asynchronous preemption's signals upset callgrind; they do not change the count.
    # shellcheck disable=SC2086
    ins=$(GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null ${cmds[$i]} 2>&1 >/dev/null |
      awk '/I *refs:/ {gsub(",", "", $NF); print $NF}')
  fi
  printf '%-13s %8s %10s %8s %14s\n' "${names[$i]}" "$min" "$med" "$faults" "$ins"
done
echo "The goal (issue 20): ktriage's median less the floor's less the fastest C tool's at most 1 ms."
