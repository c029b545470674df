#!/usr/bin/env bash
# Rebuild the small DWARF fixtures from types.c (GCC, as the kernels use).
# DWARF 5 is what current kernels carry; DWARF 4 is Debian 11's 5.10.
set -euo pipefail
cd "$(dirname "$0")/dwarf"
for v in 4 5; do
  gcc -g -gdwarf-$v -O1 -nostdlib -static -fno-asynchronous-unwind-tables -Wl,--build-id=sha1 -o types-dwarf$v.elf types.c
done
ls -l types-dwarf*.elf
