package symbols

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// The name order frozen into a table cache must be byte-wise string order:
// names sharing their first 8 bytes, shorter than 8, or holding a NUL.
func TestNameOrderIsStringOrder(t *testing.T) {
	names := []string{"__ksymtab_b", "__ksymtab_a", "__ksymtab_", "a", "", "ab\x00c", "ab", "\xffz", "__kstrtab_x",
		"trace_event_raw_x", "trace_event_raw_", "zz", "__ksymtab_b2"}
	var syms []Sym
	for i, n := range names {
		syms = append(syms, Sym{Name: n, Addr: 0x1000 + uint64(i)*16, Type: 'T'})
	}
	tab := NewTable(syms, 0)
	var got []string
	for _, i := range tab.nameOrder() {
		got = append(got, tab.syms[i].Name)
	}
	want := slices.Sorted(slices.Values(names))
	if !slices.Equal(got, want) {
		t.Fatalf("name order %q, want %q", got, want)
	}
}

// The radix name order agrees with a comparison sort on a real symbol
// table (kallsyms-like names, many sharing long prefixes), duplicates
// answered by their first index.
func TestNameOrderVmlinux(t *testing.T) {
	tab, err := OpenELFSymbols(vmlinuxPath(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	checkNameOrder(t, tab.syms, tab.nameOrder())
}

// checkNameOrder compares order with the sorted distinct names of syms,
// each at its first index.
func checkNameOrder(t *testing.T, syms []Sym, order []int32) {
	t.Helper()
	first := map[string]int32{}
	for i, s := range syms {
		if _, ok := first[s.Name]; !ok {
			first[s.Name] = int32(i)
		}
	}
	names := slices.Sorted(maps.Keys(first))
	if len(order) != len(names) {
		t.Fatalf("%d names in the order, %d distinct", len(order), len(names))
	}
	for j, n := range names {
		if order[j] != first[n] {
			t.Fatalf("order[%d] = %d (%q), want %d (%q)", j, order[j], syms[order[j]].Name, first[n], n)
		}
	}
}

// The radix path (runs longer than the comparison sort takes) on names
// sharing 8, 16 and more bytes, ending in NULs, and repeated.
func TestNameOrderRadixRuns(t *testing.T) {
	var syms []Sym
	stems := []string{"__ksymtab_", "trace_event_raw_event_", "abcdefgh", "abcdefg\x00", "abcdefg", "x"}
	for i := range 3000 {
		n := stems[i%len(stems)] + strings.Repeat("\x00", i%3) + string(rune('a'+i*7%26)) + strings.Repeat("q", i%11)
		if i%5 == 0 {
			n = stems[i%len(stems)]
		}
		syms = append(syms, Sym{Name: n})
	}
	checkNameOrder(t, syms, nameOrderOf(syms))
}
