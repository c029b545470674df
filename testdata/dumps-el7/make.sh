#!/bin/sh
# Regenerates the CentOS 7 (3.10.0-1160.el7) fixtures in this folder: real
# dumps of the kernel testdata/gen/build-old-kernel.sh builds from CentOS
# 7.9's source, crashed in QEMU, answered by crash, cut to the pages ktriage
# reads (testdata/gen/old-fixtures.sh says what each file is).
#
#   sh testdata/dumps-el7/make.sh [scenario...]
#       default: sysrq oops-null hung bug softlockup oom
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- sysrq oops-null hung bug softlockup oom
KTRIAGE_GEN_OUT=${KTRIAGE_GEN_OUT:-/work/gen-out-el7} exec sh "$here/../gen/old-fixtures.sh" \
	"${KTRIAGE_OLD_CACHE:-$HOME/.cache/ktriage/old}/build-linux-3.10.0-1160.el7" "$here" "$@"
