// Package unpack opens archived crash dumps: a vmcore compressed with gzip,
// xz, zstd, bzip2 or lz4, and a tar (or tar.*) of a crash folder. Dumps are
// read at random offsets, which a compressed stream cannot serve, so the
// content is decompressed once into a cache folder keyed by the archive's
// identity (its size and a checksum of its first and last MiB) and reused by
// every later run; `ktriage cache clean` removes it. Before writing, the
// uncompressed size (when the container tells it) is checked against the
// free space, and the free space is watched while writing.
package unpack

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/ktriage/ktriage/vmcore"
)

// EnvCacheDir overrides where unpacked dumps are kept.
const EnvCacheDir = "KTRIAGE_CACHE"

// DefaultDir is where unpacked dumps are kept: $KTRIAGE_CACHE/unpacked, else
// the user's cache folder (~/.cache/ktriage/unpacked), else the system's
// temporary folder.
func DefaultDir() string {
	if d := os.Getenv(EnvCacheDir); d != "" {
		return filepath.Join(d, "unpacked")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ktriage", "unpacked")
	}
	return filepath.Join(os.TempDir(), "ktriage-unpacked")
}

// Options tune Unpack.
type Options struct {
	// Dir is the cache folder; "" means DefaultDir().
	Dir string
	// Progress, when set, hears how far the decompression is (a terminal).
	Progress io.Writer
	// FreeSpace reports the bytes free on the file system holding a path;
	// nil means statfs. Tests substitute it.
	FreeSpace func(path string) (uint64, error)
}

// Result is what Unpack made.
type Result struct {
	// Path is the unpacked dump, or the folder a tar archive was extracted
	// into.
	Path string `json:"path"`
	// Source is the archive it came from.
	Source string `json:"source"`
	// Layers name what was undone, outermost first ("zstd"; "gzip", "tar").
	Layers []string `json:"layers"`
	// Bytes is how much was written.
	Bytes int64 `json:"bytes"`
	// Created is when the cache entry was made.
	Created time.Time `json:"created"`
	// Reused is set when an earlier run's entry served.
	Reused bool `json:"-"`
}

// IsTar reports whether the result is an extracted folder.
func (r *Result) IsTar() bool { return len(r.Layers) > 0 && r.Layers[len(r.Layers)-1] == "tar" }

// Describe says in a few words what was done, for a note to the user.
func (r *Result) Describe() string {
	what := strings.Join(r.Layers, "+")
	if r.Reused {
		return fmt.Sprintf("%s (%s): using the copy unpacked on %s in %s",
			r.Source, what, r.Created.Local().Format("2006-01-02 15:04"), r.Path)
	}
	return fmt.Sprintf("%s (%s): unpacked once (%s) into %s; the next run reuses it, `ktriage cache clean` removes it",
		r.Source, what, humanBytes(r.Bytes), r.Path)
}

// metaName marks a finished cache entry and records what it holds.
const metaName = ".ktriage-unpacked.json"

// IsArchive reports whether a sniffed file is something Unpack opens.
func IsArchive(s vmcore.Sniffed) bool {
	return s.Kind == vmcore.InputPacked || s.Kind == vmcore.InputTar
}

// Peek tells what one layer of compression hides: the kind of the
// decompressed content's first bytes (a dump, a tar archive, a text log…).
// A file that is not compressed is sniffed as it is. An archive unpacked
// before is answered from its cache entry (o.Dir, "" for DefaultDir()):
// starting a decompressor (xz's allocates its whole dictionary) costs more
// than the checksum that finds the entry.
func Peek(path string, o Options) (vmcore.Sniffed, error) {
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return vmcore.Sniffed{}, err
	}
	defer f.Close()
	head := make([]byte, vmcore.SniffLen)
	n, _ := io.ReadFull(f, head)
	s := vmcore.SniffBytes(head[:n])
	if s.Kind != vmcore.InputPacked {
		return s, nil
	}
	if r, ok := cached(f, o.Dir); ok {
		if r.IsTar() {
			return vmcore.Sniffed{Kind: vmcore.InputTar}, nil
		}
		return vmcore.SniffFile(r.Path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return vmcore.Sniffed{}, err
	}
	r, closeR, err := decompressor(s.Container, bufio.NewReader(f))
	if err != nil {
		return vmcore.Sniffed{}, fmt.Errorf("%s: %s: %w", path, s.Container, err)
	}
	defer closeR()
	n, err = io.ReadFull(r, head)
	if n == 0 && err != nil {
		return vmcore.Sniffed{}, fmt.Errorf("%s: %s stream: %w", path, s.Container, err)
	}
	return vmcore.SniffBytes(head[:n]), nil
}

// Unpack decompresses (and, for a tar, extracts) path into the cache, or
// returns the entry an earlier run made for the same archive. One layer of
// compression is undone, and a tar below it extracted; a dump compressed
// twice comes back still compressed once (callers loop on the result).
func Unpack(path string, o Options) (*Result, error) {
	dir := o.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	free := o.FreeSpace
	if free == nil {
		free = freeBytes
	}
	f, err := vmcore.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	key, err := identity(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	final := filepath.Join(dir, key)
	if r, ok := loadEntry(final); ok {
		r.Reused = true
		r.Source = path
		return r, nil
	}

	head := make([]byte, vmcore.SniffLen)
	n, _ := f.ReadAt(head, 0)
	s := vmcore.SniffBytes(head[:n])
	if !IsArchive(s) {
		return nil, fmt.Errorf("%s is not compressed or archived (%s)", path, s.Kind)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	// Refuse at once when the container says how big the content is and
	// it does not fit; else watch while writing.
	avail, err := free(dir)
	if err != nil {
		return nil, fmt.Errorf("free space in %s: %w", dir, err)
	}
	need := contentSize(f, st.Size(), s.Container)
	if need > 0 && need+reserve(avail) > avail {
		return nil, fmt.Errorf("%s unpacks to %s but %s has only %s free: set %s to a roomier folder "+
			"or free some space (`ktriage cache clean` removes earlier unpacked dumps)",
			path, humanBytes(int64(need)), dir, humanBytes(int64(avail)), EnvCacheDir)
	}

	tmp, err := os.MkdirTemp(dir, key+".partial-")
	if err != nil {
		return nil, fmt.Errorf("cache folder: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	w := &watchWriter{dir: dir, free: free, progress: o.Progress, name: filepath.Base(path), last: time.Now()}
	res := &Result{Source: path, Created: time.Now().UTC()}
	var content io.Reader = bufio.NewReaderSize(f, 1<<20)
	if s.Kind == vmcore.InputPacked {
		r, closeR, err := decompressor(s.Container, content)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, s.Container, err)
		}
		defer closeR()
		res.Layers = append(res.Layers, s.Container)
		content = r
	}
	br := bufio.NewReaderSize(content, 1<<20)
	inner, _ := br.Peek(vmcore.SniffLen)
	name := innerName(filepath.Base(path), s.Container)
	if vmcore.SniffBytes(inner).Kind == vmcore.InputTar {
		res.Layers = append(res.Layers, "tar")
		if err := extractTar(br, tmp, w); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		res.Path = filepath.Join(final, "tree")
		if err := os.Rename(filepath.Join(tmp, "tree.partial"), filepath.Join(tmp, "tree")); err != nil {
			return nil, err
		}
	} else {
		out, err := os.OpenFile(filepath.Join(tmp, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		w.w = out
		_, err = io.Copy(w, br)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, strings.Join(res.Layers, "+"), err)
		}
		res.Path = filepath.Join(final, name)
	}
	w.finish()
	res.Bytes = w.n
	meta, _ := json.Marshal(res)
	if err := os.WriteFile(filepath.Join(tmp, metaName), meta, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another run finished the same archive first: use its entry.
		if r, ok := loadEntry(final); ok {
			r.Source = path
			return r, nil
		}
		return nil, err
	}
	done = true
	return res, nil
}

// cached returns the finished cache entry for an open archive, if any.
func cached(f *os.File, dir string) (*Result, bool) {
	if dir == "" {
		dir = DefaultDir()
	}
	st, err := f.Stat()
	if err != nil {
		return nil, false
	}
	key, err := identity(f, st.Size())
	if err != nil {
		return nil, false
	}
	return loadEntry(filepath.Join(dir, key))
}

// loadEntry reads a finished cache entry; a partial one does not count.
func loadEntry(dir string) (*Result, bool) {
	data, err := os.ReadFile(filepath.Join(dir, metaName))
	if err != nil {
		return nil, false
	}
	var r Result
	if json.Unmarshal(data, &r) != nil || r.Path == "" {
		return nil, false
	}
	if _, err := os.Stat(r.Path); err != nil {
		return nil, false
	}
	return &r, true
}

// identity keys an archive by its size and a checksum of its first and
// last MiB: the same archive copied elsewhere hits the same entry, a
// rewritten one (another size, another header or trailer) does not.
func identity(f *os.File, size int64) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00", size)
	const span = 1 << 20
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, min(size, span))); err != nil {
		return "", err
	}
	if size > span {
		tail := max(size-span, span)
		if _, err := io.Copy(h, io.NewSectionReader(f, tail, size-tail)); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// decompressor opens one layer of a container.
func decompressor(container string, r io.Reader) (io.Reader, func(), error) {
	switch container {
	case "gzip":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() { z.Close() }, nil
	case "zstd":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<31))
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	case "xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, func() {}, nil
	case "bzip2":
		return bzip2.NewReader(r), func() {}, nil
	case "lz4":
		// Only its Read: lz4.Reader's WriteTo, which bufio prefers once
		// the sniffed head is consumed, starts over at a frame header.
		return struct{ io.Reader }{lz4.NewReader(r)}, func() {}, nil
	}
	return nil, nil, fmt.Errorf("no reader for %q", container)
}

// innerName is the name the content had before compression: vmcore.zst →
// vmcore, dump.202401151023.gz → dump.202401151023.
func innerName(name, container string) string {
	exts := map[string][]string{"gzip": {".gz", ".gzip"}, "zstd": {".zst", ".zstd"}, "xz": {".xz"},
		"bzip2": {".bz2", ".bzip2"}, "lz4": {".lz4"}}
	for _, ext := range exts[container] {
		if b, ok := strings.CutSuffix(name, ext); ok && b != "" {
			return b
		}
	}
	if name == "" || strings.HasPrefix(name, ".") {
		return "content"
	}
	return name + ".unpacked"
}

// maxTarEntries bounds what one archive may create.
const maxTarEntries = 100000

// extractTar writes a tar's folders and regular files below
// dir/tree.partial. Links, devices and names leaving the tree are skipped.
func extractTar(r io.Reader, dir string, w *watchWriter) error {
	root := filepath.Join(dir, "tree.partial")
	if err := os.Mkdir(root, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if n >= maxTarEntries {
			return fmt.Errorf("tar: more than %d entries; not a crash folder", maxTarEntries)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) || name == "." {
			continue
		}
		p := filepath.Join(root, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			out, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			w.w = out
			_, err = io.Copy(w, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("tar: %s: %w", h.Name, err)
			}
		}
	}
}

// watchWriter counts what is written, shows progress and stops before the
// disk fills.
type watchWriter struct {
	w        io.Writer
	dir      string
	free     func(string) (uint64, error)
	progress io.Writer
	name     string
	n        int64
	checked  int64
	last     time.Time
	shown    bool
}

// checkEvery is how many bytes are written between free-space checks.
const checkEvery = 64 << 20

func (w *watchWriter) Write(p []byte) (int, error) {
	if w.n-w.checked >= checkEvery {
		w.checked = w.n
		if avail, err := w.free(w.dir); err == nil && avail < reserve(avail)+uint64(len(p)) {
			return 0, fmt.Errorf("stopped after %s: %s is nearly full (%s free); set %s to a roomier folder",
				humanBytes(w.n), w.dir, humanBytes(int64(avail)), EnvCacheDir)
		}
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	if w.progress != nil && time.Since(w.last) > 500*time.Millisecond {
		w.last = time.Now()
		w.shown = true
		fmt.Fprintf(w.progress, "\runpacking %s: %s written", w.name, humanBytes(w.n))
	}
	return n, err
}

func (w *watchWriter) finish() {
	if w.shown {
		fmt.Fprintf(w.progress, "\runpacking %s: %s written, done\n", w.name, humanBytes(w.n))
	}
}

// reserve is the free space left untouched: 256 MiB, or less on a small
// file system (a test's tmpfs).
func reserve(avail uint64) uint64 { return min(256<<20, avail/20) }

func humanBytes(n int64) string { return vmcore.Bytes(n) }
