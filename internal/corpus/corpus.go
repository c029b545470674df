// Package corpus finds the shared corpus of real crash dumps (../shared/corpus
// beside the repository) for tests, and the debug vmlinux of its kernel.
// Tests call it and skip with a clear message when either is absent.
package corpus

import (
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// Release is the kernel every corpus dump was taken from.
const Release = "6.1.0-56-cloud-amd64"

// BuildID is the corpus kernel's vmlinux build-id (VMCOREINFO BUILD-ID of
// every corpus dump).
const BuildID = "3b43fad5034874490492495d552c0af6a5fab235"

// repoRoot is found from this file's location, so tests in any package agree.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Root returns ../shared/corpus, or skips the test.
func Root(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "dumps")); err != nil {
		t.Skipf("shared corpus not found at %s (it sits beside the repository as ../shared): %v", dir, err)
	}
	return dir
}

// Dump is one corpus dump with the oracle outputs beside it.
type Dump struct {
	Name  string   // folder name, e.g. "sysrq-kdump-lzo"
	Dir   string   // the folder
	Files []string // the dump file(s) to open together
}

// Oracle returns the path of an oracle file, e.g. Oracle("crash-8.0.6", "log.txt").
func (d Dump) Oracle(tool, file string) string { return filepath.Join(d.Dir, tool, file) }

// Dumps lists every dump in the corpus. A zstd-packed ELF core (vmcore.zst)
// is unpacked once into the user's cache directory.
func Dumps(t testing.TB) []Dump {
	t.Helper()
	root := filepath.Join(Root(t), "dumps")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []Dump
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		files, _ := os.ReadDir(dir)
		var dumpFiles []string
		for _, f := range files {
			n := f.Name()
			switch {
			case n == "vmcore" || (strings.HasPrefix(n, "vmcore.") && isDigits(n[len("vmcore."):])):
				dumpFiles = append(dumpFiles, filepath.Join(dir, n))
			case n == "vmcore.zst":
				dumpFiles = append(dumpFiles, unpack(t, e.Name(), filepath.Join(dir, n)))
			}
		}
		if len(dumpFiles) > 0 {
			sort.Strings(dumpFiles)
			out = append(out, Dump{Name: e.Name(), Dir: dir, Files: dumpFiles})
		}
	}
	return out
}

// DumpNamed returns the corpus dump in folder name, or skips the test.
func DumpNamed(t testing.TB, name string) Dump {
	t.Helper()
	for _, d := range Dumps(t) {
		if d.Name == name {
			return d
		}
	}
	t.Skipf("corpus dump %s not found", name)
	return Dump{}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// CacheDir is where derived test inputs are kept between runs.
func CacheDir() string {
	if d := os.Getenv("KTRIAGE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "ktriage")
	}
	return filepath.Join(os.TempDir(), "ktriage-cache")
}

func unpack(t testing.TB, name, src string) string {
	t.Helper()
	dst := filepath.Join(CacheDir(), "corpus", name+".vmcore")
	sst, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if dst2, err := os.Stat(dst); err == nil && dst2.ModTime().After(sst.ModTime()) && dst2.Size() > 0 {
		return dst
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := zstd.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "unpack-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tmp, zr); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		t.Fatalf("unpacking %s: %v", src, err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Vmlinux returns the debug vmlinux of the corpus kernel (KTRIAGE_VMLINUX,
// or the cache scripts/fetch-debug-vmlinux.sh fills), or skips the test.
func Vmlinux(t testing.TB) string {
	t.Helper()
	cands := []string{os.Getenv("KTRIAGE_VMLINUX"), filepath.Join(CacheDir(), "vmlinux-"+Release),
		"/usr/lib/debug/boot/vmlinux-" + Release}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Size() > 0 {
			return c
		}
	}
	t.Skipf("debug vmlinux of %s not found (set KTRIAGE_VMLINUX or run scripts/fetch-debug-vmlinux.sh)", Release)
	return ""
}

// ORCSections returns a vmlinux's ORC tables as the file holds them: the
// .orc_unwind_ip bytes and their link-time address, and .orc_unwind.
func ORCSections(t testing.TB, f *elf.File) (ip []byte, ipAddr uint64, entries []byte) {
	t.Helper()
	ipSec, entSec := f.Section(".orc_unwind_ip"), f.Section(".orc_unwind")
	if ipSec == nil || entSec == nil {
		t.Fatal("vmlinux has no ORC sections")
	}
	ip, err := ipSec.Data()
	if err != nil {
		t.Fatalf(".orc_unwind_ip: %v", err)
	}
	if entries, err = entSec.Data(); err != nil {
		t.Fatalf(".orc_unwind: %v", err)
	}
	return ip, ipSec.Addr, entries
}
