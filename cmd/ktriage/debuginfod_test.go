package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ktriage/ktriage/internal/corpus"
)

// TestAnalyzeWithDebuginfod runs analyze on a corpus dump with no debug
// vmlinux on the machine and DEBUGINFOD_URLS naming elfutils' debuginfod
// serving the kernel's Debian -dbg package (scripts/start-debuginfod.sh,
// started by .ci/run): the DWARF comes from the server, the report equals
// the one made with the local vmlinux, and a second run takes the vmlinux
// from the cache without a request (the server's own log says so).
func TestAnalyzeWithDebuginfod(t *testing.T) {
	url, serverLog := os.Getenv("KTRIAGE_TEST_DEBUGINFOD_URL"), os.Getenv("KTRIAGE_TEST_DEBUGINFOD_LOG")
	if url == "" || serverLog == "" {
		t.Skip("no debuginfod to ask (eval \"$(bash scripts/start-debuginfod.sh ~/.cache/ktriage/debs)\")")
	}
	vmlinux := corpus.Vmlinux(t)
	dump := corpus.DumpNamed(t, "null-kdump-zstd").Files[0]
	local, _ := runAnalyzeJSON(t, "--vmlinux", vmlinux, dump)

	// Nothing on the machine: ktriage's cache is empty but for the DWARF
	// index (kept so the run does not walk the DWARF again), and the
	// debuginfod cache is new.
	cache := t.TempDir()
	if idx := filepath.Join(corpus.CacheDir(), "index"); dirExists(idx) {
		os.Symlink(idx, filepath.Join(cache, "index"))
	}
	t.Setenv("KTRIAGE_CACHE", cache)
	t.Setenv("DEBUGINFOD_URLS", url)
	t.Setenv("DEBUGINFOD_CACHE_PATH", filepath.Join(cache, "debuginfod"))
	// The server unpacks the vmlinux from the .deb's xz payload before its
	// first byte (13 s on a quiet machine); under a loaded CI host that
	// passed the client's default 90 s, so the first request gave up and
	// the test blamed ktriage. Timeouts have tests of their own.
	t.Setenv("DEBUGINFOD_TIMEOUT", "900")
	before := buildIDRequests(t, serverLog)

	fetched, stderr := runAnalyzeJSON(t, "--fetch-debuginfo", dump)
	t.Logf("first run: %s", strings.TrimSpace(stderr))
	if after := buildIDRequests(t, serverLog); after == before {
		t.Fatalf("the server saw no request for %s; the report's warnings: %s", corpus.BuildID, reportWarnings(t, fetched))
	}
	wantSource := "(from debuginfod " + url
	if src := kernelSource(t, fetched); !strings.Contains(src, wantSource) {
		t.Fatalf("kernel source %q: want it to say %q", src, wantSource)
	}
	if a, b := withoutKernelSource(t, local), withoutKernelSource(t, fetched); a != b {
		t.Errorf("the report with the vmlinux from debuginfod differs from the one with the local vmlinux:\nlocal:   %.600s\nfetched: %.600s", a, b)
	}

	before = buildIDRequests(t, serverLog)
	again, stderr := runAnalyzeJSON(t, "--fetch-debuginfo", dump)
	if after := buildIDRequests(t, serverLog); after != before {
		t.Errorf("the second run asked the server again (%d requests, was %d): the cache was not used", after, before)
	}
	if strings.Contains(stderr, "fetching") {
		t.Errorf("second run fetched: %s", stderr)
	}
	if withoutKernelSource(t, again) != withoutKernelSource(t, fetched) || kernelSource(t, again) != kernelSource(t, fetched) {
		t.Error("the second run's report differs from the first")
	}

	// --offline with the cache in place still uses it; without it, the
	// report comes from the dump's BTF with a note, and nothing is asked.
	t.Setenv("DEBUGINFOD_CACHE_PATH", filepath.Join(cache, "empty"))
	before = buildIDRequests(t, serverLog)
	offline, _ := runAnalyzeJSON(t, "--fetch-debuginfo", "--offline", dump)
	if buildIDRequests(t, serverLog) != before {
		t.Error("--offline asked the server")
	}
	if src := kernelSource(t, offline); src != "kallsyms+BTF from dump" {
		t.Errorf("--offline with an empty cache: kernel source %q", src)
	}
	if !strings.Contains(offline, "--offline") {
		t.Error("--offline: the report does not say the vmlinux was not fetched")
	}
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func runAnalyzeJSON(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, stderr, err := runSplit(t, append([]string{"analyze", "--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("analyze %v: %v\n%s", args, err, stderr)
	}
	return out, stderr
}

// buildIDRequests counts the server's log lines for the corpus kernel.
func buildIDRequests(t *testing.T, log string) int {
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "GET /buildid/"+corpus.BuildID+"/debuginfo")
}

func kernelSource(t *testing.T, report string) string {
	var r struct {
		System struct {
			KernelSource string `json:"kernel_source"`
		} `json:"system"`
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatal(err)
	}
	return r.System.KernelSource
}

// withoutKernelSource is the JSON report less the one field that names
// where the vmlinux was read from.
func withoutKernelSource(t *testing.T, report string) string {
	var r map[string]any
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatal(err)
	}
	if sys, ok := r["system"].(map[string]any); ok {
		delete(sys, "kernel_source")
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// reportWarnings is the JSON report's warnings, for a failure message.
func reportWarnings(t *testing.T, report string) string {
	var r struct {
		Warnings json.RawMessage `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatal(err)
	}
	return string(r.Warnings)
}
