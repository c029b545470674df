package textlog

import (
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// TestFromRecords: the dump path hands over printk records it decoded from
// memory (no prefixes, a level per record); the same reports come out.
func TestFromRecords(t *testing.T) {
	var recs []incident.LogRecord
	for i, l := range strings.Split(parseFixtureRaw(t, "seed-ghes-fatal.log"), "\n") {
		m := levelOnlyRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ts := float64(i)
		recs = append(recs, incident.LogRecord{Time: &ts, Level: atoi(m[1]), Text: m[2]})
	}
	x := FromRecords(recs)
	if len(x.HardwareErrs) != 1 || x.HardwareErrs[0].DeviceID != "0000:00:03.0" {
		t.Fatalf("hardware errors %+v", x.HardwareErrs)
	}
	if x.Panic == nil || x.Panic.Message != "Kernel panic - not syncing: Fatal hardware error!" || x.Panic.Comm != "swapper" {
		t.Fatalf("panic %+v", x.Panic)
	}
	if x.Title != "hardware error: fatal PCIe error" || len(x.Reports) != 2 {
		t.Errorf("title %q, %d reports", x.Title, len(x.Reports))
	}
	// The panic's backtrace is kept with its contexts: <NMI> frames first.
	var p incident.Report
	for _, r := range x.Reports {
		if r.Kind != incident.KindHardwareError || r.Backtrace != nil {
			p = r
		}
	}
	if len(p.Backtrace) != 14 || p.Backtrace[0].Context != "NMI" || p.Backtrace[8].Context != "" ||
		p.Backtrace[0].Reliable || p.Backtrace[0].Function != "panic" {
		t.Errorf("panic backtrace %+v", p.Backtrace)
	}

	// A record holding several lines is split like the kernel printed it.
	one := []incident.LogRecord{{Level: 4, Text: "BUG: soft lockup - CPU#1 stuck for 22s! [spin:812]\n" +
		"CPU: 1 PID: 812 Comm: spin Tainted: G           OEL  6.1.0-56-cloud-amd64 #1 Debian 6.1.192-2\n" +
		"RIP: 0010:spin_forever+0x12/0x20 [lockmod]\nCall Trace:\n <TASK>\n lockmod_write+0x40/0x60 [lockmod]\n" +
		" vfs_write+0xc7/0x3f0\n ksys_write+0x6b/0xf0\n do_syscall_64+0x5d/0x90\n </TASK>"}}
	x = FromRecords(one)
	if len(x.Reports) != 1 {
		t.Fatalf("reports %+v", x.Reports)
	}
	r := x.Reports[0]
	if r.Title != "BUG: soft lockup in spin_forever" || r.Kind != incident.KindSoftLockup || r.Fields["stuck_seconds"] != "22" {
		t.Errorf("soft lockup: %q %q %v", r.Title, r.Kind, r.Fields)
	}
	if r.RIP == nil || r.RIP.Module != "lockmod" || r.Backtrace[0].Module != "lockmod" || r.Taint != "G OEL" {
		t.Errorf("module frames: rip %+v bt %+v taint %q", r.RIP, r.Backtrace, r.Taint)
	}
}
