// Package elfcore reads ELF core files that hold a machine's physical memory:
// the kernel's /proc/vmcore (and copies of it), `makedumpfile -E`, QEMU's
// `dump-guest-memory` (format elf, paging=false) and `virsh dump --memory-only`.
//
// It maps physical addresses to file bytes through the PT_LOAD program
// headers and decodes the PT_NOTE notes such dumps carry: NT_PRSTATUS (one per
// CPU, with the registers the kernel saved when it crashed), the VMCOREINFO
// text, and QEMU's per-CPU state. It knows nothing else about the kernel: the
// meaning of VMCOREINFO and of the memory is left to the vmcore and kernel
// packages.
//
// The reader is built on io.ReaderAt and reads only headers and notes when a
// file is opened; memory is read on demand. Every size taken from the file is
// checked against the file's size and fixed caps before anything is
// allocated, and bad input yields a *FormatError with the offset at fault.
//
// References: the System V gABI "Program Header" and "Note Section" chapters;
// the kernel's include/linux/elfcore.h (struct elf_prstatus) and
// arch/x86/include/asm/user_{32,64}.h (struct user_regs_struct);
// fs/proc/vmcore.c; QEMU's target/i386/arch_dump.c (QEMUCPUState).
package elfcore
