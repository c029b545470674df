#!/usr/bin/env bash
# Download the Debian debug package of the corpus kernel and extract its
# vmlinux and System.map (the .deb is ~280 MB, the vmlinux 590 MB).
# The .deb is kept in $KTRIAGE_CACHE/debs (default ~/.cache/ktriage/debs):
# the debuginfod and debug-package tests serve and read it as it is.
# Prints: $KTRIAGE_CACHE/vmlinux-<release>.
set -euo pipefail
release="${1:-6.1.0-56-cloud-amd64}"
cache="${KTRIAGE_CACHE:-$HOME/.cache/ktriage}"
debs="$cache/debs"
mkdir -p "$debs"
deb="$(ls "$debs"/linux-image-"$release"-dbg_*.deb 2>/dev/null | head -n 1 || true)"
if [[ -z "$deb" ]]; then
  # apt-get download writes into the current folder; a partial file is
  # kept under another name until it is complete.
  work="$(mktemp -d "$debs/.dl.XXXXXX")"
  ( cd "$work" && apt-get download "linux-image-$release-dbg" >&2 )
  mv "$work"/*.deb "$debs"/ && rmdir "$work"
  deb="$(ls "$debs"/linux-image-"$release"-dbg_*.deb | head -n 1)"
fi
out="$cache/vmlinux-$release"
if [[ -s "$out" ]]; then echo "$out"; exit 0; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/lib/debug/boot/vmlinux-$release" "./usr/lib/debug/boot/System.map-$release" 2>/dev/null \
  || dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/lib/debug/boot/vmlinux-$release"
mv "$work/usr/lib/debug/boot/vmlinux-$release" "$out.tmp" && mv "$out.tmp" "$out"
[[ -f "$work/usr/lib/debug/boot/System.map-$release" ]] && mv "$work/usr/lib/debug/boot/System.map-$release" "$cache/System.map-$release"
echo "$out"
