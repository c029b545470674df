package store

import (
	"context"

	"github.com/ktriage/ktriage/incident"
)

// Store keeps one row per analyzed dump, keyed by the dump's identity, with
// the incident as JSON. Implementations are safe for concurrent use, and
// several processes (or hosts, with PostgreSQL) may write to one store.
type Store interface {
	// Get returns the row stored under key, if any.
	Get(ctx context.Context, key string) (*Row, bool, error)
	// Put inserts or replaces the row (and its incident, which may be nil
	// for a failed row).
	Put(ctx context.Context, row *Row, in *incident.Incident) error
	// Rows returns every stored row, oldest crash first.
	Rows(ctx context.Context) ([]Row, error)
	// Incident returns the stored incident of a row, or nil.
	Incident(ctx context.Context, key string) (*incident.Incident, error)
	Close() error
}
