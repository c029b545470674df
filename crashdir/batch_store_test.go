package crashdir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestRerunReadsNothingUnchanged: a rerun over an unchanged tree reads no
// byte of its files (stat alone tells nothing changed); a moved folder is
// recognised by its inode, a copy elsewhere by its content. A deleted dump's
// row is marked vanished, a deleted failed one is removed; a capture still
// being written and rsync's hidden temporary file are not read at all.
func TestRerunReadsNothingUnchanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.SQLStore) {
		ctx := context.Background()
		st := open()
		root := t.TempDir()
		for i := 0; i < 5; i++ {
			fakeDump(t, filepath.Join(root, fmt.Sprintf("10.0.0.%d-2026-11-2%d-10:00:00", i, i), "vmcore"),
				fmt.Sprintf("BUG: crash %d", i))
		}
		broken := fakeDump(t, filepath.Join(root, "10.0.0.9-2026-11-29-10:00:00", "vmcore"), "BROKEN")
		run := func(settle time.Duration) *FleetResult {
			t.Helper()
			res, err := Run(ctx, Config{Roots: []string{root}, Jobs: 2, Store: st, LoadDump: fakeLoader, Settle: settle})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		run(0)
		before := ScanBytesRead()
		res := run(0)
		if n := ScanBytesRead() - before; n != 0 || res.Summary.Reused != 5 {
			t.Errorf("rerun read %d bytes of the tree and reused %d crashes; want 0 bytes, 5 reused", n, res.Summary.Reused)
		}
		// Moved within the tree: the same inode, nothing read, nothing analyzed.
		if err := os.Rename(filepath.Join(root, "10.0.0.1-2026-11-21-10:00:00"), filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		before = ScanBytesRead()
		res = run(0)
		for _, r := range res.Results {
			if !r.Row.Reused {
				t.Errorf("after a move, %s was analyzed again", r.Row.Path)
			}
		}
		if n := ScanBytesRead() - before; n > 1024 {
			t.Errorf("after a move the rerun read %d bytes, want next to none (the moved file is known by its inode)", n)
		}
		// Deleted: the ok dump's row stays, marked vanished; the failed one goes.
		if err := os.RemoveAll(filepath.Join(root, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Dir(broken)); err != nil {
			t.Fatal(err)
		}
		// A capture kdump is still writing, and an rsync temporary file.
		inc := fakeDump(t, filepath.Join(root, "10.0.0.7-2026-11-30-10:00:00", "vmcore-incomplete"), "BUG: partial")
		fakeDump(t, filepath.Join(root, "10.0.0.8-2026-11-30-11:00:00", ".vmcore.Xy12Ab"), "BUG: copying")
		res = run(time.Hour)
		waiting := false
		for _, s := range res.Skipped {
			waiting = waiting || s.Path == inc && strings.Contains(s.Reason, "still being written")
		}
		if !waiting || len(res.Results) != 4 {
			t.Errorf("a fresh vmcore-incomplete was not left for later (%d results, skipped %v)", len(res.Results), res.Skipped)
		}
		rows, err := st.Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vanished := 0
		for _, r := range rows {
			if r.Failed() {
				t.Errorf("the failed row of a deleted dump is still stored: %s", r.Path)
			}
			if r.Vanished {
				vanished++
			}
			if strings.Contains(r.Path, "-incomplete") || strings.Contains(r.Path, ".vmcore.") {
				t.Errorf("%s was stored, though still being written", r.Path)
			}
		}
		if len(rows) != 5 || vanished != 1 {
			t.Errorf("%d rows, %d vanished; want 5 rows, the deleted dump's marked vanished", len(rows), vanished)
		}
	})
}

// TestNewSincePreviousRun: the first run has nothing to compare with; the
// next counts only what it found, and flags a signature never seen before
// and one that struck a kernel for the first time.
func TestNewSincePreviousRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.SQLStore) {
		ctx := context.Background()
		st := open()
		root := t.TempDir()
		fakeDump(t, filepath.Join(root, "10.0.0.1-2026-11-20-10:00:00", "vmcore"), "BUG: old")
		release := "6.1.0-56"
		load := func(p []string, o triage.Options) (*incident.Incident, error) {
			in, err := fakeLoader(p, o)
			if in != nil {
				in.System.Release = release
			}
			return in, err
		}
		run := func() Summary {
			t.Helper()
			res, err := Run(ctx, Config{Roots: []string{root}, Jobs: 1, Store: st, LoadDump: load})
			if err != nil {
				t.Fatal(err)
			}
			return res.Summary
		}
		if s := run(); s.New != 0 || !s.NewSince.IsZero() {
			t.Errorf("first run: %d new since %v; want nothing to compare with", s.New, s.NewSince)
		}
		release = "6.1.0-57"
		fakeDump(t, filepath.Join(root, "10.0.0.2-2026-11-21-10:00:00", "vmcore"), "BUG: old\x00again")
		fakeDump(t, filepath.Join(root, "10.0.0.3-2026-11-22-10:00:00", "vmcore"), "BUG: brand new")
		s := run()
		if s.New != 2 {
			t.Errorf("second run: %d new, want the 2 it found", s.New)
		}
		for _, g := range s.ByTitle {
			switch g.Key {
			case "BUG: brand new":
				if !g.NewSignature {
					t.Errorf("a signature never seen before is not flagged new: %+v", g)
				}
			case "BUG: old":
				if g.NewSignature || len(g.FirstOnKernels) != 1 || g.FirstOnKernels[0] != "6.1.0-57" {
					t.Errorf("an old signature on a new kernel: %+v; want first on 6.1.0-57", g)
				}
			}
		}
		if s := run(); s.New != 0 {
			t.Errorf("third run, nothing new: %d new", s.New)
		}
	})
}

// ScanBytesRead is how many bytes of input files discovery and
// identification have read in this process.
func ScanBytesRead() int64 { return bytesRead.Load() }
