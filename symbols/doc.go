// Package symbols owns the names and types of a crashed kernel:
//
//   - symbol tables (Table): the vmlinux ELF symtab and System.map with the
//     KASLR slide applied, kallsyms decoded from the dump's own memory
//     (KallsymsFromDump), and loaded modules' symbols (ReadModules), combined
//     in KernelSymbols, which names an address as the kernel's own oops
//     lines do ("func+0x1c/0x80 [module]");
//   - type layouts behind one interface, Types: BTF from vmlinux .BTF or
//     from the dump (BTF, BTFFromDump), and DWARF (OpenDWARF) named by an
//     index that a parallel DIE walk grows only as far as lookups need
//     (optionally ahead of them on another core), cached on disk by
//     build-id and extended by later runs, with types decoded on demand by
//     debug/dwarf;
//   - globals' types (GlobalType), with the few globals BTF cannot describe
//     stated in one table (globals.go);
//   - debuginfo discovery (FindVmlinux) and the check that a vmlinux was
//     built for the dump (CheckVmlinux, *MismatchError).
//
// The package never reads a dump itself: callers hand it a Memory that reads
// the crashed kernel's virtual memory, and VMCOREINFO SYMBOL() values.
//
// References: kernel/kallsyms.c, scripts/kallsyms.c and scripts/mksysmap
// (Linux 6.1) for the kallsyms encoding and alias order; include/linux/
// module.h for mod_kallsyms; Documentation/bpf/btf.rst; DWARF 4 and 5
// (https://dwarfstd.org) for the DIE walk.
package symbols
