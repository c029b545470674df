package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// The kallsyms tables a kernel ≥ 6.0 exports in VMCOREINFO (SYMBOL(name)),
// plus either kallsyms_offsets and kallsyms_relative_base
// (CONFIG_KALLSYMS_BASE_RELATIVE) or kallsyms_addresses.
var kallsymsVMCOREINFO = []string{
	"kallsyms_names", "kallsyms_num_syms", "kallsyms_token_table", "kallsyms_token_index",
}

// Bounds that keep a damaged dump from asking for gigabytes.
const (
	maxKallsyms       = 4 << 20  // symbols
	maxKallsymsNames  = 64 << 20 // bytes of compressed names
	kallsymsTokenSpan = 64 << 10 // bytes of token table
)

// ErrNoKallsyms means the dump's VMCOREINFO does not describe kallsyms
// (kernels before 6.0, or a capture that dropped the entries).
var ErrNoKallsyms = errors.New("VMCOREINFO has no kallsyms entries (kernel < 6.0?)")

// kallsymsTables is the kernel's compressed symbol table as raw bytes.
// With CONFIG_KALLSYMS_BASE_RELATIVE, offsets[i] is an s32; with
// CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP) a non-negative value is an
// absolute address (per-CPU symbols) and a negative one means
// relative_base - 1 - offset; without it, relative_base + (u32)offset.
type kallsymsTables struct {
	numSyms      int
	names        []byte      // length-prefixed token strings
	tokenTable   []byte      // 256 NUL-terminated tokens, concatenated
	tokenIndex   [256]uint16 // offset of each token in tokenTable
	offsets      []byte      // numSyms little-endian s32
	relativeBase uint64
	haveBase     bool   // false: derive relativeBase from _stext
	addresses    []byte // numSyms little-endian u64, without BASE_RELATIVE
	// namesCut: names were read only up to a page the dump could not
	// serve (namesErr); symbols past it are not decoded.
	namesCut bool
	namesErr error
	// lost are the [start, end) spans of names the dump could not serve
	// (read as zeros). names then runs up to the token table, so it holds
	// kallsyms_markers too, from which decoding resumes after a loss.
	lost [][2]int
}

// lostSymbolName stands for every symbol whose name lay on a lost page of
// kallsyms_names, so an address there is not given the name of the last
// symbol decoded before it.
const lostSymbolName = "(name lost: kallsyms page unreadable)"

// decodeKallsyms expands every name and computes every address. A name's
// first expanded character is its nm type letter.
func decodeKallsyms(k *kallsymsTables, absolutePercpu bool) ([]Sym, error) {
	syms, err := decodeKallsymsNames(k)
	if err != nil {
		return nil, err
	}
	if k.addresses != nil {
		if len(k.addresses) < 8*len(syms) {
			return nil, fmt.Errorf("kallsyms: addresses table has %d bytes for %d symbols", len(k.addresses), len(syms))
		}
		for i := range syms {
			syms[i].Addr = binary.LittleEndian.Uint64(k.addresses[8*i:])
		}
		return syms, nil
	}
	if len(k.offsets) < 4*len(syms) {
		return nil, fmt.Errorf("kallsyms: offsets table has %d bytes for %d symbols", len(k.offsets), len(syms))
	}
	for i := range syms {
		syms[i].Addr = kallsymsAddr(k.offset(i), k.relativeBase, absolutePercpu)
	}
	return syms, nil
}

func (k *kallsymsTables) offset(i int) int32 {
	return int32(binary.LittleEndian.Uint32(k.offsets[4*i:]))
}

// kallsymsAddr is kernel/kallsyms.c's kallsyms_sym_address for
// CONFIG_KALLSYMS_BASE_RELATIVE.
func kallsymsAddr(off int32, base uint64, absolutePercpu bool) uint64 {
	switch {
	case !absolutePercpu:
		return base + uint64(uint32(off))
	case off >= 0:
		return uint64(off)
	}
	return base - 1 - uint64(int64(off))
}

// baseFrom inverts kallsymsAddr: the relative base that puts the symbol
// with offset off at addr.
func baseFrom(off int32, addr uint64, absolutePercpu bool) (uint64, bool) {
	switch {
	case !absolutePercpu:
		return addr - uint64(uint32(off)), true
	case off >= 0:
		return 0, false // an absolute entry says nothing about the base
	}
	return addr + 1 + uint64(int64(off)), true
}

// decodeKallsymsNames expands the names (and nm type letters) only.
func decodeKallsymsNames(k *kallsymsTables) ([]Sym, error) {
	if k.numSyms < 0 || k.numSyms > maxKallsyms {
		return nil, fmt.Errorf("kallsyms: implausible symbol count %d", k.numSyms)
	}
	var tokens [256]string
	for i, off := range k.tokenIndex {
		if int(off) >= len(k.tokenTable) {
			return nil, fmt.Errorf("kallsyms: token %d at offset %d beyond token table (%d bytes)", i, off, len(k.tokenTable))
		}
		tokens[i] = cString(k.tokenTable[off:])
	}
	// All names go into one buffer that becomes one string, which each
	// Sym slices: one allocation instead of one per symbol (150k of them).
	// A symbol whose name lay on a lost page has end -1.
	ends := make([]int32, 0, k.numSyms)
	buf := make([]byte, 0, 2*len(k.names))
	var every256 []int // names offset of symbols 0, 256, 512... as decoded
	var markers []uint32
	pos := 0
	// skip marks symbols from i on as lost up to the first marker past
	// names offset from, and returns where decoding resumes (i == numSyms:
	// nowhere).
	skip := func(i, from int) (int, int) {
		if markers == nil {
			markers = k.markers(every256)
		}
		next, at := k.numSyms, 0
		for m, off := range markers {
			if int(off) >= from && 256*m > i {
				next, at = 256*m, int(off)
				break
			}
		}
		for ; i < next; i++ {
			ends = append(ends, -1)
		}
		return next, at
	}
	for i := 0; i < k.numSyms; {
		if i%256 == 0 && len(every256) == i/256 {
			every256 = append(every256, pos)
		}
		if k.namesCut && pos+2 > len(k.names) {
			i, pos = skip(i, len(k.names)) // the next name starts past what was read
			continue
		}
		if pos >= len(k.names) {
			return nil, fmt.Errorf("kallsyms: names end after %d of %d symbols", i, k.numSyms)
		}
		if end, hit := k.lostIn(pos, pos+2); hit {
			i, pos = skip(i, end)
			continue
		}
		n := int(k.names[pos])
		length := 1
		if n&0x80 != 0 { // "big" symbol (6.1+): a second length byte
			if pos+1 >= len(k.names) {
				return nil, fmt.Errorf("kallsyms: symbol %d: truncated length", i)
			}
			n = n&0x7f | int(k.names[pos+1])<<7
			length = 2
		}
		if pos+length+n > len(k.names) {
			if k.namesCut {
				i, pos = skip(i, len(k.names))
				continue
			}
			return nil, fmt.Errorf("kallsyms: symbol %d at names+%d: length %d runs past the table", i, pos, n)
		}
		if end, hit := k.lostIn(pos, pos+length+n); hit {
			i, pos = skip(i, end)
			continue
		}
		pos += length
		start := len(buf)
		for _, b := range k.names[pos : pos+n] {
			buf = append(buf, tokens[b]...)
		}
		pos += n
		if len(buf)-start < 2 {
			return nil, fmt.Errorf("kallsyms: symbol %d expands to %q, want type letter and name", i, buf[start:])
		}
		if len(buf) > math.MaxInt32 {
			return nil, fmt.Errorf("kallsyms: names expand past 2 GiB")
		}
		ends = append(ends, int32(len(buf)))
		i++
	}
	all := string(buf)
	syms := make([]Sym, len(ends))
	start := 0
	for i, end := range ends {
		if end < 0 {
			syms[i] = Sym{Name: lostSymbolName, Type: '?'}
			continue
		}
		syms[i] = Sym{Name: all[start+1 : end], Type: all[start]}
		start = int(end)
	}
	return syms, nil
}

// lostIn tells whether names[from:to] touches a lost span, and where that
// span ends.
func (k *kallsymsTables) lostIn(from, to int) (int, bool) {
	for _, l := range k.lost {
		if from < l[1] && to > l[0] {
			return l[1], true
		}
	}
	return 0, false
}

// markers finds kallsyms_markers (the names offset of every 256th symbol)
// in the bytes between the names and the token table. scripts/kallsyms
// writes it 8-aligned right after the names, as u32 or (older kernels)
// unsigned long, followed by the token table or, from 6.2 and in some
// 6.1 stable kernels, by kallsyms_seqs_of_names (3 bytes a symbol). It is
// trusted only where it agrees with the offsets decoded before the first
// loss (at least two); otherwise nothing resumes.
func (k *kallsymsTables) markers(decoded []int) []uint32 {
	count := (k.numSyms + 255) / 256
	if len(decoded) < 2 {
		return []uint32{}
	}
	align8 := func(n int) int { return (n + 7) &^ 7 }
	for _, end := range []int{len(k.names), len(k.names) - align8(3*k.numSyms)} {
		for _, w := range []int{4, 8} {
			start := end - align8(count*w)
			if start < decoded[len(decoded)-1] || end > len(k.names) {
				continue
			}
			if m, ok := k.readMarkers(start, w, count, decoded); ok {
				return m
			}
		}
	}
	return []uint32{}
}

// readMarkers reads count markers of width w at names[start:] and checks
// them: increasing, inside the names, equal to what was decoded.
func (k *kallsymsTables) readMarkers(start, w, count int, decoded []int) ([]uint32, bool) {
	if _, hit := k.lostIn(start, start+count*w); hit {
		return nil, false
	}
	m := make([]uint32, count)
	for i := range m {
		v := uint64(binary.LittleEndian.Uint32(k.names[start+i*w:]))
		if w == 8 {
			v = binary.LittleEndian.Uint64(k.names[start+i*w:])
		}
		if v >= uint64(start) || (i > 0 && uint32(v) <= m[i-1]) {
			return nil, false
		}
		m[i] = uint32(v)
	}
	for i, off := range decoded {
		if int(m[i]) != off {
			return nil, false
		}
	}
	return m, true
}

func countLost(syms []Sym) int {
	n := 0
	for _, s := range syms {
		if s.Name == lostSymbolName {
			n++
		}
	}
	return n
}

// decodedKallsyms are kallsyms decoded but not yet indexed: a Table takes
// a while to build, and the BTF can be read meanwhile (FromDump).
type decodedKallsyms struct {
	syms      []Sym
	damage    string
	stext     uint64
	haveStext bool
}

// addrs finds symbols by a linear scan, before the table exists.
func (ds *decodedKallsyms) addrs(names ...string) map[string]uint64 {
	found := make(map[string]uint64, len(names))
	for i := range ds.syms {
		for _, n := range names {
			if _, dup := found[n]; !dup && ds.syms[i].Name == n {
				found[n] = ds.syms[i].Addr
			}
		}
	}
	return found
}

// table indexes the symbols and checks them against VMCOREINFO's _stext.
func (ds *decodedKallsyms) table() (*Table, error) {
	t := newTable(ds.syms, 0, aliasCompare) // syms are ours: no copy
	t.Damage = ds.damage
	if ds.haveStext {
		if got, ok := t.Lookup("_stext"); !ok || got != ds.stext {
			return nil, fmt.Errorf("kallsyms: decoded _stext = %#x, VMCOREINFO says %#x: tables misread", got, ds.stext)
		}
	}
	return t, nil
}

func decodeKallsymsFromDump(vmcoreSymbols map[string]uint64, mem Memory) (*decodedKallsyms, error) {
	k, err := readKallsymsTables(vmcoreSymbols, mem)
	if err != nil {
		return nil, err
	}
	// x86_64 SMP kernels build with --absolute-percpu: text symbols then
	// have negative offsets. Decide from the data, and confirm with _stext.
	neg := 0
	for i := 0; i < k.numSyms && k.addresses == nil; i++ {
		if k.offset(i) < 0 {
			neg++
		}
	}
	abs := neg > k.numSyms/2
	stext, haveStext := vmcoreSymbols["_stext"]
	if k.addresses == nil && !k.haveBase {
		// No kallsyms_relative_base in VMCOREINFO: find the base that
		// puts _stext where VMCOREINFO says it is.
		if !haveStext {
			return nil, fmt.Errorf("%w: neither SYMBOL(kallsyms_relative_base) nor SYMBOL(_stext)", ErrNoKallsyms)
		}
		names, err := decodeKallsymsNames(k)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(names, func(s Sym) bool { return s.Name == "_stext" })
		if i < 0 {
			return nil, fmt.Errorf("kallsyms: no _stext among the decoded names to derive the relative base")
		}
		base, ok := baseFrom(k.offset(i), stext, abs)
		if !ok {
			return nil, fmt.Errorf("kallsyms: _stext is stored as an absolute value; cannot derive the relative base")
		}
		k.relativeBase = base
	}
	syms, err := decodeKallsyms(k, abs)
	if err != nil {
		return nil, err
	}
	damage := ""
	if lost := countLost(syms); lost > 0 {
		// Each unnamed symbol keeps its address under lostSymbolName, so
		// an address there is never given a neighbour's name.
		first := slices.IndexFunc(syms, func(s Sym) bool { return s.Name == lostSymbolName })
		damage = fmt.Sprintf("kallsyms: the names of %d of %d symbols (the first at %#x) are lost: %v", lost, k.numSyms, syms[first].Addr, k.namesErr)
	}
	return &decodedKallsyms{syms: syms, damage: damage, stext: stext, haveStext: haveStext}, nil
}

func readKallsymsTables(sym map[string]uint64, mem Memory) (*kallsymsTables, error) {
	for _, n := range kallsymsVMCOREINFO {
		if _, ok := sym[n]; !ok {
			return nil, fmt.Errorf("%w: SYMBOL(%s) missing", ErrNoKallsyms, n)
		}
	}
	k := &kallsymsTables{}
	num, err := readU32(mem, sym["kallsyms_num_syms"])
	if err != nil {
		return nil, fmt.Errorf("kallsyms: reading kallsyms_num_syms: %w", err)
	}
	if num == 0 || num > maxKallsyms {
		return nil, fmt.Errorf("kallsyms: implausible kallsyms_num_syms %d", num)
	}
	k.numSyms = int(num)
	if a, ok := sym["kallsyms_addresses"]; ok {
		if k.addresses, err = readChunked(mem, a, 8*k.numSyms); err != nil {
			return nil, fmt.Errorf("kallsyms: reading kallsyms_addresses: %w", err)
		}
	} else {
		off, ok := sym["kallsyms_offsets"]
		if !ok {
			return nil, fmt.Errorf("%w: neither SYMBOL(kallsyms_offsets) nor SYMBOL(kallsyms_addresses)", ErrNoKallsyms)
		}
		if k.offsets, err = readChunked(mem, off, 4*k.numSyms); err != nil {
			return nil, fmt.Errorf("kallsyms: reading kallsyms_offsets: %w", err)
		}
		if base, ok := sym["kallsyms_relative_base"]; ok {
			if k.relativeBase, err = readU64(mem, base); err != nil {
				return nil, fmt.Errorf("kallsyms: reading kallsyms_relative_base: %w", err)
			}
			k.haveBase = true
		}
	}
	var idx [512]byte
	if err := mem.ReadVirt(idx[:], sym["kallsyms_token_index"]); err != nil {
		return nil, fmt.Errorf("kallsyms: reading kallsyms_token_index: %w", err)
	}
	maxTok := 0
	for i := range k.tokenIndex {
		k.tokenIndex[i] = binary.LittleEndian.Uint16(idx[2*i:])
		maxTok = max(maxTok, int(k.tokenIndex[i]))
	}
	// The last token ends within a few bytes of its start; read a margin
	// rather than trusting the table layout.
	if maxTok > kallsymsTokenSpan {
		return nil, fmt.Errorf("kallsyms: token index points %d bytes into the token table", maxTok)
	}
	if k.tokenTable, err = readChunked(mem, sym["kallsyms_token_table"], maxTok+256); err != nil {
		return nil, fmt.Errorf("kallsyms: reading kallsyms_token_table: %w", err)
	}
	// scripts/kallsyms.c lays names out right before kallsyms_markers and
	// the token table; bound the read by that when the layout is as usual.
	names := sym["kallsyms_names"]
	span := uint64(maxKallsymsNames)
	if tt := sym["kallsyms_token_table"]; tt > names && tt-names < span {
		span = tt - names
	}
	if span > uint64(k.numSyms)*(2+255) {
		span = uint64(k.numSyms) * (2 + 255)
	}
	// Where the layout is the usual one, every page of the names is read
	// and a lost one costs only the symbols up to the next marker; else
	// names are read up to the first page the dump cannot serve.
	tt := sym["kallsyms_token_table"]
	bounded := tt > names && tt-names == span
	// Decoding keeps a Sym and an end offset per symbol and expands the
	// names into twice their compressed size, copied once into a string.
	if err := reserve(mem, fmt.Sprintf("kallsyms' %d decoded symbols", k.numSyms),
		k.numSyms*(int(unsafe.Sizeof(Sym{}))+4)+4*int(span)); err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	out, lost, err := readPaged(mem, names, int(span), !bounded)
	if len(lost) > 0 {
		if lost[0][0] == 0 {
			return nil, fmt.Errorf("kallsyms: reading kallsyms_names: %w", err)
		}
		k.namesCut, k.namesErr = true, err
		if bounded {
			k.lost = lost
		} else {
			out = out[:lost[0][0]]
		}
	}
	k.names = out
	return k, nil
}
