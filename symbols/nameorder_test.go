package symbols

import (
	"slices"
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
