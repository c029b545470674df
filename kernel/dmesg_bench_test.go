package kernel

import (
	"io"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
	"github.com/ktriage/ktriage/vmcore"
)

// BenchmarkDmesg is ktriage dmesg without process start-up: open the dump,
// find the page tables, decode the printk ring and format it, per dump.
func BenchmarkDmesg(b *testing.B) {
	for _, c := range corpus.Dumps(b) {
		b.Run(c.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				d, err := vmcore.Open(c.Files...)
				if err != nil {
					b.Fatal(err)
				}
				as, err := NewAddressSpace(d)
				if err != nil {
					b.Fatal(err)
				}
				recs, err := ReadLog(as, d.VMCoreInfo)
				if err != nil {
					b.Fatal(err)
				}
				if err := WriteDmesg(io.Discard, recs); err != nil {
					b.Fatal(err)
				}
				d.Close()
			}
		})
	}
}
