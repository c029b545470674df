package vmcore

import (
	"container/list"
	"sync"
)

// pageCache keeps recently decompressed pages so that walking a structure
// that spans a page boundary, or a log ring read record by record, does not
// decompress the same page again. It is bounded: a 40 GB dump is never held.
type pageCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[uint64]*list.Element
}

type cacheEntry struct {
	pfn  uint64
	data []byte
}

func newPageCache(maxPages int) *pageCache {
	if maxPages < 16 {
		maxPages = 16
	}
	return &pageCache{max: maxPages, ll: list.New(), items: map[uint64]*list.Element{}}
}

func (c *pageCache) get(pfn uint64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[pfn]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry).data, true
	}
	return nil, false
}

func (c *pageCache) put(pfn uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[pfn]; ok {
		c.ll.MoveToFront(e)
		e.Value.(*cacheEntry).data = data
		return
	}
	c.items[pfn] = c.ll.PushFront(&cacheEntry{pfn: pfn, data: data})
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).pfn)
	}
}
