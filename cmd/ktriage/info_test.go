package main

import (
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// info names the task each saved CPU state belongs to where the kernel
// wrote it (pid 0 on an idle CPU included), and none for QEMU's notes,
// whose pid field is the vCPU index + 1.
func TestInfoCPUPids(t *testing.T) {
	for _, c := range []struct {
		path string
		want []*int32
	}{
		{"../../testdata/dumps/hung-kdump-zstd.vmcore", []*int32{ptr(798), ptr(30)}},
		{"../../testdata/dumps/sysrq-kdump-lzo.vmcore", []*int32{ptr(0), ptr(1)}}, // CPU 0 idle
		{"../../testdata/dumps/hung-qemu-kdump-zlib.vmcore", []*int32{nil, nil}},
	} {
		d, err := vmcore.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		in := collectInfo(d)
		d.Close()
		if len(in.CPURegisters) != len(c.want) {
			t.Fatalf("%s: %d CPU states, want %d", c.path, len(in.CPURegisters), len(c.want))
		}
		for i, w := range c.want {
			got := in.CPURegisters[i].PID
			if (got == nil) != (w == nil) || (got != nil && *got != *w) {
				t.Errorf("%s: CPU %d pid %v, want %v", c.path, i, deref(got), deref(w))
			}
		}
	}
}

func ptr(v int32) *int32 { return &v }

func deref(p *int32) any {
	if p == nil {
		return "none"
	}
	return *p
}
