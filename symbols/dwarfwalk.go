package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A hand-rolled DIE walk over .debug_info that reads only what the index
// needs: the names of top-level types and variables, their DIE offsets, and
// global addresses. It skips subtrees through DW_AT_sibling and skips whole
// DIEs whose attributes have fixed sizes, which makes it an order of magnitude
// faster than debug/dwarf's Reader on a kernel. DWARF 2-5, 32- and 64-bit.

// DWARF constants used by the walk (DWARF 5, section 7).
const (
	tagEnumerationType = 0x04
	tagStructureType   = 0x13
	tagTypedef         = 0x16
	tagUnionType       = 0x17
	tagBaseType        = 0x24
	tagVariable        = 0x34

	atSibling        = 0x01
	atLocation       = 0x02
	atName           = 0x03
	atExternal       = 0x3f
	atDeclaration    = 0x3c
	atSpecification  = 0x47
	atType           = 0x49
	atStrOffsetsBase = 0x72
	atAddrBase       = 0x73

	opAddr         = 0x03
	opAddrx        = 0xa1
	opGNUAddrIndex = 0xfb
)

// DWARF forms (DWARF 5, 7.5.6) and the GNU extensions seen in the wild.
const (
	formAddr          = 0x01
	formBlock2        = 0x03
	formBlock4        = 0x04
	formData2         = 0x05
	formData4         = 0x06
	formData8         = 0x07
	formString        = 0x08
	formBlock         = 0x09
	formBlock1        = 0x0a
	formData1         = 0x0b
	formFlag          = 0x0c
	formSdata         = 0x0d
	formStrp          = 0x0e
	formUdata         = 0x0f
	formRefAddr       = 0x10
	formRef1          = 0x11
	formRef2          = 0x12
	formRef4          = 0x13
	formRef8          = 0x14
	formRefUdata      = 0x15
	formIndirect      = 0x16
	formSecOffset     = 0x17
	formExprloc       = 0x18
	formFlagPresent   = 0x19
	formStrx          = 0x1a
	formAddrx         = 0x1b
	formRefSup4       = 0x1c
	formStrpSup       = 0x1d
	formData16        = 0x1e
	formLineStrp      = 0x1f
	formRefSig8       = 0x20
	formImplicitConst = 0x21
	formLoclistx      = 0x22
	formRnglistx      = 0x23
	formRefSup8       = 0x24
	formStrx1         = 0x25
	formStrx2         = 0x26
	formStrx3         = 0x27
	formStrx4         = 0x28
	formAddrx1        = 0x29
	formAddrx2        = 0x2a
	formAddrx3        = 0x2b
	formAddrx4        = 0x2c
	formGNUAddrIndex  = 0x1f01
	formGNUStrIndex   = 0x1f02
	formGNURefAlt     = 0x1f20
	formGNUStrpAlt    = 0x1f21
)

// dwarfSections are the raw section bytes the walk reads.
type dwarfSections struct {
	info, abbrev, str, lineStr, strOffsets, addr []byte
	// For source lines (lines.go), mapped like the rest, read only by
	// SourceLine.
	line, aranges, rnglists []byte
	// walked, if set, is told each .debug_info range the walk is done with.
	walked func(off, end uint64)
}

// unitHeader locates one unit in .debug_info.
type unitHeader struct {
	off       uint64 // of the unit header
	end       uint64 // one past the unit
	dieStart  uint64 // first DIE
	version   uint16
	unitType  uint8
	offSize   uint8 // 4 or 8
	addrSize  uint8
	abbrevOff uint64
}

// Unit types (DWARF 5).
const (
	utCompile      = 0x01
	utType         = 0x02
	utPartial      = 0x03
	utSkeleton     = 0x04
	utSplitCompile = 0x05
	utSplitType    = 0x06
)

var errTruncated = errors.New("truncated")

// readUnitHeaders lists the units of .debug_info.
func readUnitHeaders(info []byte) ([]unitHeader, error) {
	var units []unitHeader
	for off := uint64(0); off < uint64(len(info)); {
		u, err := readUnitHeader(info, off)
		if err != nil {
			return nil, err
		}
		units = append(units, u)
		off = u.end
	}
	return units, nil
}

// readUnitHeader reads the header of the unit at off.
func readUnitHeader(info []byte, off uint64) (unitHeader, error) {
	b := buf{data: info, pos: off}
	u := unitHeader{off: off, offSize: 4}
	length := uint64(b.u32())
	if length == 0xffffffff {
		length = b.u64()
		u.offSize = 8
	} else if length >= 0xfffffff0 {
		return u, fmt.Errorf("unit at %#x: reserved length %#x", off, length)
	}
	if b.err != nil || length > uint64(len(info))-b.pos {
		return u, fmt.Errorf("unit at %#x: length %#x runs past .debug_info (%#x bytes)", off, length, len(info))
	}
	u.end = b.pos + length
	u.version = b.u16()
	switch {
	case u.version >= 2 && u.version <= 4:
		u.unitType = utCompile
		u.abbrevOff = b.offset(u.offSize)
		u.addrSize = b.u8()
	case u.version == 5:
		u.unitType = b.u8()
		u.addrSize = b.u8()
		u.abbrevOff = b.offset(u.offSize)
		switch u.unitType {
		case utSkeleton, utSplitCompile:
			b.skip(8) // dwo_id
		case utType, utSplitType:
			b.skip(8 + uint64(u.offSize)) // signature, type offset
		}
	default:
		return u, fmt.Errorf("unit at %#x: unsupported DWARF version %d", off, u.version)
	}
	if b.err != nil || b.pos > u.end {
		return u, fmt.Errorf("unit at %#x: truncated header", off)
	}
	u.dieStart = b.pos
	return u, nil
}

// abbrevEntry is one abbreviation, with what the walk precomputes to skip
// DIEs quickly.
type abbrevEntry struct {
	tag      uint32
	children bool
	attrs    []abbrevAttr
	// fixedSize is the byte size of all attribute values when every form
	// has a fixed size, else -1.
	fixedSize int
	// siblingAt is the byte offset of a DW_AT_sibling value within the DIE
	// when every attribute before it is fixed-size, else -1.
	siblingAt   int
	siblingForm uint32
	// ops are the attributes the index walk reads, each after the fixed
	// size of the attributes before it that it ignores, and tail the fixed
	// size of those after the last: most of a DIE's attributes (decl_file,
	// decl_line, byte_size...) are passed over in one step, not decoded.
	ops  []walkOp
	tail uint32
}

// walkOp is one attribute the index walk reads: one it uses (attr is not
// 0) or one of varying size it must decode to pass over.
type walkOp struct {
	skip       uint32
	attr, form uint32
	implicit   int64
}

// walkAttr tells whether the index walk uses an attribute's value.
func walkAttr(a uint32) bool {
	switch a {
	case atName, atSibling, atType, atSpecification, atDeclaration, atExternal, atLocation, atStrOffsetsBase, atAddrBase:
		return true
	}
	return false
}

type abbrevAttr struct {
	attr, form uint32
	implicit   int64
}

// abbrevTable maps codes to entries; codes are usually dense from 1.
type abbrevTable struct {
	dense  []*abbrevEntry
	sparse map[uint64]*abbrevEntry
	// The slabs, kept so the next table parsed into this one reuses them.
	entries []abbrevEntry
	attrs   []abbrevAttr
	ops     []walkOp
}

func (t *abbrevTable) get(code uint64) *abbrevEntry {
	if code < uint64(len(t.dense)) {
		return t.dense[code]
	}
	return t.sparse[code]
}

// parseAbbrevTable reads the table at off; sizes of forms depend on the
// unit's offset and address sizes. Entries and their attributes live in two
// slabs, so a kernel unit's table costs a handful of allocations, not
// hundreds.
func parseAbbrevTable(data []byte, off uint64, u *unitHeader) (*abbrevTable, error) {
	return parseAbbrevTableInto(nil, data, off, u)
}

// parseAbbrevTableInto is parseAbbrevTable reusing t's memory (t may be
// nil): the index walk parses one table per unit, and allocating each
// afresh cost more than parsing it. Entries of t's previous table must no
// longer be in use.
func parseAbbrevTableInto(t *abbrevTable, data []byte, off uint64, u *unitHeader) (*abbrevTable, error) {
	// First pass: count, so the slabs are allocated once at their size.
	nEntries, nAttrs, maxCode := 0, 0, uint64(0)
	b := buf{data: data, pos: off}
	for {
		code := b.uleb()
		if b.err != nil {
			return nil, fmt.Errorf("abbrev table at %#x: %w", off, b.err)
		}
		if code == 0 {
			break
		}
		nEntries++
		maxCode = max(maxCode, code)
		b.uleb()
		b.u8()
		for n := 0; ; n++ {
			a, f := b.uleb(), b.uleb()
			if b.err != nil {
				return nil, fmt.Errorf("abbrev %d at %#x: %w", code, off, b.err)
			}
			if a == 0 && f == 0 {
				break
			}
			if f == formImplicitConst {
				b.sleb()
			}
			if n > 1<<12 {
				return nil, fmt.Errorf("abbrev %d at %#x: too many attributes", code, off)
			}
			nAttrs++
		}
	}
	if t == nil {
		t = &abbrevTable{}
	}
	t.sparse = nil
	if maxCode < 1<<14 {
		t.dense = reuse(t.dense, int(maxCode)+1)
		clear(t.dense)
	} else {
		t.dense, t.sparse = t.dense[:0], make(map[uint64]*abbrevEntry, nEntries)
	}
	t.entries = reuse(t.entries, nEntries)
	t.attrs, t.ops = reuse(t.attrs, nAttrs)[:0], reuse(t.ops, nAttrs)[:0]
	entries, attrs, ops := t.entries, t.attrs, t.ops
	b = buf{data: data, pos: off}
	for i := range entries {
		code := b.uleb()
		e := &entries[i]
		*e = abbrevEntry{tag: uint32(b.uleb()), children: b.u8() != 0, siblingAt: -1}
		fixed := 0
		first, firstOp := len(attrs), len(ops)
		var skip uint32 // fixed size of ignored attributes since the last op
		for {
			a, f := b.uleb(), b.uleb()
			if a == 0 && f == 0 {
				break
			}
			at := abbrevAttr{attr: uint32(a), form: uint32(f)}
			if f == formImplicitConst {
				at.implicit = b.sleb()
			}
			if a == atSibling && fixed >= 0 {
				e.siblingAt, e.siblingForm = fixed, uint32(f)
			}
			n := formSize(uint32(f), u)
			if fixed >= 0 {
				if n >= 0 {
					fixed += n
				} else {
					fixed = -1
				}
			}
			attrs = append(attrs, at)
			switch {
			case walkAttr(at.attr):
				ops = append(ops, walkOp{skip: skip, attr: at.attr, form: at.form, implicit: at.implicit})
				skip = 0
			case n >= 0:
				skip += uint32(n)
			default:
				ops = append(ops, walkOp{skip: skip, form: at.form, implicit: at.implicit})
				skip = 0
			}
		}
		e.fixedSize = fixed
		e.attrs = attrs[first:len(attrs):len(attrs)]
		e.ops, e.tail = ops[firstOp:len(ops):len(ops)], skip
		if t.sparse == nil {
			t.dense[code] = e
		} else {
			t.sparse[code] = e
		}
	}
	return t, nil
}

// reuse is s with length n, reallocated only when too short.
func reuse[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// formSize is the fixed size of a form's value, or -1 when it varies.
func formSize(form uint32, u *unitHeader) int {
	switch form {
	case formFlagPresent, formImplicitConst:
		return 0
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		return 1
	case formData2, formRef2, formStrx2, formAddrx2:
		return 2
	case formStrx3, formAddrx3:
		return 3
	case formData4, formRef4, formRefSup4, formStrx4, formAddrx4:
		return 4
	case formData8, formRef8, formRefSig8, formRefSup8:
		return 8
	case formData16:
		return 16
	case formAddr:
		return int(u.addrSize)
	case formStrp, formSecOffset, formLineStrp, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		return int(u.offSize)
	case formRefAddr:
		if u.version <= 2 {
			return int(u.addrSize)
		}
		return int(u.offSize)
	}
	return -1
}

// attrValue is a decoded attribute: an integer (constants, references,
// offsets, flags), or bytes (strings, blocks, expressions), plus the
// string-table offset for string forms resolved later.
type attrValue struct {
	u     uint64
	bytes []byte
	form  uint32
}

// readAttr reads one attribute value at b.
func readAttr(b *buf, form uint32, implicit int64, u *unitHeader) attrValue {
	v := attrValue{form: form}
	for depth := 0; form == formIndirect; depth++ {
		form = uint32(b.uleb())
		v.form = form
		if depth > 4 || b.err != nil {
			b.fail()
			return v
		}
	}
	switch form {
	case formFlagPresent:
		v.u = 1
	case formImplicitConst:
		v.u = uint64(implicit)
	case formData1, formRef1, formFlag, formStrx1, formAddrx1:
		v.u = uint64(b.u8())
	case formData2, formRef2, formStrx2, formAddrx2:
		v.u = uint64(b.u16())
	case formStrx3, formAddrx3:
		p := b.bytes(3)
		if p != nil {
			v.u = uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16
		}
	case formData4, formRef4, formRefSup4, formStrx4, formAddrx4:
		v.u = uint64(b.u32())
	case formData8, formRef8, formRefSig8, formRefSup8:
		v.u = b.u64()
	case formData16:
		v.bytes = b.bytes(16)
	case formAddr:
		v.u = b.offset(u.addrSize)
	case formStrp, formSecOffset, formLineStrp, formStrpSup, formGNURefAlt, formGNUStrpAlt:
		v.u = b.offset(u.offSize)
	case formRefAddr:
		if u.version <= 2 {
			v.u = b.offset(u.addrSize)
		} else {
			v.u = b.offset(u.offSize)
		}
	case formSdata:
		v.u = uint64(b.sleb())
	case formUdata, formRefUdata, formStrx, formAddrx, formLoclistx, formRnglistx, formGNUAddrIndex, formGNUStrIndex:
		v.u = b.uleb()
	case formString:
		v.bytes = b.cstr()
	case formBlock1:
		v.bytes = b.bytes(uint64(b.u8()))
	case formBlock2:
		v.bytes = b.bytes(uint64(b.u16()))
	case formBlock4:
		v.bytes = b.bytes(uint64(b.u32()))
	case formBlock, formExprloc:
		v.bytes = b.bytes(b.uleb())
	default:
		b.fail()
	}
	return v
}

// isRef reports whether a form is a reference, and whether it is relative
// to the unit (as opposed to .debug_info as a whole).
func isRef(form uint32) (ref, unitRelative bool) {
	switch form {
	case formRef1, formRef2, formRef4, formRef8, formRefUdata:
		return true, true
	case formRefAddr:
		return true, false
	}
	return false, false
}

// buf is a bounds-checked little-endian cursor; after the first overrun
// every read returns zero and err stays set.
type buf struct {
	data []byte
	pos  uint64
	err  error
}

func (b *buf) fail() {
	if b.err == nil {
		b.err = errTruncated
	}
	b.pos = uint64(len(b.data))
}

func (b *buf) bytes(n uint64) []byte {
	if b.err != nil || n > uint64(len(b.data))-b.pos || b.pos > uint64(len(b.data)) {
		b.fail()
		return nil
	}
	p := b.data[b.pos : b.pos+n]
	b.pos += n
	return p
}

func (b *buf) skip(n uint64) { b.bytes(n) }

func (b *buf) u8() uint8 {
	if b.pos >= uint64(len(b.data)) {
		b.fail()
		return 0
	}
	v := b.data[b.pos]
	b.pos++
	return v
}

func (b *buf) u16() uint16 {
	if p := b.bytes(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (b *buf) u32() uint32 {
	if p := b.bytes(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (b *buf) u64() uint64 {
	if p := b.bytes(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (b *buf) offset(size uint8) uint64 {
	switch size {
	case 1:
		return uint64(b.u8())
	case 2:
		return uint64(b.u16())
	case 4:
		return uint64(b.u32())
	case 8:
		return b.u64()
	}
	b.fail()
	return 0
}

func (b *buf) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if b.pos >= uint64(len(b.data)) {
			b.fail()
			return 0
		}
		c := b.data[b.pos]
		b.pos++
		if shift < 64 {
			v |= uint64(c&0x7f) << shift
		}
		if c&0x80 == 0 {
			return v
		}
	}
}

func (b *buf) sleb() int64 {
	var v int64
	var shift uint
	for {
		if b.pos >= uint64(len(b.data)) {
			b.fail()
			return 0
		}
		c := b.data[b.pos]
		b.pos++
		if shift < 64 {
			v |= int64(c&0x7f) << shift
		}
		shift += 7
		if c&0x80 == 0 {
			if shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}

func (b *buf) cstr() []byte {
	if b.pos >= uint64(len(b.data)) {
		b.fail()
		return nil
	}
	rest := b.data[b.pos:]
	for i, c := range rest {
		if c == 0 {
			b.pos += uint64(i) + 1
			return rest[:i]
		}
	}
	b.fail()
	return nil
}
