package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cache list shows every area the runs filled; clean keeps the indexes
// unless --all; what --all removes is rebuilt by the next run.
func TestCacheListAndCleanAll(t *testing.T) {
	home := isolate(t)
	cache := filepath.Join(home, "cache")
	analyze := func() {
		t.Helper()
		if _, stderr, err := runSplit(t, "analyze", "--no-debuginfo", "--format", "json", fixtureDump); err != nil {
			t.Fatalf("analyze: %v\n%s", err, stderr)
		}
		names().Wait() // the build's names are written beside the run
	}
	files := func(area string) int {
		_, n := areaSize(filepath.Join(cache, area))
		return n
	}
	analyze()
	if files("index") == 0 || files("bitmaps") == 0 {
		t.Fatalf("after analyze: %d index files, %d bitmap files; want both filled", files("index"), files("bitmaps"))
	}
	out, _, err := runSplit(t, "cache", "list")
	if err != nil || !strings.Contains(out, filepath.Join(cache, "index")) || !strings.Contains(out, filepath.Join(cache, "bitmaps")) {
		t.Errorf("cache list: %v\n%s", err, out)
	}
	out, _, err = runSplit(t, "cache", "clean")
	if err != nil || !strings.Contains(out, "--all removes them") || files("index") == 0 {
		t.Errorf("cache clean without --all: %v, %d index files left\n%s", err, files("index"), out)
	}
	out, _, err = runSplit(t, "cache", "clean", "--all")
	if err != nil || files("index") != 0 || files("bitmaps") != 0 {
		t.Errorf("cache clean --all: %v, %d index and %d bitmap files left\n%s", err, files("index"), files("bitmaps"), out)
	}
	if _, err := os.Stat(filepath.Join(cache, "index")); err != nil {
		t.Errorf("the index folder itself should stay: %v", err)
	}
	// The names stay in this process's memory; the dump's bitmap counts
	// are kept anew by the next open.
	analyze()
	if files("bitmaps") == 0 {
		t.Error("the run after clean --all kept no bitmap counts")
	}
}
