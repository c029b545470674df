package symbols_test

import (
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/symbols"
	"github.com/ktriage/ktriage/vmcore"
)

// On every corpus dump, through the real dump readers: kallsyms, BTF and the
// module list come out of the dump alone, the modules agree with crash's
// `mod` (address, base, size), and the debug vmlinux is accepted by build-id.
func TestCorpusDumpsSymbols(t *testing.T) {
	vmlinux := corpus.Vmlinux(t)
	for _, dc := range corpus.Dumps(t) {
		t.Run(dc.Name, func(t *testing.T) {
			d, err := vmcore.Open(dc.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			as, err := kernel.NewAddressSpace(d)
			if err != nil {
				t.Fatal(err)
			}
			ks, btf, err := symbols.FromDump(d.VMCoreInfo.Symbols(), as, symbols.FromDumpOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sz, err := btf.StructSize("task_struct"); err != nil || sz != 9728 {
				t.Errorf("BTF from dump: sizeof(task_struct) = %d %v", sz, err)
			}
			want := symbols.CrashModules(t, dc.Oracle("crash-8.0.6", "mod.txt"))
			if len(ks.Modules) != len(want) {
				t.Errorf("%d modules, crash lists %d", len(ks.Modules), len(want))
			}
			for _, m := range ks.Modules {
				if got := [3]uint64{m.Addr, m.Base(), m.Size()}; got != want[m.Name] {
					t.Errorf("%s: %#x/%#x/%d, crash %v", m.Name, got[0], got[1], got[2], want[m.Name])
				}
				if len(m.Syms) == 0 {
					t.Errorf("%s: no symbols", m.Name)
				}
			}
			if err := symbols.CheckVmlinux(vmlinux, symbols.DumpIdentity{BuildID: d.VMCoreInfo.BuildID()}); err != nil {
				t.Errorf("the corpus vmlinux refused: %v", err)
			}
			t.Logf("%d kernel symbols, %d modules", ks.Kernel.Len(), len(ks.Modules))
		})
	}
}
