package cutdump

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ktriage/ktriage/vmcore"
)

// The cutter is tested on the project's own fixtures (real dumps already
// cut, ../../testdata/dumps), so it needs nothing outside the repository:
// the "full" fixtures hold more pages than the dmesg path reads, which
// leaves room to cut again and to lose pages.

const fixtureDir = "../../testdata/dumps"

func open(t *testing.T, paths ...string) *vmcore.Dump {
	t.Helper()
	d, err := vmcore.Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestCutReadsTheSame(t *testing.T) {
	src := open(t, filepath.Join(fixtureDir, "sysrq-kdump-zlib.vmcore"))
	want, err := Run(src.Paths, ReadDmesg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"flattened", Options{Flattened: true}},
		{"split-3", Options{Parts: 3}},
		{"split-2-flattened", Options{Parts: 2, Flattened: true}},
		{"incomplete", Options{Lost: 5}},
		{"split-incomplete", Options{Parts: 2, Lost: 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "cut.vmcore")
			res, err := Write(src, want.PFNs, out, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			d := open(t, res.Paths...)
			got, err := Run(res.Paths, ReadDmesg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := got.Same(want); diff != "" {
				t.Fatal(diff)
			}
			parts := max(c.opts.Parts, 1)
			if len(res.Paths) != parts || d.Flattened != c.opts.Flattened || d.Split != (parts > 1) ||
				d.Incomplete != (c.opts.Lost > 0) || d.Compression != "zlib" {
				t.Errorf("%s from %d files, want %+v", d.Describe(), len(res.Paths), c.opts)
			}
			pc, err := d.Pages()
			if err != nil {
				t.Fatal(err)
			}
			if pc.Present != uint64(res.Kept) || pc.Lost != uint64(c.opts.Lost) || len(res.LostPFNs) != c.opts.Lost {
				t.Errorf("pages %+v, kept %d, lost %v", pc, res.Kept, res.LostPFNs)
			}
			if srcPC, err := src.Pages(); err != nil || pc.Total != srcPC.Total {
				t.Errorf("RAM pages %d, source %d: bitmap 1 not copied as is", pc.Total, srcPC.Total)
			}
			page := make([]byte, d.PageSize)
			for _, pfn := range res.LostPFNs {
				if _, err := d.ReadPhys(page, pfn*uint64(d.PageSize)); !errors.Is(err, vmcore.ErrLost) {
					t.Errorf("lost pfn %#x read: %v", pfn, err)
				}
			}
			// Every kept page decompresses to the source's bytes.
			srcPage := make([]byte, d.PageSize)
			for _, pfn := range got.PFNs {
				_, errSrc := src.ReadPhys(srcPage, pfn*uint64(d.PageSize))
				_, errCut := d.ReadPhys(page, pfn*uint64(d.PageSize))
				if (errSrc == nil) != (errCut == nil) || !bytes.Equal(srcPage, page) {
					t.Fatalf("pfn %#x: source %v, cut %v, same bytes %v", pfn, errSrc, errCut, bytes.Equal(srcPage, page))
				}
			}
			var total int64
			for _, p := range res.Paths {
				st, _ := os.Stat(p)
				total += st.Size()
			}
			if total > 1<<20 {
				t.Errorf("%d bytes for the dmesg path of a dump", total)
			}
		})
	}
}

// TestCutDropsPagesTheSourceLacks: pfns the reader saw excluded or absent
// are not invented in the cut.
func TestCutDropsPagesTheSourceLacks(t *testing.T) {
	src := open(t, filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore"))
	var excluded uint64
	for pfn := uint64(0); pfn < 1<<18; pfn++ {
		if src.InRAM(pfn) {
			if _, _, _, _, err := src.PageDescriptor(pfn); errors.Is(err, vmcore.ErrExcluded) {
				excluded = pfn
				break
			}
		}
	}
	w, err := Run(src.Paths, ReadDmesg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Write(src, append([]uint64{excluded, 1 << 40}, w.PFNs...), filepath.Join(t.TempDir(), "cut.vmcore"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := open(t, res.Paths...)
	if _, _, _, _, err := d.PageDescriptor(excluded); !errors.Is(err, vmcore.ErrExcluded) {
		t.Errorf("excluded pfn %#x in the cut: %v", excluded, err)
	}
	pc, err := d.Pages()
	if err != nil {
		t.Fatal(err)
	}
	if got := pc.Present; got != uint64(len(w.PFNs)) || res.Kept != len(w.PFNs) {
		t.Errorf("%d pages present, %d kept; the workload read %d, all held by the source", got, res.Kept, len(w.PFNs))
	}
}

func TestCutRefusesWhatItCannotDo(t *testing.T) {
	src := open(t, filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore"))
	w, err := Run(src.Paths, ReadDmesg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The fixture holds the dmesg pages and a few makedumpfile reads, not
	// a thousand more above them to lose.
	if _, err := Write(src, w.PFNs, filepath.Join(dir, "a"), Options{Lost: 1000}); err == nil {
		t.Error("lost pages invented above the last dumped page")
	}
	if _, err := Write(src, w.PFNs[:2], filepath.Join(dir, "b"), Options{Parts: 5}); err == nil {
		t.Error("split 2 pages into 5 parts")
	}
}
