package kernel

import (
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

// BenchmarkDmesg is ktriage dmesg without process start-up: open the dump,
// find the page tables, decode the printk ring and format it, per dump.
func BenchmarkDmesg(b *testing.B) {
	for _, c := range corpus.Dumps(b) {
		b.Run(c.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dumpDmesg(b, c.Files...)
			}
		})
	}
}
