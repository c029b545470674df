#!/bin/sh
# Regenerates the Linux 5.4 LTS (5.4.286) fixtures in this folder: real
# dumps of the kernel testdata/gen/build-old-kernel.sh lts builds, crashed in
# QEMU, answered by crash, cut to the pages ktriage reads
# (testdata/gen/old-fixtures.sh says what each file is).
#
#   sh testdata/dumps-5.4/make.sh [scenario...]
#       default: sysrq oops-null hung bug softlockup oom
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- sysrq oops-null hung bug softlockup oom
KTRIAGE_GEN_OUT=${KTRIAGE_GEN_OUT:-/work/gen-out-5.4} KTRIAGE_GEN_KDUMP_FORMATS=${KTRIAGE_GEN_KDUMP_FORMATS:-kdump-lzo kdump-zlib} \
	exec sh "$here/../gen/old-fixtures.sh" "${KTRIAGE_OLD_CACHE:-$HOME/.cache/ktriage/old}/build-linux-5.4.286" "$here" "$@"
