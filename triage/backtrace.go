package triage

import (
	"errors"
	"fmt"

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

func toFrames(frames []kernel.Frame) []incident.Frame {
	out := make([]incident.Frame, 0, len(frames))
	for _, f := range frames {
		ctx := ""
		if f.Stack != "" && f.Stack != "task" {
			ctx = f.Stack
		}
		out = append(out, incident.Frame{Function: f.Function, Offset: f.Offset, Size: f.Size, Module: f.Module,
			Address: f.PC, Reliable: f.Reliable, Context: ctx})
	}
	return out
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
