package unwind

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// ORC ("oops rewind capability") is the x86_64 kernel's own unwind table,
// built by objtool: for every text address, where the caller's stack
// pointer, frame pointer and return address are. Two parallel arrays hold
// it: .orc_unwind_ip (s32 offsets, each relative to its own slot, sorted)
// and .orc_unwind (6-byte entries). The kernel keeps both in memory, so a
// dump carries them even when no vmlinux is at hand.

// orcReg names where the caller's SP (or BP) is computed from
// (arch/x86/include/asm/orc_types.h; unchanged from 4.14 to 6.x).
type orcReg uint8

const (
	orcRegUndefined  orcReg = 0
	orcRegPrevSP     orcReg = 1
	orcRegDX         orcReg = 2
	orcRegDI         orcReg = 3
	orcRegBP         orcReg = 4
	orcRegSP         orcReg = 5
	orcRegR10        orcReg = 6
	orcRegR13        orcReg = 7
	orcRegBPIndirect orcReg = 8
	orcRegSPIndirect orcReg = 9
)

// orcType is the kind of frame an entry describes, normalized across the
// kernel's two numberings.
type orcType uint8

const (
	// orcUndefined: objtool could not describe the frame; unwinding stops
	// with an error.
	orcUndefined orcType = iota
	// orcEndOfStack: the outermost frame (ret_from_fork of a kthread,
	// the idle task's startup code).
	orcEndOfStack
	// orcCall: an ordinary frame; the return address is at CFA-8.
	orcCall
	// orcRegs: a full struct pt_regs sits at the CFA (exception and
	// interrupt entry).
	orcRegs
	// orcRegsPartial: only the hardware iret frame sits at the CFA.
	orcRegsPartial
)

func (t orcType) String() string {
	switch t {
	case orcEndOfStack:
		return "end"
	case orcCall:
		return "call"
	case orcRegs:
		return "regs"
	case orcRegsPartial:
		return "regs_partial"
	}
	return "undefined"
}

// ORCEntry is one decoded ORC entry.
type ORCEntry struct {
	spOffset, bpOffset int16
	spReg, bpReg       orcReg
	typ                orcType
	// signal: the frame was entered asynchronously, so its IP is exact,
	// not a return address (6.4+; implied by REGS types before).
	signal bool
}

const ORCEntrySize = 6

// ORCLayout tells the two encodings of the flags word apart.
type ORCLayout int

const (
	// ORCLayout61 is 4.14–6.3: sp_reg:4 bp_reg:4 type:2 end:1, types
	// CALL 0, REGS 1, REGS_PARTIAL 2.
	ORCLayout61 ORCLayout = iota
	// ORCLayout64 is 6.4 on: sp_reg:4 bp_reg:4 type:3 signal:1, types
	// UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4.
	ORCLayout64
)

// decodeORCEntry decodes one little-endian 6-byte entry.
func decodeORCEntry(b []byte, layout ORCLayout) ORCEntry {
	e := ORCEntry{
		spOffset: int16(binary.LittleEndian.Uint16(b[0:])),
		bpOffset: int16(binary.LittleEndian.Uint16(b[2:])),
		spReg:    orcReg(b[4] & 15),
		bpReg:    orcReg(b[4] >> 4),
	}
	if layout == ORCLayout64 {
		e.signal = b[5]>>3&1 != 0
		switch b[5] & 7 {
		case 1:
			e.typ = orcEndOfStack
		case 2:
			e.typ = orcCall
		case 3:
			e.typ = orcRegs
		case 4:
			e.typ = orcRegsPartial
		default:
			e.typ = orcUndefined
		}
		if e.typ == orcRegs || e.typ == orcRegsPartial {
			e.signal = true
		}
		return e
	}
	end := b[5]>>2&1 != 0
	switch b[5] & 3 {
	case 0:
		e.typ = orcCall
	case 1:
		e.typ, e.signal = orcRegs, true
	case 2:
		e.typ, e.signal = orcRegsPartial, true
	default:
		e.typ = orcUndefined
	}
	// Before 6.4 an undefined SP register is either the end of the stack
	// (end bit, UNWIND_HINT_EMPTY with end) or an unreliable spot.
	if e.spReg == orcRegUndefined {
		if end {
			e.typ = orcEndOfStack
		} else {
			e.typ = orcUndefined
		}
	}
	return e
}

// ORCTable is one ORC table (the kernel's or a module's), with the IP
// array resolved to absolute addresses.
type ORCTable struct {
	ips     []uint64 // sorted
	entries []byte   // 6 bytes each, parallel to ips
	layout  ORCLayout
	// lo, hi bound the text the table covers, so a PC past the last
	// function of a module does not borrow its last entry.
	lo, hi uint64
}

// MaxORCEntries bounds the tables read from a possibly corrupt dump (6.1
// has ~370k for the whole kernel; 4M entries is 40 MiB of reads at most).
const MaxORCEntries = 1 << 22

// ParseORCTable builds a table from the raw arrays as they sit in memory:
// ipRaw at address ipAddr holding s32 offsets, and the entries.
func ParseORCTable(ipRaw []byte, ipAddr uint64, entries []byte, layout ORCLayout) (*ORCTable, error) {
	n := len(ipRaw) / 4
	if n == 0 {
		return nil, fmt.Errorf("orc: empty table")
	}
	if len(entries) < n*ORCEntrySize {
		return nil, fmt.Errorf("orc: %d IPs but room for only %d entries", n, len(entries)/ORCEntrySize)
	}
	t := &ORCTable{ips: make([]uint64, n), entries: entries[:n*ORCEntrySize], layout: layout}
	sorted := true
	for i := 0; i < n; i++ {
		rel := int32(binary.LittleEndian.Uint32(ipRaw[4*i:]))
		t.ips[i] = ipAddr + uint64(4*i) + uint64(int64(rel))
		if i > 0 && t.ips[i] < t.ips[i-1] {
			sorted = false
		}
	}
	if !sorted {
		// Module tables are sorted at load time and the kernel's at build
		// time; a dump caught mid-load might not be, so sort both arrays.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return t.ips[idx[a]] < t.ips[idx[b]] })
		ips := make([]uint64, n)
		ents := make([]byte, n*ORCEntrySize)
		for to, from := range idx {
			ips[to] = t.ips[from]
			copy(ents[to*ORCEntrySize:], t.entries[from*ORCEntrySize:(from+1)*ORCEntrySize])
		}
		t.ips, t.entries = ips, ents
	}
	t.lo, t.hi = t.ips[0], t.ips[n-1]+1
	return t, nil
}

// Find returns the entry covering pc: the last one whose IP is <= pc.
func (t *ORCTable) Find(pc uint64) (ORCEntry, bool) {
	if t == nil || pc < t.lo || pc >= t.hi {
		return ORCEntry{}, false
	}
	i := sort.Search(len(t.ips), func(i int) bool { return t.ips[i] > pc }) - 1
	if i < 0 {
		return ORCEntry{}, false
	}
	return decodeORCEntry(t.entries[i*ORCEntrySize:], t.layout), true
}

// ORCBounds locate the kernel's ORC arrays in its memory: n entries of
// .orc_unwind_ip at IPAddr and of .orc_unwind at EntAddr.
type ORCBounds struct {
	IPAddr, EntAddr uint64
	N               int
	// End bounds the text the table covers (the end of the kernel image:
	// modules above it have their own tables).
	End uint64
}

// InPlaceORC is the kernel's own ORC table searched where it lies in the
// dump. An unwind touches a few dozen of its pages; reading it whole (3.6
// MB in 6.1, page by page out of a compressed dump) cost a tenth of a
// triage run. The kernel's table is sorted (at build time, or by the kernel
// at boot before 5.x), which the binary search relies on.
type InPlaceORC struct {
	mem    Memory
	b      ORCBounds
	layout ORCLayout
	lo     uint64
}

// OpenInPlaceORC checks that the kernel's ORC arrays can be read where b
// says they lie, and returns the table searched there.
func OpenInPlaceORC(mem Memory, b ORCBounds, layout ORCLayout) (*InPlaceORC, error) {
	t := &InPlaceORC{mem: mem, b: b, layout: layout}
	var err error
	if t.lo, err = t.ip(0); err != nil {
		return nil, fmt.Errorf("orc: reading .orc_unwind_ip at %#x: %w", b.IPAddr, err)
	}
	if _, err := t.ip(b.N - 1); err != nil {
		return nil, fmt.Errorf("orc: reading the end of .orc_unwind_ip: %w", err)
	}
	var e [ORCEntrySize]byte
	if err := t.mem.ReadVirt(e[:], b.EntAddr+uint64(b.N-1)*ORCEntrySize); err != nil {
		return nil, fmt.Errorf("orc: reading the end of .orc_unwind at %#x: %w", b.EntAddr, err)
	}
	return t, nil
}

// ip is the address entry i covers (the array holds s32 self-relative
// offsets).
func (t *InPlaceORC) ip(i int) (uint64, error) {
	var b [4]byte
	at := t.b.IPAddr + uint64(4*i)
	if err := t.mem.ReadVirt(b[:], at); err != nil {
		return 0, err
	}
	return at + uint64(int64(int32(binary.LittleEndian.Uint32(b[:])))), nil
}

// find returns the entry covering pc, as ORCTable.find does.
func (t *InPlaceORC) Find(pc uint64) (ORCEntry, bool) {
	if t == nil || pc < t.lo || pc >= t.b.End {
		return ORCEntry{}, false
	}
	var readErr error
	i := sort.Search(t.b.N, func(i int) bool {
		ip, err := t.ip(i)
		if err != nil {
			readErr = err
			return true
		}
		return ip > pc
	}) - 1
	if readErr != nil || i < 0 {
		return ORCEntry{}, false
	}
	var e [ORCEntrySize]byte
	if err := t.mem.ReadVirt(e[:], t.b.EntAddr+uint64(i)*ORCEntrySize); err != nil {
		return ORCEntry{}, false
	}
	return decodeORCEntry(e[:], t.layout), true
}
