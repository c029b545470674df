package symbols

import (
	"cmp"
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ktriage/ktriage/internal/radix"
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
	byName *nameIndex
	// frozen replaces syms, sizes and byName in a table read from the
	// cache (tablecache.go): its records are read in place.
	frozen *frozenTable
	slide  uint64
	// moved is added to every kernel-image address stored in syms: a
	// table shared with another dump of the same build (NamesCache) at
	// another KASLR offset.
	moved uint64
	// Damage says what of a table read from a dump was lost (kallsyms
	// names on pages the dump could not serve), or is "".
	Damage string
}

// NewTable sorts syms and indexes them. slide is added to every address
// above KernelMapBase (VMCOREINFO KERNELOFFSET for link-time tables, 0 for
// tables already holding runtime addresses).
func NewTable(syms []Sym, slide uint64) *Table {
	return newTable(slices.Clone(syms), slide, aliasCompare)
}

// newTable is NewTable with the order of symbols sharing an address given
// by tie (input order breaks remaining ties). It takes syms over.
func newTable(s []Sym, slide uint64, tie func(a, b Sym) int) *Table {
	for i := range s {
		// Store runtime addresses, so lookups in both directions agree.
		if a := s[i].Addr; inImage(a) && a+slide >= a {
			s[i].Addr = a + slide
		}
	}
	s = sortByAddr(s, tie)
	t := &Table{syms: s, byName: &nameIndex{}, slide: slide}
	t.sizes = make([]uint64, len(s))
	// One backward pass: nextAddr is the first address above s[i].Addr.
	// The kernel's rule (kallsyms get_symbol_pos): a symbol extends to the
	// next symbol at a higher address, padding included, which is the size
	// oops lines print. Never stretch a per-CPU or absolute symbol up into
	// the kernel image; the last symbol keeps the size its source gave.
	var nextAddr uint64
	haveNext := false
	for i := len(s) - 1; i >= 0; i-- {
		if i+1 < len(s) && s[i+1].Addr > s[i].Addr {
			nextAddr, haveNext = s[i+1].Addr, true
		}
		size := s[i].Size
		if haveNext && (s[i].Addr >= KernelMapBase || nextAddr < KernelMapBase) {
			size = nextAddr - s[i].Addr
		}
		t.sizes[i] = size
	}
	return t
}

// nameIndex maps names to symbol indexes (the first of equal names). It is
// made on the first lookup: a vmlinux's table built only to be frozen into
// the cache (which has its own name order) never needs it.
type nameIndex struct {
	once sync.Once
	m    map[string]int32
}

func (x *nameIndex) get(syms []Sym, name string) (int32, bool) {
	x.once.Do(func() {
		x.m = make(map[string]int32, len(syms))
		for i := range syms {
			if _, dup := x.m[syms[i].Name]; !dup {
				x.m[syms[i].Name] = int32(i)
			}
		}
	})
	i, ok := x.m[name]
	return i, ok
}

// sortByAddr returns syms ordered by address, symbols at one address by
// tie, and otherwise in input order: a stable sort, done as a sort of
// (address, position) keys plus a stable sort within each run of equal
// addresses, because slices.SortStableFunc's in-place merging spent ~50 ms
// moving a vmlinux's 119k symbols around.
func sortByAddr(syms []Sym, tie func(a, b Sym) int) []Sym {
	out := syms
	// kallsyms and nm -n come sorted already: then only the runs of
	// aliases need ordering, and the symbols need not move at all.
	if !slices.IsSortedFunc(syms, func(a, b Sym) int { return cmp.Compare(a.Addr, b.Addr) }) {
		keys := make([]radix.Key, len(syms))
		for i := range syms {
			keys[i] = radix.Key{K: syms[i].Addr, I: int32(i)}
		}
		radix.Sort(keys) // stable: equal addresses stay in input order
		out = make([]Sym, len(syms))
		for i, k := range keys {
			out[i] = syms[k.I]
		}
	}
	for lo := 0; lo < len(out); {
		hi := lo + 1
		for hi < len(out) && out[hi].Addr == out[lo].Addr {
			hi++
		}
		if hi-lo > 1 {
			slices.SortStableFunc(out[lo:hi], tie)
		}
		lo = hi
	}
	return out
}

// aliasCompare orders symbols sharing an address the way scripts/kallsyms.c
// (compare_symbols) does, so the name printed for an address is the one the
// kernel itself prints: non-weak first, then names that are not linker
// script markers (__start_x, __x_end...), then fewer leading underscores.
// Remaining ties keep input order (nm -n order for vmlinux and System.map).
func aliasCompare(a, b Sym) int {
	if c := cmp.Compare(isWeak(a), isWeak(b)); c != 0 {
		return c
	}
	if c := cmp.Compare(linkerProvided(a.Name), linkerProvided(b.Name)); c != 0 {
		return c
	}
	return cmp.Compare(leadingUnderscores(a.Name), leadingUnderscores(b.Name))
}

func isWeak(s Sym) int {
	if s.Type == 'w' || s.Type == 'W' {
		return 1
	}
	return 0
}

func linkerProvided(name string) int {
	if len(name) < 8 || !strings.HasPrefix(name, "__") {
		return 0
	}
	rest := name[2:]
	for _, p := range []string{"start_", "stop_", "end_"} {
		if strings.HasPrefix(rest, p) {
			return 1
		}
	}
	if strings.HasSuffix(name, "_start") || strings.HasSuffix(name, "_end") {
		return 1
	}
	return 0
}

func leadingUnderscores(name string) int {
	return len(name) - len(strings.TrimLeft(name, "_"))
}

// Slide is the KASLR offset this table applies to link-time addresses.
func (t *Table) Slide() uint64 { return t.slide + t.moved }

// movedBy is t for a dump whose kernel image lies delta bytes further: the
// symbols are shared, not copied.
func (t *Table) movedBy(delta uint64) *Table {
	c := *t
	c.moved += delta
	return &c
}

// Len is the number of symbols.
func (t *Table) Len() int {
	if t.frozen != nil {
		return t.frozen.n
	}
	return len(t.syms)
}

// addr is symbol i's address as stored (before moved).
func (t *Table) addr(i int) uint64 {
	if t.frozen != nil {
		return t.frozen.addr(i)
	}
	return t.syms[i].Addr
}

// sym is symbol i as stored, with its effective size.
func (t *Table) sym(i int) Sym {
	if t.frozen != nil {
		return t.frozen.sym(i)
	}
	s := t.syms[i]
	s.Size = t.sizes[i]
	return s
}

// index finds the symbol called name.
func (t *Table) index(name string) (int, bool) {
	if t.frozen != nil {
		return t.frozen.index(name)
	}
	i, ok := t.byName.get(t.syms, name)
	return int(i), ok
}

// Lookup returns the runtime address of name.
func (t *Table) Lookup(name string) (uint64, bool) {
	i, ok := t.index(name)
	if !ok {
		return 0, false
	}
	return t.place(t.addr(i)), true
}

// inImage tells whether a is an address in the kernel image (one KASLR moves).
func inImage(a uint64) bool { return a >= KernelMapBase && a-KernelMapBase < KernelImageSize }

// place is a stored address where this table's dump has it.
func (t *Table) place(a uint64) uint64 {
	if t.moved != 0 && inImage(a) {
		return a + t.moved
	}
	return a
}

// Sym returns the symbol called name with its runtime address.
func (t *Table) Sym(name string) (Sym, bool) {
	i, ok := t.index(name)
	if !ok {
		return Sym{}, false
	}
	s := t.sym(i)
	s.Addr = t.place(s.Addr)
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
	if t.moved != 0 && inImage(addr) {
		a = addr - t.moved // where the table stores it
	}
	i := sort.Search(t.Len(), func(i int) bool { return t.addr(i) > a })
	i-- // last symbol with Addr <= a
	if i < 0 {
		return Sym{}, false
	}
	// Step back to the preferred alias at this address.
	for i > 0 && t.addr(i-1) == t.addr(i) {
		i--
	}
	if s := t.sym(i); a-s.Addr < s.Size || a == s.Addr {
		s.Addr = t.place(s.Addr)
		return s, true
	}
	return Sym{}, false
}

// All yields every symbol with runtime addresses, in address order.
func (t *Table) All() iter.Seq[Sym] {
	return func(yield func(Sym) bool) {
		for i := range t.Len() {
			s := t.sym(i)
			s.Addr = t.place(s.Addr)
			if !yield(s) {
				return
			}
		}
	}
}
