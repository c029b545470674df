package main

import (
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/triage"
)

// The dump path: analyze reads vmcores through triage.LoadDump.
func init() {
	loadDump = func(paths []string, opts dumpOptions) (*incident.Incident, error) {
		dumpGC()
		o := triage.Options{Vmlinux: opts.Vmlinux, Discover: !opts.NoDebuginfo,
			DebuginfoDir: opts.DebuginfoDir, WantDWARF: opts.Fetch.dwarf, Trace: runTrace,
			Names: names(), MemoryLimit: memoryLimit, BitmapCountsDir: triage.DefaultBitmapCountsDir()}
		if !opts.NoDebuginfo {
			c, err := opts.Fetch.client(opts.Stderr)
			if err != nil {
				return nil, err
			}
			o.Fetch = c
		}
		return triage.LoadDump(paths, o)
	}
}
