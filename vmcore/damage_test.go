package vmcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Cases from the damage sweep of issue 13, each once a silent wrong answer.

// TestZlibChecksumChecked: a flipped byte in a zlib page's adler32 trailer
// used to go unnoticed (the stream was read to one page, never to its
// end). The page is now damaged: its content is not served.
func TestZlibChecksumChecked(t *testing.T) {
	src := filepath.Join(fixtureDir, "sysrq-kdump-zlib.vmcore")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	d := openFixture(t, src)
	pfn, off, size := firstStoredPage(t, d, flagZlib)
	b[off+int64(size)-1] ^= 0x40 // the last byte of the adler32
	p := writeTemp(t, "adler.vmcore", b)
	d2 := openFixture(t, p)
	page := make([]byte, d2.PageSize)
	_, err = d2.ReadPhys(page, pfn*uint64(d2.PageSize))
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), p) {
		t.Fatalf("page with a bad adler32: %v, want ErrDamaged naming the file", err)
	}
	if _, err := d2.ReadPhys(page[:8], pfn*uint64(d2.PageSize)); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a short read of the damaged page: %v, want ErrDamaged", err)
	}
}

// firstStoredPage finds a dumped pfn whose page is stored with the given
// compression flag, and where its bytes lie.
func firstStoredPage(t *testing.T, d *Dump, flag uint32) (pfn uint64, off int64, size uint32) {
	t.Helper()
	k := d.kdumps[0]
	for pfn := k.startPFN; pfn < k.endPFN; pfn++ {
		if !dumpedBit(k, pfn) {
			continue
		}
		_, off, size, flags, err := d.PageDescriptor(pfn)
		if err == nil && flags&flag != 0 && size > 8 {
			return pfn, off, size
		}
	}
	t.Fatalf("no page stored with flag %#x", flag)
	return 0, 0, 0
}

// TestTruncatedKdumpNotComplete: a kdump cut at 71 % without the incomplete
// flag was called complete, with no page lost. It is now incomplete, its
// lost pages counted, with a warning naming the file.
func TestTruncatedKdumpNotComplete(t *testing.T) {
	for _, name := range []string{"sysrq-kdump-zlib", "hung-kdump-zstd", "sysrq-kdump-snappy"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(fixtureDir, name+".vmcore"))
			if err != nil {
				t.Fatal(err)
			}
			p := writeTemp(t, name+".vmcore", b[:len(b)*71/100])
			d := openFixture(t, p)
			c := pagesOf(t, d)
			if !d.Incomplete || c.Lost == 0 || !strings.Contains(d.Describe(), "INCOMPLETE") {
				t.Fatalf("cut at 71%%: %s, pages %+v", d.Describe(), c)
			}
			if len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], p) {
				t.Fatalf("no warning naming the file: %q", d.Warnings)
			}
			full := pagesOf(t, openFixture(t, filepath.Join(fixtureDir, name+".vmcore")))
			if c.Present+c.Lost != full.Present {
				t.Errorf("present %d + lost %d != %d pages of the whole dump", c.Present, c.Lost, full.Present)
			}
		})
	}
}

// TestHostilePageSize: PAGESIZE=4294967296 made every page read allocate
// 4 GiB. It is not a page size; it is ignored, and the dump says so.
func TestHostilePageSize(t *testing.T) {
	for _, v := range []string{"4294967296", "0", "-4096", "4097", "131072", "2048"} {
		vi, err := ParseVMCoreInfo([]byte("OSRELEASE=6.1.0\nPAGESIZE=" + v + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if ps, ok := vi.PageSize(); ok {
			t.Errorf("PAGESIZE=%s accepted as %d", v, ps)
		}
		d := &Dump{}
		d.setVMCoreInfo([]byte(vi.Raw))
		if d.PageSize != 0 || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "PAGESIZE="+v) {
			t.Errorf("PAGESIZE=%s: page size %d, warnings %q", v, d.PageSize, d.Warnings)
		}
	}
	for _, v := range []int64{4096, 16384, 65536} {
		vi, _ := ParseVMCoreInfo([]byte(fmt.Sprintf("PAGESIZE=%d\n", v)))
		if ps, ok := vi.PageSize(); !ok || ps != v {
			t.Errorf("PAGESIZE=%d read as %d, %v", v, ps, ok)
		}
	}
}

// paint is the obvious reading of a flattened stream: write every record
// at its offset in stream order; it gives, per logical byte, the stream
// position it comes from (-1 for a gap).
func paint(raw []flatRecord, size int64) []int64 {
	out := make([]int64, size)
	for i := range out {
		out[i] = -1
	}
	for _, r := range raw {
		for j := int64(0); j < r.size; j++ {
			out[r.logical+j] = r.phys + j
		}
	}
	return out
}

// TestResolveOverlapsMatchesPainting: the sweep gives exactly what
// painting the records in stream order gives, on random streams of
// heavily overlapping records.
func TestResolveOverlapsMatchesPainting(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	for iter := 0; iter < 500; iter++ {
		n := 1 + rng.Intn(40)
		var raw []flatRecord
		phys := int64(0)
		for seq := 0; seq < n; seq++ {
			r := flatRecord{logical: int64(rng.Intn(200)), size: 1 + int64(rng.Intn(60)), phys: phys, seq: seq}
			phys += r.size + 16
			raw = append(raw, r)
		}
		size := logicalSize(raw)
		want := paint(raw, size)
		got := resolveOverlaps(append([]flatRecord(nil), raw...))
		flat := make([]int64, size)
		for i := range flat {
			flat[i] = -1
		}
		var prevEnd int64 = -1
		for _, r := range got {
			if r.logical < prevEnd || r.size <= 0 {
				t.Fatalf("records overlap or are empty: %+v", got)
			}
			prevEnd = r.logical + r.size
			for j := int64(0); j < r.size; j++ {
				flat[r.logical+j] = r.phys + j
			}
		}
		for i := range want {
			if want[i] != flat[i] {
				t.Fatalf("iteration %d: byte %d from stream offset %d, want %d", iter, i, flat[i], want[i])
			}
		}
	}
}

// TestFlattenedManyOverlaps: a 1.4 MB stream of overlapping records took
// over two minutes to index (every record re-sorted the interval list).
// It is read here with the same records, and reads what painting gives.
func TestFlattenedManyOverlaps(t *testing.T) {
	var buf bytes.Buffer
	hdr := make([]byte, flatHeaderSize)
	copy(hdr, flatSignature)
	binary.BigEndian.PutUint64(hdr[16:], flatTypeFlat)
	binary.BigEndian.PutUint64(hdr[24:], 1)
	buf.Write(hdr)
	const records = 1400000 / 24
	var raw []flatRecord
	for i := 0; i < records; i++ {
		off, size := int64(i%5000)*3, int64(8)
		var rh [16]byte
		binary.BigEndian.PutUint64(rh[0:], uint64(off))
		binary.BigEndian.PutUint64(rh[8:], uint64(size))
		buf.Write(rh[:])
		raw = append(raw, flatRecord{logical: off, size: size, phys: int64(buf.Len()), seq: i})
		buf.Write([]byte(fmt.Sprintf("%08d", i%100000000))[:size])
	}
	buf.Write(bytes.Repeat([]byte{0xff}, 16))
	b := buf.Bytes()
	fr, err := openFlat(bytes.NewReader(b), int64(len(b)), "overlaps.vmcore", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := paint(raw, fr.size)
	got := make([]byte, fr.size)
	if _, err := fr.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got[i] != b[w] {
			t.Fatalf("logical byte %d is %q, want %q", i, got[i], b[w])
		}
	}
}

// TestZstdChecksumChecked: where a zstd frame carries a content checksum,
// a page whose data fails it is damaged, not served.
func TestZstdChecksumChecked(t *testing.T) {
	page := bytes.Repeat([]byte("kernel log text "), 256)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	src := enc.EncodeAll(page, nil)
	dst := make([]byte, len(page))
	if err := decompressPage(flagZstd, src, dst); err != nil || !bytes.Equal(dst, page) {
		t.Fatalf("good frame: %v", err)
	}
	src[len(src)-1] ^= 1 // the last byte of the frame's checksum
	if err := decompressPage(flagZstd, src, dst); err == nil {
		t.Fatal("a frame failing its checksum was served")
	}
}

// TestHostileCPUCount: a kdump header claiming 2^31 CPUs sized the loops
// over CPUs; it is ignored with a warning.
func TestHostileCPUCount(t *testing.T) {
	src := filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[hdrOffNrCPUs:], 0x7fffffff)
	d := openFixture(t, writeTemp(t, "cpus.vmcore", b))
	if d.NrCPUs != 0 || len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], "nr_cpus") {
		t.Fatalf("nr_cpus 2^31-1: NrCPUs %d, warnings %q", d.NrCPUs, d.Warnings)
	}
}

// TestTruncatedELFWarns: an ELF core cut short is incomplete, its lost
// pages counted, and the dump says it was cut.
func TestTruncatedELFWarns(t *testing.T) {
	b, err := os.ReadFile("../testdata/elf/sysrq-notes.elf")
	if err != nil {
		t.Fatal(err)
	}
	p := writeTemp(t, "cut.elf", b[:len(b)-3000])
	d := openFixture(t, p)
	if !d.Incomplete || pagesOf(t, d).Lost == 0 || len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], p) {
		t.Fatalf("cut ELF: incomplete %v, pages %+v, warnings %q", d.Incomplete, pagesOf(t, d), d.Warnings)
	}
}
