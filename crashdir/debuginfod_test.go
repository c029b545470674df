package crashdir

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ktriage/ktriage/debuginfo"
	"github.com/ktriage/ktriage/internal/corpus"
)

// A fleet run over several dumps of one kernel with no vmlinux on the
// machine, asked for DWARF, fetches the kernel's debug vmlinux once from a
// debuginfod server (a stand-in serving the real corpus vmlinux) and reads
// every dump with it.
func TestFleetSharesOneFetchPerBuildID(t *testing.T) {
	vmlinux := corpus.Vmlinux(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/buildid/"+corpus.BuildID+"/debuginfo" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		http.ServeFile(w, r, vmlinux)
	}))
	defer srv.Close()
	// Nothing local: an empty ktriage cache but for the DWARF index.
	cache := t.TempDir()
	if idx := filepath.Join(corpus.CacheDir(), "index"); isDir(idx) {
		os.Symlink(idx, filepath.Join(cache, "index"))
	}
	t.Setenv("KTRIAGE_CACHE", cache)
	var roots []string
	for _, n := range []string{"sysrq-kdump-zlib", "sysrq-kdump-lzo", "hung-kdump-zstd"} {
		roots = append(roots, filepath.Join("..", "testdata", "dumps", n+".vmcore"))
	}
	client := &debuginfo.Client{URLs: []string{srv.URL}, CacheDir: filepath.Join(cache, "debuginfod")}
	res, err := Run(context.Background(), Config{Roots: roots, Jobs: 3,
		Debuginfo: &Debuginfo{Fetch: client, WantDWARF: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != len(roots) {
		t.Fatalf("%d results for %d dumps", len(res.Results), len(roots))
	}
	for _, r := range res.Results {
		if r.Incident == nil || r.Incident.System == nil || !strings.Contains(r.Incident.System.KernelSource, "(from debuginfod "+srv.URL+")") {
			t.Errorf("%s: not read with the fetched vmlinux: %+v", r.Row.Path, r.Incident)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the server was asked %d times for the one kernel, want once", n)
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
