package symbols

import (
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
)

// Source lines. .debug_aranges says which compilation unit holds an
// address; that unit's line program (.debug_line, read by debug/dwarf's
// LineReader) says which file and line the instruction came from — the
// innermost one when code was inlined, as addr2line without -i says.
// Nothing is read until the first lookup; a unit's line program is decoded
// once and kept.

// SourcePos is a source file and line. File is relative to the kernel
// source tree when the unit's compilation directory is a prefix of it.
type SourcePos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (p SourcePos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

type arange struct {
	lo, hi uint64 // [lo, hi)
	unit   uint64 // .debug_info offset of the unit header
}

type lineTables struct {
	once   sync.Once
	err    error
	ranges []arange // sorted by lo
	line   []byte
	rngl   []byte
	mu     sync.Mutex
	byUnit map[uint64]*unitLines
}

// unitLines is a unit's line table as rows sorted by address. debug/dwarf's
// SeekPC assumes one ascending run, but a kernel unit has several
// sequences (.text, .sched.text, .init.text …) in any order.
type unitLines struct {
	rows    []lineRow
	compDir string
}

type lineRow struct {
	addr   uint64
	file   string
	line   int
	endSeq bool // one past the end of a sequence
}

// SourceLine returns where the instruction at pc (a link-time address)
// came from. ok is false when the vmlinux has no line information for pc.
func (d *DWARF) SourceLine(pc uint64) (SourcePos, bool) {
	lt := &d.lines
	lt.once.Do(func() { lt.err = d.loadLineTables() })
	if lt.err != nil {
		return SourcePos{}, false
	}
	i, found := slices.BinarySearchFunc(lt.ranges, pc, func(r arange, x uint64) int {
		switch {
		case x < r.lo:
			return 1
		case x >= r.hi:
			return -1
		}
		return 0
	})
	if !found {
		return SourcePos{}, false
	}
	unit := lt.ranges[i].unit
	lt.mu.Lock()
	defer lt.mu.Unlock()
	ul, err := d.unitLines(unit)
	if err != nil || ul == nil {
		return SourcePos{}, false
	}
	row, ok := rowAt(ul.rows, pc)
	if !ok {
		return SourcePos{}, false
	}
	return SourcePos{File: treeRelative(row.file, ul.compDir), Line: row.line}, true
}

// treeRelative shortens an absolute source path to one relative to the
// deepest folder it shares with the unit's compilation directory (the
// kernel tree, or its build folder: Debian builds C in
// <tree>/debian/build/<flavour> and names assembler files from <tree>),
// keeping at least two components of that folder so an unrelated path
// stays whole.
func treeRelative(file, compDir string) string {
	file = path.Clean(file)
	for dir := path.Clean(compDir); strings.Count(dir, "/") >= 2; dir = path.Dir(dir) {
		if rel, ok := strings.CutPrefix(file, dir+"/"); ok {
			return rel
		}
	}
	return file
}

func (d *DWARF) loadLineTables() error {
	lt := &d.lines
	lt.line, lt.rngl = d.secs.line, d.secs.rnglists
	if len(d.secs.aranges) == 0 || len(lt.line) == 0 {
		return fmt.Errorf("no .debug_aranges or .debug_line: %w", ErrNotFound)
	}
	var err error
	if lt.ranges, err = parseAranges(d.secs.aranges, d.elf.ByteOrder); err != nil {
		return fmt.Errorf("%s: .debug_aranges: %w", d.path, err)
	}
	lt.byUnit = map[uint64]*unitLines{}
	return nil
}

// parseAranges reads every address range set of .debug_aranges (DWARF 5
// §6.1.2): a header naming the unit, then (address, length) pairs ending
// with a zero pair.
func parseAranges(b []byte, bo binary.ByteOrder) ([]arange, error) {
	var out []arange
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, io.ErrUnexpectedEOF
		}
		length, hdr, offSize := uint64(bo.Uint32(b[off:])), 4, 4
		if length == 0xffffffff {
			if len(b)-off < 12 {
				return nil, io.ErrUnexpectedEOF
			}
			length, hdr, offSize = bo.Uint64(b[off+4:]), 12, 8
		}
		end := uint64(off) + uint64(hdr) + length
		if end > uint64(len(b)) || end < uint64(off) {
			return nil, fmt.Errorf("set at %#x runs past the section", off)
		}
		set := b[off+hdr : end]
		if len(set) < 2+offSize+2 {
			return nil, fmt.Errorf("set at %#x too short", off)
		}
		var unit uint64
		if offSize == 4 {
			unit = uint64(bo.Uint32(set[2:]))
		} else {
			unit = bo.Uint64(set[2:])
		}
		addrSize := int(set[2+offSize])
		if addrSize != 8 && addrSize != 4 {
			return nil, fmt.Errorf("set at %#x: address size %d", off, addrSize)
		}
		// Tuples start at a multiple of twice the address size from the
		// start of the set's header.
		p := hdr + 2 + offSize + 2
		if r := p % (2 * addrSize); r != 0 {
			p += 2*addrSize - r
		}
		p -= hdr
		for ; p+2*addrSize <= len(set); p += 2 * addrSize {
			var lo, n uint64
			if addrSize == 8 {
				lo, n = bo.Uint64(set[p:]), bo.Uint64(set[p+8:])
			} else {
				lo, n = uint64(bo.Uint32(set[p:])), uint64(bo.Uint32(set[p+4:]))
			}
			if lo == 0 && n == 0 {
				break
			}
			if n > 0 && lo+n > lo {
				out = append(out, arange{lo: lo, hi: lo + n, unit: unit})
			}
		}
		off = int(end)
	}
	slices.SortFunc(out, func(a, b arange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	return out, nil
}

// unitLines decodes (once) the line program of the unit at off, through a
// debug/dwarf view of that one unit.
func (d *DWARF) unitLines(off uint64) (*unitLines, error) {
	lt := &d.lines
	if ul, ok := lt.byUnit[off]; ok {
		return ul, nil
	}
	lt.byUnit[off] = nil // a unit that fails is not tried again
	info := d.secs.info
	if off+4 > uint64(len(info)) {
		return nil, fmt.Errorf("unit %#x beyond .debug_info", off)
	}
	bo := d.elf.ByteOrder
	end := off + 4 + uint64(bo.Uint32(info[off:]))
	if bo.Uint32(info[off:]) == 0xffffffff {
		if off+12 > uint64(len(info)) {
			return nil, fmt.Errorf("unit %#x beyond .debug_info", off)
		}
		end = off + 12 + bo.Uint64(info[off+4:])
	}
	if end > uint64(len(info)) || end < off {
		return nil, fmt.Errorf("unit %#x runs past .debug_info", off)
	}
	data, err := dwarf.New(d.secs.abbrev, nil, nil, info[off:end], lt.line, nil, nil, d.secs.str)
	if err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{".debug_line_str": d.secs.lineStr, ".debug_str_offsets": d.secs.strOffsets,
		".debug_addr": d.secs.addr, ".debug_rnglists": lt.rngl} {
		if len(b) > 0 {
			if err := data.AddSection(name, b); err != nil {
				return nil, err
			}
		}
	}
	cu, err := data.Reader().Next()
	if err != nil || cu == nil {
		return nil, fmt.Errorf("unit %#x: %v", off, err)
	}
	lr, err := data.LineReader(cu)
	if err != nil || lr == nil {
		return nil, fmt.Errorf("unit %#x: no line program (%v)", off, err)
	}
	compDir, _ := cu.Val(dwarf.AttrCompDir).(string)
	ul := &unitLines{compDir: compDir}
	if ul.rows, err = appendLineRows(nil, lr); err != nil {
		return nil, fmt.Errorf("unit %#x: line program: %w", off, err)
	}
	sortRows(ul.rows)
	lt.byUnit[off] = ul
	return ul, nil
}

// appendLineRows appends every row of a line program to rows.
func appendLineRows(rows []lineRow, lr *dwarf.LineReader) ([]lineRow, error) {
	for {
		var e dwarf.LineEntry
		if err := lr.Next(&e); err != nil {
			if err == io.EOF {
				return rows, nil
			}
			return rows, err
		}
		r := lineRow{addr: e.Address, line: e.Line, endSeq: e.EndSequence}
		if e.File != nil {
			r.file = e.File.Name
		}
		rows = append(rows, r)
	}
}

// sortRows orders line rows by address; where a sequence ends at the
// address another starts, the end comes first so the start is the row
// found.
func sortRows(rows []lineRow) {
	slices.SortStableFunc(rows, func(a, b lineRow) int {
		switch {
		case a.addr != b.addr:
			if a.addr < b.addr {
				return -1
			}
			return 1
		case a.endSeq != b.endSeq:
			if a.endSeq {
				return -1
			}
			return 1
		}
		return 0
	})
}

// rowAt is the row for pc: the last at or before it, unless that row ends
// a sequence (pc is in a hole between sequences) or names no line.
func rowAt(rows []lineRow, pc uint64) (lineRow, bool) {
	j, _ := slices.BinarySearchFunc(rows, pc+1, func(r lineRow, x uint64) int {
		if r.addr < x {
			return -1
		}
		return 1
	})
	if j == 0 {
		return lineRow{}, false
	}
	row := rows[j-1]
	if row.endSeq || row.line == 0 || row.file == "" {
		return lineRow{}, false
	}
	return row, true
}
