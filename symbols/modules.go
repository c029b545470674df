package symbols

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Module is a loaded kernel module as the dump's module list records it,
// with the symbols of its own kallsyms (module.kallsyms).
type Module struct {
	Name   string
	Addr   uint64  // of struct module
	Ranges []Range // memory the module occupies (core layout, or 6.4+ mem[])
	Syms   []Sym   // runtime addresses; Module set to Name
	// BuildID is the GNU build-id of the module's .ko (hex), read from its
	// notes in memory; "" when the kernel keeps none (no CONFIG_SYSFS).
	BuildID string
}

// Range is a span of virtual memory [Start, Start+Size).
type Range struct{ Start, Size uint64 }

// Contains reports whether addr lies in the range.
func (r Range) Contains(addr uint64) bool { return addr >= r.Start && addr-r.Start < r.Size }

// Base is the start of the module's first range (crash's mod BASE).
func (m Module) Base() uint64 {
	if len(m.Ranges) == 0 {
		return 0
	}
	return m.Ranges[0].Start
}

// Size is the module's core size (crash's mod SIZE).
func (m Module) Size() uint64 {
	var n uint64
	for _, r := range m.Ranges {
		n += r.Size
	}
	return n
}

const (
	maxModules      = 1 << 14
	maxModuleSyms   = 1 << 20
	maxModuleStrtab = 16 << 20
	elf64SymSize    = 24
	moduleNameMax   = 64
)

// ReadModules walks the kernel's `modules` list (its address is
// modulesHead, e.g. Lookup("modules")) and reads each module's name,
// memory and symbols: module_core (≤ 4.4), core_layout (4.5–6.3) or mem[] (6.4+).
func ReadModules(modulesHead uint64, mem Memory, types Types) ([]Module, error) {
	listOff, err := types.MemberOffset("module", "list")
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	nameM, err := types.MemberInfo("module", "name")
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	var mods []Module
	seen := map[uint64]bool{}
	next, err := readU64(mem, modulesHead)
	if err != nil {
		return nil, fmt.Errorf("modules: reading list head at %#x: %w", modulesHead, err)
	}
	for next != modulesHead {
		if len(mods) >= maxModules || seen[next] {
			return mods, fmt.Errorf("modules: list at %#x does not return to its head (loop or corruption after %d modules)", modulesHead, len(mods))
		}
		seen[next] = true
		addr := next - listOff
		m := Module{Addr: addr}
		nb := make([]byte, min(nameM.Type.Size, moduleNameMax))
		if err := mem.ReadVirt(nb, addr+nameM.Offset); err != nil {
			return mods, fmt.Errorf("modules: module at %#x: name: %w", addr, err)
		}
		m.Name = cString(nb)
		if m.Ranges, err = moduleRanges(addr, mem, types); err != nil {
			return mods, fmt.Errorf("modules: %s at %#x: %w", m.Name, addr, err)
		}
		if m.Syms, err = moduleSyms(addr, m.Name, mem, types); err != nil {
			return mods, fmt.Errorf("modules: %s at %#x: %w", m.Name, addr, err)
		}
		m.BuildID = ModuleBuildID(addr, mem, types) // optional: debuginfo lookups only
		mods = append(mods, m)
		if next, err = readU64(mem, next); err != nil {
			return mods, fmt.Errorf("modules: %s at %#x: list.next: %w", m.Name, addr, err)
		}
	}
	return mods, nil
}

// moduleRanges reads core_layout (≤ 6.3) or every mem[] entry (6.4+).
func moduleRanges(addr uint64, mem Memory, types Types) ([]Range, error) {
	read := func(basePath, sizePath string) (Range, error) {
		b, err := types.MemberOffset("module", basePath)
		if err != nil {
			return Range{}, err
		}
		s, err := types.MemberInfo("module", sizePath)
		if err != nil {
			return Range{}, err
		}
		base, err := readU64(mem, addr+b)
		if err != nil {
			return Range{}, err
		}
		var size uint64
		if s.Type.Size == 8 {
			size, err = readU64(mem, addr+s.Offset)
		} else {
			var v uint32
			v, err = readU32(mem, addr+s.Offset)
			size = uint64(v)
		}
		return Range{base, size}, err
	}
	// core_layout {base, size, text_size} (4.5–6.3), or the same three
	// as module_core, core_size and core_text_size in struct module itself.
	for _, names := range [][3]string{
		{"core_layout.base", "core_layout.size", "core_layout.text_size"},
		{"module_core", "core_size", "core_text_size"},
	} {
		if !types.HasMember("module", strings.Split(names[0], ".")[0]) {
			continue
		}
		r, err := read(names[0], names[1])
		if err != nil {
			return nil, err
		}
		// Split text from the rest: the kernel bounds a module function's
		// extent by the end of text (find_kallsyms_symbol).
		if t, err := read(names[0], names[2]); err == nil && t.Size > 0 && t.Size < r.Size {
			return []Range{t, {r.Start + t.Size, r.Size - t.Size}}, nil
		}
		return []Range{r}, nil
	}
	mi, err := types.MemberInfo("module", "mem")
	if err != nil {
		return nil, fmt.Errorf("none of core_layout, module_core or mem[] in struct module: %w", err)
	}
	var rs []Range
	for i := uint64(0); i < mi.Type.ArrayLen; i++ {
		r, err := read(fmt.Sprintf("mem[%d].base", i), fmt.Sprintf("mem[%d].size", i))
		if err != nil {
			return nil, err
		}
		if r.Size != 0 {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// moduleSyms reads module.kallsyms → mod_kallsyms {symtab, num_symtab,
// strtab, typetab}: Elf64_Sym entries and their names. Before mod_kallsyms
// (4.6) the same symtab, num_symtab and strtab were members of struct module.
func moduleSyms(addr uint64, modName string, mem Memory, types Types) ([]Sym, error) {
	holder, ks := "module", addr
	if types.HasMember("module", "kallsyms") {
		kOff, err := types.MemberOffset("module", "kallsyms")
		if err != nil {
			return nil, err
		}
		if ks, err = readU64(mem, addr+kOff); err != nil || ks == 0 {
			return nil, err
		}
		holder = "mod_kallsyms"
	}
	field := func(name string) (uint64, error) {
		m, err := types.MemberInfo(holder, name)
		if err != nil {
			return 0, err
		}
		if m.Type.Size == 4 {
			v, err := readU32(mem, ks+m.Offset)
			return uint64(v), err
		}
		return readU64(mem, ks+m.Offset)
	}
	symtab, err := field("symtab")
	if err != nil {
		return nil, err
	}
	num, err := field("num_symtab")
	if err != nil {
		return nil, err
	}
	strtab, err := field("strtab")
	if err != nil {
		return nil, err
	}
	typetab := uint64(0)
	if types.HasMember(holder, "typetab") {
		if typetab, err = field("typetab"); err != nil {
			return nil, err
		}
	}
	if num > maxModuleSyms {
		return nil, fmt.Errorf("implausible num_symtab %d", num)
	}
	raw, err := readChunked(mem, symtab, int(num*elf64SymSize))
	if err != nil {
		return nil, fmt.Errorf("symtab at %#x: %w", symtab, err)
	}
	var typ []byte
	if typetab != 0 {
		if typ, err = readChunked(mem, typetab, int(num)); err != nil {
			return nil, fmt.Errorf("typetab at %#x: %w", typetab, err)
		}
	}
	maxName := uint64(0)
	for i := uint64(0); i < num; i++ {
		maxName = max(maxName, uint64(binary.LittleEndian.Uint32(raw[i*elf64SymSize:])))
	}
	if maxName >= maxModuleStrtab {
		return nil, fmt.Errorf("implausible symbol name offset %d", maxName)
	}
	strs, err := readStrtab(mem, strtab, int(maxName))
	if err != nil {
		return nil, fmt.Errorf("strtab at %#x: %w", strtab, err)
	}
	return decodeModuleSyms(raw, typ, strs, modName), nil
}

// readStrtab reads a string table whose last string starts at offset
// last: everything before it in one read, then that string in small
// pieces, since the table may end just before an unmapped page.
func readStrtab(mem Memory, addr uint64, last int) ([]byte, error) {
	out, err := readChunked(mem, addr, last)
	if err != nil {
		return nil, err
	}
	var piece [16]byte
	for len(out) < last+512 {
		if err := mem.ReadVirt(piece[:], addr+uint64(len(out))); err != nil {
			// Fall back to single bytes for the table's final page.
			if err := mem.ReadVirt(piece[:1], addr+uint64(len(out))); err != nil {
				return nil, err
			}
			out = append(out, piece[0])
			if piece[0] == 0 {
				break
			}
			continue
		}
		out = append(out, piece[:]...)
		if bytes.IndexByte(piece[:], 0) >= 0 {
			break
		}
	}
	return out, nil
}

// decodeModuleSyms turns Elf64_Sym records, the kernel's per-symbol type
// letters (typetab, may be nil) and the string table into symbols.
func decodeModuleSyms(raw, typetab, strtab []byte, modName string) []Sym {
	n := len(raw) / elf64SymSize
	syms := make([]Sym, 0, n)
	for i := range n {
		e := raw[i*elf64SymSize:]
		nameOff := uint64(binary.LittleEndian.Uint32(e))
		info := e[4]
		shndx := binary.LittleEndian.Uint16(e[6:])
		value := binary.LittleEndian.Uint64(e[8:])
		size := binary.LittleEndian.Uint64(e[16:])
		if nameOff == 0 || nameOff >= uint64(len(strtab)) || shndx == 0 || value == 0 {
			continue
		}
		name := cString(strtab[nameOff:])
		if name == "" || strings.HasPrefix(name, "$") { // mapping symbols
			continue
		}
		t := byte('t')
		if i < len(typetab) && typetab[i] != 0 {
			t = typetab[i]
		} else if info>>4 == 1 { // STB_GLOBAL
			t = 'T'
		}
		if t == 'U' || t == 'u' {
			continue
		}
		syms = append(syms, Sym{Name: name, Addr: value, Size: size, Type: t, Module: modName})
	}
	return syms
}

// ModuleBuildID reads a module's GNU build-id from the notes the kernel
// keeps for sysfs (/sys/module/<name>/notes): module.notes_attrs points at
// a struct module_notes_attrs whose attrs[] are bin_attributes, each
// .private pointing at one note section in the module's memory
// (kernel/module/sysfs.c, add_notes_attrs). "" when any of it is missing.
func ModuleBuildID(addr uint64, mem Memory, types Types) string {
	notesOff, err := types.MemberOffset("module", "notes_attrs")
	if err != nil {
		return ""
	}
	attrs, err := readU64(mem, addr+notesOff)
	if err != nil || attrs == 0 {
		return ""
	}
	nOff, err1 := types.MemberOffset("module_notes_attrs", "notes")
	arrOff, err2 := types.MemberOffset("module_notes_attrs", "attrs")
	binSize, err3 := types.StructSize("bin_attribute")
	privOff, err4 := types.MemberOffset("bin_attribute", "private")
	sizeOff, err5 := types.MemberOffset("bin_attribute", "size")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil || binSize == 0 {
		return ""
	}
	var nb [4]byte
	if mem.ReadVirt(nb[:], attrs+nOff) != nil {
		return ""
	}
	n := min(binary.LittleEndian.Uint32(nb[:]), 64) // a module has a handful of note sections
	for i := range uint64(n) {
		a := attrs + arrOff + i*binSize
		priv, err := readU64(mem, a+privOff)
		if err != nil || priv == 0 {
			continue
		}
		size, err := readU64(mem, a+sizeOff)
		if err != nil || size == 0 || size > 4096 {
			continue
		}
		note := make([]byte, size)
		if mem.ReadVirt(note, priv) != nil {
			continue
		}
		if id, ok := findBuildIDNote(note, binary.LittleEndian); ok {
			return id
		}
	}
	return ""
}
