package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ktriage/ktriage/crashdir/store"
	"github.com/ktriage/ktriage/crashdir/store/storetest"
	"github.com/ktriage/ktriage/incident"
)

func testRow(key string, i int) *store.Row {
	return &store.Row{Key: key, Path: "/var/crash/" + key + "/vmcore", Size: int64(1000 + i), Checksum: "c" + key,
		Layout: "rhel-kdump", Host: fmt.Sprintf("host%d", i%7), Release: "6.1.0-56-cloud-amd64",
		Time: time.Date(2026, 11, 1+i%27, 10, 0, 0, 0, time.UTC), TimeSource: "dump",
		Title: "BUG: <title> 'quoted' in fn", Status: store.StatusOK, AnalyzedAt: time.Now().UTC(),
		Findings: []store.FindingRef{{ID: "rule-1", Title: "A rule", Severity: "high", Applies: "affected"}}}
}

func TestStoreRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.SQLStore) {
		ctx := context.Background()
		st := open()
		if _, ok, err := st.Get(ctx, "missing"); ok || err != nil {
			t.Fatalf("Get(missing) = %v, %v", ok, err)
		}
		r := testRow("k1", 1)
		in := &incident.Incident{Title: r.Title, Source: incident.Source{Path: r.Path, Kind: "vmcore"},
			Warnings: []string{"ünïcode and \x01 control", "a NUL \x00 from a kernel string"}}
		if err := st.Put(ctx, r, in); err != nil {
			t.Fatal(err)
		}
		got, ok, err := st.Get(ctx, "k1")
		if err != nil || !ok {
			t.Fatalf("Get after Put: %v %v", ok, err)
		}
		if got.Title != r.Title || !got.Time.Equal(r.Time) || got.Host != r.Host || len(got.Findings) != 1 ||
			got.Findings[0].Applies != "affected" || got.Reused {
			t.Errorf("round trip changed the row:\n got %+v\nwant %+v", got, r)
		}
		gotIn, err := st.Incident(ctx, "k1")
		if err != nil || gotIn == nil || gotIn.Warnings[0] != in.Warnings[0] {
			t.Errorf("incident round trip: %+v %v", gotIn, err)
		}
		// jsonb cannot hold a NUL: PostgreSQL keeps U+FFFD in its place.
		if w := gotIn.Warnings[1]; w != in.Warnings[1] && w != "a NUL \ufffd from a kernel string" {
			t.Errorf("a NUL in an incident came back as %q", w)
		}
		// --force analyzes again: the same key is replaced, not doubled.
		r.Status = store.Failed("now broken")
		if err := st.Put(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
		rows, err := st.Rows(ctx)
		if err != nil || len(rows) != 1 || rows[0].Status != r.Status {
			t.Errorf("after replace: %d rows %+v, %v", len(rows), rows, err)
		}
		if in, err := st.Incident(ctx, "k1"); in != nil || err != nil {
			t.Errorf("replaced row kept its old incident: %v %v", in, err)
		}
		// The dump at that path grew (its capture finished): a new identity
		// replaces the old row instead of counting the crash twice.
		grown := testRow("k2", 1)
		grown.Path = r.Path
		if err := st.Put(ctx, grown, nil); err != nil {
			t.Fatal(err)
		}
		if rows, _ := st.Rows(ctx); len(rows) != 1 || rows[0].Key != "k2" {
			t.Errorf("after the dump changed: rows %+v, want only the new identity", rows)
		}
	})
}

// TestStoreConcurrentWriters: two writers (separate connections, as two
// processes or hosts would be), each with several goroutines, write
// interleaved rows, some keys in common; no row may be lost.
func TestStoreConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, open func() *store.SQLStore) {
		ctx := context.Background()
		const perWriter, shared = 150, 30
		stores := [2]*store.SQLStore{open(), open()}
		var wg sync.WaitGroup
		errs := make(chan error, 2*perWriter)
		for w, st := range stores {
			for g := 0; g < 3; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < perWriter; i += 3 {
						key := fmt.Sprintf("w%d-%d", w, i)
						if i < shared {
							key = fmt.Sprintf("shared-%d", i) // both writers analyzed this dump
						}
						if err := st.Put(ctx, testRow(key, i), nil); err != nil {
							errs <- err
						}
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent Put: %v", err)
		}
		rows, err := stores[0].Rows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := 2*perWriter - shared
		if len(rows) != want {
			t.Errorf("%d rows stored, want %d: rows were lost", len(rows), want)
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if seen[r.Key] {
				t.Errorf("key %s stored twice", r.Key)
			}
			seen[r.Key] = true
		}
	})
}
