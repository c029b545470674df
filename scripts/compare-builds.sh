#!/usr/bin/env bash
# compare-builds.sh OLD NEW — build ktriage at two revisions and diff what
# every command prints on every fixture and corpus dump. A refactor must
# come out byte-identical; a behaviour change shows here line by line.
#
#   bash scripts/compare-builds.sh HEAD~1 HEAD
#
# Outputs go to $OUT (default a temporary folder) as old/ and new/, one
# file per command and input; the script prints the differing files and
# exits 1 when there are any.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: compare-builds.sh OLD-REV NEW-REV}
new=${2:?usage: compare-builds.sh OLD-REV NEW-REV}
out=${OUT:-$(mktemp -d)}
export PATH="/usr/local/go/bin:$PATH"

build() { # rev dir
  local tree="$out/src-$2"
  rm -rf "$tree"
  git worktree add -q --detach "$tree" "$1"
  (cd "$tree" && CGO_ENABLED=0 go build -o "$out/ktriage-$2" ./cmd/ktriage)
  git worktree remove --force "$tree"
}
build "$old" old
build "$new" new

# Inputs: the bundled fixtures, and the shared corpus when it sits beside us.
dumps=()
for f in testdata/dumps/*.vmcore testdata/dumps-6.12/*.vmcore testdata/elf/*.vmcore; do
  [ -f "$f" ] && dumps+=("$f")
done
split=(testdata/dumps/sysrq-split-lzo.vmcore.1 testdata/dumps/sysrq-split-lzo.vmcore.2)
if [ -d ../shared/corpus/dumps ]; then
  for d in ../shared/corpus/dumps/*/; do
    [ -f "$d/vmcore" ] && dumps+=("$d/vmcore")
  done
fi
logs=(testdata/logs/*.log)

# A store per build, so fleet runs from scratch both times.
run() { # build name args...
  local b=$1 name=$2; shift 2
  mkdir -p "$out/$b"
  # Paths and the store location differ by build only through $out: keep
  # them out of the outputs by running from the same folder.
  KTRIAGE_STORE="$out/$b.db" "$out/ktriage-$b" "$@" >"$out/$b/$name" 2>&1 || echo "exit $?" >>"$out/$b/$name"
}
for b in old new; do
  for f in "${dumps[@]}"; do
    n=$(echo "$f" | tr '/' '_')
    for fmt in text markdown json html; do
      run $b "analyze-$fmt-$n" analyze --no-debuginfo --format $fmt "$f"
    done
    run $b "dmesg-$n" dmesg "$f"
    run $b "info-$n" info "$f"
    run $b "sys-$n" sys --no-debuginfo "$f"
    run $b "bt-all-$n" bt --no-debuginfo --all "$f"
    run $b "bt-D-$n" bt --no-debuginfo --state D "$f"
    run $b "ps-$n" ps --no-debuginfo "$f"
  done
  run $b "analyze-split" analyze --no-debuginfo --format json "${split[@]}"
  for f in "${logs[@]}"; do
    n=$(basename "$f")
    run $b "analyze-$n" analyze --format json "$f"
    run $b "parse-log-$n" parse-log "$f"
  done
  for fmt in text markdown jsonl html; do
    run $b "fleet-$fmt" fleet --no-store --format $fmt testdata/dumps
  done
done

# When and how long each analysis ran differ run to run: drop them before comparing.
for b in old new; do
  sed -i -E 's/"seconds": ?[0-9.e-]+/"seconds": X/g; s/"analyzed_at": ?"[^"]*"/"analyzed_at": X/g' "$out/$b"/*
done
n=$(ls "$out/old" | wc -l)
if diff -rq "$out/old" "$out/new" >"$out/diff.txt"; then
  echo "identical: $n outputs of $old and $new ($out)"
else
  cat "$out/diff.txt"
  echo "$(wc -l <"$out/diff.txt") of $n outputs differ between $old and $new (diff -r $out/old $out/new)"
  exit 1
fi
