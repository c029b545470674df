package kernel

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// testdata/dumps-6.12 holds a dump of Debian's 6.12 kernel (bookworm-
// backports 6.12.95+deb12-cloud-amd64), crashed in QEMU by a NULL
// dereference in testdata/gen's module, cut to the pages ktriage reads
// (testdata/dumps-6.12/make.sh). 6.12 postdates what crash 8.0 and drgn
// 0.0.22 know, so the oracle is the kernel itself: the oops it printed on
// the serial console just before panicking. The dump exercises what 6.1
// cannot: ORC's 6.4 entry layout, read from the dump's memory, __pfx_
// padding symbols, the 6.12 task_struct and module layouts through BTF.
const fixture612 = "../testdata/dumps-6.12/oops-null-qemu-kdump-zlib"

func TestLinux612OopsAgainstConsole(t *testing.T) {
	d, err := vmcore.Open(fixture612 + ".vmcore")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	console, err := os.ReadFile(fixture612 + ".console.log")
	if err != nil {
		t.Fatal(err)
	}

	// The log: every kernel line the console shows is in the dump's log,
	// in order (the console leaves out lines below its log level).
	dmesg := strings.Split(string(dumpDmesg(t, fixture612+".vmcore")), "\n")
	next, matched := 0, 0
	for _, line := range strings.Split(string(console), "\n") {
		line = strings.TrimRight(line, "\r ")
		if !strings.HasPrefix(line, "[") {
			continue // init's own messages, or a line another write broke into
		}
		found := false
		for next < len(dmesg) {
			next++
			if strings.TrimRight(dmesg[next-1], " ") == line {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("console line %q is not in the dump's log (after %d matched lines)", line, matched)
		}
		matched++
	}
	if matched < 300 {
		t.Errorf("only %d console lines compared", matched)
	}
	t.Logf("%d console lines found in the log", matched)
	checkPanicStackAgainstOops(t, d, string(console), "ktriage_widget_account_hit", 0, 1, "init", "")
}

// The second 6.12 dump crashed with a double fault (QEMU's TCG, -cpu max,
// under ext4 writes) before its scenario could run. The serial capture lost
// the oops, so the oracle is the oops in the kernel's own log, decoded from
// the same dump (the decoder is checked byte for byte against crash and
// makedumpfile on the corpus). The unwinder must cross from the double-fault
// exception stack to the task's stack, as the kernel's trace did.
func TestLinux612DoubleFaultAgainstItsLog(t *testing.T) {
	const path = "../testdata/dumps-6.12/double-fault-qemu-kdump-zlib.vmcore"
	log := string(dumpDmesg(t, path))
	if !strings.Contains(log, "traps: PANIC: double fault, error_code: 0x0") {
		t.Fatal("no double fault in the log")
	}
	d, err := vmcore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	checkPanicStackAgainstOops(t, d, log, "kmem_cache_alloc_noprof", 0, 165, "dd", "DF")
}

// checkPanicStackAgainstOops: the panic task's stack, from the dump's own
// kallsyms and BTF, from the faulting function down, is the frames the
// kernel printed in its oops (RIP, then the Call Trace lines without '?'),
// offsets and sizes included. Frames above the faulting function must lie
// on the stack named by above ("" to skip that check).
func checkPanicStackAgainstOops(t *testing.T, d *vmcore.Dump, log, faulting string, wantCPU, wantPID int, wantComm, above string) {
	t.Helper()
	k, err := Attach(d, AttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cpu := k.PanicCPU()
	task, frames, err := k.CPUBacktrace(cpu)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != wantCPU || task.PID != wantPID || task.Comm != wantComm {
		t.Errorf("panic on CPU %d in pid %d %q; the oops says CPU %d, pid %d, %s", cpu, task.PID, task.Comm, wantCPU, wantPID, wantComm)
	}
	want := consoleOops(t, log)
	var got []string
	for _, f := range frames {
		if len(got) == 0 && f.Function != faulting {
			if above != "" && f.Stack != above {
				t.Errorf("frame %s+%#x above the fault is on the %q stack, want %q", f.Function, f.Offset, f.Stack, above)
			}
			continue
		}
		if !f.Reliable {
			t.Errorf("frame %s+%#x is marked unsure", f.Function, f.Offset)
		}
		s := fmt.Sprintf("%s+%#x/%#x", f.Function, f.Offset, f.Size)
		if f.Module != "" {
			s += " [" + f.Module + "]"
		}
		got = append(got, s)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("panic stack from the faulting function:\n%s\nthe kernel's oops:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d oops frames agree", len(want))
}

// consoleOops reads the first oops on the console: the RIP function and the
// reliable Call Trace entries.
func consoleOops(t *testing.T, console string) []string {
	t.Helper()
	rip := regexp.MustCompile(`\] RIP: 0010:(\S+(?: \[\S+\])?)`)
	entry := regexp.MustCompile(`\]  (\?)? ?([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[\S+\])?)$`)
	var out []string
	inTrace := false
	for _, line := range strings.Split(console, "\n") {
		line = strings.TrimRight(line, "\r ")
		switch {
		case len(out) == 0:
			if m := rip.FindStringSubmatch(line); m != nil {
				out = append(out, m[1])
			}
		case strings.HasSuffix(line, "Call Trace:"):
			inTrace = true
		case inTrace && strings.Contains(line, "RIP: 0033:"):
			return out
		case inTrace:
			if m := entry.FindStringSubmatch(line); m != nil && m[1] == "" {
				out = append(out, m[2])
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("no oops on the console (%v)", out)
	}
	return out
}
