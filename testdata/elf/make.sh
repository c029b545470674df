#!/bin/sh
# Regenerates sysrq-notes.elf: the real `makedumpfile -E -d 31` vmcore of the
# sysrq scenario (Debian 6.1.0-56-cloud-amd64, see ../shared/corpus/README.md)
# cut down to its headers, its notes (2 x NT_PRSTATUS, VMCOREINFO) and the
# first page of each PT_LOAD segment. Run from anywhere; needs zstd and Go.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=${SYSRQ_ELF_ZST:-$repo/../shared/corpus/dumps/sysrq-elf/vmcore.zst}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
zstd -q -d -o "$tmp/vmcore" "$src"
cd "$repo"
go run ./elfcore/internal/cutcore -in "$tmp/vmcore" -out "$here/sysrq-notes.elf" -keep 4096
ls -l "$here/sysrq-notes.elf"
