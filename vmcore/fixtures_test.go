package vmcore

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The fixtures in ../testdata/dumps are real dumps of Debian 12's
// 6.1.0-56-cloud-amd64 kernel (the corpus in ../shared), cut down by
// internal/cutdump to the pages ktriage reads, with the compressed page
// bytes copied verbatim. testdata/dumps/make.sh regenerates them. These
// tests need nothing outside the repository.

const fixtureDir = "../testdata/dumps"

type fixture struct {
	name        string
	compression string
	flattened   bool
	parts       int
	incomplete  bool
	lost        uint64
}

var fixtures = []fixture{
	{name: "sysrq-kdump-lzo", compression: "lzo", parts: 1},
	{name: "sysrq-kdump-snappy", compression: "snappy", parts: 1},
	{name: "sysrq-kdump-zlib", compression: "zlib", parts: 1},
	{name: "hung-kdump-zstd", compression: "zstd", parts: 1},
	{name: "hung-qemu-kdump-zlib", compression: "zlib", flattened: true, parts: 1},
	{name: "sysrq-flat-lzo", compression: "lzo", flattened: true, parts: 1},
	{name: "sysrq-split-lzo", compression: "lzo", parts: 2},
	{name: "sysrq-incomplete-lzo", compression: "lzo", parts: 1, incomplete: true, lost: 3},
}

func (f fixture) files() []string {
	if f.parts <= 1 {
		return []string{filepath.Join(fixtureDir, f.name+".vmcore")}
	}
	var out []string
	for i := 1; i <= f.parts; i++ {
		out = append(out, filepath.Join(fixtureDir, f.name+".vmcore."+string(rune('0'+i))))
	}
	return out
}

func openFixture(t testing.TB, paths ...string) *Dump {
	t.Helper()
	d, err := Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestFixturesListed: every dump in testdata/dumps is in the table above,
// so none goes untested.
func TestFixturesListed(t *testing.T) {
	known := map[string]bool{}
	for _, f := range fixtures {
		for _, p := range f.files() {
			known[filepath.Base(p)] = true
		}
	}
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.Contains(e.Name(), ".vmcore") {
			n++
			if !known[e.Name()] {
				t.Errorf("%s is not in the fixture table of vmcore/fixtures_test.go", e.Name())
			}
		}
	}
	if n != len(known) {
		t.Errorf("%d dump files in %s, table names %d", n, fixtureDir, len(known))
	}
}

// TestFixtures opens each fixture and checks what vmcore reports about it,
// then reads every page it holds.
func TestFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			d := openFixture(t, f.files()...)
			if d.Format != "kdump-compressed" || d.Compression != f.compression || d.Flattened != f.flattened ||
				d.Split != (f.parts > 1) || d.Incomplete != f.incomplete {
				t.Errorf("got %q, want %s compression, flattened %v, %d parts, incomplete %v",
					d.Describe(), f.compression, f.flattened, f.parts, f.incomplete)
			}
			if d.VMCoreInfo == nil {
				t.Fatalf("no VMCOREINFO: %v", d.VMCoreInfoErr)
			}
			if r := d.VMCoreInfo.OSRelease(); r != "6.1.0-56-cloud-amd64" {
				t.Errorf("OSRELEASE %q", r)
			}
			if d.PageSize != 4096 || len(d.PRStatus()) != 2 {
				t.Errorf("page size %d, %d saved CPU states; want 4096 and 2", d.PageSize, len(d.PRStatus()))
			}
			c := pagesOf(t, d)
			// The RAM bitmap is copied whole (1 GiB guests; QEMU counts
			// about half as RAM); only the pages read by ktriage are present.
			if c.Total < 100000 || c.Total > 262144 || c.Present < 100 || c.Present > 4000 ||
				c.Excluded != c.Total-c.Present-c.Lost || c.Lost != f.lost {
				t.Errorf("page counts %+v (want %d lost)", c, f.lost)
			}
			var present, lost uint64
			page := make([]byte, d.PageSize)
			for pfn := uint64(0); pfn < uint64(c.Total)+1<<16; pfn++ {
				_, _, _, _, derr := d.PageDescriptor(pfn)
				_, err := d.ReadPhys(page, pfn*uint64(d.PageSize))
				switch {
				case derr == nil && err == nil:
					present++
					// Whole pages bypass the page cache; a short read goes
					// through it and must see the same bytes.
					tail := make([]byte, 24)
					if _, err := d.ReadPhys(tail, pfn*uint64(d.PageSize)+uint64(d.PageSize)-24); err != nil || string(tail) != string(page[len(page)-24:]) {
						t.Fatalf("pfn %#x: cached read of the last 24 bytes %x %v, whole-page read %x", pfn, tail, err, page[len(page)-24:])
					}
				case errors.Is(derr, ErrLost) && errors.Is(err, ErrLost):
					lost++
				case (errors.Is(derr, ErrExcluded) || errors.Is(derr, ErrNotPresent)) &&
					(d.InRAM(pfn) && errors.Is(err, ErrExcluded) || !d.InRAM(pfn) && errors.Is(err, ErrNotPresent)):
				default:
					t.Fatalf("pfn %#x: descriptor %v, read %v", pfn, derr, err)
				}
			}
			if present != c.Present || lost != c.Lost {
				t.Errorf("read %d pages and %d lost, Pages() says %d and %d", present, lost, c.Present, c.Lost)
			}
		})
	}
}

// kdumpMeta reads the fields of a plain (not flattened) fixture that the
// damage tests need: where descriptors start and how many there are.
func kdumpMeta(t *testing.T, path string) (k *kdumpFile) {
	t.Helper()
	d := openFixture(t, path)
	if len(d.kdumps) != 1 || d.Flattened {
		t.Fatalf("%s: want one plain kdump file", path)
	}
	return d.kdumps[0]
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAllPages reads every dumped page; it returns the first error.
func readAllPages(d *Dump) error {
	page := make([]byte, d.PageSize)
	for _, k := range d.kdumps {
		for pfn := k.startPFN; pfn < k.endPFN; pfn++ {
			if !dumpedBit(k, pfn) {
				continue
			}
			if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); err != nil {
				return err
			}
		}
	}
	return nil
}

// namesFile: a bad-input error must be a FormatError naming the file.
func namesFile(t *testing.T, err error, path, what string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Path != path || !strings.Contains(err.Error(), path) {
		t.Errorf("%s: want a FormatError naming %s, got %v", what, path, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s: error is not one line: %q", what, err)
	}
}

// TestFixtureTruncated cuts real fixtures at points inside each region of
// the format. Before the descriptors, Open must fail; after, Open may
// succeed but some page read must fail; always with an error naming the file.
func TestFixtureTruncated(t *testing.T) {
	for _, name := range []string{"sysrq-kdump-lzo", "sysrq-flat-lzo"} {
		src := filepath.Join(fixtureDir, name+".vmcore")
		full, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var dataOff, end int64 = 0, int64(len(full))
		d := openFixture(t, src)
		dataOff = d.kdumps[0].dataOff
		cuts := map[string]int64{
			"empty": 0, "mid-header": 100, "after-header": 464, "mid-subheader": 4096 + 50,
			"mid-notes": 4096 + 500, "mid-bitmap1": 3*4096 + 1000, "mid-bitmap2": dataOff - 1000,
			"mid-descriptors": dataOff + 24*20 + 7, "mid-data": end - 5000, "last-byte": end - 1,
		}
		names := make([]string, 0, len(cuts))
		for k := range cuts {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, cut := range names {
			at := cuts[cut]
			t.Run(name+"/"+cut, func(t *testing.T) {
				p := writeTemp(t, name+".vmcore", full[:at])
				d, err := Open(p)
				if err != nil {
					if d != nil {
						t.Errorf("Open returned a dump with its error")
					}
					if at == 0 {
						if !strings.Contains(err.Error(), p) {
							t.Errorf("error does not name the file: %v", err)
						}
						return
					}
					namesFile(t, err, p, "Open")
					return
				}
				defer d.Close()
				if !d.Flattened && at < dataOff {
					t.Fatalf("Open accepted a dump cut at %d, before its descriptors at %d", at, dataOff)
				}
				// Cut in the page data: the dump opens as incomplete, with a
				// warning naming the file, and the pages past the cut are lost.
				if !d.Incomplete || len(d.Warnings) == 0 || !strings.Contains(d.Warnings[0], p) {
					t.Fatalf("cut at %d of %d bytes: incomplete %v, warnings %q", at, end, d.Incomplete, d.Warnings)
				}
				if c := pagesOf(t, d); c.Lost == 0 && !(d.Flattened && at >= end-16) {
					t.Errorf("cut at %d of %d bytes: pages %+v count none lost", at, end, c)
				}
				err = readAllPages(d)
				switch {
				case err == nil && d.Flattened && at >= end-16:
					// Only the stream's end marker is cut: every page is there.
				case err == nil:
					t.Fatalf("every page read from a dump cut at %d of %d bytes", at, end)
				case !errors.Is(err, ErrLost):
					t.Fatalf("page read: %v, want ErrLost", err)
				}
			})
		}
	}
}

func TestFixtureNotADump(t *testing.T) {
	p := writeTemp(t, "notes.txt", []byte("this is a text file, not a crash dump\n"))
	_, err := Open(p)
	namesFile(t, err, p, "text file")
	if err != nil && !strings.Contains(err.Error(), "not a crash dump") {
		t.Errorf("error does not say what is wrong: %v", err)
	}
	p = writeTemp(t, "empty", nil)
	_, err = Open(p)
	namesFile(t, err, p, "empty file")
}

// TestFixtureVMCoreInfoZeroed: a dump whose VMCOREINFO was wiped still
// opens (its pages are intact) but says the VMCOREINFO is unusable.
func TestFixtureVMCoreInfoZeroed(t *testing.T) {
	src := filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	sh := b[4096:] // sub-header at block 1
	off, size := binary.LittleEndian.Uint64(sh[32:]), binary.LittleEndian.Uint64(sh[40:])
	if off == 0 || size == 0 {
		t.Fatal("fixture has no VMCOREINFO blob")
	}
	clear(b[off : off+size])
	p := writeTemp(t, "zeroed.vmcore", b)
	d, err := Open(p)
	if err != nil {
		namesFile(t, err, p, "Open")
		return
	}
	defer d.Close()
	if d.VMCoreInfo != nil || d.VMCoreInfoErr == nil || !strings.Contains(d.VMCoreInfoErr.Error(), "zeroed") {
		t.Errorf("VMCOREINFO %v, error %v: want none, and an error saying it is zeroed", d.VMCoreInfo != nil, d.VMCoreInfoErr)
	}
}

// TestFixtureUnknownCompression: a descriptor with a compression flag no
// writer uses makes that page's read fail, naming the file and the flag.
func TestFixtureUnknownCompression(t *testing.T) {
	src := filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore")
	k := kdumpMeta(t, src)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[k.dataOff+12:], 0x40) // flags of descriptor 0
	p := writeTemp(t, "badflag.vmcore", b)
	d := openFixture(t, p)
	err = readAllPages(d)
	namesFile(t, err, p, "unknown flag")
	if err != nil && !strings.Contains(err.Error(), "unknown compression flag 0x40") {
		t.Errorf("error does not name the flag: %v", err)
	}
}

// TestFixtureIncomplete: pages whose descriptors an interrupted capture
// never wrote are reported lost, never read as zeros or as damage.
func TestFixtureIncomplete(t *testing.T) {
	d := openFixture(t, filepath.Join(fixtureDir, "sysrq-incomplete-lzo.vmcore"))
	if !d.Incomplete || !strings.Contains(d.Describe(), "INCOMPLETE") {
		t.Errorf("%q: not reported incomplete", d.Describe())
	}
	const lost = 3 // testdata/dumps/make.sh: cut.go -lost 3
	if c := pagesOf(t, d); c.Lost != lost {
		t.Errorf("%d pages lost, want %d", c.Lost, lost)
	}
	k := d.kdumps[0]
	page := make([]byte, d.PageSize)
	n := 0
	for pfn := k.maxMapnr; pfn > 0 && n < lost; pfn-- {
		if !dumpedBit(k, pfn-1) {
			continue
		}
		n++
		_, err := d.ReadPhys(page, (pfn-1)*uint64(d.PageSize))
		var pe *PageError
		if !errors.Is(err, ErrLost) || !errors.As(err, &pe) || pe.Addr != (pfn-1)*uint64(d.PageSize) {
			t.Errorf("pfn %#x: got %v, want ErrLost at its address", pfn-1, err)
		}
	}
	// The same dump without the INCOMPLETE flag: the zeroed descriptors
	// are damage, not lost pages.
	b, err := os.ReadFile(d.Paths[0])
	if err != nil {
		t.Fatal(err)
	}
	st := binary.LittleEndian.Uint32(b[hdrOffStatus:])
	binary.LittleEndian.PutUint32(b[hdrOffStatus:], st&^flagIncomplete)
	p := writeTemp(t, "unflagged.vmcore", b)
	u := openFixture(t, p)
	if c := pagesOf(t, u); c.Lost != 0 {
		t.Errorf("unflagged dump: %d lost", c.Lost)
	}
	err = readAllPages(u)
	namesFile(t, err, p, "zeroed descriptor in a complete dump")
}

// dumpedBit tells whether bitmap 2 marks pfn dumped (false when its block
// cannot be read).
func dumpedBit(k *kdumpFile, pfn uint64) bool {
	ok, _ := k.isDumped(pfn)
	return ok
}

// pagesOf is d.Pages(), which must not fail.
func pagesOf(t testing.TB, d *Dump) PageCounts {
	t.Helper()
	c, err := d.Pages()
	if err != nil {
		t.Fatalf("page counts: %v", err)
	}
	return c
}
