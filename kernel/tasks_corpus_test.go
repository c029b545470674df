package kernel

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/vmcore"
)

// psLine is one row of crash's ps: pid, ppid, cpu, task, state, comm.
type psLine struct {
	pid, ppid, cpu int
	task, st, comm string
}

func readCrashPS(t *testing.T, path string) []psLine {
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no oracle: %v", err)
	}
	defer f.Close()
	var out []psLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), ">")
		fs := strings.Fields(line)
		if len(fs) < 9 || fs[0] == "PID" {
			continue
		}
		pid, _ := strconv.Atoi(fs[0])
		ppid, _ := strconv.Atoi(fs[1])
		cpu, _ := strconv.Atoi(fs[2])
		comm := strings.Join(fs[8:], " ")
		comm = strings.TrimSuffix(strings.TrimPrefix(comm, "["), "]")
		out = append(out, psLine{pid, ppid, cpu, fs[3], fs[4], comm})
	}
	return out
}

func attachCorpus(t *testing.T, c corpus.Dump, vmlinux string) *Kernel {
	d, err := vmcore.Open(c.Files...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	k, err := Attach(d, AttachOptions{Vmlinux: vmlinux})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestCorpusTasks: the task list agrees with crash 8.0.6's ps on pid, ppid,
// cpu, state and comm for every task, without debuginfo.
func TestCorpusTasks(t *testing.T) {
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			want := readCrashPS(t, c.Oracle("crash-8.0.6", "ps.txt"))
			k := attachCorpus(t, c, "")
			tasks, err := k.Tasks()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]psLine{}
			for _, tk := range tasks {
				got[fmt.Sprintf("%x", tk.Addr)] = psLine{tk.PID, tk.PPID, tk.CPU, fmt.Sprintf("%x", tk.Addr), tk.State.String(), tk.Comm}
			}
			bad := 0
			for _, w := range want {
				g, ok := got[w.task]
				if !ok {
					t.Errorf("task %s (pid %d %s) missing", w.task, w.pid, w.comm)
					bad++
					continue
				}
				if g != w {
					t.Errorf("task %s: got %+v, want %+v", w.task, g, w)
					bad++
				}
			}
			if len(tasks) != len(want) {
				t.Errorf("got %d tasks, crash lists %d", len(tasks), len(want))
			}
			t.Logf("%d/%d tasks agree with crash", len(want)-bad, len(want))
		})
	}
}
