package triage

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/corpus"
)

// oopsDumps are the corpus dumps and the bundled oops fixtures
// (testdata/dumps-oops: BUG(), a soft lockup, a WARN with panic_on_warn,
// all captured by in-guest kdump).
func oopsDumps(t *testing.T) map[string][]string {
	out := map[string][]string{}
	fixtures, _ := filepath.Glob("../testdata/dumps-oops/*.vmcore")
	for _, f := range fixtures {
		out[filepath.Base(f)] = []string{f}
	}
	if len(fixtures) == 0 {
		t.Error("no fixtures in testdata/dumps-oops")
	}
	for _, c := range corpus.Dumps(t) {
		out[c.Name] = c.Files
	}
	return out
}

// TestFaultingStackIsTheKernelsTrace: where the panic stack crosses the
// exception of an oops, BUG, WARN or soft lockup, the part below it is the
// trace the kernel itself printed for that report: the exception frame is
// the report's RIP (and its saved RSP the report's RSP), and the frames
// after it are the trace's reliable frames, name and offset, in order. The
// kernel's unwinder ran on the live stack; this holds ktriage's reading
// of the dump (from kdump's machine_kexec down through the exception
// frame) to it, independently of crash.
func TestFaultingStackIsTheKernelsTrace(t *testing.T) {
	checked := 0
	for name, files := range oopsDumps(t) {
		t.Run(name, func(t *testing.T) {
			for _, mode := range []string{"no-vmlinux", "vmlinux"} {
				opts := Options{}
				if mode == "vmlinux" {
					opts.Vmlinux = corpus.Vmlinux(t)
				}
				in, err := LoadDump(files, opts)
				if err != nil {
					t.Fatal(err)
				}
				if in.Panic == nil {
					t.Fatalf("%s: no panic", mode)
				}
				bt := in.Panic.Backtrace
				e := -1
				for i, f := range bt {
					if f.Exception && f.Registers["CS"]&3 == 0 {
						e = i
					}
				}
				if e < 0 {
					continue // a panic() straight from a system call or a kthread
				}
				exc := bt[e]
				var rep *incident.Report
				for i, r := range in.Reports {
					if r.RIP != nil && r.RIP.Function == exc.Function && r.RIP.Offset == exc.Offset {
						rep = &in.Reports[i]
						break
					}
				}
				if rep == nil {
					t.Fatalf("%s: no report in the log has RIP %s+%#x", mode, exc.Function, exc.Offset)
				}
				if rsp, ok := rep.Registers["RSP"]; ok && rsp != exc.Registers["RSP"] {
					t.Errorf("%s: exception frame RSP %#x, the kernel printed %#x", mode, exc.Registers["RSP"], rsp)
				}
				if exc.Registers["RIP"] != exc.Address {
					t.Errorf("%s: exception frame at %#x holds RIP %#x", mode, exc.Address, exc.Registers["RIP"])
				}
				var want, got []string
				for _, f := range rep.Backtrace {
					if f.Reliable {
						want = append(want, fmt.Sprintf("%s+%#x", f.Function, f.Offset))
					}
				}
				for _, f := range bt[e+1:] {
					if !f.Reliable {
						t.Errorf("%s: frame %s below the exception is unreliable", mode, f.Function)
					}
					got = append(got, fmt.Sprintf("%s+%#x", f.Function, f.Offset))
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s: below the exception at %s+%#x\n got  %v\n want %v (the kernel's %q trace)",
						mode, exc.Function, exc.Offset, got, want, rep.Title)
				}
				checked++
			}
		})
	}
	if checked == 0 {
		t.Error("no dump's panic stack crosses an exception")
	}
	t.Logf("panic stacks checked below their exception against the kernel's own trace: %d", checked)
}
