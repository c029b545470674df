package symbols

import (
	"cmp"
	"iter"
	"slices"
	"strings"
)

// KernelMapBase is __START_KERNEL_map on x86_64: vmlinux is linked in the
// KernelImageSize above it, and only addresses there move with the KASLR
// slide. Per-CPU symbols (small offsets), absolute symbols and module
// addresses do not move.
const (
	KernelMapBase   = 0xffffffff80000000
	KernelImageSize = 1 << 30
)

// Sym is one kernel or module symbol.
type Sym struct {
	Name   string
	Addr   uint64 // as stored in the source: link-time for vmlinux/System.map, runtime for the dump
	Size   uint64 // 0 when the source gives none (then the gap to the next symbol is used)
	Type   byte   // nm-style letter: T t D d B b R r A W V ...
	Module string // "" for vmlinux
}

// IsText reports whether the symbol is code (nm types T, t, W for functions).
func (s Sym) IsText() bool { return s.Type == 'T' || s.Type == 't' }

// SymbolTable maps names to addresses and addresses back to names. Addresses
// are runtime (KASLR-relocated) addresses of the crashed kernel.
type SymbolTable interface {
	Lookup(name string) (addr uint64, ok bool)
	Symbolize(addr uint64) (name string, off, size uint64, ok bool)
}

// Table is a sorted symbol table shared by the ELF, System.map and kallsyms
// sources. It is read-only after construction and safe for concurrent use.
type Table struct {
	syms   []Sym // sorted by Addr, preferred alias first
	sizes  []uint64
	byName map[string]int32
	slide  uint64
}

// NewTable sorts syms and indexes them. slide is added to every address
// above KernelMapBase (VMCOREINFO KERNELOFFSET for link-time tables, 0 for
// tables already holding runtime addresses).
func NewTable(syms []Sym, slide uint64) *Table {
	s := slices.Clone(syms)
	for i := range s {
		// Store runtime addresses, so lookups in both directions agree.
		if a := s[i].Addr; a >= KernelMapBase && a-KernelMapBase < KernelImageSize && a+slide >= a {
			s[i].Addr = a + slide
		}
	}
	slices.SortStableFunc(s, func(a, b Sym) int {
		if c := cmp.Compare(a.Addr, b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(aliasRank(a), aliasRank(b))
	})
	t := &Table{syms: s, byName: make(map[string]int32, len(s)), slide: slide}
	t.sizes = make([]uint64, len(s))
	// One backward pass: nextAddr is the first address above s[i].Addr.
	var nextAddr uint64
	haveNext := false
	for i := len(s) - 1; i >= 0; i-- {
		if i+1 < len(s) && s[i+1].Addr > s[i].Addr {
			nextAddr, haveNext = s[i+1].Addr, true
		}
		size := s[i].Size
		// The kernel's own rule (kallsyms get_symbol_pos): a symbol
		// extends to the next symbol at a higher address. Never stretch a
		// per-CPU or absolute symbol up into the kernel image.
		if size == 0 && haveNext && (s[i].Addr >= KernelMapBase || nextAddr < KernelMapBase) {
			size = nextAddr - s[i].Addr
		}
		t.sizes[i] = size
	}
	for i := range s {
		if _, dup := t.byName[s[i].Name]; !dup {
			t.byName[s[i].Name] = int32(i)
		}
	}
	return t
}

// aliasRank orders symbols sharing an address: functions first, global
// before local, and compiler-made names (.cold, .isra, __pfx_) last.
func aliasRank(s Sym) int {
	r := 0
	switch s.Type {
	case 'T', 'W':
		r = 0
	case 't', 'w':
		r = 1
	case 'D', 'B', 'R', 'V':
		r = 2
	default:
		r = 3
	}
	if strings.HasPrefix(s.Name, "__pfx_") || strings.Contains(s.Name, ".") {
		r += 4
	}
	if s.Size == 0 {
		r += 8
	}
	return r
}

// Slide is the KASLR offset this table applies to link-time addresses.
func (t *Table) Slide() uint64 { return t.slide }

// Len is the number of symbols.
func (t *Table) Len() int { return len(t.syms) }

// Lookup returns the runtime address of name.
func (t *Table) Lookup(name string) (uint64, bool) {
	i, ok := t.byName[name]
	if !ok {
		return 0, false
	}
	return t.syms[i].Addr, true
}

// Sym returns the symbol called name with its runtime address.
func (t *Table) Sym(name string) (Sym, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Sym{}, false
	}
	s := t.syms[i]
	s.Size = t.sizes[i]
	return s, true
}

// Symbolize names the symbol containing the runtime address addr, with the
// offset into it and its size. ok is false when addr falls outside every
// symbol's extent.
func (t *Table) Symbolize(addr uint64) (name string, off, size uint64, ok bool) {
	s, ok := t.SymbolAt(addr)
	if !ok {
		return "", 0, 0, false
	}
	return s.Name, addr - s.Addr, s.Size, true
}

// SymbolAt returns the symbol containing the runtime address addr, with its
// runtime address and effective size.
func (t *Table) SymbolAt(addr uint64) (Sym, bool) {
	a := addr
	i, _ := slices.BinarySearchFunc(t.syms, a+1, func(s Sym, x uint64) int { return cmp.Compare(s.Addr, x) })
	i-- // last symbol with Addr <= a
	if i < 0 {
		return Sym{}, false
	}
	// Step back to the preferred alias at this address.
	for i > 0 && t.syms[i-1].Addr == t.syms[i].Addr {
		i--
	}
	// A sized symbol that ends before a may sit inside a bigger one that
	// covers a (e.g. a label inside a function): look a few back.
	for j := i; j >= 0 && j > i-8; j-- {
		s := t.syms[j]
		if a-s.Addr < t.sizes[j] || a == s.Addr {
			s.Size = t.sizes[j]
			return s, true
		}
	}
	return Sym{}, false
}

// All yields every symbol with runtime addresses, in address order.
func (t *Table) All() iter.Seq[Sym] {
	return func(yield func(Sym) bool) {
		for i, s := range t.syms {
			s.Size = t.sizes[i]
			if !yield(s) {
				return
			}
		}
	}
}
