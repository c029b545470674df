package cutdump

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// TestBuildReadsBack: a dump built from scratch from a fixture's pages, in
// each codec, opens with the header facts, notes and page bytes of its
// source.
func TestBuildReadsBack(t *testing.T) {
	src := open(t, filepath.Join(fixtureDir, "sysrq-kdump-zlib.vmcore"))
	w, err := Run(src.Paths, ReadDmesg)
	if err != nil {
		t.Fatal(err)
	}
	var notes []EncodedNote
	vmci := -1
	for i, n := range src.Notes {
		if n.Name == "VMCOREINFO" {
			vmci = i
		}
		notes = append(notes, EncodedNote{n.Name, n.Type, n.Desc})
	}
	area, offs := EncodeNotes(notes)
	for _, codec := range []string{"zlib", "zstd", "none"} {
		t.Run(codec, func(t *testing.T) {
			p, err := NewPacker(codec)
			if err != nil {
				t.Fatal(err)
			}
			page := make([]byte, src.PageSize)
			var pages []Packed
			for _, pfn := range w.PFNs {
				if _, err := src.ReadPhys(page, pfn*uint64(src.PageSize)); err == nil {
					pages = append(pages, p.Pack(pfn, page))
				}
			}
			img := &Image{Uts: src.Uts, Time: src.HeaderTime, BlockSize: src.PageSize, MaxMapnr: src.MaxPFN(),
				NrCPUs: src.NrCPUs, CurrentCPU: src.PanicCPU, PhysBase: src.PhysBase, DumpLevel: 31,
				Notes: area, VMCoreInfoOff: offs[vmci], VMCoreInfoLen: int64(len(src.Notes[vmci].Desc)),
				RAM: src.InRAM, Status: p.Status()}
			out := filepath.Join(t.TempDir(), "built.vmcore")
			if _, err := Build(out, img, pages); err != nil {
				t.Fatal(err)
			}
			d := open(t, out)
			if d.Uts != src.Uts || d.NrCPUs != src.NrCPUs || d.PanicCPU != src.PanicCPU || d.PhysBase != src.PhysBase ||
				!d.HeaderTime.Equal(src.HeaderTime) || d.DumpLevel != 31 || d.VMCoreInfo == nil || d.VMCoreInfo.Raw != src.VMCoreInfo.Raw {
				t.Errorf("header of the built dump differs: %+v", d)
			}
			if want := map[string]string{"zlib": "zlib", "zstd": "zstd", "none": "none"}[codec]; d.Compression != want {
				t.Errorf("compression %q", d.Compression)
			}
			if len(d.Notes) != len(src.Notes) || len(d.PRStatus()) != len(src.PRStatus()) {
				t.Errorf("%d notes, source %d", len(d.Notes), len(src.Notes))
			}
			pc, err1 := d.Pages()
			spc, err2 := src.Pages()
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			if pc.Present != uint64(len(pages)) || pc.Total != spc.Total {
				t.Errorf("pages %+v, source %+v, built from %d", pc, spc, len(pages))
			}
			got := make([]byte, src.PageSize)
			for _, pg := range pages {
				src.ReadPhys(page, pg.PFN*uint64(src.PageSize))
				if _, err := d.ReadPhys(got, pg.PFN*uint64(src.PageSize)); err != nil || !bytes.Equal(got, page) {
					t.Fatalf("pfn %#x: %v, same bytes %v", pg.PFN, err, bytes.Equal(got, page))
				}
			}
		})
	}
}
