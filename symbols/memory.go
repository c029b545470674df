package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Memory reads the crashed kernel's virtual memory (KASLR-relocated addresses).
// Long reads call ReadVirt from several goroutines at once.
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
// the first error; stopEarly gives up at the first one. A read the dump's
// memory budget refuses is lost whole, with nothing allocated.
func readPaged(m Memory, addr uint64, n int, stopEarly bool) (out []byte, lost [][2]int, first error) {
	if err := reserve(m, fmt.Sprintf("the read at %#x", addr), n); err != nil {
		return nil, [][2]int{{0, n}}, err
	}
	out = make([]byte, n)
	// The pages are read by up to four goroutines, each over its own run
	// of pages: kallsyms and BTF are hundreds of compressed pages, a third
	// of a triage's time when decompressed on one core.
	type span struct{ from, to int }
	var pages []span
	for off := 0; off < n; {
		end := min(off+pageSize-int((addr+uint64(off))%pageSize), n)
		pages = append(pages, span{off, end})
		off = end
	}
	errs := make([]error, len(pages))
	read := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := pages[i]
			if errs[i] = m.ReadVirt(out[p.from:p.to], addr+uint64(p.from)); errs[i] != nil {
				clear(out[p.from:p.to])
				if stopEarly {
					return
				}
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), 4, len(pages)/parallelPages)
	if workers <= 1 {
		read(0, len(pages))
	} else {
		var wg sync.WaitGroup
		per := (len(pages) + workers - 1) / workers
		for lo := 0; lo < len(pages); lo += per {
			wg.Add(1)
			go func(lo, hi int) {
				defer wg.Done()
				read(lo, hi)
			}(lo, min(lo+per, len(pages)))
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err == nil {
			continue
		}
		lost = append(lost, [2]int{pages[i].from, pages[i].to})
		if first == nil {
			first = err
		}
		if stopEarly {
			// What the other workers read past the first lost page is not
			// the caller's: it asked to stop there.
			clear(out[pages[i].to:])
			return out, lost, first
		}
	}
	return out, lost, first
}

// reserve takes n bytes of the dump's memory budget before an allocation
// sized by the dump, when m carries one (kernel's AddressSpace does).
func reserve(m Memory, what string, n int) error {
	if r, ok := m.(interface{ Reserve(string, int64) error }); ok {
		return r.Reserve(what, int64(n))
	}
	return nil
}

// pageSize is the unit readPaged reads and loses; parallelPages the fewest
// pages worth a second goroutine.
const (
	pageSize      = 4096
	parallelPages = 16
)

// cString returns b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
