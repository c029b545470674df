//go:build !linux

package symbols

import (
	"io"
	"os"
)

func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), b); err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

func mapWhole(f *os.File, size int64) ([]byte, error) {
	b, _, err := mapFile(f, size)
	return b, err
}

func adviseSequential(mm []byte, off, end uint64) {}
func dropPages(mm []byte, off, end uint64)        {}
