package crashdir

import (
	"strings"
	"testing"
)

// The bar counts every crash, names the last one, and Finish blanks the
// line it drew.
func TestTerminalProgress(t *testing.T) {
	var b strings.Builder
	p := NewTerminalProgress(&b)
	p.Start(3)
	for _, d := range []string{"/var/crash/127.0.0.1-2024-01-01-00:00:00/vmcore", "/var/crash/b/vmcore", "/var/crash/c/vmcore"} {
		p.Done(&Result{Crash: Crash{Dumps: []string{d}}})
	}
	out := b.String()
	if !strings.Contains(out, "analyzing crashes [") || !strings.Contains(out, "] 0/3") {
		t.Errorf("no initial bar in %q", out)
	}
	if !strings.Contains(out, "[==============================] 3/3 c/vmcore") {
		t.Errorf("last draw does not show 3/3 and the last crash: %q", out)
	}
	before := len(out)
	p.Finish()
	tail := b.String()[before:]
	if !strings.HasPrefix(tail, "\r") || !strings.HasSuffix(tail, "\r") || strings.TrimSpace(tail) != "" {
		t.Errorf("Finish wrote %q, want the line blanked", tail)
	}
}
