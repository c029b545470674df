package symbols

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ktriage/ktriage/internal/radix"
)

// A vmlinux's ~90-120k symbols are sorted twice when its table is first
// built: by address (sortByAddr), and by name for the cache's name order;
// the DWARF index cache sorts its ~50k names. Comparison sorts through a
// function spent ~20, ~30 and ~10 ms of a cold run's critical path on
// them; radix sorts of 64-bit keys take a few.

// nameChunk is the 8 bytes of name from at, big-endian, zero-padded:
// chunks compare as the strings do, but for NULs at the end of a name,
// which the comparison sort that ends sortStrings settles.
func nameChunk(name string, at int) uint64 {
	if at+8 <= len(name) {
		s := name[at : at+8]
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var k uint64
	for j := range 8 {
		k <<= 8
		if at+j < len(name) {
			k |= uint64(name[at+j])
		}
	}
	return k
}

// sortedStrings returns the indexes of strs in string order, equal
// strings by index.
func sortedStrings(strs []string) []radix.Key {
	keys := make([]radix.Key, len(strs))
	for i := range keys {
		keys[i].I = int32(i)
	}
	sortStrings(keys, strs, 0)
	return keys
}

// sortStrings orders keys (indexes into strs, in increasing index order,
// whose strings share their first at bytes) by string, equal strings by
// index: a radix sort on 8 bytes at a time, each run sharing them sorted
// by the next 8, and small runs by comparison.
func sortStrings(keys []radix.Key, strs []string, at int) {
	longest := 0
	for _, k := range keys {
		longest = max(longest, len(strs[k.I]))
	}
	if len(keys) <= 32 || longest <= at {
		slices.SortFunc(keys, func(a, b radix.Key) int {
			if c := strings.Compare(strs[a.I], strs[b.I]); c != 0 {
				return c
			}
			return cmp.Compare(a.I, b.I)
		})
		return
	}
	for j := range keys {
		keys[j].K = nameChunk(strs[keys[j].I], at)
	}
	radix.Sort(keys)
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi].K == keys[lo].K {
			hi++
		}
		if hi-lo > 1 {
			sortStrings(keys[lo:hi], strs, at+8)
		}
		lo = hi
	}
}

// nameOrderOf lists the indexes of syms by name, only the first (lowest
// index) of equal names.
func nameOrderOf(syms []Sym) []int32 {
	// The names side by side: sorting reads them far more often than once.
	names := make([]string, len(syms))
	for i := range syms {
		names[i] = syms[i].Name
	}
	keys := sortedStrings(names)
	order := make([]int32, 0, len(keys))
	for j, k := range keys {
		if j == 0 || names[k.I] != names[keys[j-1].I] {
			order = append(order, k.I)
		}
	}
	return order
}
