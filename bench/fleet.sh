#!/usr/bin/env bash
# Fleet batch benchmark: 32 real dumps (the shared corpus, repeated through
# symbolic links in distinct RHEL, Debian and SUSE crash directories)
# analyzed with -j 1 and -j 2, without a store, after a warm-up run so both
# read from the page cache. Prints the throughput ratio, the peak RSS of
# each run (/usr/bin/time -v), and the wall time of a rerun against a filled
# SQLite store (every dump is skipped by identity).
#
#   bash bench/fleet.sh            # the benchmark
#   bash bench/fleet.sh tree DIR   # only build the 32-dump tree in DIR
#   bash bench/fleet.sh scale [N…] # archives of N crashes (default 2000 10000), below
#
# Needs ../shared/corpus beside the repository.
#
# Measured 2026-11-27 on the 2-core development machine, shared with other
# engineers' builds, tests and QEMU runs (load average 2-6, CPU pressure
# 50-95%), so wall times are noisy; five runs gave:
#   -j 1: 3.5-6.7 s (4.8-9.1 dumps/s), CPU 3.3-3.7 s, peak RSS 92-112 MiB
#   -j 2: 3.4-7.4 s (4.3-9.4 dumps/s), CPU 3.2-3.7 s, peak RSS 167-209 MiB
#   ratio -j 2 / -j 1: 0.66-1.33, while the control (two hash jobs against
#   one) showed the machine itself giving 1.07-1.68 at those moments.
#   CPU per dump is the same with one worker or two (~0.10 s): the workers
#   share nothing; what -j 2 lacks is a free core (its threads waited
#   4-15 s on the run queue). On an idle 2-core machine expect ~2.
#   96 dumps at -j 2: peak RSS 192-210 MiB, as for 32 (bounded per worker).
#   Rerun against the filled SQLite store: 0.07-0.30 s, 32 of 32 reused,
#   peak RSS 25-29 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

corpus="$(cd .. && pwd)/shared/corpus/dumps"
n="${FLEET_DUMPS:-32}"

# make_tree DIR [N]: N (default n) crash directories, cycling through the corpus dumps and
# the three layouts, spread over a month and a handful of hosts.
make_tree() {
  local root="$1" count="${2:-$n}" dumps=() i d day host stamp dir
  for d in "$corpus"/*/; do
    d="${d%/}"
    if [[ -f "$d/vmcore" || -f "$d/vmcore.1" ]]; then dumps+=("$d"); fi
  done
  if ((${#dumps[@]} == 0)); then
    echo "no corpus dumps in $corpus" >&2
    return 1
  fi
  mkdir -p "$root"
  for ((i = 0; i < count; i++)); do
    d="${dumps[i % ${#dumps[@]}]}"
    day=$(printf '%02d' $((1 + (i * 7) % 27)))
    case $((i % 3)) in
      0)
        host="10.1.0.$((i / 3 % 5 + 1))"
        dir="$root/$host-2026-11-$day-0$((i % 10)):1$((i % 6)):00"
        mkdir -p "$dir"
        if [[ -f "$d/vmcore.1" ]]; then
          ln -s "$d"/vmcore.[0-9]* "$dir/"
        else
          ln -s "$d/vmcore" "$dir/vmcore"
        fi
        [[ -f "$d/vmcore-dmesg.txt" ]] && ln -s "$d/vmcore-dmesg.txt" "$dir/vmcore-dmesg.txt"
        ;;
      1)
        stamp="202611${day}$(printf '%02d' $((i % 24)))00"
        dir="$root/$stamp"
        mkdir -p "$dir"
        if [[ -f "$d/vmcore.1" ]]; then
          ln -s "$d/vmcore.1" "$dir/dump.$stamp.1"
          ln -s "$d/vmcore.2" "$dir/dump.$stamp.2"
        else
          ln -s "$d/vmcore" "$dir/dump.$stamp"
        fi
        [[ -f "$d/dmesg.makedumpfile.txt" ]] && ln -s "$d/dmesg.makedumpfile.txt" "$dir/dmesg.$stamp"
        ;;
      2)
        dir="$root/2026-11-$day-1$((i % 10)):00"
        mkdir -p "$dir"
        if [[ -f "$d/vmcore.1" ]]; then
          ln -s "$d"/vmcore.[0-9]* "$dir/"
        else
          ln -s "$d/vmcore" "$dir/vmcore"
        fi
        printf 'Kernel crashdump\n----------------\n\nCrash time     : 2026-11-%s 1%d:00 (+0000)\nKernel version : 6.1.0-56-cloud-amd64\nHost           : web-%d.example.com\nDump level     : 31\nDump format    : lzo\n' \
          "$day" $((i % 10)) $((i % 5)) > "$dir/README.txt"
        [[ -f "$d/vmcore-dmesg.txt" ]] && ln -s "$d/vmcore-dmesg.txt" "$dir/dmesg.txt"
        ;;
    esac
  done
}

if [[ "${1:-}" == tree ]]; then
  make_tree "${2:?usage: fleet.sh tree DIR}"
  exit 0
fi
if [[ "${1:-}" == scale ]]; then
  shift
  exec bash bench/fleet-scale.sh "$@"
fi

if [[ ! -d "$corpus" ]]; then
  echo "fleet bench: shared corpus not found at $corpus; skipped" >&2
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/ktriage" ./cmd/ktriage
make_tree "$work/crash"
kt() { "$work/ktriage" fleet "$work/crash" --no-system-debuginfo "$@"; }

# run LABEL [--tree DIR] ARGS...: wall seconds, peak RSS (KiB), CPU seconds of one batch,
# and the seconds its threads waited for a CPU (run-queue delay, summed from
# /proc/PID/task/*/schedstat): on a machine shared with other work, that
# wait, not the code, is what keeps -j 2 from doubling the throughput.
run() {
  local label="$1" tree="$work/crash"; shift
  if [[ "$1" == --tree ]]; then tree="$2"; shift 2; fi
  /usr/bin/time -v -o "$work/time.$label" "$work/ktriage" fleet "$tree" --no-system-debuginfo "$@" \
    > "$work/out.$label" 2>&1 &
  local tpid=$! kpid="" waited=0 w
  while kill -0 "$tpid" 2> /dev/null; do
    [[ -n "$kpid" ]] || kpid=$(pgrep -P "$tpid" ktriage || true)
    if [[ -n "$kpid" ]]; then
      w=$(cat /proc/"$kpid"/task/*/schedstat 2> /dev/null | awk '{s += $2} END {printf "%.0f", s}' || true)
      if ((w > waited)); then waited=$w; fi
    fi
    sleep 0.05
  done
  wait "$tpid" || true
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time.$label")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$label")
  cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ {s += $2} END {print s}' "$work/time.$label")
  echo "$wall $rss $cpu $(awk -v w="$waited" 'BEGIN {printf "%.2f", w / 1e9}')"
}

# control: how much parallel CPU the machine gives right now — one
# single-threaded job (sha256 of 512 MiB) alone, then two at once. On an idle
# 2-core machine the ratio is ~2; on one shared with other work it is less,
# and no program's -j 2 can beat it.
hash_once() { head -c 512M /dev/zero | sha256sum > /dev/null; }
t0=$(date +%s.%N); hash_once; t1=$(date +%s.%N)
hash_once & hash_once & wait
t2=$(date +%s.%N)
control=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "%.2f", 2 * (b - a) / (c - b)}')

kt --no-store -j 2 > /dev/null 2>&1 || true # warm the page cache
load=$(cut -d' ' -f1 /proc/loadavg)
read -r wall1 rss1 cpu1 wait1 < <(run j1 --no-store -j 1)
read -r wall2 rss2 cpu2 wait2 < <(run j2 --no-store -j 2)
crashes=$(grep -c -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$work/out.j1" || true)
# Peak RSS must not grow with the fleet: the same workers over 3x the dumps.
make_tree "$work/crash3" $((3 * n))
read -r wall3 rss3 _ _ < <(run big --tree "$work/crash3" --no-store -j 2)
read -r wallfill rssfill _ _ < <(run fill --store "$work/fleet.db" -j 2)
read -r wallre rssre _ _ < <(run rerun --store "$work/fleet.db" -j 2)
reused=$(grep -o '[0-9]* reused from the store' "$work/out.rerun" | grep -o '^[0-9]*' || echo 0)

awk -v n="$crashes" -v c1="$cpu1" -v c2="$cpu2" -v q1="$wait1" -v q2="$wait2" -v control="$control" -v r3="$rss3" -v w3="$wall3" -v load="$load" -v w1="$wall1" -v w2="$wall2" -v r1="$rss1" -v r2="$rss2" -v wf="$wallfill" \
  -v wr="$wallre" -v rr="$rssre" -v reused="$reused" 'BEGIN {
  printf "fleet: %d dumps (%d cores, load average %s before the runs)\n", n, '"$(nproc)"', load
  printf "  -j 1: %6.2f s  %5.1f dumps/s  CPU %5.2f s  waited for a CPU %5.2f s  peak RSS %4d MiB\n", w1, n / w1, c1, q1, r1 / 1024
  printf "  -j 2: %6.2f s  %5.1f dumps/s  CPU %5.2f s  waited for a CPU %5.2f s  peak RSS %4d MiB (+%d MiB for the second worker)\n", w2, n / w2, c2, q2, r2 / 1024, (r2 - r1) / 1024
  printf "  throughput ratio -j 2 / -j 1: %.2f (the machine gives %.2f now: two single-threaded hash jobs vs one)\n", w1 / w2, control
  printf "  -j 2 over %d dumps: %.2f s, peak RSS %d MiB (against %d MiB for %d: bounded by the workers, not the fleet)\n", 3 * n, w3, r3 / 1024, r2 / 1024, n
  printf "  store: first run %.2f s; rerun %.2f s (%d of %d reused), peak RSS %d MiB\n", wf, wr, reused, n, rr / 1024
}'
