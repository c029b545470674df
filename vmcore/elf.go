package vmcore

import (
	"errors"
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
		return formatErr(path, -1, "ELF core: %v", err)
	}
	d.Format = "elf"
	d.Compression = "none"
	d.Incomplete = f.Incomplete() || f.Truncated()
	for _, n := range f.Notes {
		d.Notes = append(d.Notes, Note{Name: n.Name, Type: n.Type, Desc: n.Desc})
	}
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
		return n, &PageError{Addr: addr, Err: formatErr(e.path, -1, "%v", err)}
	}
	return n, err
}

func (e *elfDump) pageCounts() PageCounts {
	var c PageCounts
	size := uint64(e.f.Size())
	for _, s := range e.f.Loads {
		pages := s.MemSize / e.pageSize
		c.Total += pages
		file := s.FileSize
		if s.FileOff >= size {
			file = 0
		} else if s.FileOff+file > size {
			file = size - s.FileOff
		}
		c.Present += (file + e.pageSize - 1) / e.pageSize
		c.Lost += (s.FileSize - file) / e.pageSize
	}
	return c
}
