// Package unwind walks x86_64 Linux kernel stacks.
//
// Kernel stack unwinding on x86_64, the way the kernel's own ORC unwinder
// does it (arch/x86/kernel/unwind_orc.c): for each frame, look the PC up
// in ORC (the kernel's table, or the module's), compute the caller's SP,
// then either read the return address below it (CALL), or a struct
// pt_regs / iret frame at it (REGS, REGS_PARTIAL: an interrupt, exception
// or system call, possibly on another stack). Where ORC has nothing, the
// vmlinux's .debug_frame (when one is given), then the frame-pointer chain
// (kernels without ORC), then a scan of the stack for a return address.
// Starting points from saved registers are in start.go.
//
// An Unwinder reads memory and names functions only through the sources
// it is built from (Config: a memory reader, a symbol source, the ORC and
// CFI sources, optionally line tables); the stacks a walk may visit come
// with each walk. It knows nothing of dumps or of struct layouts, and
// holds no state of its own between walks; the package has no mutable
// package-level state.
//
// References: the ORC format, arch/x86/include/asm/orc_types.h and
// Documentation/arch/x86/orc-unwinder.rst in the kernel; DWARF 5 section
// 6.4 (call frame information) for .debug_frame; struct pt_regs,
// arch/x86/include/asm/ptrace.h.
package unwind
