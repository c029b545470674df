package symbols

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// ELFSymbols reads the symbol table of a vmlinux. The addresses are
// link-time; slide (VMCOREINFO KERNELOFFSET) relocates them to the dump's.
func ELFSymbols(f *elf.File, slide uint64) (*Table, error) {
	var syms []Sym
	if sec := f.SectionByType(elf.SHT_SYMTAB); sec != nil && sec.Entsize > 0 {
		syms = make([]Sym, 0, min(sec.Size/sec.Entsize, 1<<22)) // most entries are kept
	}
	err := eachELFSymbol(f, func(s elf.Symbol) {
		if s.Name == "" {
			return
		}
		t := nmType(f, s)
		if t == 0 || !inKallsyms(s.Name, t) {
			return
		}
		syms = append(syms, Sym{Name: s.Name, Addr: s.Value, Size: s.Size, Type: t})
	})
	if err != nil {
		return nil, fmt.Errorf("symbols: reading ELF symbol table: %w", err)
	}
	// NewTable's order with nm -n (address, then name) as the input order,
	// which is what kallsyms sorts: aliases the kernel's way, then by name.
	return newTable(syms, slide, func(a, b Sym) int {
		if c := aliasCompare(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}), nil
}

// eachELFSymbol calls fn with every entry of the symbol table, in order.
// For ELF64 little-endian files (every x86_64 vmlinux) it decodes the
// entries itself, names sliced out of one copy of the string table, and
// keeps none of them: debug/elf allocates a string and a record per symbol,
// which on a vmlinux's 119k symbols cost more than anything else at start-up.
func eachELFSymbol(f *elf.File, fn func(elf.Symbol)) error {
	sec := f.SectionByType(elf.SHT_SYMTAB)
	if f.Class != elf.ELFCLASS64 || f.ByteOrder != binary.LittleEndian || sec == nil || int(sec.Link) >= len(f.Sections) {
		syms, err := f.Symbols()
		for _, s := range syms {
			fn(s)
		}
		return err
	}
	const entSize = 24 // Elf64_Sym
	data, err := sec.Data()
	if err != nil {
		return err
	}
	strData, err := f.Sections[sec.Link].Data()
	if err != nil {
		return err
	}
	strtab := string(strData)
	if len(data)%entSize != 0 {
		return fmt.Errorf("symbol table size %d is not a multiple of %d", len(data), entSize)
	}
	for off := entSize; off+entSize <= len(data); off += entSize { // entry 0 is the null symbol
		e := data[off : off+entSize]
		s := elf.Symbol{
			Info:    e[4],
			Other:   e[5],
			Section: elf.SectionIndex(binary.LittleEndian.Uint16(e[6:])),
			Value:   binary.LittleEndian.Uint64(e[8:]),
			Size:    binary.LittleEndian.Uint64(e[16:]),
		}
		if at := int(binary.LittleEndian.Uint32(e[0:])); at < len(strtab) {
			name := strtab[at:]
			if n := strings.IndexByte(name, 0); n >= 0 {
				name = name[:n]
			}
			s.Name = name
		}
		fn(s)
	}
	return nil
}

// inKallsyms drops what scripts/mksysmap and scripts/kallsyms.c leave out
// of System.map and kallsyms: local labels, export strings, CRCs, and local
// absolute, weak-undefined or debugging symbols. Without them the vmlinux
// table names addresses exactly as the running kernel does.
func inKallsyms(name string, typ byte) bool {
	switch typ {
	case 'a', 'N', 'U', 'w':
		return false
	}
	for _, p := range []string{".L", "$", "__kstrtab_", "__kstrtabns_", "__crc_", "__efistub_"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// nmType gives the letter nm(1) would print, or 0 for symbols that never
// appear in System.map or kallsyms (sections, files, undefined, debug).
func nmType(f *elf.File, s elf.Symbol) byte {
	st := elf.ST_TYPE(s.Info)
	if st == elf.STT_SECTION || st == elf.STT_FILE {
		return 0
	}
	bind := elf.ST_BIND(s.Info)
	var c byte
	switch {
	case s.Section == elf.SHN_UNDEF:
		return 0
	case s.Section == elf.SHN_ABS:
		c = 'a'
	case int(s.Section) < len(f.Sections):
		sec := f.Sections[s.Section]
		switch {
		case sec.Flags&elf.SHF_ALLOC == 0:
			return 0
		case sec.Flags&elf.SHF_EXECINSTR != 0:
			c = 't'
		case sec.Flags&elf.SHF_WRITE == 0:
			c = 'r'
		case sec.Type == elf.SHT_NOBITS:
			c = 'b'
		default:
			c = 'd'
		}
	default:
		return 0
	}
	switch bind {
	case elf.STB_WEAK:
		if st == elf.STT_OBJECT {
			return 'V'
		}
		return 'W'
	case elf.STB_GLOBAL:
		return c - 'a' + 'A'
	}
	return c
}
