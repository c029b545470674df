package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Claims share the work of one tree between any number of workers, on any
// number of hosts, through the store itself: a worker leases a crash by its
// content key before analyzing it, extends its leases while it works
// (Heartbeat), and Put ends the lease with the result. A worker that dies
// stops heartbeating; once its lease runs out, any worker may claim the
// crash again, and attempts says it is a retry.
//
// Why not a job engine such as River (github.com/riverqueue/river): it was
// evaluated and does not fit this batch. Its jobs live in its own tables
// with its own migrations, behind a long-running client (leader election,
// a rescuer that retries stuck jobs after an hour, not a lease renewed by a
// heartbeat), while a fleet run is a command that must finish with the
// verdict of every crash of its tree, including the ones other workers took:
// that is a claim on a key this store already has as primary key, and a
// wait on the rows. A conditional upsert is that claim, atomic on both
// PostgreSQL (ON CONFLICT takes the row lock) and SQLite (one writer at a
// time), so the single-machine default keeps working without a server.

// nowMS is the database's clock in milliseconds: workers' own clocks may
// disagree, the database's is one.
func (s *SQLStore) nowMS() string {
	if s.driver == "pgx" {
		return `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT`
	}
	return `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`
}

// Claim implements Store.
func (s *SQLStore) Claim(ctx context.Context, key, worker string, lease time.Duration) (bool, int, error) {
	now := s.nowMS()
	var attempts int
	err := s.db.QueryRowContext(ctx, `INSERT INTO ktriage_claims AS c (dump_key, worker, attempts, claimed_ms, lease_until_ms)
		VALUES ($1, $2, 1, `+now+`, `+now+` + $3)
		ON CONFLICT (dump_key) DO UPDATE SET worker = excluded.worker, attempts = c.attempts + 1,
		 claimed_ms = excluded.claimed_ms, lease_until_ms = excluded.lease_until_ms
		WHERE c.lease_until_ms < excluded.claimed_ms
		RETURNING attempts`, key, worker, lease.Milliseconds()).Scan(&attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return false, 0, nil // a live lease of another worker
	}
	if err != nil {
		return false, 0, fmt.Errorf("store %s: claim: %w", s.where, err)
	}
	return true, attempts, nil
}

// Heartbeat implements Store.
func (s *SQLStore) Heartbeat(ctx context.Context, worker string, lease time.Duration) error {
	_, err := s.db.ExecContext(ctx, `UPDATE ktriage_claims SET lease_until_ms = `+s.nowMS()+` + $1 WHERE worker = $2`,
		lease.Milliseconds(), worker)
	if err != nil {
		return fmt.Errorf("store %s: heartbeat: %w", s.where, err)
	}
	return nil
}

// Release implements Store.
func (s *SQLStore) Release(ctx context.Context, key, worker string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM ktriage_claims WHERE dump_key = $1 AND worker = $2`, key, worker); err != nil {
		return fmt.Errorf("store %s: release: %w", s.where, err)
	}
	return nil
}

// StartRun implements Store.
func (s *SQLStore) StartRun(ctx context.Context, worker string, at time.Time) (time.Time, error) {
	prev, err := s.LastRun(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO ktriage_runs (started, worker, finished) VALUES ($1, $2, '')`,
		at.UTC().Format(SortableTime), worker); err != nil {
		return time.Time{}, fmt.Errorf("store %s: %w", s.where, err)
	}
	return prev, nil
}

// LastRun implements Store.
func (s *SQLStore) LastRun(ctx context.Context) (time.Time, error) {
	var last sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(started) FROM ktriage_runs`).Scan(&last); err != nil {
		return time.Time{}, fmt.Errorf("store %s: %w", s.where, err)
	}
	if !last.Valid {
		return time.Time{}, nil
	}
	t, _ := time.Parse(time.RFC3339Nano, last.String)
	return t, nil
}

// Claims lists the keys of the crashes worker holds claims on.
func (s *SQLStore) Claims(ctx context.Context, worker string) ([]string, error) {
	q, err := s.db.QueryContext(ctx, `SELECT dump_key FROM ktriage_claims WHERE worker = $1`, worker)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	defer q.Close()
	var keys []string
	for q.Next() {
		var k string
		if err := q.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, q.Err()
}
