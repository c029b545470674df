package symbols

import (
	"fmt"
)

// KernelSymbols is one kernel's names: the kernel's own table (vmlinux
// symtab + slide, System.map, or kallsyms from the dump), the loaded
// modules' symbols, and the types of globals. It implements Symbols.
type KernelSymbols struct {
	Kernel  *Table
	Modules []Module
	// Globals gives the types of globals: *DWARF or *BTF (both fall back
	// to the table in globals.go). May be nil.
	Globals interface {
		GlobalType(name string) (TypeInfo, error)
	}
	modTable *Table
}

var _ Symbols = (*KernelSymbols)(nil)

// NewKernelSymbols combines a kernel table with modules and a type source.
func NewKernelSymbols(kernel *Table, modules []Module, globals interface {
	GlobalType(string) (TypeInfo, error)
}) *KernelSymbols {
	k := &KernelSymbols{Kernel: kernel, Modules: modules, Globals: globals}
	var all []Sym
	for _, m := range modules {
		all = append(all, m.Syms...)
	}
	k.modTable = NewTable(all, 0)
	return k
}

// Lookup finds name in the kernel first, then in modules.
func (k *KernelSymbols) Lookup(name string) (uint64, bool) {
	if a, ok := k.Kernel.Lookup(name); ok {
		return a, true
	}
	if k.modTable != nil {
		return k.modTable.Lookup(name)
	}
	return 0, false
}

// Module returns the module whose memory holds addr.
func (k *KernelSymbols) Module(addr uint64) (*Module, bool) {
	m, _, ok := k.moduleRange(addr)
	return m, ok
}

func (k *KernelSymbols) moduleRange(addr uint64) (*Module, Range, bool) {
	for i := range k.Modules {
		for _, r := range k.Modules[i].Ranges {
			if r.Contains(addr) {
				return &k.Modules[i], r, true
			}
		}
	}
	return nil, Range{}, false
}

// SymbolAt names addr; a symbol in a module has Module set. As in the
// kernel, a module symbol extends to the next symbol or to the end of the
// module region (text, data...) holding it, whichever comes first.
func (k *KernelSymbols) SymbolAt(addr uint64) (Sym, bool) {
	m, r, ok := k.moduleRange(addr)
	if !ok {
		return k.Kernel.SymbolAt(addr)
	}
	s, ok := k.modTable.SymbolAt(addr)
	if !ok || s.Module != m.Name || !r.Contains(s.Addr) {
		// Past the table's reach: the last symbol of this region.
		s, ok = k.lastModuleSym(m, r, addr)
		if !ok {
			return Sym{Module: m.Name}, false
		}
	}
	s.Size = min(s.Size, r.Start+r.Size-s.Addr)
	if s.Size == 0 || addr-s.Addr >= s.Size {
		s.Size = r.Start + r.Size - s.Addr
	}
	return s, true
}

// lastModuleSym is m's highest symbol in r at or below addr.
func (k *KernelSymbols) lastModuleSym(m *Module, r Range, addr uint64) (Sym, bool) {
	var best Sym
	found := false
	for _, s := range m.Syms {
		if r.Contains(s.Addr) && s.Addr <= addr && (!found || s.Addr > best.Addr) {
			best, found = s, true
		}
	}
	return best, found
}

// Symbolize implements SymbolTable.
func (k *KernelSymbols) Symbolize(addr uint64) (string, uint64, uint64, bool) {
	s, ok := k.SymbolAt(addr)
	if !ok {
		return "", 0, 0, false
	}
	return s.Name, addr - s.Addr, s.Size, true
}

// Format spells addr the way kernel stack traces do: "func+0x1c/0x80",
// "func+0x10/0x40 [module]", or the bare hex address when unknown.
func (k *KernelSymbols) Format(addr uint64) string {
	s, ok := k.SymbolAt(addr)
	switch {
	case ok && s.Module != "":
		return fmt.Sprintf("%s+%#x/%#x [%s]", s.Name, addr-s.Addr, s.Size, s.Module)
	case ok:
		return fmt.Sprintf("%s+%#x/%#x", s.Name, addr-s.Addr, s.Size)
	case s.Module != "":
		return fmt.Sprintf("%#x [%s]", addr, s.Module)
	}
	return fmt.Sprintf("%#x", addr)
}

// FormatReturn spells a return address as kernel call traces do (%pB):
// it names addr-1, since a call that never returns can leave the return
// address just past the end of its function, and prints the offset of addr.
func (k *KernelSymbols) FormatReturn(addr uint64) string {
	if addr == 0 {
		return k.Format(addr)
	}
	s, ok := k.SymbolAt(addr - 1)
	switch {
	case ok && s.Module != "":
		return fmt.Sprintf("%s+%#x/%#x [%s]", s.Name, addr-s.Addr, s.Size, s.Module)
	case ok:
		return fmt.Sprintf("%s+%#x/%#x", s.Name, addr-s.Addr, s.Size)
	}
	return k.Format(addr)
}

// GlobalType implements Symbols.
func (k *KernelSymbols) GlobalType(name string) (TypeInfo, error) {
	if k.Globals == nil {
		return TypeInfo{}, fmt.Errorf("no type information loaded for %q: %w", name, ErrNotFound)
	}
	return k.Globals.GlobalType(name)
}
