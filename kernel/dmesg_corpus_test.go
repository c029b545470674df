package kernel

import (
	"os"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
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
			sameLog(t, dumpDmesg(t, c.Files...), want)
		})
	}
}
