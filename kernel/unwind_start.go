package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// Backtrace unwinds a task: from its CPU's saved registers when it was
// running there, else from its switch frame.
func (k *Kernel) Backtrace(t Task) ([]Frame, error) {
	if t.Active && t.CPU >= 0 {
		if regs, ok := k.cpuRegs(t.CPU); ok {
			return k.unwindRegs(t, t.CPU, regs)
		}
	}
	return k.unwindSleeping(t)
}

// CPUBacktrace unwinds what a CPU was running when the kernel crashed.
func (k *Kernel) CPUBacktrace(cpu int) (Task, []Frame, error) {
	t, err := k.CPUTask(cpu)
	if err != nil {
		return t, nil, err
	}
	regs, ok := k.cpuRegs(cpu)
	if !ok {
		return t, nil, fmt.Errorf("cpu %d: no saved registers in the dump", cpu)
	}
	frames, err := k.unwindRegs(t, cpu, regs)
	return t, frames, err
}

// CPUTask returns the task a CPU was running (its runqueue's curr).
func (k *Kernel) CPUTask(cpu int) (Task, error) {
	rqs, err := k.RunQueues()
	if err != nil {
		return Task{}, err
	}
	for _, rq := range rqs {
		if rq.CPU != cpu {
			continue
		}
		l, err := k.taskLayout()
		if err != nil {
			return Task{}, err
		}
		t, err := k.readTask(l, rq.Curr)
		if err != nil {
			return t, err
		}
		t.Active, t.Idle = true, rq.Curr == rq.Idle
		if t.CPU < 0 {
			t.CPU = cpu
		}
		return t, nil
	}
	return Task{}, fmt.Errorf("cpu %d has no runqueue in the dump", cpu)
}

// cpuRegs returns a CPU's saved registers. Notes are in CPU order.
func (k *Kernel) cpuRegs(cpu int) (elfcore.X86_64Regs, bool) {
	ps := k.Dump.PRStatus()
	if cpu < 0 || cpu >= len(ps) || ps[cpu].Err != nil || ps[cpu].RawRegs == nil && ps[cpu].Regs == (elfcore.X86_64Regs{}) {
		return elfcore.X86_64Regs{}, false
	}
	return ps[cpu].Regs, true
}

// PanicCPU is the CPU that crashed: panic_cpu when panic() got that far,
// else the CPU whose saved RIP is in the kdump crash path, else the kdump
// header's current_cpu. -1 when none can tell.
func (k *Kernel) PanicCPU() int {
	if a, err := k.Addr("panic_cpu"); err == nil {
		if v, err := k.U32(a); err == nil && int32(v) >= 0 && int(v) < k.NrCPUIDs() {
			return int(v)
		}
	}
	// The saved RIP comes before the kdump header: makedumpfile writes
	// current_cpu 0 for a panic on CPU 1 (hung-kdump-zstd).
	for cpu, p := range k.Dump.PRStatus() {
		if name, _, _, _, ok := k.symbolize(p.Regs.RIP); ok && crashSaveSites[cloneBase(name)] {
			return cpu
		}
	}
	if k.Dump.PanicCPU >= 0 && k.Dump.PanicCPU < k.NrCPUIDs() {
		return k.Dump.PanicCPU
	}
	return -1
}

// crashSaveSites are the functions where kdump's crash_setup_regs saves the
// panic CPU's registers.
var crashSaveSites = map[string]bool{"__crash_kexec": true, "crash_kexec": true, "crash_setup_regs": true}

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

// nmiParkSites are the NMI handlers where kdump parks the other CPUs.
var nmiParkSites = map[string]bool{"crash_nmi_callback": true}

// unwindSleeping starts from thread.sp's struct inactive_task_frame.
func (k *Kernel) unwindSleeping(t Task) ([]Frame, error) {
	if t.StackPtr == 0 {
		return nil, fmt.Errorf("task %d (%s): thread.sp is 0", t.PID, t.Comm)
	}
	// A task that exited may have had its stack freed already.
	if t.StackBase == 0 || t.StackPtr < t.StackBase || t.StackPtr >= t.StackBase+k.threadSize() {
		return nil, fmt.Errorf("task %d (%s): thread.sp %#x is not on its stack at %#x", t.PID, t.Comm, t.StackPtr, t.StackBase)
	}
	if !k.Types.HasMember("inactive_task_frame", "ret_addr") {
		return k.unwindSwitchedOld(t)
	}
	retOff, err := k.Off("inactive_task_frame", "ret_addr")
	if err != nil {
		return nil, err
	}
	bpOff, err := k.Off("inactive_task_frame", "bp")
	if err != nil {
		return nil, err
	}
	size, err := k.Types.StructSize("inactive_task_frame")
	if err != nil {
		return nil, err
	}
	pc, err := k.U64(t.StackPtr + retOff)
	if err != nil {
		return nil, fmt.Errorf("task %d (%s): switch frame at %#x: %w", t.PID, t.Comm, t.StackPtr, err)
	}
	bp, _ := k.U64(t.StackPtr + bpOff)
	st := walkState{pc: pc, sp: t.StackPtr + size, bp: bp}
	// A task that never ran returns straight into ret_from_fork, whose
	// entry is exact rather than a return address.
	if name, off, _, _, ok := k.symbolize(pc); ok && name == "ret_from_fork" && off == 0 {
		st.signal = true
	}
	return k.walk(st, t.StackPtr+retOff, k.stacksFor(t, t.CPU))
}

// unwindRegs starts from a CPU's saved registers, or from the frame of
// kdump's hand-off (or NMI handler) above them, as crash does; the frames
// above the saved registers are marked KdumpPath.
func (k *Kernel) unwindRegs(t Task, cpu int, regs elfcore.X86_64Regs) ([]Frame, error) {
	stacks := k.stacksFor(t, cpu)
	st, slot, ok := k.handoffFrame(regs, stacks)
	if !ok {
		st = walkState{pc: regs.RIP, sp: regs.RSP, bp: regs.RBP, signal: true, regs: &regs, full: true}
		return k.walk(st, regs.RSP, stacks)
	}
	frames, err := k.walk(st, slot, stacks)
	markKdumpPath(frames, regs, stacks)
	return frames, err
}

// handoffFrame finds where crash starts a CPU whose registers the dump
// saved on the way to the capture kernel: the frame that ran above them.
func (k *Kernel) handoffFrame(regs elfcore.X86_64Regs, stacks stackSet) (walkState, uint64, bool) {
	if name, _, _, _, ok := k.symbolize(regs.RIP); ok && crashSaveSites[cloneBase(name)] {
		if st, slot, ok := k.kexecFrame(regs, stacks); ok {
			return st, slot, true
		}
	}
	if st, slot, ok := k.nmiParkFrame(regs, stacks); ok {
		return st, slot, true
	}
	return k.kexecAboveException(regs, stacks)
}

// markKdumpPath marks the frames that ran above the saved registers: those
// before the first frame at or above the saved SP on the saved SP's own
// stack (the interrupted function, or the caller of the hand-off).
func markKdumpPath(frames []Frame, regs elfcore.X86_64Regs, stacks stackSet) {
	home, ok := stacks.find(regs.RSP)
	if !ok {
		return
	}
	for i, f := range frames {
		if r, ok := stacks.find(f.SP); ok && r == home && f.SP >= regs.RSP-8 {
			for j := range frames[:i] {
				frames[j].KdumpPath = true
			}
			return
		}
	}
}

// kexecHandoffs are the functions that hand the CPU to the capture kernel
// and never return.
var kexecHandoffs = map[string]bool{"machine_kexec": true}

// kexecAboveException finds kdump's hand-off when the saved registers are
// not its own but an exception's: an oops calls crash_kexec with the
// exception's struct pt_regs, which crash_setup_regs copies into the dump.
// machine_kexec's frame then lies deeper on one of the CPU's stacks; it is
// the return address into machine_kexec, lowest on its stack as crash
// searches, whose unwind reaches an exception frame holding exactly the
// saved RIP and RSP.
func (k *Kernel) kexecAboveException(regs elfcore.X86_64Regs, stacks stackSet) (walkState, uint64, bool) {
	var page [4096]byte
	for _, r := range stacks {
		for lo := r.Lo; lo < r.Hi; lo += uint64(len(page)) {
			n := min(uint64(len(page)), r.Hi-lo)
			if err := k.Read(page[:n], lo); err != nil {
				continue
			}
			for off := uint64(0); off+8 <= n; off += 8 {
				v := binary.LittleEndian.Uint64(page[off:])
				if name, _, _, _, ok := k.symbolize(v - 1); !ok || !kexecHandoffs[name] {
					continue
				}
				if _, isCall := k.callBefore(v); !isCall {
					continue
				}
				st := walkState{pc: v, sp: lo + off + 8, bp: regs.RBP}
				if k.reachesRegs(st, regs, stacks, maxHandoffDepth) {
					return st, lo + off, true
				}
				// Without ORC the hand-off's frame is found through its
				// frame pointer, which no saved register holds: try each
				// frame record above the slot (a saved rbp pointing
				// further up the stack, then a return address).
				if k.noORC() {
					for _, bp := range k.frameRecordsAbove(r, lo+off+8) {
						st.bp = bp
						if k.reachesRegs(st, regs, stacks, maxHandoffDepth) {
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
func (k *Kernel) frameRecordsAbove(r StackRange, sp uint64) []uint64 {
	var out []uint64
	for p := sp; p+16 <= r.Hi && p < sp+4096; p += 8 {
		saved, err1 := k.U64(p)
		ret, err2 := k.U64(p + 8)
		if err1 != nil || err2 != nil || saved <= p || !r.contains(saved) {
			continue
		}
		if _, isCall := k.callBefore(ret); isCall {
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
func (k *Kernel) reachesRegs(st walkState, regs elfcore.X86_64Regs, stacks stackSet, depth int) bool {
	for i := 0; i < depth; i++ {
		res, err := k.step(st, stacks)
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
func (k *Kernel) kexecFrame(regs elfcore.X86_64Regs, stacks stackSet) (walkState, uint64, bool) {
	retSlot := regs.RSP - 8
	ret, err := k.U64(retSlot)
	if err != nil {
		return walkState{}, 0, false
	}
	callee, isCall := k.callBefore(ret)
	if !isCall || callee == 0 {
		return walkState{}, 0, false
	}
	lo := regs.RSP - maxScan
	if r, ok := stacks.find(regs.RSP); ok && r.Lo > lo {
		lo = r.Lo
	}
	for s := retSlot - 8; s >= lo; s -= 8 {
		v, err := k.U64(s)
		if err != nil {
			break
		}
		_, off, _, _, ok := k.symbolize(v - 1)
		if !ok || v-1-off != callee {
			continue
		}
		st := walkState{pc: v, sp: s + 8, bp: regs.RBP}
		if res, err := k.step(st, stacks); err == nil && !res.via.Scanned() && res.slot == retSlot {
			return st, s, true
		}
		// Without ORC the callee's frame is found through its own
		// frame pointer: a frame record between it and the saved SP.
		if k.noORC() {
			if r, ok := stacks.find(s); ok {
				for _, bp := range k.frameRecordsAbove(r, s+8) {
					if bp >= retSlot {
						break
					}
					st.bp = bp
					if res, err := k.step(st, stacks); err == nil && !res.via.Scanned() && res.slot == retSlot {
						return st, s, true
					}
				}
			}
		}
	}
	return walkState{}, 0, false
}

// nmiParkFrame finds the NMI handler a CPU was parked in: a return address
// into one of nmiParkSites on the CPU's NMI stack whose unwind reaches an
// exception frame holding exactly the saved registers.
func (k *Kernel) nmiParkFrame(regs elfcore.X86_64Regs, stacks stackSet) (walkState, uint64, bool) {
	var nmi StackRange
	for _, r := range stacks {
		if r.Name == "NMI" {
			nmi = r
		}
	}
	if nmi.Hi == 0 || nmi.contains(regs.RSP) {
		return walkState{}, 0, false
	}
	buf := make([]byte, nmi.Hi-nmi.Lo)
	if err := k.Read(buf, nmi.Lo); err != nil {
		return walkState{}, 0, false
	}
	for off := 0; off+8 <= len(buf); off += 8 {
		v := binary.LittleEndian.Uint64(buf[off:])
		name, _, _, _, ok := k.symbolize(v - 1)
		if !ok || !nmiParkSites[name] {
			continue
		}
		slot := nmi.Lo + uint64(off)
		st := walkState{pc: v, sp: slot + 8, bp: regs.RBP}
		if k.reachesRegs(st, regs, stacks, 16) {
			return st, slot, true
		}
		if k.noORC() { // the handler's frame pointer, as in kexecAboveException
			for _, bp := range k.frameRecordsAbove(nmi, slot+8) {
				st.bp = bp
				if k.reachesRegs(st, regs, stacks, 16) {
					return st, slot, true
				}
			}
		}
	}
	return walkState{}, 0, false
}

// unwindSwitchedOld starts a sleeping task before inactive_task_frame
// (4.9): switch_to was inline assembly in __schedule that pushed the flags
// and rbp, saved rsp in thread.sp, and resumed right after its call to
// __switch_to — so the task's PC is that instruction, its rbp is at
// thread.sp and its frame continues above the flags.
func (k *Kernel) unwindSwitchedOld(t Task) ([]Frame, error) {
	pc, err := k.switchResumePC()
	if err != nil {
		return nil, fmt.Errorf("task %d (%s): %w", t.PID, t.Comm, err)
	}
	bp, err := k.U64(t.StackPtr)
	if err != nil {
		return nil, fmt.Errorf("task %d (%s): switch frame at %#x: %w", t.PID, t.Comm, t.StackPtr, err)
	}
	st := walkState{pc: pc, sp: t.StackPtr + 16, bp: bp, signal: true}
	return k.walk(st, t.StackPtr, k.stacksFor(t, t.CPU))
}

// switchResumePC finds the instruction after __schedule's call to
// __switch_to (schedule's, on kernels where it is not split out).
func (k *Kernel) switchResumePC() (uint64, error) {
	u := k.unwinder()
	u.resumeOnce.Do(func() { u.resumePC, u.resumeErr = k.findSwitchResume() })
	return u.resumePC, u.resumeErr
}

func (k *Kernel) findSwitchResume() (uint64, error) {
	target, err := k.Addr("__switch_to")
	if err != nil {
		return 0, err
	}
	for _, fn := range []string{"__schedule", "schedule"} {
		start, err := k.Addr(fn)
		if err != nil {
			continue
		}
		_, _, size, _, ok := k.symbolize(start)
		if !ok || size == 0 || size > 1<<16 {
			continue
		}
		code := make([]byte, size)
		if err := k.Read(code, start); err != nil {
			continue
		}
		for i := 0; i+5 <= len(code); i++ {
			if code[i] != 0xe8 {
				continue
			}
			next := start + uint64(i) + 5
			if next+uint64(int64(int32(binary.LittleEndian.Uint32(code[i+1:])))) == target {
				return next, nil
			}
		}
	}
	return 0, errors.New("no call to __switch_to found in __schedule or schedule: cannot start a sleeping task's unwind")
}
