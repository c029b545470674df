package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ktriage/ktriage/elfcore"
	"github.com/ktriage/ktriage/kernel/unwind"
)

// Where an unwind starts. A sleeping task's registers were pushed by
// __switch_to_asm as a struct inactive_task_frame at thread.sp (or, before
// 4.9, by the inline switch_to); a task on a CPU starts from that CPU's
// NT_PRSTATUS note, where the Unwinder finds kdump's hand-off and NMI
// frames (kernel/unwind start.go).

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
		if name, _, _, _, ok := k.symbolize(p.Regs.RIP); ok && unwind.IsCrashSaveSite(name) {
			return cpu
		}
	}
	if k.Dump.PanicCPU >= 0 && k.Dump.PanicCPU < k.NrCPUIDs() {
		return k.Dump.PanicCPU
	}
	return -1
}

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
	st := unwind.Start{PC: pc, SP: t.StackPtr + size, BP: bp, Slot: t.StackPtr + retOff}
	// A task that never ran returns straight into ret_from_fork, whose
	// entry is exact rather than a return address.
	if name, off, _, _, ok := k.symbolize(pc); ok && name == "ret_from_fork" && off == 0 {
		st.Exact = true
	}
	return k.unwinder().Walk(st, k.stacksFor(t, t.CPU))
}

// unwindRegs starts from a CPU's saved registers (or kdump's hand-off
// above them).
func (k *Kernel) unwindRegs(t Task, cpu int, regs elfcore.X86_64Regs) ([]Frame, error) {
	return k.unwinder().FromRegs(regs, k.stacksFor(t, cpu))
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
	st := unwind.Start{PC: pc, SP: t.StackPtr + 16, BP: bp, Slot: t.StackPtr, Exact: true}
	return k.unwinder().Walk(st, k.stacksFor(t, t.CPU))
}

// switchResumePC finds the instruction after __schedule's call to
// __switch_to (schedule's, on kernels where it is not split out).
func (k *Kernel) switchResumePC() (uint64, error) {
	u := &k.unwind
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
