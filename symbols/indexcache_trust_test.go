package symbols

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// writeFixtureCache indexes a DWARF fixture with a fresh cache directory and
// returns the directory and the cache file's path.
func writeFixtureCache(t *testing.T, rel string) (dir, cache string) {
	t.Helper()
	dir = t.TempDir()
	d, err := OpenDWARF(fixturePath(rel), DWARFOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.IndexAll(); err != nil {
		t.Fatal(err)
	}
	cache = d.Stats().CachePath
	d.Close()
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	return dir, cache
}

// A cache file with a valid checksum but wrong content (here: every type
// name pointing at another type's DIE) must not be trusted: the lookup finds
// the mismatch, the index is rebuilt from the DWARF, and the file goes.
func TestIndexCacheWrongContentIsRebuilt(t *testing.T) {
	rel := dwarfFixtures[1]
	dir, cache := writeFixtureCache(t, rel)
	d, err := OpenDWARF(fixturePath(rel), DWARFOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want, err := d.MemberInfo("task", "comm")
	if err != nil {
		t.Fatal(err)
	}
	idx := d.idx
	d.Close()

	// Rotate the type offsets among the names: same shape, valid CRC.
	names := idx.typeNames()
	var keys []string
	var offs []uint64
	for k, off := range names {
		keys, offs = append(keys, k), append(offs, off)
	}
	forged := &dwarfIndex{unitIndex: newUnitIndex(), units: idx.units, walked: idx.walked}
	for i, k := range keys {
		forged.addTypeName(k, offs[(i+1)%len(offs)])
	}
	forged.globals = idx.globals
	st, _ := os.Stat(fixturePath(rel))
	bad := encodeIndex(d.BuildID(), st.Size(), forged)
	if err := os.WriteFile(cache, bad, 0o644); err != nil {
		t.Fatal(err)
	}

	d, err = OpenDWARF(fixturePath(rel), DWARFOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Stats().FromCache {
		t.Fatal("the forged cache was not even loaded; the test proves nothing")
	}
	got, err := d.MemberInfo("task", "comm")
	if err != nil || got != want {
		t.Errorf("task.comm through a forged cache = %+v, %v; want %+v", got, err, want)
	}
	if d.Stats().CacheRejected == "" {
		t.Error("no reason recorded for dropping the cache")
	}
	d.Close()
	if b, err := os.ReadFile(cache); err == nil && bytes.Equal(b, bad) {
		t.Error("the forged cache file is still there")
	}
}

// Spans that do not tile .debug_info are refused at load.
func TestIndexCacheBadSpansRefused(t *testing.T) {
	rel := dwarfFixtures[0]
	dir, cache := writeFixtureCache(t, rel)
	d, err := OpenDWARF(fixturePath(rel), DWARFOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	idx := d.idx
	d.Close()
	if len(idx.units) == 0 {
		t.Skip("fixture has no units")
	}
	idx.units[len(idx.units)-1].end += 16
	st, _ := os.Stat(fixturePath(rel))
	if err := os.WriteFile(cache, encodeIndex(d.BuildID(), st.Size(), idx), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err = OpenDWARF(fixturePath(rel), DWARFOptions{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Stats().FromCache || d.Stats().CacheRejected == "" {
		t.Errorf("stats %+v: want the cache refused with a reason", d.Stats())
	}
}

// A cache path that is a link to /dev/zero or a FIFO: refused at once.
func TestIndexCacheNotRegularFile(t *testing.T) {
	rel := dwarfFixtures[0]
	dir, cache := writeFixtureCache(t, rel)
	for _, target := range []string{"/dev/zero", "fifo"} {
		os.Remove(cache)
		if target == "fifo" {
			target = filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(target, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}
		if err := os.Symlink(target, cache); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			d, err := OpenDWARF(fixturePath(rel), DWARFOptions{CacheDir: dir})
			if err == nil {
				if d.Stats().FromCache {
					err = os.ErrInvalid
				}
				d.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cache linked to %s: %v", target, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("cache linked to %s: OpenDWARF blocked", target)
		}
	}
}
