package elfcore

import (
	"errors"
	"fmt"
	"io"
	"sort"
)

// segmentAt returns the index of the segment that holds paddr, or -1.
// Where segments overlap, one that stores the byte in the file wins over one
// that would read it as zero, so a filtered duplicate never hides real data.
func (f *File) segmentAt(paddr uint64) int {
	// Candidates start at or below paddr; walk back while an earlier segment
	// could still reach it.
	i := sort.Search(len(f.Loads), func(i int) bool { return f.Loads[i].PAddr > paddr })
	zeroFill := -1
	for j := i - 1; j >= 0 && f.maxEnd[j] > paddr; j-- {
		s := f.Loads[j]
		off := paddr - s.PAddr
		if off >= s.MemSize {
			continue
		}
		if off < s.FileSize {
			return j
		}
		if zeroFill < 0 {
			zeroFill = j
		}
	}
	return zeroFill
}

// nextStart is the lowest segment start above paddr, or 0 when none: a read
// must stop there and look again, since that segment may take precedence.
func (f *File) nextStart(paddr uint64) uint64 {
	i := sort.Search(len(f.Loads), func(i int) bool { return f.Loads[i].PAddr > paddr })
	if i < len(f.Loads) {
		return f.Loads[i].PAddr
	}
	return 0
}

// ReadPhys reads len(p) bytes of physical memory starting at paddr. The read
// may span segments that abut. Bytes past a segment's file size, up to its
// memory size, read as zeros. It returns the count of bytes read before the
// first problem and an error wrapping ErrNotPresent when an address lies in
// no segment, or ErrTruncated when its bytes lie past the end of the file.
func (f *File) ReadPhys(p []byte, paddr uint64) (int, error) {
	n := 0
	for n < len(p) {
		addr := paddr + uint64(n)
		if addr < paddr {
			return n, fmt.Errorf("%w: read at %#x wraps past the top of the address space", ErrNotPresent, paddr)
		}
		i := f.segmentAt(addr)
		if i < 0 {
			return n, fmt.Errorf("%w: physical address %#x", ErrNotPresent, addr)
		}
		s := f.Loads[i]
		off := addr - s.PAddr
		limit := s.MemSize - off
		if next := f.nextStart(addr); next != 0 {
			limit = min(limit, next-addr)
		}
		want := uint64(len(p) - n)
		if off >= s.FileSize {
			k := min(want, limit)
			clear(p[n : n+int(k)])
			n += int(k)
			continue
		}
		k := min(want, limit, s.FileSize-off)
		m, err := f.readFile(p[n:n+int(k)], s.FileOff+off)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// readFile reads len(p) bytes at file offset off, reporting ErrTruncated
// for any part past the end of the file.
func (f *File) readFile(p []byte, off uint64) (int, error) {
	if off >= uint64(f.size) {
		return 0, fmt.Errorf("%w: file offset %#x, file size %#x", ErrTruncated, off, f.size)
	}
	avail := min(uint64(len(p)), uint64(f.size)-off)
	m, err := f.r.ReadAt(p[:avail], int64(off))
	if m == int(avail) {
		if avail < uint64(len(p)) {
			return m, fmt.Errorf("%w: bytes wanted up to file offset %#x, file size %#x", ErrTruncated, off+uint64(len(p)), f.size)
		}
		return m, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return m, fmt.Errorf("%w: file ends at %#x, before its stated size %#x", ErrTruncated, off+uint64(m), f.size)
	}
	return m, fmt.Errorf("elfcore: reading file offset %#x: %w", off+uint64(m), err)
}
