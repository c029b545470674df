package analyzers_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/analyzers"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/textlog"
)

// The seed's four incidents, read from their text logs by the same reader
// `ktriage analyze` uses, must reach the wiki's conclusions.
func analyzeLog(t *testing.T, name string) (*incident.Incident, incident.Finding) {
	t.Helper()
	in, err := textlog.ParseFile(filepath.Join("..", "testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	rb, err := analyzers.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	analyzers.Analyze(in, rb)
	if len(in.Findings) == 0 {
		t.Fatalf("%s: no findings", name)
	}
	return in, in.Findings[0]
}

func TestSeedLogCFS(t *testing.T) {
	in, f := analyzeLog(t, "seed-cfs-null-deref.log")
	if f.ID != "rhel7-cfs-throttle-null-deref" || f.Applies != "affected" {
		t.Fatalf("top %s applies %s (%s)", f.ID, f.Applies, f.AppliesNote)
	}
	if !strings.Contains(f.Fix, "kernel-3.10.0-327.44.2.el7") || !strings.Contains(f.AppliesNote, "3.10.0-229.el7") {
		t.Errorf("fix %q note %q", f.Fix, f.AppliesNote)
	}
	// The same oops on RHEL 7.3 GA: the rule still names the bug, and says the kernel is fixed.
	for i := range in.Reports {
		in.Reports[i].Release = "3.10.0-514.el7.x86_64"
		for j, l := range in.Reports[i].Lines {
			in.Reports[i].Lines[j] = strings.ReplaceAll(l, "3.10.0-229.el7.x86_64", "3.10.0-514.el7.x86_64")
		}
	}
	for i := range in.Log {
		in.Log[i].Text = strings.ReplaceAll(in.Log[i].Text, "3.10.0-229.el7.x86_64", "3.10.0-514.el7.x86_64")
	}
	if in.System != nil {
		in.System.Release = "3.10.0-514.el7.x86_64"
	}
	rb, _ := analyzers.Builtin()
	fixed := analyzers.Run(in, rb)[0]
	if fixed.ID != "rhel7-cfs-throttle-null-deref" || fixed.Applies != "fixed" {
		t.Errorf("on 3.10.0-514.el7: %s applies %s (%s), want fixed", fixed.ID, fixed.Applies, fixed.AppliesNote)
	}
}

func TestSeedLogEPT(t *testing.T) {
	_, f := analyzeLog(t, "seed-ept-misconfig.log")
	if f.ID != "kvm-ept-misconfiguration" || !strings.Contains(f.Summary, "0x108ba4538") {
		t.Fatalf("top %s summary %q", f.ID, f.Summary)
	}
	for _, want := range []string{"kernel-3.10.0-514.el7", "RHSA-2016:2574", "kernel-3.10.0-327.3.1.el7", "RHSA-2015:2552"} {
		if !strings.Contains(f.Fix, want) {
			t.Errorf("fix lacks %s", want)
		}
	}
	// The log names no kernel release: the version check must say so, not guess.
	if f.Applies != "unknown" {
		t.Errorf("applies %s (%s)", f.Applies, f.AppliesNote)
	}
}

func TestSeedLogGHES(t *testing.T) {
	for _, name := range []string{"seed-ghes-fatal.log", "seed-ghes-fatal-crash.log"} {
		_, f := analyzeLog(t, name)
		if f.ID != "ghes-fatal-pcie-root-port" {
			t.Fatalf("%s: top %s", name, f.ID)
		}
		if !strings.Contains(f.Cause, "PCI Express Root Port 3 [8086:2f08]") || !strings.Contains(f.Title, "bus 0000:04") {
			t.Errorf("%s: title %q cause %q", name, f.Title, f.Cause)
		}
		cmds := strings.Join(f.Commands, "\n")
		for _, want := range []string{"lspci -s 0000:00:03.0 -vvv", "lspci -tv", "ethtool -m IFACE | grep -i power"} {
			if !strings.Contains(cmds, want) {
				t.Errorf("%s: commands lack %q", name, want)
			}
		}
		if !strings.Contains(f.Fix, "−7 dBm") {
			t.Errorf("%s: fix lacks the optics threshold", name)
		}
	}
}

func TestSeedLogHungTask(t *testing.T) {
	for _, name := range []string{"seed-hung-task-fsfreeze.log", "seed-hung-task-messages.log"} {
		_, f := analyzeLog(t, name)
		if f.ID != "hung-task-frozen-filesystem" || !strings.Contains(f.Summary, "4 D-state task(s)") {
			t.Fatalf("%s: top %s %q", name, f.ID, f.Summary)
		}
		if !strings.Contains(f.Fix, "kernel.hung_task_panic=1") || !strings.Contains(f.Fix, "hung_task_timeout_secs") {
			t.Errorf("%s: fix lacks the sysctl advice", name)
		}
	}
	// The four bare "blocked for more than 120 seconds" lines: no stacks, so
	// the journal thread jbd2/sdb-8 leads (I/O congestion), with low confidence.
	in, f := analyzeLog(t, "seed-hung-task.log")
	if f.ID != "hung-task-journal" || f.Confidence != "low" {
		t.Fatalf("top %s/%s", f.ID, f.Confidence)
	}
	if len(in.Findings) < 2 || in.Findings[1].ID != "hung-task" || !strings.Contains(in.Findings[1].Fix, "kernel.hung_task_panic=1") {
		t.Errorf("second finding should be the generic hung-task advice: %+v", in.Findings[1:])
	}
}
