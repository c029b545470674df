package unwind

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// sortFDEs must order as a stable sort by begin does: ties in section
// order, every byte of the address significant (0xff included).
func TestSortFDEsMatchesStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 17, 1000, 5000} {
		fdes := make([]fdeSpan, n)
		for i := range fdes {
			var begin uint64
			switch r.IntN(3) {
			case 0:
				begin = 0xffffffff81000000 + uint64(r.IntN(1<<20)) // kernel text
			case 1:
				begin = r.Uint64() // any byte, 0xff ones too
			default:
				begin = 0xffffffffa0000000 + uint64(r.IntN(8)) // many ties
			}
			fdes[i] = fdeSpan{begin: begin, end: begin + 16, off: i * 32}
		}
		want := slices.Clone(fdes)
		slices.SortStableFunc(want, func(a, b fdeSpan) int { return cmp.Compare(a.begin, b.begin) })
		if got := sortFDEs(fdes); !slices.Equal(got, want) {
			t.Fatalf("%d FDEs: radix order differs from the stable sort", n)
		}
	}
}
