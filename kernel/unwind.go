package kernel

// The Kernel's side of stack unwinding: the walk itself is kernel/unwind's
// Unwinder, which reads the dump's memory and names functions only through
// the sources built here (symbols, the kernel's and modules' ORC, the
// vmlinux's .debug_frame, line tables). Where a walk starts (a task's
// switch frame, a CPU's saved registers) is in unwind_start.go, stack
// bounds in stack.go.

import (
	"os"
	"sync"

	"github.com/ktriage/ktriage/kernel/unwind"
	"github.com/ktriage/ktriage/symbols"
)

// Frame is one function on a kernel stack (unwind.Frame).
type Frame = unwind.Frame

// unwindTables holds what unwinding loads once per Kernel. It lives and
// dies with the Kernel: nothing global keeps a dump alive.
type unwindTables struct {
	once sync.Once
	u    *unwind.Unwinder

	orcOnce sync.Once
	orc     *unwind.InPlaceORC
	orcErr  error

	modOnce sync.Once
	mods    []*loadedModule

	cfiOnce sync.Once
	cfi     *unwind.DebugFrame
	cfiErr  error

	// Where a task switched out by the old inline switch_to resumes.
	resumeOnce sync.Once
	resumePC   uint64
	resumeErr  error
}

// unwinder is this kernel's Unwinder, built on first use. Its sources
// load their tables lazily: a walk that never leaves ORC never reads the
// vmlinux's .debug_frame.
func (k *Kernel) unwinder() *unwind.Unwinder {
	k.unwind.once.Do(func() {
		src := unwindSources{k}
		k.unwind.u = unwind.New(unwind.Config{Memory: k.AS, Symbols: src, ORC: src, CFI: src, Lines: src})
	})
	return k.unwind.u
}

// unwindSources is the Kernel seen as the Unwinder's sources.
type unwindSources struct{ k *Kernel }

// FuncAt names the function holding addr, kernel or module.
func (s unwindSources) FuncAt(addr uint64) (unwind.Func, bool) {
	name, off, size, mod, ok := s.k.symbolize(addr)
	return unwind.Func{Name: name, Offset: off, Size: size, Module: mod}, ok
}

// Find looks a text address up in the kernel's ORC table, or in that of
// the module holding it.
func (s unwindSources) Find(pc uint64) (unwind.ORCEntry, bool) {
	k := s.k
	if pc >= kernelMapEnd {
		if m := k.moduleAt(pc); m != nil {
			return m.orc.Find(pc)
		}
		return unwind.ORCEntry{}, false
	}
	t, err := k.kernelORC()
	if err != nil {
		return unwind.ORCEntry{}, false
	}
	return t.Find(pc)
}

// Absent tells that the kernel has no ORC table (built before 4.14, or
// with frame pointers).
func (s unwindSources) Absent() bool {
	_, err := s.k.kernelORC()
	return err != nil
}

// Rule is the .debug_frame row for pc, when a vmlinux (or a debuginfo
// pack's .debug_frame) is attached.
func (s unwindSources) Rule(pc uint64) (unwind.CFARule, bool) { return s.k.debugFrames().Rule(pc) }

// Line is the source line of pc: from the debug vmlinux (or the pack's
// line table) for the kernel proper, from the module's debug .ko for a
// module.
func (s unwindSources) Line(pc uint64, f unwind.Func) (string, int, bool) {
	k := s.k
	var pos symbols.SourcePos
	var found bool
	switch {
	case f.Module == "" && k.vmlinux != nil:
		pos, found = k.vmlinux.DWARF.SourceLine(pc - k.AS.KernelOffset())
	case f.Module == "" && k.packLines != nil:
		pos, found = k.packLines.SourceLine(pc - k.AS.KernelOffset())
	case f.Module != "":
		pos, found = k.moduleSourceLine(f.Module, f.Name, f.Offset)
	}
	return pos.File, pos.Line, found
}

func (k *Kernel) kernelORC() (*unwind.InPlaceORC, error) {
	u := &k.unwind
	u.orcOnce.Do(func() { u.orc, u.orcErr = k.openKernelORC() })
	return u.orc, u.orcErr
}

// debugFrames is the vmlinux's .debug_frame, which backs up ORC: only
// when one was attached.
func (k *Kernel) debugFrames() *unwind.DebugFrame {
	u := &k.unwind
	u.cfiOnce.Do(func() {
		if k.debugFrame != nil {
			u.cfi, u.cfiErr = unwind.NewDebugFrame(k.debugFrame, k.AS.KernelOffset())
			return
		}
		if k.Source == "" {
			return
		}
		if st, err := os.Stat(k.Source); err != nil || st.IsDir() {
			return
		}
		u.cfi, u.cfiErr = unwind.LoadDebugFrame(k.Source, k.AS.KernelOffset())
	})
	return u.cfi
}
