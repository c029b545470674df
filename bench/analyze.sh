#!/usr/bin/env bash
# Full triage speed on every dump, in one run: each corpus dump (../shared/corpus/dumps) and each
# dump fixture (testdata/dumps*), ktriage against the fastest of each peer available here.
#
#   bench/analyze.sh                     # every dump
#   bench/analyze.sh DUMP [DUMP.2 ...]   # one dump (every file of a split one)
#   DUMPS=corpus bench/analyze.sh        # only the corpus dumps (DUMPS=fixtures: only the fixtures)
#   VMLINUX=DIR/vmlinux-REL DUMPS="A/vmcore B/vmcore" bench/analyze.sh   # these dumps, of the kernel REL
#   RUNS=3 PEER_RUNS=1 PEERS_ON_FIXTURES=1 RESULTS=FILE bench/analyze.sh   (the defaults; RESULTS gets the summary)
#   PACK=FILE                            # the vmlinux's debuginfo pack, instead of making one
#
# What runs, and what each does and does not do:
#   ktriage-nodebug  ktriage analyze --format json --no-debuginfo: kallsyms and BTF from the dump;
#                    the log, sys, every task, the stacks of the panic task, the CPUs and the D tasks,
#                    locks and waits, the rulebook, the JSON report. The kernel build's names are in
#                    the index cache after the first run (warm).
#   ktriage-nodebug-cold  the same with the index cache emptied before each run: a build never seen.
#   ktriage-cold     the same with --vmlinux (DWARF, the vmlinux's symbol table), its index cache emptied
#                    before each run: the first triage of a new kernel.
#   ktriage-warm     the same with the index cached: every later triage of that kernel.
#   ktriage-pack     --vmlinux PACK, the vmlinux's debuginfo pack (ktriage pack: BTF, symbols, .debug_frame).
#   crash-8.0.2/8.0.6  crash -s -i CMDS vmlinux dump, CMDS `sys; bt; bt -a; foreach UN bt; log`: starts gdb on
#                    the vmlinux (symbols and every type), walks every task, prints the same facts as text.
#                    It runs no rules and writes no report; its start-up is most of its time.
#   drgn-0.0.22/0.0.31  python3 bench/drgn-triage.py dump vmlinux: indexes the vmlinux's DWARF (drgn has no
#                    index cache: every run is drgn's cold and warm), reads every log record (not printed),
#                    the crashed thread's stack, every task, and the stacks of the D (UN) tasks. It prints no
#                    system facts, no other CPU's stack, no locks, runs no rules.
# crash 8.0.6 and drgn 0.0.31 are trixie's, run from bench/peers.sh's wrappers (~1-3 ms of bash each).
# Peers need the dump's debug vmlinux: only dumps of the vmlinux's release get them (the 6.12 fixtures get
# ktriage-nodebug alone). Each peer is tried once per dump first; a peer that fails there (exit status, or
# none of the facts asked for in its output) is listed as unable to open the dump, with its last line.
#
# ktriage runs with a KTRIAGE_CACHE of its own, so emptying the index never touches ~/.cache/ktriage/index.
# Every dump is read from the page cache (the try-out run reads it first), for every tool alike.
# Per dump it prints the medians and peak RSS, then: fastest crash / ktriage-cold (goal >= 30),
# fastest drgn / ktriage-warm (goal >= 3), ktriage-nodebug against 60 ms, ktriage's peak RSS against drgn's.
# The load average is printed with every dump: on a shared machine, compare ratios within one run.
# Needs: ../shared/corpus, the debug vmlinux (scripts/fetch-debug-vmlinux.sh), bench/peers.sh's peers,
# apt packages crash, python3-drgn, hyperfine, jq, zstd, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-3}"
peer_runs="${PEER_RUNS:-1}"
vmlinux="${VMLINUX:-$(bash scripts/fetch-debug-vmlinux.sh)}"
vmrel="$(basename "$vmlinux")"; vmrel="${vmrel#vmlinux-}"
peers="$(bash bench/peers.sh)"
make -s build
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
export KTRIAGE_CACHE="$out/kcache"
idx="$KTRIAGE_CACHE/index"
kt="$PWD/bin/ktriage"
printf 'sys\nbt\nbt -a\nforeach UN bt\nlog\nquit\n' > "$out/crash.cmds"
# The pack's BTF: the vmlinux's own .BTF when it has one, else pahole's.
pack="$out/vmlinux.pack"
if [[ -n ${PACK:-} ]]; then
  pack="$PACK"   # the vmlinux's pack, made before (ktriage pack takes minutes on a large vmlinux)
elif objcopy -O binary --only-section=.BTF "$vmlinux" "$out/vmlinux.btf" 2>/dev/null && [[ -s $out/vmlinux.btf ]]; then
  "$kt" pack "$vmlinux" --btf "$out/vmlinux.btf" -o "$pack" >/dev/null
else
  "$kt" pack "$vmlinux" -o "$pack" >/dev/null
fi
echo "ktriage $(git describe --always --dirty 2>/dev/null); pack: $(stat -L -c %s "$pack") bytes for a $(stat -L -c %s "$vmlinux")-byte vmlinux; $(nproc) CPUs; $(date -u +%FT%TZ)"
results="${RESULTS:-/dev/null}"
printf 'dump\tload1\tnodebug_s\tcold_s\twarm_s\tfastest_crash\tcrash_s\tfastest_drgn\tdrgn_s\tcrash/cold\tdrgn/warm\tkt_rss_kb\tdrgn_rss_kb\n' > "$out/summary.tsv"

# Each dump as "NAME<TAB>FILE [FILE...]".
list_dumps() {
  local d f
  case ${DUMPS:-all} in
    all | corpus | fixtures) ;;
    *)
      # A list of dump files (one file each), e.g. an older kernel's full dumps with VMLINUX its build's.
      for f in $DUMPS; do printf '%s\t%s\n' "$f" "$f"; done
      return ;;
  esac
  [[ ${DUMPS:-all} == fixtures ]] || for d in ../shared/corpus/dumps/*/; do
    d="${d%/}"
    if [[ -f $d/vmcore ]]; then printf '%s\t%s\n' "corpus/${d##*/}" "$d/vmcore"
    elif [[ -f $d/vmcore.1 ]]; then printf '%s\t%s\n' "corpus/${d##*/}" "$(ls "$d"/vmcore.[0-9]* | sort -V | tr '\n' ' ')"
    elif [[ -f $d/vmcore.zst ]]; then
      # Every tool gets the same unpacked ELF (crash and drgn cannot read .zst).
      zstd -q -d -f "$d/vmcore.zst" -o "$out/${d##*/}.vmcore"
      printf '%s\t%s\n' "corpus/${d##*/}" "$out/${d##*/}.vmcore"
    fi
  done
  [[ ${DUMPS:-all} == corpus ]] || for f in testdata/dumps*/*.vmcore testdata/dumps*/*.vmcore.1; do
    [[ -f $f ]] || continue
    case "$f" in
      *.vmcore.1) printf '%s\t%s\n' "${f%.1}" "$(ls "${f%.1}".[0-9]* | sort -V | tr '\n' ' ')" ;;
      *) printf '%s\t%s\n' "$f" "$f" ;;
    esac
  done
}

# try NAME KIND CMD...: runs CMD once (RSS into $out/rss.NAME); KIND says what its output must hold.
try() {
  local name=$1 kind=$2; shift 2
  local rc=0
  /usr/bin/time -o "$out/time.$name" -f '%M' timeout 600 "$@" </dev/null >"$out/try.$name" 2>&1 || rc=$?
  tail -1 "$out/time.$name" > "$out/rss.$name"
  local ok=1
  [[ $rc == 0 ]] || ok=0
  case $kind in
    crash) grep -q 'PANIC:' "$out/try.$name" && grep -q '^PID:' "$out/try.$name" || ok=0 ;;
    drgn) grep -q '^#0 ' "$out/try.$name" || ok=0 ;;
  esac
  if [[ $ok == 0 ]]; then
    # crash ends with its usage text: its own "crash: ..." line says why.
    local why
    why="$(grep -E '^crash: ' "$out/try.$name" | tail -1)"
    [[ -n $why ]] || why="$(grep -v '^Command exited' "$out/try.$name" | grep . | tail -1)"
    echo "  $name cannot: exit $rc, ${why:0:140}"
    return 1
  fi
}

med() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$out"/h.*.json 2>/dev/null | head -1; }
ratio() { [[ -n $1 && -n $2 ]] && printf '%.1f' "$(echo "$1 / $2" | bc -l)" || echo -; }

bench_dump() {
  local name=$1 files=$2 first rel
  read -r first _ <<<"$files"
  rm -f "$out"/h.*.json "$out"/rss.*
  rel="$("$kt" sys --format json --no-debuginfo $files </dev/null 2>/dev/null | jq -r .release || true)"
  # Kernels before 6.0 cannot describe themselves: their release is in VMCOREINFO (ktriage info).
  [[ -n $rel && $rel != null ]] || rel="$("$kt" info --format json $files </dev/null 2>/dev/null | jq -r .release || true)"
  echo "== $name ($rel; $(stat -c %s $files | paste -sd+ | bc) bytes) load $(cut -d' ' -f1-3 /proc/loadavg)"
  local names=() cmds=() preps=() pnames=() pcmds=()
  add() { names+=("$1"); cmds+=("$2"); preps+=("${3:-true}"); }
  rm -rf "$idx"
  try ktriage-nodebug-cold kt "$kt" analyze --format json --no-debuginfo $files &&
    add ktriage-nodebug-cold "$kt analyze --format json --no-debuginfo $files" "rm -rf $idx"
  try ktriage-nodebug kt "$kt" analyze --format json --no-debuginfo $files &&
    add ktriage-nodebug "$kt analyze --format json --no-debuginfo $files"
  if [[ $rel == "$vmrel" ]]; then
    rm -rf "$idx"
    try ktriage-cold kt "$kt" analyze --format json --vmlinux "$vmlinux" $files &&
      add ktriage-cold "$kt analyze --format json --vmlinux $vmlinux $files" "rm -rf $idx"
    try ktriage-warm kt "$kt" analyze --format json --vmlinux "$vmlinux" $files &&
      add ktriage-warm "$kt analyze --format json --vmlinux $vmlinux $files"
    try ktriage-pack kt "$kt" analyze --format json --vmlinux "$pack" $files &&
      add ktriage-pack "$kt analyze --format json --vmlinux $pack $files"
    if [[ $name == corpus/* || ${PEERS_ON_FIXTURES:-1} == 1 ]]; then
      local v
      for v in drgn-0.0.22 drgn-0.0.31; do
        if [[ $files == *" "?* ]]; then echo "  $v cannot: drgn opens one file, not a split dump"; continue; fi
        try "$v" drgn "$peers/$v" bench/drgn-triage.py "$first" "$vmlinux" &&
          add "$v" "$peers/$v bench/drgn-triage.py $first $vmlinux"
      done
      for v in crash-8.0.2 crash-8.0.6; do
        # Tried without -s, which silences even the error that stops crash's start-up.
        try "$v" crash "$peers/$v" -i "$out/crash.cmds" "$vmlinux" $files &&
          { pnames+=("$v"); pcmds+=("$peers/$v -s -i $out/crash.cmds $vmlinux $files"); }
      done
    fi
  else
    if [[ -z $rel || $rel == null ]]; then
      echo "  no kernel release readable (a fixture cut to the log's pages): ktriage-nodebug only, no peer"
    else
      echo "  no debug vmlinux for $rel here: ktriage-nodebug only, no peer"
    fi
  fi
  local args=() i
  for i in "${!names[@]}"; do args+=(--prepare "${preps[$i]}" -n "${names[$i]}" "${cmds[$i]}"); done
  [[ ${#names[@]} -gt 0 ]] && hyperfine -N -i -w 1 -r "$runs" --export-json "$out/h.kt.json" "${args[@]}" </dev/null >/dev/null 2>&1 || true
  args=()
  for i in "${!pnames[@]}"; do args+=(-n "${pnames[$i]}" "${pcmds[$i]}"); done
  [[ ${#pnames[@]} -gt 0 ]] && hyperfine -N -i -r "$peer_runs" --export-json "$out/h.crash.json" "${args[@]}" </dev/null >/dev/null 2>&1 || true
  printf '  %-16s %9s %12s\n' run median_s peak_RSS_MiB
  local n m
  for n in "${names[@]}" "${pnames[@]}"; do
    m="$(med "$n")"
    printf '  %-16s %9s %12s\n' "$n" "$([[ -n $m ]] && printf '%.3f' "$m" || echo failed)" \
      "$(echo "$(cat "$out/rss.$n") / 1024" | bc)"
  done
  local fc="" fcs="" fd="" fds="" s
  for n in "${pnames[@]}"; do s="$(med "$n")"; [[ -n $s ]] && { [[ -z $fcs ]] || (($(echo "$s < $fcs" | bc))); } && { fc=$n; fcs=$s; }; done
  for n in "${names[@]}"; do [[ $n == drgn-* ]] || continue; s="$(med "$n")"; [[ -n $s ]] && { [[ -z $fds ]] || (($(echo "$s < $fds" | bc))); } && { fd=$n; fds=$s; }; done
  local nd cold warm rc rd ktrss=0 drss=""
  nd="$(med ktriage-nodebug)"; cold="$(med ktriage-cold)"; warm="$(med ktriage-warm)"
  rc="$(ratio "$fcs" "$cold")"; rd="$(ratio "$fds" "$warm")"
  [[ -n $fc ]] && echo "  fastest crash ($fc) / ktriage-cold: ${rc}x (goal >= 30x)"
  [[ -n $fd ]] && echo "  fastest drgn ($fd) / ktriage-warm: ${rd}x (goal >= 3x)"
  [[ -n $nd ]] && echo "  ktriage-nodebug: $(printf '%.0f' "$(echo "$nd * 1000" | bc -l)") ms (goal <= 60 ms)"
  s="$(med ktriage-nodebug-cold)"
  [[ -n $s ]] && echo "  ktriage-nodebug-cold: $(printf '%.0f' "$(echo "$s * 1000" | bc -l)") ms"
  for n in "${names[@]}"; do [[ $n == ktriage-* ]] && (($(cat "$out/rss.$n") > ktrss)) && ktrss=$(cat "$out/rss.$n"); done
  for n in "${names[@]}"; do [[ $n == drgn-* ]] || continue; s=$(cat "$out/rss.$n"); [[ -z $drss ]] || ((s < drss)) && drss=$s; done
  [[ -n $drss ]] && echo "  peak RSS: ktriage's largest $((ktrss / 1024)) MiB, drgn's smallest $((drss / 1024)) MiB (goal: below)"
  r3() { [[ -n $1 ]] && printf '%.3f' "$1" || echo -; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$(r3 "$nd")" "$(r3 "$cold")" "$(r3 "$warm")" "${fc:--}" "$(r3 "$fcs")" "${fd:--}" "$(r3 "$fds")" "$rc" "$rd" "$ktrss" "${drss:--}" >> "$out/summary.tsv"
}

if [[ $# -gt 0 ]]; then
  bench_dump "$1" "$*"
else
  list_dumps > "$out/dumps.tsv"
  while IFS=$'\t' read -r -u 3 name files; do bench_dump "$name" "$files"; done 3< "$out/dumps.tsv"
fi
echo "== summary (seconds; RSS in KB)"
column -t -s $'\t' "$out/summary.tsv" | tee -a "$results"
