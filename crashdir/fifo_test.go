package crashdir

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A crash folder whose vmcore is a link to a FIFO (or is one) used to block
// discovery forever; it must be skipped with its reason, and the real crash
// beside it found.
func TestDiscoverSkipsFIFOs(t *testing.T) {
	root := t.TempDir()
	bad := filepath.Join(root, "127.0.0.1-2026-12-01-10:00:00")
	good := filepath.Join(root, "127.0.0.1-2026-12-02-10:00:00")
	for _, d := range []string{bad, good} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fifo := filepath.Join(root, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Symlink(fifo, filepath.Join(bad, "vmcore")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(bad, "vmcore-dmesg.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(good, "vmcore"), []byte("KDUMP   "), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		d   *Discovery
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := Discover([]string{root})
		done <- result{d, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("discovery blocked on a FIFO")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.d.Crashes) != 1 || r.d.Crashes[0].Dir != good {
		t.Errorf("crashes = %+v, want only %s", r.d.Crashes, good)
	}
	skippedLink := false
	for _, s := range r.d.Skipped {
		if s.Path == filepath.Join(bad, "vmcore") && strings.Contains(s.Reason, "not a regular file") {
			skippedLink = true
		}
	}
	if !skippedLink {
		t.Errorf("the link to a FIFO is not listed as skipped with its reason: %+v", r.d.Skipped)
	}
}
