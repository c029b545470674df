package symbols_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

func TestReadModulesFromDump(t *testing.T) {
	d := sysrqDump(t)
	ks, types := symbols.DumpKallsymsBTF(t, d.symbolValues(), d)
	head, ok := ks.Lookup("modules")
	if !ok {
		t.Fatal("no `modules` symbol in kallsyms")
	}
	mods, err := symbols.ReadModules(head, d, types)
	if err != nil {
		t.Fatal(err)
	}
	want := symbols.CrashModules(t, filepath.Join(corpus.Root(t), "dumps", "sysrq-elf", "crash-8.0.6", "mod.txt"))
	if len(mods) != len(want) {
		t.Errorf("read %d modules, crash lists %d", len(mods), len(want))
	}
	nsyms := 0
	for _, m := range mods {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("module %q not in crash's list", m.Name)
			continue
		}
		if got := [3]uint64{m.Addr, m.Base(), m.Size()}; got != w {
			t.Errorf("%s: module/base/size %#x/%#x/%d, crash %#x/%#x/%d", m.Name, got[0], got[1], got[2], w[0], w[1], w[2])
		}
		if len(m.Syms) == 0 {
			t.Errorf("%s: no symbols", m.Name)
		}
		nsyms += len(m.Syms)
	}
	t.Logf("%d modules, %d module symbols", len(mods), nsyms)

	all := symbols.NewKernelSymbols(ks, mods, types)
	// Every module function resolves to itself with its module named.
	checked := 0
	for _, m := range mods {
		for _, s := range m.Syms {
			if !s.IsText() || s.Size < 2 {
				continue
			}
			got, ok := all.SymbolAt(s.Addr + 1)
			if !ok || got.Module != m.Name || got.Addr != s.Addr {
				t.Errorf("SymbolAt(%s+1 [%s]) = %+v %v", s.Name, m.Name, got, ok)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no module functions to check")
	}
	if a, ok := all.Lookup("pvpanic_panic_notify"); ok {
		if f := all.Format(a + 4); !strings.HasPrefix(f, "pvpanic_panic_notify+0x4/") || !strings.HasSuffix(f, " [pvpanic]") {
			t.Errorf("Format = %q", f)
		}
	} else {
		t.Error("pvpanic_panic_notify not found among module symbols")
	}
	if f := all.Format(symbols.MustLookup(t, ks, "panic") + 0x10); !strings.HasPrefix(f, "panic+0x10/") {
		t.Errorf("Format(panic+0x10) = %q", f)
	}
	if ti, err := all.GlobalType("modules"); err != nil || ti.Name != "struct list_head" {
		t.Errorf("GlobalType(modules) = %+v %v", ti, err)
	}
}
