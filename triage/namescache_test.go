package triage

import (
	"encoding/json"
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
	names := NewNamesCache()
	for _, p := range dumps {
		alone, err := LoadDump([]string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		shared, err := LoadDump([]string{p}, Options{Names: names})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(alone)
		b, _ := json.Marshal(shared)
		if string(a) != string(b) {
			t.Errorf("%s: read with the shared names differs from read alone", p)
		}
	}
	if names.Reused() == 0 {
		t.Errorf("%d dumps of few builds, and the cache was never used", len(dumps))
	}
	t.Logf("%d dumps, %d named from the cache", len(dumps), names.Reused())
}
