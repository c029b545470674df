package elfcore

import (
	"encoding/binary"
	"fmt"
)

// QEMUSegment is a QEMUCPUSegment: a segment register's selector and its
// hidden descriptor cache, or a descriptor table register (GDTR, IDTR).
type QEMUSegment struct {
	Selector, Limit, Flags, Pad uint32
	Base                        uint64
}

// QEMUCPUState is the "QEMU" note QEMU's dump-guest-memory writes for each
// x86 vCPU, after the CPU's NT_PRSTATUS note. Unlike NT_PRSTATUS it carries
// the control registers (CR3 locates the page tables) and descriptor tables.
type QEMUCPUState struct {
	Version, Size uint32
	QEMURegisters
	// KernelGSBase is the IA32_KERNEL_GS_BASE MSR, appended in later QEMU
	// versions without a version change; HasKernelGSBase says whether the
	// note's Size covers it.
	KernelGSBase    uint64
	HasKernelGSBase bool
	// Err says why the note could not be decoded (unknown version, too
	// short); the registers are then zero. Nil for a good note.
	Err error
}

// QEMURegisters is QEMUCPUState version 1 from rax to cr[4], in its order;
// every field is naturally aligned, so the C layout has no padding.
type QEMURegisters struct {
	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP    uint64
	R8, R9, R10, R11, R12, R13, R14, R15      uint64
	RIP, RFLAGS                               uint64
	CS, DS, ES, FS, GS, SS, LDT, TR, GDT, IDT QEMUSegment
	CR                                        [5]uint64
}

// Sizes of the QEMUCPUState versions seen so far: version 1 as first
// written, and with kernel_gs_base appended.
const (
	qemuCPUStateSizeV1     = 432
	qemuCPUStateSizeGSBase = 440
)

// QEMUCPUStates decodes every note named "QEMU", in note order (vCPU order).
func (f *File) QEMUCPUStates() []QEMUCPUState {
	var out []QEMUCPUState
	for _, n := range f.Notes {
		if n.Name == NoteNameQEMU {
			out = append(out, DecodeQEMUCPUState(f.ByteOrder, n))
		}
	}
	return out
}

// DecodeQEMUCPUState decodes one "QEMU" note that did not come from an ELF
// file of ours (QEMU's kdump-compressed dumps carry the same notes).
func DecodeQEMUCPUState(order binary.ByteOrder, n Note) QEMUCPUState {
	var st QEMUCPUState
	d := n.Desc
	if len(d) < 8 {
		st.Err = &FormatError{n.Offset, "QEMU CPU state note shorter than its version and size fields", len(d)}
		return st
	}
	st.Version, st.Size = order.Uint32(d), order.Uint32(d[4:])
	switch {
	case st.Version != 1:
		st.Err = &FormatError{n.Offset, "unknown QEMU CPU state version", st.Version}
		return st
	case len(d) < qemuCPUStateSizeV1 || st.Size < qemuCPUStateSizeV1:
		st.Err = &FormatError{n.Offset, fmt.Sprintf("QEMU CPU state note shorter than %d bytes (size field %d)", qemuCPUStateSizeV1, st.Size), len(d)}
		return st
	}
	binary.Decode(d[8:], order, &st.QEMURegisters)
	if st.Size >= qemuCPUStateSizeGSBase && len(d) >= qemuCPUStateSizeGSBase {
		st.KernelGSBase = order.Uint64(d[qemuCPUStateSizeV1:])
		st.HasKernelGSBase = true
	}
	return st
}
