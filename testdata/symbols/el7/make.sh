#!/bin/sh
# Rebuilds module.o.btf: the types of CentOS 7.9's kernel/module.o (3.10.0-1160.el7,
# built by testdata/gen/build-old-kernel.sh el7), encoded from its DWARF by
# pahole (Debian's dwarves). It holds struct module, task_struct, thread_info,
# orig_ist and irq_stack_union as RHEL 7's kernel lays them out.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
obj=${KTRIAGE_OLD_CACHE:-$HOME/.cache/ktriage/old}/build-linux-3.10.0-1160.el7/kernel/module.o
pahole --btf_encode_detached="$here/module.o.btf" "$obj"
ls -l "$here/module.o.btf"
