//go:build linux

package symbols

import (
	"os"
	"syscall"
)

// mapFile maps f read-only; the kernel pages in only what is touched,
// which keeps RSS well below reading 160 MB of DWARF into the heap. The map
// is advised random: lazily decoding one type touches scattered pages, and
// the default fault-around would map 64 KiB around each of them.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	_ = syscall.Madvise(b, syscall.MADV_RANDOM)
	return b, func() error { return syscall.Munmap(b) }, nil
}

// mapWhole maps f read-only for a reader about to go through all of it (a
// cache file: checksummed whole, then used in place). The mapping is never
// unmapped: tables and BTF read from it refer to its bytes for the rest of
// the run. Cache files are replaced by rename, never rewritten in place, so
// the mapped file stays as it was read.
func mapWhole(f *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

// adviseSequential asks for readahead on mm[off:end], about to be walked.
func adviseSequential(mm []byte, off, end uint64) {
	if lo, hi := pageSpan(off, end, true); hi > lo && hi <= uint64(len(mm)) {
		_ = syscall.Madvise(mm[lo:hi], syscall.MADV_SEQUENTIAL)
	}
}

// dropPages releases the pages wholly inside mm[off:end] from this process
// (they stay in the page cache), so the walk's RSS stays at a few units.
func dropPages(mm []byte, off, end uint64) {
	if lo, hi := pageSpan(off, end, false); hi > lo && hi <= uint64(len(mm)) {
		_ = syscall.Madvise(mm[lo:hi], syscall.MADV_DONTNEED)
	}
}

// pageSpan rounds [off, end) to pages: outward when grow is set, else
// inward so neighbouring ranges keep their pages. mm starts page-aligned.
func pageSpan(off, end uint64, grow bool) (uint64, uint64) {
	ps := uint64(os.Getpagesize())
	if grow {
		return off &^ (ps - 1), (end + ps - 1) &^ (ps - 1)
	}
	return (off + ps - 1) &^ (ps - 1), end &^ (ps - 1)
}
