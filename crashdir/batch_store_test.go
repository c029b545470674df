package crashdir

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/crashdir/store/storetest"
	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/triage"
)

// TestBatchRerunSkipsStored runs a batch into each store and again: the
// second run reads nothing, and --force reads everything again.
func TestBatchRerunSkipsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.SQLStore) {
		ctx := context.Background()
		st := open()
		root := t.TempDir()
		for i := 0; i < 6; i++ {
			fakeDump(t, filepath.Join(root, fmt.Sprintf("10.0.0.%d-2026-11-2%d-10:00:00", i, i), "vmcore"),
				fmt.Sprintf("BUG: crash %d\x00copy %d", i%2, i))
		}
		var reads int
		var mu sync.Mutex
		load := func(p []string, o triage.Options) (*incident.Incident, error) {
			mu.Lock()
			reads++
			mu.Unlock()
			return fakeLoader(p, o)
		}
		run := func(force bool) *FleetResult {
			res, err := Run(ctx, Config{Roots: []string{root}, Jobs: 2, Store: st, Force: force, LoadDump: load})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		first := run(false)
		if reads != 6 {
			t.Fatalf("first run read %d dumps, want 6", reads)
		}
		second := run(false)
		if reads != 6 {
			t.Errorf("rerun read %d dumps again, want none", reads-6)
		}
		if len(second.Summary.ByTitle) != 2 || second.Summary.Reused != 6 ||
			second.Summary.ByTitle[0].Count != first.Summary.ByTitle[0].Count {
			t.Errorf("rerun summary differs: %+v", second.Summary)
		}
		for i, r := range second.Results {
			if r.Incident != nil {
				t.Errorf("reused row %s: its incident was decoded though no report asked for it", r.Row.Path)
			}
			if in, err := second.IncidentOf(ctx, i); err != nil || in == nil || in.Title != r.Row.Title {
				t.Errorf("reused row %s lost its incident: %v", r.Row.Path, err)
			}
		}
		run(true)
		if reads != 12 {
			t.Errorf("--force read %d dumps, want 6 again", reads-6)
		}
		rows, _ := st.Rows(ctx)
		if len(rows) != 6 {
			t.Errorf("store holds %d rows after --force, want 6", len(rows))
		}
	})
}
