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
	}
	// The index and fetched debuginfo as a run leaves them (this process's
	// names cache may already hold the fixture's build and write none).
	for _, f := range []string{"index/0123abcd.idx", "index/0123abcd.names", "debuginfod/0123abcd/debuginfo"} {
		p := filepath.Join(cache, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("kept between runs"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := func(area string) int {
		_, n := areaSize(filepath.Join(cache, area))
		return n
	}
	analyze()
	if files("bitmaps") == 0 {
		t.Fatal("analyze of a kdump file kept no bitmap counts")
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
	if err != nil || files("index")+files("bitmaps")+files("debuginfod") != 0 {
		t.Errorf("cache clean --all: %v, %d index, %d bitmap and %d debuginfo files left\n%s", err, files("index"), files("bitmaps"), files("debuginfod"), out)
	}
	if _, err := os.Stat(filepath.Join(cache, "index")); err != nil {
		t.Errorf("the index folder itself should stay: %v", err)
	}
	analyze()
	if files("bitmaps") == 0 {
		t.Error("the run after clean --all kept no bitmap counts")
	}
}
