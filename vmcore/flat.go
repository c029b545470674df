package vmcore

import (
	"container/heap"
	"encoding/binary"
	"io"
	"slices"
	"sort"
	"unsafe"
)

// The flattened format (makedumpfile -F, and QEMU when it writes to a pipe)
// is a stream of (offset, size, data) records that, written out at their
// offsets, give the real dump. We index the records once and then serve
// reads at logical offsets straight from the stream: no reassembly step and
// no second copy on disk.

const (
	flatSignature  = "makedumpfile"
	flatHeaderSize = 4096 // MAX_SIZE_MDF_HEADER
	flatTypeFlat   = 1
	// Bound the record count so a damaged stream cannot make us index
	// billions of entries: 1<<26 records of at least one byte each.
	maxFlatRecords = 1 << 26
)

type flatRecord struct {
	logical int64 // offset in the reassembled file
	size    int64
	phys    int64 // offset of the data in the flattened stream
	seq     int   // order in the stream: later writes win
}

// flatReader is an io.ReaderAt over the reassembled view of a flattened file.
type flatReader struct {
	r       io.ReaderAt
	path    string
	records []flatRecord // sorted by logical offset, non-overlapping
	size    int64        // logical size
	// cut: the stream ends without its end marker (the capture was cut
	// short). The records before the cut are served; what lies in gaps
	// between them may then be lost data rather than zeros.
	cut bool
}

func isFlattened(head []byte) bool {
	return len(head) >= 24 && string(head[:len(flatSignature)]) == flatSignature &&
		allZero(head[len(flatSignature):16])
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// flatChunk is how many records' index memory is reserved at a time.
const flatChunk = 1 << 16

func openFlat(r io.ReaderAt, fileSize int64, path string, budget *Budget) (*flatReader, error) {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, formatErrWrap(path, 0, err, "flattened header unreadable: %v", err)
	}
	typ := int64(binary.BigEndian.Uint64(hdr[16:]))
	ver := int64(binary.BigEndian.Uint64(hdr[24:]))
	if typ != flatTypeFlat {
		return nil, formatErr(path, 16, "flattened header has type %d, want %d", typ, flatTypeFlat)
	}
	if ver != 1 {
		return nil, formatErr(path, 24, "flattened header version %d is not supported", ver)
	}
	var raw []flatRecord
	pos := int64(flatHeaderSize)
	var rh [16]byte
	cut := false
	for seq := 0; ; seq++ {
		if seq > maxFlatRecords {
			return nil, formatErr(path, pos, "more than %d records in flattened stream", maxFlatRecords)
		}
		if seq%flatChunk == 0 {
			// The index (and resolveOverlaps' boundaries and output, as
			// large again at most) grows with the stream's record count.
			if err := budget.Reserve("the flattened stream's record index", 3*flatChunk*int64(unsafe.Sizeof(flatRecord{}))); err != nil {
				return nil, formatErrWrap(path, pos, err, "%v", err)
			}
		}
		if n, _ := r.ReadAt(rh[:], pos); n < len(rh) {
			if pos+int64(n) < fileSize { // not the end of the file: a read error
				return nil, formatErr(path, pos, "flattened record header unreadable")
			}
			cut = true // the stream ends without its end marker
			break
		}
		off := int64(binary.BigEndian.Uint64(rh[0:]))
		sz := int64(binary.BigEndian.Uint64(rh[8:]))
		if off == -1 && sz == -1 {
			break
		}
		if off < 0 || sz < 0 || off+sz < off {
			return nil, formatErr(path, pos, "flattened record (offset %d, size %d) is damaged", off, sz)
		}
		if pos+16+sz > fileSize || pos+16+sz < pos {
			// The last record is cut: keep the part the file holds.
			cut = true
			if sz = fileSize - pos - 16; sz > 0 {
				raw = append(raw, flatRecord{logical: off, size: sz, phys: pos + 16, seq: seq})
			}
			break
		}
		if sz > 0 {
			raw = append(raw, flatRecord{logical: off, size: sz, phys: pos + 16, seq: seq})
		}
		pos += 16 + sz
	}
	return &flatReader{r: r, path: path, records: resolveOverlaps(raw), size: logicalSize(raw), cut: cut}, nil
}

// covers tells whether records hold every byte of [off, off+n).
func (f *flatReader) covers(off, n int64) bool {
	end := off + n
	i := sort.Search(len(f.records), func(i int) bool { return f.records[i].logical+f.records[i].size > off })
	for ; off < end; i++ {
		if i == len(f.records) || f.records[i].logical > off {
			return false
		}
		off = f.records[i].logical + f.records[i].size
	}
	return true
}

func logicalSize(raw []flatRecord) int64 {
	var n int64
	for _, rec := range raw {
		if e := rec.logical + rec.size; e > n {
			n = e
		}
	}
	return n
}

// resolveOverlaps turns the records into a sorted, non-overlapping list where
// a later record wins over an earlier one (makedumpfile rewrites headers at
// the end of the stream). It sweeps the record boundaries once, keeping the
// records that span the current point in a heap by stream order: O(n log n)
// however the records overlap.
func resolveOverlaps(raw []flatRecord) []flatRecord {
	sort.SliceStable(raw, func(i, j int) bool { return raw[i].logical < raw[j].logical })
	overlaps := false
	for i := 1; i < len(raw); i++ {
		if raw[i].logical < raw[i-1].logical+raw[i-1].size {
			overlaps = true
			break
		}
	}
	if !overlaps {
		return raw
	}
	// Boundaries: every start and end, in order, once each.
	points := make([]int64, 0, 2*len(raw))
	for _, r := range raw {
		points = append(points, r.logical, r.logical+r.size)
	}
	sort.Slice(points, func(i, j int) bool { return points[i] < points[j] })
	points = slices.Compact(points)
	var out []flatRecord
	live := &latestFirst{}
	next := 0 // raw[next] is the first record not yet started
	for pi := 0; pi < len(points); pi++ {
		x := points[pi]
		for next < len(raw) && raw[next].logical <= x {
			heap.Push(live, raw[next])
			next++
		}
		for live.Len() > 0 && (*live)[0].logical+(*live)[0].size <= x {
			heap.Pop(live) // ended: drop lazily, once it surfaces
		}
		if live.Len() == 0 || pi+1 == len(points) {
			continue
		}
		// The latest record spanning x wins [x, the next boundary).
		w, end := (*live)[0], points[pi+1]
		if n := len(out); n > 0 && out[n-1].seq == w.seq && out[n-1].logical+out[n-1].size == x {
			out[n-1].size = end - out[n-1].logical
			continue
		}
		out = append(out, flatRecord{logical: x, size: end - x, phys: w.phys + (x - w.logical), seq: w.seq})
	}
	return out
}

// latestFirst is a heap of records, the latest in the stream on top. A
// record that ended stays until it surfaces; the winner is always live
// because the sweep pops ended records off the top before using it.
type latestFirst []flatRecord

func (h latestFirst) Len() int           { return len(h) }
func (h latestFirst) Less(i, j int) bool { return h[i].seq > h[j].seq }
func (h latestFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *latestFirst) Push(x any)        { *h = append(*h, x.(flatRecord)) }
func (h *latestFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// ReadAt reads the reassembled file. Gaps between records read as zeros,
// as they would in the file makedumpfile -R writes.
func (f *flatReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		cur := off + int64(n)
		if cur >= f.size {
			return n, io.EOF
		}
		i := sort.Search(len(f.records), func(i int) bool {
			return f.records[i].logical+f.records[i].size > cur
		})
		if i == len(f.records) {
			return n, io.EOF
		}
		rec := f.records[i]
		if rec.logical > cur { // a gap
			gap := rec.logical - cur
			if gap > int64(len(p)-n) {
				gap = int64(len(p) - n)
			}
			clear(p[n : n+int(gap)])
			n += int(gap)
			continue
		}
		want := rec.logical + rec.size - cur
		if want > int64(len(p)-n) {
			want = int64(len(p) - n)
		}
		m, err := f.r.ReadAt(p[n:n+int(want)], rec.phys+(cur-rec.logical))
		n += m
		if err != nil && m < int(want) {
			return n, err
		}
	}
	return n, nil
}
