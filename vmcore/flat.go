package vmcore

import (
	"encoding/binary"
	"io"
	"sort"
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

func openFlat(r io.ReaderAt, fileSize int64, path string) (*flatReader, error) {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, formatErr(path, 0, "flattened header unreadable: %v", err)
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
	for seq := 0; ; seq++ {
		if seq > maxFlatRecords {
			return nil, formatErr(path, pos, "more than %d records in flattened stream", maxFlatRecords)
		}
		if _, err := r.ReadAt(rh[:], pos); err != nil {
			return nil, formatErr(path, pos, "flattened stream ends without its end marker (truncated)")
		}
		off := int64(binary.BigEndian.Uint64(rh[0:]))
		sz := int64(binary.BigEndian.Uint64(rh[8:]))
		if off == -1 && sz == -1 {
			break
		}
		if off < 0 || sz < 0 || sz > fileSize || pos+16+sz > fileSize {
			return nil, formatErr(path, pos, "flattened record (offset %d, size %d) is damaged or truncated", off, sz)
		}
		if sz > 0 {
			raw = append(raw, flatRecord{logical: off, size: sz, phys: pos + 16, seq: seq})
		}
		pos += 16 + sz
	}
	return &flatReader{r: r, path: path, records: resolveOverlaps(raw), size: logicalSize(raw)}, nil
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
// the end of the stream).
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
	// Rare path: paint records in stream order onto an interval list.
	bySeq := append([]flatRecord(nil), raw...)
	sort.Slice(bySeq, func(i, j int) bool { return bySeq[i].seq < bySeq[j].seq })
	var out []flatRecord
	for _, rec := range bySeq {
		var next []flatRecord
		s, e := rec.logical, rec.logical+rec.size
		for _, o := range out {
			os, oe := o.logical, o.logical+o.size
			if oe <= s || os >= e {
				next = append(next, o)
				continue
			}
			if os < s {
				next = append(next, flatRecord{logical: os, size: s - os, phys: o.phys, seq: o.seq})
			}
			if oe > e {
				next = append(next, flatRecord{logical: e, size: oe - e, phys: o.phys + (e - os), seq: o.seq})
			}
		}
		out = append(next, rec)
		sort.Slice(out, func(i, j int) bool { return out[i].logical < out[j].logical })
	}
	return out
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
