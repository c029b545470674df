package symbols

import (
	"encoding/binary"
	"hash/crc32"
	"path/filepath"
	"strings"
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
	dir    string // where builds are kept between runs; "" keeps them in memory only
	builds map[string]*buildNames
	order  []string // oldest first, for eviction
	reused atomic.Int64
	saving sync.WaitGroup // disk copies being written (Wait)
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

// NewNamesCache keeps the names of at most max builds in memory (a 6.1
// kernel's take ~25 MB) and, when dir is set, every build's on disk there
// (<build-id>.names, ~6 MB), so later runs on a kernel seen before skip
// decoding it too.
func NewNamesCache(max int, dir string) *NamesCache {
	return &NamesCache{max: max, dir: dir, builds: map[string]*buildNames{}}
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
		if b = c.load(buildID); b == nil {
			return nil, nil, false
		}
		c.keep(buildID, b)
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
	bn := &buildNames{table: t, btf: b, offset: offset, proof: p}
	if c.keep(buildID, bn) {
		// Encoding and writing the disk copy (~40 ms of CPU for a 6.1
		// kernel, most of a first-seen build's triage after the decoding)
		// is left to the other core; the run waits for it at the end.
		c.saving.Add(1)
		go func() {
			defer c.saving.Done()
			c.save(buildID, bn)
		}()
	}
}

// Wait returns once every disk copy started so far is written: call it
// before the process exits (an abandoned write leaves a temporary file).
func (c *NamesCache) Wait() {
	if c != nil {
		c.saving.Wait()
	}
}

// keep adds a build to the memory cache; false when it was there already.
func (c *NamesCache) keep(buildID string, b *buildNames) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.builds[buildID]; ok {
		return false
	}
	if len(c.order) >= c.max && len(c.order) > 0 {
		delete(c.builds, c.order[0])
		c.order = c.order[1:]
	}
	c.builds[buildID] = b
	c.order = append(c.order, buildID)
	return true
}

// The disk copy of a build, little-endian: magic, offset (u64), then the
// proof, the frozen table (tablecache.go), the raw BTF and its name index
// (btfdecode.go), each as a u32 length and its bytes, and a CRC-32 of
// everything before it. A later run maps the file and uses all four in
// place.
const namesMagic = "KTNAMES2"

func (c *NamesCache) path(buildID string) string {
	if c.dir == "" || strings.ContainsAny(buildID, "/\\.") {
		return ""
	}
	return filepath.Join(c.dir, buildID+".names")
}

// save writes a build's names for later runs; a cache, so failures only
// cost the next run its time.
func (c *NamesCache) save(buildID string, b *buildNames) {
	path := c.path(buildID)
	if path == "" || b.btf.raw == nil {
		return
	}
	le := binary.LittleEndian
	out := append([]byte(namesMagic), make([]byte, 8)...)
	le.PutUint64(out[len(namesMagic):], b.offset)
	b.btf.dec.index()
	for _, part := range [][]byte{b.proof, encodeTable(buildID, 0, b.table), b.btf.raw, b.btf.dec.slots} {
		out = le.AppendUint32(out, uint32(len(part)))
		out = append(out, part...)
	}
	out = le.AppendUint32(out, crc32.ChecksumIEEE(out))
	_ = writeCacheFile(path, out)
}

// load reads a build's names saved by an earlier run, or nil.
func (c *NamesCache) load(buildID string) *buildNames {
	path := c.path(buildID)
	if path == "" {
		return nil
	}
	data, err := readCacheFile(path, maxTableBytes)
	le := binary.LittleEndian
	if err != nil || len(data) < len(namesMagic)+8+4 || string(data[:len(namesMagic)]) != namesMagic ||
		crc32.ChecksumIEEE(data[:len(data)-4]) != le.Uint32(data[len(data)-4:]) {
		return nil
	}
	b := &buildNames{offset: le.Uint64(data[len(namesMagic):])}
	rest := data[len(namesMagic)+8 : len(data)-4]
	var parts [4][]byte
	for i := range parts {
		if len(rest) < 4 || uint64(le.Uint32(rest)) > uint64(len(rest)-4) {
			return nil
		}
		n := le.Uint32(rest)
		parts[i], rest = rest[4:4+n], rest[4+n:]
	}
	if len(rest) != 0 {
		return nil
	}
	bt, err := ParseBTF(parts[2])
	if err != nil || !bt.dec.useIndex(parts[3]) {
		return nil
	}
	t, err := decodeTable(parts[1], buildID, 0, 0)
	if err != nil {
		return nil
	}
	b.proof, b.table, b.btf = parts[0], t, bt
	return b
}
