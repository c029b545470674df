package crashdir

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ktriage/ktriage/incident"
	"github.com/ktriage/ktriage/triage"
)

// storeDSNs are the stores every store test runs against: a SQLite file,
// and PostgreSQL when KTRIAGE_TEST_PG_DSN names a server
// (scripts/start-postgres.sh starts one). Each PostgreSQL test gets a schema
// of its own, so tests never see each other's rows.
func storeDSNs(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "fleet.db") },
		"postgres": func(t *testing.T) string {
			dsn := os.Getenv("KTRIAGE_TEST_PG_DSN")
			if dsn == "" {
				t.Skip("KTRIAGE_TEST_PG_DSN is unset: no PostgreSQL server to test the shared store against " +
					"(eval \"$(bash scripts/start-postgres.sh)\" starts one)")
			}
			return pgSchemaDSN(t, dsn)
		},
	}
}

// pgSchemaDSN creates a fresh schema and returns a DSN whose search_path
// points at it; the schema is dropped when the test ends.
func pgSchemaDSN(t *testing.T, dsn string) string {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatalf("PostgreSQL at KTRIAGE_TEST_PG_DSN: %v", err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// forEachStore runs f against every store kind, with a function that opens
// a handle on that test's store (call it twice for two writers).
func forEachStore(t *testing.T, f func(t *testing.T, open func() *SQLStore)) {
	for name, dsn := range storeDSNs(t) {
		t.Run(name, func(t *testing.T) {
			where := dsn(t)
			f(t, func() *SQLStore {
				st, err := OpenStore(context.Background(), where)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			})
		})
	}
}

func testRow(key string, i int) *Row {
	return &Row{Key: key, Path: "/var/crash/" + key + "/vmcore", Size: int64(1000 + i), Checksum: "c" + key,
		Layout: LayoutRHEL, Host: fmt.Sprintf("host%d", i%7), Release: "6.1.0-56-cloud-amd64",
		Time: time.Date(2026, 11, 1+i%27, 10, 0, 0, 0, time.UTC), TimeSource: "dump",
		Title: "BUG: <title> 'quoted' in fn", Status: StatusOK, AnalyzedAt: time.Now().UTC(),
		Findings: []FindingRef{{ID: "rule-1", Title: "A rule", Severity: "high", Applies: "affected"}}}
}

func TestStoreRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *SQLStore) {
		ctx := context.Background()
		st := open()
		if _, ok, err := st.Get(ctx, "missing"); ok || err != nil {
			t.Fatalf("Get(missing) = %v, %v", ok, err)
		}
		r := testRow("k1", 1)
		in := &incident.Incident{Title: r.Title, Source: incident.Source{Path: r.Path, Kind: "vmcore"},
			Warnings: []string{"ünïcode and \x01 control"}}
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
		// --force analyzes again: the same key is replaced, not doubled.
		r.Status = statusFailed + "now broken"
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
	forEachStore(t, func(t *testing.T, open func() *SQLStore) {
		ctx := context.Background()
		const perWriter, shared = 150, 30
		stores := [2]*SQLStore{open(), open()}
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

// TestBatchRerunSkipsStored runs a batch into each store and again: the
// second run reads nothing, and --force reads everything again.
func TestBatchRerunSkipsStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func() *SQLStore) {
		ctx := context.Background()
		st := open()
		root := t.TempDir()
		for i := 0; i < 6; i++ {
			fakeDump(t, filepath.Join(root, fmt.Sprintf("10.0.0.%d-2026-11-2%d-10:00:00", i, i), "vmcore"),
				fmt.Sprintf("BUG: crash %d", i%2))
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
		for _, r := range second.Results {
			if r.Incident == nil || r.Incident.Title != r.Row.Title {
				t.Errorf("reused row %s lost its incident", r.Row.Path)
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
