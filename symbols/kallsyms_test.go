package symbols_test

import (
	"errors"
	"iter"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/symbols"
)

// Kallsyms decoded from the dump must agree with the vmlinux ELF symtab
// relocated by VMCOREINFO KERNELOFFSET: every text symbol, same address.
func TestKallsymsFromDumpAgreesWithVmlinux(t *testing.T) {
	d := sysrqDump(t)
	ks, err := symbols.KallsymsFromDump(d.symbolValues(), d)
	if err != nil {
		t.Fatal(err)
	}
	et, err := symbols.OpenELFSymbols(corpus.Vmlinux(t), d.KernelOffset())
	if err != nil {
		t.Fatal(err)
	}
	elfAt := map[string]map[uint64]bool{}
	for s := range et.All() {
		if elfAt[s.Name] == nil {
			elfAt[s.Name] = map[uint64]bool{}
		}
		elfAt[s.Name][s.Addr] = true
	}
	var text, textOK, other, otherOK int
	for s := range ks.All() {
		ok := elfAt[s.Name][s.Addr]
		if s.IsText() {
			// The same name and size for every address: alias order and
			// padding rules match the kernel's.
			n1, o1, z1, _ := ks.Symbolize(s.Addr + 1)
			n2, o2, z2, _ := et.Symbolize(s.Addr + 1)
			if n1 != n2 || o1 != o2 || z1 != z2 {
				t.Errorf("Symbolize(%#x): kallsyms %s+%#x/%#x, vmlinux %s+%#x/%#x", s.Addr+1, n1, o1, z1, n2, o2, z2)
			}
			text++
			if ok {
				textOK++
			} else if text-textOK <= 5 {
				t.Logf("kallsyms text symbol %s %#x not in ELF+slide", s.Name, s.Addr)
			}
		} else {
			other++
			if ok {
				otherOK++
			} else if other-otherOK <= 5 {
				t.Logf("kallsyms %c symbol %s %#x not in ELF+slide", s.Type, s.Name, s.Addr)
			}
		}
	}
	t.Logf("kallsyms: %d symbols (ELF symtab %d); text %d/%d agree; other %d/%d agree", ks.Len(), et.Len(), textOK, text, otherOK, other)
	if textOK != text || text == 0 {
		t.Errorf("%d of %d kallsyms text symbols disagree with vmlinux + KERNELOFFSET", text-textOK, text)
	}
	for _, n := range []string{"init_task", "__schedule", "runqueues", "jiffies", "prb"} {
		ka, ok1 := ks.Lookup(n)
		ea, ok2 := et.Lookup(n)
		if !ok1 || !ok2 || ka != ea {
			t.Errorf("%s: kallsyms %#x %v, ELF+slide %#x %v", n, ka, ok1, ea, ok2)
		}
	}
}

// kallsyms holds what System.map holds, less the symbols scripts/kallsyms.c
// leaves out by design (its own tables, absolute symbols).
func TestKallsymsMatchesSystemMap(t *testing.T) {
	d := sysrqDump(t)
	ks, err := symbols.KallsymsFromDump(d.symbolValues(), d)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := symbols.OpenSystemMap(symbols.SystemMapPath(t), d.KernelOffset())
	if err != nil {
		t.Fatal(err)
	}
	inK := map[string]bool{}
	for s := range ks.All() {
		inK[s.Name] = true
	}
	var absent []string
	for s := range mt.All() {
		if _, ok := inK[s.Name]; !ok {
			absent = append(absent, string(s.Type)+" "+s.Name)
		}
	}
	t.Logf("System.map %d, kallsyms %d; in System.map only: %v", mt.Len(), ks.Len(), absent)
	for _, a := range absent {
		if a[0] != 'A' && a[0] != 'a' && !strings.Contains(a, "kallsyms") {
			t.Errorf("System.map symbol %q missing from kallsyms", a)
		}
	}
}

// Kernels whose VMCOREINFO lacks kallsyms_relative_base still decode: the
// base is derived from _stext. Without kallsyms at all the error says so.
func TestKallsymsWithoutRelativeBase(t *testing.T) {
	d := sysrqDump(t)
	full, err := symbols.KallsymsFromDump(d.symbolValues(), d)
	if err != nil {
		t.Fatal(err)
	}
	vals := d.symbolValues()
	delete(vals, "kallsyms_relative_base")
	derived, err := symbols.KallsymsFromDump(vals, d)
	if err != nil {
		t.Fatal(err)
	}
	if derived.Len() != full.Len() {
		t.Fatalf("%d symbols, want %d", derived.Len(), full.Len())
	}
	next, stop := iter.Pull(full.All())
	defer stop()
	for s := range derived.All() {
		w, _ := next()
		if s != w {
			t.Fatalf("derived-base symbol %+v, want %+v", s, w)
		}
	}
	delete(vals, "_stext")
	if _, err := symbols.KallsymsFromDump(vals, d); !errors.Is(err, symbols.ErrNoKallsyms) {
		t.Errorf("no base and no _stext: err = %v", err)
	}
	if _, err := symbols.KallsymsFromDump(map[string]uint64{"_stext": 1}, d); !errors.Is(err, symbols.ErrNoKallsyms) {
		t.Errorf("no kallsyms entries: err = %v", err)
	}
}
