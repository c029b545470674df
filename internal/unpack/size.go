package unpack

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// freeBytes is the space an unprivileged user may still write on the file
// system holding path.
func freeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// contentSize is the uncompressed size a container states, or 0 when it
// states none: zstd's frame content size (the zstd tool writes it for a
// file), gzip's ISIZE (the size modulo 4 GiB, so a lower bound), xz's index
// and lz4's frame content size. bzip2 states nothing.
func contentSize(r io.ReaderAt, size int64, container string) uint64 {
	switch container {
	case "zstd":
		return zstdContentSize(r)
	case "gzip":
		if size < 18 {
			return 0
		}
		var t [4]byte
		if _, err := r.ReadAt(t[:], size-4); err != nil {
			return 0
		}
		return uint64(binary.LittleEndian.Uint32(t[:]))
	case "xz":
		return xzContentSize(r, size)
	case "lz4":
		var h [15]byte
		if _, err := r.ReadAt(h[:], 0); err != nil {
			return 0
		}
		if h[4]&0x08 != 0 { // FLG: content size present
			return binary.LittleEndian.Uint64(h[6:14])
		}
	}
	return 0
}

// zstdContentSize reads Frame_Content_Size from the first frame header
// (RFC 8878 §3.1.1.1). Several frames (pzstd, zstd -T) leave it a lower bound.
func zstdContentSize(r io.ReaderAt) uint64 {
	var h [18]byte
	n, _ := r.ReadAt(h[:], 0)
	if n < 6 {
		return 0
	}
	fhd := h[4]
	fcsFlag := fhd >> 6
	single := fhd&0x20 != 0
	didFlag := fhd & 3
	pos := 5
	if !single {
		pos++ // window descriptor
	}
	pos += [4]int{0, 1, 2, 4}[didFlag]
	var fcsLen int
	switch fcsFlag {
	case 0:
		if !single {
			return 0
		}
		fcsLen = 1
	case 1:
		fcsLen = 2
	case 2:
		fcsLen = 4
	case 3:
		fcsLen = 8
	}
	if pos+fcsLen > n {
		return 0
	}
	b := h[pos : pos+fcsLen]
	switch fcsLen {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)) + 256
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// xzContentSize sums the uncompressed sizes of the last stream's index
// (xz file format 1.0.4 §2.1.2.3, §4): the stream footer says how long the
// index is, and the index lists every block.
func xzContentSize(r io.ReaderAt, size int64) uint64 {
	if size < 32 {
		return 0
	}
	var foot [12]byte
	if _, err := r.ReadAt(foot[:], size-12); err != nil || foot[10] != 'Y' || foot[11] != 'Z' {
		return 0
	}
	indexSize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	if indexSize > size-12 || indexSize > 64<<20 {
		return 0
	}
	idx := make([]byte, indexSize)
	if _, err := r.ReadAt(idx, size-12-indexSize); err != nil || idx[0] != 0 {
		return 0
	}
	p := 1
	varint := func() (uint64, bool) {
		v, n := binary.Uvarint(idx[p:])
		if n <= 0 {
			return 0, false
		}
		p += n
		return v, true
	}
	records, ok := varint()
	if !ok || records > uint64(indexSize) {
		return 0
	}
	var total uint64
	for i := uint64(0); i < records; i++ {
		if _, ok := varint(); !ok { // unpadded size
			return 0
		}
		u, ok := varint()
		if !ok {
			return 0
		}
		total += u
	}
	return total
}

// Entry is one cached archive.
type Entry struct {
	Dir     string
	Source  string
	Bytes   int64
	Created time.Time
	// Partial is set for the leftovers of a run that was stopped.
	Partial bool
}

// List returns the entries in the cache folder (dir "" is DefaultDir()).
func List(dir string) ([]Entry, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	des, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		e := Entry{Dir: p, Bytes: duBytes(p)}
		if r, ok := loadEntry(p); ok {
			e.Source, e.Created = r.Source, r.Created
		} else {
			e.Partial = true
		}
		out = append(out, e)
	}
	return out, nil
}

// Clean removes every entry of the cache folder and says how much it freed.
func Clean(dir string) (entries int, freed int64, err error) {
	list, err := List(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range list {
		if err := os.RemoveAll(e.Dir); err != nil {
			return entries, freed, err
		}
		entries++
		freed += e.Bytes
	}
	return entries, freed, nil
}

func duBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// HumanBytes writes a size the way the notes do (12.3 MiB).
func HumanBytes(n int64) string { return humanBytes(n) }
