package symbols

import (
	"debug/elf"
	"fmt"
	"strings"
	"testing"
)

func TestNewTableSymbolize(t *testing.T) {
	syms := []Sym{
		{Name: "b_func", Addr: KernelMapBase + 0x1100, Size: 0x20, Type: 'T'},
		{Name: "a_func", Addr: KernelMapBase + 0x1000, Size: 0x80, Type: 'T'},
		{Name: "a_alias.cold", Addr: KernelMapBase + 0x1000, Type: 't'},
		{Name: "percpu_var", Addr: 0x40, Type: 'D'},
		{Name: "percpu_last", Addr: 0x80, Type: 'D'},
		{Name: "gap_end", Addr: KernelMapBase + 0x2000, Type: 'T'},
	}
	const slide = 0x24600000
	tab := NewTable(syms, slide)
	if a, ok := tab.Lookup("a_func"); !ok || a != KernelMapBase+0x1000+slide {
		t.Fatalf("Lookup(a_func) = %#x %v", a, ok)
	}
	if a, ok := tab.Lookup("percpu_var"); !ok || a != 0x40 {
		t.Fatalf("per-CPU symbols must not slide: %#x %v", a, ok)
	}
	for _, c := range []struct {
		addr uint64
		name string
		off  uint64
		ok   bool
	}{
		{KernelMapBase + 0x1000 + slide, "a_func", 0, true},
		{KernelMapBase + 0x107f + slide, "a_func", 0x7f, true},
		{KernelMapBase + 0x1090 + slide, "a_func", 0x90, true}, // padding belongs to the symbol before, as in the kernel
		{KernelMapBase + 0x1105 + slide, "b_func", 5, true},
		{KernelMapBase + 0x0fff + slide, "", 0, false},
		{0x48, "percpu_var", 8, true},
	} {
		name, off, _, ok := tab.Symbolize(c.addr)
		if name != c.name || off != c.off || ok != c.ok {
			t.Errorf("Symbolize(%#x) = %q+%#x %v, want %q+%#x %v", c.addr, name, off, ok, c.name, c.off, c.ok)
		}
	}
}

func TestParseSystemMapErrors(t *testing.T) {
	for _, in := range []string{"", "zzzz T foo\n", "ffffffff81000000 TT foo\n", "ffffffff81000000\n"} {
		if _, err := ParseSystemMap(strings.NewReader(in), 0); err == nil {
			t.Errorf("ParseSystemMap(%q) accepted bad input", in)
		}
	}
	tab, err := ParseSystemMap(strings.NewReader("ffffffffc0001000 t helper\t[virtio_blk]\nffffffff81000000 T _text\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := tab.Sym("helper"); !ok || s.Module != "virtio_blk" || s.Type != 't' {
		t.Fatalf("module symbol parsed as %+v %v", s, ok)
	}
}

// The vmlinux ELF symtab and the package's System.map must agree on every
// System.map entry, and Symbolize must invert Lookup for functions.
func TestELFSymbolsAgreeWithSystemMap(t *testing.T) {
	const slide = 0x24600000
	et, err := OpenELFSymbols(vmlinuxPath(t), slide)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := OpenSystemMap(systemMapPath(t), slide)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for s := range et.All() {
		have[fmt.Sprintf("%s@%x", s.Name, s.Addr)] = true
	}
	missing, checked, funcs := 0, 0, 0
	for s := range mt.All() {
		checked++
		if !have[fmt.Sprintf("%s@%x", s.Name, s.Addr)] {
			if missing < 5 {
				t.Logf("System.map %c %s %#x absent from ELF symtab", s.Type, s.Name, s.Addr)
			}
			missing++
		}
		if s.IsText() && s.Size > 1 {
			name, off, size, ok := et.Symbolize(s.Addr + 1)
			mname, _, msize, _ := mt.Symbolize(s.Addr + 1)
			if !ok || off != 1 || name != mname || size != msize {
				t.Errorf("ELF Symbolize(%s+1 = %#x) = %q+%d/%d %v; System.map says %s/%d", s.Name, s.Addr+1, name, off, size, ok, mname, msize)
			}
			funcs++
		}
	}
	t.Logf("ELF symtab: %d symbols; System.map: %d checked, %d missing; %d functions symbolized", et.Len(), checked, missing, funcs)
	if missing > 0 {
		t.Errorf("%d System.map symbols are not in the ELF symtab", missing)
	}
	if a, _ := et.Lookup("init_task"); a != 0xffffffff82a1aa40+slide {
		t.Errorf("init_task = %#x", a)
	}
	if name, off, _, ok := et.Symbolize(mustLookup(t, et, "__schedule") + 0x10); name != "__schedule" || off != 0x10 || !ok {
		t.Errorf("Symbolize(__schedule+0x10) = %s+%#x %v", name, off, ok)
	}
}

func mustLookup(t testing.TB, st SymbolTable, name string) uint64 {
	t.Helper()
	a, ok := st.Lookup(name)
	if !ok {
		t.Fatalf("symbol %s not found", name)
	}
	return a
}

var _ = elf.EM_X86_64
