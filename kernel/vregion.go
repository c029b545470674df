package kernel

import (
	"fmt"
	"sort"
	"strings"
)

// vregion is a stretch of kernel virtual memory read a page at a time, when
// first touched. A page the dump cannot serve is remembered as unreadable,
// so a reader of many small objects (log records) loses only those on it;
// and nothing is allocated for pages never touched, so a size claimed by a
// damaged header costs nothing until records are actually found there.
type vregion struct {
	as         *AddressSpace
	what       string
	addr, size uint64
	pages      map[uint64][]byte // by virtual page number; nil: unreadable
	firstErr   error
	lost       int
}

const vpageSize = 1 << pageShift

// newVRegion describes size bytes at addr; it reads nothing yet.
func newVRegion(as *AddressSpace, what string, addr, size uint64) (*vregion, error) {
	if addr+size < addr {
		return nil, fmt.Errorf("%s of %d bytes at %#x wraps past the top of the address space (damaged pointer?)", what, size, addr)
	}
	return &vregion{as: as, what: what, addr: addr, size: size, pages: map[uint64][]byte{}}, nil
}

func (r *vregion) page(vpn uint64) []byte {
	if b, ok := r.pages[vpn]; ok {
		return b
	}
	b := make([]byte, vpageSize)
	err := r.as.Reserve(r.what, vpageSize)
	if err == nil {
		err = r.as.ReadVirt(b, vpn<<pageShift)
	}
	if err != nil {
		b = nil
		r.lost++
		if r.firstErr == nil {
			r.firstErr = err
		}
	}
	r.pages[vpn] = b
	return b
}

// bytes returns n bytes at offset off, or false when they run past the
// region or lie on a page the dump cannot serve. The slice aliases the
// page when the bytes lie on one; otherwise it is a copy.
func (r *vregion) bytes(off, n uint64) ([]byte, bool) {
	if off > r.size || n > r.size-off {
		return nil, false
	}
	va := r.addr + off
	in := va & (vpageSize - 1)
	if in+n <= vpageSize {
		p := r.page(va >> pageShift)
		if p == nil {
			return nil, false
		}
		return p[in : in+n], true
	}
	out := make([]byte, n)
	for done := uint64(0); done < n; {
		a := va + done
		p := r.page(a >> pageShift)
		if p == nil {
			return nil, false
		}
		done += uint64(copy(out[done:], p[a&(vpageSize-1):]))
	}
	return out, true
}

// lostNote says which pages of the region were unreadable, or "".
func (r *vregion) lostNote() string {
	if r.lost == 0 {
		return ""
	}
	return fmt.Sprintf("%d page(s) of the %s unreadable (first: %v)", r.lost, r.what, r.firstErr)
}

// seqRanges renders sorted-or-not sequence numbers as "3-7, 12, 20-21",
// naming at most max ranges.
func seqRanges(seqs []uint64, max int) string {
	if len(seqs) == 0 {
		return ""
	}
	s := append([]uint64(nil), seqs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] <= s[j]+1 {
			j++
		}
		if len(parts) == max {
			parts = append(parts, "…")
			break
		}
		if s[i] == s[j] {
			parts = append(parts, fmt.Sprint(s[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
