package vmcore

import (
	"bytes"
	"errors"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// failingReader fails reads that overlap [from, to) once armed, and
// counts them.
type failingReader struct {
	r        *bytes.Reader
	from, to int64
	mu       sync.Mutex
	armed    bool
	failed   int
}

func (f *failingReader) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed && off < f.to && off+int64(len(p)) > f.from {
		f.failed++
		return 0, errors.New("input/output error")
	}
	return f.r.ReadAt(p, off)
}

// TestBitmapBlockUnreadable: a block of either bitmap that cannot be read
// after the open leaves its pfns out of the page counts (in Unread, not
// counted excluded), is tried once per count, not once per 64 pfns, and
// its error is returned naming the file.
func TestBitmapBlockUnreadable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixtureDir, "sysrq-kdump-lzo.vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := openKdumpBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := pagesOf(t, ref)
	rk := ref.kdumps[0]
	const i = 0 // low memory: RAM, dumped pages and filtered ones
	ramBlock, err := rk.block(&rk.ram, i)
	if err != nil {
		t.Fatal(err)
	}
	dumpedBlock, err := rk.block(&rk.dumped, i)
	if err != nil {
		t.Fatal(err)
	}
	var ram, dumped, excluded uint64
	for w := range ramBlock {
		ram += uint64(bits.OnesCount64(ramBlock[w]))
		dumped += uint64(bits.OnesCount64(dumpedBlock[w]))
		excluded += uint64(bits.OnesCount64(ramBlock[w] &^ dumpedBlock[w]))
	}
	if ram == 0 || dumped == 0 || excluded == 0 {
		t.Fatalf("block %d: %d RAM, %d dumped, %d excluded pages: want some of each", i, ram, dumped, excluded)
	}
	for _, bm := range []*lazyBitmap{&rk.ram, &rk.dumped} {
		t.Run(bm.name, func(t *testing.T) {
			fr := &failingReader{r: bytes.NewReader(raw), from: bm.off + i*bitmapBlockBytes, to: bm.off + (i+1)*bitmapBlockBytes}
			k, err := openKdump(fr, int64(len(raw)), fuzzPath, nil, countsKeeping{})
			if err != nil {
				t.Fatal(err)
			}
			d := &Dump{Paths: []string{fuzzPath}, cache: newPageCache(64), PanicCPU: -1, DumpLevel: -1, kdumps: []*kdumpFile{k}}
			if err := d.finish(); err != nil {
				t.Fatal(err)
			}
			fr.mu.Lock()
			fr.armed = true
			fr.mu.Unlock()
			c, err := d.Pages()
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Path != fuzzPath || !strings.Contains(err.Error(), bm.name) {
				t.Errorf("page counts with %s block %d unreadable: error %v, want one naming the file and the bitmap", bm.name, i, err)
			}
			wantc := PageCounts{Total: want.Total - ram, Present: want.Present - dumped, Excluded: want.Excluded - excluded, Lost: want.Lost, Unread: bitmapBlockPFNs}
			if c != wantc {
				t.Errorf("page counts %+v, want %+v (block %d left out)", c, wantc, i)
			}
			if fr.failed > 1 {
				t.Errorf("the unreadable block was tried %d times for one count", fr.failed)
			}
			if _, err := d.HasExcluded(); err == nil && fr.failed < 2 {
				t.Errorf("HasExcluded did not try block %d, or hid its error", i)
			}
		})
	}
}
