package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, for a store shared by many hosts
	_ "modernc.org/sqlite"             // SQLite in pure Go: no cgo, one static binary

	"github.com/ktriage/ktriage/incident"
)

// schema is the same for SQLite and PostgreSQL but for the JSON columns
// (jsonb on PostgreSQL, text in SQLite): plain types both know, times as
// RFC 3339 text in UTC (which sorts as time does), leases as milliseconds of
// the database's own clock (workers on several hosts disagree on theirs).
// row_json holds the whole Row, the columns beside it are for people
// querying the store.
//
// ktriage_files remembers what each file looked like (size, mtime, inode)
// and what it was (its kind, the dump it belongs to), so a rerun tells what
// changed by stat alone. ktriage_claims are the leases of crashes being
// analyzed (claims.go); ktriage_runs the batches, for "new since the last run".
func schema(jsonType string) []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ktriage_crashes (
		dump_key      TEXT PRIMARY KEY,
		path          TEXT NOT NULL,
		size          BIGINT NOT NULL,
		checksum      TEXT NOT NULL,
		layout        TEXT NOT NULL,
		host          TEXT NOT NULL,
		crash_time    TEXT NOT NULL,
		release       TEXT NOT NULL,
		title         TEXT NOT NULL,
		top_finding   TEXT NOT NULL,
		status        TEXT NOT NULL,
		analyzed_at   TEXT NOT NULL,
		row_json      ` + jsonType + ` NOT NULL,
		incident_json ` + jsonType + `
	)`,
		`CREATE INDEX IF NOT EXISTS ktriage_crashes_time ON ktriage_crashes (crash_time)`,
		`CREATE INDEX IF NOT EXISTS ktriage_crashes_title ON ktriage_crashes (title)`,
		`CREATE INDEX IF NOT EXISTS ktriage_crashes_path ON ktriage_crashes (path)`,
		`CREATE TABLE IF NOT EXISTS ktriage_files (
		path        TEXT PRIMARY KEY,
		dump_key    TEXT NOT NULL,
		size        BIGINT NOT NULL,
		mtime_ns    BIGINT NOT NULL,
		inode       BIGINT NOT NULL,
		kind        INTEGER NOT NULL,
		vanished_at TEXT NOT NULL
	)`,
		`CREATE INDEX IF NOT EXISTS ktriage_files_key ON ktriage_files (dump_key)`,
		`CREATE TABLE IF NOT EXISTS ktriage_claims (
		dump_key       TEXT PRIMARY KEY,
		worker         TEXT NOT NULL,
		attempts       INTEGER NOT NULL,
		claimed_ms     BIGINT NOT NULL,
		lease_until_ms BIGINT NOT NULL
	)`,
		`CREATE TABLE IF NOT EXISTS ktriage_runs (
		started  TEXT NOT NULL,
		worker   TEXT NOT NULL,
		finished TEXT NOT NULL
	)`,
	}
}

// SortableTime is how the store writes the times it compares as text:
// fixed width, so text order is time order (RFC 3339 with trimmed
// fractions is not).
const SortableTime = "2006-01-02T15:04:05.000000Z"

// addedColumns are columns later versions added to ktriage_crashes; a store
// made before them gets them on open.
var addedColumns = []struct{ name, decl string }{
	{"first_seen", "TEXT NOT NULL DEFAULT ''"},
	{"vanished_at", "TEXT NOT NULL DEFAULT ''"},
	{"worker", "TEXT NOT NULL DEFAULT ''"},
	{"ktriage_version", "TEXT NOT NULL DEFAULT ''"},
	{"rulebook", "TEXT NOT NULL DEFAULT ''"},
}

// SQLStore is a Store in a SQL database: SQLite (embedded, the default) or
// PostgreSQL (shared).
type SQLStore struct {
	db     *sql.DB
	driver string // "sqlite" or "pgx"
	where  string // for messages, without credentials
}

// DefaultPath is where the SQLite store lives when no --store is
// given: $KTRIAGE_STORE, else $XDG_STATE_HOME/ktriage/fleet.db, else
// ~/.local/state/ktriage/fleet.db.
func DefaultPath() string {
	if p := os.Getenv("KTRIAGE_STORE"); p != "" {
		return p
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ktriage", "fleet.db")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "ktriage", "fleet.db")
	}
	return filepath.Join(os.TempDir(), "ktriage-fleet.db")
}

// IsPostgresDSN reports whether dsn names a PostgreSQL server.
func IsPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (and creates) the store a DSN names: postgres://… or
// postgresql://… for PostgreSQL, otherwise a SQLite file path (sqlite:PATH
// also works). An empty DSN is DefaultPath.
func Open(ctx context.Context, dsn string) (*SQLStore, error) {
	if dsn == "" {
		dsn = DefaultPath()
	}
	s := &SQLStore{}
	var err error
	if IsPostgresDSN(dsn) {
		s.driver, s.where = "pgx", redactDSN(dsn)
		s.db, err = sql.Open("pgx", dsn)
	} else {
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
		s.driver, s.where = "sqlite", path
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		// WAL lets readers run beside the writer; busy_timeout makes a
		// second process writing the same file wait instead of failing;
		// immediate transactions take the write lock up front, so a
		// waiting writer never finds its snapshot stale halfway through.
		s.db, err = sql.Open("sqlite", "file:"+path+
			"?_txlock=immediate&_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err == nil {
			s.db.SetMaxOpenConns(1) // one writer per process; SQLite serialises writers anyway
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	return s, nil
}

// migrate creates the table. Two processes creating it at once can collide
// in PostgreSQL's catalog even with IF NOT EXISTS, so a failure is retried.
func (s *SQLStore) migrate(ctx context.Context) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.migrateOnce(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		}
	}
	return err
}

func (s *SQLStore) migrateOnce(ctx context.Context) error {
	jsonType := "TEXT"
	if s.driver == "pgx" {
		jsonType = "JSONB"
	}
	if err := s.exec(ctx, schema(jsonType)); err != nil {
		return err
	}
	for _, c := range addedColumns {
		// SQLite has no ADD COLUMN IF NOT EXISTS: probe the column first.
		if _, err := s.db.ExecContext(ctx, `SELECT `+c.name+` FROM ktriage_crashes WHERE 1 = 0`); err == nil {
			continue
		}
		if _, err := s.db.ExecContext(ctx, `ALTER TABLE ktriage_crashes ADD COLUMN `+c.name+` `+c.decl); err != nil {
			return err
		}
	}
	if s.driver == "pgx" {
		// Stores made before the JSON columns were jsonb hold text.
		var typ string
		err := s.db.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'ktriage_crashes' AND column_name = 'row_json'`).Scan(&typ)
		if err != nil {
			return err
		}
		if typ != "jsonb" {
			return s.exec(ctx, []string{
				`ALTER TABLE ktriage_crashes ALTER COLUMN row_json TYPE JSONB USING row_json::jsonb`,
				`ALTER TABLE ktriage_crashes ALTER COLUMN incident_json TYPE JSONB USING incident_json::jsonb`,
			})
		}
	}
	return nil
}

func (s *SQLStore) exec(ctx context.Context, stmts []string) error {
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// Where names the store for messages (a PostgreSQL DSN without password).
func (s *SQLStore) Where() string { return s.where }

func (s *SQLStore) Close() error { return s.db.Close() }

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, key string) (*Row, bool, error) {
	var rowJSON string
	err := s.db.QueryRowContext(ctx, `SELECT row_json FROM ktriage_crashes WHERE dump_key = $1`, key).Scan(&rowJSON)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store %s: %w", s.where, err)
	}
	var r Row
	if err := json.Unmarshal([]byte(rowJSON), &r); err != nil {
		return nil, false, fmt.Errorf("store %s: row %s is damaged: %w", s.where, key, err)
	}
	return &r, true, nil
}

// Put implements Store. A path holds one dump at a time: rows of the same
// path under another identity (the dump was still being written, or was
// replaced) are removed in the same transaction, so the store never counts
// one crash twice. The row keeps the FirstSeen of an earlier row of its key,
// and the crash's claim (claims.go) is released: the work is done.
func (s *SQLStore) Put(ctx context.Context, r *Row, in *incident.Incident) error {
	if r.Key == "" {
		return fmt.Errorf("row for %s has no identity; not stored", r.Path)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	defer tx.Rollback()
	stored := *r
	stored.Reused, stored.Vanished = false, false
	var firstSeen string
	err = tx.QueryRowContext(ctx, `SELECT first_seen FROM ktriage_crashes WHERE dump_key = $1`, r.Key).Scan(&firstSeen)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	if t, perr := time.Parse(time.RFC3339Nano, firstSeen); perr == nil {
		stored.FirstSeen = t
	} else if stored.FirstSeen.IsZero() {
		stored.FirstSeen = r.AnalyzedAt
		if stored.FirstSeen.IsZero() {
			stored.FirstSeen = time.Now()
		}
	}
	stored.FirstSeen = stored.FirstSeen.UTC()
	r.FirstSeen = stored.FirstSeen
	rowJSON, err := s.jsonText(&stored)
	if err != nil {
		return err
	}
	var inJSON sql.NullString
	if in != nil {
		text, err := s.jsonText(in)
		if err != nil {
			return err
		}
		inJSON = sql.NullString{String: text, Valid: true}
	}
	crashTime := ""
	if !r.Time.IsZero() {
		crashTime = r.Time.UTC().Format(time.RFC3339)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM ktriage_crashes WHERE path = $1 AND dump_key <> $2`,
		r.Path, r.Key); err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO ktriage_crashes
		(dump_key, path, size, checksum, layout, host, crash_time, release, title, top_finding, status,
		 analyzed_at, row_json, incident_json, first_seen, vanished_at, worker, ktriage_version, rulebook)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, '', $16, $17, $18)
		ON CONFLICT (dump_key) DO UPDATE SET
		 path = excluded.path, size = excluded.size, checksum = excluded.checksum, layout = excluded.layout,
		 host = excluded.host, crash_time = excluded.crash_time, release = excluded.release,
		 title = excluded.title, top_finding = excluded.top_finding, status = excluded.status,
		 analyzed_at = excluded.analyzed_at, row_json = excluded.row_json, incident_json = excluded.incident_json,
		 vanished_at = '', worker = excluded.worker, ktriage_version = excluded.ktriage_version,
		 rulebook = excluded.rulebook`,
		r.Key, r.Path, r.Size, r.Checksum, string(r.Layout), r.Host, crashTime, r.Release, r.Title,
		r.TopLabel(), r.Status.String(), r.AnalyzedAt.UTC().Format(time.RFC3339Nano), rowJSON, inJSON,
		stored.FirstSeen.Format(SortableTime), r.Worker, r.Version, r.Rulebook)
	if err == nil {
		_, err = tx.ExecContext(ctx, `DELETE FROM ktriage_claims WHERE dump_key = $1`, r.Key)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	return nil
}

// jsonText encodes v for a JSON column. PostgreSQL's jsonb refuses the
// escape \u0000 (a NUL a kernel string can hold), so there it becomes
// U+FFFD, the replacement character.
func (s *SQLStore) jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if s.driver == "pgx" {
		b = replaceNULEscapes(b)
	}
	return string(b), nil
}

// replaceNULEscapes rewrites every \u0000 escape of encoded JSON as
// \ufffd, reading escapes pairwise so an escaped backslash followed by
// "u0000" text is left alone.
func replaceNULEscapes(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if bytes.HasPrefix(b[i+1:], []byte("u0000")) {
			out = append(out, `\ufffd`...)
			i += 5
			continue
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// Rows implements Store.
func (s *SQLStore) Rows(ctx context.Context) ([]Row, error) {
	var out []Row
	err := s.EachRow(ctx, func(r *Row) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// EachRow implements Store: rows are decoded one at a time as the database
// sends them.
func (s *SQLStore) EachRow(ctx context.Context, f func(*Row) error) error {
	q, err := s.db.QueryContext(ctx, `SELECT row_json, vanished_at FROM ktriage_crashes ORDER BY crash_time = '', crash_time, path`)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	defer q.Close()
	for q.Next() {
		var js, vanished string
		if err := q.Scan(&js, &vanished); err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		var r Row
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			return fmt.Errorf("store %s: a row is damaged: %w", s.where, err)
		}
		r.Vanished = vanished != ""
		if err := f(&r); err != nil {
			return err
		}
	}
	return q.Err()
}

// Incident implements Store.
func (s *SQLStore) Incident(ctx context.Context, key string) (*incident.Incident, error) {
	var js sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT incident_json FROM ktriage_crashes WHERE dump_key = $1`, key).Scan(&js)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !js.Valid {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	var in incident.Incident
	if err := json.Unmarshal([]byte(js.String), &in); err != nil {
		return nil, fmt.Errorf("store %s: incident %s is damaged: %w", s.where, key, err)
	}
	return &in, nil
}

// redactDSN hides the password of a PostgreSQL URL.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
