#!/usr/bin/env bash
# Kernel log extraction speed: ktriage dmesg against makedumpfile
# --dump-dmesg and kexec-tools' vmcore-dmesg (ELF only), on the same dumps,
# in one run, with hyperfine. Prints median wall times and ratios
# (other tool's median / ktriage's median: above 1 means ktriage is faster).
# Needs: ../shared/corpus beside the repo; apt packages makedumpfile,
# kexec-tools, hyperfine, zstd, jq.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-30}"
corpus="${CORPUS:-../shared/corpus/dumps}"
make -s build
cache="${KTRIAGE_CACHE:-$HOME/.cache/ktriage}/corpus"
mkdir -p "$cache"
if [[ -f "$corpus/sysrq-elf/vmcore.zst" && ! -s "$cache/sysrq-elf.vmcore" ]]; then
  zstd -q -d -o "$cache/sysrq-elf.vmcore" "$corpus/sysrq-elf/vmcore.zst"
fi
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
# The Go floor: a static Go hello world, built as ktriage is. A Go process
# cannot start faster; ktriage's time less the floor is its own work.
mkdir -p "$out/floor"
printf 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("hello\\n") }\n' >"$out/floor/main.go"
(cd "$out/floor" && printf 'module floor\n\ngo 1.21\n' >go.mod && CGO_ENABLED=0 go build -o "$out/go-floor" .)

median() { jq -r ".results[$1].median" "$out/r.json"; }

printf '%-22s %10s %11s %13s %13s %8s %8s %16s\n' dump ktriage_ms go_floor_ms makedumpfile_ms vmcoredmesg_ms mdf/kt vmd/kt kt-floor-fastest

for dir in "$corpus"/*/; do
  name=$(basename "$dir")
  files=()
  for f in "$dir"vmcore "$dir"vmcore.[0-9]; do [[ -f $f ]] && files+=("$f"); done
  [[ $name == sysrq-elf ]] && files=("$cache/sysrq-elf.vmcore")
  [[ ${#files[@]} -eq 0 ]] && continue
  cmds=("./bin/ktriage dmesg ${files[*]}" "$out/go-floor")
  mdf=no; vmd=no
  # Debian 12's makedumpfile has no zstd and cannot read flattened or split input.
  # A tool takes part only where it can read the dump at all (one trial run):
  # Debian 12's makedumpfile has no zstd or snappy and needs -R for flattened
  # or split input; vmcore-dmesg reads ELF only.
  rm -f "$out/mdf.txt"
  if [[ ${#files[@]} -eq 1 ]] && makedumpfile --dump-dmesg "${files[0]}" "$out/mdf.txt" >/dev/null 2>&1; then
    cmds+=("makedumpfile --dump-dmesg ${files[0]} $out/mdf.txt"); mdf=yes
  fi
  if vmcore-dmesg "${files[0]}" >/dev/null 2>&1; then
    cmds+=("vmcore-dmesg ${files[0]}"); vmd=yes
  fi
  hyperfine -N -w 3 -r "$runs" --prepare "rm -f $out/mdf.txt" --export-json "$out/r.json" "${cmds[@]}" >/dev/null 2>&1
  kt=$(median 0); floor=$(median 1); i=2
  m="-"; v="-"; r1="-"; r2="-"
  if [[ $mdf == yes ]]; then m=$(median $i); r1=$(echo "$m / $kt" | bc -l); i=$((i+1)); fi
  if [[ $vmd == yes ]]; then v=$(median $i); r2=$(echo "$v / $kt" | bc -l); fi
  ms() { [[ $1 == - ]] && echo - || printf '%.2f' "$(echo "$1 * 1000" | bc -l)"; }
  rt() { [[ $1 == - ]] && echo - || printf '%.2f' "$1"; }
  # ktriage's own work against the fastest C tool's whole run (goal: within 1 ms).
  fastest=-
  for t in "$m" "$v"; do [[ $t == - ]] && continue; [[ $fastest == - ]] || (($(echo "$t < $fastest" | bc))) && fastest=$t; done
  d=-; [[ $fastest == - ]] || d=$(echo "$kt - $floor - $fastest" | bc -l)
  printf '%-22s %10s %11s %13s %13s %8s %8s %16s\n' "$name" "$(ms "$kt")" "$(ms "$floor")" "$(ms "$m")" "$(ms "$v")" "$(rt "$r1")" "$(rt "$r2")" "$(ms "$d")"
done
echo "kt-floor-fastest: ktriage's median less the Go floor's less the fastest C tool's, in ms (goal: at most 1)"
echo "(-: the tool cannot read that dump: makedumpfile 1.7.2 has no zstd or snappy and needs -R for flattened/split input; vmcore-dmesg reads ELF only)"
