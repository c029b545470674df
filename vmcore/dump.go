// Package vmcore opens kernel crash dumps in every format kdump,
// makedumpfile and QEMU write, and serves their physical memory, notes and
// VMCOREINFO. It knows nothing of virtual addresses or symbols.
//
// Formats: ELF cores (through elfcore), kdump-compressed with zlib, LZO,
// snappy or zstd pages, flattened streams of either (read in place, no -R
// step), and split sets opened together. Pages are decompressed on demand
// into a bounded cache, so a dump of any size is never read whole.
package vmcore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// maxCPUs is the most CPUs a Linux kernel is built for (x86 MAXSMP's
// NR_CPUS): a header claiming more is damaged, and must not size loops.
const maxCPUs = 8192

// DefaultCachePages bounds the decompressed-page cache (16 MiB of 4 KiB pages).
const DefaultCachePages = 4096

// Dump is an opened crash dump.
type Dump struct {
	Paths       []string
	Format      Format
	Flattened   bool
	Split       bool
	Compression string // "zlib", "lzo", "snappy", "zstd", "none"
	PageSize    int64
	Incomplete  bool
	DumpLevel   int // makedumpfile -d (kdump only; -1 when unknown)
	HeaderTime  time.Time
	Uts         Utsname // from the kdump header (QEMU leaves all but Machine empty)
	NrCPUs      int
	PanicCPU    int // kdump header current_cpu; -1 when unknown
	PhysBase    uint64

	VMCoreInfo *VMCoreInfo
	// VMCoreInfoErr says why VMCOREINFO is unusable when VMCoreInfo is nil.
	VMCoreInfoErr error
	Notes         []Note
	// Warnings name damage found while opening that did not stop it (a
	// file cut short, a VMCOREINFO value ignored), one line each.
	Warnings []string

	pageHook func(pfn uint64) // OpenOptions.PageHook
	hookMu   sync.Mutex       // a Dump serves reads from several goroutines

	files  []*os.File
	read   readCounter  // bytes and reads served by the files, for --trace
	kdumps []*kdumpFile // sorted by startPFN (split sets)
	elf    elfSource
	cache  *pageCache
	budget *Budget
}

// Utsname is the kernel's struct new_utsname.
type Utsname struct {
	Sysname, Nodename, Release, Version, Machine, Domainname string
}

// elfSource is implemented by the ELF adapter (elf.go).
type elfSource interface {
	readPhys(p []byte, paddr uint64) (int, error)
	pageCounts() PageCounts
}

// Open opens a dump. Several paths open a split set (makedumpfile --split).
// Files are opened read-only. Its reading may take DefaultMemoryLimit.
func Open(paths ...string) (*Dump, error) { return OpenWith(OpenOptions{}, paths...) }

// OpenOptions are what a dump is opened with.
type OpenOptions struct {
	// MemoryLimit is the budget in bytes (<= 0: DefaultMemoryLimit) for
	// what the dump's own sizes ask to allocate, here and in the readers
	// above (Reserve). A dump over it fails with a *BudgetError.
	MemoryLimit int64
	// PageHook, when set, is called with every pfn the open dump serves
	// (cache hits included; not the pages read while opening it). The
	// fixture tools (minimize, the fixture cutter) learn from it which
	// pages a reader needs.
	PageHook func(pfn uint64)
	// BitmapCountsDir, when set, keeps there the count of dumped pages
	// per block of each kdump file's bitmap (a few hundred bytes for a
	// 16 GiB machine), under the file's device, inode, size, mtime and
	// header: a rerun on the same file then reads only the bitmap blocks
	// it needs. Empty: nothing is kept.
	BitmapCountsDir string
}

// OpenWith is Open with options.
func OpenWith(opts OpenOptions, paths ...string) (*Dump, error) {
	if len(paths) == 0 {
		return nil, errors.New("no dump file given")
	}
	d := &Dump{Paths: paths, cache: newPageCache(DefaultCachePages), PanicCPU: -1, DumpLevel: -1, budget: NewBudget(opts.MemoryLimit)}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	for _, p := range paths {
		f, err := OpenRegular(p)
		if err != nil {
			return nil, err
		}
		d.files = append(d.files, f)
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		keep := countsKeeping{dir: opts.BitmapCountsDir, id: fileIdentity(st)}
		if err := d.addFile(countedReader{f, &d.read}, st.Size(), p, keep); err != nil {
			return nil, err
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	d.pageHook = opts.PageHook
	ok = true
	return d, nil
}

func (d *Dump) addFile(r io.ReaderAt, size int64, path string, keep countsKeeping) error {
	head := make([]byte, 64)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if n == 0 {
		return formatErr(path, -1, "empty file, not a dump")
	}
	flat := false
	if isFlattened(head) {
		fr, err := openFlat(r, size, path, d.budget)
		if err != nil {
			return err
		}
		r, size, flat = fr, fr.size, true
		head = make([]byte, 64)
		n, _ = r.ReadAt(head, 0)
		head = head[:n]
	}
	d.Flattened = d.Flattened || flat
	switch {
	case isKdump(head):
		k, err := openKdump(r, size, path, d.budget, keep)
		if err != nil {
			return err
		}
		d.kdumps = append(d.kdumps, k)
		return nil
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		if len(d.Paths) > 1 {
			return formatErr(path, 0, "split sets are kdump-compressed; an ELF core cannot be one part")
		}
		return d.openELF(r, size, path)
	default:
		return formatErr(path, 0, "not a crash dump: no ELF, KDUMP or makedumpfile signature")
	}
}

func (d *Dump) finish() error {
	if len(d.kdumps) > 0 {
		sort.Slice(d.kdumps, func(i, j int) bool { return d.kdumps[i].startPFN < d.kdumps[j].startPFN })
		k0 := d.kdumps[0]
		d.Format = FormatKdump
		d.Split = len(d.kdumps) > 1 || k0.split
		d.PageSize = k0.blockSize
		d.HeaderTime = k0.timestamp
		d.Uts = Utsname{k0.uts[0], k0.uts[1], k0.uts[2], k0.uts[3], k0.uts[4], k0.uts[5]}
		d.NrCPUs = int(k0.nrCPUs)
		if d.NrCPUs < 0 || d.NrCPUs > maxCPUs {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: kdump header nr_cpus %d is not a CPU count (at most %d): ignored", k0.path, k0.nrCPUs, maxCPUs))
			d.NrCPUs = 0
		}
		d.PanicCPU = int(k0.currentCPU)
		d.PhysBase = k0.physBase
		d.DumpLevel = int(k0.dumpLevel)
		var status uint32
		for i, k := range d.kdumps {
			status |= k.status
			d.Incomplete = d.Incomplete || k.incomplete()
			if k.truncated {
				d.Warnings = append(d.Warnings, fmt.Sprintf("%s: the file ends before its last page (%d bytes): cut short, so pages past the end are lost", k.path, k.size))
			}
			if k.blockSize != k0.blockSize || k.maxMapnr != k0.maxMapnr {
				return formatErr(k.path, -1, "split part does not match %s (block size or memory size differ)", k0.path)
			}
			if i > 0 && k.startPFN < d.kdumps[i-1].endPFN {
				return formatErr(k.path, -1, "split part overlaps %s", d.kdumps[i-1].path)
			}
		}
		if d.Split && len(d.kdumps) > 1 {
			for i := 1; i < len(d.kdumps); i++ {
				if d.kdumps[i].startPFN != d.kdumps[i-1].endPFN {
					return fmt.Errorf("split set is missing a part: pfns %#x-%#x are in none of the files given",
						d.kdumps[i-1].endPFN, d.kdumps[i].startPFN)
				}
			}
		}
		if d.Split && (d.kdumps[0].startPFN != 0 || d.kdumps[len(d.kdumps)-1].endPFN != k0.maxMapnr) {
			return fmt.Errorf("split set is incomplete: the files cover pfns %#x-%#x of %#x; give every part",
				d.kdumps[0].startPFN, d.kdumps[len(d.kdumps)-1].endPFN, k0.maxMapnr)
		}
		d.Compression = compressionName(status)
		vi, notes := k0.vmcoreinfo, k0.notes
		var err error
		if d.Notes, err = parseNotes(notes); err != nil {
			return formatErrWrap(k0.path, -1, err, "ELF notes: %v", err)
		}
		if vi == nil {
			vi = noteVMCoreInfo(d.Notes)
		}
		d.setVMCoreInfo(vi)
	}
	return nil
}

func noteVMCoreInfo(notes []Note) []byte {
	for _, n := range notes {
		if n.Name == "VMCOREINFO" {
			return n.Desc
		}
	}
	return nil
}

func (d *Dump) setVMCoreInfo(raw []byte) {
	if raw == nil {
		d.VMCoreInfoErr = errors.New("the dump carries no VMCOREINFO")
		return
	}
	vi, err := ParseVMCoreInfo(raw)
	if err != nil {
		d.VMCoreInfoErr = err
		return
	}
	d.VMCoreInfo = vi
	if ps, ok := vi.PageSize(); ok && d.PageSize == 0 {
		d.PageSize = ps
	} else if raw, present := vi.Get("PAGESIZE"); present && !ok {
		d.Warnings = append(d.Warnings, fmt.Sprintf("VMCOREINFO PAGESIZE=%s is not a page size a kernel uses (%d-%d, a power of two): ignored", raw, MinPageSize, MaxPageSize))
	}
	// VMCOREINFO's NUMBER(phys_base) is the kernel's own value; QEMU's
	// header field is a guess of QEMU's and has been seen wrong.
	if pb, ok := vi.Number("phys_base"); ok {
		d.PhysBase = uint64(pb)
	}
}

// Reserve takes n bytes of the dump's memory budget for what, before a
// reader allocates them on a size the dump states; a *BudgetError (which
// wraps ErrMemoryBudget) says the dump asks for more than it may.
func (d *Dump) Reserve(what string, n int64) error { return d.budget.Reserve(what, n) }

// Release gives back what Reserve took, once no longer held.
func (d *Dump) Release(n int64) { d.budget.Release(n) }

// Budget is the dump's memory budget (nil for a Dump not made by Open).
func (d *Dump) Budget() *Budget { return d.budget }

// Close releases the files.
func (d *Dump) Close() error {
	var first error
	for _, f := range d.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	d.files = nil
	return first
}

// Describe is a one-line summary of the dump's format, e.g.
// "kdump-compressed (lzo), flattened".
func (d *Dump) Describe() string {
	s := string(d.Format)
	if d.Format == FormatKdump {
		s += " (" + d.Compression + ")"
	}
	if d.Flattened {
		s += ", flattened"
	}
	if d.Split {
		if len(d.Paths) == 1 {
			s += ", one part of a split dump"
		} else {
			s += fmt.Sprintf(", split in %d files", len(d.Paths))
		}
	}
	if d.Incomplete {
		s += ", INCOMPLETE"
	}
	return s
}

// ReadPhys reads physical memory at paddr. It fails with ErrExcluded,
// ErrNotPresent or ErrLost (wrapped in a *PageError naming the address)
// at the first page it cannot serve, returning the bytes read so far.
func (d *Dump) ReadPhys(p []byte, paddr uint64) (int, error) {
	if d.elf != nil {
		return d.readELF(p, paddr)
	}
	ps := uint64(d.PageSize)
	n := 0
	for n < len(p) {
		addr := paddr + uint64(n)
		pfn, off := addr/ps, addr%ps
		if off == 0 && uint64(len(p)-n) >= ps {
			// A whole page of a long read (the log ring, BTF, kallsyms)
			// goes straight into p: caching it would cost a page of fresh
			// memory per page read, for data read once.
			if err := d.readPageInto(pfn, p[n:n+int(ps)]); err != nil {
				return n, &PageError{Addr: addr, Err: err}
			}
			n += int(ps)
			continue
		}
		page, err := d.page(pfn)
		if err != nil {
			return n, &PageError{Addr: addr, Err: err}
		}
		n += copy(p[n:], page[off:])
	}
	return n, nil
}

// PageError is a physical read that failed at Addr.
type PageError struct {
	Addr uint64
	Err  error
}

func (e *PageError) Error() string { return fmt.Sprintf("physical address %#x: %v", e.Addr, e.Err) }
func (e *PageError) Unwrap() error { return e.Err }

// readELF serves short reads (page-table entries, struct fields) from
// whole pages kept in the page cache, as the kdump path does: without it a
// page-table walk cost a pread per entry. Long reads, and pages the ELF
// core holds only in part, go straight to the file.
func (d *Dump) readELF(p []byte, paddr uint64) (int, error) {
	ps := uint64(d.PageSize)
	if d.pageHook != nil && ps != 0 && len(p) > 0 {
		// The hook sees ELF reads too: the minimizer learns from it which
		// pages a reader needs, whatever the source's format.
		for pfn := paddr / ps; pfn <= (paddr+uint64(len(p))-1)/ps; pfn++ {
			d.pageHook(pfn)
		}
	}
	if ps == 0 || len(p) >= int(ps) {
		return d.elf.readPhys(p, paddr)
	}
	n := 0
	for n < len(p) {
		addr := paddr + uint64(n)
		pfn, off := addr/ps, addr%ps
		page, ok := d.cache.get(pfn)
		if !ok {
			buf := make([]byte, ps)
			if _, err := d.elf.readPhys(buf, pfn*ps); err != nil {
				m, err := d.elf.readPhys(p[n:], addr)
				return n + m, err
			}
			d.cache.put(pfn, buf)
			page = buf
		}
		n += copy(p[n:], page[off:])
	}
	return n, nil
}

// readPageInto fills dst with page pfn from the cache or the file, without
// caching it.
func (d *Dump) readPageInto(pfn uint64, dst []byte) error {
	d.seen(pfn)
	if b, hit := d.cache.get(pfn); hit {
		copy(dst, b)
		return nil
	}
	return d.readUncached(pfn, dst)
}

// seen passes pfn to the page hook, one call at a time.
func (d *Dump) seen(pfn uint64) {
	if d.pageHook != nil {
		d.hookMu.Lock()
		d.pageHook(pfn)
		d.hookMu.Unlock()
	}
}

func (d *Dump) page(pfn uint64) ([]byte, error) {
	d.seen(pfn)
	if b, ok := d.cache.get(pfn); ok {
		return b, nil
	}
	buf := make([]byte, d.PageSize)
	if err := d.readUncached(pfn, buf); err != nil {
		return nil, err
	}
	d.cache.put(pfn, buf)
	return buf, nil
}

// readUncached reads page pfn from the kdump file holding it.
func (d *Dump) readUncached(pfn uint64, dst []byte) error {
	i := sort.Search(len(d.kdumps), func(i int) bool { return d.kdumps[i].endPFN > pfn })
	if i == len(d.kdumps) || !d.kdumps[i].holds(pfn) {
		return ErrNotPresent
	}
	return d.kdumps[i].readPage(pfn, dst)
}

// PageCounts tells how much of memory the dump holds.
type PageCounts struct {
	Total    uint64 // pages of RAM the dumped machine had (per the dump)
	Present  uint64 // pages whose contents are in the dump
	Excluded uint64 // RAM pages filtered out (-d)
	Lost     uint64 // pages an incomplete dump should hold but does not
	// Unread: pfns whose bitmap blocks could not be read (Pages returns
	// why); they are in none of the counts above.
	Unread uint64 `json:",omitempty"`
}

// Pages counts present, excluded and lost pages. For an incomplete
// kdump it reads every page descriptor, once. A bitmap block that cannot
// be read leaves its pfns out of the counts (in Unread) and its error is
// returned, with the counts of the rest.
func (d *Dump) Pages() (PageCounts, error) {
	if d.elf != nil {
		return d.elf.pageCounts(), nil
	}
	var c PageCounts
	var errs []error
	for _, k := range d.kdumps {
		total, present, excluded, unread, err := k.pageCounts()
		if err != nil {
			errs = append(errs, err)
		}
		c.Total += total
		c.Present += present
		c.Excluded += excluded
		c.Unread += unread
		if k.incomplete() {
			// Lost pages of unread blocks were not counted present.
			lost := min(k.countLost(), present)
			c.Lost += lost
			c.Present -= lost
		}
	}
	return c, errors.Join(errs...)
}

// HasExcluded tells whether the dump filtered out RAM pages
// (Pages().Excluded > 0), reading a kdump file's bitmaps only as far as
// the first such page. The error is a bitmap block that could not be
// read before one was found.
func (d *Dump) HasExcluded() (bool, error) {
	if d.elf != nil {
		return d.elf.pageCounts().Excluded > 0, nil
	}
	var errs []error
	for _, k := range d.kdumps {
		found, err := k.anyExcluded()
		if found {
			return true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return false, errors.Join(errs...)
}

// KdumpPart describes one kdump-compressed file of the dump, for tools
// that copy pages verbatim (the fixture cutter).
type KdumpPart struct {
	Path             string
	BlockSize        int64
	StartPFN, EndPFN uint64
	MaxMapnr         uint64
	DataOffset       int64 // first page descriptor
	Reader           io.ReaderAt
	Size             int64
	Flattened        bool
}

// KdumpParts lists the kdump-compressed files (nil for ELF dumps).
func (d *Dump) KdumpParts() []KdumpPart {
	var out []KdumpPart
	for _, k := range d.kdumps {
		_, flat := k.r.(*flatReader)
		out = append(out, KdumpPart{Path: k.path, BlockSize: k.blockSize, StartPFN: k.startPFN, EndPFN: k.endPFN,
			MaxMapnr: k.maxMapnr, DataOffset: k.dataOff, Reader: k.r, Size: k.size, Flattened: flat})
	}
	return out
}

// PageDescriptor returns the raw descriptor of a dumped pfn: where its
// (possibly compressed) bytes lie in the part's logical file, their size
// and compression flags.
func (d *Dump) PageDescriptor(pfn uint64) (part int, off int64, size, flags uint32, err error) {
	for i, k := range d.kdumps {
		if k.holds(pfn) {
			if dumped, err := k.isDumped(pfn); err != nil || !dumped {
				if err == nil {
					err = ErrExcluded
				}
				return i, 0, 0, 0, err
			}
			off, size, flags, err = k.pageDesc(pfn)
			return i, off, size, flags, err
		}
	}
	return -1, 0, 0, 0, ErrNotPresent
}

// MaxPFN is one past the highest page frame the dump describes (kdump
// max_mapnr, or the end of the highest ELF segment): no count of the
// machine's pages can exceed it.
func (d *Dump) MaxPFN() uint64 {
	if e, ok := d.elf.(*elfDump); ok {
		var end uint64
		for _, s := range e.f.Loads {
			end = max(end, s.PAddr+s.MemSize)
		}
		return (end + e.pageSize - 1) / e.pageSize
	}
	var n uint64
	for _, k := range d.kdumps {
		n = max(n, k.maxMapnr)
	}
	return n
}

// InRAM tells whether the dump's first bitmap marks pfn as RAM.
func (d *Dump) InRAM(pfn uint64) bool {
	for _, k := range d.kdumps {
		if pfn < k.maxMapnr {
			ram, _ := k.isRAM(pfn) // unreadable: not known to be RAM
			return ram
		}
	}
	return false
}
