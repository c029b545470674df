package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// A triage reads a few dozen of the ~100k types a kernel's BTF describes,
// so the BTF is decoded on demand: loading it only checks the header and
// records where each type starts; a type's bytes are read when a lookup
// reaches it, and nothing is copied. (cilium/ebpf, used before, inflated
// every type a lookup touched, transitively, after copying the blob and
// indexing every name: most of a no-debuginfo triage's time.)
//
// The format is the kernel's (Documentation/bpf/btf.rst): a 24-byte header
// {magic 0xeb9f u16, version u8, flags u8, hdr_len, type_off, type_len,
// str_off, str_len u32}, offsets counted from the header's end; each type a
// 12-byte struct btf_type {name_off, info, size_or_type u32} (info: vlen in
// bits 0-15, kind in 24-28, kind_flag in 31) and kind-specific data after it.

// BTF kinds.
const (
	btfVoid = iota
	btfInt
	btfPtr
	btfArray
	btfStruct
	btfUnion
	btfEnum
	btfFwd
	btfTypedef
	btfVolatile
	btfConst
	btfRestrict
	btfFunc
	btfFuncProto
	btfVar
	btfDatasec
	btfFloat
	btfDeclTag
	btfTypeTag
	btfEnum64
	btfKinds
)

const (
	btfMagic     = 0xeb9f
	btfHeaderLen = 24
	btfTypeLen   = 12
	// maxBTFDepth bounds chains of typedefs, qualifiers, pointers and
	// arrays: a real kernel's are a few deep; a hostile blob's may loop.
	maxBTFDepth = 32
)

// btfRaw is a BTF blob with the start of every type found.
type btfRaw struct {
	order   binary.ByteOrder
	types   []byte   // the type section
	strs    string   // the string section
	offsets []uint32 // offsets[id] = where type id starts in types; [0] is void

	indexOnce sync.Once
	slots     []byte // index(): types by name
}

// parseBTF checks raw's header and walks its type section once to find
// where each type starts. It keeps raw (no copy).
func parseBTF(raw []byte) (*btfRaw, error) {
	if len(raw) < btfHeaderLen {
		return nil, fmt.Errorf("BTF: %d bytes, shorter than its header", len(raw))
	}
	var order binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint16(raw) == btfMagic:
	case binary.BigEndian.Uint16(raw) == btfMagic:
		order = binary.BigEndian
	default:
		return nil, fmt.Errorf("BTF: bad magic %#04x", binary.LittleEndian.Uint16(raw))
	}
	hdrLen := uint64(order.Uint32(raw[4:]))
	typeOff, typeLen := uint64(order.Uint32(raw[8:])), uint64(order.Uint32(raw[12:]))
	strOff, strLen := uint64(order.Uint32(raw[16:])), uint64(order.Uint32(raw[20:]))
	if hdrLen < btfHeaderLen || hdrLen > uint64(len(raw)) {
		return nil, fmt.Errorf("BTF: header length %d outside the %d-byte blob", hdrLen, len(raw))
	}
	body := raw[hdrLen:]
	if typeOff+typeLen > uint64(len(body)) {
		return nil, fmt.Errorf("BTF: type section %d+%d outside the %d bytes after the header", typeOff, typeLen, len(body))
	}
	if strOff+strLen > uint64(len(body)) {
		return nil, fmt.Errorf("BTF: string section %d+%d outside the %d bytes after the header", strOff, strLen, len(body))
	}
	b := &btfRaw{order: order, types: body[typeOff : typeOff+typeLen]}
	if strLen > 0 {
		// The names stay in raw (often a mapped cache file) as one string
		// every name slices: raw is never written after it is parsed.
		b.strs = unsafe.String(&body[strOff], int(strLen))
	}
	if strLen > 0 && b.strs[0] != 0 {
		return nil, errors.New("BTF: string section does not start with an empty string")
	}
	// Every type takes at least 12 bytes: the count bounds the slice.
	b.offsets = make([]uint32, 1, 1+typeLen/btfTypeLen)
	for off := uint64(0); off < typeLen; {
		if typeLen-off < btfTypeLen {
			return nil, fmt.Errorf("BTF: type %d at %d cut short", len(b.offsets), off)
		}
		info := order.Uint32(b.types[off+4:])
		kind, vlen := info>>24&0x1f, uint64(info&0xffff)
		var extra uint64
		switch kind {
		case btfInt, btfVar, btfDeclTag:
			extra = 4
		case btfArray:
			extra = 12
		case btfStruct, btfUnion, btfDatasec, btfEnum64:
			extra = 12 * vlen
		case btfEnum, btfFuncProto:
			extra = 8 * vlen
		case btfPtr, btfFwd, btfTypedef, btfVolatile, btfConst, btfRestrict, btfFunc, btfFloat, btfTypeTag:
		default:
			return nil, fmt.Errorf("BTF: type %d at %d has unknown kind %d", len(b.offsets), off, kind)
		}
		if extra > typeLen-off-btfTypeLen {
			return nil, fmt.Errorf("BTF: type %d at %d runs past the type section", len(b.offsets), off)
		}
		b.offsets = append(b.offsets, uint32(off))
		off += btfTypeLen + extra
	}
	return b, nil
}

// name reads the string at off; "" when off is outside the section (as a
// damaged section's names read).
func (b *btfRaw) name(off uint32) string {
	if int64(off) >= int64(len(b.strs)) {
		return ""
	}
	s := b.strs[off:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// header gives type id's kind, vlen, kind_flag, name offset, size-or-type
// and the bytes after its btf_type; ok is false for void and ids out of range.
func (b *btfRaw) header(id uint32) (h btfHeader, ok bool) {
	if id == 0 || int64(id) >= int64(len(b.offsets)) {
		return btfHeader{}, false
	}
	p := b.types[b.offsets[id]:]
	info := b.order.Uint32(p[4:])
	return btfHeader{
		nameOff: b.order.Uint32(p), kind: info >> 24 & 0x1f, vlen: info & 0xffff, flag: info>>31 != 0,
		sizeOrType: b.order.Uint32(p[8:]), data: p[btfTypeLen:],
	}, true
}

type btfHeader struct {
	nameOff, kind, vlen uint32
	flag                bool
	sizeOrType          uint32
	data                []byte
}

// lookupKind reports whether a type of kind k can be asked for by name:
// what named() ranks, and .data..percpu's section for PerCPUVar.
func lookupKind(k uint32) bool {
	switch k {
	case btfInt, btfStruct, btfUnion, btfEnum, btfEnum64, btfFwd, btfTypedef, btfFloat, btfDatasec:
		return true
	}
	return false
}

// index builds, once, an open-addressing hash table of the types a name
// lookup may return: slots hold type ids (little-endian u32, 0 = empty),
// placed by a hash of the name and probed linearly. Sized from the type
// count, it never grows, and as bytes it can be kept in the NamesCache's
// file and mapped back (useIndex) instead of built on every run.
func (b *btfRaw) index() {
	b.indexOnce.Do(func() {
		n := 1
		for n < 2*len(b.offsets) {
			n <<= 1
		}
		slots := make([]byte, 4*n)
		mask := uint32(n - 1)
		for id := uint32(1); int(id) < len(b.offsets); id++ {
			h, _ := b.header(id)
			if h.nameOff == 0 || !lookupKind(h.kind) {
				continue
			}
			i := nameHash(b.name(h.nameOff)) & mask
			for binary.LittleEndian.Uint32(slots[4*i:]) != 0 {
				i = (i + 1) & mask
			}
			binary.LittleEndian.PutUint32(slots[4*i:], id)
		}
		b.slots = slots
	})
}

// useIndex adopts slots an earlier index() built for the same blob, if
// their size is one index() could have made.
func (b *btfRaw) useIndex(slots []byte) bool {
	n := len(slots) / 4
	if len(slots)%4 != 0 || n < 2*len(b.offsets) || n&(n-1) != 0 || n > 8*len(b.offsets)+8 {
		return false
	}
	used := false
	b.indexOnce.Do(func() { b.slots, used = slots, true })
	return used
}

// nameHash is FNV-1a.
func nameHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// byNameAll lists the types named name that a lookup may ask for, in id
// order (ids were inserted in order, and a probe sequence keeps it).
func (b *btfRaw) byNameAll(name string) []uint32 {
	b.index()
	var ids []uint32
	mask := uint32(len(b.slots)/4 - 1)
	for i, probes := nameHash(name)&mask, 0; probes <= int(mask); i, probes = (i+1)&mask, probes+1 {
		id := binary.LittleEndian.Uint32(b.slots[4*i:])
		if id == 0 {
			break
		}
		if h, _ := b.header(id); b.name(h.nameOff) == name {
			ids = append(ids, id)
		}
	}
	return ids
}

// btfRef is one type of a BTF blob, read when asked (a ctype).
type btfRef struct {
	b  *btfRaw
	id uint32
}

// under follows typedefs and qualifiers (const, volatile, restrict,
// type tags) to the type they name; ok is false on a loop or bad id.
func (r btfRef) under() (btfRef, btfHeader, bool) {
	for range maxBTFDepth {
		h, ok := r.b.header(r.id)
		if !ok {
			return r, btfHeader{}, r.id == 0 // void
		}
		switch h.kind {
		case btfTypedef, btfVolatile, btfConst, btfRestrict, btfTypeTag:
			r.id = h.sizeOrType
			continue
		}
		return r, h, true
	}
	return r, btfHeader{}, false
}

func (r btfRef) cname() string { return r.cnameDepth(0) }

func (r btfRef) cnameDepth(depth int) string {
	if depth > maxBTFDepth {
		return "?"
	}
	if r.id == 0 {
		return "void"
	}
	h, ok := r.b.header(r.id)
	if !ok {
		return fmt.Sprintf("BTF type %d", r.id)
	}
	name := r.b.name(h.nameOff)
	next := btfRef{r.b, h.sizeOrType}
	switch h.kind {
	case btfInt, btfFloat, btfTypedef:
		return name
	case btfStruct:
		return compositeName("struct", name)
	case btfUnion:
		return compositeName("union", name)
	case btfEnum, btfEnum64:
		return compositeName("enum", name)
	case btfFwd:
		if h.flag {
			return "union " + name
		}
		return "struct " + name
	case btfPtr:
		return pointerName(next.cnameDepth(depth + 1))
	case btfArray:
		elem := btfRef{r.b, r.b.order.Uint32(h.data)}
		return arrayName(elem.cnameDepth(depth+1), uint64(r.b.order.Uint32(h.data[8:])))
	case btfConst:
		return "const " + next.cnameDepth(depth+1)
	case btfVolatile:
		return "volatile " + next.cnameDepth(depth+1)
	case btfRestrict, btfTypeTag:
		return next.cnameDepth(depth + 1)
	case btfFunc, btfFuncProto:
		return "func"
	case btfVar:
		return "var " + name
	case btfDatasec:
		return "section " + name
	}
	return fmt.Sprintf("BTF kind %d", h.kind)
}

func (r btfRef) kind() Kind {
	u, h, ok := r.under()
	if !ok {
		return KindOther
	}
	if u.id == 0 {
		return KindVoid
	}
	switch h.kind {
	case btfInt:
		return KindInt
	case btfFloat:
		return KindFloat
	case btfPtr:
		return KindPointer
	case btfArray:
		return KindArray
	case btfStruct:
		return KindStruct
	case btfUnion:
		return KindUnion
	case btfEnum, btfEnum64:
		return KindEnum
	case btfFunc, btfFuncProto:
		return KindFunc
	case btfFwd:
		if h.flag {
			return KindUnion
		}
		return KindStruct
	}
	return KindOther
}

// size is the type's size in bytes: arrays multiply out, and types without
// one (void, functions, forward declarations) are 0.
func (r btfRef) size() uint64 {
	n := uint64(1)
	for range maxBTFDepth {
		u, h, ok := r.under()
		if !ok || u.id == 0 {
			return 0
		}
		switch h.kind {
		case btfArray:
			nelems := uint64(r.b.order.Uint32(h.data[8:]))
			if nelems != 0 && n > (1<<62)/nelems {
				return 0
			}
			n *= nelems
			r = btfRef{r.b, r.b.order.Uint32(h.data)}
			continue
		case btfPtr:
			return n * 8
		case btfInt, btfStruct, btfUnion, btfEnum, btfEnum64, btfFloat, btfDatasec:
			if s := uint64(h.sizeOrType); n == 0 || s <= (1<<62)/n {
				return n * s
			}
		}
		return 0
	}
	return 0
}

func (r btfRef) fields() []cfield {
	_, h, ok := r.under()
	if !ok || (h.kind != btfStruct && h.kind != btfUnion) {
		return nil
	}
	out := make([]cfield, h.vlen)
	o := r.b.order
	for i := range out {
		m := h.data[12*i:]
		typ, off := o.Uint32(m[4:]), uint64(o.Uint32(m[8:]))
		f := cfield{name: r.b.name(o.Uint32(m)), bitOff: off, typ: btfRef{r.b, typ}}
		if h.flag {
			f.bitOff, f.bitSize = off&0xffffff, off>>24
		} else if ih, ok := r.b.header(typ); ok && ih.kind == btfInt {
			// An old-style bitfield: the member's int type itself carries
			// the bit offset and width (BTF_INT_OFFSET, BTF_INT_BITS).
			enc := o.Uint32(ih.data)
			bitOff, bits := uint64(enc>>16&0xff), uint64(enc&0xff)
			if bitOff > 0 || (bits+7)/8 != uint64(ih.sizeOrType) {
				f.bitOff, f.bitSize = off+bitOff, bits
			}
		}
		out[i] = f
	}
	return out
}

func (r btfRef) elem() (ctype, uint64) {
	_, h, ok := r.under()
	if !ok {
		return nil, 0
	}
	switch h.kind {
	case btfPtr:
		return btfRef{r.b, h.sizeOrType}, 0
	case btfArray:
		return btfRef{r.b, r.b.order.Uint32(h.data)}, uint64(r.b.order.Uint32(h.data[8:]))
	}
	return nil, 0
}

// datasecVar finds variable name in the data section sec: its type and
// offset in the section; hasSec says whether the section was there at all.
func (b *btfRaw) datasecVar(sec, name string) (t btfRef, off uint64, hasSec, found bool) {
	for _, id := range b.byNameAll(sec) {
		h, _ := b.header(id)
		if h.kind != btfDatasec {
			continue
		}
		for i := range h.vlen {
			v := h.data[12*i:]
			vh, ok := b.header(b.order.Uint32(v))
			if ok && vh.kind == btfVar && b.name(vh.nameOff) == name {
				return btfRef{b, vh.sizeOrType}, uint64(b.order.Uint32(v[4:])), true, true
			}
		}
		return btfRef{}, 0, true, false
	}
	return btfRef{}, 0, false, false
}
