package triage

import (
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

// reportsFromLog finds the kernel's own reports (oops, panic, hung task...)
// in the log decoded from the dump, with the same rules text logs go
// through, so a dump and its console log give the same titles.
func reportsFromLog(in *incident.Incident, ex textlog.Extracted) {
	in.Reports = ex.Reports
	in.HardwareErrs = ex.HardwareErrs
	if ex.Panic != nil && in.Panic != nil {
		// The dump's own message (crash's PANIC rule) stays; the log adds
		// what kind of crash it was and where it happened.
		p := in.Panic
		p.Title, p.Kind, p.RIP = ex.Panic.Title, ex.Panic.Kind, ex.Panic.RIP
		if p.Comm == "" {
			p.CPU, p.PID, p.Comm = ex.Panic.CPU, ex.Panic.PID, ex.Panic.Comm
		}
		if len(p.Backtrace) == 0 {
			p.Backtrace = ex.Panic.Backtrace
		}
	}
	if ex.Title != "" {
		in.Title = ex.Title
	}
	// Stacks of hung tasks the log reported but the dump could not give.
	if len(in.BlockedTasks) == 0 {
		in.BlockedTasks = ex.BlockedTasks
		return
	}
	// A dump task whose stack could not be unwound (pages missing) keeps
	// the one the kernel printed for it, if it did.
	printed := map[int][]incident.Frame{}
	for _, t := range ex.BlockedTasks {
		if len(t.Backtrace) > 0 {
			printed[t.PID] = t.Backtrace
		}
	}
	for i, t := range in.BlockedTasks {
		if bt := printed[t.PID]; len(t.Backtrace) == 0 && bt != nil {
			in.BlockedTasks[i].Backtrace = bt
		}
	}
}
