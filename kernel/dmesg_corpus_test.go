package kernel

import (
	"bytes"
	"os"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/vmcore"
)

// TestCorpusDmesg: on every real dump, the log we decode with no debuginfo
// is byte for byte what crash 8.0.6's `log` (= makedumpfile --dump-dmesg) printed.
func TestCorpusDmesg(t *testing.T) {
	for _, c := range corpus.Dumps(t) {
		t.Run(c.Name, func(t *testing.T) {
			want, err := os.ReadFile(c.Oracle("crash-8.0.6", "log.txt"))
			if err != nil {
				t.Skipf("no oracle: %v", err)
			}
			d, err := vmcore.Open(c.Files...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			as, err := NewAddressSpace(d)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := ReadLog(as, d.VMCoreInfo)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := WriteDmesg(&got, recs); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				gl, wl := bytes.Split(got.Bytes(), []byte("\n")), bytes.Split(want, []byte("\n"))
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if !bytes.Equal(gl[i], wl[i]) {
						t.Fatalf("line %d differs:\n got %q\nwant %q", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("log differs in length: got %d lines, want %d", len(gl), len(wl))
			}
			if as.PageOffset == 0 {
				t.Errorf("direct map base not found")
			}
		})
	}
}
