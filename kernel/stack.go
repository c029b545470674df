package kernel

import (
	"fmt"
	"sort"

	"github.com/ktriage/ktriage/kernel/unwind"
)

// A kernel thread runs on several stacks: its own task stack, the CPU's IRQ
// stack while it serves an interrupt, and the CPU's exception (IST) stacks
// for NMI, double fault, debug and machine check. The unwinder needs their
// bounds to tell a legitimate stack switch from a corrupt frame, to know how
// far it may scan, and to label the transitions as crash does.

// StackRange is one stack: [Lo, Hi) (unwind.StackRange).
type StackRange = unwind.StackRange

// defaultThreadSize is THREAD_SIZE on x86_64 without KASAN (16 KiB).
const defaultThreadSize = 16 << 10

// threadSize is THREAD_SIZE, measured on the boot CPU's idle stack
// (init_stack .. __end_init_task) when both symbols are known.
func (k *Kernel) threadSize() uint64 {
	lo, err1 := k.Addr("init_stack")
	hi, err2 := k.Addr("__end_init_task")
	if err1 == nil && err2 == nil && hi > lo {
		// __end_init_task sits below the top by the pt_regs padding.
		for _, sz := range []uint64{16 << 10, 32 << 10, 64 << 10, 8 << 10} {
			if hi-lo <= sz && hi-lo > sz-512 {
				return sz
			}
		}
	}
	return defaultThreadSize
}

// TaskStack returns the task's own kernel stack, [task->stack,
// task->stack + THREAD_SIZE); false when task->stack was not read.
func (k *Kernel) TaskStack(t Task) (StackRange, bool) {
	if t.StackBase == 0 {
		return StackRange{}, false
	}
	return StackRange{Name: "task", Lo: t.StackBase, Hi: t.StackBase + k.threadSize()}, true
}

// exceptionStackNames are the members of struct cea_exception_stacks that
// hold IST stacks (the *_guard members between them are unmapped).
var exceptionStackNames = []struct{ member, name string }{
	{"DF_stack", "DF"}, {"NMI_stack", "NMI"}, {"DB_stack", "DB"}, {"MCE_stack", "MCE"},
	{"VC_stack", "VC"}, {"VC2_stack", "VC2"},
}

// CPUStacks returns the IRQ and exception stacks of one CPU.
func (k *Kernel) CPUStacks(cpu int) ([]StackRange, error) {
	var out []StackRange
	size := k.threadSize()
	// 5.2–6.1: per-CPU hardirq_stack_ptr; 6.2 on: pcpu_hot.hardirq_stack_ptr.
	var ptrAddr uint64
	if a, err := k.PerCPUAddr("hardirq_stack_ptr", cpu); err == nil {
		ptrAddr = a
	} else if a, err := k.PerCPUAddr("pcpu_hot", cpu); err == nil {
		if off, err := k.Off("pcpu_hot", "hardirq_stack_ptr"); err == nil {
			ptrAddr = a + off
		}
	}
	if ptrAddr != 0 {
		if top, err := k.U64(ptrAddr); err == nil && top != 0 {
			// 5.2–5.8 point at the top itself (page-aligned), later
			// kernels 8 bytes below it.
			if top%4096 != 0 {
				top += 8
			}
			out = append(out, StackRange{Name: "IRQ", Lo: top - size, Hi: top})
		}
	} else if r, ok := k.oldIRQStack(cpu); ok {
		out = append(out, r)
	}
	if len(out) == 0 || !k.Types.HasMember("cea_exception_stacks", "NMI_stack") {
		out = append(out, k.oldExceptionStacks(cpu)...)
	}
	if a, err := k.PerCPUAddr("cea_exception_stacks", cpu); err == nil {
		if base, err := k.U64(a); err == nil && base != 0 {
			for _, s := range exceptionStackNames {
				m, err := k.Types.MemberInfo("cea_exception_stacks", s.member)
				if err != nil || m.Type.Size == 0 {
					continue
				}
				out = append(out, StackRange{Name: s.name, Lo: base + m.Offset, Hi: base + m.Offset + m.Type.Size})
			}
			// The exception stacks sit inside the CPU's struct
			// cpu_entry_area, which also holds the entry trampoline's
			// stack: the first stack of a system call or of an
			// exception from user mode, before the switch to the task.
			estacks, err1 := k.Off("cpu_entry_area", "estacks")
			entry, err2 := k.Types.MemberInfo("cpu_entry_area", "entry_stack_page")
			if err1 == nil && err2 == nil && entry.Type.Size != 0 && base >= estacks {
				lo := base - estacks + entry.Offset
				out = append(out, StackRange{Name: "ENTRY", Lo: lo, Hi: lo + entry.Type.Size})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cpu %d: neither its IRQ stack nor its exception stacks could be found", cpu)
	}
	return out, nil
}

// stacksFor gathers the task's own stack and its CPU's IRQ and exception
// stacks.
func (k *Kernel) stacksFor(t Task, cpu int) unwind.Stacks {
	var s unwind.Stacks
	if r, ok := k.TaskStack(t); ok {
		s = append(s, r)
	}
	if cpu >= 0 {
		if cs, err := k.CPUStacks(cpu); err == nil {
			s = append(s, cs...)
		}
	}
	return s
}

// oldIRQStack is the IRQ stack before 5.2: the per-CPU irq_stack_union
// (irq_stack from 4.x), whose top irq_stack_ptr points just under.
func (k *Kernel) oldIRQStack(cpu int) (StackRange, bool) {
	base, err := k.PerCPUAddr("irq_stack_union", cpu)
	holder := "irq_stack_union"
	if err != nil {
		if base, err = k.PerCPUAddr("irq_stack_backing_store", cpu); err != nil {
			return StackRange{}, false
		}
		holder = "irq_stack"
	}
	m, err := k.Types.MemberInfo(holder, "irq_stack")
	if err != nil || m.Type.Size == 0 {
		return StackRange{}, false
	}
	lo := base + m.Offset
	return StackRange{Name: "IRQ", Lo: lo, Hi: lo + m.Type.Size}, true
}

// istNames are the IST stacks in the order of their indices
// (DOUBLEFAULT_STACK 1, NMI_STACK 2, DEBUG_STACK 3, MCE_STACK 4).
var istNames = []string{"DF", "NMI", "DB", "MCE"}

// oldExceptionStacks are the IST stacks before cea_exception_stacks
// (5.2): the per-CPU orig_ist holds each one's top, and they lie one after
// another in the per-CPU exception_stacks array (or in the CPU entry area,
// 4.15–5.1), so each starts where the one below it ends.
func (k *Kernel) oldExceptionStacks(cpu int) []StackRange {
	a, err := k.PerCPUAddr("orig_ist", cpu)
	if err != nil {
		return nil
	}
	m, err := k.Types.MemberInfo("orig_ist", "ist")
	if err != nil {
		return nil
	}
	type top struct {
		name string
		addr uint64
	}
	var tops []top
	for i, name := range istNames {
		v, err := k.U64(a + m.Offset + uint64(i)*8)
		if err != nil || v == 0 {
			continue
		}
		tops = append(tops, top{name, v})
	}
	sort.Slice(tops, func(i, j int) bool { return tops[i].addr < tops[j].addr })
	var lo uint64
	if es, err := k.PerCPUAddr("exception_stacks", cpu); err == nil && len(tops) > 0 && es < tops[0].addr {
		lo = es
	}
	var out []StackRange
	for i, t := range tops {
		from := lo
		if i > 0 {
			from = tops[i-1].addr
		}
		if from == 0 || t.addr-from > 64<<10 {
			from = t.addr - 4096 // EXCEPTION_STKSZ, the smallest
		}
		out = append(out, StackRange{Name: t.name, Lo: from, Hi: t.addr})
	}
	return out
}
