package symbols

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// BTF is the kernel's BTF, from vmlinux's .BTF section or raw bytes read
// from the dump's memory, decoded on demand (btfdecode.go). It answers
// layout questions; BTF describes no non-per-CPU globals, so GlobalType
// falls back to the table in globals.go.
type BTF struct {
	raw []byte // the blob, kept for the NamesCache's disk copy
	dec *btfRaw
	layoutOf
	// Damage says what of the BTF read from a dump was lost (pages of its
	// string section the dump could not serve), or is "".
	Damage string
}

var _ Types = (*BTF)(nil)

// maxBTFSize bounds a raw BTF read from a dump (the 6.1 vmlinux's is 4 MB).
const maxBTFSize = 64 << 20

// ParseBTF reads raw BTF bytes (the blob itself, kept, not copied).
func ParseBTF(raw []byte) (*BTF, error) {
	dec, err := parseBTF(raw)
	if err != nil {
		return nil, fmt.Errorf("symbols: loading BTF: %w", err)
	}
	b := &BTF{raw: raw, dec: dec}
	b.layoutOf.find = b.lookupStruct
	return b, nil
}

// LoadBTF reads BTF from r: an ELF file's .BTF section, or raw BTF bytes
// (r must then tell its size, as *os.File, *bytes.Reader and
// *io.SectionReader do).
func LoadBTF(r io.ReaderAt) (*BTF, error) {
	if f, err := elf.NewFile(r); err == nil {
		sec := f.Section(".BTF")
		if sec == nil {
			return nil, fmt.Errorf("symbols: loading BTF: the ELF file has no .BTF section: %w", ErrNotFound)
		}
		if sec.Size > maxBTFSize<<2 {
			return nil, fmt.Errorf("symbols: loading BTF: .BTF section of %d bytes", sec.Size)
		}
		data, err := sec.Data()
		if err != nil {
			return nil, fmt.Errorf("symbols: loading BTF: %w", err)
		}
		return ParseBTF(data)
	}
	var size int64
	switch s := r.(type) {
	case interface{ Size() int64 }:
		size = s.Size()
	case interface{ Stat() (os.FileInfo, error) }:
		st, err := s.Stat()
		if err != nil {
			return nil, fmt.Errorf("symbols: loading BTF: %w", err)
		}
		size = st.Size()
	default:
		return nil, errors.New("symbols: loading BTF: the reader does not tell its size")
	}
	if size < 0 || size > maxBTFSize<<2 {
		return nil, fmt.Errorf("symbols: loading BTF: %d bytes", size)
	}
	raw := make([]byte, size)
	if _, err := r.ReadAt(raw, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("symbols: loading BTF: %w", err)
	}
	return ParseBTF(raw)
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
	b, perr := ParseBTF(raw)
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
	t, off, hasSec, found := b.dec.datasecVar(".data..percpu", name)
	if !hasSec {
		return TypeInfo{}, 0, fmt.Errorf("BTF has no .data..percpu: %w", ErrNotFound)
	}
	if !found {
		return TypeInfo{}, 0, fmt.Errorf("BTF: no per-CPU variable %q: %w", name, ErrNotFound)
	}
	return describe(t), off, nil
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
	rank := func(h btfHeader) int {
		switch h.kind {
		case btfStruct:
			if kw == "struct" || kw == "" {
				return 3
			}
		case btfUnion:
			if kw == "union" || kw == "" {
				return 3
			}
		case btfEnum, btfEnum64:
			if kw == "enum" || kw == "" {
				return 3
			}
		case btfFwd:
			if (kw == "struct" && !h.flag) || (kw == "union" && h.flag) {
				return 1
			}
		case btfTypedef, btfInt, btfFloat:
			if kw == "" {
				return 4
			}
		}
		return 0
	}
	var best uint32
	bestRank := 0
	for _, id := range b.dec.byNameAll(bare) {
		h, _ := b.dec.header(id)
		if r := rank(h); r > bestRank {
			best, bestRank = id, r
		}
	}
	if bestRank == 0 {
		return nil, fmt.Errorf("BTF has no type %q: %w", name, ErrNotFound)
	}
	return btfRef{b.dec, best}, nil
}

func compositeName(kw, name string) string {
	if name == "" {
		return kw + " {...}"
	}
	return kw + " " + name
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
