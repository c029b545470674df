package symbols

import (
	"sync"
	"sync/atomic"
)

// NamesCache keeps the kernel names and types decoded from dumps, per
// kernel build, for a run over many dumps (a fleet's are mostly a handful
// of builds): the kallsyms and BTF of a build are decoded from its first
// dump, and later dumps of the build reuse them, moved to their own KASLR
// offset. Modules are always read from each dump. Safe for concurrent use;
// a nil *NamesCache keeps nothing.
type NamesCache struct {
	mu     sync.Mutex
	max    int
	builds map[string]*buildNames
	order  []string // oldest first, for eviction
	reused atomic.Int64
}

// Reused is how many dumps were named from the cache.
func (c *NamesCache) Reused() int64 {
	if c == nil {
		return 0
	}
	return c.reused.Load()
}

type buildNames struct {
	table  *Table
	btf    *BTF
	offset uint64 // the KernelOffset table's addresses are at
	proof  []byte // what sameBuild reads from each later dump
}

// proof reads what a dump of this build must hold for the cache to stand
// in for decoding it: kallsyms_num_syms and kallsyms_token_index (from
// VMCOREINFO) and the BTF header. A dump that cannot serve them would not
// have named itself either, so the cache must not name it: a crash's
// report may not depend on which dumps a batch read before it.
func proof(t *Table, vmcoreSymbols map[string]uint64, mem Memory) ([]byte, bool) {
	btf, ok := t.Lookup("__start_BTF")
	if !ok || vmcoreSymbols["kallsyms_num_syms"] == 0 || vmcoreSymbols["kallsyms_token_index"] == 0 {
		return nil, false
	}
	var out []byte
	for _, r := range []struct {
		addr uint64
		n    int
	}{
		{vmcoreSymbols["kallsyms_num_syms"], 4},
		{vmcoreSymbols["kallsyms_token_index"], 512},
		{btf, 24}, // struct btf_header
	} {
		b := make([]byte, r.n)
		if err := mem.ReadVirt(b, r.addr); err != nil {
			return nil, false
		}
		out = append(out, b...)
	}
	return out, true
}

// NewNamesCache keeps the names of at most max builds (a 6.1 kernel's take
// ~25 MB).
func NewNamesCache(max int) *NamesCache {
	return &NamesCache{max: max, builds: map[string]*buildNames{}}
}

// get returns the build's table moved to offset, and its BTF, when the
// cache has them and the dump's own _stext (VMCOREINFO) agrees with where
// the moved table puts it: a build-id is trusted only that far.
func (c *NamesCache) get(buildID string, offset uint64, vmcoreSymbols map[string]uint64, mem Memory) (*Table, *BTF, bool) {
	if c == nil || buildID == "" {
		return nil, nil, false
	}
	c.mu.Lock()
	b := c.builds[buildID]
	c.mu.Unlock()
	if b == nil {
		return nil, nil, false
	}
	t := b.table.movedBy(offset - b.offset)
	stext, ok := vmcoreSymbols["_stext"]
	if got, found := t.Lookup("_stext"); !ok || !found || got != stext {
		return nil, nil, false
	}
	if p, ok := proof(t, vmcoreSymbols, mem); !ok || string(p) != string(b.proof) {
		return nil, nil, false
	}
	c.reused.Add(1)
	return t, b.btf, true
}

// put keeps a build's names unless they were read with damage (another
// dump of the build may have them whole).
func (c *NamesCache) put(buildID string, offset uint64, t *Table, b *BTF, vmcoreSymbols map[string]uint64, mem Memory) {
	if c == nil || buildID == "" || t.Damage != "" || b.Damage != "" {
		return
	}
	p, ok := proof(t, vmcoreSymbols, mem)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.builds[buildID]; ok {
		return
	}
	if len(c.order) >= c.max && len(c.order) > 0 {
		delete(c.builds, c.order[0])
		c.order = c.order[1:]
	}
	c.builds[buildID] = &buildNames{table: t, btf: b, offset: offset, proof: p}
	c.order = append(c.order, buildID)
}
