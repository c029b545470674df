package crashdir

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/damage"
)

// TestDumpOverMemoryBudgetFailsAlone: in a tree of real dumps, one whose
// header claims gigabytes of bitmaps (backed by a sparse file) fails with
// the budget's error in its row, and the others are analyzed as alone.
// Before the budget it was read whole: gigabytes per such dump, enough to
// have the kernel kill the batch with no report at all.
func TestDumpOverMemoryBudgetFailsAlone(t *testing.T) {
	root := t.TempDir()
	good := map[string]string{} // host → title alone
	for i, name := range []string{"sysrq-kdump-zlib", "hung-kdump-zstd"} {
		src := filepath.Join(repoRoot(), "testdata", "dumps", name+".vmcore")
		host := []string{"10.0.0.1", "10.0.0.3"}[i]
		dir := filepath.Join(root, host+"-2026-11-20-10:00:00")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(src, filepath.Join(dir, "vmcore")); err != nil {
			t.Fatal(err)
		}
		good[host] = dumpTitle(t, []string{src})
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(), "testdata", "dumps", "sysrq-kdump-lzo.vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	head, size := damage.HugeClaim(b, 512<<20)
	copy(b, head)
	dir := filepath.Join(root, "10.0.0.2-2026-11-20-10:00:00")
	os.MkdirAll(dir, 0o755)
	huge := filepath.Join(dir, "vmcore")
	if err := os.WriteFile(huge, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, size); err != nil { // sparse: nothing written
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{Roots: []string{root}, Jobs: 2, MemoryLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	rows := res.Rows()
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rows), rows)
	}
	for _, r := range rows {
		switch want, ok := good[r.Host]; {
		case ok:
			if r.Failed() || r.Title != want {
				t.Errorf("%s: status %q, title %q; want %q as when read alone", r.Host, r.Status, r.Title, want)
			}
		default:
			if s := r.Status.String(); !r.Failed() || !strings.Contains(s, "kdump bitmaps") || !strings.Contains(s, "memory budget") {
				t.Errorf("%s, claiming 1 GiB of bitmaps (1.5 GiB with the rank table) on a 1 GiB budget: status %q, want failed by the budget", r.Host, s)
			}
		}
	}
}
