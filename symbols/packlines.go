package symbols

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	kflate "github.com/klauspost/compress/flate"
)

// maxLineFileNames bounds the names a line table's file list may spell
// out: prefix sharing lets a few input bytes repeat a long name, so the
// input's size alone does not bound them (a kernel's ~3k paths: ~200 KB).
const maxLineFileNames = 64 << 20

// Source lines for a debuginfo pack. A pack carries no DWARF, so WritePack
// flattens what DWARF.SourceLine answers for the kernel's text into spans:
// each span starts at a link-time address and gives one file:line (or
// none) up to where the next span starts. Between two addresses where an
// address range or a line row begins or ends, SourceLine's answer cannot
// change, so asking it at each such address gives every span, and the
// table answers exactly as the DWARF does, inlined code included (both
// give the innermost line, as addr2line without -i).
//
// The spans are kept in blocks, each deflated on its own: a triage looks
// up a few dozen frames, so opening a pack decodes only the block index
// and each lookup inflates the one block it needs (decoding all 700,000
// spans of 5.4's table took 50 ms, a quarter of a triage with its pack).

// LineTable is a kernel's source lines as spans sorted by address.
type LineTable struct {
	files  []string
	blocks []lineBlock
	data   []byte // the encoding, which the blocks' bytes are in

	mu      sync.Mutex
	decoded map[int]decodedBlock
	// Reused from block to block (under mu): inflating into fresh state
	// each time, and a map for the lines, took two thirds of a lookup.
	zr   io.ReadCloser
	raw  []byte
	last []int64
}

type decodedBlock struct {
	s   *lineSpans
	err error
}

// lineBlock is where a block's spans start, how many there are and where
// its deflated bytes lie in data.
type lineBlock struct {
	first    uint64
	n        int
	off, end int
}

// lineSpans are spans in columns.
type lineSpans struct {
	start []uint64 // where each span begins, ascending
	file  []uint32 // index into files plus one; 0: no line in this span
	line  []uint32
}

func (s *lineSpans) add(start uint64, file, line uint32) {
	s.start, s.file, s.line = append(s.start, start), append(s.file, file), append(s.line, line)
}

// lineBlockSpans is how many spans a block holds: ~20 KB before deflate,
// a tenth of a millisecond to inflate; smaller blocks deflate worse (the
// 3.10 table: 4% larger than one deflate stream at this size).
const lineBlockSpans = 4096

// maxLine bounds a line number (lines are kept as uint32 and SourcePos as
// int); a larger one is taken as no line.
const maxLine = 1<<31 - 1

// Len is the number of spans.
func (t *LineTable) Len() int {
	n := 0
	for _, b := range t.blocks {
		n += b.n
	}
	return n
}

// SourceLine returns where the instruction at pc (a link-time address)
// came from, as DWARF.SourceLine does. A block that does not decode gives
// no lines (Check says why).
func (t *LineTable) SourceLine(pc uint64) (SourcePos, bool) {
	if t == nil {
		return SourcePos{}, false
	}
	bi, found := slices.BinarySearchFunc(t.blocks, pc, func(b lineBlock, x uint64) int {
		switch {
		case b.first < x:
			return -1
		case b.first > x:
			return 1
		}
		return 0
	})
	if !found {
		bi--
	}
	if bi < 0 {
		return SourcePos{}, false
	}
	s, err := t.block(bi)
	if err != nil {
		return SourcePos{}, false
	}
	i, found := slices.BinarySearch(s.start, pc)
	if !found {
		i--
	}
	if i < 0 || s.file[i] == 0 {
		return SourcePos{}, false
	}
	return SourcePos{File: t.files[s.file[i]-1], Line: int(s.line[i])}, true
}

// Check decodes every block, for the first error (lookups skip a block
// that fails).
func (t *LineTable) Check() error {
	for i := range t.blocks {
		if _, err := t.block(i); err != nil {
			return err
		}
	}
	return nil
}

// block is block bi's spans, decoded on the first call.
func (t *LineTable) block(bi int) (*lineSpans, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.decoded[bi]
	if !ok {
		b.s, b.err = t.decodeBlock(bi)
		t.decoded[bi] = b
	}
	return b.s, b.err
}

// LineTable reads every line program the vmlinux's .debug_aranges reaches
// and returns what SourceLine answers as spans (for WritePack).
func (d *DWARF) LineTable() (*LineTable, error) {
	lt := &d.lines
	lt.once.Do(func() { lt.err = d.loadLineTables() })
	if lt.err != nil {
		return nil, fmt.Errorf("%s: source lines: %w", d.path, lt.err)
	}
	// Every address where SourceLine's answer may change.
	var points []uint64
	lt.mu.Lock()
	for _, r := range lt.ranges {
		points = append(points, r.lo, r.hi)
		ul, err := d.unitLines(r.unit)
		if err != nil || ul == nil {
			continue // SourceLine knows no line in this unit either
		}
		i, _ := slices.BinarySearchFunc(ul.rows, r.lo, func(row lineRow, x uint64) int {
			if row.addr < x {
				return -1
			}
			return 1
		})
		for ; i < len(ul.rows) && ul.rows[i].addr < r.hi; i++ {
			points = append(points, ul.rows[i].addr)
		}
	}
	lt.mu.Unlock()
	slices.Sort(points)
	points = slices.Compact(points)

	var s lineSpans
	fileIdx := map[string]uint32{}
	var byFile []string
	for _, pc := range points {
		var f, l uint32
		if pos, ok := d.SourceLine(pc); ok && pos.Line > 0 && pos.Line <= maxLine {
			if f = fileIdx[pos.File]; f == 0 {
				byFile = append(byFile, pos.File)
				f = uint32(len(byFile))
				fileIdx[pos.File] = f
			}
			l = uint32(pos.Line)
		}
		if n := len(s.start); n > 0 && s.file[n-1] == f && s.line[n-1] == l || n == 0 && f == 0 {
			continue // the span before goes on (or none has begun)
		}
		s.add(pc, f, l)
	}
	// Files in name order, so the encoding can share their prefixes.
	files := slices.Clone(byFile)
	slices.Sort(files)
	order := make([]uint32, len(byFile)) // index in byFile -> in files
	for i, name := range byFile {
		j, _ := slices.BinarySearch(files, name)
		order[i] = uint32(j)
	}
	for i, f := range s.file {
		if f != 0 {
			s.file[i] = order[f-1] + 1
		}
	}
	enc, err := encodeLineTable(files, &s)
	if err != nil {
		return nil, err
	}
	return ParseLineTable(enc)
}

// lineTableMagic starts an encoded LineTable; its last byte is the version.
const lineTableMagic = "ktlines\x02"

// encodeLineTable lays the table out as follows, every number an unsigned
// LEB128 varint but the line deltas (zigzag):
//
//	magic
//	file count, length of the deflated file names, the deflated names:
//	  each as the length of the prefix it shares with the one before,
//	  the length of the rest, the rest
//	block count, then per block: its first address (the first block's
//	  whole, each next one's distance from the one before), its span
//	  count, the length of its deflated spans
//	every block's deflated spans, in order: each next span's distance
//	  from the one before; every span's file (index plus one, 0 for
//	  none); for each span with a file, its line less the line of the
//	  block's last span before it in the same file (0 for the first) —
//	  inlined code jumps between files and back, and this delta is a
//	  fifth smaller than the one from the span before
//
// Column by column, so deflate finds the repeats in each.
func encodeLineTable(files []string, s *lineSpans) ([]byte, error) {
	var names []byte
	prev := ""
	for i, f := range files {
		if i > 0 && f <= prev {
			return nil, fmt.Errorf("line table: file %q not after %q", f, prev)
		}
		n := commonPrefix(prev, f)
		names = binary.AppendUvarint(names, uint64(n))
		names = binary.AppendUvarint(names, uint64(len(f)-n))
		names = append(names, f[n:]...)
		prev = f
	}
	namesZ, err := deflateBytes(names)
	if err != nil {
		return nil, err
	}
	var index, blobs []byte
	nblocks := 0
	for lo := 0; lo < len(s.start); lo += lineBlockSpans {
		hi := min(lo+lineBlockSpans, len(s.start))
		var raw []byte
		last := map[uint32]int64{}
		for i := lo; i < hi; i++ {
			if i > lo {
				if s.start[i] <= s.start[i-1] {
					return nil, fmt.Errorf("line table: span %d at %#x not above %#x", i, s.start[i], s.start[i-1])
				}
				raw = binary.AppendUvarint(raw, s.start[i]-s.start[i-1])
			}
		}
		for i := lo; i < hi; i++ {
			if s.file[i] > uint32(len(files)) {
				return nil, fmt.Errorf("line table: span %d: file %d of %d", i, s.file[i], len(files))
			}
			raw = binary.AppendUvarint(raw, uint64(s.file[i]))
		}
		for i := lo; i < hi; i++ {
			if f := s.file[i]; f != 0 {
				raw = binary.AppendVarint(raw, int64(s.line[i])-last[f])
				last[f] = int64(s.line[i])
			}
		}
		z, err := deflateBytes(raw)
		if err != nil {
			return nil, err
		}
		first := s.start[lo]
		if lo > 0 {
			first -= s.start[lo-lineBlockSpans]
		}
		index = binary.AppendUvarint(index, first)
		index = binary.AppendUvarint(index, uint64(hi-lo))
		index = binary.AppendUvarint(index, uint64(len(z)))
		blobs = append(blobs, z...)
		nblocks++
	}
	b := []byte(lineTableMagic)
	b = binary.AppendUvarint(b, uint64(len(files)))
	b = binary.AppendUvarint(b, uint64(len(namesZ)))
	b = append(b, namesZ...)
	b = binary.AppendUvarint(b, uint64(nblocks))
	b = append(b, index...)
	return append(b, blobs...), nil
}

// MarshalBinary returns the table's encoding (encodeLineTable).
func (t *LineTable) MarshalBinary() ([]byte, error) { return t.data, nil }

// ParseLineTable reads an encoded table's file names and block index; the
// blocks are decoded when a lookup needs them. Bad input gives an error
// saying where.
func ParseLineTable(b []byte) (*LineTable, error) {
	if len(b) < len(lineTableMagic) || !strings.HasPrefix(string(b), lineTableMagic[:len(lineTableMagic)-1]) {
		return nil, errors.New("line table: bad magic")
	}
	if v, want := b[len(lineTableMagic)-1], lineTableMagic[len(lineTableMagic)-1]; v != want {
		return nil, fmt.Errorf("line table: version %d, want %d", v, want)
	}
	d := lineDecoder{b: b, off: len(lineTableMagic)}
	nfiles := d.uvarint("file count")
	namesZ := d.bytes("file names")
	var files []string
	if d.err == nil {
		files, d.err = decodeFileNames(namesZ, nfiles)
	}
	nblocks := d.count("block count")
	t := &LineTable{files: files, data: b, decoded: map[int]decodedBlock{}}
	if d.err == nil {
		t.blocks = make([]lineBlock, 0, nblocks)
	}
	var first uint64
	blobs := 0
	for i := 0; i < nblocks && d.err == nil; i++ {
		a := d.uvarint("block address")
		n := d.uvarint("block span count")
		size := d.uvarint("block length")
		if d.err != nil {
			break
		}
		if i > 0 && (a == 0 || first+a < first) {
			d.fail(fmt.Sprintf("block %d: distance %#x", i, a))
			break
		}
		if n == 0 || n > lineBlockSpans || size > uint64(len(b)) {
			d.fail(fmt.Sprintf("block %d: %d spans in %d bytes", i, n, size))
			break
		}
		first += a
		t.blocks = append(t.blocks, lineBlock{first: first, n: int(n), off: blobs, end: blobs + int(size)})
		blobs += int(size)
	}
	if d.err == nil && blobs != len(b)-d.off {
		d.fail(fmt.Sprintf("blocks of %d bytes in the %d left", blobs, len(b)-d.off))
	}
	if d.err != nil {
		return nil, d.err
	}
	for i := range t.blocks {
		t.blocks[i].off += d.off
		t.blocks[i].end += d.off
	}
	return t, nil
}

// decodeFileNames reads n front-coded names, each after the one before.
func decodeFileNames(z []byte, n uint64) ([]string, error) {
	raw, err := inflateBytes(nil, nil, z, 64<<20)
	if err != nil {
		return nil, fmt.Errorf("line table: file names: %w", err)
	}
	if n > uint64(len(raw)/2) { // a name takes two bytes at least
		return nil, fmt.Errorf("line table: %d file names in %d bytes", n, len(raw))
	}
	d := lineDecoder{b: raw}
	files := make([]string, 0, n)
	prev := ""
	total := 0 // bytes of names built: each may repeat all of the previous one
	for range n {
		shared := d.uvarint("file name prefix")
		rest := d.count("file name length")
		if d.err != nil {
			break
		}
		if shared > uint64(len(prev)) {
			d.fail(fmt.Sprintf("file %d shares %d bytes of a %d-byte name", len(files), shared, len(prev)))
			break
		}
		if total += int(shared) + rest; total > maxLineFileNames {
			d.fail(fmt.Sprintf("file names longer than %d bytes in all", maxLineFileNames))
			break
		}
		name := prev[:shared] + string(d.b[d.off:d.off+rest])
		d.off += rest
		if len(files) > 0 && name <= prev {
			d.fail(fmt.Sprintf("file %d %q not after %q", len(files), name, prev))
			break
		}
		files = append(files, name)
		prev = name
	}
	if d.err == nil && d.off != len(raw) {
		d.fail(fmt.Sprintf("%d bytes after the file names", len(raw)-d.off))
	}
	if d.err != nil {
		return nil, fmt.Errorf("file names: %w", d.err)
	}
	return files, nil
}

// decodeBlock inflates and checks block bi. Call with mu held.
func (t *LineTable) decodeBlock(bi int) (*lineSpans, error) {
	blk := t.blocks[bi]
	if t.zr == nil {
		t.zr = kflate.NewReader(bytes.NewReader(nil))
		t.last = make([]int64, len(t.files)+1)
	}
	// A span takes at most 10 bytes of address, 5 of file, 5 of line.
	raw, err := inflateBytes(t.zr, t.raw[:0], t.data[blk.off:blk.end], uint64(20*blk.n))
	if err != nil {
		return nil, fmt.Errorf("line table: block %d: %w", bi, err)
	}
	t.raw = raw
	next := uint64(1<<64 - 1) // the block's spans must end below the next block
	if bi+1 < len(t.blocks) {
		next = t.blocks[bi+1].first - 1
	}
	d := lineDecoder{b: raw}
	s := &lineSpans{start: make([]uint64, blk.n), file: make([]uint32, blk.n), line: make([]uint32, blk.n)}
	s.start[0] = blk.first
	for i := 1; i < blk.n && d.err == nil; i++ {
		a := d.uvarint("span address")
		if a == 0 || a > next-s.start[i-1] {
			d.fail(fmt.Sprintf("span %d: distance %#x", i, a))
		}
		s.start[i] = s.start[i-1] + a
	}
	for i := 0; i < blk.n && d.err == nil; i++ {
		f := d.uvarint("span file")
		if f > uint64(len(t.files)) {
			d.fail(fmt.Sprintf("span %d: file %d of %d", i, f, len(t.files)))
		}
		s.file[i] = uint32(f)
	}
	last := t.last
	clear(last)
	for i := 0; i < blk.n && d.err == nil; i++ {
		f := s.file[i]
		if f == 0 {
			continue
		}
		l := last[f] + d.varint("span line")
		if l < 1 || l > maxLine {
			d.fail(fmt.Sprintf("span %d: line %d", i, l))
		}
		s.line[i], last[f] = uint32(l), l
	}
	if d.err == nil && d.off != len(raw) {
		d.fail(fmt.Sprintf("%d bytes after the spans", len(raw)-d.off))
	}
	if d.err != nil {
		return nil, fmt.Errorf("block %d: %w", bi, d.err)
	}
	return s, nil
}

func deflateBytes(b []byte) ([]byte, error) {
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// inflateBytes inflates z into buf, refusing more than limit bytes of
// output, with r (a flate reader to reset) or a new reader when r is nil.
func inflateBytes(r io.ReadCloser, buf, z []byte, limit uint64) ([]byte, error) {
	if r == nil {
		r = kflate.NewReader(bytes.NewReader(z))
		defer r.Close()
	} else if err := r.(kflate.Resetter).Reset(bytes.NewReader(z), nil); err != nil {
		return nil, err
	}
	w := bytes.NewBuffer(buf)
	if _, err := w.ReadFrom(io.LimitReader(r, int64(min(limit, 1<<40))+1)); err != nil {
		return nil, err
	}
	if uint64(w.Len()) > limit {
		return nil, fmt.Errorf("inflates past %d bytes", limit)
	}
	return w.Bytes(), nil
}

type lineDecoder struct {
	b   []byte
	off int
	err error
}

func (d *lineDecoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("line table: %s at offset %d", msg, d.off)
	}
}

func (d *lineDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad or truncated " + what)
		return 0
	}
	d.off += n
	return v
}

func (d *lineDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad or truncated " + what)
		return 0
	}
	d.off += n
	return v
}

// count reads a count or length no larger than the bytes left.
func (d *lineDecoder) count(what string) int {
	v := d.uvarint(what)
	if d.err == nil && v > uint64(len(d.b)-d.off) {
		d.fail(fmt.Sprintf("%s %d exceeds the %d bytes left", what, v, len(d.b)-d.off))
		return 0
	}
	return int(v)
}

// bytes reads a length and that many bytes.
func (d *lineDecoder) bytes(what string) []byte {
	n := d.count(what)
	if d.err != nil {
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
