package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ktriage/ktriage/elfcore"
)

// Frame is one function on a kernel stack.
type Frame struct {
	// PC is the return address into the function, or the exact
	// instruction when the function was interrupted (Interrupted).
	PC uint64 `json:"pc"`
	// SP is the stack slot crash prints for the frame: where the return
	// address was read from, or the interrupted stack pointer.
	SP       uint64 `json:"sp"`
	Function string `json:"function,omitempty"`
	Offset   uint64 `json:"offset"`
	Size     uint64 `json:"size,omitempty"`
	Module   string `json:"module,omitempty"`
	// Stack names the stack the frame lives on: task, IRQ, NMI, DF, DB, MCE.
	Stack string `json:"stack,omitempty"`
	// Reliable is false when the caller was found by scanning the stack
	// (no ORC nor CFI for the function), so the frame may be stale.
	Reliable bool `json:"reliable"`
	// Interrupted: PC is where an interrupt or exception stopped the code.
	Interrupted bool `json:"interrupted,omitempty"`
	// Regs is set on the frame whose code saved a struct pt_regs (an
	// exception, interrupt or system-call entry): the registers of the
	// interrupted code, which the next frame continues from (or user
	// space, when the entry came from there).
	Regs *elfcore.X86_64Regs `json:"regs,omitempty"`
	// IretOnly: Regs came from a bare iret frame, so only RIP, CS,
	// RFLAGS, RSP and SS are known.
	IretOnly bool `json:"iret_only,omitempty"`
	// Exception: the function was stopped by the exception or interrupt
	// whose entry code is the previous frame (which holds its Regs): PC
	// is the faulting or interrupted instruction, crash's
	// "[exception RIP: …]".
	Exception bool `json:"exception,omitempty"`
	// KdumpPath: the frame ran after the dump saved this CPU's registers,
	// between them and kdump's hand-off: machine_kexec (and, when the
	// saved registers are an oops's exception registers, the exception
	// handling that called it), or the NMI handler that parked a CPU.
	// crash's bt lists these frames first; the kernel's own oops trace
	// and drgn start after them, at the saved registers.
	KdumpPath bool `json:"kdump_path,omitempty"`
	// Via says how the caller of this frame was found ("" for the last).
	Via FrameSource `json:"via,omitempty"`
	// File and Line: where the instruction came from (the call, for a
	// return address), when a debug vmlinux with line tables is attached.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// FrameSource is how an unwinding step found a frame's caller.
type FrameSource string

const (
	ViaORC        FrameSource = "orc"         // the kernel's ORC unwind table
	ViaDebugFrame FrameSource = "debug_frame" // CFI from .debug_frame
	ViaFP         FrameSource = "fp"          // the frame-pointer chain (kernels without ORC)
	ViaScan       FrameSource = "scan"        // a return address whose call targets this function
	ViaScanWeak   FrameSource = "scan?"       // any return address found on the stack
)

// Scanned tells whether the caller was found by scanning the stack
// rather than from unwind data: such a frame may be stale.
func (s FrameSource) Scanned() bool { return s == ViaScan || s == ViaScanWeak }

// stepResult is one unwinding step: the caller's state, the stack slot
// its PC came from, how it was found, and the registers of an exception
// frame crossed on the way.
type stepResult struct {
	next walkState
	slot uint64
	via  FrameSource
	regs *elfcore.X86_64Regs
}

// Name is crash's "function+off" spelling (or the bare address).
func (f Frame) Name() string {
	switch {
	case f.Function == "":
		return fmt.Sprintf("%#x", f.PC)
	case f.Offset == 0:
		return f.Function // crash prints no "+0"
	}
	return fmt.Sprintf("%s+%d", f.Function, f.Offset)
}

// ShownByCrash tells whether crash's bt gives frames[i] a numbered line of
// its own. A function stopped by an exception whose frame sits on the same
// stack appears only in that frame's "[exception RIP: …]" line; after a
// switch of stacks (NMI, IRQ) crash lists it again as the first frame of
// the stack it was running on.
func ShownByCrash(frames []Frame, i int) bool {
	f := frames[i]
	return !f.Exception || i == 0 || f.Stack != frames[i-1].Stack
}

// UserMode reports whether saved registers belong to user space.
func UserMode(r *elfcore.X86_64Regs) bool { return r != nil && r.CS&3 != 0 }

// Memory reads the crashed kernel's virtual memory.
type Memory interface {
	ReadVirt(p []byte, addr uint64) error
}

// Func is the function holding an address.
type Func struct {
	Name   string
	Offset uint64 // from the function's start
	Size   uint64
	Module string // "" for the kernel proper
}

// Symbols names the function holding an address (kernel or module text).
type Symbols interface {
	FuncAt(addr uint64) (Func, bool)
}

// ORC finds the ORC entry covering a text address, in the kernel's table
// or in that of the module holding it.
type ORC interface {
	Find(pc uint64) (ORCEntry, bool)
	// Absent tells that the kernel has no ORC table at all (built before
	// 4.14, or with frame pointers): its stacks unwind by CFI and frame
	// pointers.
	Absent() bool
}

// CFI gives the DWARF call-frame rule for a text address (a vmlinux's
// .debug_frame: see DebugFrame).
type CFI interface {
	Rule(pc uint64) (CFARule, bool)
}

// Lines gives the source line of an instruction (pc is the call itself
// for a return address); optional.
type Lines interface {
	Line(pc uint64, f Func) (file string, line int, ok bool)
}

// Config is what an Unwinder reads through. Memory and Symbols are
// required; ORC, CFI and Lines may be nil.
type Config struct {
	Memory  Memory
	Symbols Symbols
	ORC     ORC
	CFI     CFI
	Lines   Lines
}

// Unwinder walks kernel stacks through the sources of its Config.
type Unwinder struct {
	mem   Memory
	syms  Symbols
	orc   ORC
	cfi   CFI
	lines Lines
}

// New returns an Unwinder reading through c.
func New(c Config) *Unwinder {
	return &Unwinder{mem: c.Memory, syms: c.Symbols, orc: c.ORC, cfi: c.CFI, lines: c.Lines}
}

func (u *Unwinder) read(p []byte, addr uint64) error { return u.mem.ReadVirt(p, addr) }

func (u *Unwinder) u64(addr uint64) (uint64, error) {
	var b [8]byte
	if err := u.mem.ReadVirt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func (u *Unwinder) funcAt(addr uint64) (Func, bool) { return u.syms.FuncAt(addr) }

func (u *Unwinder) orcFind(pc uint64) (ORCEntry, bool) {
	if u.orc == nil {
		return ORCEntry{}, false
	}
	return u.orc.Find(pc)
}

func (u *Unwinder) cfiRule(pc uint64) (CFARule, bool) {
	if u.cfi == nil {
		return CFARule{}, false
	}
	return u.cfi.Rule(pc)
}

// noORC tells whether the kernel has no ORC table at all.
func (u *Unwinder) noORC() bool { return u.orc == nil || u.orc.Absent() }

// ptRegsSize is sizeof(struct pt_regs) on x86_64; its first 21 words are
// in the same order as the user_regs_struct an NT_PRSTATUS note holds.
const ptRegsSize = 21 * 8

// iretOffset is offsetof(struct pt_regs, ip): where the hardware iret
// frame (ip, cs, flags, sp, ss) starts.
const iretOffset = 16 * 8

func decodePtRegs(b []byte) elfcore.X86_64Regs {
	var w [21]uint64
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return elfcore.X86_64Regs{R15: w[0], R14: w[1], R13: w[2], R12: w[3], RBP: w[4], RBX: w[5], R11: w[6],
		R10: w[7], R9: w[8], R8: w[9], RAX: w[10], RCX: w[11], RDX: w[12], RSI: w[13], RDI: w[14],
		OrigRAX: w[15], RIP: w[16], CS: w[17], EFLAGS: w[18], RSP: w[19], SS: w[20]}
}

// walkState is the unwinder's view of one frame: the kernel's struct
// unwind_state in spirit.
type walkState struct {
	pc, sp, bp uint64
	// signal: pc is exact (interrupted), so look it up as is rather than
	// pc-1 (a return address may sit past the end of a noreturn call).
	signal bool
	// regs are the registers of the last exception frame crossed (or the
	// starting register set); full is false for a bare iret frame.
	regs *elfcore.X86_64Regs
	full bool
	// iretOnly: the step into this state crossed a bare iret frame.
	iretOnly bool
	// pending: this frame is an interrupt entry shown again on the stack
	// it interrupted, where it left these registers (stepSwitched); the
	// next step crosses them.
	pending *elfcore.X86_64Regs
}

// maxFrames bounds a walk over a corrupt stack.
const maxFrames = 128

// walk unwinds from st, whose PC was found at stack slot slot, and returns
// the frames outermost last. The error says why the walk stopped short of
// the end of the stack (user-mode registers or an end-of-stack entry); the
// frames up to there are returned with it.
func (u *Unwinder) walk(st walkState, slot uint64, stacks Stacks) ([]Frame, error) {
	var frames []Frame
	reliable, tainted := true, false
	for len(frames) < maxFrames {
		f := u.frameAt(st.pc, slot, st.signal)
		f.Reliable = reliable
		if n := len(frames); n > 0 && frames[n-1].Regs != nil && !UserMode(frames[n-1].Regs) {
			f.Exception = true
		}
		if r, ok := stacks.Find(slot); ok {
			f.Stack = r.Name
		}
		r, err := u.step(st, stacks)
		next, nslot, via, regs := r.next, r.slot, r.via, r.regs
		f.Via = via
		if regs != nil {
			f.Regs, f.IretOnly = regs, next.iretOnly
		}
		frames = append(frames, f)
		if errors.Is(err, errEndOfStack) || err == nil && UserMode(regs) {
			return frames, nil
		}
		if err != nil {
			return frames, fmt.Errorf("unwinding stopped after %s: %w", f.Name(), err)
		}
		// A caller found by scanning may be stale. When its call
		// instruction targets this very function the chain above it is
		// trusted again; a mere text address taints everything above.
		switch via {
		case ViaScan:
			reliable = false
		case ViaScanWeak:
			reliable, tainted = false, true
		default:
			reliable = !tainted
		}
		st, slot = next, nslot
	}
	return frames, fmt.Errorf("more than %d frames: stopped (corrupt or looping stack)", maxFrames)
}

// frameAt symbolizes one frame. A return address is named after the
// function holding pc-1: a call at the very end of a function returns
// past it.
func (u *Unwinder) frameAt(pc, slot uint64, exact bool) Frame {
	f := Frame{PC: pc, SP: slot, Interrupted: exact}
	look := pc
	if !exact {
		look--
	}
	if fn, ok := u.funcAt(look); ok {
		f.Function, f.Offset, f.Size, f.Module = fn.Name, fn.Offset, fn.Size, fn.Module
		if !exact {
			f.Offset++
		}
		if u.lines != nil {
			if file, line, ok := u.lines.Line(look, fn); ok {
				f.File, f.Line = file, line
			}
		}
	}
	return f
}

// errEndOfStack ends a walk normally.
var errEndOfStack = errors.New("end of stack")

// step finds the caller of st: the next state, the slot its PC came from,
// how, and the registers of an exception frame it crossed.
func (u *Unwinder) step(st walkState, stacks Stacks) (stepResult, error) {
	if r := st.pending; r != nil {
		next := walkState{pc: r.RIP, sp: r.RSP, bp: r.RBP, signal: true, regs: r, full: true}
		if !UserMode(r) {
			if err := checkProgress(st.sp, next.sp, stacks); err != nil {
				return stepResult{next: st, regs: r}, err
			}
		}
		return stepResult{next, r.RSP, ViaDebugFrame, r}, nil
	}
	look := st.pc
	if !st.signal {
		look--
	}
	e, ok := u.orcFind(look)
	// Functions objtool skipped (STACK_FRAME_NON_STANDARD) have no entry,
	// or fall under an undefined one: ask the CFI, then scan.
	if !ok || e.typ == orcUndefined {
		if r, ok := u.cfiRule(look); ok {
			next, slot, regs, err := u.stepCFI(st, r, stacks)
			if err == nil || !u.noORC() {
				return stepResult{next, slot, ViaDebugFrame, regs}, err
			}
			// Without ORC, the frame chain may still hold where the
			// CFI's register rules did not (hand-written entry code).
		}
		// A kernel with no ORC at all was built with frame pointers.
		if u.noORC() {
			if next, slot, regs, err := u.stepFP(st, stacks); err == nil {
				return stepResult{next, slot, ViaFP, regs}, nil
			}
		}
		next, slot, strong, err := u.stepScan(st, stacks)
		if !strong {
			return stepResult{next, slot, ViaScanWeak, nil}, err
		}
		return stepResult{next, slot, ViaScan, nil}, err
	}
	switch e.typ {
	case orcEndOfStack:
		return stepResult{next: st}, errEndOfStack
	}
	rd := func(a uint64) (uint64, error) { return u.u64(a) }
	var sp uint64
	indirect := false
	switch e.spReg {
	case orcRegSP:
		sp = st.sp + uint64(int64(e.spOffset))
	case orcRegBP:
		sp = st.bp + uint64(int64(e.spOffset))
	case orcRegSPIndirect:
		sp, indirect = st.sp, true
	case orcRegBPIndirect:
		sp, indirect = st.bp+uint64(int64(e.spOffset)), true
	case orcRegR10, orcRegR13, orcRegDI, orcRegDX:
		if st.regs == nil || !st.full {
			return stepResult{next: st}, fmt.Errorf("at %#x the caller's SP is in a register not saved", st.pc)
		}
		sp = map[orcReg]uint64{orcRegR10: st.regs.R10, orcRegR13: st.regs.R13, orcRegDI: st.regs.RDI, orcRegDX: st.regs.RDX}[e.spReg]
	default:
		return stepResult{next: st}, fmt.Errorf("at %#x: unknown ORC sp_reg %d", st.pc, e.spReg)
	}
	if indirect {
		v, err := rd(sp)
		if err != nil {
			return stepResult{next: st}, err
		}
		sp = v
		if e.spReg == orcRegSPIndirect {
			sp += uint64(int64(e.spOffset))
		}
	}
	next := walkState{bp: st.bp}
	var slot uint64
	var regs *elfcore.X86_64Regs
	switch e.typ {
	case orcCall:
		slot = sp - 8
		pc, err := rd(slot)
		if err != nil {
			return stepResult{next: st}, err
		}
		next.pc, next.sp = pc, sp
	case orcRegs:
		b := make([]byte, ptRegsSize)
		if err := u.read(b, sp); err != nil {
			return stepResult{next: st}, fmt.Errorf("pt_regs at %#x: %w", sp, err)
		}
		r := decodePtRegs(b)
		// An entry that switched to the IRQ stack itself (before 5.8)
		// left its pt_regs on the stack it interrupted: crash lists the
		// entry again there, at the pt_regs, as stepSwitched does.
		if cur, ok := stacks.Find(st.sp); ok && !cur.Contains(sp) && !UserMode(&r) && cur.Name == "IRQ" {
			dup := walkState{pc: st.pc, sp: sp, bp: st.bp, signal: st.signal, pending: &r}
			return stepResult{dup, sp, ViaORC, nil}, nil
		}
		regs = &r
		next.pc, next.sp, next.signal, next.regs, next.full = r.RIP, r.RSP, true, regs, true
		slot = r.RSP
	case orcRegsPartial:
		b := make([]byte, 5*8)
		if err := u.read(b, sp); err != nil {
			return stepResult{next: st}, fmt.Errorf("iret frame at %#x: %w", sp, err)
		}
		r := elfcore.X86_64Regs{RIP: binary.LittleEndian.Uint64(b), CS: binary.LittleEndian.Uint64(b[8:]),
			EFLAGS: binary.LittleEndian.Uint64(b[16:]), RSP: binary.LittleEndian.Uint64(b[24:]), SS: binary.LittleEndian.Uint64(b[32:])}
		regs = &r
		// A bare iret frame leaves the other registers as they were.
		next.pc, next.sp, next.signal, next.regs, next.full = r.RIP, r.RSP, true, st.regs, st.full
		next.iretOnly = true
		slot = r.RSP
	}
	switch e.bpReg {
	case orcRegUndefined:
		if e.typ == orcRegs {
			next.bp = regs.RBP
		}
	case orcRegPrevSP:
		v, err := rd(sp + uint64(int64(e.bpOffset)))
		if err != nil {
			return stepResult{next: st}, err
		}
		next.bp = v
	case orcRegBP:
		v, err := rd(st.bp + uint64(int64(e.bpOffset)))
		if err != nil {
			return stepResult{next: st}, err
		}
		next.bp = v
	}
	if UserMode(regs) {
		return stepResult{next, slot, ViaORC, regs}, nil
	}
	if err := checkProgress(st.sp, next.sp, stacks); err != nil {
		return stepResult{next: st, regs: regs}, err
	}
	return stepResult{next, slot, ViaORC, regs}, nil
}

// checkProgress refuses a caller whose SP does not move up its stack,
// unless it moved to another known stack (IRQ or exception stack exit).
func checkProgress(oldSP, newSP uint64, stacks Stacks) error {
	or, ok1 := stacks.Find(oldSP)
	nr, ok2 := stacks.Find(newSP)
	if ok1 && ok2 && or == nr && newSP <= oldSP {
		return fmt.Errorf("stack pointer went down from %#x to %#x: corrupt frame", oldSP, newSP)
	}
	if len(stacks) > 0 && !ok2 {
		return fmt.Errorf("stack pointer %#x is on no known stack", newSP)
	}
	return nil
}

// stepCFI applies a .debug_frame row. A row that saves the stack pointer
// itself describes an exception or interrupt entry (the kernel's entry code
// before ORC annotated its struct pt_regs this way): the caller resumes at
// the saved RIP and RSP exactly, and when RIP and RSP sit where pt_regs
// keeps them below the CFA (the end of the hardware frame), the whole
// struct is read as the exception frame's registers.
func (u *Unwinder) stepCFI(st walkState, r CFARule, stacks Stacks) (walkState, uint64, *elfcore.X86_64Regs, error) {
	if r.switched {
		return u.stepSwitched(st, r, stacks)
	}
	base := st.sp
	if r.cfaReg == dwarfRegRBP {
		base = st.bp
	}
	cfa := base + uint64(r.cfaOff)
	slot := cfa + uint64(r.raOff)
	pc, err := u.u64(slot)
	if err != nil {
		return st, 0, nil, err
	}
	next := walkState{pc: pc, sp: cfa, bp: st.bp}
	if r.bpSaved {
		if v, err := u.u64(cfa + uint64(r.bpOff)); err == nil {
			next.bp = v
		}
	}
	var regs *elfcore.X86_64Regs
	const ripOff = iretOffset - ptRegsSize // from the end of pt_regs
	if !r.spSaved && r.raOff == ripOff {
		// A system call's entry (3.10's system_call) describes its
		// struct pt_regs by the saved RIP alone, with the CFA at the
		// end of pt_regs: the frame below is the one saved there.
		b := make([]byte, ptRegsSize)
		if err := u.read(b, cfa-ptRegsSize); err == nil {
			pr := decodePtRegs(b)
			if pr.RIP == pc {
				regs = &pr
				next = walkState{pc: pr.RIP, sp: pr.RSP, bp: pr.RBP, signal: true, regs: regs, full: true}
				slot = pr.RSP
				if UserMode(regs) {
					return next, slot, regs, nil
				}
			}
		}
	}
	if r.spSaved {
		sp, err := u.u64(cfa + uint64(r.spOff))
		if err != nil {
			return st, 0, nil, err
		}
		next.sp, next.signal = sp, true
		slot = sp
		// RIP and RSP where pt_regs keeps them (RSP three slots above
		// RIP): the row describes a struct pt_regs, whose end is the
		// CFA (or one slot below it: 3.10's error entries count the
		// error code's slot in).
		if r.spOff-r.raOff == 3*8 && (r.raOff == ripOff || r.raOff == ripOff-8) {
			b := make([]byte, ptRegsSize)
			if err := u.read(b, cfa+uint64(r.raOff)-iretOffset); err == nil {
				pr := decodePtRegs(b)
				regs = &pr
				next.regs, next.full, next.bp = regs, true, pr.RBP
			}
		}
		if UserMode(regs) {
			return next, slot, regs, nil
		}
	}
	if err := checkProgress(st.sp, next.sp, stacks); err != nil {
		return st, 0, nil, err
	}
	return next, slot, regs, nil
}

// stepSwitched leaves an IRQ stack the way 3.10's interrupt entry left
// it: the entry saved the interrupted stack pointer on the IRQ stack, and
// its CFI's expression turns that into the end of the struct pt_regs it
// wrote on the interrupted stack (the kernel's own dump_trace follows the
// same pointer). crash shows the entry function again there, at the
// pt_regs, with the registers as its exception frame; so does this: the
// next state is the entry once more, on the interrupted stack, and its
// step crosses the registers.
func (u *Unwinder) stepSwitched(st walkState, r CFARule, stacks Stacks) (walkState, uint64, *elfcore.X86_64Regs, error) {
	base := st.sp
	if r.cfaReg == dwarfRegRBP {
		base = st.bp
	}
	prev, err := u.u64(base + uint64(r.cfaOff))
	if err != nil {
		return st, 0, nil, err
	}
	at := prev + uint64(r.derefAdd) - ptRegsSize
	b := make([]byte, ptRegsSize)
	if err := u.read(b, at); err != nil {
		return st, 0, nil, fmt.Errorf("pt_regs at %#x: %w", at, err)
	}
	pr := decodePtRegs(b)
	if !UserMode(&pr) {
		if _, ok := u.funcAt(pr.RIP); !ok {
			return st, 0, nil, fmt.Errorf("pt_regs at %#x: RIP %#x is not kernel text", at, pr.RIP)
		}
	}
	next := walkState{pc: st.pc, sp: at, bp: st.bp, signal: st.signal, pending: &pr}
	if err := checkProgress(st.sp, next.sp, stacks); err != nil {
		return st, 0, nil, err
	}
	return next, at, nil, nil
}

// stepFP follows the frame-pointer chain of a kernel built without ORC:
// rbp points at the saved rbp with the return address above it. Entry
// code marks a struct pt_regs by setting the low bit (ENCODE_FRAME_POINTER).
func (u *Unwinder) stepFP(st walkState, stacks Stacks) (walkState, uint64, *elfcore.X86_64Regs, error) {
	cur, ok := stacks.Find(st.sp)
	if !ok {
		return st, 0, nil, fmt.Errorf("fp: %#x is on no known stack", st.sp)
	}
	if st.bp&1 != 0 {
		at := st.bp &^ 1
		if !cur.Contains(at) || at+ptRegsSize > cur.Hi {
			return st, 0, nil, fmt.Errorf("fp: encoded pt_regs %#x off the stack", at)
		}
		b := make([]byte, ptRegsSize)
		if err := u.read(b, at); err != nil {
			return st, 0, nil, err
		}
		r := decodePtRegs(b)
		return walkState{pc: r.RIP, sp: r.RSP, bp: r.RBP, signal: true, regs: &r, full: true}, r.RSP, &r, nil
	}
	if st.bp < st.sp || st.bp%8 != 0 || !cur.Contains(st.bp+8) {
		return st, 0, nil, fmt.Errorf("fp: rbp %#x is not a frame above %#x", st.bp, st.sp)
	}
	savedBP, err1 := u.u64(st.bp)
	pc, err2 := u.u64(st.bp + 8)
	if err1 != nil || err2 != nil {
		return st, 0, nil, fmt.Errorf("fp: frame at %#x unreadable", st.bp)
	}
	if _, isCall := u.callBefore(pc); !isCall {
		return st, 0, nil, fmt.Errorf("fp: %#x above rbp %#x is no return address", pc, st.bp)
	}
	return walkState{pc: pc, sp: st.bp + 16, bp: savedBP}, st.bp + 8, nil, nil
}

// startKernelMap is __START_KERNEL_map: no kernel text lies below it, so
// no return address either.
const startKernelMap = 0xffffffff80000000

// maxScan bounds how far up the stack a scan looks for a return address.
const maxScan = 4096

// stepScan finds the caller of a function with no unwind information by
// looking up the stack for a return address. A return address whose call
// instruction targets the current function is taken first (strong);
// failing that, the nearest text address that follows any call.
func (u *Unwinder) stepScan(st walkState, stacks Stacks) (walkState, uint64, bool, error) {
	top := st.sp + maxScan
	if r, ok := stacks.Find(st.sp); ok && r.Hi < top {
		top = r.Hi
	}
	fnStart := uint64(0)
	look := st.pc
	if !st.signal {
		look--
	}
	if fn, ok := u.funcAt(look); ok {
		fnStart = look - fn.Offset
	}
	n := int((top - st.sp) / 8)
	if n <= 0 {
		return st, 0, false, fmt.Errorf("scan: no stack above %#x", st.sp)
	}
	buf := make([]byte, n*8)
	if err := u.read(buf, st.sp); err != nil {
		return st, 0, false, fmt.Errorf("scan: %w", err)
	}
	fallback := -1
	for i := 0; i < n; i++ {
		v := binary.LittleEndian.Uint64(buf[8*i:])
		target, isCall := u.callBefore(v)
		if !isCall {
			continue
		}
		if fnStart != 0 && target == fnStart {
			slot := st.sp + uint64(8*i)
			return walkState{pc: v, sp: slot + 8, bp: st.bp}, slot, true, nil
		}
		if fallback < 0 {
			fallback = i
		}
	}
	if fallback < 0 {
		if r, ok := stacks.Find(st.sp); ok && top == r.Hi {
			// Nothing called this frame up to the top of its stack:
			// the first function the stack ran (start_cpu on a
			// secondary CPU's idle stack).
			return st, 0, false, errEndOfStack
		}
		return st, 0, false, fmt.Errorf("scan: no return address above %#x", st.sp)
	}
	slot := st.sp + uint64(8*fallback)
	v := binary.LittleEndian.Uint64(buf[8*fallback:])
	return walkState{pc: v, sp: slot + 8, bp: st.bp}, slot, false, nil
}

// callBefore tells whether v is a kernel text address that follows a call
// instruction, and the call's target when it is a direct call (else 0).
func (u *Unwinder) callBefore(v uint64) (uint64, bool) {
	if v < startKernelMap {
		return 0, false
	}
	if _, ok := u.funcAt(v - 1); !ok {
		return 0, false
	}
	var b [7]byte
	if err := u.read(b[:], v-7); err != nil {
		return 0, false
	}
	if b[2] == 0xe8 { // call rel32
		return v + uint64(int64(int32(binary.LittleEndian.Uint32(b[3:])))), true
	}
	// Indirect calls: ff /2 with a register (2 bytes, 3 with REX) or a
	// memory operand (3 to 7 bytes).
	for n := 2; n <= 7; n++ {
		op := b[7-n]
		if op == 0xff && n >= 2 && (b[8-n]>>3)&7 == 2 {
			return 0, true
		}
	}
	return 0, false
}
