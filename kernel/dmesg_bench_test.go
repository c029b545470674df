package kernel

import (
	"path/filepath"
	"strings"
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

// BenchmarkOldDmesg is BenchmarkDmesg on the CentOS 7 fixtures (3.10's
// struct log records), which need no corpus.
func BenchmarkOldDmesg(b *testing.B) {
	fixtures, _ := filepath.Glob(filepath.Join("..", "testdata", "dumps-el7", "*.vmcore"))
	if len(fixtures) == 0 {
		b.Skip("no 3.10 fixtures in testdata/dumps-el7")
	}
	for _, f := range fixtures {
		b.Run(strings.TrimSuffix(filepath.Base(f), ".vmcore"), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				dumpDmesg(b, f)
			}
		})
	}
}
