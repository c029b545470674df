package minimize

import (
	"github.com/ktriage/ktriage/internal/cutdump"
)

// fitBudget drops the pages of optional reasons, least needed first, until
// the copy's estimated size is within max; each reason dropped is named in
// the manifest. Required pages are never dropped: Minimize says so when
// they alone exceed the budget.
func fitBudget(pages []cutdump.Packed, reason map[uint64]string, img *cutdump.Image, limit int64, m *Manifest) []cutdump.Packed {
	size := estimate(pages, img)
	for _, drop := range optional {
		if size <= limit {
			break
		}
		var kept []cutdump.Packed
		n := 0
		for _, p := range pages {
			if reasonKind(reason[p.PFN]) == drop {
				n++
				continue
			}
			kept = append(kept, p)
		}
		if n > 0 {
			m.Dropped = append(m.Dropped, Count{drop, n})
			pages = kept
			size = estimate(pages, img)
		}
	}
	return pages
}

// estimate is the size Build will write for pages, without the note area.
func estimate(pages []cutdump.Packed, img *cutdump.Image) int64 {
	bs := img.BlockSize
	size := 2*bs + 2*((int64(img.MaxMapnr+7)/8+bs-1)/bs*bs)
	shared := map[string]bool{}
	for _, p := range pages {
		size += 24
		if !shared[string(p.Data)] {
			shared[string(p.Data)] = true
			size += int64(len(p.Data))
		}
	}
	return size
}
