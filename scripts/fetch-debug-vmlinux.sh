#!/usr/bin/env bash
# Download the Debian debug vmlinux for the corpus kernel and keep only the
# vmlinux and its System.map (the .deb is ~280 MB, the vmlinux 590 MB).
# Result: $KTRIAGE_CACHE/vmlinux-<release> (default ~/.cache/ktriage).
set -euo pipefail
release="${1:-6.1.0-56-cloud-amd64}"
cache="${KTRIAGE_CACHE:-$HOME/.cache/ktriage}"
mkdir -p "$cache"
out="$cache/vmlinux-$release"
if [[ -s "$out" ]]; then echo "$out"; exit 0; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download "linux-image-$release-dbg" >&2 )
deb="$(ls "$work"/*.deb)"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/lib/debug/boot/vmlinux-$release" "./usr/lib/debug/boot/System.map-$release" 2>/dev/null \
  || dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/lib/debug/boot/vmlinux-$release"
mv "$work/usr/lib/debug/boot/vmlinux-$release" "$out.tmp" && mv "$out.tmp" "$out"
[[ -f "$work/usr/lib/debug/boot/System.map-$release" ]] && mv "$work/usr/lib/debug/boot/System.map-$release" "$cache/System.map-$release"
echo "$out"
