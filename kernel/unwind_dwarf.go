package kernel

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/go-delve/delve/pkg/dwarf/frame"
)

// debugFrames is the vmlinux's .debug_frame (DWARF CFI), the fallback for
// the few functions objtool leaves without ORC (STACK_FRAME_NON_STANDARD,
// such as __crash_kexec, exactly where a kdump panic CPU's registers were
// saved). Addresses in it are link-time; slide converts.
type debugFrames struct {
	fdes  frame.FrameDescriptionEntries
	slide uint64
}

// DWARF register numbers on x86_64.
const (
	dwarfRegRBP = 6
	dwarfRegRSP = 7
)

func loadDebugFrames(path string, slide uint64) (*debugFrames, error) {
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
	fdes, err := safeParse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: .debug_frame: %w", path, err)
	}
	// Parse keeps section order but FDEForPC binary-searches: sort first.
	fdes = frame.FrameDescriptionEntries(nil).Append(fdes)
	return &debugFrames{fdes: fdes, slide: slide}, nil
}

// cfaRule is what one CFI row says about the caller: CFA = reg + off, the
// return address at CFA+raOff, and (when saved) rbp at CFA+bpOff.
type cfaRule struct {
	cfaReg      uint64 // dwarfRegRSP or dwarfRegRBP
	cfaOff      int64
	raOff       int64
	bpOff       int64
	bpSaved     bool
	fnStart     uint64
	fnEndExclus uint64
}

func (d *debugFrames) rule(pc uint64) (cfaRule, bool) {
	if d == nil {
		return cfaRule{}, false
	}
	lpc := pc - d.slide
	fde, err := d.fdes.FDEForPC(lpc)
	if err != nil {
		return cfaRule{}, false
	}
	fc, err := safeEstablish(fde, lpc)
	if err != nil || fc.CFA.Rule != frame.RuleCFA {
		return cfaRule{}, false
	}
	r := cfaRule{cfaReg: fc.CFA.Reg, cfaOff: fc.CFA.Offset, raOff: -8,
		fnStart: fde.Begin() + d.slide, fnEndExclus: fde.End() + d.slide}
	if r.cfaReg != dwarfRegRSP && r.cfaReg != dwarfRegRBP {
		return cfaRule{}, false
	}
	if ra, ok := fc.Regs[fc.RetAddrReg]; ok && ra.Rule == frame.RuleOffset {
		r.raOff = ra.Offset
	}
	if bp, ok := fc.Regs[dwarfRegRBP]; ok && bp.Rule == frame.RuleOffset {
		r.bpOff, r.bpSaved = bp.Offset, true
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
