#!/usr/bin/env bash
# Full triage speed on the same dump, in one run (hyperfine):
#   ktriage analyze --no-debuginfo (kallsyms+BTF from the dump)
#   ktriage analyze --vmlinux, cold (index cache emptied) and warm
#   ktriage analyze --vmlinux PACK: the vmlinux's debuginfo pack (ktriage pack)
#   crash -s vmlinux dump  <<< "sys; bt; bt -a; foreach UN bt"
#   drgn: bench/drgn-triage.py (log, crashed thread, D tasks with stacks)
# Prints medians and the ratios crash/ktriage and drgn/ktriage.
# Needs: ../shared/corpus, the debug vmlinux (scripts/fetch-debug-vmlinux.sh),
# apt packages crash, python3-drgn, hyperfine, jq.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-5}"
dump="${1:-../shared/corpus/dumps/hung-kdump-zstd/vmcore}"
vmlinux="${VMLINUX:-$(bash scripts/fetch-debug-vmlinux.sh)}"
make -s build
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
printf 'sys\nbt\nbt -a\nforeach UN bt\nquit\n' > "$out/crash.cmds"
# The pack's BTF: the vmlinux's own .BTF when it has one, else pahole's.
pack="$out/vmlinux.pack"
if objcopy -O binary --only-section=.BTF "$vmlinux" "$out/vmlinux.btf" 2>/dev/null && [[ -s $out/vmlinux.btf ]]; then
  ./bin/ktriage pack "$vmlinux" --btf "$out/vmlinux.btf" -o "$pack"
else
  ./bin/ktriage pack "$vmlinux" -o "$pack"
fi
echo "pack: $(stat -c %s "$pack") bytes for a $(stat -c %s "$vmlinux")-byte vmlinux"
idx="${KTRIAGE_CACHE:-$HOME/.cache/ktriage}/index"
hyperfine -N -w 1 -r "$runs" --export-json "$out/r.json" \
  -n ktriage-no-vmlinux "./bin/ktriage analyze --format json --no-debuginfo $dump" \
  -n ktriage-vmlinux-warm "./bin/ktriage analyze --format json --vmlinux $vmlinux $dump" \
  -n ktriage-pack "./bin/ktriage analyze --format json --vmlinux $pack $dump" \
  -n crash "crash -s -i $out/crash.cmds $vmlinux $dump" \
  -n drgn "/usr/bin/python3 bench/drgn-triage.py $dump $vmlinux" >/dev/null 2>&1 || true
hyperfine -N -r "$runs" --prepare "rm -rf $idx" --export-json "$out/cold.json" \
  -n ktriage-vmlinux-cold "./bin/ktriage analyze --format json --vmlinux $vmlinux $dump" >/dev/null 2>&1 || true
jq -r '.results[] | "\(.command) \(.median)"' "$out/r.json" "$out/cold.json" > "$out/med.txt"
get() { awk -v n="$1" '$1==n {print $2}' "$out/med.txt"; }
printf '%-24s %10s %14s %14s\n' run median_s crash/this drgn/this
for n in ktriage-no-vmlinux ktriage-vmlinux-cold ktriage-vmlinux-warm ktriage-pack crash drgn; do
  m=$(get "$n"); [[ -z $m ]] && { printf '%-24s %10s\n' "$n" failed; continue; }
  c=$(get crash); d=$(get drgn)
  rc=$([[ -n $c ]] && printf '%.1f' "$(echo "$c / $m" | bc -l)" || echo -)
  rd=$([[ -n $d ]] && printf '%.1f' "$(echo "$d / $m" | bc -l)" || echo -)
  printf '%-24s %10.3f %14s %14s\n' "$n" "$m" "$rc" "$rd"
done
echo "peak RSS (KB):"
for c in "./bin/ktriage analyze --format json --no-debuginfo $dump" "./bin/ktriage analyze --format json --vmlinux $vmlinux $dump" \
         "./bin/ktriage analyze --format json --vmlinux $pack $dump" \
         "crash -s -i $out/crash.cmds $vmlinux $dump" "/usr/bin/python3 bench/drgn-triage.py $dump $vmlinux"; do
  /usr/bin/time -f "%M  $c" $c >/dev/null 2>"$out/t" || true; tail -1 "$out/t"
done
