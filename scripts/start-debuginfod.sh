#!/usr/bin/env bash
# Start elfutils' debuginfod on 127.0.0.1, serving the debug packages (.deb)
# of a folder, for the tests that fetch debuginfo by build-id; print the
# environment that points them at it:
#
#   eval "$(bash scripts/start-debuginfod.sh ~/.cache/ktriage/debs)"
#       # sets KTRIAGE_TEST_DEBUGINFOD_URL, _LOG (its request log), _DATA
#   go test ./cmd/ktriage -run Debuginfod
#   bash scripts/start-debuginfod.sh stop     # stops it, removes its files
#
# Debian's debuginfod package reads .deb files through bsdtar, which it does
# not depend on: libarchive-tools is installed beside it (as root). The
# server indexes every package before this script returns (a 283 MB kernel
# -dbg package takes about a minute), so the first request finds it.
# Diagnostics go to standard error; standard output is only the exports.
set -euo pipefail

stop() {
  local data="${1:-${KTRIAGE_TEST_DEBUGINFOD_DATA:-}}"
  [[ -n "$data" && -d "$data" ]] || { echo "start-debuginfod: nothing to stop" >&2; return 0; }
  if [[ -f "$data/pid" ]]; then
    kill "$(cat "$data/pid")" 2>/dev/null || true
  fi
  rm -rf "$data"
}

if [[ "${1:-}" == stop ]]; then
  stop "${2:-}"
  exit 0
fi

debs="${1:?usage: start-debuginfod.sh FOLDER-OF-DEBS | stop [DATA]}"
n="$(find "$debs" -maxdepth 1 -name '*.deb' | wc -l)"
[[ "$n" -gt 0 ]] || { echo "start-debuginfod: no .deb in $debs" >&2; exit 1; }

if ! command -v debuginfod > /dev/null || ! command -v bsdtar > /dev/null; then
  if [[ "$(id -u)" != 0 ]]; then
    echo "start-debuginfod: debuginfod or bsdtar missing (apt-get install -y debuginfod libarchive-tools)" >&2
    exit 1
  fi
  echo "start-debuginfod: installing Debian's debuginfod and libarchive-tools" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debuginfod libarchive-tools >&2
fi

data="$(mktemp -d /tmp/ktriage-debuginfod.XXXXXX)"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
while ! port_free "$port"; do port=$((20000 + RANDOM % 20000)); done

# -U: .deb scanning; -t 0 -g 0: one scan, no grooming; -c 1: one scanning
# thread (the machine is shared); -v: one log line per request.
nohup nice -n 10 debuginfod -U -d "$data/db.sqlite" -p "$port" -c 1 -t 0 -g 0 \
  --disable-source-scan -v "$debs" > "$data/server.log" 2>&1 < /dev/null &
echo $! > "$data/pid"

failed() {
  tail -n 20 "$data/server.log" >&2 || true
  echo "start-debuginfod: $1" >&2
  stop "$data"
  exit 1
}
metric() { # the value of the line of $metrics that starts with $1
  awk -v k="$1" 'index($0, k) == 1 { print $NF; exit }' <<< "$metrics"
}
deadline=$((SECONDS + 1800))
while :; do
  kill -0 "$(cat "$data/pid")" 2>/dev/null || failed "debuginfod exited"
  (( SECONDS < deadline )) || failed "packages not indexed within 30 minutes"
  metrics="$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null || true)"
  scanned="$(metric 'scanned_files_total{source=".deb archive"}')"
  busy="$(metric 'thread_busy{role="scan"}')"
  pending="$(metric 'thread_work_pending{role="scan"}')"
  if [[ "${scanned:-0}" -ge "$n" && "${busy:-1}" == 0 && "${pending:-1}" == 0 ]]; then
    break
  fi
  sleep 2
done
echo "start-debuginfod: $(debuginfod --version 2>&1 | head -n 1) on 127.0.0.1:$port, $n package(s) indexed" >&2

echo "export KTRIAGE_TEST_DEBUGINFOD_URL='http://127.0.0.1:$port'"
echo "export KTRIAGE_TEST_DEBUGINFOD_LOG='$data/server.log'"
echo "export KTRIAGE_TEST_DEBUGINFOD_DATA='$data'"
