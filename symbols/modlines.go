package symbols

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Module source lines. A module's debuginfo is a relocatable object (.ko or
// .ko.debug): every section starts at address 0 and its DWARF reaches code
// through relocations against section symbols, so .text and .text.unlikely
// lines would collide at the same addresses. Each allocated section is
// given its own base here and the DWARF sections' RELA relocations are
// applied against those bases (debug/elf would apply them with every
// section at 0); a frame is then placed by its function's symbol.

// FuncLoc is where a module function lies: its section, and its address
// in the layout where each section has its own base.
type FuncLoc struct {
	Section int
	Addr    uint64
}

// ModuleLines answers file:line for one module's functions.
type ModuleLines struct {
	Path    string
	BuildID string
	rows    []lineRow
	funcs   map[string]FuncLoc
	compDir string
}

// OpenModuleLines reads the line tables of a module's debuginfo file.
func OpenModuleLines(path string) (*ModuleLines, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Type != elf.ET_REL || f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%s: not an x86-64 relocatable module", path)
	}
	ml := &ModuleLines{Path: path, funcs: map[string]FuncLoc{}}
	ml.BuildID, _ = ELFBuildID(f)
	// Allocated sections get disjoint bases, in section order.
	base := make([]uint64, len(f.Sections))
	next := uint64(0x1000)
	for i, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		align := max(s.Addralign, 1)
		next = (next + align - 1) / align * align
		base[i] = next
		next += max(s.Size, 1)
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: symbols: %w", path, err)
	}
	symAddr := func(i int) (uint64, bool) { // ELF symbol index i (0 is the null symbol)
		if i <= 0 || i > len(syms) {
			return 0, false
		}
		s := syms[i-1]
		if s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE {
			return s.Value, s.Section == elf.SHN_ABS
		}
		if int(s.Section) >= len(base) {
			return 0, false
		}
		return base[s.Section] + s.Value, true
	}
	for i, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Name != "" {
			if a, ok := symAddr(i + 1); ok && s.Section < elf.SHN_LORESERVE {
				ml.funcs[s.Name] = FuncLoc{Section: int(s.Section), Addr: a}
			}
		}
	}
	sec := func(name string) ([]byte, error) {
		s := f.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			return nil, nil
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		b = slices.Clone(b)
		for _, r := range f.Sections {
			if r.Type == elf.SHT_RELA && int(r.Info) < len(f.Sections) && f.Sections[r.Info] == s {
				if err := applyRela(r, b, symAddr); err != nil {
					return nil, fmt.Errorf("%s: %s: %w", path, r.Name, err)
				}
			}
		}
		return b, nil
	}
	names := []string{".debug_abbrev", ".debug_info", ".debug_line", ".debug_str", ".debug_line_str",
		".debug_str_offsets", ".debug_addr", ".debug_rnglists", ".debug_ranges"}
	data := map[string][]byte{}
	for _, n := range names {
		if data[n], err = sec(n); err != nil {
			return nil, err
		}
	}
	if len(data[".debug_info"]) == 0 || len(data[".debug_line"]) == 0 {
		return nil, fmt.Errorf("%s: no DWARF line tables (built without -g?): %w", path, ErrNotFound)
	}
	d, err := dwarf.New(data[".debug_abbrev"], nil, nil, data[".debug_info"], data[".debug_line"], nil, data[".debug_ranges"], data[".debug_str"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, n := range []string{".debug_line_str", ".debug_str_offsets", ".debug_addr", ".debug_rnglists"} {
		if len(data[n]) > 0 {
			if err := d.AddSection(n, data[n]); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	r := d.Reader()
	for {
		cu, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		if dir, ok := cu.Val(dwarf.AttrCompDir).(string); ok && ml.compDir == "" {
			ml.compDir = dir
		}
		lr, err := d.LineReader(cu)
		r.SkipChildren()
		if err != nil || lr == nil {
			continue
		}
		if ml.rows, err = appendLineRows(ml.rows, lr); err != nil {
			return nil, fmt.Errorf("%s: line program: %w", path, err)
		}
	}
	sortRows(ml.rows)
	return ml, nil
}

// SourceLine returns the source line of the instruction off bytes into
// function fn.
func (ml *ModuleLines) SourceLine(fn string, off uint64) (SourcePos, bool) {
	loc, ok := ml.funcs[fn]
	if !ok {
		return SourcePos{}, false
	}
	row, ok := rowAt(ml.rows, loc.Addr+off)
	if !ok {
		return SourcePos{}, false
	}
	return SourcePos{File: treeRelative(row.file, ml.compDir), Line: row.line}, true
}

// Funcs maps each function to where it lies; the distances between the
// functions of one section say whether a file found by name is the module
// in the dump.
func (ml *ModuleLines) Funcs() map[string]FuncLoc { return ml.funcs }

// applyRela applies the x86-64 relocations of a RELA section to b, the
// data of the section they patch: R_X86_64_64 (addresses) and
// R_X86_64_32/32S (offsets into other debug sections).
func applyRela(rela *elf.Section, b []byte, symAddr func(int) (uint64, bool)) error {
	raw, err := rela.Data()
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	for len(raw) >= 24 {
		off, info, addend := le.Uint64(raw), le.Uint64(raw[8:]), int64(le.Uint64(raw[16:]))
		raw = raw[24:]
		s, ok := symAddr(int(info >> 32))
		if !ok {
			continue
		}
		v := s + uint64(addend)
		switch elf.R_X86_64(info & 0xffffffff) {
		case elf.R_X86_64_64:
			if off+8 > uint64(len(b)) {
				return errors.New("relocation past the section")
			}
			le.PutUint64(b[off:], v)
		case elf.R_X86_64_32, elf.R_X86_64_32S:
			if off+4 > uint64(len(b)) {
				return errors.New("relocation past the section")
			}
			le.PutUint32(b[off:], uint32(v))
		}
	}
	return nil
}
