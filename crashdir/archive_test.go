package crashdir

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/unpack/packtest"
)

// Compressed cores and tarballs of crash folders are crashes, found by what
// they hold rather than their names; an empty kdump folder is a failed
// capture; a compressed log beside no dump stays a log.
func TestDiscoverArchivedCrashesAndEmptyFolders(t *testing.T) {
	td := filepath.Join(repoRoot(), "testdata", "dumps")
	root := t.TempDir()
	mk := func(rel string) string {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rhel := mk("127.0.0.1-2026-11-20-10:23:45")
	packtest.File(t, filepath.Join(td, "sysrq-kdump-lzo.vmcore"), rhel, "zstd")
	if err := os.Rename(filepath.Join(rhel, "sysrq-kdump-lzo.vmcore.zst"), filepath.Join(rhel, "vmcore.zst")); err != nil {
		t.Fatal(err)
	}
	packtest.Tar(t, filepath.Join(mk("archive"), "db1-crash.tar.xz"), map[string]string{
		"10.0.0.7-2026-11-21-01:02:03/vmcore":           filepath.Join(td, "sysrq-kdump-snappy.vmcore"),
		"10.0.0.7-2026-11-21-01:02:03/vmcore-dmesg.txt": filepath.Join(td, "sysrq-kdump-snappy.dmesg.txt"),
	}, "xz")
	packtest.File(t, filepath.Join(td, "sysrq-kdump-lzo.dmesg.txt"), mk("logs"), "gzip")
	if err := os.Rename(filepath.Join(root, "logs", "sysrq-kdump-lzo.dmesg.txt.gz"), filepath.Join(root, "logs", "kern.log.1.gz")); err != nil {
		t.Fatal(err)
	}
	mk("127.0.0.1-2026-11-22-03:04:05") // kdump made it, the capture wrote nothing

	d, err := Discover([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Crash{}
	for _, c := range d.Crashes {
		rel, _ := filepath.Rel(root, c.Name())
		got[rel] = c
	}
	if c, ok := got["127.0.0.1-2026-11-20-10:23:45/vmcore.zst"]; !ok || c.Layout != LayoutRHEL {
		t.Errorf("compressed core in a RHEL folder: %+v (found %v)", c, crashNames(got))
	}
	if c, ok := got["archive/db1-crash.tar.xz"]; !ok || c.Layout != LayoutArchive {
		t.Errorf("tarball of a crash folder: %+v (found %v)", c, crashNames(got))
	}
	if c, ok := got["logs/kern.log.1.gz"]; !ok || c.Log == "" {
		t.Errorf("compressed log: %+v (found %v)", c, crashNames(got))
	}
	if c, ok := got["127.0.0.1-2026-11-22-03:04:05"]; !ok || !c.Empty {
		t.Errorf("empty kdump folder: %+v (found %v)", c, crashNames(got))
	}
	if len(d.Crashes) != 4 || len(d.Skipped) != 0 {
		t.Errorf("crashes %v, skipped %+v", crashNames(got), d.Skipped)
	}

	// The batch names the empty folder a failed capture; the rest are
	// analyzed by whatever loader the caller gives (here none for archives:
	// cmd's unpacks them), so only the empty folder's status is checked.
	res, err := Run(context.Background(), Config{Roots: []string{filepath.Join(root, "127.0.0.1-2026-11-22-03:04:05")}, Jobs: 1})
	if err != nil || len(res.Results) != 1 {
		t.Fatalf("run: %v, %d results", err, len(res.Results))
	}
	if st := res.Results[0].Row.Status; !strings.Contains(st.String(), "empty crash folder") {
		t.Errorf("empty folder status %q", st)
	}
}

func crashNames(m map[string]Crash) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
