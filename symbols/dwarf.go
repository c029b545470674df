package symbols

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ktriage/ktriage/internal/phase"
)

// DWARF is a vmlinux's debug info: a name index grown on demand by a fast
// parallel DIE walk (and kept in an on-disk cache keyed by build-id, which
// later runs load and extend), with types decoded on demand by debug/dwarf.
type DWARF struct {
	path    string
	buildID string
	file    *os.File
	elf     *elf.File
	unmap   func() error
	secs    dwarfSections
	stats   IndexStats
	// prepareWalk, if set, readies the mapping for walking (once).
	prepareWalk func()

	// idxMu guards the index, which lookups extend.
	idxMu     sync.Mutex
	idx       *dwarfIndex
	idxErr    error // a unit the walk could not read; lookups past it fail
	workers   int
	useCache  bool
	fileSize  int64
	savedAt   int             // units the cache file held when loaded (0: none)
	absent    map[string]bool // names nowhere in the unwalked DWARF (nameAbsent)
	rebuild   sync.Once       // a cached index found wrong is replaced once
	stopAhead chan struct{}   // closed by Close to stop the walk ahead
	aheadDone chan struct{}   // closed when the walk ahead has stopped

	// debug/dwarf's Data (WithData) caches decoded types in a map and
	// fills DWARF 5 unit headers lazily, so every use of it goes through mu.
	mu      sync.Mutex
	data    *dwarf.Data
	dataErr error
	types   atomic.Pointer[dieTypes] // the types lookups answer with (dwarftypes.go); replaced when a bad cached index is dropped
	layoutOf

	lines lineTables // source lines, loaded on the first SourceLine
}

var _ Types = (*DWARF)(nil)

// DWARFOptions tune OpenDWARF.
type DWARFOptions struct {
	// CacheDir holds index files named <build-id>.idx; "" means
	// DefaultIndexCacheDir().
	CacheDir string
	NoCache  bool // neither read nor write the index cache
	Workers  int  // DIE-walk goroutines; 0 means GOMAXPROCS
	// WalkAhead indexes the rest of .debug_info in the background, one
	// goroutine, a few units at a time, until Close: a triage run is mostly
	// single-threaded, so a second core can have the index ready before a
	// lookup far into it (struct mount, a third of the way) asks. Close
	// stops the walk and caches what it reached. Only when the index is not
	// from the cache: a cached index holds what an earlier triage of this
	// kernel looked up (and what its walk reached), so a later one rarely
	// walks at all; walking ahead there grew the file a little each run, and
	// each run then paid for reading the unit headers and writing the file.
	WalkAhead bool
	// Trace, when set, times the index load and the symbol table (--trace).
	Trace *phase.Recorder
}

// IndexStats says how the index was obtained and how far it reaches.
type IndexStats struct {
	FromCache bool
	CachePath string
	// CacheRejected says why a cache file was not used (or was dropped
	// when a lookup found it wrong); the index was built afresh.
	CacheRejected string
	Elapsed       time.Duration // cache load and walking so far
	Types         int           // names indexed so far
	Globals       int
	Units         int // units in .debug_info
	Walked        int // of which indexed
}

// OpenDWARF opens a debug vmlinux and indexes its DWARF.
func OpenDWARF(path string, opts DWARFOptions) (*DWARF, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	d, err := openDWARF(f, path, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func openDWARF(f *os.File, path string, opts DWARFOptions) (*DWARF, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, err
	}
	d := &DWARF{path: path, file: f, elf: ef}
	d.layoutOf.find = d.lookupStruct
	d.buildID, _ = ELFBuildID(ef)
	mm, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("mapping file: %w", err)
	}
	d.unmap = unmap
	get := func(name string) ([]byte, error) {
		s := ef.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			return nil, nil
		}
		if s.Flags&elf.SHF_COMPRESSED != 0 {
			return s.Data()
		}
		if s.Offset > uint64(len(mm)) || s.Size > uint64(len(mm))-s.Offset {
			return nil, fmt.Errorf("section %s (%#x bytes at %#x) runs past the file", name, s.Size, s.Offset)
		}
		return mm[s.Offset : s.Offset+s.Size : s.Offset+s.Size], nil
	}
	for _, sec := range []struct {
		name string
		dst  *[]byte
	}{
		{".debug_info", &d.secs.info}, {".debug_abbrev", &d.secs.abbrev}, {".debug_str", &d.secs.str},
		{".debug_line_str", &d.secs.lineStr}, {".debug_str_offsets", &d.secs.strOffsets}, {".debug_addr", &d.secs.addr},
		{".debug_line", &d.secs.line}, {".debug_aranges", &d.secs.aranges}, {".debug_rnglists", &d.secs.rnglists},
	} {
		if *sec.dst, err = get(sec.name); err != nil {
			d.Close()
			return nil, err
		}
	}
	if s := ef.Section(".debug_info"); s != nil && s.Flags&elf.SHF_COMPRESSED == 0 && len(d.secs.info) > 0 {
		// The walk reads .debug_info front to back: read ahead, and drop
		// each span's pages once done so RSS stays small.
		base := s.Offset
		d.prepareWalk = sync.OnceFunc(func() { adviseSequential(mm, base, base+s.Size) })
		d.secs.walked = func(off, end uint64) { dropPages(mm, base+off, base+end) }
	}
	if len(d.secs.info) == 0 {
		d.Close()
		return nil, fmt.Errorf("no DWARF (.debug_info) in this file: %w", ErrNotFound)
	}
	if err := d.loadIndex(opts, st.Size()); err != nil {
		d.Close()
		return nil, err
	}
	d.types.Store(newDIETypes(&d.secs, d.unitSpans))
	if opts.WalkAhead && !d.stats.FromCache {
		d.walkAhead()
	}
	return d, nil
}

// aheadSpan is how many units the walk ahead indexes per turn: small, so a
// lookup waiting on it, or Close, waits for a few milliseconds at most.
const aheadSpan = 32

// walkAhead starts the background walk (see DWARFOptions.WalkAhead). It
// walks each span outside idxMu, so lookups answered by the index so far
// never wait for it, and takes the lock only to merge; a span a lookup has
// walked meanwhile is dropped.
func (d *DWARF) walkAhead() {
	d.idxMu.Lock()
	var err error
	if !d.idx.complete() {
		// The unit headers lie across all of .debug_info: read them
		// only when there is something left to walk.
		err = d.idx.loadHeaders(&d.secs)
	}
	done := d.idx.complete()
	d.idxMu.Unlock()
	if err != nil || done {
		return
	}
	d.stopAhead, d.aheadDone = make(chan struct{}), make(chan struct{})
	stop := d.stopAhead
	go func() {
		defer close(d.aheadDone)
		// mine is what this walk has merged: it cannot read the shared
		// index while lookups extend it, but skipping the names it found
		// itself keeps its spans (and the merges under the lock) small.
		mine := newUnitIndex()
		var marks []strMarks
		for {
			select {
			case <-stop:
				return
			default:
			}
			d.idxMu.Lock()
			from, done := d.idx.walked, d.idx.complete() || d.idxErr != nil
			if !done && d.prepareWalk != nil {
				d.prepareWalk()
			}
			d.idxMu.Unlock()
			if done {
				return
			}
			// headers and the sections never change once loaded.
			to := min(len(d.idx.units), from+aheadSpan)
			// Close stops it mid-span: what it walked of the span is
			// dropped rather than waited for.
			parts, err := walkSpan(&d.secs, d.idx.headers[from:to], &mine, 1, &marks, stop)
			if err == errWalkStopped {
				return
			}
			d.idxMu.Lock()
			switch {
			case err != nil:
				d.idxErr = fmt.Errorf("%s: %w", d.path, err)
			case d.idx.walked == from:
				d.idx.mergeSpan(&d.secs, parts, to)
			}
			d.idxMu.Unlock()
			if err != nil {
				return
			}
			for i := range parts {
				mine.merge(&parts[i])
			}
		}
	}()
}

func (d *DWARF) loadIndex(opts DWARFOptions, fileSize int64) error {
	start := time.Now()
	defer func() { d.stats.Elapsed += time.Since(start) }()
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		cacheDir = DefaultIndexCacheDir()
	}
	d.workers, d.fileSize = opts.Workers, fileSize
	d.useCache = !opts.NoCache && d.buildID != "" && cacheDir != ""
	if d.useCache {
		d.stats.CachePath = indexCachePath(cacheDir, d.buildID)
		idx, err := readIndexCache(d.stats.CachePath, d.buildID, fileSize)
		if err == nil {
			err = idx.checkSpans(len(d.secs.info))
		}
		if err == nil {
			d.idx = idx
			d.savedAt = idx.walked
			d.stats.FromCache = true
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			d.stats.CacheRejected = err.Error()
		}
	}
	idx, err := newDWARFIndex(&d.secs)
	if err != nil {
		return err
	}
	d.idx = idx
	return nil
}

// extendIndex walks the next span of units; the span doubles each time, so
// a lookup that needs the whole index costs a handful of steps. Call with
// idxMu held; false means nothing is left to walk (or the walk failed).
func (d *DWARF) extendIndex() bool {
	if d.idx.complete() || d.idxErr != nil {
		return false
	}
	start := time.Now()
	if d.prepareWalk != nil {
		d.prepareWalk()
	}
	n := max(48, d.idx.walked)
	if d.stopAhead != nil {
		// The walk ahead has covered the common names; a lookup past it
		// goes on in steps, not by doubling a prefix already long.
		n = 64
	}
	to := min(len(d.idx.units), d.idx.walked+n)
	if err := d.idx.walkTo(&d.secs, to, d.workers); err != nil {
		d.idxErr = fmt.Errorf("%s: %w", d.path, err)
	}
	d.stats.Elapsed += time.Since(start)
	return d.idxErr == nil
}

// IndexAll completes the index (lookups only walk as far as they need).
func (d *DWARF) IndexAll() error {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	for d.extendIndex() {
	}
	return d.idxErr
}

// saveIndex writes the index to the cache if this run extended it.
func (d *DWARF) saveIndex() {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	if !d.useCache || d.idx == nil || d.idx.walked <= d.savedAt {
		return
	}
	// Runs on the same kernel may overlap (a fleet batch): keep whichever
	// index reaches further. Its head says how far (decoding its names
	// too cost as much as the write).
	if cur, err := readIndexCacheTo(d.stats.CachePath, d.buildID, d.fileSize, true); err == nil && cur.walked >= d.idx.walked {
		return
	}
	// A cache that cannot be written only costs the next run time.
	if writeIndexCache(d.stats.CachePath, d.buildID, d.fileSize, d.idx) == nil {
		d.savedAt = d.idx.walked
	}
}

// Close saves what this run added to the index cache, then unmaps and
// closes the file. Types handed out earlier must not be used after Close.
func (d *DWARF) Close() error {
	if d.stopAhead != nil {
		close(d.stopAhead)
		<-d.aheadDone
		d.stopAhead = nil
	}
	d.saveIndex()
	var errs []error
	if d.unmap != nil {
		errs = append(errs, d.unmap())
		d.unmap = nil
	}
	if d.file != nil {
		errs = append(errs, d.file.Close())
		d.file = nil
	}
	return errors.Join(errs...)
}

// BuildID is the vmlinux's GNU build-id in hex ("" if it has none).
func (d *DWARF) BuildID() string { return d.buildID }

// Path is the file the DWARF came from.
func (d *DWARF) Path() string { return d.path }

// unitSpans are the bounds of .debug_info's units, as the index holds them.
func (d *DWARF) unitSpans() []unitSpan {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	return d.idx.units
}

// Stats reports how the index was built or loaded.
func (d *DWARF) Stats() IndexStats {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	st := d.stats
	if x := d.idx; x != nil {
		st.Types = len(x.plain) + len(x.structs) + len(x.unions) + len(x.enums)
		st.Globals, st.Units, st.Walked = len(x.globals), len(x.units), x.walked
	}
	return st
}

// ELF exposes the vmlinux's ELF headers (for its symtab and sections).
func (d *DWARF) ELF() *elf.File { return d.elf }

// Data returns debug/dwarf's view of the file, created on first use. Callers
// must not use it concurrently with this DWARF's methods; use WithData.
func (d *DWARF) WithData(fn func(*dwarf.Data) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ensureData(); err != nil {
		return err
	}
	return fn(d.data)
}

func (d *DWARF) ensureData() error {
	if d.data != nil || d.dataErr != nil {
		return d.dataErr
	}
	data, err := d.newData(d.secs.info)
	if err != nil {
		d.dataErr = err
		return err
	}
	d.data = data
	return nil
}

// newData makes a debug/dwarf view over info (all of .debug_info or one
// unit) sharing the file's other sections.
func (d *DWARF) newData(info []byte) (*dwarf.Data, error) {
	data, err := dwarf.New(d.secs.abbrev, nil, nil, info, nil, nil, nil, d.secs.str)
	if err == nil {
		for name, b := range map[string][]byte{".debug_line_str": d.secs.lineStr, ".debug_str_offsets": d.secs.strOffsets, ".debug_addr": d.secs.addr} {
			if len(b) > 0 {
				if err = data.AddSection(name, b); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: debug/dwarf: %w", d.path, err)
	}
	return data, nil
}

// TypeOffset is the DIE offset of a named type ("struct rq", "pid_t"). A
// bare name is whichever typedef, base type, struct, union or enum of that
// name is defined first: in C a typedef and a struct rarely share a name
// (6 times in Linux 6.1, each "typedef struct x x"), and answering with the
// first definition lets the lazy walk stop as soon as it finds one.
func (d *DWARF) TypeOffset(name string) (uint64, bool) {
	kw, bare := structKey(name)
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	for {
		best, found := uint64(0), false
		for _, k := range d.idx.typeKinds() {
			if kw != "" && k.kw != kw+" " {
				continue
			}
			if off, ok := k.m[bare]; ok && (!found || off < best) {
				best, found = off, true
			}
		}
		if found || d.nameAbsent(bare) || !d.extendIndex() {
			return best, found
		}
	}
}

// nameAbsent tells, without walking, that no unit left to walk can name
// name: every name the walk indexes is a NUL-terminated string in
// .debug_str or .debug_line_str, or inline in .debug_info, so a name in
// none of them is not there. Without it a type an older kernel lacks
// (seqcount_raw_spinlock_t before 5.10, struct cea_exception_stacks before
// 4.14), asked to pick a layout, walked all of .debug_info: two thirds of
// a cold 5.4 run's walk. A search of the sections costs tens of ms; a name
// found there (most names asked for) is walked to as before. Call with
// idxMu held.
func (d *DWARF) nameAbsent(name string) bool {
	if name == "" || d.idx.complete() {
		return false
	}
	if a, ok := d.absent[name]; ok {
		return a
	}
	want := append([]byte(name), 0)
	a := !bytes.Contains(d.secs.str, want) && !bytes.Contains(d.secs.lineStr, want)
	if a {
		// Only the units not yet walked: inline names in the walked
		// ones are indexed already.
		u := d.idx.units
		a = !bytes.Contains(d.secs.info[u[d.idx.walked].off:], want)
		if d.secs.walked != nil {
			d.secs.walked(u[d.idx.walked].off, u[len(u)-1].end) // as the walk does
		}
	}
	if d.absent == nil {
		d.absent = map[string]bool{}
	}
	d.absent[name] = a
	return a
}

// global finds a global's definition, walking on until it is settled: an
// external definition found in the prefix is final, a file-local one may
// yet be overruled by an external one in a later unit.
func (d *DWARF) global(name string) (globalVar, bool) {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	for {
		g, ok := d.idx.globals[name]
		if (ok && g.external) || (!ok && d.nameAbsent(name)) || !d.extendIndex() {
			return g, ok
		}
	}
}

func (d *DWARF) named(name string) (ctype, error) {
	off, ok := d.TypeOffset(name)
	if !ok {
		if err := d.indexErr(); err != nil {
			return nil, fmt.Errorf("DWARF type %q not found before an unreadable unit: %w", name, err)
		}
		return nil, fmt.Errorf("DWARF has no type %q: %w", name, ErrNotFound)
	}
	t, err := d.types.Load().get(off)
	if err != nil {
		return nil, fmt.Errorf("DWARF type %q at %#x: %w", name, off, err)
	}
	if _, bare := structKey(name); t.name != bare {
		// Only a cache file can hold an index that disagrees with the
		// DWARF itself (one with a valid checksum but wrong content):
		// drop it, index afresh, and look again.
		why := fmt.Sprintf("the index cache says %q is the DIE at %#x, which is %q", name, off, t.name)
		if d.dropCachedIndex(why) {
			return d.named(name)
		}
		return nil, fmt.Errorf("DWARF: %s", why)
	}
	return t, nil
}

// dropCachedIndex replaces an index loaded from the cache by a fresh one,
// removing the file so no later run trusts it. False when the index was not
// from the cache (or was already replaced).
func (d *DWARF) dropCachedIndex(why string) bool {
	dropped := false
	d.rebuild.Do(func() {
		if !d.stats.FromCache {
			return
		}
		if d.stopAhead != nil { // the walk ahead merges into the old index
			close(d.stopAhead)
			<-d.aheadDone
			d.stopAhead = nil
		}
		idx, err := newDWARFIndex(&d.secs)
		d.idxMu.Lock()
		defer d.idxMu.Unlock()
		if err != nil {
			d.idxErr = fmt.Errorf("%s: %w", d.path, err)
			return
		}
		os.Remove(d.stats.CachePath)
		d.types.Store(newDIETypes(&d.secs, d.unitSpans))
		d.idx, d.savedAt, d.stats.FromCache, d.stats.CacheRejected = idx, 0, false, why
		dropped = true
	})
	return dropped
}

func (d *DWARF) lookupStruct(name string) (ctype, error) {
	t, err := d.named(name)
	if err != nil {
		return nil, err
	}
	if k := t.kind(); k != KindStruct && k != KindUnion {
		return nil, fmt.Errorf("DWARF: %q is a %s, not a struct or union", name, k)
	}
	return t, nil
}

// TypeInfo describes a named type or type expression ("struct rq *").
func (d *DWARF) TypeInfo(name string) (TypeInfo, error) {
	t, err := parseTypeExpr(name, d.named)
	if err != nil {
		return TypeInfo{}, err
	}
	return describe(t), nil
}

// GlobalAddr is a global's link-time address (or per-CPU offset).
func (d *DWARF) GlobalAddr(name string) (uint64, bool) {
	g, ok := d.global(name)
	return g.addr, ok
}

func (d *DWARF) indexErr() error {
	d.idxMu.Lock()
	defer d.idxMu.Unlock()
	return d.idxErr
}

// GlobalType gives the C type of a global: from its DWARF definition, or
// for globals DWARF lacks (jiffies) from the table in globals.go.
func (d *DWARF) GlobalType(name string) (TypeInfo, error) {
	if g, ok := d.global(name); ok && g.typeDie != 0 {
		t, err := d.types.Load().get(g.typeDie)
		if err != nil {
			return TypeInfo{}, fmt.Errorf("DWARF type of %s at %#x: %w", name, g.typeDie, err)
		}
		return describe(t), nil
	}
	if expr, _, ok := KnownGlobal(name); ok {
		return d.TypeInfo(expr)
	}
	return TypeInfo{}, fmt.Errorf("DWARF has no global %q: %w", name, ErrNotFound)
}
