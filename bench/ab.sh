#!/usr/bin/env bash
# ab.sh OLD NEW — full triage time of two builds of ktriage on the same
# dumps, alternating runs in one go so both see the same machine, with the
# median of each and their ratio. A refactor must not cost speed.
#
#   bash bench/ab.sh 3734ab4 HEAD          # RUNS=11 by default
#   FLAGS="--vmlinux VMLINUX" DUMPS="a.vmcore b.vmcore" bash bench/ab.sh OLD NEW
#                                          # another mode and other dumps (default --no-debuginfo, 3 fixtures)
#   COLD=1 ...                             # the index cache emptied before every run (a first triage)
# Both builds share a KTRIAGE_CACHE of this script's own, filled before the runs (unless COLD).
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: ab.sh OLD-REV NEW-REV}
new=${2:?usage: ab.sh OLD-REV NEW-REV}
runs=${RUNS:-11}
out=$(mktemp -d)
export PATH="/usr/local/go/bin:$PATH"
for pair in "old:$old" "new:$new"; do
  name=${pair%%:*} rev=${pair#*:}
  git worktree add -q --detach "$out/src-$name" "$rev"
  (cd "$out/src-$name" && CGO_ENABLED=0 go build -o "$out/ktriage-$name" ./cmd/ktriage)
  git worktree remove --force "$out/src-$name"
done
read -r -a dumps <<<"${DUMPS:-testdata/dumps/hung-kdump-zstd.vmcore testdata/dumps/sysrq-kdump-lzo.vmcore testdata/dumps/hung-qemu-kdump-zlib.vmcore}"
read -r -a args <<<"${FLAGS:---no-debuginfo}"
export KTRIAGE_CACHE="$out/kcache"
# ms NAME CMD...: appends CMD's wall ms to $out/NAME.t and its CPU ms (user + system) to $out/NAME.c.
ms() {
  local name=$1 t0 t1; shift
  [[ ${COLD:-0} == 1 ]] && rm -rf "$KTRIAGE_CACHE/index"
  # getrusage's microseconds (GNU time rounds CPU to 10 ms).
  python3 -c '
import resource, subprocess, sys, time
t0 = time.monotonic()
subprocess.run(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t0
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "a").write("%.0f\n" % (wall * 1000))
open(sys.argv[2], "a").write("%.1f\n" % ((r.ru_utime + r.ru_stime) * 1000))
' "$out/$name.t" "$out/$name.c" "$@"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "ktriage analyze ${args[*]}$([[ ${COLD:-0} == 1 ]] && echo ', index cache emptied before each run'); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %10s %10s %7s %11s %11s %7s\n' dump "old ms" "new ms" "new/old" "old CPU ms" "new CPU ms" "new/old"
for d in "${dumps[@]}"; do
  : >"$out/old.t"; : >"$out/new.t"; : >"$out/old.c"; : >"$out/new.c"
  for _ in 1 2 3 4 5 6; do "$out/ktriage-old" analyze "${args[@]}" --format json "$d" >/dev/null 2>&1 || true; done # the page cache, and the index cache complete
  for ((i = 0; i < runs; i++)); do
    ms old "$out/ktriage-old" analyze "${args[@]}" --format json "$d"
    ms new "$out/ktriage-new" analyze "${args[@]}" --format json "$d"
  done
  o=$(median <"$out/old.t") n=$(median <"$out/new.t") oc=$(median <"$out/old.c") nc=$(median <"$out/new.c")
  printf '%-34s %10s %10s %7s %11s %11s %7s\n' "$(basename "$(dirname "$d")")/$(basename "$d")" "$o" "$n" "$(awk -v o="$o" -v n="$n" 'BEGIN {printf "%.2f", n/o}')" \
    "$oc" "$nc" "$(awk -v o="$oc" -v n="$nc" 'BEGIN {printf "%.2f", n/o}')"
done
rm -rf "$out"
