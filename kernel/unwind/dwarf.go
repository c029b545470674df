package unwind

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/go-delve/delve/pkg/dwarf/frame"
	"github.com/go-delve/delve/pkg/dwarf/leb128"

	"github.com/ktriage/ktriage/internal/radix"
)

// DebugFrame is the vmlinux's .debug_frame (DWARF CFI), the fallback for
// the few functions objtool leaves without ORC (STACK_FRAME_NON_STANDARD,
// such as __crash_kexec, exactly where a kdump panic CPU's registers were
// saved). Addresses in it are link-time; slide converts.
//
// Only the FDE headers are read up front; an FDE is parsed (by delve, with
// its CIE) the first time a PC falls in it. Parsing all 2.5 MB of a 6.1
// vmlinux's CFI cost a tenth of a triage run that needs one or two FDEs.
type DebugFrame struct {
	data  []byte
	fdes  []fdeSpan // sorted by begin
	slide uint64

	mu     sync.Mutex
	parsed map[int]*frame.FrameDescriptionEntry // by FDE offset; nil entry: unparsable
}

// fdeSpan is one FDE's header: the link-time code range it covers and where
// it and its CIE lie in the section.
type fdeSpan struct {
	begin, end     uint64
	off, size      int // the whole FDE, length field included
	cieOff, cieEnd int
	idWidth        int // 4, or 8 in 64-bit DWARF
}

// DWARF register numbers on x86_64.
const (
	dwarfRegRBP = 6
	dwarfRegRSP = 7
)

func LoadDebugFrame(path string, slide uint64) (*DebugFrame, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sec := f.Section(".debug_frame")
	if sec == nil {
		return nil, fmt.Errorf("%s: no .debug_frame section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: .debug_frame: %w", path, err)
	}
	d, err := NewDebugFrame(data, slide)
	if err != nil {
		return nil, fmt.Errorf("%s: .debug_frame: %w", path, err)
	}
	return d, nil
}

func NewDebugFrame(data []byte, slide uint64) (*DebugFrame, error) {
	fdes, err := scanFDEs(data)
	if err != nil {
		return nil, err
	}
	return &DebugFrame{data: data, fdes: fdes, slide: slide, parsed: map[int]*frame.FrameDescriptionEntry{}}, nil
}

// scanFDEs lists the FDEs of a .debug_frame section (64-bit addresses)
// without decoding their programs.
func scanFDEs(data []byte) ([]fdeSpan, error) {
	le := binary.LittleEndian
	entryAt := func(off int) (size, hdr, idWidth int, id uint64, err error) {
		if off+4 > len(data) {
			return 0, 0, 0, 0, fmt.Errorf("entry at %#x: truncated length", off)
		}
		length, hdr, idWidth := uint64(le.Uint32(data[off:])), 4, 4
		if length == 0xffffffff {
			if off+12 > len(data) {
				return 0, 0, 0, 0, fmt.Errorf("entry at %#x: truncated length", off)
			}
			length, hdr, idWidth = le.Uint64(data[off+4:]), 12, 8
		}
		if length > uint64(len(data)-off-hdr) {
			return 0, 0, 0, 0, fmt.Errorf("entry at %#x: length %#x runs past the section", off, length)
		}
		size = hdr + int(length)
		if length == 0 {
			return size, hdr, idWidth, 0, nil
		}
		if int(length) < idWidth {
			return 0, 0, 0, 0, fmt.Errorf("entry at %#x: too short", off)
		}
		if idWidth == 4 {
			id = uint64(le.Uint32(data[off+hdr:]))
		} else {
			id = le.Uint64(data[off+hdr:])
		}
		return size, hdr, idWidth, id, nil
	}
	// Count the entries first: growing the list by appending copied it
	// over and over (~46k FDEs, 2.5 MB of spans on a 6.1 kernel).
	n := 0
	for off := 0; off+4 <= len(data); n++ {
		length, hdr := uint64(le.Uint32(data[off:])), 4
		if length == 0xffffffff && off+12 <= len(data) {
			length, hdr = le.Uint64(data[off+4:]), 12
		}
		if length > uint64(len(data)-off-hdr) {
			break
		}
		off += hdr + int(length)
	}
	fdes := make([]fdeSpan, 0, n)
	for off := 0; off < len(data); {
		size, hdr, idWidth, id, err := entryAt(off)
		if err != nil {
			return nil, err
		}
		isCIE := (idWidth == 4 && id == 0xffffffff) || (idWidth == 8 && id == ^uint64(0))
		if size > hdr && !isCIE {
			at := off + hdr + idWidth
			if at+16 > off+size {
				return nil, fmt.Errorf("FDE at %#x: too short for its address range", off)
			}
			cieSize, _, _, _, err := entryAt(int(min(id, uint64(len(data)))))
			if err != nil || id >= uint64(len(data)) {
				return nil, fmt.Errorf("FDE at %#x: CIE pointer %#x: bad CIE", off, id)
			}
			begin, length := le.Uint64(data[at:]), le.Uint64(data[at+8:])
			fdes = append(fdes, fdeSpan{begin: begin, end: begin + length, off: off, size: size,
				cieOff: int(id), cieEnd: int(id) + cieSize, idWidth: idWidth})
		}
		off += size
	}
	byBegin := func(a, b fdeSpan) int { return cmp.Compare(a.begin, b.begin) }
	if !slices.IsSortedFunc(fdes, byBegin) {
		fdes = sortFDEs(fdes)
	}
	return fdes, nil
}

// sortFDEs orders fdes (in section order) by begin, ties in section order,
// by a byte-wise radix sort of (begin, index) keys: a comparison sort of the
// ~46k spans of a 6.1 kernel cost more than the rest of the scan. Radix
// passes are stable, and the bytes every begin shares (the top ones of
// kernel text addresses) are skipped.
func sortFDEs(fdes []fdeSpan) []fdeSpan {
	keys := make([]radix.Key, len(fdes))
	for i, f := range fdes {
		keys[i] = radix.Key{K: f.begin, I: int32(i)}
	}
	radix.Sort(keys)
	out := make([]fdeSpan, len(fdes))
	for j, k := range keys {
		out[j] = fdes[k.I]
	}
	return out
}

// fdeFor finds and parses the FDE covering a link-time PC.
func (d *DebugFrame) fdeFor(lpc uint64) (*frame.FrameDescriptionEntry, bool) {
	i := sort.Search(len(d.fdes), func(i int) bool { return d.fdes[i].begin > lpc }) - 1
	if i < 0 || lpc >= d.fdes[i].end {
		return nil, false
	}
	sp := d.fdes[i]
	d.mu.Lock()
	defer d.mu.Unlock()
	fde, seen := d.parsed[sp.off]
	if !seen {
		// Hand delve a two-entry section: the CIE, then the FDE with its
		// CIE pointer rewritten to 0, where the CIE now is.
		cie := d.data[sp.cieOff:sp.cieEnd]
		mini := make([]byte, 0, len(cie)+sp.size)
		mini = append(mini, cie...)
		mini = append(mini, d.data[sp.off:sp.off+sp.size]...)
		idAt := len(cie) + 4 // past the length field (12 bytes in 64-bit DWARF)
		if sp.idWidth == 8 {
			idAt += 8
		}
		clear(mini[idAt : idAt+sp.idWidth])
		if parsed, err := safeParse(mini); err == nil && len(parsed) == 1 {
			fde = parsed[0]
		}
		d.parsed[sp.off] = fde
	}
	return fde, fde != nil
}

// CFARule is what one CFI row says about the caller: CFA = reg + off, the
// return address at CFA+raOff, and (when saved) rbp at CFA+bpOff.
type CFARule struct {
	cfaReg  uint64 // dwarfRegRSP or dwarfRegRBP
	cfaOff  int64
	raOff   int64
	bpOff   int64
	bpSaved bool
	spOff   int64 // where the caller's rsp is saved, when the row says (entry code)
	spSaved bool
	// switched: the CFA is an expression that reads the stack (3.10's
	// interrupt entry once it moved to the IRQ stack): CFA =
	// *(cfaReg+cfaOff) + derefAdd, the end of the struct pt_regs the
	// entry left on the interrupted stack.
	switched    bool
	derefAdd    int64
	fnStart     uint64
	fnEndExclus uint64
}

func (d *DebugFrame) Rule(pc uint64) (CFARule, bool) {
	if d == nil {
		return CFARule{}, false
	}
	lpc := pc - d.slide
	fde, ok := d.fdeFor(lpc)
	if !ok || !fde.Cover(lpc) {
		return CFARule{}, false
	}
	fc, err := safeEstablish(fde, lpc)
	if err != nil {
		return CFARule{}, false
	}
	switch fc.CFA.Rule {
	case frame.RuleCFA:
		return d.ruleFrom(fde, fc, lpc)
	case frame.RuleExpression:
		reg, off, add, ok := derefCFA(fc.CFA.Expression)
		if !ok {
			return CFARule{}, false
		}
		return CFARule{cfaReg: reg, cfaOff: off, switched: true, derefAdd: add,
			fnStart: fde.Begin() + d.slide, fnEndExclus: fde.End() + d.slide}, true
	}
	return CFARule{}, false
}

// DWARF expression opcodes derefCFA knows.
const (
	dwOpBreg0      = 0x70
	dwOpDeref      = 0x06
	dwOpConst1u    = 0x08
	dwOpConst2u    = 0x0a
	dwOpPlus       = 0x22
	dwOpPlusUconst = 0x23
)

// derefCFA recognizes the one CFA expression the kernel's entry code
// writes, "DW_OP_bregN off; DW_OP_deref; then a constant added"
// (SAVE_ARGS_IRQ's CFI_ESCAPE after it pushes the interrupted stack
// pointer on the IRQ stack): the register, its offset, the constant.
func derefCFA(e []byte) (reg uint64, off, add int64, ok bool) {
	if len(e) < 2 || e[0] < dwOpBreg0 || e[0] > dwOpBreg0+16 {
		return 0, 0, 0, false
	}
	reg = uint64(e[0] - dwOpBreg0)
	buf := bytes.NewBuffer(e[1:])
	off, n := leb128.DecodeSigned(buf)
	if n == 0 || reg != dwarfRegRSP && reg != dwarfRegRBP {
		return 0, 0, 0, false
	}
	if op, err := buf.ReadByte(); err != nil || op != dwOpDeref {
		return 0, 0, 0, false
	}
	rest := buf.Bytes()
	switch {
	case len(rest) == 3 && rest[0] == dwOpConst1u && rest[2] == dwOpPlus:
		return reg, off, int64(rest[1]), true
	case len(rest) == 4 && rest[0] == dwOpConst2u && rest[3] == dwOpPlus:
		return reg, off, int64(binary.LittleEndian.Uint16(rest[1:])), true
	case len(rest) >= 2 && rest[0] == dwOpPlusUconst:
		buf.Next(1)
		v, n := leb128.DecodeUnsigned(buf)
		if n == 0 || buf.Len() != 0 {
			return 0, 0, 0, false
		}
		return reg, off, int64(v), true
	}
	return 0, 0, 0, false
}

// ruleFrom reads the caller's rule out of an established CFI row.
func (d *DebugFrame) ruleFrom(fde *frame.FrameDescriptionEntry, fc *frame.FrameContext, lpc uint64) (CFARule, bool) {
	r := CFARule{cfaReg: fc.CFA.Reg, cfaOff: fc.CFA.Offset, raOff: -8,
		fnStart: fde.Begin() + d.slide, fnEndExclus: fde.End() + d.slide}
	if r.cfaReg != dwarfRegRSP && r.cfaReg != dwarfRegRBP {
		return CFARule{}, false
	}
	if ra, ok := fc.Regs[fc.RetAddrReg]; ok && ra.Rule == frame.RuleOffset {
		r.raOff = ra.Offset
	}
	if bp, ok := fc.Regs[dwarfRegRBP]; ok && bp.Rule == frame.RuleOffset {
		r.bpOff, r.bpSaved = bp.Offset, true
	}
	if sp, ok := fc.Regs[dwarfRegRSP]; ok && sp.Rule == frame.RuleOffset {
		r.spOff, r.spSaved = sp.Offset, true
	}
	return r, true
}

// safeParse parses .debug_frame; delve's parser panics on some truncated
// input, and a damaged debug file must not take the analysis down.
func safeParse(data []byte) (fdes frame.FrameDescriptionEntries, err error) {
	defer func() {
		if r := recover(); r != nil {
			fdes, err = nil, fmt.Errorf("malformed: %v", r)
		}
	}()
	return frame.Parse(data, binary.LittleEndian, 0, 8, 0)
}

// safeEstablish runs the CFI program; delve's interpreter panics on some
// malformed input, which must not take the whole analysis down.
func safeEstablish(fde *frame.FrameDescriptionEntry, pc uint64) (fc *frame.FrameContext, err error) {
	defer func() {
		if r := recover(); r != nil {
			fc, err = nil, fmt.Errorf("debug_frame program at %#x: %v", pc, r)
		}
	}()
	return fde.EstablishFrame(pc)
}
