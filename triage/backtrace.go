package triage

import (
	"errors"
	"fmt"

	"github.com/ktriage/ktriage/elfcore"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

// maxWarnedStacks bounds the warnings for tasks whose stack could not be
// unwound, so a damaged dump does not drown the report.
const maxWarnedStacks = 5

// backtrace unwinds a task's kernel stack into the incident's frame model.
func backtrace(in *incident.Incident, k *kernel.Kernel, t kernel.Task) []incident.Frame {
	frames, err := k.Backtrace(t)
	if err != nil && len(frames) == 0 {
		if countPrefix(in.Warnings, "stack of pid") < maxWarnedStacks {
			in.Warn(fmt.Sprintf("stack of pid %d (%s): %v", t.PID, t.Comm, err))
		}
		return nil
	}
	if cutByDump(err) && countPrefix(in.Warnings, "stack of pid") < maxWarnedStacks {
		in.Warn(fmt.Sprintf("stack of pid %d (%s) ends early, after %d frames: %v", t.PID, t.Comm, len(frames), err))
	}
	return toFrames(frames)
}

// cutByDump tells whether an unwind stopped at memory the dump could not
// serve (a page lost, damaged, filtered out or absent) rather than at the
// stack's end: the frames then are the top of the stack, not all of it.
func cutByDump(err error) bool {
	return errors.Is(err, vmcore.ErrLost) || errors.Is(err, vmcore.ErrDamaged) ||
		errors.Is(err, vmcore.ErrExcluded) || errors.Is(err, vmcore.ErrNotPresent)
}

// toFrames keeps the whole stack as crash shows it, marking the frames of
// kdump's hand-off and the exception frames with their registers.
func toFrames(frames []kernel.Frame) []incident.Frame {
	out := make([]incident.Frame, 0, len(frames))
	for i, f := range frames {
		ctx := ""
		if f.Stack != "" && f.Stack != "task" {
			ctx = f.Stack
		}
		fr := incident.Frame{Function: f.Function, Offset: f.Offset, Size: f.Size, Module: f.Module,
			Address: f.PC, Reliable: f.Reliable, Context: ctx, Exception: f.Exception, KdumpPath: f.KdumpPath,
			File: f.File, Line: f.Line}
		if f.Exception && i > 0 && frames[i-1].Regs != nil {
			fr.Registers = registerMap(frames[i-1].Regs, frames[i-1].IretOnly)
		}
		out = append(out, fr)
	}
	return out
}

// registerMap names saved registers as the kernel's oops does; a bare iret
// frame holds only RIP, CS, EFLAGS, RSP and SS.
func registerMap(r *elfcore.X86_64Regs, iretOnly bool) map[string]uint64 {
	m := map[string]uint64{"RIP": r.RIP, "CS": r.CS, "EFLAGS": r.EFLAGS, "RSP": r.RSP, "SS": r.SS}
	if iretOnly {
		return m
	}
	for name, v := range map[string]uint64{"RAX": r.RAX, "RBX": r.RBX, "RCX": r.RCX, "RDX": r.RDX,
		"RSI": r.RSI, "RDI": r.RDI, "RBP": r.RBP, "R08": r.R8, "R09": r.R9, "R10": r.R10, "R11": r.R11,
		"R12": r.R12, "R13": r.R13, "R14": r.R14, "R15": r.R15, "ORIG_RAX": r.OrigRAX} {
		m[name] = v
	}
	return m
}

func countPrefix(ss []string, prefix string) int {
	n := 0
	for _, s := range ss {
		if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}
