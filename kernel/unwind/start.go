package unwind

import (
	"encoding/binary"
	"strings"

	"github.com/ktriage/ktriage/elfcore"
)

// Where an unwind starts. A sleeping task's registers were pushed by
// __switch_to_asm as a struct inactive_task_frame at thread.sp. A task on
// a CPU starts from that CPU's NT_PRSTATUS note, with two kdump twists:
//
//   - the panic CPU's registers were taken by crash_setup_regs inside
//     __crash_kexec, which then called machine_kexec and never returned;
//     its frame is still below the saved SP, and crash lists it first;
//   - every other CPU was stopped by an NMI whose handler saved the
//     interrupted registers and then parked in crash_nmi_callback on the
//     NMI stack; those handler frames come first, then the interrupted code.

// IsCrashSaveSite tells whether fn (a symbol name, gcc clone suffixes and
// all) is where kdump's crash_setup_regs saves the panic CPU's registers.
func IsCrashSaveSite(fn string) bool {
	switch cloneBase(fn) {
	case "__crash_kexec", "crash_kexec", "crash_setup_regs":
		return true
	}
	return false
}

// cloneBase is a function's name without the suffix gcc gives a clone of
// it (__crash_kexec.part.0, nmi_handle.constprop.0): the clone runs the
// same code.
func cloneBase(name string) string {
	for _, cut := range []string{".part.", ".isra.", ".constprop."} {
		if i := strings.Index(name, cut); i > 0 {
			name = name[:i]
		}
	}
	return name
}

// isNMIParkSite tells the NMI handler where kdump parks the other CPUs.
func isNMIParkSite(fn string) bool { return fn == "crash_nmi_callback" }

// Start is where a walk begins: a sleeping task's switch frame, whose PC
// was read from stack slot Slot.
type Start struct {
	PC, SP, BP, Slot uint64
	// Exact: PC is the instruction to resume, not a return address
	// (a task that never ran resumes at ret_from_fork's entry).
	Exact bool
}

// Walk unwinds from s and returns the frames, outermost last. The error
// says why the walk stopped short of the end of the stack; the frames up
// to there are returned with it.
func (u *Unwinder) Walk(s Start, stacks Stacks) ([]Frame, error) {
	return u.walk(walkState{pc: s.PC, sp: s.SP, bp: s.BP, signal: s.Exact}, s.Slot, stacks)
}

// FromRegs unwinds from a CPU's saved registers, or from the frame of
// kdump's hand-off (or NMI handler) above them, as crash does; the frames
// above the saved registers are marked KdumpPath.
func (u *Unwinder) FromRegs(regs elfcore.X86_64Regs, stacks Stacks) ([]Frame, error) {
	st, slot, ok := u.handoffFrame(regs, stacks)
	if !ok {
		st = walkState{pc: regs.RIP, sp: regs.RSP, bp: regs.RBP, signal: true, regs: &regs, full: true}
		return u.walk(st, regs.RSP, stacks)
	}
	frames, err := u.walk(st, slot, stacks)
	markKdumpPath(frames, regs, stacks)
	return frames, err
}

// handoffFrame finds where crash starts a CPU whose registers the dump
// saved on the way to the capture kernel: the frame that ran above them.
func (u *Unwinder) handoffFrame(regs elfcore.X86_64Regs, stacks Stacks) (walkState, uint64, bool) {
	if fn, ok := u.funcAt(regs.RIP); ok && IsCrashSaveSite(fn.Name) {
		if st, slot, ok := u.kexecFrame(regs, stacks); ok {
			return st, slot, true
		}
	}
	if st, slot, ok := u.nmiParkFrame(regs, stacks); ok {
		return st, slot, true
	}
	return u.kexecAboveException(regs, stacks)
}

// markKdumpPath marks the frames that ran above the saved registers: those
// before the first frame at or above the saved SP on the saved SP's own
// stack (the interrupted function, or the caller of the hand-off).
func markKdumpPath(frames []Frame, regs elfcore.X86_64Regs, stacks Stacks) {
	home, ok := stacks.Find(regs.RSP)
	if !ok {
		return
	}
	for i, f := range frames {
		if r, ok := stacks.Find(f.SP); ok && r == home && f.SP >= regs.RSP-8 {
			for j := range frames[:i] {
				frames[j].KdumpPath = true
			}
			return
		}
	}
}

// isKexecHandoff tells the function that hands the CPU to the capture
// kernel and never returns.
func isKexecHandoff(fn string) bool { return fn == "machine_kexec" }

// kexecAboveException finds kdump's hand-off when the saved registers are
// not its own but an exception's: an oops calls crash_kexec with the
// exception's struct pt_regs, which crash_setup_regs copies into the dump.
// machine_kexec's frame then lies deeper on one of the CPU's stacks; it is
// the return address into machine_kexec, lowest on its stack as crash
// searches, whose unwind reaches an exception frame holding exactly the
// saved RIP and RSP.
func (u *Unwinder) kexecAboveException(regs elfcore.X86_64Regs, stacks Stacks) (walkState, uint64, bool) {
	var page [4096]byte
	for _, r := range stacks {
		for lo := r.Lo; lo < r.Hi; lo += uint64(len(page)) {
			n := min(uint64(len(page)), r.Hi-lo)
			if err := u.read(page[:n], lo); err != nil {
				continue
			}
			for off := uint64(0); off+8 <= n; off += 8 {
				v := binary.LittleEndian.Uint64(page[off:])
				if fn, ok := u.funcAt(v - 1); !ok || !isKexecHandoff(fn.Name) {
					continue
				}
				if _, isCall := u.callBefore(v); !isCall {
					continue
				}
				st := walkState{pc: v, sp: lo + off + 8, bp: regs.RBP}
				if u.reachesRegs(st, regs, stacks, maxHandoffDepth) {
					return st, lo + off, true
				}
				// Without ORC the hand-off's frame is found through its
				// frame pointer, which no saved register holds: try each
				// frame record above the slot (a saved rbp pointing
				// further up the stack, then a return address).
				if u.noORC() {
					for _, bp := range u.frameRecordsAbove(r, lo+off+8) {
						st.bp = bp
						if u.reachesRegs(st, regs, stacks, maxHandoffDepth) {
							return st, lo + off, true
						}
					}
				}
			}
		}
	}
	return walkState{}, 0, false
}

// frameRecordsAbove lists the slots in r, from sp up to a page above it,
// that look like a frame-pointer record: the saved rbp of the caller
// (higher on the same stack) followed by a return address.
func (u *Unwinder) frameRecordsAbove(r StackRange, sp uint64) []uint64 {
	var out []uint64
	for p := sp; p+16 <= r.Hi && p < sp+4096; p += 8 {
		saved, err1 := u.u64(p)
		ret, err2 := u.u64(p + 8)
		if err1 != nil || err2 != nil || saved <= p || !r.Contains(saved) {
			continue
		}
		if _, isCall := u.callBefore(ret); isCall {
			out = append(out, p)
		}
	}
	return out
}

// maxHandoffDepth bounds the frames between kdump's hand-off and the
// exception whose registers it saved (seven on 6.1: machine_kexec …
// asm_exc_page_fault; older page-fault paths are a few frames longer).
const maxHandoffDepth = 24

// reachesRegs tells whether unwinding from st, by unwind data or by a
// return address that calls the function below it, crosses an exception
// frame before any other, within depth steps, and that frame holds the
// saved RIP and RSP.
func (u *Unwinder) reachesRegs(st walkState, regs elfcore.X86_64Regs, stacks Stacks, depth int) bool {
	for i := 0; i < depth; i++ {
		res, err := u.step(st, stacks)
		next, via, r := res.next, res.via, res.regs
		if err != nil || via == ViaScanWeak {
			return false
		}
		if r != nil {
			return r.RIP == regs.RIP && r.RSP == regs.RSP
		}
		st = next
	}
	return false
}

// kexecFrame finds the frame of the function the register-saving one
// called afterwards and that never returned (machine_kexec): the slot just
// below the saved SP holds the return address of that call, and the
// callee's own last return address lies further down, at a slot from which
// its unwind entry leads back to exactly that return address.
func (u *Unwinder) kexecFrame(regs elfcore.X86_64Regs, stacks Stacks) (walkState, uint64, bool) {
	retSlot := regs.RSP - 8
	ret, err := u.u64(retSlot)
	if err != nil {
		return walkState{}, 0, false
	}
	callee, isCall := u.callBefore(ret)
	if !isCall || callee == 0 {
		return walkState{}, 0, false
	}
	lo := regs.RSP - maxScan
	if r, ok := stacks.Find(regs.RSP); ok && r.Lo > lo {
		lo = r.Lo
	}
	for s := retSlot - 8; s >= lo; s -= 8 {
		v, err := u.u64(s)
		if err != nil {
			break
		}
		fn, ok := u.funcAt(v - 1)
		if !ok || v-1-fn.Offset != callee {
			continue
		}
		st := walkState{pc: v, sp: s + 8, bp: regs.RBP}
		if res, err := u.step(st, stacks); err == nil && !res.via.Scanned() && res.slot == retSlot {
			return st, s, true
		}
		// Without ORC the callee's frame is found through its own
		// frame pointer: a frame record between it and the saved SP.
		if u.noORC() {
			if r, ok := stacks.Find(s); ok {
				for _, bp := range u.frameRecordsAbove(r, s+8) {
					if bp >= retSlot {
						break
					}
					st.bp = bp
					if res, err := u.step(st, stacks); err == nil && !res.via.Scanned() && res.slot == retSlot {
						return st, s, true
					}
				}
			}
		}
	}
	return walkState{}, 0, false
}

// nmiParkFrame finds the NMI handler a CPU was parked in: a return address
// into the park site (isNMIParkSite) on the CPU's NMI stack whose unwind reaches an
// exception frame holding exactly the saved registers.
func (u *Unwinder) nmiParkFrame(regs elfcore.X86_64Regs, stacks Stacks) (walkState, uint64, bool) {
	var nmi StackRange
	for _, r := range stacks {
		if r.Name == "NMI" {
			nmi = r
		}
	}
	if nmi.Hi == 0 || nmi.Contains(regs.RSP) {
		return walkState{}, 0, false
	}
	buf := make([]byte, nmi.Hi-nmi.Lo)
	if err := u.read(buf, nmi.Lo); err != nil {
		return walkState{}, 0, false
	}
	for off := 0; off+8 <= len(buf); off += 8 {
		v := binary.LittleEndian.Uint64(buf[off:])
		fn, ok := u.funcAt(v - 1)
		if !ok || !isNMIParkSite(fn.Name) {
			continue
		}
		slot := nmi.Lo + uint64(off)
		st := walkState{pc: v, sp: slot + 8, bp: regs.RBP}
		if u.reachesRegs(st, regs, stacks, 16) {
			return st, slot, true
		}
		if u.noORC() { // the handler's frame pointer, as in kexecAboveException
			for _, bp := range u.frameRecordsAbove(nmi, slot+8) {
				st.bp = bp
				if u.reachesRegs(st, regs, stacks, 16) {
					return st, slot, true
				}
			}
		}
	}
	return walkState{}, 0, false
}
