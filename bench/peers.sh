#!/usr/bin/env bash
# The peers ktriage is measured against, the fastest of each available here:
#   crash 8.0.2 and drgn 0.0.22: Debian 12's own packages (crash, python3-drgn), installed;
#   crash 8.0.6 and drgn 0.0.31: Debian 13 (trixie)'s, downloaded and unpacked, never installed.
# The trixie packages and their whole dependency closure (libc 2.41, python3.13 and its stdlib,
# libdw, libkdumpfile …, about 30 MB of .debs) are resolved by apt-get against a sources list and
# state of their own, so the host's apt state is untouched, and unpacked with dpkg-deb -x into
# $KTRIAGE_CACHE/peers/trixie. They run through trixie's own dynamic loader with trixie's
# libraries first (ld.so --library-path also covers dlopen, so drgn's libdw/libkdumpfile come from
# trixie too); python3.13 gets trixie's stdlib and dist-packages through PYTHONHOME/PYTHONPATH.
#
# Writes one wrapper per peer into $KTRIAGE_CACHE/peers/bin and prints that folder:
#   crash-8.0.2  crash-8.0.6          (crash's own arguments)
#   drgn-0.0.22  drgn-0.0.31          (python3 running drgn: a script and its arguments)
# Each wrapper is a bash script that execs the program: ~1-3 ms of bash start-up counts against the peer.
#   bench/peers.sh          # fetch if needed, write the wrappers, print the bin folder
#   bench/peers.sh --check  # also run each peer once on a corpus dump (needs the debug vmlinux)
# Needs: apt-get, dpkg-deb, and http://deb.debian.org (KTRIAGE_TRIXIE_MIRROR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${KTRIAGE_CACHE:-$HOME/.cache/ktriage}"
peers="$cache/peers"
root="$peers/trixie"
bin="$peers/bin"
mirror="${KTRIAGE_TRIXIE_MIRROR:-http://deb.debian.org/debian}"
pkgs=(crash python3-drgn)

fetch_trixie() {
  local st; st="$(mktemp -d "${TMPDIR:-/tmp}/ktriage-peers.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$st'" RETURN
  mkdir -p "$st/lists/partial" "$st/archives/partial" "$st/cache"
  : >"$st/status"   # an empty dpkg status: apt resolves every dependency, libc included
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$st/sources.list"
  local apt=(apt-get -q -o "Dir::Etc::sourcelist=$st/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$st/lists" -o "Dir::State::status=$st/status" -o "Dir::Cache=$st/cache"
    -o "Dir::Cache::archives=$st/archives" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
    -o APT::Architecture=amd64 -o APT::Architectures=amd64)
  "${apt[@]}" update >&2
  "${apt[@]}" install --download-only -y --no-install-recommends "${pkgs[@]}" >&2
  local tmp="$root.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  local deb
  for deb in "$st"/archives/*.deb; do dpkg-deb -x "$deb" "$tmp"; done
  (cd "$st/archives" && ls ./*.deb | sed 's|^\./||') >"$tmp/.debs"
  rm -rf "$root" && mv "$tmp" "$root"
}

[[ -x $root/usr/bin/crash && -x $root/usr/bin/python3.13 && -d $root/usr/lib/python3/dist-packages/drgn ]] || fetch_trixie

# trixie is merged-/usr: the loader is usr/lib64's, every library is in usr/lib/x86_64-linux-gnu
# (a few packages still ship under lib/).
ld="$root/usr/lib64/ld-linux-x86-64.so.2"
[[ -x $ld ]] || ld="$root/lib64/ld-linux-x86-64.so.2"
[[ -e $ld ]] || { echo "peers.sh: no dynamic loader in $root" >&2; exit 1; }
libs="$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu"
mkdir -p "$bin"
wrap() { # name, body
  printf '#!/bin/bash\n# written by bench/peers.sh\n%s\n' "$2" >"$bin/$1.tmp" && chmod +x "$bin/$1.tmp" && mv "$bin/$1.tmp" "$bin/$1"
}
wrap crash-8.0.2 'exec /usr/bin/crash "$@"'
wrap drgn-0.0.22 'exec /usr/bin/python3 -s "$@"'
wrap crash-8.0.6 "exec '$ld' --library-path '$libs' '$root/usr/bin/crash' \"\$@\""
# -s and PYTHONNOUSERSITE: no user site-packages; PYTHONPATH names drgn's dist-packages even if
# Debian's site.py is not the one that runs.
wrap drgn-0.0.31 "PYTHONHOME='$root/usr' PYTHONPATH='$root/usr/lib/python3/dist-packages' PYTHONNOUSERSITE=1 exec '$ld' --library-path '$libs' '$root/usr/bin/python3.13' -s \"\$@\""

if [[ ${1:-} == --check ]]; then
  v="$("$bin/crash-8.0.6" -v | sed -n 's/^crash \([0-9.]*\).*/\1/p' | head -1)"
  [[ $v == 8.0.6 ]] || { echo "peers.sh: crash-8.0.6 says version '$v'" >&2; exit 1; }
  v="$("$bin/drgn-0.0.31" -c 'import drgn, sys; print(drgn.__version__, sys.version.split()[0])')"
  [[ $v == "0.0.31 3.13."* ]] || { echo "peers.sh: drgn-0.0.31 says '$v'" >&2; exit 1; }
  vmlinux="${VMLINUX:-$(bash scripts/fetch-debug-vmlinux.sh)}"
  d=../shared/corpus/dumps/hung-kdump-zstd
  # crash 8.0.6's task count on this dump must be the oracle's (its ps.txt, one line per task
  # after the header); Debian 12's crash 8.0.2 finds 3 here (see the corpus README).
  want=$(($(wc -l <"$d/crash-8.0.6/ps.txt") - 1))
  got=$(printf 'ps\nquit\n' | "$bin/crash-8.0.6" -s "$vmlinux" "$d/vmcore" 2>/dev/null | grep -cE '^[ >]+[0-9]+ ')
  echo "crash-8.0.6 ps on hung-kdump-zstd: $got tasks (oracle $want)" >&2
  [[ $got == "$want" ]] || exit 1
  # drgn-triage.py's D tasks must be crash 8.0.6's `foreach UN bt` ones.
  want=$(grep -c '^PID:' "$d/crash-8.0.6/foreach_UN_bt.txt")
  for dr in drgn-0.0.31 drgn-0.0.22; do
    n=$("$bin/$dr" bench/drgn-triage.py "$d/vmcore" "$vmlinux" | grep -cE '^[0-9]+ ')
    echo "$dr bench/drgn-triage.py on hung-kdump-zstd: $n D tasks (oracle $want)" >&2
    [[ $n == "$want" ]] || exit 1
  done
fi
echo "$bin"
