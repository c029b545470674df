package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// File is what a batch saw of one file: enough to tell by stat alone that
// it has not changed since (same size, modification time and inode), and
// what it was then.
type File struct {
	Path    string
	Key     string // the dump it belongs to; empty for files no crash is made of
	Size    int64
	MtimeNs int64
	Inode   uint64
	// Kind is discovery's class of the file (crashdir's own numbering).
	Kind     int
	Vanished bool
}

// Files implements Store.
func (s *SQLStore) Files(ctx context.Context) ([]File, error) {
	q, err := s.db.QueryContext(ctx, `SELECT path, dump_key, size, mtime_ns, inode, kind, vanished_at FROM ktriage_files`)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.where, err)
	}
	defer q.Close()
	var out []File
	for q.Next() {
		var f File
		var ino int64
		var vanished string
		if err := q.Scan(&f.Path, &f.Key, &f.Size, &f.MtimeNs, &ino, &f.Kind, &vanished); err != nil {
			return nil, fmt.Errorf("store %s: %w", s.where, err)
		}
		f.Inode, f.Vanished = uint64(ino), vanished != ""
		out = append(out, f)
	}
	return out, q.Err()
}

// SaveFiles implements Store; a file seen again under a vanished crash
// brings the crash back. Workers on one tree save the same files at once:
// rows are written in path order (so two writers never wait on each other
// in a cycle) and in short transactions, and a transaction PostgreSQL
// aborts as a deadlock all the same is tried again.
func (s *SQLStore) SaveFiles(ctx context.Context, files []File) error {
	files = append([]File(nil), files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	const chunk = 500
	for len(files) > 0 {
		n := min(chunk, len(files))
		var err error
		for attempt := 0; attempt < 4; attempt++ {
			if err = s.saveFiles(ctx, files[:n]); err == nil || !retryable(err) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		files = files[n:]
	}
	return nil
}

// retryable tells a PostgreSQL deadlock or serialization failure, which a
// second try of the same transaction gets past.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

func (s *SQLStore) saveFiles(ctx context.Context, files []File) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO ktriage_files (path, dump_key, size, mtime_ns, inode, kind, vanished_at)
		VALUES ($1, $2, $3, $4, $5, $6, '')
		ON CONFLICT (path) DO UPDATE SET dump_key = excluded.dump_key, size = excluded.size,
		 mtime_ns = excluded.mtime_ns, inode = excluded.inode, kind = excluded.kind, vanished_at = ''`)
	if err != nil {
		return err
	}
	defer ins.Close()
	back, err := tx.PrepareContext(ctx, `UPDATE ktriage_crashes SET vanished_at = '' WHERE dump_key = $1 AND vanished_at <> ''`)
	if err != nil {
		return err
	}
	defer back.Close()
	for _, f := range files {
		if _, err := ins.ExecContext(ctx, f.Path, f.Key, f.Size, f.MtimeNs, int64(f.Inode), f.Kind); err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		if f.Key != "" {
			if _, err := back.ExecContext(ctx, f.Key); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// Vanish implements Store. A failed crash whose files are gone is deleted:
// the stale row of a capture that kdump renamed, or of an rsync temporary
// file, would otherwise stay failed forever.
func (s *SQLStore) Vanish(ctx context.Context, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	defer tx.Rollback()
	paths = append([]string(nil), paths...)
	sort.Strings(paths) // the same order as SaveFiles: no deadlock between them
	keys := map[string]bool{}
	for _, p := range paths {
		var key string
		err := tx.QueryRowContext(ctx, `UPDATE ktriage_files SET vanished_at = $1 WHERE path = $2 RETURNING dump_key`,
			now, p).Scan(&key)
		if err == nil && key != "" {
			keys[key] = true
		}
	}
	for key := range keys {
		var alive int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ktriage_files WHERE dump_key = $1 AND vanished_at = ''`,
			key).Scan(&alive); err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		if alive > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM ktriage_crashes WHERE dump_key = $1 AND status LIKE 'failed%'`, key); err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ktriage_crashes SET vanished_at = $1 WHERE dump_key = $2`, now, key); err != nil {
			return fmt.Errorf("store %s: %w", s.where, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store %s: %w", s.where, err)
	}
	return nil
}
