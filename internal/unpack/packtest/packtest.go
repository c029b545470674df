// Package packtest builds archived dumps for tests from the fixtures, so no
// compressed copy is committed: a file compressed with each container, and
// a tar (optionally compressed) of a crash folder.
package packtest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// Ext is the file name extension of each container.
var Ext = map[string]string{"gzip": ".gz", "zstd": ".zst", "xz": ".xz", "bzip2": ".bz2", "lz4": ".lz4"}

// Compress returns data in the container ("" returns it as it is). bzip2
// has no writer in Go: the bzip2 tool is used, and the test skips without it.
func Compress(t testing.TB, data []byte, container string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch container {
	case "":
		return data
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "lz4":
		w = lz4.NewWriter(&buf)
	case "bzip2":
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("no bzip2 tool to make a .bz2 with")
		}
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	default:
		t.Fatalf("unknown container %q", container)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// File writes src compressed with container into dir, named as src plus
// the container's extension, and returns its path.
func File(t testing.TB, src, dir, container string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.Base(src)+Ext[container])
	if err := os.WriteFile(p, Compress(t, data, container), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Tar writes a tar of files (archive name → source path), compressed with
// container ("" for a plain .tar), to path.
func Tar(t testing.TB, path string, files map[string]string, container string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for name := range files {
		for d := filepath.Dir(name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	for d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for name, src := range files {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, Compress(t, buf.Bytes(), container), 0o644); err != nil {
		t.Fatal(err)
	}
}
