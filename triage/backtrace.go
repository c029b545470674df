package triage

import (
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/kernel"
)

// backtrace unwinds a task's stack when the unwinder is available.
func backtrace(in *incident.Incident, k *kernel.Kernel, t kernel.Task) []incident.Frame {
	return nil
}
