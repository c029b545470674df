//go:build unix

package symbols

import (
	"os"
	"syscall"
)

// mapFile maps f read-only; the kernel pages in only what the walk touches,
// which keeps RSS well below reading 160 MB of DWARF into the heap.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
