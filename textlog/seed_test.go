package textlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

func parseFixture(t *testing.T, name string) *incident.Incident {
	t.Helper()
	in, err := ParseFile(filepath.Join("..", "testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func reportsOfKind(in *incident.Incident, kind string) []incident.Report {
	var out []incident.Report
	for _, r := range in.Reports {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func TestSeedGHESFatal(t *testing.T) {
	for _, name := range []string{"seed-ghes-fatal.log", "seed-ghes-fatal-crash.log"} {
		t.Run(name, func(t *testing.T) {
			in := parseFixture(t, name)
			if len(in.HardwareErrs) != 1 {
				t.Fatalf("hardware errors = %d, want 1: %+v", len(in.HardwareErrs), in.HardwareErrs)
			}
			he := in.HardwareErrs[0]
			if he.Source != "GHES" || he.Severity != "fatal" || he.Section != "PCIe error" {
				t.Errorf("source/severity/section = %q/%q/%q", he.Source, he.Severity, he.Section)
			}
			if he.DeviceID != "0000:00:03.0" || he.Vendor != "8086" || he.Device != "2f08" {
				t.Errorf("device = %s %s:%s, want 0000:00:03.0 8086:2f08", he.DeviceID, he.Vendor, he.Device)
			}
			if in.Panic == nil || in.Panic.Message != "Kernel panic - not syncing: Fatal hardware error!" {
				t.Fatalf("panic = %+v", in.Panic)
			}
			if in.Panic.Comm != "swapper" || in.Panic.PID == nil || *in.Panic.PID != 0 {
				t.Errorf("panic task = %q %v", in.Panic.Comm, in.Panic.PID)
			}
			if in.Title != "hardware error: fatal PCIe error" {
				t.Errorf("title = %q", in.Title)
			}
		})
	}
}

func TestSeedNullDeref(t *testing.T) {
	in := parseFixture(t, "seed-cfs-null-deref.log")
	rs := reportsOfKind(in, incident.KindNullDeref)
	if len(rs) != 1 {
		t.Fatalf("null-deref reports = %d; reports %+v", len(rs), in.Reports)
	}
	r := rs[0]
	if r.Fields["address"] != "0x10" {
		t.Errorf("address = %q, want 0x10", r.Fields["address"])
	}
	if r.RIP == nil || r.RIP.Function != "rb_next" {
		t.Errorf("RIP = %+v, want rb_next", r.RIP)
	}
	if len(r.Backtrace) == 0 || r.Backtrace[0].Function != "pick_next_task_fair" || r.Backtrace[0].Reliable {
		t.Errorf("first frame = %+v, want unreliable pick_next_task_fair", r.Backtrace)
	}
	if r.Title != "BUG: unable to handle kernel NULL pointer dereference in rb_next" {
		t.Errorf("title = %q", r.Title)
	}
	if r.Comm != "java" || *r.PID != 16179 || *r.CPU != 3 || r.Release != "3.10.0-229.el7.x86_64" {
		t.Errorf("task = %s %v cpu %v release %s", r.Comm, *r.PID, *r.CPU, r.Release)
	}
	if r.Hardware != "Huawei RH1288 V3/BC11HGSC0, BIOS 1.71 12/03/2015" || len(r.Modules) != 58 {
		t.Errorf("hardware %q, %d modules", r.Hardware, len(r.Modules))
	}
	if r.Registers["CR2"] != 0x10 || r.Registers["RDI"] != 0x10 {
		t.Errorf("registers = %v", r.Registers)
	}
	if in.Panic == nil || in.Panic.Message != "BUG: unable to handle kernel NULL pointer dereference at 0000000000000010" {
		t.Errorf("panic = %+v", in.Panic)
	}
}

func TestSeedEPT(t *testing.T) {
	in := parseFixture(t, "seed-ept-misconfig.log")
	rs := reportsOfKind(in, incident.KindEPTMisconfig)
	if len(rs) != 1 || rs[0].Fields["gpa"] != "0x108ba4538" {
		t.Fatalf("EPT reports = %+v", in.Reports)
	}
	if rs[0].Fields["spte_level_4"] != "0x84c236107" {
		t.Errorf("spte fields = %v", rs[0].Fields)
	}
	if in.System == nil || in.System.Nodename != "xg-app-zstack-118" {
		t.Errorf("system = %+v", in.System)
	}
}

func TestSeedHungTasks(t *testing.T) {
	in := parseFixture(t, "seed-hung-task.log")
	want := []string{"kworker/u113:10", "jbd2/sdb-8", "java", "java"}
	if len(in.BlockedTasks) != len(want) {
		t.Fatalf("blocked tasks = %+v", in.BlockedTasks)
	}
	for i, b := range in.BlockedTasks {
		if b.Comm != want[i] || b.BlockedSeconds == nil || *b.BlockedSeconds != 120 {
			t.Errorf("task %d = %s %v, want %s blocked 120s", i, b.Comm, b.BlockedSeconds, want[i])
		}
	}
	if in.Reports[0].Time == nil || *in.Reports[0].Time != 261108.341940 || in.Log[0].Level != 3 {
		t.Errorf("first report time/level = %v/%d", in.Reports[0].Time, in.Log[0].Level)
	}

	for _, name := range []string{"seed-hung-task-fsfreeze.log", "seed-hung-task-messages.log"} {
		in := parseFixture(t, name)
		want := []string{"rs:main Q:Reg", "bash", "dd", "sshd"}
		if len(in.BlockedTasks) != len(want) {
			t.Fatalf("%s: blocked tasks = %+v", name, in.BlockedTasks)
		}
		for i, b := range in.BlockedTasks {
			if b.Comm != want[i] || b.State != "D" {
				t.Errorf("%s: task %d = %s state %s", name, i, b.Comm, b.State)
			}
			if c := incident.Culprit(b.Backtrace, nil); c != "__sb_start_write" {
				t.Errorf("%s: %s parked in %q, want __sb_start_write", name, b.Comm, c)
			}
		}
	}
}

func parseFixtureRaw(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "logs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
