package symbols_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

var traceFrame = regexp.MustCompile(`^\[\s*[0-9.]+\]\s+(?:\? )?([A-Za-z0-9_.]+)\+(0x[0-9a-f]+)/(0x[0-9a-f]+)(?: \[(\w+)\])?$`)

// Every call-trace frame the crashed kernel itself printed
// ("panic+0x118/0x2f4", with %pB) must come out identically from our
// tables, from the dump's kallsyms and from the vmlinux: same name, offset
// and size, including return addresses just past a function's end.
func TestFormatMatchesKernelCallTraces(t *testing.T) {
	d := sysrqDump(t)
	fromDump, _, err := symbols.FromDump(d.symbolValues(), d, symbols.FromDumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	et, err := symbols.OpenELFSymbols(corpus.Vmlinux(t), d.KernelOffset())
	if err != nil {
		t.Fatal(err)
	}
	withVmlinux := symbols.NewKernelSymbols(et, fromDump.Modules, nil)
	// The tables are the sysrq-elf dump's: a frame in a module that dump
	// did not load (another scenario's test module) has nothing to match.
	loaded := map[string]bool{}
	for _, m := range fromDump.Modules {
		loaded[m.Name] = true
	}
	frames, otherModules := 0, 0
	logs, _ := filepath.Glob(filepath.Join(corpus.Root(t), "dumps", "*", "dmesg.makedumpfile.txt"))
	for _, path := range logs {
		name := filepath.Base(filepath.Dir(path))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			m := traceFrame.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			if m[4] != "" && !loaded[m[4]] {
				otherModules++
				continue
			}
			var off uint64
			fmt.Sscanf(m[2], "0x%x", &off)
			want := m[1] + "+" + m[2] + "/" + m[3]
			if m[4] != "" {
				want += " [" + m[4] + "]"
			}
			for _, ks := range []*symbols.KernelSymbols{fromDump, withVmlinux} {
				a, ok := ks.Lookup(m[1])
				if !ok {
					t.Errorf("%s: %s not found", name, m[1])
					continue
				}
				if got := ks.FormatReturn(a + off); got != want {
					t.Errorf("%s: Format = %q, the kernel printed %q", name, got, want)
				}
			}
			frames++
		}
		f.Close()
	}
	t.Logf("%d call-trace frames checked (%d in modules sysrq-elf did not load, not checked)", frames, otherModules)
	if frames == 0 {
		t.Error("no call-trace frames found in the corpus logs")
	}
}
