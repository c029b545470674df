// Package storetest runs a test against every kind of results store: a
// SQLite file always, and PostgreSQL when KTRIAGE_TEST_PG_DSN names a server
// (scripts/start-postgres.sh starts one; .ci/run does).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/crashdir/store"
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

// Each runs f against every store kind, with a function that opens
// a handle on that test's store (call it twice for two writers).
func Each(t *testing.T, f func(t *testing.T, open func() *store.SQLStore)) {
	for name, dsn := range storeDSNs(t) {
		t.Run(name, func(t *testing.T) {
			where := dsn(t)
			f(t, func() *store.SQLStore {
				st, err := store.Open(context.Background(), where)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				return st
			})
		})
	}
}

// EachDSN runs f against every store kind with the store's DSN, for tests
// that hand it to other processes.
func EachDSN(t *testing.T, f func(t *testing.T, dsn string)) {
	for name, dsn := range storeDSNs(t) {
		t.Run(name, func(t *testing.T) { f(t, dsn(t)) })
	}
}
