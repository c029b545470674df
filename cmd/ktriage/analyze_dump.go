package main

import (
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/triage"
)

// The dump path: analyze reads vmcores through triage.LoadDump.
func init() {
	loadDump = func(paths []string, opts dumpOptions) (*incident.Incident, error) {
		return triage.LoadDump(paths, triage.Options{Vmlinux: opts.Vmlinux,
			Discover: !opts.NoDebuginfo, DebuginfoDir: opts.DebuginfoDir, Trace: runTrace})
	}
}
