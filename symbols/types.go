package symbols

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Kind is what a type is once typedefs and qualifiers are looked through.
type Kind int

const (
	KindOther Kind = iota
	KindInt        // integers, bool, char, enums' storage too (see KindEnum)
	KindFloat
	KindPointer
	KindArray
	KindStruct
	KindUnion
	KindEnum
	KindFunc
	KindVoid
)

var kindNames = [...]string{"other", "int", "float", "pointer", "array", "struct", "union", "enum", "func", "void"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// TypeInfo describes a type the same way whether it came from DWARF or BTF.
type TypeInfo struct {
	Name     string // C spelling: "struct list_head", "pid_t", "char[16]", "struct task_struct *"
	Kind     Kind   // after typedefs and qualifiers
	Size     uint64 // bytes; 0 for void, functions and flexible arrays
	Elem     string // C spelling of the pointee (pointers) or element (arrays)
	ArrayLen uint64 // arrays only; 0 for flexible or unknown length
}

// Member is a struct member reached by a dotted path from an outer struct.
type Member struct {
	Path      string
	Offset    uint64 // bytes from the start of the outer struct (bitfields: the byte holding the first bit)
	BitOffset uint64 // bits from the start of the outer struct (= 8*Offset unless a bitfield)
	BitSize   uint64 // 0 unless a bitfield
	Type      TypeInfo
}

// IsBitfield reports whether the member is a bitfield.
func (m Member) IsBitfield() bool { return m.BitSize != 0 }

// Types answers layout questions about the kernel's C types. Struct names
// may be given bare ("task_struct") or with their keyword ("union foo"), or
// be typedefs of structs ("atomic_long_t").
type Types interface {
	StructSize(name string) (uint64, error)
	// MemberOffset gives the byte offset of a member path such as
	// "thread.sp", "se.exec_start", "__state" or "cpus[1]". It returns an
	// error wrapping ErrNotFound if absent, so callers can try "state".
	MemberOffset(structName, path string) (uint64, error)
	MemberInfo(structName, path string) (Member, error)
	HasMember(structName, path string) bool
	// TypeInfo describes a named type ("struct rq", "long unsigned int", "u64").
	TypeInfo(name string) (TypeInfo, error)
}

// Symbols is a kernel's symbol table together with the types of its globals.
type Symbols interface {
	SymbolTable
	// GlobalType gives the C type of a global variable.
	GlobalType(name string) (TypeInfo, error)
}

// ctype is the small view of a type that both DWARF and BTF provide; the
// path walk and naming below work on it so the two backends agree.
type ctype interface {
	cname() string
	kind() Kind // after typedefs and qualifiers
	size() uint64
	// fields lists members of a struct or union (after typedefs).
	fields() []cfield
	// elem gives the pointee or element type, and the array length.
	elem() (ctype, uint64)
}

type cfield struct {
	name    string
	bitOff  uint64 // from the start of the containing struct
	bitSize uint64 // 0 unless a bitfield
	typ     ctype
}

func describe(t ctype) TypeInfo {
	ti := TypeInfo{Name: t.cname(), Kind: t.kind(), Size: t.size()}
	if ti.Kind == KindPointer || ti.Kind == KindArray {
		if e, n := t.elem(); e != nil {
			ti.Elem = e.cname()
			ti.ArrayLen = n
		}
	}
	return ti
}

// findMember resolves a dotted path below t. Each component may carry
// array indexes ("cpus[1]"); anonymous struct/union members are searched
// through, as C does.
func findMember(t ctype, structName, path string) (Member, error) {
	if path == "" {
		return Member{}, fmt.Errorf("%s: empty member path", structName)
	}
	var bit uint64
	m := Member{Path: path}
	cur := t
	for part := range strings.SplitSeq(path, ".") {
		name, idx, err := splitIndexes(part)
		if err != nil {
			return Member{}, fmt.Errorf("%s.%s: %w", structName, path, err)
		}
		if k := cur.kind(); k != KindStruct && k != KindUnion {
			return Member{}, fmt.Errorf("%s.%s: %q is a %s (%s), not a struct: %w", structName, path, name, k, cur.cname(), ErrNotFound)
		}
		f, off, ok := lookupField(cur, name, 0)
		if !ok {
			return Member{}, fmt.Errorf("%s has no member %q (path %q): %w", cur.cname(), name, path, ErrNotFound)
		}
		bit += off
		m.BitSize = f.bitSize
		cur = f.typ
		for _, i := range idx {
			if cur.kind() != KindArray {
				return Member{}, fmt.Errorf("%s.%s: %q is not an array: %w", structName, path, name, ErrNotFound)
			}
			e, n := cur.elem()
			if n != 0 && i >= n {
				return Member{}, fmt.Errorf("%s.%s: index %d out of range [0,%d)", structName, path, i, n)
			}
			bit += i * 8 * e.size()
			cur = e
			m.BitSize = 0
		}
	}
	m.BitOffset = bit
	m.Offset = bit / 8
	m.Type = describe(cur)
	return m, nil
}

// lookupField finds name among t's members, descending into anonymous
// members; depth bounds pathological recursion.
func lookupField(t ctype, name string, depth int) (cfield, uint64, bool) {
	if depth > 32 {
		return cfield{}, 0, false
	}
	fs := t.fields()
	for _, f := range fs {
		if f.name == name {
			return f, f.bitOff, true
		}
	}
	for _, f := range fs {
		if f.name == "" {
			if k := f.typ.kind(); k == KindStruct || k == KindUnion {
				if g, off, ok := lookupField(f.typ, name, depth+1); ok {
					return g, f.bitOff + off, true
				}
			}
		}
	}
	return cfield{}, 0, false
}

// splitIndexes splits "cpus[1][2]" into "cpus" and [1 2].
func splitIndexes(part string) (string, []uint64, error) {
	name, rest, found := strings.Cut(part, "[")
	if !found {
		return part, nil, nil
	}
	var idx []uint64
	rest = "[" + rest
	for rest != "" {
		if rest[0] != '[' {
			return "", nil, fmt.Errorf("bad index syntax in %q", part)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", nil, fmt.Errorf("unclosed index in %q", part)
		}
		n, err := strconv.ParseUint(rest[1:end], 0, 64)
		if err != nil {
			return "", nil, fmt.Errorf("bad index in %q", part)
		}
		idx = append(idx, n)
		rest = rest[end+1:]
	}
	return name, idx, nil
}

// arrayName spells an array of n elems. For arrays of arrays the new
// dimension goes first, as in C: 3 of "int[2]" is "int[3][2]".
func arrayName(elem string, n uint64) string {
	dim := "[" + strconv.FormatUint(n, 10) + "]"
	if n == 0 {
		dim = "[]"
	}
	if i := strings.IndexByte(elem, '['); i >= 0 && !strings.HasSuffix(elem, "*") {
		return elem[:i] + dim + elem[i:]
	}
	return elem + dim
}

// pointerName spells a pointer to elem.
func pointerName(elem string) string {
	if strings.HasSuffix(elem, "*") {
		return elem + "*"
	}
	return elem + " *"
}

// structKey splits "struct foo" / "union foo" / "foo" into keyword and name.
func structKey(name string) (keyword, bare string) {
	name = strings.TrimSpace(name)
	for _, kw := range []string{"struct ", "union ", "enum "} {
		if strings.HasPrefix(name, kw) {
			return strings.TrimSpace(kw), strings.TrimSpace(name[len(kw):])
		}
	}
	return "", name
}

// layoutOf implements Types over any backend that can find a named ctype.
// A triage asks for the same few dozen members thousands of times (every
// task, every frame), so answers are kept: each path is resolved once.
type layoutOf struct {
	find func(name string) (ctype, error)

	mu   sync.Mutex
	memo map[memberKey]memberAnswer
}

type memberKey struct{ structName, path string }

type memberAnswer struct {
	m   Member
	err error
}

func (l *layoutOf) StructSize(name string) (uint64, error) {
	t, err := l.find(name)
	if err != nil {
		return 0, err
	}
	return t.size(), nil
}

func (l *layoutOf) MemberOffset(structName, path string) (uint64, error) {
	m, err := l.MemberInfo(structName, path)
	return m.Offset, err
}

func (l *layoutOf) MemberInfo(structName, path string) (Member, error) {
	k := memberKey{structName, path}
	l.mu.Lock()
	a, ok := l.memo[k]
	l.mu.Unlock()
	if ok {
		return a.m, a.err
	}
	t, err := l.find(structName)
	if err == nil {
		a.m, a.err = findMember(t, structName, path)
	} else {
		a.err = err
	}
	l.mu.Lock()
	if l.memo == nil {
		l.memo = map[memberKey]memberAnswer{}
	}
	l.memo[k] = a
	l.mu.Unlock()
	return a.m, a.err
}

func (l *layoutOf) HasMember(structName, path string) bool {
	_, err := l.MemberInfo(structName, path)
	return err == nil
}
