package symbols

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The kallsyms tables a kernel ≥ 6.0 exports in VMCOREINFO (SYMBOL(name)).
var kallsymsVMCOREINFO = []string{
	"kallsyms_names", "kallsyms_num_syms", "kallsyms_token_table",
	"kallsyms_token_index", "kallsyms_offsets", "kallsyms_relative_base",
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
}

// decodeKallsyms expands every name and computes every address. A name's
// first expanded character is its nm type letter.
func decodeKallsyms(k *kallsymsTables, absolutePercpu bool) ([]Sym, error) {
	if k.numSyms < 0 || k.numSyms > maxKallsyms {
		return nil, fmt.Errorf("kallsyms: implausible symbol count %d", k.numSyms)
	}
	if len(k.offsets) < 4*k.numSyms {
		return nil, fmt.Errorf("kallsyms: offsets table has %d bytes for %d symbols", len(k.offsets), k.numSyms)
	}
	var tokens [256]string
	for i, off := range k.tokenIndex {
		if int(off) >= len(k.tokenTable) {
			return nil, fmt.Errorf("kallsyms: token %d at offset %d beyond token table (%d bytes)", i, off, len(k.tokenTable))
		}
		tokens[i] = cString(k.tokenTable[off:])
	}
	syms := make([]Sym, 0, k.numSyms)
	pos := 0
	var name []byte
	for i := 0; i < k.numSyms; i++ {
		if pos >= len(k.names) {
			return nil, fmt.Errorf("kallsyms: names end after %d of %d symbols", i, k.numSyms)
		}
		n := int(k.names[pos])
		pos++
		if n&0x80 != 0 { // "big" symbol (6.1+): a second length byte
			if pos >= len(k.names) {
				return nil, fmt.Errorf("kallsyms: symbol %d: truncated length", i)
			}
			n = n&0x7f | int(k.names[pos])<<7
			pos++
		}
		if pos+n > len(k.names) {
			return nil, fmt.Errorf("kallsyms: symbol %d at names+%d: length %d runs past the table", i, pos-1, n)
		}
		name = name[:0]
		for _, b := range k.names[pos : pos+n] {
			name = append(name, tokens[b]...)
		}
		pos += n
		if len(name) < 2 {
			return nil, fmt.Errorf("kallsyms: symbol %d expands to %q, want type letter and name", i, name)
		}
		off := int32(binary.LittleEndian.Uint32(k.offsets[4*i:]))
		var addr uint64
		switch {
		case !absolutePercpu:
			addr = k.relativeBase + uint64(uint32(off))
		case off >= 0:
			addr = uint64(off)
		default:
			addr = k.relativeBase - 1 - uint64(int64(off))
		}
		syms = append(syms, Sym{Name: string(name[1:]), Type: name[0], Addr: addr})
	}
	return syms, nil
}

// KallsymsFromDump decodes the running kernel's own symbol table from the
// dump, given VMCOREINFO's SYMBOL() values (runtime addresses). The result
// holds runtime addresses (slide 0). kernels ≥ 6.0 export the needed entries.
func KallsymsFromDump(vmcoreSymbols map[string]uint64, mem Memory) (*Table, error) {
	k, err := readKallsymsTables(vmcoreSymbols, mem)
	if err != nil {
		return nil, err
	}
	// x86_64 SMP kernels build with --absolute-percpu: text symbols then
	// have negative offsets. Decide from the data, and confirm with _stext.
	neg := 0
	for i := 0; i < k.numSyms; i++ {
		if int32(binary.LittleEndian.Uint32(k.offsets[4*i:])) < 0 {
			neg++
		}
	}
	syms, err := decodeKallsyms(k, neg > k.numSyms/2)
	if err != nil {
		return nil, err
	}
	t := NewTable(syms, 0)
	if want, ok := vmcoreSymbols["_stext"]; ok {
		if got, ok := t.Lookup("_stext"); !ok || got != want {
			return nil, fmt.Errorf("kallsyms: decoded _stext = %#x, VMCOREINFO says %#x: tables misread", got, want)
		}
	}
	return t, nil
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
	if k.relativeBase, err = readU64(mem, sym["kallsyms_relative_base"]); err != nil {
		return nil, fmt.Errorf("kallsyms: reading kallsyms_relative_base: %w", err)
	}
	if k.offsets, err = readChunked(mem, sym["kallsyms_offsets"], 4*k.numSyms); err != nil {
		return nil, fmt.Errorf("kallsyms: reading kallsyms_offsets: %w", err)
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
	if k.names, err = readChunked(mem, names, int(span)); err != nil {
		return nil, fmt.Errorf("kallsyms: reading kallsyms_names: %w", err)
	}
	return k, nil
}
