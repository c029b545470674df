package triage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/kernel"
	"github.com/ktriage/ktriage/vmcore"
)

// TestStackCutByDamagedPage: one damaged page under a stack cut the
// backtrace short with no warning. The incident now says the stack ends
// early, and why.
func TestStackCutByDamagedPage(t *testing.T) {
	src := "../testdata/dumps/hung-kdump-zstd.vmcore"
	d, err := vmcore.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	opened, err := kernel.Open(d, kernel.OpenOptions{})
	if err == nil && opened.Kernel == nil {
		err = opened.KernelErr
	}
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	k := opened.Kernel
	ps := uint64(d.PageSize)
	pageOf := func(sp uint64) uint64 {
		pa, err := k.AS.Translate(sp)
		if err != nil {
			t.Fatal(err)
		}
		return pa / ps
	}
	// A CPU whose stack spans pages: the first frame whose stack slot lies
	// on another page than the top frame's.
	var frames []kernel.Frame
	pfn := uint64(0)
	for cpu := 0; cpu < d.NrCPUs && pfn == 0; cpu++ {
		_, frames, _ = k.CPUBacktrace(cpu)
		if len(frames) == 0 {
			continue
		}
		top := pageOf(frames[0].SP)
		for _, f := range frames[1:] {
			if p := pageOf(f.SP); p != top {
				pfn = p
				break
			}
		}
	}
	if pfn == 0 {
		t.Fatal("no CPU's stack spans two pages")
	}
	_, off, _, _, err := d.PageDescriptor(pfn)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[off:], "DAMAGED!") // over the zstd frame's magic and header
	p := filepath.Join(t.TempDir(), "damaged.vmcore")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := LoadDump([]string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range in.Warnings {
		if strings.Contains(w, "ends early") && strings.Contains(w, "damaged") {
			t.Log(w)
			return
		}
	}
	t.Fatalf("no warning that a stack ends early at a damaged page: %q", in.Warnings)
}
