#!/bin/sh
# Regenerates the module debuginfo fixtures of this folder from the
# ktriage_crash.ko that testdata/gen built for the CentOS 7 kernel (the
# module loaded in oops-null-kdump-lzo.vmcore: same build-id), laid out as
# RHEL ships module debuginfo:
#
#   sh testdata/dumps-el7/make-debug.sh [MODULE.ko]   default: $KTRIAGE_GEN_OUT/modules/ktriage_crash.ko
#
#   debug/ktriage_crash.ko.debug   the module's DWARF as RHEL's find-debuginfo.sh
#                                  splits it (eu-strip --reloc-debug-sections)
#   debug-rpm-xz/, debug-rpm-zstd/ kernel-debuginfo-3.10.0-1160.el7.x86_64.rpm
#                                  holding it at RHEL's path, with xz (RHEL 7's)
#                                  and zstd (RHEL 9's) payloads, made by rpmbuild
#                                  (scripts/make-debuginfo-rpm.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
release=3.10.0-1160.el7.x86_64
ko=${1:-${KTRIAGE_GEN_OUT:-/work/gen-out-el7}/modules/ktriage_crash.ko}
want=2bbe0f66970c28903bfcb2cd8de94413a17410f3 # the module's build-id in oops-null-kdump-lzo.vmcore
got=$(readelf -n "$ko" | sed -n 's/.*Build ID: //p')
[ "$got" = "$want" ] || { echo "make-debug: $ko has build-id $got, the fixture dump's module has $want" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$ko" "$tmp/m.ko"
mkdir -p "$here/debug"
eu-strip --remove-comment --reloc-debug-sections -f "$here/debug/ktriage_crash.ko.debug" "$tmp/m.ko"
for p in xz:w2.xzdio zstd:w19.zstdio; do
	rm -rf "$here/debug-rpm-${p%%:*}"
	sh "$repo/scripts/make-debuginfo-rpm.sh" "$here/debug-rpm-${p%%:*}" "$release" "${p#*:}" \
		"$here/debug/ktriage_crash.ko.debug=/usr/lib/debug/lib/modules/$release/extra/ktriage_crash.ko.debug"
done
