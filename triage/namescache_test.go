package triage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dumps read with one shared NamesCache (as fleet reads them) give the
// same incidents as each read alone, across builds (6.1 and 6.12) and
// KASLR offsets, and the cache is actually used.
func TestSharedNamesGiveTheSameIncidents(t *testing.T) {
	var dumps []string
	for _, p := range bundledInputs(t) {
		if strings.HasSuffix(p, ".vmcore") {
			dumps = append(dumps, "../"+p)
		}
	}
	if len(dumps) < 4 {
		t.Fatalf("only %d fixture dumps", len(dumps))
	}
	cache := t.TempDir()
	t.Setenv("KTRIAGE_CACHE", cache)
	alone := map[string]string{}
	for _, p := range dumps {
		in, err := LoadDump([]string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(in)
		alone[p] = string(j)
	}
	// The first pass fills the cache in memory and on disk; the second, a
	// new process in effect, starts from the disk copy; the third finds
	// every disk copy damaged and must not trust any.
	for pass, how := range []string{"in memory", "from disk", "damaged on disk"} {
		if pass == 2 {
			files, _ := filepath.Glob(filepath.Join(cache, "index", "*.names"))
			if len(files) == 0 {
				t.Fatal("no names were kept on disk")
			}
			for _, f := range files {
				data, _ := os.ReadFile(f)
				data[len(data)/2] ^= 1
				if err := os.WriteFile(f, data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		names := NewNamesCache()
		for _, p := range dumps {
			in, err := LoadDump([]string{p}, Options{Names: names})
			if err != nil {
				t.Fatal(err)
			}
			if j, _ := json.Marshal(in); string(j) != alone[p] {
				t.Errorf("%s: read with names %s differs from read alone", p, how)
			}
		}
		names.Wait() // the next pass reads the disk copies
		if names.Reused() == 0 {
			t.Errorf("%s: %d dumps of few builds, and the cache was never used", how, len(dumps))
		}
		t.Logf("%s: %d dumps, %d named from the cache", how, len(dumps), names.Reused())
	}
}
