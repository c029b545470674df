package symbols

import (
	"fmt"
	"slices"
	"sync"
)

// Types from DWARF, decoded one DIE at a time. debug/dwarf decodes a type
// with everything it reaches (a struct's members' types, their pointees'
// members …): struct module or rq pulled in thousands of types, most of a
// warm triage's type work. Here a type reads its own DIE and its direct
// children (members, subranges); the types those refer to are read when
// asked for. Values follow debug/dwarf's reading of the same attributes
// (sizes, counts, bit offsets), so layouts and names come out the same.

// DWARF tags and attributes the type reader needs beyond the walk's.
const (
	tagArrayType       = 0x01
	tagClassType       = 0x02
	tagMember          = 0x0d
	tagPointerType     = 0x0f
	tagSubroutineType  = 0x15
	tagSubrangeType    = 0x21
	tagConstType       = 0x26
	tagVolatileType    = 0x35
	tagRestrictType    = 0x37
	tagUnspecifiedType = 0x3b

	atByteSize            = 0x0b
	atBitOffset           = 0x0c
	atBitSize             = 0x0d
	atUpperBound          = 0x2f
	atCount               = 0x37
	atDataMemberLoc       = 0x38
	atEncoding            = 0x3e
	atDataBitOffset       = 0x6b
	opPlusUconst          = 0x23
	maxTypeDepth          = 64 // typedef, qualifier and pointer chains
	encAddress            = 0x01
	encBoolean            = 0x02
	encComplexFloat       = 0x03
	encFloat              = 0x04
	encSigned             = 0x05
	encSignedChar         = 0x06
	encUnsigned           = 0x07
	encUnsignedChar       = 0x08
	tagVoid               = 0 // no DIE: a missing DW_AT_type
	tagUnreadable         = ^uint32(0)
	noCount         int64 = -1 // an array without bounds (x[])
)

// dieTypes reads and keeps the types of one vmlinux's DWARF.
type dieTypes struct {
	secs  *dwarfSections
	units func() []unitSpan // the index's unit bounds

	mu    sync.Mutex
	byOff map[uint64]*dieType
	cus   map[uint64]*dieUnit
}

// dieUnit is what reading a DIE of one unit needs.
type dieUnit struct {
	h          unitHeader
	tab        *abbrevTable
	strOffBase uint64
}

// dieType is one type DIE, its attributes and direct children read.
type dieType struct {
	types    *dieTypes
	off      uint64
	tag      uint32
	name     string
	byteSize int64 // -1 when absent (a pointer: its unit's address size)
	ref      uint64
	hasRef   bool // DW_AT_type: without it, void
	enc      int64
	qual     string
	dims     []int64 // arrays: one count per subrange
	members  []dieMember
	err      error // for tagUnreadable: why
}

type dieMember struct {
	name                                           string
	byteOff, byteSize, bitOff, dataBitOff, bitSize int64
	ref                                            uint64
	hasRef                                         bool
}

var voidType = &dieType{tag: tagVoid}

var _ ctype = (*dieType)(nil)

func newDIETypes(secs *dwarfSections, units func() []unitSpan) *dieTypes {
	return &dieTypes{secs: secs, units: units, byOff: map[uint64]*dieType{}, cus: map[uint64]*dieUnit{}}
}

// get reads (once) the type whose DIE is at off.
func (l *dieTypes) get(off uint64) (*dieType, error) {
	l.mu.Lock()
	t, ok := l.byOff[off]
	l.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := l.read(off)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if prev, ok := l.byOff[off]; ok {
		t = prev // read meanwhile by another goroutine
	} else {
		l.byOff[off] = t
	}
	l.mu.Unlock()
	return t, nil
}

// target is the type a reference names: void without one, and a type that
// reads as other (KindOther, no members) when its DIE cannot be read.
func (l *dieTypes) target(ref uint64, has bool) *dieType {
	if !has {
		return voidType
	}
	t, err := l.get(ref)
	if err != nil {
		return &dieType{types: l, off: ref, tag: tagUnreadable, byteSize: -1, err: err}
	}
	return t
}

// unit finds and prepares the unit holding off.
func (l *dieTypes) unit(off uint64) (*dieUnit, error) {
	units := l.units()
	i, found := slices.BinarySearchFunc(units, off, func(u unitSpan, x uint64) int {
		switch {
		case x < u.off:
			return 1
		case x >= u.end:
			return -1
		}
		return 0
	})
	if !found {
		return nil, fmt.Errorf("DIE offset %#x is in no unit of .debug_info", off)
	}
	l.mu.Lock()
	cu := l.cus[units[i].off]
	l.mu.Unlock()
	if cu != nil {
		return cu, nil
	}
	h, err := readUnitHeader(l.secs.info, units[i].off)
	if err != nil {
		return nil, err
	}
	if h.end != units[i].end {
		return nil, fmt.Errorf("unit at %#x: ends at %#x, the index says %#x", h.off, h.end, units[i].end)
	}
	tab, err := parseAbbrevTable(l.secs.abbrev, h.abbrevOff, &h)
	if err != nil {
		return nil, fmt.Errorf("unit at %#x: %w", h.off, err)
	}
	cu = &dieUnit{h: h, tab: tab}
	// str_offsets_base, for names in DW_FORM_strx: on the unit's own DIE.
	ab, vals, _, err := cu.entry(l.secs, h.dieStart)
	if err != nil {
		return nil, err
	}
	for i, a := range ab.attrs {
		if a.attr == atStrOffsetsBase {
			cu.strOffBase = vals[i].u
		}
	}
	l.mu.Lock()
	l.cus[h.off] = cu
	l.mu.Unlock()
	return cu, nil
}

// entry reads the DIE at off: its abbreviation, attribute values, and the
// offset just past its attributes (its first child, if it has children).
func (cu *dieUnit) entry(s *dwarfSections, off uint64) (*abbrevEntry, []attrValue, uint64, error) {
	if off < cu.h.dieStart || off >= cu.h.end {
		return nil, nil, 0, fmt.Errorf("DIE offset %#x outside unit %#x..%#x", off, cu.h.off, cu.h.end)
	}
	b := buf{data: s.info[:cu.h.end], pos: off}
	code := b.uleb()
	if b.err != nil || code == 0 {
		return nil, nil, 0, fmt.Errorf("no DIE at %#x", off)
	}
	ab := cu.tab.get(code)
	if ab == nil {
		return nil, nil, 0, fmt.Errorf("DIE at %#x: unknown abbreviation code %d", off, code)
	}
	vals := make([]attrValue, len(ab.attrs))
	for i, a := range ab.attrs {
		vals[i] = readAttr(&b, a.form, a.implicit, &cu.h)
	}
	if b.err != nil {
		return nil, nil, 0, fmt.Errorf("DIE at %#x: %w", off, b.err)
	}
	return ab, vals, b.pos, nil
}

// children calls fn for each direct child of a DIE whose children start at
// pos, skipping grandchildren.
func (cu *dieUnit) children(s *dwarfSections, pos uint64, fn func(off uint64, ab *abbrevEntry, vals []attrValue) error) error {
	depth := 0
	for {
		if pos >= cu.h.end {
			return fmt.Errorf("unit at %#x: children run past its end", cu.h.off)
		}
		b := buf{data: s.info[:cu.h.end], pos: pos}
		if code := b.uleb(); b.err == nil && code == 0 {
			pos = b.pos
			if depth == 0 {
				return nil
			}
			depth--
			continue
		}
		ab, vals, next, err := cu.entry(s, pos)
		if err != nil {
			return err
		}
		if depth == 0 {
			if err := fn(pos, ab, vals); err != nil {
				return err
			}
		}
		if ab.children {
			depth++
		}
		pos = next
	}
}

// intValue reads a constant as debug/dwarf's Entry.Val gives it (int64).
func intValue(v attrValue) (int64, bool) {
	switch v.form {
	case formData1, formData2, formData4, formData8, formSdata, formUdata, formImplicitConst:
		return int64(v.u), true
	}
	return 0, false
}

// read decodes the DIE at off, with its members or subranges.
func (l *dieTypes) read(off uint64) (*dieType, error) {
	cu, err := l.unit(off)
	if err != nil {
		return nil, err
	}
	ab, vals, next, err := cu.entry(l.secs, off)
	if err != nil {
		return nil, err
	}
	t := &dieType{types: l, off: off, tag: ab.tag, byteSize: -1}
	hasSize := false
	for i, a := range ab.attrs {
		v := vals[i]
		switch a.attr {
		case atName:
			t.name = string(l.secs.attrString(v, &cu.h, cu.strOffBase))
		case atByteSize:
			t.byteSize, hasSize = intValue(v)
			if !hasSize {
				t.byteSize = -1
			}
		case atType:
			if ref, _ := isRef(v.form); ref {
				t.ref, t.hasRef = refTarget(&cu.h, v), true
			}
		case atEncoding:
			t.enc, _ = intValue(v)
		}
	}
	if t.tag == tagPointerType && !hasSize {
		t.byteSize = int64(cu.h.addrSize)
	}
	switch t.tag {
	case tagConstType:
		t.qual = "const"
	case tagVolatileType:
		t.qual = "volatile"
	case tagRestrictType:
		t.qual = "restrict"
	case tagBaseType:
		if t.enc == encComplexFloat && t.name == "complex" {
			switch t.byteSize {
			case 8:
				t.name = "complex float"
			case 16:
				t.name = "complex double"
			}
		}
	}
	if !ab.children {
		if t.tag == tagArrayType {
			t.dims = []int64{noCount}
		}
		return t, nil
	}
	switch t.tag {
	case tagArrayType:
		err = cu.children(l.secs, next, func(_ uint64, ab *abbrevEntry, vals []attrValue) error {
			if ab.tag != tagSubrangeType {
				return nil
			}
			var count, bound int64
			hasCount, hasBound := false, false
			for i, a := range ab.attrs {
				switch a.attr {
				case atCount:
					count, hasCount = intValue(vals[i])
				case atUpperBound:
					bound, hasBound = intValue(vals[i])
				}
			}
			switch {
			case hasCount:
			case hasBound:
				count = bound + 1
			case len(t.dims) == 0:
				count = noCount
			}
			t.dims = append(t.dims, count)
			return nil
		})
		if len(t.dims) == 0 {
			t.dims = []int64{noCount}
		}
	case tagStructureType, tagUnionType, tagClassType:
		err = cu.children(l.secs, next, func(off uint64, ab *abbrevEntry, vals []attrValue) error {
			if ab.tag != tagMember {
				return nil
			}
			var m dieMember
			for i, a := range ab.attrs {
				v := vals[i]
				switch a.attr {
				case atName:
					m.name = string(l.secs.attrString(v, &cu.h, cu.strOffBase))
				case atType:
					if ref, _ := isRef(v.form); ref {
						m.ref, m.hasRef = refTarget(&cu.h, v), true
					}
				case atDataMemberLoc:
					if n, ok := intValue(v); ok {
						m.byteOff = n
					} else if v.bytes != nil {
						b := buf{data: v.bytes}
						if b.u8() != opPlusUconst {
							return fmt.Errorf("member at %#x: location is not DW_OP_plus_uconst", off)
						}
						m.byteOff = int64(b.uleb())
						if b.err != nil {
							return fmt.Errorf("member at %#x: location: %w", off, b.err)
						}
					}
				case atByteSize:
					m.byteSize, _ = intValue(v)
				case atBitOffset:
					m.bitOff, _ = intValue(v)
				case atDataBitOffset:
					m.dataBitOff, _ = intValue(v)
				case atBitSize:
					m.bitSize, _ = intValue(v)
				}
			}
			t.members = append(t.members, m)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("type at %#x: %w", off, err)
	}
	return t, nil
}

// Size is debug/dwarf's Type.Size: typedefs and qualifiers have their
// target's, arrays count × element, others DW_AT_byte_size or -1.
func (t *dieType) sizeAt(depth int) int64 {
	if depth > maxTypeDepth {
		return -1
	}
	switch t.tag {
	case tagVoid:
		return 0
	case tagTypedef, tagConstType, tagVolatileType, tagRestrictType:
		return t.types.target(t.ref, t.hasRef).sizeAt(depth + 1)
	case tagArrayType:
		if t.dims[0] == noCount {
			return 0
		}
		e, _ := t.elemType()
		return t.dims[0] * e.sizeAt(depth+1)
	}
	return t.byteSize
}

// elemType is an array's element (an array itself for all but the last
// dimension, as debug/dwarf nests them) and its count.
func (t *dieType) elemType() (*dieType, int64) {
	if len(t.dims) > 1 {
		inner := *t
		inner.dims = t.dims[1:]
		return &inner, t.dims[0]
	}
	return t.types.target(t.ref, t.hasRef), t.dims[0]
}

func (t *dieType) under() *dieType {
	u := t
	for range maxTypeDepth {
		switch u.tag {
		case tagTypedef, tagConstType, tagVolatileType, tagRestrictType:
			u = u.types.target(u.ref, u.hasRef)
		default:
			return u
		}
	}
	return u
}

func (t *dieType) cname() string { return t.cnameAt(0) }

func (t *dieType) cnameAt(depth int) string {
	if depth > maxTypeDepth {
		return "?"
	}
	switch t.tag {
	case tagVoid:
		return "void"
	case tagStructureType, tagClassType:
		return compositeName("struct", t.name)
	case tagUnionType:
		return compositeName("union", t.name)
	case tagEnumerationType:
		return compositeName("enum", t.name)
	case tagPointerType:
		return pointerName(t.types.target(t.ref, t.hasRef).cnameAt(depth + 1))
	case tagArrayType:
		e, n := t.elemType()
		return arrayName(e.cnameAt(depth+1), uint64(max(n, 0)))
	case tagConstType, tagVolatileType:
		return t.qual + " " + t.types.target(t.ref, t.hasRef).cnameAt(depth+1)
	case tagRestrictType:
		return t.types.target(t.ref, t.hasRef).cnameAt(depth + 1)
	case tagSubroutineType:
		return "func"
	}
	return t.name
}

func (t *dieType) kind() Kind {
	u := t.under()
	switch u.tag {
	case tagVoid:
		return KindVoid
	case tagPointerType:
		return KindPointer
	case tagArrayType:
		return KindArray
	case tagStructureType, tagClassType:
		return KindStruct
	case tagUnionType:
		return KindUnion
	case tagEnumerationType:
		return KindEnum
	case tagSubroutineType:
		return KindFunc
	case tagBaseType:
		switch u.enc {
		case encFloat, encComplexFloat:
			return KindFloat
		case encAddress, encBoolean, encSigned, encSignedChar, encUnsigned, encUnsignedChar:
			return KindInt
		}
	}
	return KindOther
}

func (t *dieType) size() uint64 {
	switch t.under().tag {
	case tagVoid, tagSubroutineType:
		return 0
	}
	if n := t.sizeAt(0); n > 0 {
		return uint64(n)
	}
	return 0
}

func (t *dieType) fields() []cfield {
	u := t.under()
	switch u.tag {
	case tagStructureType, tagUnionType, tagClassType:
	default:
		return nil
	}
	out := make([]cfield, len(u.members))
	for i, f := range u.members {
		bit := uint64(f.byteOff) * 8
		switch {
		case f.bitSize == 0:
		case f.byteSize != 0:
			// DWARF ≤ 4: DW_AT_bit_offset counts from the most significant
			// bit of a byteSize storage unit; little-endian flips it.
			bit += uint64(f.byteSize*8 - f.bitOff - f.bitSize)
		default:
			bit += uint64(f.dataBitOff)
		}
		out[i] = cfield{name: f.name, bitOff: bit, bitSize: uint64(f.bitSize), typ: u.types.target(f.ref, f.hasRef)}
	}
	return out
}

func (t *dieType) elem() (ctype, uint64) {
	switch u := t.under(); u.tag {
	case tagPointerType:
		return u.types.target(u.ref, u.hasRef), 0
	case tagArrayType:
		e, n := u.elemType()
		return e, uint64(max(n, 0))
	}
	return nil, 0
}
