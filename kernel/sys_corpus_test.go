package kernel

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/internal/crashfmt"
)

func readCrashSys(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no oracle: %v", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// sysFields renders our facts in crash's words for comparison.
func sysFields(t *testing.T, k *Kernel) map[string]string {
	s, warns := k.Sys()
	for _, w := range warns {
		t.Logf("warning: %s", w)
	}
	recs, err := ReadLog(k.AS, k.Dump.VMCoreInfo)
	if err != nil {
		t.Fatal(err)
	}
	cpus := fmt.Sprint(s.CPUs)
	if s.OfflineCPUs > 0 {
		cpus += fmt.Sprintf(" [OFFLINE: %d]", s.OfflineCPUs)
	}
	return map[string]string{
		"CPUS":         cpus,
		"DATE":         s.CrashTime.Format("Mon Jan _2 15:04:05 UTC 2006"),
		"UPTIME":       crashfmt.Uptime(s.Uptime),
		"LOAD AVERAGE": fmt.Sprintf("%.2f, %.2f, %.2f", s.LoadAverage[0], s.LoadAverage[1], s.LoadAverage[2]),
		"TASKS":        fmt.Sprint(s.Tasks),
		"NODENAME":     s.Nodename,
		"RELEASE":      s.Release,
		"VERSION":      s.Version,
		"MACHINE":      s.Machine,
		"MEMORY":       crashfmt.Memory(s.MemoryBytes),
		"PANIC":        SysPanicField(PanicMessage(recs)),
	}
}

// TestCorpusSys: sys agrees with crash 8.0.6 on every field that does not
// depend on the host crash ran on, with the debug vmlinux and without.
// MACHINE: crash appends the CPU clock ("x86_64  (2445 Mhz)") measured on
// the host it runs on; we compare the machine name only.
func TestCorpusSys(t *testing.T) {
	dumps := corpus.Dumps(t)
	for _, mode := range []string{"no-vmlinux", "vmlinux"} {
		for _, c := range dumps {
			t.Run(mode+"/"+c.Name, func(t *testing.T) {
				want := readCrashSys(t, c.Oracle("crash-8.0.6", "sys.txt"))
				vmlinux := ""
				if mode == "vmlinux" {
					vmlinux = corpus.Vmlinux(t)
				}
				got := sysFields(t, attachCorpus(t, c, vmlinux))
				want["MACHINE"] = strings.Fields(want["MACHINE"])[0]
				for _, key := range []string{"CPUS", "DATE", "UPTIME", "LOAD AVERAGE", "TASKS", "NODENAME", "RELEASE", "VERSION", "MACHINE", "MEMORY", "PANIC"} {
					if got[key] != want[key] {
						t.Errorf("%s: got %q, crash says %q", key, got[key], want[key])
					}
				}
			})
		}
	}
}
