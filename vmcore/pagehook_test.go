package vmcore

import (
	"path/filepath"
	"sync"
	"testing"
)

// The page hook given at open time sees every page read from the open
// dump, cache hits included, and nothing read while opening it.
func TestOpenWithPageHook(t *testing.T) {
	var mu sync.Mutex
	seen := map[uint64]int{}
	d, err := OpenWith(OpenOptions{PageHook: func(pfn uint64) {
		mu.Lock()
		seen[pfn]++
		mu.Unlock()
	}}, filepath.Join(fixtureDir, "sysrq-kdump-zlib.vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(seen) != 0 {
		t.Fatalf("the hook saw %d pages while the dump was opening", len(seen))
	}
	var pfn uint64
	for pfn = 0; pfn < d.MaxPFN(); pfn++ {
		if _, _, _, _, err := d.PageDescriptor(pfn); err == nil {
			break
		}
	}
	if pfn == d.MaxPFN() {
		t.Fatal("no page present in the fixture")
	}
	b := make([]byte, 16)
	for i := 0; i < 2; i++ { // the second read is a cache hit
		if _, err := d.ReadPhys(b, pfn*uint64(d.PageSize)+8); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 1 || seen[pfn] != 2 {
		t.Errorf("two reads of pfn %#x: the hook saw %v", pfn, seen)
	}
}
