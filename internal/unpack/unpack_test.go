package unpack

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/unpack/packtest"
	"github.com/ktriage/ktriage/vmcore"
)

const fixture = "../../testdata/dumps/sysrq-kdump-lzo.vmcore"

// Every container gives back the fixture byte for byte, named as it was
// before compression; the second run reuses the first one's entry.
func TestUnpackEachContainerOnceThenReuse(t *testing.T) {
	want, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"gzip", "zstd", "xz", "bzip2", "lz4"} {
		t.Run(c, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "vmcore")
			if err := os.WriteFile(src, want, 0o644); err != nil {
				t.Fatal(err)
			}
			packed := packtest.File(t, src, t.TempDir(), c)
			s, err := Peek(packed, Options{})
			if err != nil || s.Kind != vmcore.InputKdump {
				t.Fatalf("Peek(%s) = %v, %v; want the kdump inside", packed, s.Kind, err)
			}
			cache := t.TempDir()
			r, err := Unpack(packed, Options{Dir: cache})
			if err != nil {
				t.Fatal(err)
			}
			if r.Reused || filepath.Base(r.Path) != "vmcore" || r.Bytes != int64(len(want)) {
				t.Errorf("first run: %+v", r)
			}
			got, err := os.ReadFile(r.Path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("unpacked content differs from the fixture (%v)", err)
			}
			again, err := Unpack(packed, Options{Dir: cache})
			if err != nil || !again.Reused || again.Path != r.Path {
				t.Fatalf("second run: %+v, %v; want the first run's entry reused", again, err)
			}
			if !strings.Contains(again.Describe(), "using the copy unpacked") {
				t.Errorf("Describe: %s", again.Describe())
			}
			n, freed, err := Clean(cache)
			if err != nil || n != 1 || freed < int64(len(want)) {
				t.Errorf("Clean = %d entries, %d bytes, %v", n, freed, err)
			}
			if _, err := os.Stat(r.Path); !os.IsNotExist(err) {
				t.Errorf("after Clean the entry is still there: %v", err)
			}
		})
	}
}

// A tar.gz of a kdump folder comes back as the folder; names that leave
// the tree are not written.
func TestUnpackTarOfCrashFolder(t *testing.T) {
	arch := filepath.Join(t.TempDir(), "crash.tar.gz")
	packtest.Tar(t, arch, map[string]string{
		"127.0.0.1-2024-01-15-10:23:45/vmcore":           fixture,
		"127.0.0.1-2024-01-15-10:23:45/vmcore-dmesg.txt": "../../testdata/dumps/sysrq-kdump-lzo.dmesg.txt",
		"../escape": fixture,
	}, "gzip")
	cache := t.TempDir()
	r, err := Unpack(arch, Options{Dir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsTar() || strings.Join(r.Layers, "+") != "gzip+tar" {
		t.Fatalf("layers %v", r.Layers)
	}
	if _, err := os.Stat(filepath.Join(r.Path, "127.0.0.1-2024-01-15-10:23:45", "vmcore")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(r.Path), "escape")); !os.IsNotExist(err) {
		t.Errorf("../escape was written outside the tree: %v", err)
	}
}

// Told the content is larger than the free space, Unpack refuses before
// writing anything and says how to get room.
func TestUnpackRefusesWhenTheDiskIsTooSmall(t *testing.T) {
	packed := packtest.File(t, fixture, t.TempDir(), "zstd")
	cache := t.TempDir()
	_, err := Unpack(packed, Options{Dir: cache, FreeSpace: func(string) (uint64, error) { return 4096, nil }})
	if err == nil || !strings.Contains(err.Error(), "free") || !strings.Contains(err.Error(), EnvCacheDir) {
		t.Fatalf("err = %v, want a refusal naming the free space and %s", err, EnvCacheDir)
	}
	if list, _ := List(cache); len(list) != 0 {
		t.Errorf("left behind: %+v", list)
	}
}

// The sizes containers state: zstd's frame content size, xz's index, gzip's
// ISIZE, lz4's content size when written.
func TestContentSize(t *testing.T) {
	data := bytes.Repeat([]byte("kernel crash "), 100000)
	for _, c := range []string{"zstd", "xz", "gzip"} {
		packed := packtest.Compress(t, data, c)
		got := contentSize(bytes.NewReader(packed), int64(len(packed)), c)
		// The streaming zstd writer states no size; the others must.
		if got != uint64(len(data)) && !(c == "zstd" && got == 0) {
			t.Errorf("%s: content size %d, want %d", c, got, len(data))
		}
	}
}

// A garbage file that merely starts with a container's magic fails with
// the file and container named, and leaves nothing in the cache.
func TestUnpackCorruptStream(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vmcore.gz")
	if err := os.WriteFile(p, append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff}, 4000)...), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	_, err := Unpack(p, Options{Dir: cache})
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "gzip") {
		t.Fatalf("err = %v", err)
	}
	if list, _ := List(cache); len(list) != 0 {
		t.Errorf("left behind: %+v", list)
	}
}
