package textlog

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/incident"
)

// crashOracle is what crash 8.0.6 says about a dump: sys's PANIC line and
// the panic task of bt, and how many tasks foreach UN bt lists.
type crashOracle struct {
	panic   string
	pid     int
	comm    string
	cpu     int
	dTasks  int
	release string
}

var (
	// crash adds " (check log for details)" after a message holding "Oops: ".
	sysPanicRe  = regexp.MustCompile(`(?m)^\s+PANIC: "(.*)"( \(check log for details\))?$`)
	sysRelRe    = regexp.MustCompile(`(?m)^\s+RELEASE: (\S+)$`)
	btHeadRe    = regexp.MustCompile(`(?m)^PID: (\d+)\s+TASK: \S+\s+CPU: (\d+)\s+COMMAND: "(.*)"$`)
	unTaskCount = regexp.MustCompile(`(?m)^PID: `)
)

func readOracle(t *testing.T, dir string) crashOracle {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, "crash-8.0.6", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var o crashOracle
	sys := read("sys.txt")
	if m := sysPanicRe.FindStringSubmatch(sys); m != nil {
		o.panic = m[1]
	}
	if m := sysRelRe.FindStringSubmatch(sys); m != nil {
		o.release = m[1]
	}
	if m := btHeadRe.FindStringSubmatch(read("bt.txt")); m != nil {
		o.pid, _ = strconv.Atoi(m[1])
		o.cpu, _ = strconv.Atoi(m[2])
		o.comm = m[3]
	}
	o.dTasks = len(unTaskCount.FindAllString(read("foreach_UN_bt.txt"), -1))
	return o
}

// TestCorpusDumpLogs checks that the text logs kept beside each corpus dump
// (serial console, vmcore-dmesg.txt, makedumpfile --dump-dmesg) tell the
// same panic, task and hung tasks as crash tells from the dump itself.
func TestCorpusDumpLogs(t *testing.T) {
	root := sharedDir(t, "corpus/dumps")
	dirs, err := filepath.Glob(filepath.Join(root, "*"))
	if err != nil || len(dirs) == 0 {
		t.Skipf("no dumps under %s", root)
	}
	for _, dir := range dirs {
		o := readOracle(t, dir)
		for _, name := range []string{"console.log", "vmcore-dmesg.txt", "dmesg.makedumpfile.txt"} {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				continue
			}
			t.Run(filepath.Base(dir)+"/"+name, func(t *testing.T) {
				in, err := ParseFile(path)
				if err != nil {
					t.Fatal(err)
				}
				p := in.Panic
				if p == nil {
					t.Fatalf("no panic found; reports %+v", in.Reports)
				}
				if p.Message != o.panic {
					t.Errorf("panic message %q, crash says %q", p.Message, o.panic)
				}
				if p.PID == nil || *p.PID != o.pid || p.Comm != o.comm || p.CPU == nil || *p.CPU != o.cpu {
					t.Errorf("panic task %s pid %v cpu %v, crash says %s pid %d cpu %d", p.Comm, p.PID, p.CPU, o.comm, o.pid, o.cpu)
				}
				if in.System == nil || in.System.Release != o.release {
					t.Errorf("system %+v, crash says release %s", in.System, o.release)
				}
				switch {
				case strings.HasPrefix(filepath.Base(dir), "sysrq"):
					if p.Kind != incident.KindSysrq || in.Title != "kernel panic: sysrq triggered crash" {
						t.Errorf("kind %q title %q", p.Kind, in.Title)
					}
					if c := incident.Culprit(p.Backtrace, nil); c != "sysrq_handle_crash" {
						t.Errorf("culprit of the panic stack = %q, want sysrq_handle_crash", c)
					}
				case strings.HasPrefix(filepath.Base(dir), "hung"):
					if len(in.BlockedTasks) != o.dTasks {
						t.Errorf("%d blocked tasks, crash lists %d in D state", len(in.BlockedTasks), o.dTasks)
					}
					if p.Kind != incident.KindHungTask || in.Title != "INFO: task hung in vfs_write" {
						t.Errorf("kind %q title %q", p.Kind, in.Title)
					}
					for _, b := range in.BlockedTasks {
						if b.BlockedSeconds == nil || *b.BlockedSeconds != 10 || len(b.Backtrace) == 0 {
							t.Errorf("blocked task %+v", b)
						}
						// 6.1 inlines sb_start_write: the freeze shows as percpu_rwsem_wait.
						if !hasFrame(b.Backtrace, "percpu_rwsem_wait") {
							t.Errorf("%s:%d does not wait in percpu_rwsem_wait", b.Comm, b.PID)
						}
					}
				}
			})
		}
	}
}

func hasFrame(frames []incident.Frame, fn string) bool {
	for _, f := range frames {
		if f.Function == fn {
			return true
		}
	}
	return false
}
