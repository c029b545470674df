package kernel

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

// makePack writes a debuginfo pack of vmlinux, taking its BTF from the
// vmlinux's own .BTF section (what pahole would encode from its DWARF).
func makePack(t *testing.T, vmlinux string) string {
	t.Helper()
	f, err := elf.Open(vmlinux)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section(".BTF")
	if sec == nil {
		t.Skipf("%s has no .BTF section to build a test pack from", vmlinux)
	}
	b, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	btfPath := filepath.Join(dir, "vmlinux.btf")
	if err := os.WriteFile(btfPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "vmlinux.pack"))
	if err != nil {
		t.Fatal(err)
	}
	if err := symbols.WritePack(out, vmlinux, btfPath); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Name()
}

// kernelFacts renders what the front ends read from an attached kernel:
// sys, the task list, every CPU's and every D task's stack, the modules.
func kernelFacts(t *testing.T, k *Kernel) string {
	t.Helper()
	var b strings.Builder
	s, warns := k.Sys()
	fmt.Fprintf(&b, "sys %+v %q\n", s, warns)
	tasks, err := k.Tasks()
	fmt.Fprintf(&b, "tasks %d %v\n", len(tasks), err)
	for _, task := range tasks {
		fmt.Fprintf(&b, "%d %d %d %s %s\n", task.PID, task.PPID, task.CPU, task.State, task.Comm)
		if task.State == "UN" {
			frames, err := k.Backtrace(task)
			fmt.Fprintf(&b, "%s %v\n", framesLine(frames), err)
		}
	}
	for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
		_, frames, err := k.CPUBacktrace(cpu)
		fmt.Fprintf(&b, "cpu%d %s %v\n", cpu, framesLine(frames), err)
	}
	if ks, ok := k.Syms.(*symbols.KernelSymbols); ok {
		for _, m := range ks.Modules {
			fmt.Fprintf(&b, "mod %s %#x %d %d\n", m.Name, m.Base(), m.Size(), len(m.Syms))
		}
	}
	return b.String()
}

func framesLine(frames []Frame) string {
	var parts []string
	for _, f := range frames {
		parts = append(parts, fmt.Sprintf("%#x:%s+%d/%s@%s:%d", f.SP, f.Function, f.Offset, f.Via, f.File, f.Line))
	}
	return strings.Join(parts, " ")
}

// TestPackSameAsVmlinux: a debuginfo pack of the corpus kernel's debug
// vmlinux (4.6 MB against 590 MB) gives the same sys facts, tasks, stacks
// (each frame's file:line included) and modules as the vmlinux itself, on
// every corpus dump.
func TestPackSameAsVmlinux(t *testing.T) {
	vmlinux := corpus.Vmlinux(t)
	pack := makePack(t, vmlinux)
	if st, err := os.Stat(pack); err == nil {
		t.Logf("pack: %d bytes", st.Size())
	}
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			want := kernelFacts(t, attachCorpus(t, c, vmlinux))
			if !strings.Contains(want, ".c:") {
				t.Fatalf("no frame has a source line through the vmlinux: nothing to compare\n%s", want)
			}
			k := attachCorpus(t, c, pack)
			if k.Source != pack {
				t.Fatalf("attached %s, not the pack", k.Source)
			}
			if got := kernelFacts(t, k); got != want {
				t.Errorf("the pack and the vmlinux disagree:\npack:\n%s\nvmlinux:\n%s", got, want)
			}
		})
	}
}
