package symbols

import (
	"cmp"
	"debug/elf"
	"slices"
	"strings"
	"testing"
)

// The symbol table decoder must give what debug/elf gives, and the one-sort
// table the order of the two stable sorts it replaced (nm -n, then the
// kernel's alias order).
func TestELFSymbolsMatchDebugELF(t *testing.T) {
	for _, name := range []string{"fixture", "vmlinux"} {
		t.Run(name, func(t *testing.T) { checkELFSymbols(t, name) })
	}
}

func checkELFSymbols(t *testing.T, which string) {
	path := fixturePath("testdata/symbols/dwarf/types-dwarf5.elf")
	if which == "vmlinux" {
		path = vmlinuxPath(t)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []elf.Symbol
	if err := eachELFSymbol(f, func(s elf.Symbol) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	want, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d symbols, debug/elf %d", path, len(got), len(want))
	}
	for i := range want {
		w := want[i]
		w.Version, w.Library, w.VersionIndex, w.HasVersion = "", "", 0, false
		if got[i] != w {
			t.Fatalf("%s: symbol %d = %+v, debug/elf %+v", path, i, got[i], w)
		}
	}
	const slide = 0x1e000000
	table, err := ELFSymbols(f, slide)
	if err != nil {
		t.Fatal(err)
	}
	var ref []Sym
	for _, s := range want {
		if c := nmType(f, s); s.Name != "" && c != 0 && inKallsyms(s.Name, c) {
			ref = append(ref, Sym{Name: s.Name, Addr: s.Value, Size: s.Size, Type: c})
		}
	}
	slices.SortStableFunc(ref, func(a, b Sym) int {
		if c := cmp.Compare(a.Addr, b.Addr); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range ref {
		if a := ref[i].Addr; a >= KernelMapBase && a-KernelMapBase < KernelImageSize {
			ref[i].Addr += slide
		}
	}
	slices.SortStableFunc(ref, func(a, b Sym) int {
		if c := cmp.Compare(a.Addr, b.Addr); c != 0 {
			return c
		}
		return aliasCompare(a, b)
	})
	if !slices.Equal(table.syms, ref) {
		for i := range ref {
			if table.syms[i] != ref[i] {
				t.Fatalf("%s: table entry %d = %+v, two stable sorts give %+v", path, i, table.syms[i], ref[i])
			}
		}
	}
	t.Logf("%s: %d symbols, %d in the table, same order", path, len(want), len(ref))
}
