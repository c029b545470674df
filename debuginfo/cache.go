package debuginfo

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ktriage/ktriage/symbols"
)

// The cache is elfutils' layout, so DEBUGINFOD_CACHE_PATH can be shared
// with debuginfod-find and gdb: <dir>/<build-id>/debuginfo. An empty file
// there is a remembered miss (elfutils writes the same), valid for
// cache_miss_s seconds from its mtime. A download is written to
// <dir>/<build-id>/.tmp-*, checked, and renamed into place; the renamed
// file is never changed again, so a reader sees a whole file or none.
// <file>.origin says where it came from, for the report.

// tempPrefix marks files being written; Cached never returns them.
const tempPrefix = ".tmp-"

// staleTemp is the age after which a temporary file is taken for the
// leftover of a killed run (a live download writes far more often).
const staleTemp = time.Hour

// store copies r into the cache as id's file of kind, checking its length
// against total (when known) and its build-id against id before renaming
// it into place.
func (c *Client) store(dir, id string, kind Kind, r io.Reader, total int64, origin string) (Result, error) {
	f, err := os.CreateTemp(dir, tempPrefix+string(kind)+"-*")
	if err != nil {
		return Result{}, fmt.Errorf("debuginfo cache: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.CopyBuffer(f, r, make([]byte, 1<<20))
	if err != nil {
		return Result{}, fmt.Errorf("cut short after %d bytes: %w", n, err)
	}
	if total > 0 && n != total {
		return Result{}, fmt.Errorf("cut short: %d of %d bytes", n, total)
	}
	f.Chmod(0o644) // CreateTemp makes it 0600; debuginfo is no secret
	if err := f.Close(); err != nil {
		return Result{}, fmt.Errorf("debuginfo cache: %w", err)
	}
	if err := CheckBuildID(tmp, id); err != nil {
		return Result{}, err
	}
	final := filepath.Join(dir, string(kind))
	if origin != "" {
		if err := writeAtomic(final+".origin", []byte(origin+"\n")); err != nil {
			return Result{}, fmt.Errorf("debuginfo cache: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return Result{}, fmt.Errorf("debuginfo cache: %w", err)
	}
	ok = true
	return Result{Path: final, Origin: origin, Size: n}, nil
}

// BuildIDError is a file whose build-id is not the one asked for.
type BuildIDError struct {
	Got, Want string // Got is "" when the file has no build-id
}

func (e *BuildIDError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("the file sent has no build-id, asked for %s", e.Want)
	}
	return fmt.Sprintf("the file sent has build-id %s, asked for %s (another build's file)", e.Got, e.Want)
}

// CheckBuildID opens path as ELF and compares its GNU build-id with want.
func CheckBuildID(path, want string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("the file sent is not a whole ELF file: %w", err)
	}
	defer f.Close()
	got, _ := symbols.ELFBuildID(f)
	if !strings.EqualFold(got, want) {
		return &BuildIDError{Got: got, Want: want}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix+"*")
	if err != nil {
		return err
	}
	f.Chmod(0o644)
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

func (c *Client) missTTL() time.Duration {
	if c.MissTTL != 0 {
		return c.MissTTL
	}
	if b, err := os.ReadFile(filepath.Join(c.cacheDir(), "cache_miss_s")); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return defaultMissTTL
}

// missRemembered reports a recent miss for id and when it was recorded.
func (c *Client) missRemembered(id string, kind Kind) (time.Time, bool) {
	fi, err := os.Stat(filepath.Join(c.cacheDir(), id, string(kind)))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		return time.Time{}, false
	}
	ttl := c.missTTL()
	return fi.ModTime(), ttl > 0 && time.Since(fi.ModTime()) < ttl
}

func (c *Client) rememberMiss(id string, kind Kind) {
	p := filepath.Join(c.cacheDir(), id, string(kind))
	if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
		if f, err := os.Create(p); err == nil { // empty: a miss; its mtime says when
			f.Close()
		}
	}
}

// removeStaleTemps deletes what a killed run left half-written in dir.
func removeStaleTemps(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > staleTemp {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
