package symbols

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"sort"
	"unsafe"
)

// A vmlinux's symbol table, once built (read from the ELF symtab, sorted,
// sizes worked out, aliases ordered), is kept beside the DWARF index cache
// as <build-id>.syms. The next run of the same kernel reads it in one piece
// and looks names up by binary search in it, instead of decoding ~90k ELF
// symbols, sorting them and hashing every name (most of a warm run).
//
// Layout, little-endian: magic, build-id (u16 length + bytes), vmlinux size
// (u64), symbol count n (u32), names length (u32), distinct names m (u32);
// n records of 32 bytes
// {addr u64 (link-time), size u64 (as printed: gap to the next symbol),
// source size u64, name offset u32, name length u16, nm type u8, 0}; m u32
// indexes ordered by name (first of equal names = the one Lookup returns);
// the names; a CRC-32 of everything before it.
const (
	tableMagic     = "KTSYMT01"
	tableRecord    = 32
	maxTableSyms   = 4 << 20
	maxTableBytes  = 512 << 20
	tableCacheName = ".syms"
)

func tableCachePath(dir, buildID string) string { return filepath.Join(dir, buildID+tableCacheName) }

// encodeTable freezes t, built with slide 0 (a table decoded from a dump;
// never a frozen one, which is already on disk).
func encodeTable(buildID string, fileSize int64, t *Table) []byte {
	n := len(t.syms)
	namesLen := 0
	for _, s := range t.syms {
		namesLen += len(s.Name)
	}
	b := make([]byte, 0, 64+len(buildID)+n*(tableRecord+4)+namesLen)
	b = append(b, tableMagic...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(buildID)))
	b = append(b, buildID...)
	b = binary.LittleEndian.AppendUint64(b, uint64(fileSize))
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(namesLen))
	order := t.nameOrder()
	b = binary.LittleEndian.AppendUint32(b, uint32(len(order)))
	off := 0
	for i, s := range t.syms {
		b = binary.LittleEndian.AppendUint64(b, s.Addr)
		b = binary.LittleEndian.AppendUint64(b, t.sizes[i])
		b = binary.LittleEndian.AppendUint64(b, s.Size)
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		off += len(s.Name)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s.Name)))
		b = append(b, s.Type, 0)
	}
	for _, i := range order {
		b = binary.LittleEndian.AppendUint32(b, uint32(i))
	}
	for _, s := range t.syms {
		b = append(b, s.Name...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// nameOrder lists symbol indexes by name, the first of equal names being
// the one Lookup answers with.
func (t *Table) nameOrder() []int32 { return nameOrderOf(t.syms) }

var errBadTable = errors.New("not a usable symbol table cache")

// frozenTable is a table as encodeTable wrote it, read in place: a run
// that looks up a few hundred of ~90k symbols does not decode the rest.
// The file's CRC vouches for its contents; reads are still bounded, so a
// bad record gives a wrong name, never a panic.
type frozenTable struct {
	n     int
	recs  []byte // n records of tableRecord bytes
	order []byte // u32 symbol indexes ordered by name
	names string
	slide uint64 // added to link-time kernel-image addresses, as newTable does
}

func (f *frozenTable) addr(i int) uint64 {
	a := binary.LittleEndian.Uint64(f.recs[i*tableRecord:])
	if inImage(a) && a+f.slide >= a {
		a += f.slide
	}
	return a
}

func (f *frozenTable) name(i int) string {
	r := f.recs[i*tableRecord:]
	off, l := int(binary.LittleEndian.Uint32(r[24:])), int(binary.LittleEndian.Uint16(r[28:]))
	if off+l > len(f.names) {
		return ""
	}
	return f.names[off : off+l]
}

func (f *frozenTable) sym(i int) Sym {
	r := f.recs[i*tableRecord:]
	return Sym{Name: f.name(i), Addr: f.addr(i), Size: binary.LittleEndian.Uint64(r[8:]), Type: r[30]}
}

// index finds name by bisecting the name order.
func (f *frozenTable) index(name string) (int, bool) {
	m := len(f.order) / 4
	at := func(k int) int {
		j := int(binary.LittleEndian.Uint32(f.order[4*k:]))
		if j >= f.n {
			return 0
		}
		return j
	}
	k := sort.Search(m, func(k int) bool { return f.name(at(k)) >= name })
	if k < m && f.name(at(k)) == name {
		return at(k), true
	}
	return 0, false
}

// decodeTable opens a table frozen by encodeTable, relocated by slide. The
// table refers to data's bytes, which must not change afterwards.
func decodeTable(data []byte, buildID string, fileSize int64, slide uint64) (*Table, error) {
	le := binary.LittleEndian
	if len(data) < len(tableMagic)+2+8+12+4 || !bytes.HasPrefix(data, []byte(tableMagic)) {
		return nil, fmt.Errorf("%w: bad magic", errBadTable)
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != le.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadTable)
	}
	p := len(tableMagic)
	idLen := int(le.Uint16(body[p:]))
	p += 2
	if p+idLen+20 > len(body) || string(body[p:p+idLen]) != buildID {
		return nil, fmt.Errorf("%w: made for another build", errBadTable)
	}
	p += idLen
	if le.Uint64(body[p:]) != uint64(fileSize) {
		return nil, fmt.Errorf("%w: made for a vmlinux of another size", errBadTable)
	}
	n, namesLen, m := int(le.Uint32(body[p+8:])), int(le.Uint32(body[p+12:])), int(le.Uint32(body[p+16:]))
	p += 20
	if n > maxTableSyms || m > n || p+n*tableRecord+m*4+namesLen != len(body) {
		return nil, fmt.Errorf("%w: sizes do not add up", errBadTable)
	}
	namesAt := body[p+n*tableRecord+m*4:]
	f := &frozenTable{
		n: n, recs: body[p : p+n*tableRecord], order: body[p+n*tableRecord : p+n*tableRecord+m*4], slide: slide,
	}
	if len(namesAt) > 0 {
		// The names stay where they are (usually a mapped file): each
		// Sym's Name is a slice of them, as a string, without a copy.
		f.names = unsafe.String(&namesAt[0], len(namesAt))
	}
	return &Table{frozen: f, slide: slide}, nil
}

// readTableCache loads the frozen table at path, or says why not.
func readTableCache(path, buildID string, fileSize int64, slide uint64) (*Table, error) {
	data, err := readCacheFile(path, maxTableBytes)
	if err != nil {
		return nil, err
	}
	t, err := decodeTable(data, buildID, fileSize, slide)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
