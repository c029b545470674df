package triage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/textlog"
)

func analyze(t *testing.T, in *incident.Incident) {
	rb, err := analyzers.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	analyzers.Analyze(in, rb)
}

// TestCorpusDumpConclusions: end to end on the real dumps, with and
// without the debug vmlinux. The hung dumps conclude "frozen filesystem"
// and name the mount; the sysrq dumps are recognised as operator-initiated;
// the oops is named after the function it faulted in.
func TestCorpusDumpConclusions(t *testing.T) {
	dumps := corpus.Dumps(t)
	for _, mode := range []string{"no-vmlinux", "vmlinux"} {
		for _, c := range dumps {
			t.Run(mode+"/"+c.Name, func(t *testing.T) {
				opts := Options{}
				if mode == "vmlinux" {
					opts.Vmlinux = corpus.Vmlinux(t)
				}
				in, err := LoadDump(c.Files, opts)
				if err != nil {
					t.Fatal(err)
				}
				analyze(t, in)
				if len(in.Findings) == 0 {
					t.Fatalf("no findings; title %q", in.Title)
				}
				top := in.Findings[0]
				if in.Panic == nil || in.Panic.CPU == nil || len(in.Panic.Backtrace) == 0 {
					t.Fatalf("panic task or its stack missing: %+v", in.Panic)
				}
				switch {
				case strings.HasPrefix(c.Name, "hung"):
					if !strings.Contains(strings.ToLower(top.Title), "frozen") || !strings.Contains(top.Title, "/data1") {
						t.Errorf("top finding %q (%s), want the frozen filesystem on /data1", top.Title, top.ID)
					}
					if len(in.BlockedTasks) != 5 {
						t.Errorf("%d D tasks, want 5 (3 dd, touch, mkdir)", len(in.BlockedTasks))
					}
					if in.Panic.Comm != "khungtaskd" {
						t.Errorf("panic task %q, want khungtaskd", in.Panic.Comm)
					}
				case strings.HasPrefix(c.Name, "null"):
					// An oops in the crashtest module, captured by kdump: the
					// stack holds kdump's hand-off first, as crash shows it,
					// yet leads with the function the exception stopped,
					// which names the crash.
					fault := incident.Faulting(in.Panic.Backtrace)
					if len(fault) == 0 || len(fault) == len(in.Panic.Backtrace) || !fault[0].Exception || fault[0].Module != "crashtest" ||
						fault[0].Registers["RIP"] != fault[0].Address {
						t.Fatalf("panic stack does not lead with the exception in crashtest after kdump's frames: %+v", in.Panic.Backtrace)
					}
					want := "BUG: unable to handle kernel NULL pointer dereference in " + incident.NormalizeFunction(fault[0].Function)
					if in.Title != want || in.Panic.Title != want {
						t.Errorf("title %q, panic title %q, want %q", in.Title, in.Panic.Title, want)
					}
					if c := incident.Culprit(in.Panic.Backtrace, nil); c != incident.NormalizeFunction(fault[0].Function) {
						t.Errorf("culprit of the whole stack %q, want the faulting function %s", c, fault[0].Function)
					}
				case strings.HasPrefix(c.Name, "sysrq"):
					if !strings.Contains(strings.ToLower(top.Title+" "+top.Summary), "sysrq") || top.Severity != "info" {
						t.Errorf("top finding %q severity %s, want the operator-initiated sysrq finding", top.Title, top.Severity)
					}
				}
			})
		}
	}
}

// TestConsoleLogAgreesWithDump: the serial console captured beside each
// dump gives the same crash title, panic task and culprit as the dump.
func TestConsoleLogAgreesWithDump(t *testing.T) {
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			console := filepath.Join(c.Dir, "console.log")
			if _, err := os.Stat(console); err != nil {
				t.Skip("no console log")
			}
			fromLog, err := textlog.ParseFile(console)
			if err != nil {
				t.Fatal(err)
			}
			fromDump, err := LoadDump(c.Files, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if fromLog.Title != fromDump.Title {
				t.Errorf("title: console %q, dump %q", fromLog.Title, fromDump.Title)
			}
			if fromLog.Panic == nil || fromDump.Panic == nil {
				t.Fatalf("panic missing: console %v, dump %v", fromLog.Panic, fromDump.Panic)
			}
			if fromLog.Panic.Kind != fromDump.Panic.Kind {
				t.Errorf("kind: console %q, dump %q", fromLog.Panic.Kind, fromDump.Panic.Kind)
			}
			if fromLog.Panic.Comm != "" && fromLog.Panic.Comm != fromDump.Panic.Comm {
				t.Errorf("task: console %q, dump %q", fromLog.Panic.Comm, fromDump.Panic.Comm)
			}
		})
	}
}
