package symbols

import (
	"debug/elf"
	"fmt"
	"strings"
)

// ELFSymbols reads the symbol table of a vmlinux. The addresses are
// link-time; slide (VMCOREINFO KERNELOFFSET) relocates them to the dump's.
func ELFSymbols(f *elf.File, slide uint64) (*Table, error) {
	raw, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("symbols: reading ELF symbol table: %w", err)
	}
	syms := make([]Sym, 0, len(raw))
	for _, s := range raw {
		if s.Name == "" {
			continue
		}
		t := nmType(f, s)
		if t == 0 || !inKallsyms(s.Name, t) {
			continue
		}
		syms = append(syms, Sym{Name: s.Name, Addr: s.Value, Size: s.Size, Type: t})
	}
	// nm -n order (address, then name): the input order kallsyms sorts.
	syms = sortByAddr(syms, func(a, b Sym) int { return strings.Compare(a.Name, b.Name) })
	return NewTable(syms, slide), nil
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

// OpenELFSymbols opens path and reads its symbol table.
func OpenELFSymbols(path string, slide uint64) (*Table, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	defer f.Close()
	t, err := ELFSymbols(f, slide)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
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
