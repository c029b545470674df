package vmcore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is the shared corpus of real dumps beside the repository.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, _ := filepath.Abs("../../shared/corpus/dumps")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real-dump corpus not found at %s (it sits beside the repo as ../shared): %v", dir, err)
	}
	return dir
}

// corpusDumpFiles returns the dump files of one corpus folder, skipping the
// zstd-packed ELF core unless it was unpacked (see unpackedELF).
func corpusDumpFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if n == "vmcore" || strings.HasPrefix(n, "vmcore.") && n != "vmcore.zst" {
			files = append(files, filepath.Join(dir, n))
		}
	}
	return files
}

func TestCorpusOpen(t *testing.T) {
	root := corpusDir(t)
	dirs, _ := os.ReadDir(root)
	for _, e := range dirs {
		files := corpusDumpFiles(t, filepath.Join(root, e.Name()))
		if len(files) == 0 {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			d, err := Open(files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.VMCoreInfo == nil {
				t.Fatalf("no VMCOREINFO: %v", d.VMCoreInfoErr)
			}
			if got := d.VMCoreInfo.OSRelease(); got != "6.1.0-56-cloud-amd64" {
				t.Errorf("OSRELEASE = %q", got)
			}
			pc := pagesOf(t, d)
			t.Logf("%s: %s pages %+v phys_base %#x cpus %d panic cpu %d notes %d", e.Name(), d.Describe(), pc, d.PhysBase, d.NrCPUs, d.PanicCPU, len(d.Notes))
			if pc.Present == 0 || pc.Total < pc.Present {
				t.Errorf("page counts implausible: %+v", pc)
			}
		})
	}
}
