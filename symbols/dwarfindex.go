package symbols

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// dwarfIndex maps names to DIE offsets in .debug_info. It grows on demand:
// units [0, walked) are indexed, and a lookup the indexed prefix cannot
// answer walks on (DWARF.extendIndex). Units are walked in order and every
// map keeps the lowest DIE offset per name, so an answer found in the prefix
// is the one a complete index would give: a triage run that needs a dozen
// structs walks a third of a 160 MB .debug_info instead of all of it.
type dwarfIndex struct {
	unitIndex
	units  []unitSpan // every unit, in order
	walked int        // units[:walked] are indexed
	// headers are the parsed unit headers, read on the first walk (an index
	// loaded from the cache has only the spans).
	headers []unitHeader
	marks   []strMarks // walkTo's workers' (walkSpan)
}

// strMarks are, per type kind, the .debug_str offsets of the names one
// walker has settled: in later units a DIE naming the same string is
// passed over without reading the name or hashing it (each unit repeats
// the types of the headers it includes, so most type DIEs are such
// repeats). A walker goes through units in order, so what it settled has
// the lower DIE offset.
type strMarks struct{ bits [4][]uint64 }

func (m *strMarks) has(kind int, off uint64) bool {
	w := off >> 6
	return w < uint64(len(m.bits[kind])) && m.bits[kind][w]&(1<<(off&63)) != 0
}

func (m *strMarks) set(kind int, off uint64, strLen int) {
	if m.bits[kind] == nil {
		m.bits[kind] = make([]uint64, strLen/64+1)
	}
	if w := off >> 6; w < uint64(len(m.bits[kind])) {
		m.bits[kind][w] |= 1 << (off & 63)
	}
}

// typeKind numbers the type tags for strMarks.
func typeKind(tag uint32) int {
	switch tag {
	case tagStructureType:
		return 0
	case tagUnionType:
		return 1
	case tagEnumerationType:
		return 2
	}
	return 3
}

// unitSpan is where one unit lies in .debug_info.
type unitSpan struct{ off, end uint64 }

// globalVar is a global variable with a static address.
type globalVar struct {
	die      uint64 // the DIE holding DW_AT_location
	typeDie  uint64 // its DW_AT_type (absolute .debug_info offset), 0 if unknown
	addr     uint64 // DW_OP_addr: link-time address, or the per-CPU offset
	external bool
}

// better reports whether g should replace h as the definition of a name:
// external definitions win over file-local ones, then the first unit.
func (g globalVar) better(h globalVar) bool {
	if g.external != h.external {
		return g.external
	}
	return g.die < h.die
}

// unitIndex holds names by kind; each map keeps the lowest DIE offset per
// name so the merged result does not depend on scheduling.
type unitIndex struct {
	structs, unions, enums, plain map[string]uint64
	globals                       map[string]globalVar
}

func newUnitIndex() unitIndex {
	return unitIndex{
		structs: map[string]uint64{}, unions: map[string]uint64{}, enums: map[string]uint64{},
		plain: map[string]uint64{}, globals: map[string]globalVar{},
	}
}

func keepFirst(m map[string]uint64, name []byte, off uint64) {
	if old, ok := m[string(name)]; !ok || off < old {
		m[string(name)] = off
	}
}

// typeKinds pairs each kind map with the keyword the cache file and
// TypeOffset put before its names.
func (x *unitIndex) typeKinds() []struct {
	kw string
	m  map[string]uint64
} {
	return []struct {
		kw string
		m  map[string]uint64
	}{{"", x.plain}, {"struct ", x.structs}, {"union ", x.unions}, {"enum ", x.enums}}
}

// typeNames is the type index keyed as the cache file stores it: "struct
// x", "union x", "enum x", or a bare name for typedefs and base types.
func (x *unitIndex) typeNames() map[string]uint64 {
	out := map[string]uint64{}
	for _, k := range x.typeKinds() {
		for name, off := range k.m {
			out[k.kw+name] = off
		}
	}
	return out
}

// addTypeName files a cache-file key ("struct x", "u64") under its kind.
func (x *unitIndex) addTypeName(key string, off uint64) {
	kw, bare := structKey(key)
	m := x.plain
	switch kw {
	case "struct":
		m = x.structs
	case "union":
		m = x.unions
	case "enum":
		m = x.enums
	}
	if old, ok := m[bare]; !ok || off < old {
		m[bare] = off
	}
}

// merge folds a worker's findings into x.
func (x *unitIndex) merge(p *unitIndex) {
	dst, src := x.typeKinds(), p.typeKinds()
	for i := range dst {
		for name, off := range src[i].m {
			if old, ok := dst[i].m[name]; !ok || off < old {
				dst[i].m[name] = off
			}
		}
	}
	for name, g := range p.globals {
		if old, ok := x.globals[name]; !ok || g.better(old) {
			x.globals[name] = g
		}
	}
}

// abbrevKey identifies a parsed abbreviation table: the same bytes decode
// differently under another unit version, offset or address size.
type abbrevKey struct {
	off               uint64
	version           uint16
	offSize, addrSize uint8
}

func (x *dwarfIndex) complete() bool { return x.walked >= len(x.units) }

// newDWARFIndex lists the units of .debug_info; nothing is walked yet.
func newDWARFIndex(s *dwarfSections) (*dwarfIndex, error) {
	headers, err := readUnitHeaders(s.info)
	if err != nil {
		return nil, fmt.Errorf(".debug_info: %w", err)
	}
	x := &dwarfIndex{unitIndex: newUnitIndex(), headers: headers}
	for _, u := range headers {
		x.units = append(x.units, unitSpan{u.off, u.end})
	}
	x.dropUnwalked(s)
	return x, nil
}

// dropUnwalked lets go of the pages reading the unit headers mapped (one
// per unit, across all of .debug_info): a run that stops its walk early
// should not keep them, and the walk maps them again as it goes.
func (x *dwarfIndex) dropUnwalked(s *dwarfSections) {
	if s.walked != nil && x.walked < len(x.headers) {
		s.walked(x.headers[x.walked].off, x.headers[len(x.headers)-1].end)
	}
}

// walkTo indexes units [walked, to) in parallel and merges them in. Workers
// skip names the prefix already holds (those answers are final), so what
// each merge adds is only what is new in the span.
func (x *dwarfIndex) walkTo(s *dwarfSections, to, workers int) error {
	if to <= x.walked {
		return nil
	}
	if err := x.loadHeaders(s); err != nil {
		return err
	}
	parts, err := walkSpan(s, x.headers[x.walked:to], &x.unitIndex, workers, &x.marks, nil)
	if err != nil {
		return err
	}
	x.mergeSpan(s, parts, to)
	return nil
}

// loadHeaders reads the unit headers if the index came from the cache
// (which keeps only the spans).
func (x *dwarfIndex) loadHeaders(s *dwarfSections) error {
	if x.headers != nil {
		return nil
	}
	headers, err := readUnitHeaders(s.info)
	if err != nil {
		return fmt.Errorf(".debug_info: %w", err)
	}
	if len(headers) != len(x.units) {
		return fmt.Errorf(".debug_info: %d units, the cached index has %d", len(headers), len(x.units))
	}
	x.headers = headers
	x.dropUnwalked(s)
	return nil
}

// mergeSpan folds the parts of a walked span in; the span ends at unit to.
func (x *dwarfIndex) mergeSpan(s *dwarfSections, parts []unitIndex, to int) {
	from := x.walked
	for i := range parts {
		x.merge(&parts[i])
	}
	x.walked = to
	if s.walked != nil {
		s.walked(x.headers[from].off, x.headers[to-1].end)
	}
}

// walkSpan indexes the units of span with workers goroutines, leaving out
// what seen settles (seen is only read).
//
// marks holds what each worker settled in earlier spans (grown to workers
// entries): a caller walking its spans in order passes the same one. Once
// stop (may be nil) is closed the walk gives up between units with
// errWalkStopped.
func walkSpan(s *dwarfSections, span []unitHeader, seen *unitIndex, workers int, marks *[]strMarks, stop <-chan struct{}) ([]unitIndex, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(span)))
	for len(*marks) < workers {
		*marks = append(*marks, strMarks{})
	}
	parts := make([]unitIndex, workers)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part := newUnitIndex()
			m := &(*marks)[w]
			// Units rarely share abbreviation tables (each kernel unit has
			// its own), so remember only the last one rather than all.
			var lastKey abbrevKey
			var tab *abbrevTable
			for {
				i := int(next.Add(1) - 1)
				if i >= len(span) {
					break
				}
				select {
				case <-stop:
					errs[w] = errWalkStopped
					return
				default:
				}
				u := &span[i]
				if u.unitType != utCompile && u.unitType != utPartial {
					continue
				}
				k := abbrevKey{u.abbrevOff, u.version, u.offSize, u.addrSize}
				if tab == nil || k != lastKey {
					var err error
					if tab, err = parseAbbrevTableInto(tab, s.abbrev, u.abbrevOff, u); err != nil {
						errs[w] = fmt.Errorf("unit at %#x: %w", u.off, err)
						return
					}
					lastKey = k
				}
				if err := walkUnit(s, u, tab, &part, seen, m); err != nil {
					errs[w] = err
					return
				}
			}
			parts[w] = part
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e == errWalkStopped {
			return nil, e
		}
		if e != nil {
			return nil, fmt.Errorf(".debug_info: %w", e)
		}
	}
	return parts, nil
}

// errWalkStopped is walkSpan's answer when told to stop.
var errWalkStopped = errors.New("walk stopped")

// walkUnit indexes the top-level DIEs of one unit into out, leaving out what
// seen (the index of all earlier units, read-only during the walk) settles.
func walkUnit(s *dwarfSections, u *unitHeader, tab *abbrevTable, out, seen *unitIndex, marks *strMarks) error {
	b := buf{data: s.info[:u.end], pos: u.dieStart}
	var strOffBase, addrBase uint64
	type decl struct {
		off     uint64
		name    attrValue
		typeDie uint64
	}
	// Variable declarations, for DW_AT_specification, in DIE order; their
	// names are read only for the few a definition refers to.
	var decls []decl
	type pending struct {
		spec uint64
		g    globalVar
	}
	var specs []pending
	depth := 0
	for b.pos < u.end {
		dieOff := b.pos
		code := b.uleb()
		if b.err != nil {
			return fmt.Errorf("unit at %#x: DIE at %#x: %w", u.off, dieOff, b.err)
		}
		if code == 0 {
			depth--
			continue
		}
		ab := tab.get(code)
		if ab == nil {
			return fmt.Errorf("unit at %#x: DIE at %#x: unknown abbreviation code %d", u.off, dieOff, code)
		}
		wanted := depth == 0 || (depth == 1 && indexedTag(ab.tag))
		if !wanted {
			switch {
			case ab.children && ab.siblingAt >= 0:
				b.pos += uint64(ab.siblingAt)
				v := readAttr(&b, ab.siblingForm, 0, u)
				next, err := siblingTarget(u, v, dieOff)
				if err != nil {
					return err
				}
				b.pos = next
			case !ab.children && ab.fixedSize >= 0:
				b.skip(uint64(ab.fixedSize))
			default:
				sib := uint64(0)
				for i := range ab.ops {
					a := &ab.ops[i]
					b.skip(uint64(a.skip))
					v := readAttr(&b, a.form, a.implicit, u)
					if a.attr == atSibling {
						sib = v.u
						if ref, _ := isRef(v.form); ref {
							next, err := siblingTarget(u, v, dieOff)
							if err != nil {
								return err
							}
							sib = next
						}
					}
				}
				b.skip(uint64(ab.tail))
				if ab.children {
					if sib != 0 {
						b.pos = sib
					} else {
						depth++
					}
				}
			}
			if b.err != nil {
				return fmt.Errorf("unit at %#x: DIE at %#x: %w", u.off, dieOff, b.err)
			}
			continue
		}

		var nameV attrValue
		hasName := false
		var sibling, typeDie, spec uint64
		var loc []byte
		var declaration, external bool
		hasLoc := false
		for i := range ab.ops {
			a := &ab.ops[i]
			b.skip(uint64(a.skip))
			v := readAttr(&b, a.form, a.implicit, u)
			if b.err != nil {
				return fmt.Errorf("unit at %#x: DIE at %#x: attribute %#x form %#x: %w", u.off, dieOff, a.attr, a.form, b.err)
			}
			switch a.attr {
			case atName:
				nameV, hasName = v, true
			case atSibling:
				next, err := siblingTarget(u, v, dieOff)
				if err != nil {
					return err
				}
				sibling = next
			case atType:
				typeDie = refTarget(u, v)
			case atSpecification:
				spec = refTarget(u, v)
			case atDeclaration:
				declaration = v.u != 0
			case atExternal:
				external = v.u != 0
			case atLocation:
				if v.bytes != nil {
					loc, hasLoc = v.bytes, true
				}
			case atStrOffsetsBase:
				if depth == 0 {
					strOffBase = v.u
				}
			case atAddrBase:
				if depth == 0 {
					addrBase = v.u
				}
			}
		}
		b.skip(uint64(ab.tail))
		if b.err != nil {
			return fmt.Errorf("unit at %#x: DIE at %#x: %w", u.off, dieOff, b.err)
		}
		if depth == 1 {
			switch ab.tag {
			case tagStructureType, tagUnionType, tagEnumerationType, tagTypedef, tagBaseType:
				if !hasName || declaration {
					break
				}
				kind := typeKind(ab.tag)
				strOff, inStr := s.strOffset(nameV, u, strOffBase)
				if inStr && marks.has(kind, strOff) {
					break
				}
				name := s.attrString(nameV, u, strOffBase)
				if len(name) == 0 {
					break
				}
				if _, settled := seen.kindMap(ab.tag)[string(name)]; !settled {
					keepFirst(out.kindMap(ab.tag), name, dieOff)
				}
				if inStr {
					marks.set(kind, strOff, len(s.str))
				}
			case tagVariable:
				if declaration {
					if hasName {
						decls = append(decls, decl{dieOff, nameV, typeDie})
					}
					break
				}
				if !hasLoc {
					break
				}
				addr, ok := s.locationAddr(loc, u, addrBase)
				if !ok {
					break
				}
				g := globalVar{die: dieOff, typeDie: typeDie, addr: addr, external: external}
				var name []byte
				if hasName {
					name = s.attrString(nameV, u, strOffBase)
				}
				if len(name) == 0 && spec != 0 {
					specs = append(specs, pending{spec, g})
					break
				}
				if len(name) > 0 {
					addGlobal(out, seen, name, g)
				}
			}
		}
		if ab.children {
			if depth == 1 && sibling != 0 {
				b.pos = sibling
			} else {
				depth++
			}
		}
	}
	for _, p := range specs {
		i, ok := slices.BinarySearchFunc(decls, p.spec, func(d decl, off uint64) int { return cmp.Compare(d.off, off) })
		if !ok {
			continue // declared in another unit: rare, and that unit names it
		}
		d := decls[i]
		name := s.attrString(d.name, u, strOffBase)
		if len(name) == 0 {
			continue
		}
		if p.g.typeDie == 0 {
			p.g.typeDie = d.typeDie
		}
		p.g.external = true // a prior extern declaration
		addGlobal(out, seen, name, p.g)
	}
	return nil
}

func addGlobal(out, seen *unitIndex, name []byte, g globalVar) {
	if old, ok := seen.globals[string(name)]; ok && !g.better(old) {
		return
	}
	if old, ok := out.globals[string(name)]; !ok || g.better(old) {
		out.globals[string(name)] = g
	}
}

func indexedTag(tag uint32) bool {
	switch tag {
	case tagStructureType, tagUnionType, tagEnumerationType, tagTypedef, tagBaseType, tagVariable:
		return true
	}
	return false
}

func (x *unitIndex) kindMap(tag uint32) map[string]uint64 {
	switch tag {
	case tagStructureType:
		return x.structs
	case tagUnionType:
		return x.unions
	case tagEnumerationType:
		return x.enums
	}
	return x.plain
}

// siblingTarget turns a DW_AT_sibling value into an absolute offset and
// insists it moves forward within the unit, so a corrupt value cannot loop.
func siblingTarget(u *unitHeader, v attrValue, dieOff uint64) (uint64, error) {
	t := refTarget(u, v)
	if t <= dieOff || t > u.end {
		return 0, fmt.Errorf("unit at %#x: DIE at %#x: sibling %#x outside (%#x, %#x]", u.off, dieOff, t, dieOff, u.end)
	}
	return t, nil
}

// refTarget resolves a reference attribute to a .debug_info offset.
func refTarget(u *unitHeader, v attrValue) uint64 {
	ref, rel := isRef(v.form)
	switch {
	case !ref:
		return 0
	case rel:
		return u.off + v.u
	}
	return v.u
}

// attrString resolves a name attribute to its bytes (nil if unresolvable).
func (s *dwarfSections) attrString(v attrValue, u *unitHeader, strOffBase uint64) []byte {
	switch v.form {
	case formString:
		return v.bytes
	case formLineStrp:
		return cstrAt(s.lineStr, v.u)
	}
	if off, ok := s.strOffset(v, u, strOffBase); ok {
		return cstrAt(s.str, off)
	}
	return nil
}

// strOffset is where in .debug_str a string attribute's value lies, when
// it lies there.
func (s *dwarfSections) strOffset(v attrValue, u *unitHeader, strOffBase uint64) (uint64, bool) {
	switch v.form {
	case formStrp:
		return v.u, true
	case formStrx, formStrx1, formStrx2, formStrx3, formStrx4, formGNUStrIndex:
		at := strOffBase + v.u*uint64(u.offSize)
		if at < strOffBase || at+uint64(u.offSize) > uint64(len(s.strOffsets)) {
			return 0, false
		}
		if u.offSize == 8 {
			return binary.LittleEndian.Uint64(s.strOffsets[at:]), true
		}
		return uint64(binary.LittleEndian.Uint32(s.strOffsets[at:])), true
	}
	return 0, false
}

// locationAddr reads a static address from a location expression that is
// exactly DW_OP_addr or DW_OP_addrx (optionally GNU's pre-5 index form).
func (s *dwarfSections) locationAddr(loc []byte, u *unitHeader, addrBase uint64) (uint64, bool) {
	if len(loc) == 0 {
		return 0, false
	}
	b := buf{data: loc, pos: 1}
	switch loc[0] {
	case opAddr:
		a := b.offset(u.addrSize)
		return a, b.err == nil && b.pos == uint64(len(loc))
	case opAddrx, opGNUAddrIndex:
		i := b.uleb()
		if b.err != nil || b.pos != uint64(len(loc)) {
			return 0, false
		}
		at := addrBase + i*uint64(u.addrSize)
		if at < addrBase || at+uint64(u.addrSize) > uint64(len(s.addr)) {
			return 0, false
		}
		ab := buf{data: s.addr, pos: at}
		return ab.offset(u.addrSize), ab.err == nil
	}
	return 0, false
}

func cstrAt(sec []byte, off uint64) []byte {
	if off >= uint64(len(sec)) {
		return nil
	}
	b := buf{data: sec, pos: off}
	return b.cstr()
}
