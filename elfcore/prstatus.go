package elfcore

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// X86_64Regs is the x86_64 kernel's struct user_regs_struct, in its order:
// what pr_reg holds in an NT_PRSTATUS note.
type X86_64Regs struct {
	R15, R14, R13, R12, RBP, RBX, R11, R10, R9, R8    uint64
	RAX, RCX, RDX, RSI, RDI, OrigRAX, RIP, CS, EFLAGS uint64
	RSP, SS, FSBase, GSBase, DS, ES, FS, GS           uint64
}

// I386Regs is the i386 kernel's struct user_regs_struct, in its order.
type I386Regs struct {
	EBX, ECX, EDX, ESI, EDI, EBP, EAX, DS, ES, FS, GS uint32
	OrigEAX, EIP, CS, EFLAGS, ESP, SS                 uint32
}

// Widen returns the i386 registers in their x86_64 counterparts, zero-extended.
func (r I386Regs) Widen() X86_64Regs {
	return X86_64Regs{
		RBX: uint64(r.EBX), RCX: uint64(r.ECX), RDX: uint64(r.EDX), RSI: uint64(r.ESI),
		RDI: uint64(r.EDI), RBP: uint64(r.EBP), RAX: uint64(r.EAX), DS: uint64(r.DS),
		ES: uint64(r.ES), FS: uint64(r.FS), GS: uint64(r.GS), OrigRAX: uint64(r.OrigEAX),
		RIP: uint64(r.EIP), CS: uint64(r.CS), EFLAGS: uint64(r.EFLAGS), RSP: uint64(r.ESP),
		SS: uint64(r.SS),
	}
}

// Timeval is a struct __kernel_old_timeval.
type Timeval struct{ Sec, Usec int64 }

// PRStatus is one NT_PRSTATUS note (struct elf_prstatus). In a vmcore there
// is one per CPU, in CPU order, holding the registers that CPU saved when
// the kernel crashed (the panicking CPU's are those of crash_setup_regs; the
// others' were taken by the NMI that stopped them).
type PRStatus struct {
	SigNo, SigCode, SigErrno int32 // pr_info
	CurSig                   int16
	SigPend, SigHold         uint64
	PID, PPID, PGrp, SID     int32
	UTime, STime             Timeval
	CUTime, CSTime           Timeval
	// Regs holds pr_reg for EM_X86_64, and for EM_386 the i386 registers
	// widened (see I386).
	Regs X86_64Regs
	// I386 is set when the note uses the i386 layout (e_machine EM_386).
	I386    *I386Regs
	FPValid int32
	// RawRegs is pr_reg as stored, for machines whose registers this
	// package does not decode. It aliases the note buffer.
	RawRegs []byte
	// Err says why the note could not be fully decoded (too short); the
	// fields it covers are then zero. Nil for a good note.
	Err error
}

// prstatusLayout says where pr_reg lies and how wide it is for one kernel ABI.
type prstatusLayout struct {
	long    int // sizeof(long): 8 on 64-bit kernels, 4 on 32-bit
	regsOff int // offset of pr_reg
	regsLen int // bytes of pr_reg; 0 when unknown for the machine
}

func layoutFor(machine elf.Machine, class elf.Class) prstatusLayout {
	switch machine {
	case elf.EM_X86_64:
		return prstatusLayout{8, 112, 27 * 8}
	case elf.EM_386:
		return prstatusLayout{4, 72, 17 * 4}
	}
	// Other machines: the common part is sized by long; pr_reg runs up to
	// pr_fpvalid, which with its padding fills the last long-aligned slot.
	if class == elf.ELFCLASS64 {
		return prstatusLayout{8, 112, 0}
	}
	return prstatusLayout{4, 72, 0}
}

// prstatusCommon64 and prstatusCommon32 are struct elf_prstatus_common for
// 64-bit and 32-bit kernels; binary.Decode reads them with no padding, which
// matches the C layout because each field is already aligned.
type prstatusCommon64 struct {
	SigNo, SigCode, SigErrno int32
	CurSig                   int16
	_                        [2]byte
	SigPend, SigHold         uint64
	PID, PPID, PGrp, SID     int32
	Times                    [8]int64
}

type prstatusCommon32 struct {
	SigNo, SigCode, SigErrno int32
	CurSig                   int16
	_                        [2]byte
	SigPend, SigHold         uint32
	PID, PPID, PGrp, SID     int32
	Times                    [8]int32
}

// PRStatus decodes every NT_PRSTATUS note named "CORE", in note order
// (CPU order in a vmcore).
func (f *File) PRStatus() []PRStatus {
	var out []PRStatus
	for _, n := range f.Notes {
		if n.Name == NoteNameCore && n.Type == uint32(elf.NT_PRSTATUS) {
			out = append(out, decodePRStatus(f.Machine, f.Class, f.ByteOrder, n))
		}
	}
	return out
}

// DecodePRStatus decodes one NT_PRSTATUS note that did not come from an
// ELF file of ours, such as the note area of a kdump-compressed dump, for
// the given machine; x86 notes are little-endian, and the kernel's word
// size follows from the machine (EM_386: 32-bit, others: 64-bit).
func DecodePRStatus(machine elf.Machine, n Note) PRStatus {
	class := elf.ELFCLASS64
	if machine == elf.EM_386 {
		class = elf.ELFCLASS32
	}
	return decodePRStatus(machine, class, binary.LittleEndian, n)
}

func decodePRStatus(machine elf.Machine, class elf.Class, order binary.ByteOrder, n Note) PRStatus {
	var ps PRStatus
	lay := layoutFor(machine, class)
	desc := n.Desc
	regsLen := lay.regsLen
	if regsLen == 0 && len(desc) >= lay.regsOff+2*lay.long {
		regsLen = (len(desc) - lay.regsOff - lay.long) / lay.long * lay.long
	}
	need := lay.regsOff + regsLen + 4 // through pr_fpvalid
	if len(desc) < need {
		ps.Err = &FormatError{n.Offset, fmt.Sprintf("NT_PRSTATUS descriptor shorter than %d bytes for %v", need, machine), len(desc)}
		padded := make([]byte, need)
		copy(padded, desc)
		desc = padded
	}

	if lay.long == 8 {
		var c prstatusCommon64
		binary.Decode(desc, order, &c)
		ps.SigNo, ps.SigCode, ps.SigErrno, ps.CurSig = c.SigNo, c.SigCode, c.SigErrno, c.CurSig
		ps.SigPend, ps.SigHold = c.SigPend, c.SigHold
		ps.PID, ps.PPID, ps.PGrp, ps.SID = c.PID, c.PPID, c.PGrp, c.SID
		ps.UTime, ps.STime = Timeval{c.Times[0], c.Times[1]}, Timeval{c.Times[2], c.Times[3]}
		ps.CUTime, ps.CSTime = Timeval{c.Times[4], c.Times[5]}, Timeval{c.Times[6], c.Times[7]}
	} else {
		var c prstatusCommon32
		binary.Decode(desc, order, &c)
		ps.SigNo, ps.SigCode, ps.SigErrno, ps.CurSig = c.SigNo, c.SigCode, c.SigErrno, c.CurSig
		ps.SigPend, ps.SigHold = uint64(c.SigPend), uint64(c.SigHold)
		ps.PID, ps.PPID, ps.PGrp, ps.SID = c.PID, c.PPID, c.PGrp, c.SID
		t := func(i int) Timeval { return Timeval{int64(c.Times[i]), int64(c.Times[i+1])} }
		ps.UTime, ps.STime, ps.CUTime, ps.CSTime = t(0), t(2), t(4), t(6)
	}

	regs := desc[lay.regsOff : lay.regsOff+regsLen : lay.regsOff+regsLen]
	if ps.Err == nil {
		ps.RawRegs = regs
	}
	switch machine {
	case elf.EM_X86_64:
		binary.Decode(regs, order, &ps.Regs)
	case elf.EM_386:
		var r I386Regs
		binary.Decode(regs, order, &r)
		ps.I386, ps.Regs = &r, r.Widen()
	}
	ps.FPValid = int32(order.Uint32(desc[lay.regsOff+regsLen:]))
	return ps
}
