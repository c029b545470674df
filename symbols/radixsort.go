package symbols

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ktriage/ktriage/internal/radix"
)

// A vmlinux's ~90-120k symbols are sorted twice when its table is first
// built: by address (sortByAddr), and by name for the cache's name order.
// Comparison sorts through a function spent ~20 and ~30 ms of a cold run's
// critical path on them; radix sorts of 64-bit keys take a few.

// nameChunk is the 8 bytes of name from at, big-endian, zero-padded:
// chunks compare as the strings do, but for NULs at the end of a name,
// which the comparison sort that ends sortByName settles.
func nameChunk(name string, at int) uint64 {
	var k uint64
	for j := range 8 {
		k <<= 8
		if at+j < len(name) {
			k |= uint64(name[at+j])
		}
	}
	return k
}

// sortByName orders keys (indexes into syms, in increasing index order,
// whose names share their first at bytes) by the symbols' names, equal
// names by index: a radix sort on 8 bytes at a time, each run sharing
// them sorted by the next 8, and small runs by comparison.
func sortByName(keys []radix.Key, syms []Sym, at int) {
	longest := 0
	for _, k := range keys {
		longest = max(longest, len(syms[k.I].Name))
	}
	if len(keys) <= 32 || longest <= at {
		slices.SortFunc(keys, func(a, b radix.Key) int {
			if c := strings.Compare(syms[a.I].Name, syms[b.I].Name); c != 0 {
				return c
			}
			return cmp.Compare(a.I, b.I)
		})
		return
	}
	for j := range keys {
		keys[j].K = nameChunk(syms[keys[j].I].Name, at)
	}
	radix.Sort(keys)
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi].K == keys[lo].K {
			hi++
		}
		if hi-lo > 1 {
			sortByName(keys[lo:hi], syms, at+8)
		}
		lo = hi
	}
}

// nameOrderOf lists the indexes of syms by name, only the first (lowest
// index) of equal names.
func nameOrderOf(syms []Sym) []int32 {
	keys := make([]radix.Key, len(syms))
	for i := range keys {
		keys[i].I = int32(i)
	}
	sortByName(keys, syms, 0)
	order := make([]int32, 0, len(keys))
	for j, k := range keys {
		if j == 0 || syms[k.I].Name != syms[keys[j-1].I].Name {
			order = append(order, k.I)
		}
	}
	return order
}
