package symbols

import (
	"fmt"
	"slices"
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
	for i := range k.Modules {
		if slices.ContainsFunc(k.Modules[i].Ranges, func(r Range) bool { return r.Contains(addr) }) {
			return &k.Modules[i], true
		}
	}
	return nil, false
}

// SymbolAt names addr; a symbol in a module has Module set.
func (k *KernelSymbols) SymbolAt(addr uint64) (Sym, bool) {
	if m, ok := k.Module(addr); ok {
		if s, ok := k.modTable.SymbolAt(addr); ok && s.Module == m.Name {
			return s, true
		}
		return Sym{Module: m.Name}, false
	}
	return k.Kernel.SymbolAt(addr)
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

// GlobalType implements Symbols.
func (k *KernelSymbols) GlobalType(name string) (TypeInfo, error) {
	if k.Globals == nil {
		return TypeInfo{}, fmt.Errorf("no type information loaded for %q: %w", name, ErrNotFound)
	}
	return k.Globals.GlobalType(name)
}
