package symbols

import (
	"encoding/binary"
	"errors"
)

// Memory reads the crashed kernel's virtual memory (KASLR-relocated addresses).
type Memory interface {
	ReadVirt(p []byte, vaddr uint64) error
}

// ErrNotFound is returned (wrapped) when a symbol, type, member or file is absent.
var ErrNotFound = errors.New("not found")

func readU64(m Memory, addr uint64) (uint64, error) {
	var b [8]byte
	if err := m.ReadVirt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func readU32(m Memory, addr uint64) (uint32, error) {
	var b [4]byte
	if err := m.ReadVirt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// readChunked reads n bytes at addr in page-sized pieces, so one unreadable
// page names its own address instead of failing a megabyte read blindly.
func readChunked(m Memory, addr uint64, n int) ([]byte, error) {
	out, lost, err := readPaged(m, addr, n, true)
	if len(lost) > 0 {
		return nil, err
	}
	return out, nil
}

// readPaged reads n bytes at addr a page at a time. A page the dump cannot
// serve reads as zeros and is listed in lost as [start, end) offsets, with
// the first error; stopEarly gives up at the first one.
func readPaged(m Memory, addr uint64, n int, stopEarly bool) (out []byte, lost [][2]int, first error) {
	out = make([]byte, n)
	const chunk = 4096
	for off := 0; off < n; {
		end := off + chunk - int((addr+uint64(off))%chunk)
		if end > n {
			end = n
		}
		if err := m.ReadVirt(out[off:end], addr+uint64(off)); err != nil {
			clear(out[off:end])
			lost = append(lost, [2]int{off, end})
			if first == nil {
				first = err
			}
			if stopEarly {
				return out, lost, first
			}
		}
		off = end
	}
	return out, lost, first
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
