package vmcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for the parsers of untrusted dump bytes. Seeds come from the
// real fixtures in ../testdata/dumps, shrunk so the fuzzer mutates headers,
// bitmaps, descriptors and pages rather than megabytes of page data.
//
// Allocation bound: every buffer the readers allocate is bounded by the
// input size (bitmaps, notes, VMCOREINFO, flattened records), by one block
// (at most 1 MiB) per page read, or by the zstd decoder's 64 MiB limit.

const fuzzPath = "fuzz.vmcore"

// openKdumpBytes opens a kdump-compressed image held in memory, the way
// Open does a file: header, sub-header, bitmaps, notes and VMCOREINFO.
func openKdumpBytes(b []byte) (*Dump, error) {
	k, err := openKdump(bytes.NewReader(b), int64(len(b)), fuzzPath, nil, countsKeeping{})
	if err != nil {
		return nil, err
	}
	d := &Dump{Paths: []string{fuzzPath}, cache: newPageCache(64), PanicCPU: -1, DumpLevel: -1, kdumps: []*kdumpFile{k}}
	return d, d.finish()
}

// checkInputError: damage must be reported as a FormatError naming the
// file, or as one of the page errors, on one line.
func checkInputError(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	switch {
	case errors.Is(err, ErrExcluded), errors.Is(err, ErrNotPresent), errors.Is(err, ErrLost):
	case errors.As(err, &fe) && fe.Path == fuzzPath:
	case strings.HasPrefix(err.Error(), "split set"):
	default:
		t.Fatalf("error is not a FormatError naming the file: %T %v", err, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
}

// compactKdump rebuilds a real fixture as a small kdump-compressed image:
// its header, sub-header, notes and VMCOREINFO verbatim, bitmaps shrunk
// to one block each (32768 pfns), and the compressed bytes of its first
// n dumped pages as pfns 1..n.
func compactKdump(tb testing.TB, name string, n int) []byte {
	tb.Helper()
	path := filepath.Join(fixtureDir, name+".vmcore")
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	k := d.kdumps[0]
	bs := k.blockSize
	le := binary.LittleEndian
	const pfns = 32768
	metaEnd := (1 + k.subHdrSize) * bs
	img := append([]byte(nil), raw[:metaEnd]...)
	le.PutUint32(img[hdrOffBitmapBlocks:], 2)
	le.PutUint32(img[hdrOffMaxMapnr:], pfns)
	le.PutUint64(img[bs+96:], pfns) // max_mapnr_64
	bm1, bm2 := make([]byte, pfns/8), make([]byte, pfns/8)
	bm1[0], bm1[1] = 0xff, 0xff
	var descs, data []byte
	dataOff := metaEnd + 2*int64(len(bm1)) + int64(n)*pageDescSize
	for pfn, got := uint64(0), 0; got < n && pfn < k.maxMapnr; pfn++ {
		_, off, size, flags, err := d.PageDescriptor(pfn)
		if err != nil {
			continue
		}
		got++
		bm2[got/8] |= 1 << (got % 8)
		var desc [pageDescSize]byte
		le.PutUint64(desc[0:], uint64(dataOff+int64(len(data))))
		le.PutUint32(desc[8:], size)
		le.PutUint32(desc[12:], flags)
		descs = append(descs, desc[:]...)
		data = append(data, raw[off:off+int64(size)]...)
	}
	img = append(img, bm1...)
	img = append(img, bm2...)
	img = append(img, descs...)
	return append(img, data...)
}

func FuzzKdump(f *testing.F) {
	for _, name := range []string{"sysrq-kdump-lzo", "sysrq-kdump-zlib", "sysrq-kdump-snappy", "hung-kdump-zstd"} {
		img := compactKdump(f, name, 4)
		f.Add(img)
		f.Add(img[:4096+200]) // header and the start of the sub-header
		inc := append([]byte(nil), img...)
		binary.LittleEndian.PutUint32(inc[hdrOffStatus:], binary.LittleEndian.Uint32(inc[hdrOffStatus:])|flagIncomplete)
		f.Add(inc[:len(inc)-100]) // incomplete: the last page's data cut short
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := openKdumpBytes(b)
		if err != nil {
			checkInputError(t, err)
			return
		}
		c, cerr := d.Pages()
		if cerr != nil {
			checkInputError(t, cerr)
		}
		if c.Present > c.Total+c.Lost+uint64(len(b))*8 {
			t.Fatalf("page counts %+v for a %d-byte file", c, len(b))
		}
		if has, herr := d.HasExcluded(); cerr == nil && (herr != nil || has != (c.Excluded > 0)) {
			t.Fatalf("HasExcluded %v (%v), but page counts %+v", has, herr, c)
		}
		_ = d.Describe()
		k := d.kdumps[0]
		page := make([]byte, d.PageSize)
		read := 0
		for pfn := k.startPFN; pfn < k.endPFN && read < 16; pfn++ {
			if !dumpedBit(k, pfn) {
				continue
			}
			read++
			// A whole page bypasses the cache; a short read goes through it.
			_, err := d.ReadPhys(page, pfn*uint64(d.PageSize))
			if err != nil {
				checkInputError(t, err)
			}
			if d.PageSize < 24 {
				continue
			}
			tail := make([]byte, 24)
			_, terr := d.ReadPhys(tail, pfn*uint64(d.PageSize)+uint64(d.PageSize)-24)
			if terr != nil {
				checkInputError(t, terr)
			}
			if err == nil && terr == nil && !bytes.Equal(tail, page[len(page)-24:]) {
				t.Fatalf("pfn %#x: a short read and the whole-page read disagree", pfn)
			}
		}
	})
}

// flatStream writes records as makedumpfile -F does.
func flatStream(recs ...flatSeed) []byte {
	out := make([]byte, flatHeaderSize)
	copy(out, flatSignature)
	binary.BigEndian.PutUint64(out[16:], flatTypeFlat)
	binary.BigEndian.PutUint64(out[24:], 1)
	for _, r := range recs {
		var h [16]byte
		binary.BigEndian.PutUint64(h[0:], uint64(r.off))
		binary.BigEndian.PutUint64(h[8:], uint64(len(r.data)))
		out = append(out, h[:]...)
		out = append(out, r.data...)
	}
	return append(out, bytes.Repeat([]byte{0xff}, 16)...)
}

type flatSeed struct {
	off  int64
	data []byte
}

// flatPrefix keeps the first n records of a real flattened fixture.
func flatPrefix(tb testing.TB, name string, n int) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, name+".vmcore"))
	if err != nil {
		tb.Fatal(err)
	}
	var recs []flatSeed
	for pos := int64(flatHeaderSize); len(recs) < n && pos+16 <= int64(len(raw)); {
		off := int64(binary.BigEndian.Uint64(raw[pos:]))
		size := int64(binary.BigEndian.Uint64(raw[pos+8:]))
		if off < 0 {
			break
		}
		recs = append(recs, flatSeed{off, raw[pos+16 : pos+16+size]})
		pos += 16 + size
	}
	return flatStream(recs...)
}

// reassemble is the reference: write each record at its offset in stream
// order, as makedumpfile -R does, into a buffer of at most limit bytes. A
// stream cut short (no end marker, or its last record's data cut) gives
// the records it holds, the last one as far as it goes.
func reassemble(b []byte, limit int64) (out []byte, ok, fits bool) {
	size := int64(len(b))
	var recs []flatSeed
	for pos := int64(flatHeaderSize); ; {
		if pos+16 > size {
			break // cut short
		}
		off, n := int64(binary.BigEndian.Uint64(b[pos:])), int64(binary.BigEndian.Uint64(b[pos+8:]))
		if off == -1 && n == -1 {
			break
		}
		if off < 0 || n < 0 || off+n < off {
			return nil, false, false
		}
		if n > size || pos+16+n > size {
			recs = append(recs, flatSeed{off, b[pos+16:]}) // cut short
			break
		}
		recs = append(recs, flatSeed{off, b[pos+16 : pos+16+n]})
		pos += 16 + n
	}
	var end int64
	for _, r := range recs {
		if len(r.data) > 0 {
			end = max(end, r.off+int64(len(r.data)))
		}
	}
	if end > limit {
		return nil, true, false
	}
	out = make([]byte, end)
	for _, r := range recs {
		if len(r.data) > 0 {
			copy(out[r.off:], r.data)
		}
	}
	return out, true, true
}

func FuzzFlattened(f *testing.F) {
	f.Add(flatPrefix(f, "sysrq-flat-lzo", 3))
	f.Add(flatPrefix(f, "hung-qemu-kdump-zlib", 3))
	// A header rewritten at the end of the stream, as makedumpfile does.
	f.Add(flatStream(flatSeed{0, bytes.Repeat([]byte("a"), 600)}, flatSeed{5000, []byte("tail")},
		flatSeed{100, []byte("rewritten")}, flatSeed{90, bytes.Repeat([]byte("b"), 30)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 24 || !isFlattened(b) {
			return
		}
		fr, err := openFlat(bytes.NewReader(b), int64(len(b)), fuzzPath, nil)
		want, ok, fits := reassemble(b, 1<<20)
		if err != nil {
			checkInputError(t, err)
			if ok && len(b) >= 32 && binary.BigEndian.Uint64(b[16:]) == flatTypeFlat && binary.BigEndian.Uint64(b[24:]) == 1 {
				t.Fatalf("rejected a well-formed stream: %v", err)
			}
			return
		}
		if !ok {
			t.Fatalf("accepted a stream the reference rejects")
		}
		if !fits {
			return
		}
		if fr.size != int64(len(want)) {
			t.Fatalf("logical size %d, want %d", fr.size, len(want))
		}
		got := make([]byte, len(want))
		if n, err := fr.ReadAt(got, 0); n != len(want) || (err != nil && n < len(want)) {
			t.Fatalf("ReadAt: %d bytes, %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("reassembled view differs from makedumpfile -R's")
		}
		// Reads that start and end inside records see the same bytes.
		for _, r := range fr.records {
			for _, at := range []int64{r.logical - 1, r.logical + r.size/2} {
				if at < 0 || at >= fr.size {
					continue
				}
				p := make([]byte, min(int64(37), fr.size-at))
				if n, _ := fr.ReadAt(p, at); n != len(p) || !bytes.Equal(p, want[at:at+int64(n)]) {
					t.Fatalf("ReadAt(%d): %d bytes, differs", at, n)
				}
			}
		}
	})
}

func FuzzVMCoreInfo(f *testing.F) {
	for _, name := range []string{"sysrq-kdump-lzo", "hung-qemu-kdump-zlib"} {
		d, err := Open(filepath.Join(fixtureDir, name+".vmcore"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(d.VMCoreInfo.Raw))
		d.Close()
	}
	f.Add([]byte("OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(x)=zz\nOFFSET(a.b)=-3\nCRASHTIME=99999999999999999999\n=\n\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		vi, err := ParseVMCoreInfo(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range vi.Keys() {
			if seen[k] {
				t.Fatalf("key %q listed twice", k)
			}
			seen[k] = true
			if _, ok := vi.Get(k); !ok {
				t.Fatalf("key %q listed but not found", k)
			}
			if strings.ContainsAny(k, "\n=") {
				t.Fatalf("key %q holds a separator", k)
			}
			name := k
			if i := strings.IndexByte(k, '('); i >= 0 && strings.HasSuffix(k, ")") {
				name = k[i+1 : len(k)-1]
			}
			vi.Symbol(name)
			vi.Offset(name)
			vi.Size(name)
			vi.Number(name)
			vi.Length(name)
		}
		if len(vi.Keys()) == 0 {
			t.Fatal("parsed with no keys")
		}
		vi.Symbols()
		vi.PageSize()
		vi.KernelOffset()
		vi.PhysBase()
		vi.CrashTime()
		vi.OSRelease()
		vi.BuildID()
	})
}

// TestCompactKdumpSeeds: the shrunk fixtures FuzzKdump starts from are
// valid dumps whose pages all decompress, so mutations start from a
// working reader path rather than from an early error.
func TestCompactKdumpSeeds(t *testing.T) {
	for _, name := range []string{"sysrq-kdump-lzo", "sysrq-kdump-zlib", "sysrq-kdump-snappy", "hung-kdump-zstd"} {
		d, err := openKdumpBytes(compactKdump(t, name, 4))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c := pagesOf(t, d); c.Present != 4 || c.Total != 16 || d.VMCoreInfo == nil {
			t.Errorf("%s: pages %+v, VMCOREINFO %v", name, c, d.VMCoreInfoErr)
		}
		page := make([]byte, d.PageSize)
		for pfn := uint64(1); pfn <= 4; pfn++ {
			if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); err != nil {
				t.Errorf("%s: pfn %d: %v", name, pfn, err)
			}
		}
	}
}

// FuzzBitmapCounts: counts kept from an earlier run are input too (a
// cache file damaged or written by another build). Whatever they hold,
// the open and the reads must not panic, and their errors must name the
// dump. Counts that check out but lie are caught where a block read
// disagrees (TestBitmapCountsDamaged) or the total runs past the first
// page's data (TestBitmapCountsWrongUnread); a lie in blocks never read
// that keeps the total is not caught, and can serve wrong pages: the
// file identity, which a rewrite changes, keeps stale counts unused.
func FuzzBitmapCounts(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore"))
	if err != nil {
		f.Skip(err)
	}
	dir := f.TempDir()
	keep := countsKeeping{dir: dir, id: "fuzz"}
	// The good counts as seed, with a few cut and bent.
	k, err := openKdump(bytes.NewReader(raw), int64(len(raw)), fuzzPath, nil, keep)
	if err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(k.countsFile)
	if err != nil {
		f.Fatal(err)
	}
	body := good[:len(good)-4]
	f.Add(false, good)
	f.Add(true, body) // the sum made afresh: a mutated body still checks out
	f.Add(false, good[:len(good)-8])
	f.Add(true, []byte(countsMagic))
	f.Fuzz(func(t *testing.T, sum bool, counts []byte) {
		if sum {
			counts = binary.LittleEndian.AppendUint32(counts, crc32.ChecksumIEEE(counts))
		}
		if err := os.WriteFile(k.countsFile, counts, 0o600); err != nil {
			t.Fatal(err)
		}
		kf, err := openKdump(bytes.NewReader(raw), int64(len(raw)), fuzzPath, nil, keep)
		if err != nil {
			checkInputError(t, err)
			return
		}
		d := &Dump{Paths: []string{fuzzPath}, cache: newPageCache(64), PanicCPU: -1, DumpLevel: -1, kdumps: []*kdumpFile{kf}}
		if err := d.finish(); err != nil {
			checkInputError(t, err)
			return
		}
		_, _ = d.Pages()
		page := make([]byte, d.PageSize)
		for pfn := uint64(0); pfn < kf.maxMapnr; pfn += 997 {
			if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); err != nil {
				checkInputError(t, err)
			}
		}
	})
}
