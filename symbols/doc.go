// Package symbols owns names and types of a crashed kernel: the vmlinux ELF
// symbol table and System.map, kallsyms decoded from the dump's own memory,
// BTF (from vmlinux .BTF or the dump), a fast on-disk-cached DWARF index of
// the debug vmlinux, module symbols, and debuginfo discovery with a build-id
// check that the vmlinux matches the dump.
//
// The package never reads a dump itself: callers hand it a Memory that reads
// the crashed kernel's virtual memory, and VMCOREINFO values as plain maps.
//
// References: kernel/kallsyms.c and scripts/kallsyms.c (Linux 6.1) for the
// kallsyms encoding; Documentation/bpf/btf.rst for BTF; DWARF 4 and 5
// (dwarfstd.org) for the DIE walk; include/linux/module.h for mod_kallsyms.
package symbols
