package symbols

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf/btf"
)

// BTF is the kernel's BTF, from vmlinux's .BTF section or raw bytes read
// from the dump's memory. It answers layout questions; BTF describes no
// non-per-CPU globals, so GlobalType falls back to the table in globals.go.
type BTF struct {
	spec *btf.Spec
	raw  []byte // as read from a dump, kept for the NamesCache's disk copy
	layoutOf
	// Damage says what of the BTF read from a dump was lost (pages of its
	// string section the dump could not serve), or is "".
	Damage string
}

var _ Types = (*BTF)(nil)

// maxBTFSize bounds a raw BTF read from a dump (the 6.1 vmlinux's is 4 MB).
const maxBTFSize = 64 << 20

// LoadBTF parses BTF from r: either an ELF file with a .BTF section or raw
// BTF bytes (cilium/ebpf detects which).
func LoadBTF(r io.ReaderAt) (*BTF, error) {
	spec, err := btf.LoadSpecFromReader(r)
	if err != nil {
		return nil, fmt.Errorf("symbols: loading BTF: %w", err)
	}
	b := &BTF{spec: spec}
	b.layoutOf.find = b.lookupStruct
	return b, nil
}

// btfFromDump reads the kernel's BTF out of the dump, between __start_BTF
// and __stop_BTF, found by lookup.
func btfFromDump(lookup func(string) (uint64, bool), mem Memory) (*BTF, error) {
	start, ok1 := lookup("__start_BTF")
	stop, ok2 := lookup("__stop_BTF")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("symbols: kernel has no __start_BTF/__stop_BTF (built without CONFIG_DEBUG_INFO_BTF?): %w", ErrNotFound)
	}
	if stop <= start || stop-start > maxBTFSize {
		return nil, fmt.Errorf("symbols: BTF bounds %#x..%#x implausible", start, stop)
	}
	raw, lost, err := readPaged(mem, start, int(stop-start), false)
	if len(lost) > 0 && !btfStringsOnly(raw, lost) {
		return nil, fmt.Errorf("symbols: reading BTF from the dump at %#x: %w", start, err)
	}
	b, perr := LoadBTF(bytes.NewReader(raw))
	if b != nil {
		b.raw = raw
	}
	if perr != nil {
		if len(lost) > 0 {
			return nil, fmt.Errorf("symbols: reading BTF from the dump at %#x: %w", start, err)
		}
		return nil, fmt.Errorf("BTF read from the dump at %#x (%d bytes): %w", start, len(raw), perr)
	}
	if len(lost) > 0 {
		// Types and their layouts are whole; names on the lost pages read
		// as empty, so only lookups of those names fail.
		b.Damage = fmt.Sprintf("BTF: %d page(s) of its string section unreadable (first: %v): the types named there cannot be looked up", len(lost), err)
	}
	return b, nil
}

// btfStringsOnly tells whether every lost span of raw BTF lies in its
// string section (struct btf_header: magic, version, flags, hdr_len,
// type_off, type_len, str_off, str_len), whose loss costs names only.
func btfStringsOnly(raw []byte, lost [][2]int) bool {
	if len(raw) < 24 || lost[0][0] < 24 || binary.LittleEndian.Uint16(raw) != 0xeb9f {
		return false
	}
	le := binary.LittleEndian
	hdrLen, strOff, strLen := uint64(le.Uint32(raw[4:])), uint64(le.Uint32(raw[16:])), uint64(le.Uint32(raw[20:]))
	from, to := hdrLen+strOff, hdrLen+strOff+strLen
	for _, l := range lost {
		if uint64(l[0]) < from || uint64(l[1]) > to {
			return false
		}
	}
	return true
}

// Spec exposes the parsed BTF for callers that need more than layouts.
func (b *BTF) Spec() *btf.Spec { return b.spec }

// TypeInfo describes a named type or type expression ("struct rq *").
func (b *BTF) TypeInfo(name string) (TypeInfo, error) {
	t, err := parseTypeExpr(name, b.named)
	if err != nil {
		return TypeInfo{}, err
	}
	return describe(t), nil
}

// PerCPUVar gives the type and per-CPU offset of a variable in BTF's
// .data..percpu section (the only globals BTF describes).
func (b *BTF) PerCPUVar(name string) (TypeInfo, uint64, error) {
	var ds *btf.Datasec
	if err := b.spec.TypeByName(".data..percpu", &ds); err != nil {
		return TypeInfo{}, 0, fmt.Errorf("BTF has no .data..percpu: %w", ErrNotFound)
	}
	for _, v := range ds.Vars {
		if vr, ok := v.Type.(*btf.Var); ok && vr.Name == name {
			return describe(btfType{vr.Type}), uint64(v.Offset), nil
		}
	}
	return TypeInfo{}, 0, fmt.Errorf("BTF: no per-CPU variable %q: %w", name, ErrNotFound)
}

// lookupStruct finds a struct/union (or typedef of one) by name.
func (b *BTF) lookupStruct(name string) (ctype, error) {
	t, err := b.named(name)
	if err != nil {
		return nil, err
	}
	if k := t.kind(); k != KindStruct && k != KindUnion {
		return nil, fmt.Errorf("BTF: %q is a %s, not a struct or union", name, k)
	}
	return t, nil
}

// named finds "struct x", "union x", "enum x" or a bare name; a bare name
// prefers typedefs and base types, then structs, unions, enums.
func (b *BTF) named(name string) (ctype, error) {
	kw, bare := structKey(name)
	cands, err := b.spec.AnyTypesByName(bare)
	if err != nil && !errors.Is(err, btf.ErrNotFound) {
		return nil, fmt.Errorf("BTF: %q: %w", name, err)
	}
	rank := func(t btf.Type) int {
		switch t := t.(type) {
		case *btf.Struct:
			if kw == "struct" || kw == "" {
				return 3
			}
		case *btf.Union:
			if kw == "union" || kw == "" {
				return 3
			}
		case *btf.Enum:
			if kw == "enum" || kw == "" {
				return 3
			}
		case *btf.Fwd:
			if (kw == "struct" && t.Kind == btf.FwdStruct) || (kw == "union" && t.Kind == btf.FwdUnion) {
				return 1
			}
		case *btf.Typedef, *btf.Int, *btf.Float:
			if kw == "" {
				return 4
			}
		}
		return 0
	}
	var best btf.Type
	bestRank := 0
	for _, c := range cands {
		if r := rank(c); r > bestRank {
			best, bestRank = c, r
		}
	}
	if best == nil {
		return nil, fmt.Errorf("BTF has no type %q: %w", name, ErrNotFound)
	}
	return btfType{best}, nil
}

// btfType adapts a cilium/ebpf BTF type to ctype.
type btfType struct{ t btf.Type }

func (b btfType) cname() string {
	switch t := b.t.(type) {
	case *btf.Void:
		return "void"
	case *btf.Int:
		return t.Name
	case *btf.Float:
		return t.Name
	case *btf.Typedef:
		return t.Name
	case *btf.Struct:
		return compositeName("struct", t.Name)
	case *btf.Union:
		return compositeName("union", t.Name)
	case *btf.Enum:
		return compositeName("enum", t.Name)
	case *btf.Fwd:
		if t.Kind == btf.FwdUnion {
			return "union " + t.Name
		}
		return "struct " + t.Name
	case *btf.Pointer:
		return pointerName(btfType{t.Target}.cname())
	case *btf.Array:
		return arrayName(btfType{t.Type}.cname(), uint64(t.Nelems))
	case *btf.Const:
		return "const " + btfType{t.Type}.cname()
	case *btf.Volatile:
		return "volatile " + btfType{t.Type}.cname()
	case *btf.Restrict:
		return btfType{t.Type}.cname()
	case *btf.TypeTag:
		return btfType{t.Type}.cname()
	case *btf.FuncProto, *btf.Func:
		return "func"
	}
	return fmt.Sprintf("%T", b.t)
}

func compositeName(kw, name string) string {
	if name == "" {
		return kw + " {...}"
	}
	return kw + " " + name
}

func (b btfType) under() btf.Type { return btf.UnderlyingType(b.t) }

func (b btfType) kind() Kind {
	switch t := b.under().(type) {
	case *btf.Int:
		return KindInt
	case *btf.Float:
		return KindFloat
	case *btf.Pointer:
		return KindPointer
	case *btf.Array:
		return KindArray
	case *btf.Struct:
		return KindStruct
	case *btf.Union:
		return KindUnion
	case *btf.Enum:
		return KindEnum
	case *btf.FuncProto, *btf.Func:
		return KindFunc
	case *btf.Void:
		return KindVoid
	case *btf.Fwd:
		if t.Kind == btf.FwdUnion {
			return KindUnion
		}
		return KindStruct
	}
	return KindOther
}

func (b btfType) size() uint64 {
	switch b.under().(type) {
	case *btf.Void, *btf.FuncProto, *btf.Func, *btf.Fwd:
		return 0
	}
	n, err := btf.Sizeof(b.t)
	if err != nil || n < 0 {
		return 0
	}
	return uint64(n)
}

func (b btfType) fields() []cfield {
	var ms []btf.Member
	switch t := b.under().(type) {
	case *btf.Struct:
		ms = t.Members
	case *btf.Union:
		ms = t.Members
	default:
		return nil
	}
	out := make([]cfield, len(ms))
	for i, m := range ms {
		out[i] = cfield{name: m.Name, bitOff: uint64(m.Offset), bitSize: uint64(m.BitfieldSize), typ: btfType{m.Type}}
	}
	return out
}

func (b btfType) elem() (ctype, uint64) {
	switch t := b.under().(type) {
	case *btf.Pointer:
		return btfType{t.Target}, 0
	case *btf.Array:
		return btfType{t.Type}, uint64(t.Nelems)
	}
	return nil, 0
}

// GlobalType gives a global's C type: per-CPU variables from BTF itself,
// others from the table in globals.go (BTF has no other variables).
func (b *BTF) GlobalType(name string) (TypeInfo, error) {
	if ti, _, err := b.PerCPUVar(name); err == nil {
		return ti, nil
	}
	if expr, _, ok := KnownGlobal(name); ok {
		return b.TypeInfo(expr)
	}
	return TypeInfo{}, fmt.Errorf("BTF describes no global %q and the table of known globals lacks it: %w", name, ErrNotFound)
}
