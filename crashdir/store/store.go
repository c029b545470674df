package store

import (
	"context"
	"time"

	"github.com/ktriage/ktriage/incident"
)

// Store keeps one row per analyzed dump, keyed by the dump's identity, with
// the incident as JSON. Implementations are safe for concurrent use, and
// several processes (or hosts, with PostgreSQL) may write to one store.
type Store interface {
	// Get returns the row stored under key, if any.
	Get(ctx context.Context, key string) (*Row, bool, error)
	// Put inserts or replaces the row (and its incident, which may be nil
	// for a failed row), and releases the crash's claim.
	Put(ctx context.Context, row *Row, in *incident.Incident) error
	// Rows returns every stored row, oldest crash first.
	Rows(ctx context.Context) ([]Row, error)
	// EachRow hands every stored row to f in Rows' order without holding
	// them all; an error from f stops it.
	EachRow(ctx context.Context, f func(*Row) error) error
	// Incident returns the stored incident of a row, or nil.
	Incident(ctx context.Context, key string) (*incident.Incident, error)

	// Files returns what the store remembers of every file it saw.
	Files(ctx context.Context) ([]File, error)
	// SaveFiles records files as seen now (and not vanished).
	SaveFiles(ctx context.Context, files []File) error
	// Vanish marks files as gone; a crash none of whose files remains is
	// marked vanished, or removed when it had failed (nothing to keep).
	Vanish(ctx context.Context, paths []string) error

	// Claim takes the lease of a crash for worker; false when another
	// worker holds a lease that has not expired. attempts counts the claims
	// of the crash so far, this one included.
	Claim(ctx context.Context, key, worker string, lease time.Duration) (ok bool, attempts int, err error)
	// Heartbeat extends every lease worker holds.
	Heartbeat(ctx context.Context, worker string, lease time.Duration) error
	// Release gives a claim up without a result (Put releases it with one).
	Release(ctx context.Context, key, worker string) error

	// StartRun records that a batch starts and returns when the previous
	// one started (zero if none): what "new since the last run" compares.
	StartRun(ctx context.Context, worker string, at time.Time) (previous time.Time, err error)
	// LastRun is when the latest batch started.
	LastRun(ctx context.Context) (time.Time, error)
	Close() error
}
