package vmcore

import (
	"errors"
	"fmt"
	"io"

	"github.com/ktriage/ktriage/elfcore"
)

// elfDump adapts an ELF core (elfcore) to the Dump's physical reads, mapping
// elfcore's errors onto ours so callers see one vocabulary.
type elfDump struct {
	f        *elfcore.File
	path     string
	pageSize uint64
}

func (d *Dump) openELF(r io.ReaderAt, size int64, path string) error {
	f, err := elfcore.Open(r, size)
	if err != nil {
		return formatErrWrap(path, -1, err, "ELF core: %v", err)
	}
	d.Format = FormatELF
	d.Compression = "none"
	d.Incomplete = f.Incomplete() || f.Truncated()
	if f.Truncated() && !f.Incomplete() {
		d.Warnings = append(d.Warnings, fmt.Sprintf("%s: the file ends before its last segment (%d bytes): cut short, so memory past the end is lost", path, size))
	}
	d.Notes = f.Notes
	d.NrCPUs = len(f.PRStatus())
	d.setVMCoreInfo(f.VMCOREINFO())
	if d.PageSize == 0 {
		d.PageSize = 4096
	}
	d.elf = &elfDump{f: f, path: path, pageSize: uint64(d.PageSize)}
	return nil
}

// ELF exposes the underlying ELF core (nil for kdump-compressed dumps).
func (d *Dump) ELF() *elfcore.File {
	if e, ok := d.elf.(*elfDump); ok {
		return e.f
	}
	return nil
}

func (e *elfDump) readPhys(p []byte, paddr uint64) (int, error) {
	n, err := e.f.ReadPhys(p, paddr)
	if err == nil {
		return n, nil
	}
	addr := paddr + uint64(n)
	switch {
	case errors.Is(err, elfcore.ErrNotPresent):
		return n, &PageError{Addr: addr, Err: ErrNotPresent}
	case errors.Is(err, elfcore.ErrTruncated):
		if e.f.Incomplete() {
			return n, &PageError{Addr: addr, Err: ErrLost}
		}
		return n, &PageError{Addr: addr, Err: formatErrWrap(e.path, -1, err, "%v", err)}
	}
	return n, err
}

// pageCounts counts pages by physical address, so segments that overlap
// (kexec lists the kernel image twice) are counted once. A filtered ELF
// core leaves excluded pages out of every segment, so they cannot be told
// apart from holes: Excluded stays 0 and the pages show as absent.
func (e *elfDump) pageCounts() PageCounts {
	type span struct{ start, end, fileEnd uint64 }
	var spans []span
	size := uint64(e.f.Size())
	var c PageCounts
	for _, s := range e.f.Loads {
		file := s.FileSize
		if s.FileOff >= size {
			file = 0
		} else if s.FileOff+file > size {
			// A page cut in part is lost too: it is not counted present.
			c.Lost += (file - (size - s.FileOff) + e.pageSize - 1) / e.pageSize
			file = size - s.FileOff
		}
		spans = append(spans, span{s.PAddr, s.PAddr + s.MemSize, s.PAddr + file})
	}
	// Loads are sorted by physical address; merge overlaps.
	var covered, stored uint64
	var curEnd, curFileEnd uint64
	for i, sp := range spans {
		if i == 0 || sp.start >= curEnd {
			covered += sp.end - sp.start
			stored += sp.fileEnd - sp.start
			curEnd, curFileEnd = sp.end, sp.fileEnd
			continue
		}
		if sp.end > curEnd {
			covered += sp.end - curEnd
			curEnd = sp.end
		}
		if sp.fileEnd > curFileEnd {
			from := max(curFileEnd, sp.start)
			stored += sp.fileEnd - from
			curFileEnd = sp.fileEnd
		}
	}
	c.Total = covered / e.pageSize
	c.Present = stored / e.pageSize
	return c
}
