package radix

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// Sort is a stable sort by key: kernel-like addresses (a shared top),
// small offsets, keys with 0xff bytes and repeated keys come out as a
// stable comparison sort leaves them.
func TestSortIsStable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 100, 5000} {
		keys := make([]Key, n)
		for i := range keys {
			k := uint64(0xffffffff81000000) + r.Uint64N(1<<20)&^7
			switch i % 4 {
			case 1:
				k = r.Uint64N(1 << 16)
			case 2:
				k = 0xffffffff81000000 // many equal keys
			case 3:
				k = r.Uint64()
			}
			keys[i] = Key{k, int32(i)}
		}
		want := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b Key) int { return cmp.Compare(a.K, b.K) })
		Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("%d keys: radix order differs from a stable sort", n)
		}
	}
}
